/**
 * Activity and note privileges as Dataverse has them: activity tables (task, email, phonecall)
 * have no privileges of their own and share `prv{Verb}Activity`; notes (annotation) use
 * `prv{Verb}Note` (learn.microsoft.com/power-platform/admin/security-roles-privileges).
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

/** The message of PrivilegeDenied for a caller with one role holding `privilegeCount` privileges. */
function missing(userId: string, privilegeCount: number, privilege: string, otc: number, entity: string): string {
  return `Principal user (Id=${userId}, type=8, roleCount=1, privilegeCount=${privilegeCount}, accessMode=4), is missing ${privilege} privilege (Id=${privilegeId(privilege)}) on OTC=${otc} for entity '${entity}'. context.Caller=${userId}`;
}

describe("activity and note privileges", () => {
  const orgbox = useOrgbox();

  it("the privilege table has the shared Activity and Note privileges and no per-table ones", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const sysadmin = (await o.dataverse.service.listRoles(org)).find((r) => r.name === "System Administrator");
    const admin = await appUser(o, org, "activity privilege reader", ROOT_BU, [sysadmin?.id as string]);
    const res = await api(o, admin.token, "GET", "privileges?$select=name,accessright,canbebasic&$filter=endswith(name,'Activity') or endswith(name,'Note') or endswith(name,'Task') or endswith(name,'Email') or endswith(name,'PhoneCall') or endswith(name,'Annotation')&$orderby=name");
    expect(res.status).toBe(200);
    const names = (res.body.value as { name: string }[]).map((p) => p.name);
    const verbs = ["Append", "AppendTo", "Assign", "Create", "Delete", "Read", "Share", "Write"];
    expect(names).toEqual([...verbs.map((v) => `prv${v}Activity`), ...verbs.map((v) => `prv${v}Note`)].sort());

    // System Administrator holds them at Global, once each.
    const held = await api(o, admin.token, "GET", `roleprivilegescollection?$select=privilegedepthmask&$filter=_roleid_value eq ${sysadmin?.id} and _privilegeid_value eq ${privilegeId("prvReadActivity")}`);
    expect(held.body.value).toEqual([expect.objectContaining({ privilegedepthmask: 8 })]);
  });

  it("a role with prvReadActivity reads tasks, emails and phone calls; without it, 0x80040220 naming prvReadActivity", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const sysadmin = (await o.dataverse.service.listRoles(org)).find((r) => r.name === "System Administrator");
    const admin = await appUser(o, org, "activity admin", ROOT_BU, [sysadmin?.id as string]);
    expect((await api(o, admin.token, "POST", "tasks", { subject: "Shared privilege task" })).status).toBe(204);
    expect((await api(o, admin.token, "POST", "emails", { subject: "Shared privilege email" })).status).toBe(204);
    expect((await api(o, admin.token, "POST", "phonecalls", { subject: "Shared privilege call" })).status).toBe(204);

    const readers = await o.dataverse.service.createRole(org, { name: "Activity reader", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadActivity", depth: "Global" }] });
    const reader = await appUser(o, org, "activity reader", ROOT_BU, [readers]);
    for (const [set, subject] of [["tasks", "Shared privilege task"], ["emails", "Shared privilege email"], ["phonecalls", "Shared privilege call"]]) {
      const res = await api(o, reader.token, "GET", `${set}?$select=subject`);
      expect(res.status, set).toBe(200);
      expect((res.body.value as { subject: string }[]).map((r) => r.subject), set).toContain(subject);
    }
    // Reading activities is not reading notes.
    const notes = await api(o, reader.token, "GET", "annotations?$select=subject");
    expect(notes.status).toBe(403);
    expect(notes.body.error).toEqual({ code: "0x80040220", message: missing(reader.userId, 1, "prvReadNote", 5, "annotation") });

    const leads = await o.dataverse.service.createRole(org, { name: "Lead reader, no activities", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadLead", depth: "Global" }] });
    const other = await appUser(o, org, "no activity reader", ROOT_BU, [leads]);
    for (const [set, otc, entity] of [["tasks", 4212, "task"], ["emails", 4202, "email"], ["phonecalls", 4210, "phonecall"]] as const) {
      const res = await api(o, other.token, "GET", `${set}?$select=subject`);
      expect(res.status, set).toBe(403);
      expect(res.body.error, set).toEqual({ code: "0x80040220", message: missing(other.userId, 1, "prvReadActivity", otc, entity) });
    }
  });

  it("creating an activity needs prvCreateActivity and a note prvCreateNote, whatever the table", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const role = await o.dataverse.service.createRole(org, {
      name: "Activity writer",
      businessUnitId: ROOT_BU,
      privileges: [
        { name: "prvCreateActivity", depth: "Basic" },
        { name: "prvReadActivity", depth: "Basic" },
        { name: "prvReadNote", depth: "Basic" },
      ],
    });
    const writer = await appUser(o, org, "activity writer", ROOT_BU, [role]);
    expect((await api(o, writer.token, "POST", "phonecalls", { subject: "Own call", phonenumber: "+1 555 0100" })).status).toBe(204);
    expect((await api(o, writer.token, "POST", "tasks", { subject: "Own task" })).status).toBe(204);
    const own = await api(o, writer.token, "GET", "tasks?$select=subject");
    expect((own.body.value as { subject: string }[]).map((t) => t.subject)).toEqual(["Own task"]);

    const note = await api(o, writer.token, "POST", "annotations", { subject: "Not allowed" });
    expect(note.status).toBe(403);
    expect(note.body.error).toEqual({ code: "0x80040220", message: missing(writer.userId, 3, "prvCreateNote", 5, "annotation") });
  });

  it("RetrieveUserPrivileges names the shared privileges", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const sysadmin = (await o.dataverse.service.listRoles(org)).find((r) => r.name === "System Administrator");
    const admin = await appUser(o, org, "privilege lister", ROOT_BU, [sysadmin?.id as string]);
    const role = await o.dataverse.service.createRole(org, { name: "Note writer", businessUnitId: ROOT_BU, privileges: [{ name: "prvWriteNote", depth: "Local" }, { name: "prvDeleteActivity", depth: "Deep" }] });
    const user = await appUser(o, org, "note writer", ROOT_BU, [role]);
    const res = await api(o, admin.token, "GET", `systemusers(${user.userId})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`);
    expect(res.status).toBe(200);
    const privileges = (res.body.RolePrivileges as { PrivilegeName: string; Depth: string }[]).map((p) => [p.PrivilegeName, p.Depth]).sort();
    expect(privileges).toEqual([["prvDeleteActivity", "Deep"], ["prvWriteNote", "Local"]]);
  });

  it("EntityDefinitions mark task, email and phonecall IsActivity, and notes and accounts not", async () => {
    const o = orgbox();
    const org = await contoso(o);
    const sysadmin = (await o.dataverse.service.listRoles(org)).find((r) => r.name === "System Administrator");
    const admin = await appUser(o, org, "definition reader", ROOT_BU, [sysadmin?.id as string]);
    for (const [table, expected] of [["task", true], ["email", true], ["phonecall", true], ["annotation", false], ["account", false]] as const) {
      const res = await api(o, admin.token, "GET", `EntityDefinitions(LogicalName='${table}')?$select=LogicalName,IsActivity`);
      expect(res.status, table).toBe(200);
      expect(res.body.IsActivity, table).toBe(expected);
    }
  });

  it("refuses per-table names for activity tables", async () => {
    const o = orgbox();
    const org = await contoso(o);
    await expect(o.dataverse.service.createRole(org, { name: "Old names", businessUnitId: ROOT_BU, privileges: [{ name: "prvReadTask", depth: "Global" }] })).rejects.toThrow("the privilege 'prvReadTask' does not exist");
  });
});
