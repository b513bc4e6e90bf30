/**
 * `orgbox role create|list` and `orgbox appuser create` on a persisted data folder, as real child
 * processes; the application user they make then signs in to a server started on that folder.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, startOrgbox } from "../../src/index.ts";
import { api, clientToken } from "../helpers/security.ts";
import { orgboxCli } from "../helpers/cli.ts";

describe("orgbox appuser / role CLI", () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-cli-sec-"));
  const app = { appId: "", secret: "" };

  beforeAll(async () => {
    const o = await startOrgbox({ dataDir: dir, inMemory: false, http: true, port: 0 });
    try {
      const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "CLI integration" });
      app.appId = application.appId;
      app.secret = (await o.identity.service.addPassword({ appId: application.appId })).secretText;
    } finally {
      await o.close();
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("creates a role and an application user that can then read with its own token", async () => {
    const role = await orgboxCli(["role", "create", "--data", dir, "--org", "contoso", "--name", "CLI reader", "--privilege", "prvReadAccount:Global", "--privilege", "prvReadContact", "--json"]);
    expect(role.stderr).toBe("");
    expect(role.code).toBe(0);
    const created = JSON.parse(role.stdout) as { roleId: string; privileges: unknown[] };
    expect(created.privileges).toEqual([{ name: "prvReadAccount", depth: "Global" }, { name: "prvReadContact", depth: "Global" }]);

    const list = await orgboxCli(["role", "list", "--data", dir, "--json"]);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ id: created.roleId, name: "CLI reader" }), expect.objectContaining({ name: "System Administrator" })]));
    const text = await orgboxCli(["role", "list", "--data", dir]);
    expect(text.stdout).toContain(`${created.roleId}  CLI reader`);

    const user = await orgboxCli(["appuser", "create", "--data", dir, "--org", "contoso", "--app", app.appId, "--role", "cli READER", "--json"]);
    expect(user.stderr).toBe("");
    expect(user.code).toBe(0);
    const out = JSON.parse(user.stdout) as { systemUserId: string; businessUnitId: string; roles: { id: string }[] };
    expect(out.businessUnitId).toBe(DEMO.org.rootBusinessUnitId);
    expect(out.roles).toEqual([{ id: created.roleId, name: "CLI reader" }]);

    const o = await startOrgbox({ dataDir: dir, inMemory: false, http: true, port: 0 });
    try {
      const token = await clientToken(o, app.appId, app.secret);
      const who = await api(o, token, "GET", "WhoAmI");
      expect(who.body.UserId).toBe(out.systemUserId);
      expect((await api(o, token, "GET", "accounts?$select=name&$count=true")).body["@odata.count"]).toBe(20);
      expect((await api(o, token, "GET", "leads?$top=1")).body.error?.code).toBe("0x80040220");
    } finally {
      await o.close();
    }
  });

  it("fails loudly: second user for the app, unknown role, unknown privilege or depth, unknown org, no store, missing flags", async () => {
    const twice = await orgboxCli(["appuser", "create", "--data", dir, "--app", app.appId]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain("already has an application user");
    const noRole = await orgboxCli(["appuser", "create", "--data", dir, "--app", "c0de0000-0000-4000-8000-0000000ccc01", "--role", "Nope"]);
    expect(noRole.code).toBe(2);
    expect(noRole.stderr).toContain("no role 'Nope' in org 'contoso'");
    const noSp = await orgboxCli(["appuser", "create", "--data", dir, "--app", "c0de0000-0000-4000-8000-0000000ccc01"]);
    expect(noSp.code).toBe(1);
    expect(noSp.stderr).toContain("has no service principal in the tenant of this organization");
    expect((await orgboxCli(["role", "create", "--data", dir, "--name", "Bad", "--privilege", "prvFlyAccount:Global"])).stderr).toContain("the privilege 'prvFlyAccount' does not exist");
    expect((await orgboxCli(["role", "create", "--data", dir, "--name", "Bad", "--privilege", "prvReadAccount:Everywhere"])).code).toBe(2);
    expect((await orgboxCli(["role", "list", "--data", dir, "--org", "fabrikam"])).stderr).toContain("no org named 'fabrikam'");
    const empty = mkdtempSync(join(tmpdir(), "orgbox-cli-empty-"));
    try {
      expect((await orgboxCli(["role", "list", "--data", empty])).stderr).toContain("no orgbox store");
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
    expect((await orgboxCli(["appuser", "create", "--data", dir])).stderr).toContain("--app <clientId> is required");
  });
});
