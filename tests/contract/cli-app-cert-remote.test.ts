/**
 * Issue 17 (and a leftover of 14): `orgbox app cert add|list|remove --url`, a real CLI child process against a
 * RUNNING orgbox through Graph's addKey/removeKey (with the proof token signed by a current certificate's key);
 * a real MSAL certificate client uses what it added, live.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { DEMO } from "../../src/index.ts";
import { createTestCertificate } from "../helpers/certificates.ts";
import { orgboxCli } from "../helpers/cli.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

type Json = Record<string, unknown>;
const ADMIN_KEY = "cli-app-cert-admin-key-0123456789";

describe("orgbox app cert --url", { timeout: 120_000 }, () => {
  const orgbox = useOrgbox({ adminKey: ADMIN_KEY });
  const dir = mkdtempSync(join(tmpdir(), "orgbox-app-cert-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const remote = () => ["--url", orgbox().url, "--ca", join(defaultTempCaDir(), "ca.pem"), "--tenant", DEMO.tenantDomain];
  const env = () => ({ ORGBOX_ADMIN_KEY: ADMIN_KEY, NODE_EXTRA_CA_CERTS: "", ORGBOX_DATA: "", ORGBOX_STORE_URL: "" });
  const run = (...args: string[]) => orgboxCli([...args, ...remote()], env());
  async function json<T = Json>(...args: string[]): Promise<T> {
    const result = await run(...args, "--json");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as T;
  }
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it("adds a first certificate, needs --proof-key for the next, lists, removes; MSAL signs in with it at once", async () => {
    const o = orgbox();
    const app = await json<{ appId: string; id: string }>("app", "create", "--name", "Cert app");
    const first = await createTestCertificate("CN=remote first");
    const second = await createTestCertificate("CN=remote second");
    const one = await json<{ keyId: string; customKeyIdentifier: string }>("app", "cert", "add", "--app", app.appId, "--cert", file("one.pem", first.certificatePem));
    expect(one).toMatchObject({ applicationId: app.id, customKeyIdentifier: first.sha1, displayName: "CN=remote first", type: "AsymmetricX509Cert" });

    const token = (cert: typeof first) =>
      new ConfidentialClientApplication({ auth: { clientId: app.appId, authority: o.authority, knownAuthorities: [new URL(o.url).host], clientCertificate: { thumbprintSha256: cert.sha256, privateKey: cert.privateKeyPem } } }).acquireTokenByClientCredential({ scopes: [`${o.orgUrl}/.default`], skipCache: true });
    expect(decodeJwt((await token(first))!.accessToken)).toMatchObject({ appid: app.appId, aud: o.orgUrl });

    // A second certificate: Graph's addKey needs a proof signed by a current one.
    const refused = await run("app", "cert", "add", "--app", app.appId, "--cert", file("two.pem", second.certificatePem));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--proof-key");
    const wrongProof = await run("app", "cert", "add", "--app", app.appId, "--cert", join(dir, "two.pem"), "--proof-key", file("two.key", second.privateKeyPem));
    expect(wrongProof.code).toBe(2);
    expect(wrongProof.stderr).toContain("The proof is not valid");
    const two = await json<{ keyId: string }>("app", "cert", "add", "--app", app.appId, "--cert", join(dir, "two.pem"), "--proof-key", file("one.key", first.privateKeyPem), "--name", "second");
    expect((await json<Json[]>("app", "cert", "list", "--app", app.appId)).map((k) => [k.keyId, k.customKeyIdentifier])).toEqual(
      expect.arrayContaining([
        [one.keyId, first.sha1],
        [two.keyId, second.sha1],
      ]),
    );
    const listed = await run("app", "cert", "list", "--app", app.appId);
    expect(listed.stdout).toMatch(new RegExp(`${two.keyId}\\s+${second.sha1}\\s+second`));

    // Remove the first (proof by the second): its key stops working at once, the second works.
    await expect(run("app", "cert", "remove", "--app", app.appId, "--key-id", one.keyId)).resolves.toMatchObject({ code: 2, stderr: expect.stringContaining("--proof-key") });
    expect(await json("app", "cert", "remove", "--app", app.appId, "--key-id", one.keyId, "--proof-key", join(dir, "two.key"))).toEqual({ appId: app.appId, keyId: one.keyId, removed: true });
    await expect(token(first)).rejects.toThrow(/AADSTS700027/);
    expect(decodeJwt((await token(second))!.accessToken)).toMatchObject({ appid: app.appId });
  });
});
