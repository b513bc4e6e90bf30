/**
 * `orgbox user|app|secret|sp|consent … --url`: the real CLI (a child process) against a RUNNING orgbox,
 * through `POST /_orgbox/graph-token` and the Graph API; what it changes is live at once for real clients.
 */
import { dirname, join } from "node:path";
import { ConfidentialClientApplication, PublicClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { startOrgbox } from "../../src/index.ts";
import { BACKENDS } from "../helpers/store-backends.ts";
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { DEMO } from "../../src/index.ts";
import { orgboxCli } from "../helpers/cli.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

type Json = Record<string, unknown>;
const ADMIN_KEY = "cli-remote-admin-key-0123456789";

describe("orgbox directory CLI --url (a running orgbox, through Graph)", { timeout: 180_000 }, () => {
  const orgbox = useOrgbox({ adminKey: ADMIN_KEY });
  const remote = () => ["--url", orgbox().url, "--ca", join(defaultTempCaDir(), "ca.pem"), "--tenant", DEMO.tenantDomain];
  // The admin key from the environment, as scripts would pass it.
  const env = () => ({ ORGBOX_ADMIN_KEY: ADMIN_KEY, NODE_EXTRA_CA_CERTS: "", ORGBOX_DATA: "", ORGBOX_STORE_URL: "" });
  async function json<T = Json>(...args: string[]): Promise<T> {
    const run = await orgboxCli([...args, ...remote(), "--json"], env());
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as T;
  }

  it("app create / update / secret add: the new secret works at once; secret remove: AADSTS7000215", async () => {
    const o = orgbox();
    const app = await json<{ appId: string; id: string; tenantId: string; servicePrincipalId: string; isFallbackPublicClient: boolean }>("app", "create", "--name", "Remote app", "--redirect-uri", "web:https://app.example/callback");
    expect(app).toMatchObject({ tenantId: DEMO.tenantId, isFallbackPublicClient: false, web: { redirectUris: ["https://app.example/callback"] } });
    expect((await json<Json[]>("app", "list")).map((a) => a.appId)).toContain(app.appId);
    expect((await json<Json[]>("sp", "list")).find((s) => s.appId === app.appId)).toMatchObject({ id: app.servicePrincipalId });

    const updated = await json<Json>("app", "update", app.appId, "--add-redirect-uri", "public:http://localhost:8400", "--remove-redirect-uri", "web:https://app.example/callback", "--public-client", "true", "--add-permission", "Dynamics CRM:user_impersonation");
    expect(updated).toMatchObject({ isFallbackPublicClient: true, web: { redirectUris: [] }, publicClient: { redirectUris: ["http://localhost:8400"] }, requiredResourceAccess: [{ resourceAppId: "00000007-0000-0000-c000-000000000000", resourceAccess: [{ id: "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4", type: "Scope" }] }] });
    const shown = await orgboxCli(["app", "show", app.appId, ...remote()], env());
    expect(shown.stdout).toMatch(/public client\s+yes/);
    expect(shown.stdout).toMatch(/redirect URIs\s+public:http:\/\/localhost:8400/);

    const secret = await json<{ keyId: string; secretText: string; hint: string; endDateTime: string }>("secret", "add", "--app", app.appId, "--name", "ci", "--expires", "2030-01-01");
    expect(secret.endDateTime).toBe("2030-01-01T00:00:00.000Z");
    expect(secret.hint).toBe(secret.secretText.slice(0, 3));
    const listed = await orgboxCli(["secret", "list", "--app", app.appId, ...remote(), "--json"], env());
    expect(JSON.parse(listed.stdout)).toEqual([{ keyId: secret.keyId, applicationId: app.id, displayName: "ci", hint: secret.hint, startDateTime: expect.any(String), endDateTime: "2030-01-01T00:00:00.000Z" }]);
    expect(listed.stdout).not.toContain(secret.secretText);

    const clientCredentials = () =>
      new ConfidentialClientApplication({ auth: { clientId: app.appId, clientSecret: secret.secretText, authority: o.authority, knownAuthorities: [new URL(o.url).host] } }).acquireTokenByClientCredential({ scopes: [`${o.orgUrl}/.default`], skipCache: true });
    // Live: no restart between the CLI's write and the token request.
    const result = await clientCredentials();
    expect(decodeJwt(result!.accessToken)).toMatchObject({ appid: app.appId, aud: o.orgUrl, tid: DEMO.tenantId });

    expect(await json("secret", "remove", "--app", app.appId, "--key-id", secret.keyId)).toMatchObject({ removed: true });
    await expect(clientCredentials()).rejects.toThrow(/AADSTS7000215/);

    expect(await json("app", "delete", app.appId)).toMatchObject({ deleted: { appId: app.appId } });
    const gone = await orgboxCli(["app", "show", app.appId, ...remote()], env());
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/no application with appId/);
  });

  it("user create / list / disable (ROPC then fails AADSTS50057) / enable / reset-password / delete; consent grant / list / revoke", async () => {
    const o = orgbox();
    const user = await json<{ id: string; directoryRoles: string[] }>("user", "create", "--upn", "Remy@contoso.onmicrosoft.com", "--password", "Remy-pass-1", "--display-name", "Remy", "--global-admin");
    expect(user).toMatchObject({ userPrincipalName: "remy@contoso.onmicrosoft.com", displayName: "Remy", accountEnabled: true, tenantId: DEMO.tenantId, directoryRoles: ["62e90394-69f5-4237-9190-012177145e10"] });
    const listed = await orgboxCli(["user", "list", ...remote()], env());
    expect(listed.stdout).toMatch(/remy@contoso\.onmicrosoft\.com\s+Remy\s+yes\s+Global Administrator/);

    const client = await json<{ appId: string }>("app", "create", "--name", "Remote ROPC", "--public-client");
    const grant = await json<{ id: string; consentType: string; scope: string }>("consent", "grant", "--app", client.appId, "--scope", "user_impersonation");
    expect(grant).toMatchObject({ consentType: "AllPrincipals", scope: "user_impersonation" });
    expect((await json<Json[]>("consent", "list")).map((g) => g.id)).toContain(grant.id);

    const pca = new PublicClientApplication({ auth: { clientId: client.appId, authority: o.authority, knownAuthorities: [new URL(o.url).host] } });
    const scopes = [`${o.orgUrl}/user_impersonation`];
    const ropc = (password: string) => pca.acquireTokenByUsernamePassword({ scopes, username: "remy@contoso.onmicrosoft.com", password });
    expect(decodeJwt((await ropc("Remy-pass-1"))!.accessToken)).toMatchObject({ oid: user.id });

    // No --tenant: the UPN's domain names it.
    const noTenant = ["--url", o.url, "--ca", join(defaultTempCaDir(), "ca.pem"), "--json"];
    const disabled = await orgboxCli(["user", "disable", "remy@contoso.onmicrosoft.com", ...noTenant], env());
    expect(disabled.code).toBe(0);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ accountEnabled: false });
    await expect(ropc("Remy-pass-1")).rejects.toThrow(/AADSTS50057/);
    expect(await json("user", "enable", "remy@contoso.onmicrosoft.com")).toMatchObject({ accountEnabled: true });
    expect(await json("user", "reset-password", "remy@contoso.onmicrosoft.com", "--password", "Remy-pass-2")).toMatchObject({ passwordReset: true });
    await expect(ropc("Remy-pass-1")).rejects.toThrow(/AADSTS50126/);
    expect(decodeJwt((await ropc("Remy-pass-2"))!.accessToken)).toMatchObject({ oid: user.id });

    expect(await json("consent", "revoke", "--app", client.appId)).toMatchObject({ grant: { id: grant.id } });
    expect((await json<Json[]>("consent", "list")).map((g) => g.id)).not.toContain(grant.id);
    await expect(ropc("Remy-pass-2")).rejects.toThrow(/AADSTS65001/);

    expect(await json("user", "delete", "remy@contoso.onmicrosoft.com")).toMatchObject({ deleted: { id: user.id } });
    const again = await orgboxCli(["user", "delete", "remy@contoso.onmicrosoft.com", ...remote()], env());
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/user 'remy@contoso.onmicrosoft.com' does not exist/);
  });

  it("refuses a wrong or missing admin key, an unknown tenant, and offline-only commands", async () => {
    const wrong = await orgboxCli(["app", "list", ...remote()], { ...env(), ORGBOX_ADMIN_KEY: "not-the-key" });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout).toBe("");
    expect(wrong.stderr).toMatch(/refused the admin key \(401\)/);
    const missing = await orgboxCli(["app", "list", ...remote()], { ...env(), ORGBOX_ADMIN_KEY: "" });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--admin-key KEY or ORGBOX_ADMIN_KEY/);
    const unknown = await orgboxCli(["app", "list", "--url", orgbox().url, "--ca", join(defaultTempCaDir(), "ca.pem"), "--tenant", "nope.onmicrosoft.com"], env());
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no tenant 'nope.onmicrosoft.com'/);
    // Without --ca (nor NODE_EXTRA_CA_CERTS) the CLI trusts the in-memory default CA folder.
    const defaultCa = await orgboxCli(["sp", "list", "--url", orgbox().url, "--tenant", DEMO.tenantDomain, "--json"], env());
    expect(defaultCa.stderr).toBe("");
    expect(defaultCa.code).toBe(0);
    const tenantCmd = await orgboxCli(["tenant", "list", "--url", orgbox().url], env());
    expect(tenantCmd.code).toBe(2);
    expect(tenantCmd.stderr).toMatch(/works on a stopped store only/);
  });

  it("POST /_orgbox/graph-token: 401 without or with a wrong key; with the key, a Graph token of the orgbox CLI principal", async () => {
    const o = orgbox();
    const post = (authorization: string | undefined, body: unknown) =>
      fetch(`${o.url}/_orgbox/graph-token`, { method: "POST", headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) }, body: JSON.stringify(body) });
    expect((await post(undefined, { tenant: DEMO.tenantDomain })).status).toBe(401);
    expect((await post("Bearer wrong-key", { tenant: DEMO.tenantDomain })).status).toBe(401);
    expect((await post(`Bearer ${ADMIN_KEY}`, {})).status).toBe(400);
    expect((await post(`Bearer ${ADMIN_KEY}`, { tenant: "nope.onmicrosoft.com" })).status).toBe(404);
    const ok = await post(`Bearer ${ADMIN_KEY}`, { tenant: DEMO.tenantDomain });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { access_token: string; tenant_id: string };
    expect(body.tenant_id).toBe(DEMO.tenantId);
    const claims = decodeJwt(body.access_token);
    expect(claims).toMatchObject({ aud: "https://graph.microsoft.com", tid: DEMO.tenantId, appid: "0b6f7e3c-5a1d-4c2e-9f80-0000000c11a0" });
    expect(claims.roles).toEqual(expect.arrayContaining(["Application.ReadWrite.All", "User.ReadWrite.All"]));
    expect(claims.roles).not.toContain("Application.ReadWrite.OwnedBy");
    // The token is a real Graph token.
    const me = await fetch(`${o.url}/graph/v1.0/organization`, { headers: { authorization: `Bearer ${body.access_token}` } });
    expect(me.status).toBe(200);
  });
});

describe.each(BACKENDS)("the orgbox CLI principal lives in the store ($name)", (backend) => {
  it("is created once, keeps its Graph permissions across a restart, and the CLI works through it", { timeout: 120_000 }, async () => {
    const store = await backend.create();
    const { location } = store;
    const caDir = dirname(process.env.NODE_EXTRA_CA_CERTS ?? join(defaultTempCaDir(), "ca.pem"));
    const start = () => startOrgbox({ adminKey: ADMIN_KEY, caDir, port: 0, ...(location.storeUrl ? { storeUrl: location.storeUrl } : { dataDir: location.dataDir }) });
    const token = async (url: string) => {
      const res = await fetch(`${url}/_orgbox/graph-token`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" }, body: JSON.stringify({ tenant: DEMO.tenantId }) });
      expect(res.status).toBe(200);
      return decodeJwt(((await res.json()) as { access_token: string }).access_token);
    };
    try {
      let o = await start();
      const first = await token(o.url);
      expect((await token(o.url)).oid).toBe(first.oid);
      const sps = (await o.identity.service.listServicePrincipals(DEMO.tenantId)).filter((s) => s.appId === first.appid);
      expect(sps).toHaveLength(1);
      await o.close();
      o = await start();
      try {
        const again = await token(o.url);
        expect(again.oid).toBe(first.oid);
        expect([...(again.roles as string[])].sort()).toEqual([...(first.roles as string[])].sort());
        const run = await orgboxCli(["sp", "list", "--url", o.url, "--ca", join(caDir, "ca.pem"), "--tenant", DEMO.tenantDomain, "--json"], { ORGBOX_ADMIN_KEY: ADMIN_KEY });
        expect(run.stderr).toBe("");
        expect((JSON.parse(run.stdout) as Json[]).filter((s) => s.appId === first.appid)).toHaveLength(1);
      } finally {
        await o.close();
      }
    } finally {
      await store.dispose();
    }
  });
});
