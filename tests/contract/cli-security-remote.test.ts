/**
 * `orgbox role|appuser|user add-to-org … --url`: the real CLI (child processes) against a RUNNING orgbox,
 * through `POST /_orgbox/org-token` and the org's Web API; each change is enforced on the next Web API
 * request of the app or user it concerns (client credentials with fetch, ROPC with msal-node).
 */
import { join } from "node:path";
import { PublicClientApplication } from "@azure/msal-node";
import { describe, expect, it } from "vitest";
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { DEMO } from "../../src/index.ts";
import { orgboxCli } from "../helpers/cli.ts";
import { ORGBOX_CLI_APP_ID } from "../../src/identity/index.ts";
import { graph, graphToken } from "../helpers/graph.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { api, clientToken } from "../helpers/security.ts";

type Json = Record<string, unknown>;
const ADMIN_KEY = "cli-security-remote-admin-key-0123";

describe("orgbox role / appuser / user add-to-org --url (a running orgbox, through the Web API)", { timeout: 180_000 }, () => {
  const orgbox = useOrgbox({ adminKey: ADMIN_KEY });
  const remote = () => ["--url", orgbox().url, "--ca", join(defaultTempCaDir(), "ca.pem")];
  const env = () => ({ ORGBOX_ADMIN_KEY: ADMIN_KEY, NODE_EXTRA_CA_CERTS: "", ORGBOX_DATA: "", ORGBOX_STORE_URL: "" });
  async function json<T = Json>(...args: string[]): Promise<T> {
    const run = await orgboxCli([...args, ...remote(), "--json"], env());
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as T;
  }
  async function bad(args: string[], message: RegExp, extraEnv: Record<string, string> = {}): Promise<void> {
    const run = await orgboxCli([...args, ...remote()], { ...env(), ...extraEnv });
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(2);
  }

  it("role create, appuser create / list / remove-role / add-role, user add-to-org: each live at the next request", async () => {
    const o = orgbox();
    const role = await json<{ roleId: string; name: string }>("role", "create", "--name", "Remote reader", "--privilege", "prvReadAccount:Global");
    expect(role.name).toBe("Remote reader");
    const roles = await json<{ id: string; name: string; roleTemplateId: string | null }[]>("role", "list");
    expect(roles.find((r) => r.id === role.roleId)).toMatchObject({ name: "Remote reader", roleTemplateId: null });
    expect(roles.find((r) => r.name === "System Administrator")?.roleTemplateId).toBe("627090ff-40a3-4053-8790-584edc5be201");

    // An app registered through Graph by the same CLI, then made an application user through the Web API.
    const app = await json<{ appId: string }>("app", "create", "--name", "Remote daemon", "--tenant", DEMO.tenantDomain);
    const secret = await json<{ secretText: string }>("secret", "add", "--app", app.appId, "--tenant", DEMO.tenantDomain);
    const created = await json<{ systemUserId: string; roles: { id: string }[] }>("appuser", "create", "--app", app.appId, "--role", "Remote reader");
    expect(created.roles.map((r) => r.id)).toEqual([role.roleId]);
    const token = await clientToken(o, app.appId, secret.secretText);
    expect((await api(o, token, "GET", "accounts?$select=name&$top=1")).status).toBe(200);
    const denied = await api(o, token, "GET", "contacts?$top=1");
    expect(denied.status).toBe(403);

    const listed = await json<{ systemUserId: string; applicationId: string; applicationIdUri?: string; roles: { name: string }[] }[]>("appuser", "list");
    expect(listed.find((u) => u.applicationId === app.appId)).toMatchObject({ systemUserId: created.systemUserId, roles: [{ name: "Remote reader" }] });
    const text = await orgboxCli(["appuser", "list", ...remote()], env());
    expect(text.stdout).toMatch(new RegExp(`${created.systemUserId}\\s+app ${app.appId}.*roles: Remote reader`));

    expect(await json("appuser", "remove-role", "--app", app.appId, "--role", "Remote reader")).toMatchObject({ removed: [{ id: role.roleId }] });
    const noRole = await api(o, token, "GET", "accounts?$top=1");
    expect(noRole.status).toBe(403);
    expect(noRole.body.error?.code).toBe("0x80042f09");
    expect(await json("appuser", "add-role", "--app", app.appId, "--role", role.roleId)).toMatchObject({ added: [{ name: "Remote reader" }] });
    expect((await api(o, token, "GET", "accounts?$top=1")).status).toBe(200);

    // A directory user made a user of the org (as a license does), then signing in with msal-node.
    await json("user", "create", "--upn", "rhea@contoso.onmicrosoft.com", "--password", "Rhea-pass-1", "--display-name", "Rhea", "--tenant", DEMO.tenantDomain);
    const client = await json<{ appId: string }>("app", "create", "--name", "Remote ROPC client", "--public-client", "--tenant", DEMO.tenantDomain);
    await json("consent", "grant", "--app", client.appId, "--scope", "user_impersonation", "--tenant", DEMO.tenantDomain);
    const pca = new PublicClientApplication({ auth: { clientId: client.appId, authority: o.authority, knownAuthorities: [new URL(o.url).host] } });
    const ropc = await pca.acquireTokenByUsernamePassword({ scopes: [`${o.orgUrl}/user_impersonation`], username: "rhea@contoso.onmicrosoft.com", password: "Rhea-pass-1" });
    const notMember = await api(o, ropc!.accessToken, "GET", "accounts?$top=1");
    expect(notMember.status).toBe(403);
    const member = await json<{ systemUserId: string; userPrincipalName: string }>("user", "add-to-org", "--user", "rhea@contoso.onmicrosoft.com", "--role", "Remote reader");
    expect(member.userPrincipalName).toBe("rhea@contoso.onmicrosoft.com");
    expect((await api(o, ropc!.accessToken, "GET", "accounts?$top=1")).status).toBe(200);
    const whoAmI = await api(o, ropc!.accessToken, "GET", "WhoAmI");
    expect(whoAmI.body.UserId).toBe(member.systemUserId);
  });

  it("refuses bad input with exit 2 naming it: unknown role, app, user, org, privilege; missing or wrong admin key", async () => {
    await bad(["appuser", "create", "--app", DEMO.app.clientId, "--role", "No such role"], /no role 'No such role' in org 'contoso'/);
    await bad(["appuser", "add-role", "--app", "c0de0000-0000-4000-8000-00000000dead", "--role", "System Administrator"], /no application user for app/);
    await bad(["appuser", "create", "--app", "not-a-guid"], /is not a client id/);
    await bad(["user", "add-to-org", "--user", "nobody@contoso.onmicrosoft.com"], /no user 'nobody@contoso.onmicrosoft.com'/);
    await bad(["role", "list", "--org", "nope"], /no org 'nope'/);
    await bad(["role", "create", "--name", "X", "--privilege", "prvNoSuchThing:Global"], /no privilege 'prvNoSuchThing'/);
    await bad(["appuser", "list"], /--admin-key KEY or ORGBOX_ADMIN_KEY/, { ORGBOX_ADMIN_KEY: "" });
    await bad(["appuser", "list"], /refused the admin key \(401\)/, { ORGBOX_ADMIN_KEY: "wrong-key" });
    // The duplicate application user: Dataverse's own refusal, a failure (exit 1) not bad input.
    const dup = await orgboxCli(["appuser", "create", "--app", DEMO.app.clientId, ...remote()], env());
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/0x/);
  });

  it("POST /_orgbox/org-token: 401 without the admin key, 400 without an org, 404 for an unknown org, 403 while the orgbox CLI principal is disabled", async () => {
    const o = orgbox();
    const post = (body: unknown, key: string | null = ADMIN_KEY) =>
      fetch(`${o.url}/_orgbox/org-token`, { method: "POST", headers: { "content-type": "application/json", ...(key !== null ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify(body) });
    expect((await post({ org: "contoso" }, null)).status).toBe(401);
    expect((await post({})).status).toBe(400);
    expect((await post({ org: "nope" })).status).toBe(404);
    const ok = await post({ org: "contoso" });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("cache-control")).toBe("no-store");
    const body = (await ok.json()) as { access_token: string; org_url: string; tenant_id: string };
    expect(body.org_url).toBe(o.orgUrl);
    expect(body.tenant_id).toBe(DEMO.tenantId);
    const who = await api(o, body.access_token, "GET", "WhoAmI");
    expect(who.status).toBe(200);

    // An admin disables the orgbox CLI principal (Enterprise applications › Properties, as Graph PATCH): no more tokens for it.
    const graphAdmin = await graphToken(o);
    const cli = await graph(o, graphAdmin, "GET", `servicePrincipals(appId='${ORGBOX_CLI_APP_ID}')`);
    expect((await graph(o, graphAdmin, "PATCH", `servicePrincipals/${cli.body.id as string}`, { accountEnabled: false })).status).toBe(204);
    const refused = await post({ org: "contoso" });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error_description: string }).error_description).toMatch(/orgbox CLI service principal .* is disabled/);
    const viaCli = await orgboxCli(["appuser", "list", ...remote()], env());
    expect(viaCli.code).toBe(1);
    expect(viaCli.stderr).toMatch(/is disabled/);
    expect((await graph(o, graphAdmin, "PATCH", `servicePrincipals/${cli.body.id as string}`, { accountEnabled: true })).status).toBe(204);
    expect((await post({ org: "contoso" })).status).toBe(200);
  });
});
