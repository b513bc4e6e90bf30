/**
 * The caller's security state (systemuser, roles own and via teams, privilege depths) is kept
 * across requests; every write that changes it takes effect on the caller's next request:
 * Web API $ref association and disassociation, security actions, a `$batch` change set (and one
 * that rolls back, whose state must not stick), DataverseService methods, and snapshot restore.
 * Each case warms the cache with the caller's own requests first.
 */
import { describe, expect, it } from "vitest";
import { DEMO, type OrgboxInstance } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";
import { privilegeId } from "../../src/dataverse/security/privileges.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { api, appUser } from "../helpers/security.ts";

const ROOT_BU = DEMO.org.rootBusinessUnitId;

async function contoso(o: OrgboxInstance): Promise<Org> {
  return (await o.dataverse.service.findOrg("contoso")) as Org;
}

/** A System Administrator application user's token. */
async function adminToken(o: OrgboxInstance, org: Org, name: string): Promise<string> {
  const sysadmin = (await o.dataverse.service.listRoles(org)).find((r) => r.name === "System Administrator");
  return (await appUser(o, org, name, ROOT_BU, [sysadmin?.id as string])).token;
}

/** Reads `path` twice with `token` (the second read is served from the warmed cache) and returns the status of both. */
async function twice(o: OrgboxInstance, token: string, path: string): Promise<[number, number]> {
  const first = await api(o, token, "GET", path);
  const second = await api(o, token, "GET", path);
  return [first.status, second.status];
}

/** A `$batch` with one change set of `parts` (method, path, body, extra headers), sent with `token`; returns the part statuses. */
async function changeSet(o: OrgboxInstance, token: string, parts: { method: string; path: string; body?: unknown; headers?: Record<string, string> }[]): Promise<{ status: number; parts: number[] }> {
  const lines = ["--batch_c", "Content-Type: multipart/mixed; boundary=changeset_c", ""];
  parts.forEach((part, i) => {
    lines.push("--changeset_c", "Content-Type: application/http", "Content-Transfer-Encoding: binary", `Content-ID: ${i + 1}`, "");
    lines.push(`${part.method} ${o.apiUrl}/${part.path} HTTP/1.1`, "Content-Type: application/json", ...Object.entries(part.headers ?? {}).map(([k, v]) => `${k}: ${v}`), "");
    lines.push(part.body === undefined ? "" : JSON.stringify(part.body));
  });
  lines.push("--changeset_c--", "--batch_c--", "");
  const response = await fetch(`${o.apiUrl}/$batch`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "multipart/mixed; boundary=batch_c", accept: "application/json" },
    body: lines.join("\r\n"),
  });
  const text = await response.text();
  return { status: response.status, parts: [...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1])) };
}

describe("cached security state: Web API writes", () => {
  const orgbox = useOrgbox();

  it("a privilege removed from a role ($ref) is refused on the next request; re-adding it (Basic) and AddPrivilegesRole (Global) take effect too", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const admin = await adminToken(o, org, "cache admin 1");
    const role = await o.dataverse.service.createRole(org, { name: "Cached account reader", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadAccount", depth: "Global" }, { name: "prvReadLead", depth: "Global" }] });
    const worker = await appUser(o, org, "cache worker 1", ROOT_BU, [role]);
    expect(await twice(o, worker.token, "accounts?$select=name&$top=1")).toEqual([200, 200]);

    const ref = `roles(${role})/roleprivileges_association(${privilegeId("prvReadAccount")})/$ref`;
    expect((await api(o, admin, "DELETE", ref)).status).toBe(204);
    const denied = await api(o, worker.token, "GET", "accounts?$select=name&$top=1");
    expect(denied.status).toBe(403);
    expect(denied.body.error?.code).toBe("0x80040220");
    expect(denied.body.error?.message).toContain("is missing prvReadAccount privilege");
    expect((await api(o, worker.token, "GET", "leads?$select=subject&$top=1")).status).toBe(200);

    // Associated again: Basic depth (orgbox's choice for an association); the worker owns no account.
    expect((await api(o, admin, "POST", `roles(${role})/roleprivileges_association/$ref`, { "@odata.id": `${o.apiUrl}/privileges(${privilegeId("prvReadAccount")})` })).status).toBe(204);
    const basic = await api(o, worker.token, "GET", "accounts?$select=name");
    expect(basic.status).toBe(200);
    expect(basic.body.value).toEqual([]);

    const add = await api(o, admin, "POST", `roles(${role})/Microsoft.Dynamics.CRM.AddPrivilegesRole`, { Privileges: [{ PrivilegeId: privilegeId("prvReadAccount"), Depth: "Global", BusinessUnitId: ROOT_BU }] });
    expect(add.status).toBe(204);
    expect(((await api(o, worker.token, "GET", "accounts?$select=name")).body.value as unknown[]).length).toBeGreaterThan(0);
  });

  it("a role given ($ref) and taken (DELETE $ref) from a user counts from the next request", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const admin = await adminToken(o, org, "cache admin 2");
    const leads = await o.dataverse.service.createRole(org, { name: "Cached lead reader", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadLead", depth: "Global" }] });
    const contacts = await o.dataverse.service.createRole(org, { name: "Cached contact reader", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadContact", depth: "Global" }] });
    const worker = await appUser(o, org, "cache worker 2", ROOT_BU, [leads]);
    expect(await twice(o, worker.token, "contacts?$select=fullname&$top=1")).toEqual([403, 403]);

    expect((await api(o, admin, "POST", `systemusers(${worker.userId})/systemuserroles_association/$ref`, { "@odata.id": `${o.apiUrl}/roles(${contacts})` })).status).toBe(204);
    expect(await twice(o, worker.token, "contacts?$select=fullname&$top=1")).toEqual([200, 200]);

    expect((await api(o, admin, "DELETE", `systemusers(${worker.userId})/systemuserroles_association(${contacts})/$ref`)).status).toBe(204);
    expect((await api(o, worker.token, "GET", "contacts?$select=fullname&$top=1")).status).toBe(403);
  });

  it("a user removed from a team (RemoveMembersTeam, DELETE $ref) loses the team's role on the next request", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const admin = await adminToken(o, org, "cache admin 3");
    const leads = await o.dataverse.service.createRole(org, { name: "Cached team lead reader", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadLead", depth: "Global" }] });
    const contacts = await o.dataverse.service.createRole(org, { name: "Cached team contact reader", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadContact", depth: "Global" }] });
    const team = await o.dataverse.service.createTeam(org, { name: "Cached contact team", businessUnitId: ROOT_BU });
    const worker = await appUser(o, org, "cache worker 3", ROOT_BU, [leads]);
    expect((await api(o, admin, "POST", `teams(${team})/teamroles_association/$ref`, { "@odata.id": `${o.apiUrl}/roles(${contacts})` })).status).toBe(204);
    expect(await twice(o, worker.token, "contacts?$select=fullname&$top=1")).toEqual([403, 403]);

    const members = { Members: [{ "@odata.type": "Microsoft.Dynamics.CRM.systemuser", systemuserid: worker.userId }] };
    expect((await api(o, admin, "POST", `teams(${team})/Microsoft.Dynamics.CRM.AddMembersTeam`, members)).status).toBe(204);
    expect(await twice(o, worker.token, "contacts?$select=fullname&$top=1")).toEqual([200, 200]);
    expect((await api(o, admin, "POST", `teams(${team})/Microsoft.Dynamics.CRM.RemoveMembersTeam`, members)).status).toBe(204);
    expect((await api(o, worker.token, "GET", "contacts?$select=fullname&$top=1")).status).toBe(403);

    expect((await api(o, admin, "POST", `teams(${team})/teammembership_association/$ref`, { "@odata.id": `${o.apiUrl}/systemusers(${worker.userId})` })).status).toBe(204);
    expect(await twice(o, worker.token, "contacts?$select=fullname&$top=1")).toEqual([200, 200]);
    expect((await api(o, admin, "DELETE", `teams(${team})/teammembership_association(${worker.userId})/$ref`)).status).toBe(204);
    expect((await api(o, worker.token, "GET", "contacts?$select=fullname&$top=1")).status).toBe(403);

    // The team's role taken from the team.
    await o.dataverse.service.addTeamMembers(org, team, [worker.userId]);
    expect(await twice(o, worker.token, "contacts?$select=fullname&$top=1")).toEqual([200, 200]);
    expect((await api(o, admin, "DELETE", `teams(${team})/teamroles_association(${contacts})/$ref`)).status).toBe(204);
    expect((await api(o, worker.token, "GET", "contacts?$select=fullname&$top=1")).status).toBe(403);
  });

  it("moving a user to another business unit (PATCH) changes what Local depth reaches on the next request", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const admin = await adminToken(o, org, "cache admin 4");
    const { businessUnitId: sales } = await o.dataverse.service.createBusinessUnit(org, { name: "Cached Sales", parentBusinessUnitId: ROOT_BU });
    const role = await o.dataverse.service.createRole(org, { name: "Cached local account reader", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadAccount", depth: "Local" }] });
    const worker = await appUser(o, org, "cache worker 4", ROOT_BU, [role]);
    const before = await api(o, worker.token, "GET", "accounts?$select=name");
    expect((before.body.value as unknown[]).length).toBeGreaterThan(0);

    expect((await api(o, admin, "PATCH", `systemusers(${worker.userId})`, { "businessunitid@odata.bind": `/businessunits(${sales})` })).status).toBe(204);
    const after = await api(o, worker.token, "GET", "accounts?$select=name");
    expect(after.status).toBe(200);
    expect(after.body.value).toEqual([]);
  });
});

describe("cached security state: $batch change sets", () => {
  const orgbox = useOrgbox();

  it("a change set that grants a privilege, uses it, then fails is rolled back: the grant does not stick", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const admin = await adminToken(o, org, "batch admin 1");
    const role = await o.dataverse.service.createRole(org, { name: "Batch lead reader", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadLead", depth: "Global" }] });
    const worker = await appUser(o, org, "batch worker 1", ROOT_BU, [role]);
    expect(await twice(o, worker.token, "contacts?$select=fullname&$top=1")).toEqual([403, 403]);

    const result = await changeSet(o, admin, [
      { method: "POST", path: `roles(${role})/Microsoft.Dynamics.CRM.AddPrivilegesRole`, body: { Privileges: [{ PrivilegeId: privilegeId("prvCreateContact"), Depth: "Global" }, { PrivilegeId: privilegeId("prvReadContact"), Depth: "Global" }] } },
      // Acting as the worker inside the change set: it holds prvCreateContact there.
      { method: "POST", path: "contacts", body: { lastname: "Rolled back" }, headers: { MSCRMCallerID: worker.userId } },
      { method: "PATCH", path: "contacts(00000000-0000-4000-8000-00000000dead)", body: { lastname: "No such contact" }, headers: { "If-Match": "*" } },
    ]);
    expect(result.parts).toEqual([404]);

    // Outside, after the rollback: neither privilege, and no contact was created.
    const read = await api(o, worker.token, "GET", "contacts?$select=fullname&$top=1");
    expect(read.status).toBe(403);
    expect(read.body.error?.message).toContain("is missing prvReadContact privilege");
    const create = await api(o, worker.token, "POST", "contacts", { lastname: "Not allowed" });
    expect(create.status).toBe(403);
    expect(create.body.error?.message).toContain("is missing prvCreateContact privilege");
    const created = await api(o, admin, "GET", `contacts?$select=lastname&$filter=lastname eq 'Rolled back'`);
    expect(created.body.value).toEqual([]);
  });

  it("a change set that takes a privilege away, is refused with it, and rolls back leaves the privilege in force", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const admin = await adminToken(o, org, "batch admin 2");
    const role = await o.dataverse.service.createRole(org, { name: "Batch account writer", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadAccount", depth: "Global" }, { name: "prvCreateAccount", depth: "Global" }] });
    const worker = await appUser(o, org, "batch worker 2", ROOT_BU, [role]);
    expect((await api(o, worker.token, "POST", "accounts", { name: "Before the batch" })).status).toBe(204);

    const result = await changeSet(o, admin, [
      { method: "DELETE", path: `roles(${role})/roleprivileges_association(${privilegeId("prvCreateAccount")})/$ref` },
      { method: "POST", path: "accounts", body: { name: "Refused in the batch" }, headers: { MSCRMCallerID: worker.userId } },
    ]);
    expect(result.parts).toEqual([403]);

    expect((await api(o, worker.token, "POST", "accounts", { name: "After the batch" })).status).toBe(204);
    expect(await twice(o, worker.token, "accounts?$select=name&$top=1")).toEqual([200, 200]);
  });

  it("a change set that commits takes effect on the next request", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const admin = await adminToken(o, org, "batch admin 3");
    const role = await o.dataverse.service.createRole(org, { name: "Batch committed", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadLead", depth: "Global" }] });
    const worker = await appUser(o, org, "batch worker 3", ROOT_BU, [role]);
    expect(await twice(o, worker.token, "contacts?$select=fullname&$top=1")).toEqual([403, 403]);
    const result = await changeSet(o, admin, [{ method: "POST", path: `roles(${role})/Microsoft.Dynamics.CRM.AddPrivilegesRole`, body: { Privileges: [{ PrivilegeId: privilegeId("prvReadContact"), Depth: "Global" }] } }]);
    expect(result.parts).toEqual([204]);
    expect((await api(o, worker.token, "GET", "contacts?$select=fullname&$top=1")).status).toBe(200);
  });
});

describe("cached security state: DataverseService and snapshots", () => {
  const orgbox = useOrgbox();

  it("assignRole and assignTeamRole count from the next request", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const leads = await o.dataverse.service.createRole(org, { name: "Service lead reader", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadLead", depth: "Global" }] });
    const contacts = await o.dataverse.service.createRole(org, { name: "Service contact reader", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadContact", depth: "Global" }] });
    const accounts = await o.dataverse.service.createRole(org, { name: "Service account reader", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadAccount", depth: "Global" }] });
    const worker = await appUser(o, org, "service worker", ROOT_BU, [leads]);
    expect(await twice(o, worker.token, "contacts?$select=fullname&$top=1")).toEqual([403, 403]);
    await o.dataverse.service.assignRole(org, worker.userId, contacts);
    expect(await twice(o, worker.token, "contacts?$select=fullname&$top=1")).toEqual([200, 200]);

    const team = await o.dataverse.service.createTeam(org, { name: "Service team", businessUnitId: ROOT_BU });
    await o.dataverse.service.addTeamMembers(org, team, [worker.userId]);
    expect(await twice(o, worker.token, "accounts?$select=name&$top=1")).toEqual([403, 403]);
    await o.dataverse.service.assignTeamRole(org, team, accounts);
    expect((await api(o, worker.token, "GET", "accounts?$select=name&$top=1")).status).toBe(200);
  });

  it("restoring a snapshot brings the old rights back, both ways", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const leads = await o.dataverse.service.createRole(org, { name: "Snapshot lead reader", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadLead", depth: "Global" }] });
    const accounts = await o.dataverse.service.createRole(org, { name: "Snapshot account reader", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadAccount", depth: "Global" }] });
    const worker = await appUser(o, org, "snapshot worker", ROOT_BU, [leads, accounts]);
    expect(await twice(o, worker.token, "accounts?$select=name&$top=1")).toEqual([200, 200]);
    await o.snapshot("with-accounts");

    await o.dataverse.service.removeRole(org, worker.userId, accounts);
    expect(await twice(o, worker.token, "accounts?$select=name&$top=1")).toEqual([403, 403]);
    await o.snapshot("without-accounts");

    await o.restore("with-accounts");
    expect(await twice(o, worker.token, "accounts?$select=name&$top=1")).toEqual([200, 200]);
    await o.restore("without-accounts");
    expect(await twice(o, worker.token, "accounts?$select=name&$top=1")).toEqual([403, 403]);
  });

  it("reset forgets users created since start: their next request is refused", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const leads = await o.dataverse.service.createRole(org, { name: "Reset lead reader", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadLead", depth: "Global" }] });
    const worker = await appUser(o, org, "reset worker", ROOT_BU, [leads]);
    expect(await twice(o, worker.token, "leads?$select=subject&$top=1")).toEqual([200, 200]);
    await o.reset();
    const refused = await api(o, worker.token, "GET", "leads?$select=subject&$top=1");
    expect(refused.status).toBe(403);
    expect(refused.body.error?.code).toBe("0x80072560");
  });
});
