/**
 * The Dataverse security model on Web API reads: privilege check (0x80040220),
 * access check by depth filtered in SQL (row counts, $count) and on single records
 * (0x80048306), team roles, role removal between requests, and impersonation.
 */
import { describe, expect, it, beforeAll } from "vitest";
import { DEMO, type OrgboxInstance } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";
import { privilegeId } from "../../src/dataverse/security/privileges.ts";
import { apiGet, demoToken, useOrgbox } from "../helpers/orgbox.ts";

type ErrorBody = { error: { code: string; message: string } };
type Collection = { value: Record<string, unknown>[]; "@odata.count"?: number };

/** Registers an app, gives it an application user in `businessUnitId` with `roleIds`, returns its token and user id. */
async function appUser(o: OrgboxInstance, org: Org, name: string, businessUnitId: string, roleIds: string[]): Promise<{ token: string; userId: string; appId: string }> {
  const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: name });
  const secret = await o.identity.service.addPassword({ appId: application.appId });
  const userId = await o.dataverse.service.createApplicationUser(org, { applicationId: application.appId, businessUnitId, roleIds });
  const res = await fetch(`${o.url}/${o.tenantId}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: application.appId, client_secret: secret.secretText, resource: o.orgUrl }) });
  const { access_token } = (await res.json()) as { access_token: string };
  return { token: access_token, userId, appId: application.appId };
}

async function contoso(o: OrgboxInstance): Promise<Org> {
  return (await o.dataverse.service.findOrg("contoso")) as Org;
}

describe("privilege check", () => {
  const orgbox = useOrgbox();

  it("a role with only prvReadLead reads leads and gets 0x80040220 naming prvReadAccount on accounts", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const role = await o.dataverse.service.createRole(org, { name: "Lead reader", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadLead", depth: "Global" }] });
    const { token, userId } = await appUser(o, org, "lead reader", DEMO.org.rootBusinessUnitId, [role]);

    const leads = await apiGet(o, token, "leads?$select=subject");
    expect(leads.status).toBe(200);
    expect((leads.body as Collection).value).toHaveLength(24);

    const message = `Principal user (Id=${userId}, type=8, roleCount=1, privilegeCount=1, accessMode=4), is missing prvReadAccount privilege (Id=${privilegeId("prvReadAccount")}) on OTC=1 for entity 'account'. context.Caller=${userId}`;
    for (const path of ["accounts?$select=name", `accounts(${"c0de0001-0000-4000-8000-000000000001"})`, "accounts/$count", "accounts(00000000-0000-0000-0000-000000000009)"]) {
      const res = await apiGet(o, token, path);
      expect(res.status, path).toBe(403);
      expect(res.body, path).toEqual({ error: { code: "0x80040220", message } });
    }

    // Reading leads does not allow creating one: 403 naming prvCreateLead, and nothing is written.
    const create = await fetch(`${o.apiUrl}/leads`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ subject: "not allowed", lastname: "Nobody" }) });
    expect(create.status).toBe(403);
    const body = (await create.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("0x80040220");
    expect(body.error.message).toContain("is missing prvCreateLead privilege");
    const after = await apiGet(o, token, "leads?$select=subject");
    expect((after.body as Collection).value).toHaveLength(24);
  });

  it("removing a role takes effect on the next request", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const leads = await o.dataverse.service.createRole(org, { name: "Leads", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadLead", depth: "Global" }] });
    const accounts = await o.dataverse.service.createRole(org, { name: "Accounts", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadAccount", depth: "Global" }] });
    const { token, userId } = await appUser(o, org, "role removal", DEMO.org.rootBusinessUnitId, [leads, accounts]);
    expect((await apiGet(o, token, "accounts?$top=1")).status).toBe(200);

    expect(await o.dataverse.service.removeRole(org, userId, accounts)).toBe(true);
    const denied = await apiGet(o, token, "accounts?$top=1");
    expect(denied.status).toBe(403);
    expect((denied.body as ErrorBody).error.message).toContain("roleCount=1, privilegeCount=1, accessMode=4), is missing prvReadAccount privilege");
    expect((await apiGet(o, token, "leads?$top=1")).status).toBe(200);

    await o.dataverse.service.removeRole(org, userId, leads);
    const none = await apiGet(o, token, "leads?$top=1");
    expect(none.status).toBe(403);
    expect((none.body as ErrorBody).error.code).toBe("0x80042f09");
  });

  it("a team's role counts for its members", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const role = await o.dataverse.service.createRole(org, { name: "Team contact reader", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadContact", depth: "Global" }] });
    const { token, userId } = await appUser(o, org, "team member", DEMO.org.rootBusinessUnitId, []);
    expect((await apiGet(o, token, "contacts?$top=1")).status).toBe(403);

    const team = await o.dataverse.service.createTeam(org, { name: "Contact readers", businessUnitId: DEMO.org.rootBusinessUnitId });
    await o.dataverse.service.assignTeamRole(org, team, role);
    await o.dataverse.service.addTeamMembers(org, team, [userId]);
    const res = await apiGet(o, token, "contacts?$select=fullname&$count=true");
    expect(res.status).toBe(200);
    expect((res.body as Collection).value).toHaveLength(40);

    await o.dataverse.service.removeTeamMember(org, team, userId);
    expect((await apiGet(o, token, "contacts?$top=1")).status).toBe(403);
  });

  it("the role model is readable: roles (with the predefined ones) and roleprivileges need prvReadRole", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const demo = await apiGet(o, await demoToken(o), "roleprivilegescollection?$top=1");
    expect(demo.status).toBe(403);
    expect((demo.body as ErrorBody).error.message).toContain("is missing prvReadRole privilege");

    const reader = await o.dataverse.service.createRole(org, { name: "Role reader", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadRole", depth: "Global" }] });
    const { token } = await appUser(o, org, "role reader", DEMO.org.rootBusinessUnitId, [reader]);
    const roles = await apiGet(o, token, "roles?$select=name");
    expect(roles.status).toBe(200);
    const names = (roles.body as Collection).value.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(["System Administrator", "System Customizer", "Basic User", "Delegate", "Environment Maker"]));
    const privileges = await apiGet(o, token, "roleprivilegescollection?$select=privilegedepthmask,_roleid_value,_privilegeid_value");
    expect(privileges.status).toBe(200);
    expect((privileges.body as Collection).value).toContainEqual(expect.objectContaining({ _roleid_value: reader, _privilegeid_value: privilegeId("prvReadRole"), privilegedepthmask: 8 }));
  });
});

describe("access check by depth (Basic/Local/Deep/Global × own, same BU, child BU, other BU)", () => {
  const orgbox = useOrgbox();
  const ids = { own: "", sameBu: "", childBu: "", otherBu: "" };
  let org: Org;
  let token = "";
  let userId = "";
  const roles: Record<string, string> = {};

  beforeAll(async () => {
    const o = orgbox();
    org = await contoso(o);
    const svc = o.dataverse.service;
    const a = await svc.createBusinessUnit(org, { name: "Sales", parentBusinessUnitId: DEMO.org.rootBusinessUnitId });
    const a1 = await svc.createBusinessUnit(org, { name: "Sales West", parentBusinessUnitId: a.businessUnitId });
    const b = await svc.createBusinessUnit(org, { name: "Service", parentBusinessUnitId: DEMO.org.rootBusinessUnitId });
    for (const depth of ["Basic", "Local", "Deep", "Global"] as const) {
      roles[depth] = await svc.createRole(org, { name: `Account reader ${depth}`, businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadAccount", depth }] });
    }
    const keep = await svc.createRole(org, { name: "Keeps a role", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadLead", depth: "Basic" }] });
    ({ token, userId } = await appUser(o, org, "depth matrix", a.businessUnitId, [keep]));
    const colleague = await svc.createSystemUser(org, { businessUnitId: a.businessUnitId, lastName: "Colleague" });
    const west = await svc.createSystemUser(org, { businessUnitId: a1.businessUnitId, lastName: "West" });
    const service = await svc.createSystemUser(org, { businessUnitId: b.businessUnitId, lastName: "Service" });
    ids.own = await svc.insert(org, "account", { name: "Mine" }, userId, { id: userId, businessUnitId: a.businessUnitId });
    ids.sameBu = await svc.insert(org, "account", { name: "Colleague's" }, colleague, { id: colleague, businessUnitId: a.businessUnitId });
    ids.childBu = await svc.insert(org, "account", { name: "West's" }, west, { id: west, businessUnitId: a1.businessUnitId });
    ids.otherBu = await svc.insert(org, "account", { name: "Service's" }, service, { id: service, businessUnitId: b.businessUnitId });
  });

  async function withOnly(depth: string): Promise<void> {
    for (const role of Object.values(roles)) await orgbox().dataverse.service.removeRole(org, userId, role);
    await orgbox().dataverse.service.assignRole(org, userId, roles[depth] as string);
  }

  // 20 demo accounts are owned by the admin in the root business unit: only Global sees them.
  it.each([
    ["Basic", 1, [true, false, false, false]],
    ["Local", 2, [true, true, false, false]],
    ["Deep", 3, [true, true, true, false]],
    ["Global", 24, [true, true, true, true]],
  ] as const)("%s", async (depth, rowCount, access) => {
    await withOnly(depth);
    const o = orgbox();
    const list = await apiGet(o, token, "accounts?$select=name&$count=true");
    expect(list.status).toBe(200);
    const body = list.body as Collection;
    expect(body.value).toHaveLength(rowCount);
    expect(body["@odata.count"]).toBe(rowCount);
    const count = await fetch(`${o.apiUrl}/accounts/$count`, { headers: { authorization: `Bearer ${token}` } });
    expect(await count.text()).toBe(String(rowCount));
    const paged = await apiGet(o, token, "accounts?$select=name", { prefer: "odata.maxpagesize=1" });
    expect((paged.body as Collection).value).toHaveLength(1);
    expect(Boolean((paged.body as Record<string, unknown>)["@odata.nextLink"])).toBe(rowCount > 1);

    const records = [ids.own, ids.sameBu, ids.childBu, ids.otherBu];
    for (const [i, id] of records.entries()) {
      const res = await apiGet(o, token, `accounts(${id})?$select=name`);
      if (access[i]) {
        expect(res.status, `${depth} record ${i}`).toBe(200);
      } else {
        expect(res.status, `${depth} record ${i}`).toBe(403);
        expect(res.body).toEqual({ error: { code: "0x80048306", message: `Principal with id ${userId} does not have ReadAccess right(s) for record with id ${id} of entity account.` } });
      }
    }
    const missing = await apiGet(o, token, "accounts(00000000-0000-0000-0000-000000000001)");
    expect(missing.status).toBe(404);
  });

  it("a record owned by one of my teams is readable at Basic depth", async () => {
    await withOnly("Basic");
    const o = orgbox();
    const svc = o.dataverse.service;
    const team = await svc.createTeam(org, { name: "Key accounts", businessUnitId: DEMO.org.rootBusinessUnitId });
    const teamOwned = await svc.insert(org, "account", { name: "Team's", ownerid: team, owneridtype: "team", owningteam: team, owninguser: null }, userId, { id: team, businessUnitId: DEMO.org.rootBusinessUnitId });
    expect((await apiGet(o, token, `accounts(${teamOwned})`)).status).toBe(403);
    await svc.addTeamMembers(org, team, [userId]);
    expect((await apiGet(o, token, `accounts(${teamOwned})`)).status).toBe(200);
    expect(((await apiGet(o, token, "accounts?$select=name")).body as Collection).value).toHaveLength(2);
  });
});

describe("impersonation (MSCRMCallerID, CallerObjectId)", () => {
  const orgbox = useOrgbox();

  it("needs prvActOnBehalfOfAnotherUser", async () => {
    const o = orgbox();
    const res = await apiGet(o, await demoToken(o), "WhoAmI", { MSCRMCallerID: DEMO.org.adminSystemUserId });
    expect(res.status).toBe(403);
    const demoPrivileges = 15;
    expect(res.body).toEqual({
      error: {
        code: "0x80040220",
        message: `Principal user (Id=${DEMO.org.applicationUserId}, type=8, roleCount=1, privilegeCount=${demoPrivileges}, accessMode=4), is missing prvActOnBehalfOfAnotherUser privilege (Id=${privilegeId("prvActOnBehalfOfAnotherUser")}) on OTC=0 for entity ''. context.Caller=${DEMO.org.applicationUserId}`,
      },
    });
  });

  it("with the Delegate role, acts as the impersonated user and with its privileges", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const svc = o.dataverse.service;
    const defaultRoleIds = await roleIdsByName(o, org);
    const { token, userId: delegateId } = await appUser(o, org, "delegate", DEMO.org.rootBusinessUnitId, [defaultRoleIds.Delegate as string]);
    expect((await apiGet(o, token, "accounts?$top=1")).status).toBe(403);

    const entraObjectId = "0b1ec700-0000-4000-8000-000000000001";
    const reader = await svc.createRole(org, { name: "Own accounts", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadAccount", depth: "Basic" }] });
    const target = await svc.createSystemUser(org, { businessUnitId: DEMO.org.rootBusinessUnitId, lastName: "Impersonated", azureActiveDirectoryObjectId: entraObjectId, roleIds: [reader] });
    const mine = await svc.insert(org, "account", { name: "Impersonated's" }, target, { id: target, businessUnitId: DEMO.org.rootBusinessUnitId });

    const who = await apiGet(o, token, "WhoAmI", { MSCRMCallerID: target });
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({ UserId: target, BusinessUnitId: DEMO.org.rootBusinessUnitId });
    for (const header of [{ MSCRMCallerID: target }, { CallerObjectId: entraObjectId }] as Record<string, string>[]) {
      const list = await apiGet(o, token, "accounts?$select=name", header);
      expect(list.status).toBe(200);
      expect((list.body as Collection).value).toEqual([expect.objectContaining({ accountid: mine, name: "Impersonated's" })]);
    }
    // The impersonated user lacks prvReadLead: the message names it, context.Caller is the delegate.
    const leads = await apiGet(o, token, "leads?$top=1", { MSCRMCallerID: target });
    expect(leads.status).toBe(403);
    expect((leads.body as ErrorBody).error.message).toMatch(new RegExp(`^Principal user \\(Id=${target}, type=8, roleCount=1, privilegeCount=1, accessMode=0\\), is missing prvReadLead privilege .* context.Caller=${delegateId}$`));

    const unknown = await apiGet(o, token, "WhoAmI", { MSCRMCallerID: "00000000-0000-0000-0000-0000000000ff" });
    expect(unknown.status).toBe(404);
    expect((unknown.body as ErrorBody).error.code).toBe("0x80040217");
  });
});

async function roleIdsByName(o: OrgboxInstance, org: Org): Promise<Record<string, string>> {
  const reader = await o.dataverse.service.createRole(org, { name: "lookup roles", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadRole", depth: "Global" }] });
  const { token } = await appUser(o, org, "role lookup", DEMO.org.rootBusinessUnitId, [reader]);
  const res = await apiGet(o, token, "roles?$select=name");
  return Object.fromEntries((res.body as Collection).value.map((r) => [String(r.name), String(r.roleid)]));
}
