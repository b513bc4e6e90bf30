/**
 * A running orgbox sees at once what an offline `orgbox` command (a real child process) writes to its
 * data folder: its directory and Dataverse security caches are dropped when another connection
 * committed (SQLite `PRAGMA data_version`, checked once per request), and reloads its signing keys.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { api } from "../helpers/security.ts";
import { orgboxCli } from "../helpers/cli.ts";

/** A client-credentials token request (v1 endpoint) for the org: the token, or the AAD error body. */
async function tokenRequest(o: OrgboxInstance, clientId: string, secret: string): Promise<{ access_token?: string; error?: string; error_description?: string }> {
  const res = await fetch(`${o.url}/${o.tenantId}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret, resource: o.orgUrl }) });
  return (await res.json()) as { access_token?: string; error?: string; error_description?: string };
}

describe("offline CLI writes into the store of a running orgbox", { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-live-"));
  let o: OrgboxInstance;

  beforeAll(async () => {
    o = await startOrgbox({ dataDir: dir, inMemory: false, http: true, port: 0 });
  });
  afterAll(async () => {
    await o?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the CLI on the server's data folder with `--json`; expects success. */
  async function cli<T>(...args: string[]): Promise<T> {
    const run = await orgboxCli([...args, "--data", dir, "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as T;
  }

  it("secret add works on the next token request, secret remove fails at once, appuser create is a member at once", async () => {
    const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "Live CLI" });
    const first = await o.identity.service.addPassword({ appId: application.appId });
    const firstToken = await tokenRequest(o, application.appId, first.secretText);
    expect(firstToken.error).toBeUndefined();

    // Fills the security cache with "no such systemuser" for this app.
    const before = await api(o, firstToken.access_token as string, "GET", "WhoAmI");
    expect(before.status).toBe(403);
    expect(before.body.error?.code).toBe("0x80072560");
    expect(before.body.error?.message).toContain("is not a member of the organization");

    const added = await cli<{ keyId: string; secretText: string }>("secret", "add", "--app", application.appId);
    const second = await tokenRequest(o, application.appId, added.secretText);
    expect(second.error).toBeUndefined();
    expect(second.access_token).toBeTypeOf("string");

    await cli("secret", "remove", "--app", application.appId, "--key-id", first.keyId);
    const removed = await tokenRequest(o, application.appId, first.secretText);
    expect(removed.error).toBe("invalid_client");
    expect(removed.error_description).toMatch(/^AADSTS7000215:/);
    expect((await tokenRequest(o, application.appId, added.secretText)).error).toBeUndefined();

    const user = await cli<{ systemUserId: string }>("appuser", "create", "--org", "contoso", "--app", application.appId, "--role", "System Administrator");
    const who = await api(o, second.access_token as string, "GET", "WhoAmI");
    expect(who.status).toBe(200);
    expect(who.body.UserId).toBe(user.systemUserId);
  });

  it("keys rotate signs the next token with the new key and publishes it in the JWKS at once", async () => {
    const rotated = await cli<{ kid: string }>("keys", "rotate");
    const issued = await tokenRequest(o, o.demo.clientId, o.demo.clientSecret);
    expect(decodeProtectedHeader(issued.access_token as string).kid).toBe(rotated.kid);
    const jwks = (await (await fetch(`${o.url}/${o.tenantId}/discovery/v2.0/keys`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(rotated.kid);
    expect((await api(o, issued.access_token as string, "GET", "WhoAmI")).status).toBe(200);
  });
});
