/**
 * `orgbox user add-to-org` and `orgbox appuser list|add-role|remove-role` on a persisted data folder, as
 * real child processes; a server started on that folder then accepts (or refuses) the users' own tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { api, clientToken } from "../helpers/security.ts";
import { orgboxCli } from "../helpers/cli.ts";
import { BACKENDS, type TestStoreLocation } from "../helpers/store-backends.ts";

type Json = Record<string, unknown>;
const CLIENT = "c0de0000-0000-4000-8000-0000000c1b01";
const PASSWORD = "Org-User-Pass-1!";

describe.each(BACKENDS)("orgbox user add-to-org / appuser list|add-role|remove-role CLI ($name)", (backend) => {
  let store: TestStoreLocation;
  let data: string[] = [];
  const daemon = { appId: "", secret: "" };
  async function json<T = Json>(...args: string[]): Promise<T> {
    const run = await orgboxCli([...args, ...data, "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as T;
  }
  async function bad(args: string[], message: RegExp, code = 2): Promise<void> {
    const run = await orgboxCli([...args, ...data]);
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(code);
  }
  async function withServer(work: (o: OrgboxInstance) => Promise<void>): Promise<void> {
    const { location } = store;
    const o = await startOrgbox({ inMemory: false, http: true, port: 0, ...(location.storeUrl ? { storeUrl: location.storeUrl } : { dataDir: location.dataDir }) });
    try {
      await work(o);
    } finally {
      await o.close();
    }
  }
  /** A delegated token for the org: ROPC at the v2 token endpoint. */
  async function userToken(o: OrgboxInstance, username: string): Promise<string> {
    const res = await fetch(`${o.url}/${DEMO.tenantId}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "password", client_id: CLIENT, username, password: PASSWORD, scope: `${o.orgUrl}/user_impersonation` }) });
    const body = (await res.json()) as { access_token?: string };
    if (!body.access_token) throw new Error(`token request failed: ${JSON.stringify(body)}`);
    return body.access_token;
  }

  beforeAll(async () => {
    store = await backend.create();
    data = store.location.storeUrl ? ["--store-url", store.location.storeUrl] : ["--data", store.location.dataDir];
    await withServer(async (o) => {
      const { service } = o.identity;
      await service.registerApplication({ tenantId: DEMO.tenantId, appId: CLIENT, displayName: "Org users script", isFallbackPublicClient: true });
      await service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: CLIENT, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
      const { application } = await service.registerApplication({ tenantId: DEMO.tenantId, displayName: "Role-juggled daemon" });
      daemon.appId = application.appId;
      daemon.secret = (await service.addPassword({ appId: application.appId })).secretText;
    });
  });
  afterAll(() => store.dispose());

  it("user add-to-org makes a directory user the org's systemuser: its own token then gets WhoAmI and reads", async () => {
    await json("user", "create", "--tenant", DEMO.tenantDomain, "--upn", `nora@${DEMO.tenantDomain}`, "--password", PASSWORD, "--display-name", "Nora");
    await withServer(async (o) => {
      const before = await api(o, await userToken(o, `nora@${DEMO.tenantDomain}`), "GET", "WhoAmI");
      expect(before.status).toBe(403);
      expect(before.body.error?.code).toBe("0x80072560");
    });
    const role = await json<{ roleId: string }>("role", "create", "--org", "contoso", "--name", "Org user reader", "--privilege", "prvReadAccount:Global", "--privilege", "prvReadUser:Global");
    const added = await json<{ systemUserId: string; userPrincipalName: string; businessUnitId: string; roles: Json[] }>("user", "add-to-org", "--org", "contoso", "--user", `Nora@${DEMO.tenantDomain}`, "--role", "org user reader");
    expect(added).toMatchObject({ userPrincipalName: `nora@${DEMO.tenantDomain}`, businessUnitId: DEMO.org.rootBusinessUnitId, roles: [{ id: role.roleId, name: "Org user reader" }] });

    await withServer(async (o) => {
      const token = await userToken(o, `nora@${DEMO.tenantDomain}`);
      const who = await api(o, token, "GET", "WhoAmI");
      expect(who.status).toBe(200);
      expect(who.body.UserId).toBe(added.systemUserId);
      expect((await api(o, token, "GET", "accounts?$select=name&$count=true")).body["@odata.count"]).toBe(20);
      const row = await api(o, token, "GET", `systemusers(${added.systemUserId})?$select=domainname,fullname,accessmode,applicationid`);
      expect(row.body).toMatchObject({ domainname: `nora@${DEMO.tenantDomain}`, fullname: "Nora", accessmode: 0, applicationid: null });
    });

    // A second systemuser for the same directory user: refused (a duplicate, exit 1).
    await bad(["user", "add-to-org", "--org", "contoso", "--user", `nora@${DEMO.tenantDomain}`], /already has a user for the Microsoft Entra object/, 1);
    await bad(["user", "add-to-org", "--org", "contoso", "--user", `nobody@${DEMO.tenantDomain}`], /no user 'nobody@contoso\.onmicrosoft\.com' in the tenant of org contoso/);
    await bad(["user", "add-to-org", "--org", "contoso"], /--user <upn> is required/);
    await bad(["user", "add-to-org", "--org", "contoso", "--user", DEMO.admin.username, "--role", "No such role"], /No such role/);
    await bad(["user", "add-to-org", "--org", "nope", "--user", DEMO.admin.username], /no org named 'nope'/);
  });

  it("appuser list shows application users and roles; add-role / remove-role change what the app's token may do", async () => {
    const reader = await json<{ roleId: string }>("role", "create", "--org", "contoso", "--name", "Daemon reader", "--privilege", "prvReadAccount:Global");
    const created = await json<{ systemUserId: string }>("appuser", "create", "--org", "contoso", "--app", daemon.appId);
    const listed = await json<{ systemUserId: string; applicationId: string; roles: Json[] }[]>("appuser", "list", "--org", "contoso");
    expect(listed.find((u) => u.applicationId === daemon.appId)).toMatchObject({ systemUserId: created.systemUserId, fullName: "# Role-juggled daemon", roles: [] });

    expect(await json("appuser", "add-role", "--org", "contoso", "--app", daemon.appId, "--role", "Daemon reader")).toMatchObject({ systemUserId: created.systemUserId, added: [{ id: reader.roleId, name: "Daemon reader" }] });
    const text = await orgboxCli(["appuser", "list", "--org", "contoso", ...data]);
    expect(text.stdout).toMatch(new RegExp(`${created.systemUserId}\\s+app ${daemon.appId}\\s+# Role-juggled daemon\\s+roles: Daemon reader`));
    await withServer(async (o) => {
      const token = await clientToken(o, daemon.appId, daemon.secret);
      expect((await api(o, token, "GET", "accounts?$select=name&$count=true")).body["@odata.count"]).toBe(20);
    });

    expect(await json("appuser", "remove-role", "--org", "contoso", "--app", daemon.appId, "--role", reader.roleId)).toMatchObject({ removed: [{ id: reader.roleId }] });
    await withServer(async (o) => {
      const token = await clientToken(o, daemon.appId, daemon.secret);
      const refused = await api(o, token, "GET", "accounts?$top=1");
      expect(refused.status).toBe(403);
      expect(refused.body.error?.code).toBe("0x80042f09");
    });

    await bad(["appuser", "remove-role", "--org", "contoso", "--app", daemon.appId, "--role", "Daemon reader"], /does not have the role 'Daemon reader'/);
    await bad(["appuser", "add-role", "--org", "contoso", "--app", "c0de0000-0000-4000-8000-00000000dead", "--role", "Daemon reader"], /no application user for app/);
    await bad(["appuser", "add-role", "--org", "contoso", "--app", daemon.appId], /--role <role> is required/);
    await bad(["appuser", "add-role", "--org", "contoso", "--role", "Daemon reader"], /--app <clientId> is required/);
  });

  it("with --url (or ORGBOX_URL) but no admin key, the commands exit 2 naming the flag (the remote variants: cli-security-remote.test.ts)", async () => {
    for (const args of [["appuser", "list"], ["appuser", "add-role", "--app", CLIENT, "--role", "x"], ["user", "add-to-org", "--user", DEMO.admin.username]]) {
      const run = await orgboxCli([...args, "--url", "https://localhost:1"], { ORGBOX_ADMIN_KEY: "" });
      expect(run.stderr).toMatch(/--admin-key KEY or ORGBOX_ADMIN_KEY/);
      expect(run.code).toBe(2);
    }
    const byEnv = await orgboxCli(["appuser", "list", ...data], { ORGBOX_URL: "https://localhost:1", ORGBOX_ADMIN_KEY: "" });
    expect(byEnv.stderr).toMatch(/--admin-key KEY or ORGBOX_ADMIN_KEY/);
    expect(byEnv.code).toBe(2);
  });
});
