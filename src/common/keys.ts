import { createHash, createPrivateKey, createPublicKey, webcrypto, type KeyObject } from "node:crypto";
import { x509, newSerial, privateKeyPem } from "./x509.ts";

/** A token-signing key as stored: PEM private key plus its self-signed certificate. */
export interface StoredSigningKey {
  /** Key id; equals `x5t` (base64url SHA-1 of the certificate), as Entra's v1 keys do. */
  kid: string;
  /** PKCS#8 PEM. */
  privateKeyPem: string;
  /** DER certificate, base64 (the JWKS `x5c` entry). */
  certificateB64: string;
  /** When the key was created, ms since epoch (UTC). */
  createdAt: number;
  /** From when the key signs new tokens, ms since epoch (UTC). Published in JWKS before that. */
  activatesAt: number;
  /** When the key leaves the JWKS, ms since epoch (UTC); null while current. */
  retiresAt: number | null;
}

/** A signing key parsed once into `KeyObject`s, ready for the hot path. */
export interface SigningKey {
  readonly kid: string;
  readonly x5t: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly certificateB64: string;
  /** When the key was created, ms since epoch (UTC). */
  readonly createdAt: number;
  readonly activatesAt: number;
  readonly retiresAt: number | null;
  /** The public JWK as published in JWKS (`kty, use, kid, x5t, n, e, x5c`). */
  readonly jwk: PublicJwk;
}

/** A JWKS entry shaped like Entra's (`discovery/keys`). */
export interface PublicJwk {
  kty: "RSA";
  use: "sig";
  kid: string;
  x5t: string;
  n: string;
  e: string;
  x5c: string[];
  issuer?: string;
}

const RSA_ALG = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 } as const;

/**
 * Generates an RSA-2048 signing key with a self-signed certificate (5 years),
 * the shape Entra publishes (`access-tokens.md`: RS256, `x5c`, `x5t`).
 */
export async function generateSigningKey(now: number, activatesAt: number = now): Promise<StoredSigningKey> {
  const keys = (await webcrypto.subtle.generateKey(RSA_ALG, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name: "CN=orgbox token signing",
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 5 * 365 * 24 * 3600_000),
    signingAlgorithm: RSA_ALG,
    keys,
  });
  const der = Buffer.from(cert.rawData);
  const x5t = createHash("sha1").update(der).digest("base64url");
  return {
    kid: x5t,
    privateKeyPem: await privateKeyPem(keys.privateKey),
    certificateB64: der.toString("base64"),
    createdAt: now,
    activatesAt,
    retiresAt: null,
  };
}

/** Parses a stored key once: `KeyObject`s and the public JWK. */
export function loadSigningKey(stored: StoredSigningKey): SigningKey {
  const privateKey = createPrivateKey(stored.privateKeyPem);
  const publicKey = createPublicKey(privateKey);
  const jwk = publicKey.export({ format: "jwk" }) as { n: string; e: string };
  return {
    kid: stored.kid,
    x5t: stored.kid,
    privateKey,
    publicKey,
    certificateB64: stored.certificateB64,
    createdAt: stored.createdAt,
    activatesAt: stored.activatesAt,
    retiresAt: stored.retiresAt,
    jwk: { kty: "RSA", use: "sig", kid: stored.kid, x5t: stored.kid, n: jwk.n, e: jwk.e, x5c: [stored.certificateB64] },
  };
}
