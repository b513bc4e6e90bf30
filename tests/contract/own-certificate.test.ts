/**
 * Issue 17, "keys you can trust": your own server certificate and key (`tlsCert`/`tlsKey`, `--tls-cert`/`--tls-key`,
 * `ORGBOX_TLS_CERT`/`ORGBOX_TLS_KEY`), as Azurite's `--cert`/`--key`. A certificate made here (its own issuer) is
 * the only thing a real HTTPS client trusts, and the token endpoint answers over it; a wrong pair is refused.
 */
import { webcrypto } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newSerial, privateKeyPem, x509 } from "../../src/common/x509.ts";
import { resolveConfig } from "../../src/config/config.ts";
import { DEMO, startOrgbox } from "../../src/index.ts";
import { orgboxCli } from "../helpers/cli.ts";

const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** A self-signed server certificate for `localhost` and 127.0.0.1, valid from a minute ago for a day. */
async function serverCertificate(cn: string): Promise<{ cert: string; key: string }> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name: `CN=${cn}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86400_000),
    signingAlgorithm: EC,
    keys,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "localhost" }, { type: "ip", value: "127.0.0.1" }])],
  });
  return { cert: cert.toString("pem"), key: await privateKeyPem(keys.privateKey) };
}

/** POST over HTTPS trusting only `ca`: status and parsed JSON body. */
function post(url: string, ca: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown>; peer: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", ca, headers: { "content-type": "application/x-www-form-urlencoded" } }, (res) => {
      const peer = String((res.socket as unknown as { getPeerCertificate(): { subject: { CN: string } } }).getPeerCertificate().subject.CN);
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown>, peer }));
    });
    req.on("error", reject);
    req.end(new URLSearchParams(form).toString());
  });
}

describe("your own TLS certificate", { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-own-tls-"));
  const files = { cert: join(dir, "server.pem"), key: join(dir, "server-key.pem"), otherKey: join(dir, "other-key.pem") };
  let mine: { cert: string; key: string };
  beforeAll(async () => {
    mine = await serverCertificate("my own orgbox");
    writeFileSync(files.cert, mine.cert);
    writeFileSync(files.key, mine.key);
    writeFileSync(files.otherKey, (await serverCertificate("other")).key);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("serves HTTPS with it: a client trusting only that certificate gets a token; no CA is offered", async () => {
    const orgbox = await startOrgbox({ tlsCert: files.cert, tlsKey: files.key });
    try {
      expect(orgbox.caCert).toBeUndefined();
      expect(orgbox.caCertPath).toBeUndefined();
      const answer = await post(`${orgbox.authority}/oauth2/v2.0/token`, mine.cert, { grant_type: "client_credentials", client_id: DEMO.app.clientId, client_secret: DEMO.app.clientSecret, scope: `${orgbox.orgUrl}/.default` });
      expect(answer.peer).toBe("my own orgbox");
      expect(answer.status).toBe(200);
      expect(answer.body.access_token).toEqual(expect.any(String));
      // A client that trusts only another certificate refuses the connection.
      await expect(post(`${orgbox.authority}/oauth2/v2.0/token`, (await serverCertificate("stranger")).cert, {})).rejects.toThrow(/self-signed|unable to verify|certificate/i);
    } finally {
      await orgbox.close();
    }
  });

  it("refuses a key that is not the certificate's, half a pair, a missing file, and --http with it", async () => {
    await expect(startOrgbox({ tlsCert: files.cert, tlsKey: files.otherKey })).rejects.toThrow(`--tls-key (tlsKey) ${files.otherKey} is not the private key of the --tls-cert certificate ${files.cert}`);
    expect(() => resolveConfig({ tlsCert: files.cert })).toThrow("--tls-cert and --tls-key go together: give the certificate and its private key (--tls-key is missing)");
    expect(() => resolveConfig({}, { ORGBOX_TLS_KEY: files.key })).toThrow("(--tls-cert is missing)");
    expect(() => resolveConfig({ tlsCert: files.cert, tlsKey: files.key, http: true })).toThrow("--tls-cert and --http cannot be combined");
    await expect(startOrgbox({ tlsCert: join(dir, "missing.pem"), tlsKey: files.key })).rejects.toThrow(/cannot read --tls-cert \(tlsCert\) .*missing\.pem/);
    await expect(startOrgbox({ tlsCert: files.key, tlsKey: files.key })).rejects.toThrow(/is not a PEM certificate/);
  });

  it("the CLI flags: a wrong pair exits 2 with the reason", async () => {
    const run = await orgboxCli(["start", "--in-memory", "--port", "0", "--tls-cert", files.cert, "--tls-key", files.otherKey]);
    expect(run.stderr).toContain("is not the private key of the --tls-cert certificate");
    expect(run.code).toBe(2);
  });
});
