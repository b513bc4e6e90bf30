/**
 * The role-privilege messages the portal's role editor uses: `AddPrivilegesRole`,
 * `ReplacePrivilegesRole` (the role's privileges become exactly the list) and
 * `RetrieveRolePrivilegesRole()` (the role's own privileges with their depths), and their refusals.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO, type OrgboxInstance } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";
import { privilegeId } from "../../src/dataverse/security/privileges.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { api, appUser } from "../helpers/security.ts";

const ROOT_BU = DEMO.org.rootBusinessUnitId;
type RolePrivilege = { Depth: string; PrivilegeId: string; BusinessUnitId: string; PrivilegeName: string };

describe("AddPrivilegesRole, ReplacePrivilegesRole, RetrieveRolePrivilegesRole", () => {
  const orgbox = useOrgbox();
  let o: OrgboxInstance;
  let org: Org;
  let admin = "";
  let role = "";
  let sysadmin = "";

  const retrieve = async (token: string, id = role) => api(o, token, "GET", `roles(${id})/Microsoft.Dynamics.CRM.RetrieveRolePrivilegesRole()`);
  const held = async () => ((await retrieve(admin)).body.RolePrivileges as RolePrivilege[]).map((p) => `${p.PrivilegeName}:${p.Depth}`);

  beforeAll(async () => {
    o = orgbox();
    org = (await o.dataverse.service.findOrg(DEMO.org.name)) as Org;
    sysadmin = (await o.dataverse.service.listRoles(org)).find((r) => r.name === "System Administrator")?.id as string;
    admin = (await appUser(o, org, "role editor admin", ROOT_BU, [sysadmin])).token;
    const created = await api(o, admin, "POST", "roles", { name: "Editor round trip", "businessunitid@odata.bind": `/businessunits(${ROOT_BU})` });
    expect(created.status).toBe(204);
    role = /roles\(([0-9a-f-]+)\)/.exec(created.headers.get("odata-entityid") ?? "")?.[1] as string;
  });

  it("RetrieveRolePrivilegesRole returns what AddPrivilegesRole set: depth names, the role's business unit, by name", async () => {
    expect(await held()).toEqual([]);
    const add = await api(o, admin, "POST", `roles(${role})/Microsoft.Dynamics.CRM.AddPrivilegesRole`, { Privileges: [{ PrivilegeId: privilegeId("prvWriteAccount"), Depth: "Basic" }, { PrivilegeId: privilegeId("prvReadAccount"), Depth: "Global" }] });
    expect(add.status).toBe(204);
    const answer = await retrieve(admin);
    expect(answer.status).toBe(200);
    expect(answer.body["@odata.context"]).toBe(`${o.apiUrl}/$metadata#Microsoft.Dynamics.CRM.RetrieveRolePrivilegesRoleResponse`);
    expect(answer.body.RolePrivileges).toEqual([
      { Depth: "Global", PrivilegeId: privilegeId("prvReadAccount"), BusinessUnitId: ROOT_BU, PrivilegeName: "prvReadAccount" },
      { Depth: "Basic", PrivilegeId: privilegeId("prvWriteAccount"), BusinessUnitId: ROOT_BU, PrivilegeName: "prvWriteAccount" },
    ]);
  });

  it("ReplacePrivilegesRole makes the role's privileges exactly the list, effective on the holder's next request", async () => {
    const holder = await appUser(o, org, "role holder", ROOT_BU, [role]);
    expect((await api(o, holder.token, "GET", "accounts?$select=name&$top=1")).status).toBe(200);
    const replace = await api(o, admin, "POST", `roles(${role})/Microsoft.Dynamics.CRM.ReplacePrivilegesRole`, { Privileges: [{ PrivilegeId: privilegeId("prvReadContact"), Depth: "Local" }] });
    expect(replace.status).toBe(204);
    expect(await held()).toEqual(["prvReadContact:Local"]);
    expect((await api(o, holder.token, "GET", "accounts?$select=name&$top=1")).status).toBe(403);
    expect((await api(o, holder.token, "GET", "contacts?$select=fullname&$top=1")).status).toBe(200);
    expect((await api(o, admin, "POST", `roles(${role})/Microsoft.Dynamics.CRM.ReplacePrivilegesRole`, { Privileges: [] })).status).toBe(204);
    expect(await held()).toEqual([]);
  });

  it("refuses: System Administrator replaced, a depth the privilege cannot have, no Write on the role, an unknown role, parameters", async () => {
    const sa = await api(o, admin, "POST", `roles(${sysadmin})/Microsoft.Dynamics.CRM.ReplacePrivilegesRole`, { Privileges: [] });
    expect(sa.status).toBe(400);
    expect(sa.body.error?.message).toContain("System Administrator");
    const bad = await api(o, admin, "POST", `roles(${role})/Microsoft.Dynamics.CRM.ReplacePrivilegesRole`, { Privileges: [{ PrivilegeId: privilegeId("prvReadContact"), Depth: "Everywhere" }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.code).toBe("0x80040203");
    const missing = await api(o, admin, "POST", `roles(${role})/Microsoft.Dynamics.CRM.ReplacePrivilegesRole`, {});
    expect(missing.status).toBe(400);
    const reader = await appUser(o, org, "contact reader", ROOT_BU, [(await o.dataverse.service.createRole(org, { name: "Contacts only", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadContact", depth: "Global" }] }))]);
    const denied = await api(o, reader.token, "POST", `roles(${role})/Microsoft.Dynamics.CRM.ReplacePrivilegesRole`, { Privileges: [] });
    expect(denied.status).toBe(403);
    expect(denied.body.error?.code).toBe("0x80040220");
    expect((await retrieve(reader.token)).status).toBe(403);
    expect((await retrieve(admin, "00000000-0000-0000-0000-00000000dead")).status).toBe(404);
    expect((await api(o, admin, "GET", `roles(${role})/Microsoft.Dynamics.CRM.RetrieveRolePrivilegesRole(x=1)`)).status).toBe(400);
  });
});
