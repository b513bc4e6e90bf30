/**
 * `orgbox tenant|user|app|secret|cert|sp|consent` on a persisted data folder, as real child processes;
 * what they create is then used by real MSAL clients against an orgbox started on the same folder.
 */
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfidentialClientApplication, PublicClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { createTestCertificate } from "../helpers/certificates.ts";
import { orgboxCli } from "../helpers/cli.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

type Json = Record<string, unknown>;

describe("orgbox directory CLI", { timeout: 180_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-cli-dir-"));
  const data = ["--data", dir];
  const start = () => startOrgbox({ dataDir: dir, inMemory: false, caDir: defaultTempCaDir(), port: 0 });
  /** Runs the CLI with `--data` and `--json`; expects success and returns the parsed document. */
  async function json<T = Json>(...args: string[]): Promise<T> {
    const run = await orgboxCli([...args, ...data, "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as T;
  }
  async function failure(code: 1 | 2, message: string | RegExp, ...args: string[]): Promise<void> {
    const run = await orgboxCli([...args, ...data]);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(code);
  }
  async function withServer<T>(work: (o: OrgboxInstance) => Promise<T>): Promise<T> {
    const o = await start();
    try {
      return await work(o);
    } finally {
      await o.close();
    }
  }

  beforeAll(async () => {
    await (await start()).close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("tenant create / list / delete, refusing a duplicate, an unknown tenant and a tenant bound to an org", async () => {
    const created = await json<{ id: string; defaultDomain: string }>("tenant", "create", "--name", "Fabrikam", "--domain", "Fabrikam.onmicrosoft.com", "--id", "fab00000-0000-4000-8000-000000000001");
    expect(created).toMatchObject({ id: "fab00000-0000-4000-8000-000000000001", displayName: "Fabrikam", defaultDomain: "fabrikam.onmicrosoft.com" });
    const list = await json<Json[]>("tenant", "list");
    expect(list.map((t) => t.defaultDomain)).toEqual(["contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com"]);
    const text = await orgboxCli(["tenant", "list", ...data]);
    expect(text.stdout).toMatch(/fab00000-0000-4000-8000-000000000001\s+fabrikam\.onmicrosoft\.com\s+Fabrikam/);

    await failure(1, /already exists/, "tenant", "create", "--name", "Again", "--domain", "fabrikam.onmicrosoft.com");
    await failure(2, /not a domain name/, "tenant", "create", "--name", "Bad", "--domain", "not a domain");
    await failure(1, /cannot be deleted: the org\(s\) 'contoso' are bound to it/, "tenant", "delete", "contoso.onmicrosoft.com");
    await failure(2, /tenant 'nope.onmicrosoft.com' does not exist/, "tenant", "delete", "nope.onmicrosoft.com");
    await failure(2, /missing required argument/, "tenant", "delete");

    // A tenant with a user, an app (with a secret) and a grant is deleted with all of it.
    await json("tenant", "create", "--name", "Doomed", "--domain", "doomed.onmicrosoft.com");
    await json("user", "create", "--tenant", "doomed.onmicrosoft.com", "--upn", "ann@doomed.onmicrosoft.com", "--password", "Doomed-pass-1");
    const app = await json<{ appId: string }>("app", "create", "--tenant", "doomed.onmicrosoft.com", "--name", "Doomed app");
    await json("secret", "add", "--app", app.appId);
    await json("consent", "grant", "--tenant", "doomed.onmicrosoft.com", "--app", app.appId, "--scope", "user_impersonation");
    expect(await json("tenant", "delete", "doomed.onmicrosoft.com")).toMatchObject({ deleted: { defaultDomain: "doomed.onmicrosoft.com" } });
    expect((await json<Json[]>("tenant", "list")).map((t) => t.defaultDomain)).not.toContain("doomed.onmicrosoft.com");
    await failure(2, /no user 'ann@doomed/, "user", "disable", "ann@doomed.onmicrosoft.com");
    await failure(2, /no application with appId/, "app", "show", app.appId);
    // The domain is free again.
    await json("tenant", "create", "--name", "Doomed again", "--domain", "doomed.onmicrosoft.com");
  });

  it("app update: redirect URIs per platform, --public-client, --add-permission; the server honours it", async () => {
    const app = await json<{ appId: string }>("app", "create", "--tenant", DEMO.tenantId, "--name", "Updated later", "--redirect-uri", "web:https://old.example/cb");
    const updated = await json("app", "update", app.appId, "--add-redirect-uri", "public:http://localhost:8400", "--add-redirect-uri", "spa:http://localhost:3000", "--remove-redirect-uri", "web:https://old.example/cb", "--public-client", "true", "--add-permission", "00000007-0000-0000-c000-000000000000:user_impersonation");
    expect(updated).toMatchObject({ isFallbackPublicClient: true, web: { redirectUris: [] }, spa: { redirectUris: ["http://localhost:3000"] }, publicClient: { redirectUris: ["http://localhost:8400"] }, requiredResourceAccess: [{ resourceAppId: "00000007-0000-0000-c000-000000000000", resourceAccess: [{ id: "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4", type: "Scope" }] }] });
    // The same permission twice is kept once.
    expect(await json("app", "update", app.appId, "--add-permission", "Dynamics CRM:user_impersonation")).toMatchObject({ requiredResourceAccess: [{ resourceAccess: [{ type: "Scope" }] }] });
    await failure(2, /nothing to change/, "app", "update", app.appId);
    await failure(2, /--public-client must be true or false/, "app", "update", app.appId, "--public-client", "yes");
    await failure(2, /use web:URL, spa:URL or public:URL/, "app", "update", app.appId, "--add-redirect-uri", "https://x.example");
    await failure(2, /has no permission 'nope'/, "app", "update", app.appId, "--add-permission", "Dynamics CRM:nope");
    await failure(2, /no application with appId/, "app", "update", "c0de0000-0000-4000-8000-00000000dead", "--public-client", "true");
    await failure(2, /first-party application and cannot be changed/, "app", "update", "00000003-0000-0000-c000-000000000000", "--public-client", "true");

    // Public client now: ROPC works against a server on the same folder.
    await json("consent", "grant", "--tenant", DEMO.tenantId, "--app", app.appId, "--scope", "user_impersonation");
    await withServer(async (o) => {
      const pca = new PublicClientApplication({ auth: { clientId: app.appId, authority: o.authority, knownAuthorities: [new URL(o.url).host] } });
      const result = await pca.acquireTokenByUsernamePassword({ scopes: [`${o.orgUrl}/user_impersonation`], username: DEMO.admin.username, password: DEMO.admin.password });
      expect(decodeJwt(result!.accessToken)).toMatchObject({ appid: app.appId });
    });
    expect(await json("app", "update", app.appId, "--public-client", "false")).toMatchObject({ isFallbackPublicClient: false });
  });

  it("user create / list / disable / enable / reset-password / delete, and a password reset the server honours", async () => {
    const user = await json<{ id: string; directoryRoles: string[] }>("user", "create", "--tenant", DEMO.tenantId, "--upn", "Casey@contoso.onmicrosoft.com", "--password", "Casey-pass-1", "--display-name", "Casey Jones", "--global-admin");
    expect(user).toMatchObject({ userPrincipalName: "casey@contoso.onmicrosoft.com", displayName: "Casey Jones", accountEnabled: true, directoryRoles: ["62e90394-69f5-4237-9190-012177145e10"] });
    expect((await json<Json[]>("user", "list", "--tenant", "contoso.onmicrosoft.com")).find((u) => u.id === user.id)).toMatchObject({ userPrincipalName: "casey@contoso.onmicrosoft.com" });
    expect((await orgboxCli(["user", "list", "--tenant", "contoso.onmicrosoft.com", ...data])).stdout).toMatch(/casey@contoso\.onmicrosoft\.com\s+Casey Jones\s+yes\s+Global Administrator/);

    expect(await json("user", "disable", "casey@contoso.onmicrosoft.com")).toMatchObject({ accountEnabled: false });
    expect((await json<Json[]>("user", "list", "--tenant", DEMO.tenantId)).find((u) => u.id === user.id)?.accountEnabled).toBe(false);
    expect(await json("user", "enable", "casey@contoso.onmicrosoft.com")).toMatchObject({ accountEnabled: true });
    expect(await json("user", "reset-password", "casey@contoso.onmicrosoft.com", "--password", "Casey-pass-2")).toMatchObject({ passwordReset: true });

    await failure(1, /already exists/, "user", "create", "--tenant", DEMO.tenantId, "--upn", "casey@contoso.onmicrosoft.com", "--password", "x");
    await failure(2, /no tenant 'nope'/, "user", "create", "--tenant", "nope", "--upn", "x@nope", "--password", "x");
    await failure(2, /--tenant <id\|domain> is required/, "user", "list");
    await failure(2, /not a user principal name/, "user", "create", "--tenant", DEMO.tenantId, "--upn", "no-at-sign", "--password", "x");
    await failure(2, /--password is required/, "user", "reset-password", "casey@contoso.onmicrosoft.com");
    await failure(2, /no user 'ghost@contoso/, "user", "enable", "ghost@contoso.onmicrosoft.com");

    // The new password works over ROPC against a server on the same folder (the old one does not).
    const client = await json<{ appId: string }>("app", "create", "--tenant", DEMO.tenantId, "--name", "Password checker", "--public-client");
    await json("consent", "grant", "--tenant", DEMO.tenantId, "--app", client.appId, "--scope", "user_impersonation", "--all-principals");
    await withServer(async (o) => {
      const pca = new PublicClientApplication({ auth: { clientId: client.appId, authority: o.authority, knownAuthorities: [new URL(o.url).host] } });
      const scopes = [`${o.orgUrl}/user_impersonation`];
      const result = await pca.acquireTokenByUsernamePassword({ scopes, username: "casey@contoso.onmicrosoft.com", password: "Casey-pass-2" });
      expect(decodeJwt(result!.accessToken)).toMatchObject({ oid: user.id, upn: "casey@contoso.onmicrosoft.com" });
      await expect(pca.acquireTokenByUsernamePassword({ scopes, username: "casey@contoso.onmicrosoft.com", password: "Casey-pass-1" })).rejects.toThrow(/AADSTS50126/);
    });

    expect(await json("user", "delete", "casey@contoso.onmicrosoft.com")).toMatchObject({ deleted: { id: user.id } });
    expect((await json<Json[]>("user", "list", "--tenant", DEMO.tenantId)).some((u) => u.id === user.id)).toBe(false);
    await failure(2, /user 'casey@contoso.onmicrosoft.com' does not exist/, "user", "delete", "casey@contoso.onmicrosoft.com");
  });

  it("app create / list / show / delete, secrets added by the CLI used by msal-node, certificates, service principals", async () => {
    const app = await json<{ appId: string; servicePrincipalId: string; requiredResourceAccess: unknown[]; web: { redirectUris: string[] } }>(
      "app",
      "create",
      "--tenant",
      "contoso.onmicrosoft.com",
      "--name",
      "CLI daemon",
      "--multi-tenant",
      "--redirect-uri",
      "web:https://localhost:5001/signin-oidc",
      "--redirect-uri",
      "spa:http://localhost:3000",
      "--identifier-uri",
      "api://cli-daemon",
      "--permission",
      "Dynamics CRM:user_impersonation",
      "--permission",
      "Microsoft Graph:User.Read",
    );
    expect(app).toMatchObject({ displayName: "CLI daemon", signInAudience: "AzureADMultipleOrgs", identifierUris: ["api://cli-daemon"], web: { redirectUris: ["https://localhost:5001/signin-oidc"] }, spa: { redirectUris: ["http://localhost:3000"] } });
    expect(app.requiredResourceAccess).toEqual([
      { resourceAppId: "00000007-0000-0000-c000-000000000000", resourceAccess: [{ id: "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4", type: "Scope" }] },
      { resourceAppId: "00000003-0000-0000-c000-000000000000", resourceAccess: [{ id: expect.any(String), type: "Scope" }] },
    ]);
    expect((await json<Json[]>("app", "list", "--tenant", DEMO.tenantId)).map((a) => a.appId)).toContain(app.appId);
    expect(await json("app", "show", app.appId)).toMatchObject({ appId: app.appId, displayName: "CLI daemon" });
    expect((await orgboxCli(["app", "show", app.appId, ...data])).stdout).toContain("web:https://localhost:5001/signin-oidc");

    // A secret added by the CLI: shown once, listed without its value, and accepted by a real client.
    const secret = await json<{ keyId: string; secretText: string; hint: string; endDateTime: string }>("secret", "add", "--app", app.appId, "--name", "ci", "--expires", "2030-01-01");
    expect(secret.endDateTime).toBe("2030-01-01T00:00:00.000Z");
    expect(secret.hint).toBe(secret.secretText.slice(0, 3));
    const listed = await orgboxCli(["secret", "list", "--app", app.appId, ...data, "--json"]);
    expect(JSON.parse(listed.stdout)).toEqual([{ keyId: secret.keyId, applicationId: expect.any(String), displayName: "ci", hint: secret.hint, startDateTime: expect.any(String), endDateTime: "2030-01-01T00:00:00.000Z" }]);
    expect(listed.stdout).not.toContain(secret.secretText);
    const byDays = await json<{ keyId: string; endDateTime: string }>("secret", "add", "--app", app.appId, "--days", "30");
    expect(Date.parse(byDays.endDateTime) - Date.now()).toBeGreaterThan(29 * 86400_000);

    const clientCredentials = (o: OrgboxInstance) =>
      new ConfidentialClientApplication({ auth: { clientId: app.appId, clientSecret: secret.secretText, authority: o.authority, knownAuthorities: [new URL(o.url).host] } }).acquireTokenByClientCredential({
        scopes: [`${o.orgUrl}/.default`],
        skipCache: true,
      });
    await withServer(async (o) => {
      const result = await clientCredentials(o);
      expect(decodeJwt(result!.accessToken)).toMatchObject({ appid: app.appId, aud: o.orgUrl, tid: DEMO.tenantId });
    });
    expect(await json("secret", "remove", "--app", app.appId, "--key-id", secret.keyId)).toMatchObject({ removed: true });
    await withServer(async (o) => {
      await expect(clientCredentials(o)).rejects.toThrow(/AADSTS7000215/);
    });
    await failure(2, /no client secret with key id/, "secret", "remove", "--app", app.appId, "--key-id", secret.keyId);
    await failure(2, /--expires must be a date/, "secret", "add", "--app", app.appId, "--expires", "next year");
    await failure(2, /not both/, "secret", "add", "--app", app.appId, "--expires", "2030-01-01", "--days", "3");
    await failure(2, /application 'c0de0000-0000-4000-8000-00000000dead' does not exist/, "secret", "add", "--app", "c0de0000-0000-4000-8000-00000000dead");

    // Certificates.
    const cert = await createTestCertificate("CN=cli cert");
    const pemFile = join(dir, "client.pem");
    writeFileSync(pemFile, cert.certificatePem);
    const added = await json<{ keyId: string }>("app", "cert", "add", "--app", app.appId, "--cert", pemFile);
    expect(added).toMatchObject({ customKeyIdentifier: cert.sha1, displayName: "CN=cli cert" });
    expect((await json<Json[]>("app", "cert", "list", "--app", app.appId)).map((c) => c.customKeyIdentifier)).toEqual([cert.sha1]);
    // The old spelling works for one release, with a warning naming the new one.
    const old = await orgboxCli(["cert", "list", "--app", app.appId, ...data, "--json"]);
    expect(old.code).toBe(0);
    expect((JSON.parse(old.stdout) as Json[]).map((c) => c.customKeyIdentifier)).toEqual([cert.sha1]);
    expect(old.stderr).toContain("'orgbox cert list' is deprecated and will be removed in the next release: use 'orgbox app cert list'");
    expect(await json("app", "cert", "remove", "--app", app.appId, "--key-id", added.keyId)).toMatchObject({ removed: true });
    await failure(2, /has no certificate with key id/, "app", "cert", "remove", "--app", app.appId, "--key-id", added.keyId);
    writeFileSync(pemFile, cert.privateKeyPem);
    await failure(2, /./, "app", "cert", "add", "--app", app.appId, "--cert", pemFile);
    await failure(2, /cannot read --cert/, "app", "cert", "add", "--app", app.appId, "--cert", join(dir, "missing.pem"));

    // Service principals: the multi-tenant app in another tenant; a single-tenant app is refused there.
    await json("tenant", "create", "--name", "Northwind", "--domain", "northwind.onmicrosoft.com");
    const sp = await json<{ id: string; tenantId: string; appOwnerOrganizationId: string }>("sp", "create", "--tenant", "northwind.onmicrosoft.com", "--app", app.appId);
    expect(sp).toMatchObject({ appId: app.appId, appOwnerOrganizationId: DEMO.tenantId });
    expect((await json<Json[]>("sp", "list", "--tenant", "northwind.onmicrosoft.com")).map((s) => s.appId)).toContain(app.appId);
    const single = await json<{ appId: string }>("app", "create", "--tenant", DEMO.tenantId, "--name", "Single");
    await failure(2, /single-tenant/, "sp", "create", "--tenant", "northwind.onmicrosoft.com", "--app", single.appId);
    await failure(2, /no application with appId 'c0de0000-0000-4000-8000-00000000dead'/, "sp", "create", "--tenant", "northwind.onmicrosoft.com", "--app", "c0de0000-0000-4000-8000-00000000dead");

    // Bad app input.
    await failure(2, /has no permission 'nope'/, "app", "create", "--tenant", DEMO.tenantId, "--name", "x", "--permission", "Dynamics CRM:nope");
    await failure(2, /no resource 'Nowhere'/, "app", "create", "--tenant", DEMO.tenantId, "--name", "x", "--permission", "Nowhere:read");
    await failure(2, /use web:URL, spa:URL or public:URL/, "app", "create", "--tenant", DEMO.tenantId, "--name", "x", "--redirect-uri", "https://nowhere");
    await failure(1, /already exists/, "app", "create", "--tenant", DEMO.tenantId, "--name", "x", "--app-id", single.appId);

    // Delete: the app, its service principals everywhere, and its credentials.
    expect(await json("app", "delete", app.appId)).toMatchObject({ deleted: { appId: app.appId } });
    expect((await json<Json[]>("sp", "list", "--tenant", "northwind.onmicrosoft.com")).map((s) => s.appId)).not.toContain(app.appId);
    await failure(2, /application '.*' does not exist/, "app", "delete", app.appId);
    await failure(2, /first-party/, "app", "delete", "00000007-0000-0000-c000-000000000000");
  });

  it("consent grant / list / revoke: ROPC works once granted, and revoking also revokes the refresh tokens", async () => {
    const app = await json<{ appId: string }>("app", "create", "--tenant", DEMO.tenantId, "--name", "CLI public client", "--public-client", "--redirect-uri", "public:http://localhost");
    const ropc = async (o: OrgboxInstance) => {
      const response = await fetch(`${o.authority}/oauth2/v2.0/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "password", client_id: app.appId, username: DEMO.admin.username, password: DEMO.admin.password, scope: `${o.orgUrl}/user_impersonation offline_access` }),
      });
      return { status: response.status, body: (await response.json()) as Json };
    };
    await withServer(async (o) => {
      const before = await ropc(o);
      expect(before.body.error_description).toMatch(/AADSTS65001/);
    });

    await failure(2, /Dynamics CRM has no delegated permission 'nope'/, "consent", "grant", "--tenant", DEMO.tenantId, "--app", app.appId, "--scope", "nope");
    await failure(2, /--scope <permission> is required/, "consent", "grant", "--tenant", DEMO.tenantId, "--app", app.appId);
    await failure(2, /not both/, "consent", "grant", "--tenant", DEMO.tenantId, "--app", app.appId, "--scope", "user_impersonation", "--user", DEMO.admin.username, "--all-principals");
    await failure(2, /no application with appId/, "consent", "grant", "--tenant", DEMO.tenantId, "--app", "c0de0000-0000-4000-8000-00000000dead", "--scope", "user_impersonation");
    await failure(2, /no service principal in northwind/, "consent", "grant", "--tenant", "northwind.onmicrosoft.com", "--app", app.appId, "--scope", "user_impersonation");

    const grant = await json<{ id: string; consentType: string; principalId: string; scope: string }>("consent", "grant", "--tenant", DEMO.tenantId, "--app", app.appId, "--resource", "Dynamics CRM", "--scope", "user_impersonation", "--user", DEMO.admin.username);
    expect(grant).toMatchObject({ consentType: "Principal", principalId: DEMO.admin.id, scope: "user_impersonation" });
    expect((await json<Json[]>("consent", "list", "--tenant", DEMO.tenantId)).find((g) => g.id === grant.id)).toMatchObject({ scope: "user_impersonation" });
    expect((await orgboxCli(["consent", "list", "--tenant", DEMO.tenantId, ...data])).stdout).toMatch(new RegExp(`${grant.id}\\s+CLI public client\\s+Dynamics CRM\\s+user ${DEMO.admin.id}`));

    // msal-node ROPC now works; keep a refresh token from a raw ROPC call.
    const refreshToken = await withServer(async (o) => {
      const pca = new PublicClientApplication({ auth: { clientId: app.appId, authority: o.authority, knownAuthorities: [new URL(o.url).host] } });
      const result = await pca.acquireTokenByUsernamePassword({ scopes: [`${o.orgUrl}/user_impersonation`], username: DEMO.admin.username, password: DEMO.admin.password });
      expect(decodeJwt(result!.accessToken)).toMatchObject({ appid: app.appId, scp: "user_impersonation", oid: DEMO.admin.id });
      const raw = await ropc(o);
      expect(raw.status).toBe(200);
      return raw.body.refresh_token as string;
    });

    const revoked = await json<{ grant: { id: string }; revokedRefreshTokens: number }>("consent", "revoke", "--tenant", DEMO.tenantId, "--app", app.appId, "--user", DEMO.admin.username);
    expect(revoked.grant.id).toBe(grant.id);
    expect(revoked.revokedRefreshTokens).toBeGreaterThanOrEqual(1);
    expect((await json<Json[]>("consent", "list", "--tenant", DEMO.tenantId)).some((g) => g.id === grant.id)).toBe(false);
    await withServer(async (o) => {
      const refreshed = await fetch(`${o.authority}/oauth2/v2.0/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "refresh_token", client_id: app.appId, refresh_token: refreshToken, scope: `${o.orgUrl}/user_impersonation` }),
      });
      expect(refreshed.status).toBe(400);
      expect(((await refreshed.json()) as Json).error).toBe("invalid_grant");
      expect((await ropc(o)).body.error_description).toMatch(/AADSTS65001/);
    });

    // Admin consent by id round trip; revoking twice fails.
    const admin = await json<{ id: string; consentType: string }>("consent", "grant", "--tenant", DEMO.tenantId, "--app", app.appId, "--scope", "user_impersonation");
    expect(admin.consentType).toBe("AllPrincipals");
    expect(await json("consent", "revoke", "--id", admin.id)).toMatchObject({ grant: { id: admin.id } });
    await failure(2, /no such consent grant/, "consent", "revoke", "--id", admin.id);
    await failure(2, /no such consent grant/, "consent", "revoke", "--tenant", DEMO.tenantId, "--app", app.appId);
  });

  it("needs a store: no --data (and no ./.orgbox), or a folder without one, is bad input", async () => {
    const empty = mkdtempSync(join(tmpdir(), "orgbox-cli-empty-"));
    try {
      const noData = await orgboxCli(["tenant", "list"], { ORGBOX_DATA: "", ORGBOX_STORE_URL: "" }, empty);
      expect(noData.code).toBe(2);
      expect(noData.stderr).toContain("no orgbox store in './.orgbox'");
      const run = await orgboxCli(["tenant", "list", "--data", empty]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("no orgbox store");
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe("the same management on the startOrgbox handle (identity.service)", () => {
  const orgbox = useOrgbox();

  it("deletes and revokes with the errors the CLI reports", async () => {
    const { service } = orgbox().identity;
    await expect(service.deleteTenant(DEMO.tenantId)).rejects.toMatchObject({ status: 409, message: expect.stringContaining("'contoso'") });
    await expect(service.deleteTenant("nope.onmicrosoft.com")).rejects.toMatchObject({ status: 404 });
    await expect(service.deleteApplication("00000003-0000-0000-c000-000000000000")).rejects.toMatchObject({ status: 400 });
    await expect(service.removePassword(DEMO.app.clientId, "c0de0000-0000-4000-8000-00000000dead")).rejects.toMatchObject({ status: 404 });
    await expect(service.revokeConsent({ id: "missing" })).rejects.toMatchObject({ status: 404 });

    const tenant = await service.createTenant({ displayName: "Handle", defaultDomain: "handle.onmicrosoft.com" });
    const user = await service.createUser({ tenantId: tenant.id, userPrincipalName: "h@handle.onmicrosoft.com", displayName: "H", password: "Handle-pass-1" });
    expect(await service.findUser("H@handle.onmicrosoft.com")).toMatchObject({ id: user.id });
    const { application } = await service.registerApplication({ tenantId: tenant.id, displayName: "Handle app" });
    const secret = await service.addPassword({ appId: application.appId });
    expect((await service.listAppPasswords(application.appId)).map((p) => p.keyId)).toEqual([secret.keyId]);
    await service.removePassword(application.appId, secret.keyId);
    expect(await service.listAppPasswords(application.appId)).toEqual([]);
    const grant = await service.grantConsent({ tenantId: tenant.id, clientAppId: application.appId, resourceAppId: "00000007-0000-0000-c000-000000000000", scopes: ["user_impersonation"], principalId: user.id });
    expect(await service.revokeConsent({ tenantId: tenant.id, clientAppId: application.appId, resourceAppId: "00000007-0000-0000-c000-000000000000", principalId: user.id })).toEqual({ grant, revokedRefreshTokens: 0 });
    expect((await service.deleteUser(user.id)).userPrincipalName).toBe("h@handle.onmicrosoft.com");
    expect((await service.deleteApplication(application.appId)).appId).toBe(application.appId);
    expect(await service.findApplication(application.appId)).toBeUndefined();
    expect((await service.deleteTenant("handle.onmicrosoft.com")).id).toBe(tenant.id);
    expect(await service.findTenant(tenant.id)).toBeUndefined();
  });
});
