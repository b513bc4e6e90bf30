import { SignJWT, type JWTPayload } from "jose";
import type { KeyRing } from "./keyring.ts";

/**
 * Signs token claims with the key ring's current key (RS256). v1.0 tokens carry
 * `x5t` in the header as well as `kid`, as Entra's do (`access-tokens.md`).
 */
export class TokenSigner {
  private readonly keys: KeyRing;

  constructor(keys: KeyRing) {
    this.keys = keys;
}

  async sign(claims: object, version: "1.0" | "2.0"): Promise<string> {
    const key = this.keys.signingKey();
    const header = version === "1.0" ? { typ: "JWT", alg: "RS256", x5t: key.x5t, kid: key.kid } : { typ: "JWT", alg: "RS256", kid: key.kid };
    return new SignJWT(claims as JWTPayload).setProtectedHeader(header).sign(key.privateKey);
  }
}
