/**
 * `orgbox group create|list|delete|add-member|remove-member` and `orgbox app assign|assignments`, as real
 * child processes: offline on a persisted data folder (then a server started on it), and with `--url`
 * against a running orgbox (live at once). Proven with real ROPC token requests to an app whose service
 * principal has `appRoleAssignmentRequired` (AADSTS50105 for users assigned neither directly nor
 * through a group).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PublicClientApplication } from "@azure/msal-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { orgboxCli } from "../helpers/cli.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

type Json = Record<string, unknown>;
const GATED = "c0de0000-0000-4000-8000-0000000c1a01";
const REMOTE_GATED = "c0de0000-0000-4000-8000-0000000c1a02";
const ADMIN_KEY = "cli-groups-admin-key-0123456789";
const PASSWORD = "Group-Pass-1!";
const upn = (name: string) => `${name}@${DEMO.tenantDomain}`;

/** A public client, "assignment required", consented for Dynamics CRM. */
async function gatedApp(o: OrgboxInstance, appId: string): Promise<void> {
  const { service } = o.identity;
  await service.registerApplication({ tenantId: DEMO.tenantId, appId, displayName: "Gated CLI app", isFallbackPublicClient: true, publicClientRedirectUris: ["http://localhost"] });
  await service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: appId, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
  await service.setAppRoleAssignmentRequired(DEMO.tenantId, appId, true);
}

/** ROPC at the v2 token endpoint (plain HTTP): the `access_token`, or the `error_description`. */
async function ropc(o: OrgboxInstance, appId: string, username: string): Promise<{ token?: string; error?: string }> {
  const res = await fetch(`${o.url}/${DEMO.tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", client_id: appId, username, password: PASSWORD, scope: `${o.orgUrl}/user_impersonation` }),
  });
  const body = (await res.json()) as { access_token?: string; error_description?: string };
  return body.access_token ? { token: body.access_token } : { error: body.error_description ?? JSON.stringify(body) };
}

describe("orgbox group / app assign CLI, offline", () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-cli-groups-"));
  const data = ["--data", dir];
  async function json<T = Json>(...args: string[]): Promise<T> {
    const run = await orgboxCli([...args, ...data, "--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as T;
  }
  async function withServer(work: (o: OrgboxInstance) => Promise<void>): Promise<void> {
    const o = await startOrgbox({ dataDir: dir, inMemory: false, http: true, port: 0 });
    try {
      await work(o);
    } finally {
      await o.close();
    }
  }

  beforeAll(() => withServer((o) => gatedApp(o, GATED)));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a group assigned to an app lets its members sign in; removing the member or deleting the group stops it", async () => {
    for (const name of ["gina", "hugo", "ivan", "lena"]) await json("user", "create", "--tenant", DEMO.tenantDomain, "--upn", upn(name), "--password", PASSWORD);
    const group = await json<{ id: string; members: string[]; tenantId: string }>("group", "create", "--tenant", DEMO.tenantDomain, "--name", "Field sales", "--member", upn("gina"));
    expect(group).toMatchObject({ displayName: "Field sales", tenantId: DEMO.tenantId });
    expect(group.members).toHaveLength(1);
    const added = await json("group", "add-member", "Field sales", "--user", upn("hugo"));
    expect(added).toMatchObject({ userPrincipalName: upn("hugo"), member: true });
    const listed = await orgboxCli(["group", "list", "--tenant", DEMO.tenantDomain, ...data]);
    expect(listed.stdout).toMatch(new RegExp(`${group.id}\\s+Field sales\\s+.*${upn("gina")}`));
    expect(listed.stdout).toContain(upn("hugo"));

    const byGroup = await json<{ principalId: string; principalType: string }>("app", "assign", "--tenant", DEMO.tenantDomain, "--app", GATED, "--group", "Field sales");
    expect(byGroup).toMatchObject({ principalId: group.id, principalType: "Group" });
    const direct = await json<{ principalType: string }>("app", "assign", "--tenant", DEMO.tenantDomain, "--app", GATED, "--user", upn("ivan"));
    expect(direct.principalType).toBe("User");
    const assignments = await json<{ principalType: string }[]>("app", "assignments", "--tenant", DEMO.tenantDomain, "--app", GATED);
    expect(assignments.map((a) => a.principalType).sort()).toEqual(["Group", "User"]);
    const text = await orgboxCli(["app", "assignments", "--tenant", DEMO.tenantDomain, "--app", GATED, ...data]);
    expect(text.stdout).toMatch(/Group\s+Field sales/);
    expect(text.stdout).toContain(upn("ivan"));

    await withServer(async (o) => {
      expect((await ropc(o, GATED, upn("gina"))).token).toBeTruthy();
      expect((await ropc(o, GATED, upn("hugo"))).token).toBeTruthy();
      expect((await ropc(o, GATED, upn("ivan"))).token).toBeTruthy();
      expect((await ropc(o, GATED, upn("lena"))).error).toMatch(/AADSTS50105/);
    });

    expect(await json("group", "remove-member", "Field sales", "--user", upn("hugo"))).toMatchObject({ member: false });
    expect(await json("group", "delete", group.id, "--tenant", DEMO.tenantDomain)).toMatchObject({ deleted: { id: group.id, displayName: "Field sales" } });
    expect(await json("group", "list", "--tenant", DEMO.tenantDomain)).toEqual([]);
    await withServer(async (o) => {
      expect((await ropc(o, GATED, upn("hugo"))).error).toMatch(/AADSTS50105/);
      expect((await ropc(o, GATED, upn("gina"))).error).toMatch(/AADSTS50105/);
      expect((await ropc(o, GATED, upn("ivan"))).token).toBeTruthy();
    });
  });

  it("bad input exits 2 with a clear message", async () => {
    const bad = async (args: string[], message: RegExp) => {
      const run = await orgboxCli([...args, ...data]);
      expect(run.stderr).toMatch(message);
      expect(run.code).toBe(2);
    };
    await bad(["group", "create", "--tenant", DEMO.tenantDomain], /--name is required/);
    await bad(["group", "create", "--tenant", DEMO.tenantDomain, "--name", "X", "--member", upn("nobody")], /does not exist/);
    await bad(["group", "add-member", "No such group", "--user", DEMO.admin.username], /group 'No such group' does not exist/);
    await bad(["group", "add-member", "No such group"], /--user <upn> is required/);
    await bad(["group", "delete", "No such group", "--tenant", DEMO.tenantDomain], /group 'No such group' does not exist/);
    await json("group", "create", "--tenant", DEMO.tenantDomain, "--name", "Empty");
    await bad(["group", "remove-member", "Empty", "--user", DEMO.admin.username], /is not a member of group 'Empty'/);
    await bad(["app", "assign", "--tenant", DEMO.tenantDomain, "--app", GATED], /give --user <upn> or --group/);
    await bad(["app", "assign", "--tenant", DEMO.tenantDomain, "--app", GATED, "--user", DEMO.admin.username, "--group", "Empty"], /give --user <upn> or --group/);
    await bad(["app", "assign", "--tenant", DEMO.tenantDomain, "--app", "c0de0000-0000-4000-8000-00000000dead", "--user", DEMO.admin.username], /no application with appId/);
    await bad(["app", "assign", "--tenant", DEMO.tenantDomain, "--app", GATED, "--group", "Nope"], /group 'Nope' does not exist/);
    await bad(["app", "assignments", "--tenant", DEMO.tenantDomain], /--app <appId> is required/);
  });
});

describe("orgbox group / app assign CLI --url (a running orgbox, through Graph)", { timeout: 180_000 }, () => {
  const orgbox = useOrgbox({ adminKey: ADMIN_KEY });
  const remote = () => ["--url", orgbox().url, "--ca", join(defaultTempCaDir(), "ca.pem"), "--tenant", DEMO.tenantDomain];
  const env = { ORGBOX_ADMIN_KEY: ADMIN_KEY, NODE_EXTRA_CA_CERTS: "", ORGBOX_DATA: "", ORGBOX_STORE_URL: "" };
  async function json<T = Json>(...args: string[]): Promise<T> {
    const run = await orgboxCli([...args, ...remote(), "--json"], env);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout) as T;
  }

  beforeAll(async () => {
    const o = orgbox();
    await gatedApp(o, REMOTE_GATED);
    for (const name of ["jade", "kurt"]) await o.identity.service.createUser({ tenantId: DEMO.tenantId, userPrincipalName: upn(name), displayName: name, password: PASSWORD });
  });

  it("group create / add-member / app assign take effect at once for msal-node; remove-member and delete revoke it; bad input exits 2", async () => {
    const o = orgbox();
    const pca = new PublicClientApplication({ auth: { clientId: REMOTE_GATED, authority: o.authority, knownAuthorities: [new URL(o.url).host] } });
    const signIn = (name: string) => pca.acquireTokenByUsernamePassword({ scopes: [`${o.orgUrl}/user_impersonation`], username: upn(name), password: PASSWORD });

    const group = await json<{ id: string; members: string[] }>("group", "create", "--name", "Remote team", "--member", upn("jade"));
    expect(group).toMatchObject({ displayName: "Remote team", tenantId: DEMO.tenantId });
    expect(group.members).toHaveLength(1);
    await expect(signIn("jade")).rejects.toThrow(/AADSTS50105/);
    const assignment = await json<{ principalId: string; principalType: string }>("app", "assign", "--app", REMOTE_GATED, "--group", "Remote team");
    expect(assignment).toMatchObject({ principalId: group.id, principalType: "Group", appRoleId: "00000000-0000-0000-0000-000000000000" });
    expect((await signIn("jade"))?.accessToken).toBeTruthy();
    await expect(signIn("kurt")).rejects.toThrow(/AADSTS50105/);

    expect(await json("group", "add-member", group.id, "--user", upn("kurt"))).toMatchObject({ member: true });
    expect((await signIn("kurt"))?.accessToken).toBeTruthy();
    const listed = await json<{ id: string; members: string[] }[]>("group", "list");
    expect(listed.find((g) => g.id === group.id)?.members).toHaveLength(2);
    const assignments = await orgboxCli(["app", "assignments", "--app", REMOTE_GATED, ...remote()], env);
    expect(assignments.stdout).toMatch(/Group\s+Remote team/);

    expect(await json("group", "remove-member", "Remote team", "--user", upn("kurt"))).toMatchObject({ member: false });
    await expect(signIn("kurt")).rejects.toThrow(/AADSTS50105/);
    const again = await orgboxCli(["group", "remove-member", "Remote team", "--user", upn("kurt"), ...remote()], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/is not a member of group 'Remote team'/);

    const direct = await json<{ principalType: string }>("app", "assign", "--app", REMOTE_GATED, "--user", upn("kurt"));
    expect(direct.principalType).toBe("User");
    expect((await signIn("kurt"))?.accessToken).toBeTruthy();

    expect(await json("group", "delete", "Remote team")).toMatchObject({ deleted: { id: group.id } });
    await expect(signIn("jade")).rejects.toThrow(/AADSTS50105/);
    expect((await json<Json[]>("app", "assignments", "--app", REMOTE_GATED)).map((a) => a.principalType)).toEqual(["User"]);

    for (const [args, message] of [
      [["group", "delete", "Remote team"], /group 'Remote team' does not exist/],
      [["app", "assign", "--app", REMOTE_GATED, "--group", "Nope"], /group 'Nope' does not exist/],
      [["app", "assign", "--app", REMOTE_GATED], /give --user <upn> or --group/],
      [["group", "create", "--name", "Bad", "--member", upn("nobody")], /no user/],
    ] as const) {
      const run = await orgboxCli([...args, ...remote()], env);
      expect(run.stderr).toMatch(message);
      expect(run.code).toBe(2);
    }
  });
});
