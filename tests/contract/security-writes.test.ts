/**
 * The security model on Web API writes, through RecordWriter.authorize(): Create (privilege and
 * the new owner within Create depth), Write/Delete (access check on the existing row), Assign
 * (ownerid), Append/AppendTo on lookups; 0x80040220 for a missing privilege, 0x80048306 for a
 * record out of reach; nothing is written when a check fails.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";
import type { Depth } from "../../src/dataverse/security/privileges.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { api, appUser, type ApiResponse } from "../helpers/security.ts";

const DEMO_ACCOUNT = "c0de0001-0000-4000-8000-000000000001"; // owned by the admin, root business unit

describe("write enforcement", () => {
  const orgbox = useOrgbox();
  let org: Org;
  let sales = "";
  let colleague = "";

  beforeAll(async () => {
    const o = orgbox();
    org = (await o.dataverse.service.findOrg("contoso")) as Org;
    sales = (await o.dataverse.service.createBusinessUnit(org, { name: "Sales", parentBusinessUnitId: DEMO.org.rootBusinessUnitId })).businessUnitId;
    colleague = await o.dataverse.service.createSystemUser(org, { businessUnitId: sales, lastName: "Colleague" });
  });

  /** An application user in Sales holding one role with these privileges. */
  async function userWith(name: string, privileges: Record<string, Depth>): Promise<{ token: string; userId: string; grant: (more: Record<string, Depth>) => Promise<void> }> {
    const o = orgbox();
    const role = (p: Record<string, Depth>) => o.dataverse.service.createRole(org, { name: `${name} ${Object.keys(p).join(",")}`, businessUnitId: DEMO.org.rootBusinessUnitId, privileges: Object.entries(p).map(([n, depth]) => ({ name: n, depth })) });
    const user = await appUser(o, org, name, sales, [await role(privileges)]);
    return { ...user, grant: async (more) => o.dataverse.service.assignRole(org, user.userId, await role(more)) };
  }

  function expectDenied(res: ApiResponse, privilege: string): void {
    expect(res.status).toBe(403);
    expect(res.body.error?.code).toBe("0x80040220");
    expect(res.body.error?.message).toMatch(new RegExp(`^Principal user \\(Id=[0-9a-f-]{36}, type=8, roleCount=\\d+, privilegeCount=\\d+, accessMode=4\\), is missing ${privilege} privilege \\(Id=[0-9a-f-]{36}\\) on OTC=\\d+ for entity '\\w+'\\. context\\.Caller=[0-9a-f-]{36}$`));
  }

  function expectOutOfReach(res: ApiResponse, userId: string, right: string, entity: string): void {
    expect(res.status).toBe(403);
    expect(res.body.error?.code).toBe("0x80048306");
    expect(res.body.error?.message).toMatch(new RegExp(`^Principal with id ${userId} does not have ${right}Access right\\(s\\) for record with id [0-9a-f-]{36} of entity ${entity}\\.$`));
  }

  it("Create needs prvCreate{Entity}; nothing is written", async () => {
    const o = orgbox();
    const { token } = await userWith("no create", { prvReadAccount: "Global" });
    expectDenied(await api(o, token, "POST", "accounts", { name: "Refused create" }), "prvCreateAccount");
    const list = await api(o, token, "GET", "accounts?$filter=name eq 'Refused create'");
    expect(list.body.value).toEqual([]);
  });

  it("Create: the new record's owner must be within the caller's Create depth", async () => {
    const o = orgbox();
    const basic = await userWith("basic creator", { prvCreateAccount: "Basic", prvReadAccount: "Global" });
    expect((await api(o, basic.token, "POST", "accounts", { name: "Mine" })).status).toBe(204);
    expectOutOfReach(await api(o, basic.token, "POST", "accounts", { name: "For the colleague", "ownerid@odata.bind": `/systemusers(${colleague})` }), basic.userId, "Create", "account");

    const local = await userWith("local creator", { prvCreateAccount: "Local", prvReadAccount: "Global" });
    const created = await api(o, local.token, "POST", "accounts", { name: "For the colleague", "ownerid@odata.bind": `/systemusers(${colleague})` });
    expect(created.status).toBe(204);
    expectOutOfReach(await api(o, local.token, "POST", "accounts", { name: "For the admin", "ownerid@odata.bind": `/systemusers(${DEMO.org.adminSystemUserId})` }), local.userId, "Create", "account");
    const count = await api(o, local.token, "GET", "accounts?$filter=name eq 'For the admin'");
    expect(count.body.value).toEqual([]);
  });

  it("Write and Delete check the existing row's depth; Delete needs prvDelete", async () => {
    const o = orgbox();
    const user = await userWith("basic writer", { prvCreateAccount: "Basic", prvReadAccount: "Global", prvWriteAccount: "Basic" });
    const own = (await api(o, user.token, "POST", "accounts", { name: "Own" })).headers.get("odata-entityid")?.match(/\(([0-9a-f-]{36})\)$/)?.[1] as string;
    expect((await api(o, user.token, "PATCH", `accounts(${own})`, { telephone1: "1" })).status).toBe(204);
    expectOutOfReach(await api(o, user.token, "PATCH", `accounts(${DEMO_ACCOUNT})`, { telephone1: "1" }), user.userId, "Write", "account");
    expectOutOfReach(await api(o, user.token, "PUT", `accounts(${DEMO_ACCOUNT})/telephone1`, { value: "1" }), user.userId, "Write", "account");
    expectDenied(await api(o, user.token, "DELETE", `accounts(${own})`), "prvDeleteAccount");

    await user.grant({ prvDeleteAccount: "Basic" });
    expectOutOfReach(await api(o, user.token, "DELETE", `accounts(${DEMO_ACCOUNT})`), user.userId, "Delete", "account");
    expect((await api(o, user.token, "DELETE", `accounts(${own})`)).status).toBe(204);
    expect((await api(o, user.token, "GET", `accounts(${DEMO_ACCOUNT})?$select=telephone1`)).body.telephone1).not.toBe("1");
  });

  it("changing ownerid is an Assign: prvAssign{Entity} at a depth reaching the record", async () => {
    const o = orgbox();
    const user = await userWith("assigner", { prvCreateAccount: "Basic", prvReadAccount: "Global", prvWriteAccount: "Global" });
    const own = (await api(o, user.token, "POST", "accounts", { name: "To assign" })).headers.get("odata-entityid")?.match(/\(([0-9a-f-]{36})\)$/)?.[1] as string;
    expectDenied(await api(o, user.token, "PATCH", `accounts(${own})`, { "ownerid@odata.bind": `/systemusers(${colleague})` }), "prvAssignAccount");
    await user.grant({ prvAssignAccount: "Basic" });
    expectOutOfReach(await api(o, user.token, "PATCH", `accounts(${DEMO_ACCOUNT})`, { "ownerid@odata.bind": `/systemusers(${colleague})` }), user.userId, "Assign", "account");
    expect((await api(o, user.token, "PATCH", `accounts(${own})`, { "ownerid@odata.bind": `/systemusers(${colleague})` })).status).toBe(204);
    expect((await api(o, user.token, "GET", `accounts(${own})?$select=_ownerid_value`)).body._ownerid_value).toBe(colleague);
  });

  it("a lookup set with @odata.bind needs Append on the source and AppendTo on the target", async () => {
    const o = orgbox();
    const user = await userWith("linker", { prvCreateContact: "Global", prvReadContact: "Global", prvReadAccount: "Global" });
    const body = { lastname: "Linked", "parentcustomerid_account@odata.bind": `/accounts(${DEMO_ACCOUNT})` };
    expectDenied(await api(o, user.token, "POST", "contacts", body), "prvAppendContact");
    await user.grant({ prvAppendContact: "Basic" });
    expectDenied(await api(o, user.token, "POST", "contacts", body), "prvAppendToAccount");
    await user.grant({ prvAppendToAccount: "Basic" });
    expectOutOfReach(await api(o, user.token, "POST", "contacts", body), user.userId, "AppendTo", "account");
    expect((await api(o, user.token, "GET", "contacts?$filter=lastname eq 'Linked'")).body.value).toEqual([]);
    await user.grant({ prvAppendToAccount: "Global" });
    expect((await api(o, user.token, "POST", "contacts", body)).status).toBe(204);
  });

  it("1:N $ref association checks AppendTo on the parent and Append on the child", async () => {
    const o = orgbox();
    const user = await userWith("ref linker", { prvCreateContact: "Basic", prvReadContact: "Global", prvWriteContact: "Basic", prvReadAccount: "Global" });
    const contact = (await api(o, user.token, "POST", "contacts", { lastname: "Ref child" })).headers.get("odata-entityid") as string;
    expectDenied(await api(o, user.token, "POST", `accounts(${DEMO_ACCOUNT})/contact_customer_accounts/$ref`, { "@odata.id": contact }), "prvAppendToAccount");
    await user.grant({ prvAppendToAccount: "Global" });
    expectDenied(await api(o, user.token, "POST", `accounts(${DEMO_ACCOUNT})/contact_customer_accounts/$ref`, { "@odata.id": contact }), "prvAppendContact");
    await user.grant({ prvAppendContact: "Basic" });
    expect((await api(o, user.token, "POST", `accounts(${DEMO_ACCOUNT})/contact_customer_accounts/$ref`, { "@odata.id": contact })).status).toBe(204);
  });
});
