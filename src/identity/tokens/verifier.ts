import { errors, jwtVerify, type JWTPayload } from "jose";
import type { KeyRing } from "./keyring.ts";

/** Why a token was refused; safe to show to the caller. */
export class TokenRejectedError extends Error {
  readonly reason: string;

  constructor(reason: string) {
    super(reason);
    this.reason = reason;
    this.name = "TokenRejectedError";
  }
}

/** What a resource expects of a token. */
export interface TokenExpectations {
  /** Accepted `iss` values (exact). */
  issuers: string[];
  /** Accepted `aud` values (exact). */
  audiences: string[];
}

/**
 * Verifies tokens signed by this identity instance, in process, the way a
 * resource server that fetched Entra's JWKS would: RS256 only, signature by a
 * published key (by `kid`), `exp`/`nbf` (60 s skew), issuer and audience.
 * @throws TokenRejectedError with the reason.
 */
export function createTokenVerifier(keys: KeyRing, nowSeconds: () => number) {
  return async function verify(token: string, expected: TokenExpectations): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(
        token,
        (header) => {
          const key = header.kid ? keys.publicKey(header.kid) : undefined;
          if (!key) throw new TokenRejectedError(`the signing key '${header.kid ?? ""}' is not published by the issuer`);
          return key;
        },
        { algorithms: ["RS256"], issuer: expected.issuers, audience: expected.audiences, clockTolerance: 60, currentDate: new Date(nowSeconds() * 1000), requiredClaims: ["exp", "iat", "tid"] },
      );
      return payload;
    } catch (error) {
      if (error instanceof TokenRejectedError) throw error;
      if (error instanceof errors.JWTExpired) throw new TokenRejectedError("the token is expired");
      if (error instanceof errors.JWTClaimValidationFailed) throw new TokenRejectedError(`the token's '${error.claim}' claim is not valid here`);
      if (error instanceof errors.JWSSignatureVerificationFailed) throw new TokenRejectedError("the token signature is invalid");
      throw new TokenRejectedError("the token is malformed");
    }
  };
}

export type TokenVerifier = ReturnType<typeof createTokenVerifier>;
