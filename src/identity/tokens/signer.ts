import { sign as rsaSign } from "node:crypto";
import type { SigningKey } from "../../common/keys.ts";
import type { KeyRing } from "./keyring.ts";

const b64url = (json: string) => Buffer.from(json, "utf8").toString("base64url");

/**
 * Signs token claims with the key ring's current key (RS256). v1.0 tokens carry
 * `x5t` in the header as well as `kid`, as Entra's do (`access-tokens.md`).
 *
 * Compact JWS (RFC 7515 §7.1): `BASE64URL(header) . BASE64URL(claims) . BASE64URL(signature)`,
 * signed with RSASSA-PKCS1-v1_5 over SHA-256 (RFC 7518 §3.3) by `node:crypto` `sign`,
 * synchronously (no WebCrypto job on the thread pool). The encoded headers are
 * computed once per key.
 */
export class TokenSigner {
  private readonly keys: Pick<KeyRing, "signingKey">;
  /** Encoded protected headers by key, for v1.0 (`typ, alg, x5t, kid`) and v2.0 (`typ, alg, kid`). */
  private readonly headers = new WeakMap<SigningKey, { v1: string; v2: string }>();

  constructor(keys: Pick<KeyRing, "signingKey">) {
    this.keys = keys;
  }

  /**
   * @param claims the JWT claims set (serialized with `JSON.stringify`).
   * @returns the compact JWS.
   */
  async sign(claims: object, version: "1.0" | "2.0"): Promise<string> {
    const key = this.keys.signingKey();
    let encoded = this.headers.get(key);
    if (!encoded) {
      encoded = {
        v1: b64url(JSON.stringify({ typ: "JWT", alg: "RS256", x5t: key.x5t, kid: key.kid })),
        v2: b64url(JSON.stringify({ typ: "JWT", alg: "RS256", kid: key.kid })),
      };
      this.headers.set(key, encoded);
    }
    const input = `${version === "1.0" ? encoded.v1 : encoded.v2}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${rsaSign("sha256", Buffer.from(input, "utf8"), key.privateKey).toString("base64url")}`;
  }
}
