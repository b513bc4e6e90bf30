import { createHash, webcrypto } from "node:crypto";
import { newSerial, privateKeyPem, x509 } from "../../src/common/x509.ts";

/** A self-signed RSA-2048 client certificate for certificate-credential tests. */
export interface TestCertificate {
  certificatePem: string;
  privateKeyPem: string;
  /** SHA-1 thumbprint, upper-case hex. */
  sha1: string;
  /** SHA-256 thumbprint, upper-case hex. */
  sha256: string;
}

const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 } as const;

/** Creates a self-signed certificate valid from a minute ago for `days` days. */
export async function createTestCertificate(subject = "CN=orgbox test client", days = 365): Promise<TestCertificate> {
  const keys = (await webcrypto.subtle.generateKey(RSA, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: newSerial(), name: subject, notBefore: new Date(now - 60_000), notAfter: new Date(now + days * 86400_000), signingAlgorithm: RSA, keys });
  const der = Buffer.from(cert.rawData);
  return {
    certificatePem: cert.toString("pem"),
    privateKeyPem: await privateKeyPem(keys.privateKey),
    sha1: createHash("sha1").update(der).digest("hex").toUpperCase(),
    sha256: createHash("sha256").update(der).digest("hex").toUpperCase(),
  };
}
