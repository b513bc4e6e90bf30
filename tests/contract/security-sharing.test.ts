/**
 * Sharing (GrantAccess / ModifyAccess / RevokeAccess into principalobjectaccess, honoured by the
 * SQL access filter for reads and writes), RetrievePrincipalAccess, and team membership through
 * AddMembersTeam / RemoveMembersTeam.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { api, appUser } from "../helpers/security.ts";

const NS = "Microsoft.Dynamics.CRM";

describe("sharing and security functions", () => {
  const orgbox = useOrgbox();
  let org: Org;
  const owner = { token: "", userId: "" };
  const reader = { token: "", userId: "" };
  const admin = { token: "", userId: "" };
  let account = "";

  const grant = (target: string, principal: string, mask: string, type = "systemuser") => ({
    Target: { accountid: target, "@odata.type": `${NS}.account` },
    PrincipalAccess: { Principal: { [`${type}id`]: principal, "@odata.type": `${NS}.${type}` }, AccessMask: mask },
  });
  const rights = async (userId: string) => (await api(orgbox(), admin.token, "GET", `systemusers(${userId})/${NS}.RetrievePrincipalAccess(Target=@t)?@t={'@odata.id':'accounts(${account})'}`)).body.AccessRights;

  beforeAll(async () => {
    const o = orgbox();
    const svc = o.dataverse.service;
    org = (await svc.findOrg("contoso")) as Org;
    const sales = await svc.createBusinessUnit(org, { name: "Sales", parentBusinessUnitId: DEMO.org.rootBusinessUnitId });
    const service = await svc.createBusinessUnit(org, { name: "Service", parentBusinessUnitId: DEMO.org.rootBusinessUnitId });
    const basic = (name: string, verbs: string[]) => svc.createRole(org, { name, businessUnitId: DEMO.org.rootBusinessUnitId, privileges: verbs.map((v) => ({ name: `prv${v}Account`, depth: "Basic" as const })) });
    Object.assign(owner, await appUser(o, org, "owner", sales.businessUnitId, [await basic("Sharer", ["Create", "Read", "Write", "Share"])]));
    Object.assign(reader, await appUser(o, org, "reader", service.businessUnitId, [await basic("Basic account user", ["Read", "Write"])]));
    const sysadmin = (await svc.listRoles(org)).find((r) => r.name === "System Administrator")?.id as string;
    Object.assign(admin, await appUser(o, org, "admin app", DEMO.org.rootBusinessUnitId, [sysadmin]));
    const created = await api(o, owner.token, "POST", "accounts", { name: "Shared account" });
    account = (created.headers.get("odata-entityid") ?? "").match(/\(([0-9a-f-]{36})\)$/)?.[1] as string;
  });

  it("GrantAccess / ModifyAccess / RevokeAccess change what a Basic-depth user reads and writes", async () => {
    const o = orgbox();
    expect((await api(o, reader.token, "GET", "accounts?$select=name")).body.value).toEqual([]);
    expect((await api(o, reader.token, "GET", `accounts(${account})`)).body.error?.code).toBe("0x80048306");
    expect(await rights(reader.userId)).toBe("None");

    expect((await api(o, owner.token, "POST", "GrantAccess", grant(account, reader.userId, "ReadAccess"))).status).toBe(204);
    const list = await api(o, reader.token, "GET", "accounts?$select=name&$count=true");
    expect(list.body.value).toEqual([expect.objectContaining({ name: "Shared account" })]);
    expect(list.body["@odata.count"]).toBe(1);
    expect((await api(o, reader.token, "GET", `accounts(${account})?$select=name`)).status).toBe(200);
    expect((await api(o, reader.token, "PATCH", `accounts(${account})`, { telephone1: "1" })).body.error?.code).toBe("0x80048306");
    expect(await rights(reader.userId)).toBe("ReadAccess");

    expect((await api(o, owner.token, "POST", "ModifyAccess", grant(account, reader.userId, "ReadAccess, WriteAccess"))).status).toBe(204);
    expect((await api(o, reader.token, "PATCH", `accounts(${account})`, { telephone1: "1" })).status).toBe(204);
    expect(await rights(reader.userId)).toBe("ReadAccess, WriteAccess");
    expect(await rights(owner.userId)).toBe("ReadAccess, WriteAccess, CreateAccess, ShareAccess");

    const revoke = { Target: { accountid: account, "@odata.type": `${NS}.account` }, Revokee: { systemuserid: reader.userId, "@odata.type": `${NS}.systemuser` } };
    expect((await api(o, owner.token, "POST", "RevokeAccess", revoke)).status).toBe(204);
    expect((await api(o, reader.token, "GET", "accounts?$select=name")).body.value).toEqual([]);
  });

  it("a share with a team reaches its members; AddMembersTeam / RemoveMembersTeam change membership", async () => {
    const o = orgbox();
    const team = await o.dataverse.service.createTeam(org, { name: "Readers", businessUnitId: DEMO.org.rootBusinessUnitId });
    expect((await api(o, owner.token, "POST", "GrantAccess", grant(account, team, "ReadAccess", "team"))).status).toBe(204);
    expect((await api(o, reader.token, "GET", "accounts?$select=name")).body.value).toEqual([]);

    expect((await api(o, admin.token, "POST", `teams(${team})/${NS}.AddMembersTeam`, { Members: [{ systemuserid: reader.userId }] })).status).toBe(204);
    const members = await api(o, admin.token, "GET", `teams(${team})/teammembership_association?$select=systemuserid`);
    expect(members.body.value).toEqual([expect.objectContaining({ systemuserid: reader.userId })]);
    expect((await api(o, reader.token, "GET", "accounts?$select=name")).body.value).toHaveLength(1);

    expect((await api(o, admin.token, "POST", `teams(${team})/${NS}.RemoveMembersTeam`, { Members: [{ systemuserid: reader.userId }] })).status).toBe(204);
    expect((await api(o, reader.token, "GET", "accounts?$select=name")).body.value).toEqual([]);
  });

  it("refuses: no prvShare (0x80040220), bad AccessMask, unshareable table, unknown principal, default team, team writes without privilege", async () => {
    const o = orgbox();
    const noShare = await api(o, reader.token, "POST", "GrantAccess", grant(account, reader.userId, "ReadAccess"));
    expect(noShare.status).toBe(403);
    expect(noShare.body.error?.message).toContain("is missing prvShareAccount privilege");
    const badMask = await api(o, owner.token, "POST", "GrantAccess", grant(account, reader.userId, "ReadAccess, FlyAccess"));
    expect(badMask.status).toBe(400);
    expect(badMask.body.error?.message).toContain("'FlyAccess' is not an AccessRights value");
    const orgOwned = await api(o, admin.token, "POST", "GrantAccess", { Target: { transactioncurrencyid: DEMO.org.baseCurrencyId, "@odata.type": `${NS}.transactioncurrency` }, PrincipalAccess: { Principal: { systemuserid: reader.userId, "@odata.type": `${NS}.systemuser` }, AccessMask: "ReadAccess" } });
    expect(orgOwned.status).toBe(400);
    const nobody = await api(o, owner.token, "POST", "GrantAccess", grant(account, "00000000-0000-4000-8000-000000000777", "ReadAccess"));
    expect(nobody.status).toBe(404);
    expect(nobody.body.error?.code).toBe("0x80040217");
    expect((await api(o, owner.token, "POST", "GrantAccess", { Target: account })).status).toBe(400);
    expect((await api(o, owner.token, "GET", "GrantAccess")).status).toBe(405);

    const units = await api(o, admin.token, "GET", `teams?$select=teamid&$filter=isdefault eq true and _businessunitid_value eq ${DEMO.org.rootBusinessUnitId}`);
    const defaultTeam = (units.body.value as { teamid: string }[])[0]?.teamid as string;
    const toDefault = await api(o, admin.token, "POST", `teams(${defaultTeam})/${NS}.AddMembersTeam`, { Members: [{ systemuserid: reader.userId }] });
    expect(toDefault.status).toBe(400);
    expect(toDefault.body.error?.message).toContain("default team");
    const noWrite = await api(o, reader.token, "POST", `teams(${defaultTeam})/${NS}.AddMembersTeam`, { Members: [{ systemuserid: reader.userId }] });
    expect(noWrite.status).toBe(403);
    expect((await api(o, admin.token, "POST", `teams(${defaultTeam})/${NS}.AddMembersTeam`, { Members: "x" })).status).toBe(400);
    expect((await api(o, admin.token, "GET", `accounts(${account})/${NS}.RetrieveUserPrivileges()`)).status).toBe(404);
    expect((await api(o, reader.token, "GET", `systemusers(${admin.userId})/${NS}.RetrieveUserPrivileges()`)).status).toBe(403);
  });
});
