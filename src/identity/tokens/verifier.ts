import { verify as rsaVerify } from "node:crypto";
import type { JWTPayload } from "jose";
import type { KeyRing } from "./keyring.ts";
import { deepFreeze } from "../cached-store.ts";
import { OrgboxError } from "../../common/errors.ts";

/**
 * Why a token was refused; safe to show to the caller. Status 401: a resource refusing a bearer token
 * answers 401 (`userinfo`, the Web API, RFC 6750 §3.1); a grant refusing an assertion (`jwt-bearer`)
 * renders its own `invalid_grant` from {@link TokenRejectedError.reason}.
 */
export class TokenRejectedError extends OrgboxError {
  readonly reason: string;

  constructor(reason: string) {
    super(401, reason);
    this.reason = reason;
  }
}

/** What a resource expects of a token. */
export interface TokenExpectations {
  /** Accepted `iss` values (exact). */
  issuers: string[];
  /** Accepted `aud` values (exact). */
  audiences: string[];
}

/** Clock skew tolerated on `exp` and `nbf`, seconds. */
const CLOCK_TOLERANCE_SECONDS = 60;
const REQUIRED_CLAIMS = ["exp", "iat", "tid"] as const;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Verified signatures remembered before the memo starts over. */
const MAX_VERIFIED = 1024;

const malformed = () => new TokenRejectedError("the token is malformed");
const invalidClaim = (claim: string) => new TokenRejectedError(`the token's '${claim}' claim is not valid here`);
/** Claim values shown in a refusal: JSON, each at most 200 characters (a token's claims are the caller's own). */
const shown = (value: unknown): string => {
  const text = JSON.stringify(value) ?? "undefined";
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
};
/** `iss`/`aud` not among the accepted values: what came and what is accepted (public values: issuer and resource URLs). */
const unexpectedClaim = (claim: "iss" | "aud", got: unknown, accepted: string[]) =>
  new TokenRejectedError(`the token's '${claim}' claim is not valid here: it is ${shown(got)}; accepted: ${accepted.map((a) => JSON.stringify(a)).join(", ")}`);

function decodeJsonObject(part: string): Record<string, unknown> {
  if (!BASE64URL.test(part)) throw malformed();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
  } catch {
    throw malformed();
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw malformed();
  return value as Record<string, unknown>;
}

/**
 * Verifies tokens signed by this identity instance, in process, the way a
 * resource server that fetched Entra's JWKS would: compact JWS (RFC 7515 §7.1),
 * RS256 only (RFC 7518 §3.3; `node:crypto` `verify`, synchronous), no `crit`
 * header (RFC 7515 §4.1.11), signature by a published key (by `kid`), then the
 * JWT claims (RFC 7519 §4.1): `exp`, `iat` and `tid` present, `iss` one of
 * `expected.issuers`, `aud` (string or array) one of `expected.audiences`,
 * `exp`/`nbf` with 60 s skew.
 * @returns the verified claims: a copy of the token's claims object, whose nested values (arrays
 *   such as `roles`) are frozen and shared with later verifications of the same token.
 * @throws TokenRejectedError with the reason (malformed, unpublished key, bad signature, expired, invalid claim).
 */
export function createTokenVerifier(keys: Pick<KeyRing, "publicKey">, nowSeconds: () => number) {
  /**
   * Tokens whose signature already verified: token → its key and its claims, parsed once and
   * frozen (shared by every request presenting the token; the same bytes always verify the same way).
   */
  const verified = new Map<string, { kid: string; payload: Readonly<JWTPayload> }>();
  return async function verify(token: string, expected: TokenExpectations): Promise<JWTPayload> {
    if (typeof token !== "string") throw malformed();
    const known = verified.get(token);
    if (known) {
      // The key may have been retired since: check it is still published, then the claims again.
      if (!keys.publicKey(known.kid)) throw new TokenRejectedError(`the signing key '${known.kid}' is not published by the issuer`);
      return checkClaims({ ...known.payload }, expected, nowSeconds());
    }
    const firstDot = token.indexOf(".");
    const secondDot = firstDot < 0 ? -1 : token.indexOf(".", firstDot + 1);
    if (secondDot < 0 || token.indexOf(".", secondDot + 1) >= 0) throw malformed();
    const header = decodeJsonObject(token.slice(0, firstDot));
    if (header.alg !== "RS256" || header.crit !== undefined || header.b64 !== undefined) throw malformed();
    const kid = typeof header.kid === "string" ? header.kid : "";
    const key = kid ? keys.publicKey(kid) : undefined;
    if (!key) throw new TokenRejectedError(`the signing key '${kid}' is not published by the issuer`);
    const signature = token.slice(secondDot + 1);
    if (signature === "" || !BASE64URL.test(signature)) throw malformed();
    let valid: boolean;
    try {
      valid = rsaVerify("sha256", Buffer.from(token.slice(0, secondDot), "utf8"), key, Buffer.from(signature, "base64url"));
    } catch {
      valid = false;
    }
    if (!valid) throw new TokenRejectedError("the token signature is invalid");

    const payload = deepFreeze(decodeJsonObject(token.slice(firstDot + 1, secondDot)) as JWTPayload);
    if (verified.size >= MAX_VERIFIED) verified.clear();
    verified.set(token, { kid, payload });
    return checkClaims({ ...payload }, expected, nowSeconds());
  };
}

/** RFC 7519 §4.1 checks of verified claims. @throws TokenRejectedError */
function checkClaims(payload: JWTPayload, expected: TokenExpectations, now: number): JWTPayload {
  for (const claim of [...REQUIRED_CLAIMS, "iss", "aud"]) if (payload[claim] === undefined) throw invalidClaim(claim);
  if (typeof payload.iss !== "string" || !expected.issuers.includes(payload.iss)) throw unexpectedClaim("iss", payload.iss, expected.issuers);
  const audiences = typeof payload.aud === "string" ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
  if (!audiences.some((a) => typeof a === "string" && expected.audiences.includes(a))) throw unexpectedClaim("aud", payload.aud, expected.audiences);
  if (typeof payload.iat !== "number") throw invalidClaim("iat");
  if (payload.nbf !== undefined && (typeof payload.nbf !== "number" || payload.nbf > now + CLOCK_TOLERANCE_SECONDS)) throw invalidClaim("nbf");
  if (typeof payload.exp !== "number") throw invalidClaim("exp");
  if (payload.exp <= now - CLOCK_TOLERANCE_SECONDS) throw new TokenRejectedError("the token is expired");
  return payload;
}

export type TokenVerifier = ReturnType<typeof createTokenVerifier>;
