/**
 * `$expand` on collection and single-record reads with the real dynamics-web-api client:
 * single- and collection-valued navigation properties, nested options, one nested level,
 * annotations on expanded rows, the caller's Read depth on expanded tables, and the
 * combinations Dataverse refuses (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/join-tables).
 */
import { DynamicsWebApi } from "dynamics-web-api";
import { beforeAll, describe, expect, it } from "vitest";
import type { Org } from "../../src/dataverse/index.ts";
import { DEMO, SAMPLE_ACCOUNTS, sampleId } from "../../src/server/demo.ts";
import { systemAdministratorToken } from "../helpers/dwa.ts";
import { apiCall, apiGet, demoToken, useOrgbox } from "../helpers/orgbox.ts";
import { appUser } from "../helpers/security.ts";

type Row = Record<string, unknown>;
type ErrorBody = { error: { code: string; message: string } };

/** Seeded contact `i` points at seeded account `i % 20` (src/server/seed.ts). */
const ACCOUNT_COUNT = SAMPLE_ACCOUNTS.length;

describe("$expand with dynamics-web-api", () => {
  const orgbox = useOrgbox();
  let token = "";
  let dwa: DynamicsWebApi;
  let accountId = "";
  let emptyAccountId = "";
  const childIds: string[] = [];

  beforeAll(async () => {
    token = await demoToken(orgbox());
    dwa = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    accountId = (await dwa.create({ collection: "accounts", data: { name: "Expand Holdings", "primarycontactid@odata.bind": `/contacts(${sampleId(2, 0)})` } })) as string;
    emptyAccountId = (await dwa.create({ collection: "accounts", data: { name: "Expand Empty" } })) as string;
    for (const lastname of ["Beta", "alpha", "Gamma", "delta"]) {
      childIds.push((await dwa.create({ collection: "contacts", data: { firstname: "Exp", lastname, "parentcustomerid_account@odata.bind": `/accounts(${accountId})` } })) as string);
    }
  });

  it("expands a single-valued navigation property on a collection: the record with its key (no ETag), or null", async () => {
    const res = await dwa.retrieveMultiple<Row>({
      collection: "accounts",
      select: ["name"],
      filter: `accountid eq ${accountId} or accountid eq ${emptyAccountId}`,
      orderBy: ["name"],
      expand: [{ property: "primarycontactid", select: ["lastname", "firstname"] }],
    });
    expect(res.value.map((r) => r.name)).toEqual(["Expand Empty", "Expand Holdings"]);
    expect(res.value[0]?.primarycontactid).toBeNull();
    const contact = res.value[1]?.primarycontactid as Row;
    // As in join-tables.md's examples, a single-valued expansion carries no @odata.etag.
    expect(Object.keys(contact).sort()).toEqual(["contactid", "firstname", "lastname"]);
    expect(contact.contactid).toBe(sampleId(2, 0));
    expect(res.oDataContext).toMatch(/\$metadata#accounts\(name,primarycontactid\(lastname,firstname\)\)$/);
  });

  it("expands a customer lookup on every row of a page (the seeded contacts → their accounts)", async () => {
    const res = await dwa.retrieveMultiple<Row>({ collection: "contacts", select: ["lastname"], filter: "firstname ne 'Exp' and firstname ne null", expand: [{ property: "parentcustomerid_account", select: ["name"] }] });
    expect(res.value.length).toBe(ACCOUNT_COUNT * 2);
    for (const row of res.value) {
      const index = Number(String(row.contactid).slice(-12)) - 1;
      const account = row.parentcustomerid_account as Row;
      expect(account.accountid).toBe(sampleId(1, index % ACCOUNT_COUNT));
      expect(account.name).toBe(SAMPLE_ACCOUNTS[index % ACCOUNT_COUNT]);
    }
  });

  it("nav/$ref returns references and the lookup's value; on a collection it is refused as Dataverse refuses it", async () => {
    const res = await apiGet(orgbox(), token, `contacts?$select=lastname&$filter=contactid eq ${sampleId(2, 3)}&$expand=parentcustomerid_account/$ref`);
    expect(res.status).toBe(200);
    const body = res.body as { "@odata.context": string; value: Row[] };
    expect(body["@odata.context"]).toMatch(/\$metadata#contacts\(lastname,parentcustomerid_account,parentcustomerid_account\/\$ref\(\)\)$/);
    expect(body.value[0]).toMatchObject({ _parentcustomerid_value: sampleId(1, 3), parentcustomerid_account: { "@odata.id": `${orgbox().apiUrl}/accounts(${sampleId(1, 3)})` } });
    // The contact side of the customer lookup points at no contact: null.
    const asContact = await apiGet(orgbox(), token, `contacts?$select=lastname&$filter=contactid eq ${sampleId(2, 3)}&$expand=parentcustomerid_contact/$ref`);
    expect((asContact.body as { value: Row[] }).value[0]).toMatchObject({ parentcustomerid_contact: null });
    const collection = await apiGet(orgbox(), token, "accounts?$select=name&$expand=contact_customer_accounts/$ref");
    expect(collection.status).toBe(400);
    expect(collection.body).toEqual({ error: { code: "0x80060888", message: "Expand with $ref is only supported on lookup type navigation property." } });
  });

  it("systemuser and team records carry their key as ownerid too (principal inheritance), and a write may echo it", async () => {
    const admin = await systemAdministratorToken(orgbox(), "principal reader");
    const api = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => admin });
    const res = await api.retrieveMultiple<Row>({ collection: "accounts", select: ["name"], filter: `accountid eq ${sampleId(1, 0)}`, expand: [{ property: "createdby", select: ["fullname"] }] });
    const creator = res.value[0]?.createdby as Row;
    expect(creator.ownerid).toBe(creator.systemuserid);
    const [team] = (await api.retrieveMultiple<Row>({ collection: "teams", select: ["name"], top: 1 })).value as Row[];
    expect(team?.ownerid).toBe(team?.teamid);
    // A read record sent back as it came: ownerid stands for the key.
    await api.update({ collection: "teams", key: String(team?.teamid), data: { name: team?.name, ownerid: team?.teamid } });
    const other = await apiCall(orgbox(), admin, "PATCH", `teams(${String(team?.teamid)})`, { ownerid: sampleId(1, 0) });
    expect(other.status).toBe(400);
  });

  it("expands a collection-valued navigation property with nested $select, $filter, $orderby and $top on retrieve", async () => {
    const all = await dwa.retrieve<Row>({ collection: "accounts", key: accountId, select: ["name"], expand: [{ property: "contact_customer_accounts", select: ["lastname"] }] });
    const children = all.contact_customer_accounts as Row[];
    expect(children.map((c) => c.contactid).sort()).toEqual([...childIds].sort());
    expect(Object.keys(children[0] ?? {}).sort()).toEqual(["@odata.etag", "contactid", "lastname"]);
    expect(all["contact_customer_accounts@odata.nextLink"]).toBeUndefined();

    const some = await dwa.retrieve<Row>({
      collection: "accounts",
      key: accountId,
      select: ["name"],
      expand: [
        { property: "contact_customer_accounts", select: ["lastname"], filter: "lastname ne 'Gamma'", orderBy: ["lastname desc"], top: 2 },
        { property: "primarycontactid", select: ["lastname"] },
      ],
    });
    // Case-insensitive order, like Dataverse's collation: delta, Beta, alpha.
    expect((some.contact_customer_accounts as Row[]).map((c) => c.lastname)).toEqual(["delta", "Beta"]);
    expect((some.primarycontactid as Row).contactid).toBe(sampleId(2, 0));
    expect(some.oDataContext).toMatch(/\$metadata#accounts\(name,contact_customer_accounts\(lastname\),primarycontactid\(lastname\)\)\/\$entity$/);

    const none = await dwa.retrieve<Row>({ collection: "accounts", key: emptyAccountId, select: ["name"], expand: [{ property: "contact_customer_accounts", select: ["lastname"] }] });
    expect(none.contact_customer_accounts).toEqual([]);
  });

  it("applies a collection expand's $top per parent row, not per page", async () => {
    const ids = Array.from({ length: 5 }, (_, i) => sampleId(1, i));
    const res = await dwa.retrieveMultiple<Row>({
      collection: "accounts",
      select: ["name"],
      filter: `Microsoft.Dynamics.CRM.In(PropertyName='accountid',PropertyValues=[${ids.map((id) => `'${id}'`).join(",")}])`,
      expand: [{ property: "contact_customer_accounts", select: ["lastname"], orderBy: ["lastname"], top: 1 }],
    });
    expect(res.value).toHaveLength(5);
    for (const row of res.value) {
      const contacts = row.contact_customer_accounts as Row[];
      const index = Number(String(row.accountid).slice(-12)) - 1;
      expect(contacts).toHaveLength(1);
      // Contacts i and i+20 point at account i; "Name" sorts before "Name-20".
      expect(contacts[0]?.contactid).toBe(sampleId(2, index));
    }
    const unlimited = await dwa.retrieveMultiple<Row>({ collection: "accounts", select: ["name"], filter: `accountid eq ${ids[0]}`, expand: [{ property: "contact_customer_accounts", select: ["lastname"] }] });
    expect((unlimited.value[0]?.contact_customer_accounts as Row[]).map((c) => c.contactid).sort()).toEqual([sampleId(2, 0), sampleId(2, ACCOUNT_COUNT)]);
  });

  it("nests a single-valued expand inside a collection expand and a collection expand inside a single-valued one", async () => {
    const down = await dwa.retrieveMultiple<Row>({
      collection: "accounts",
      select: ["name"],
      filter: `accountid eq ${accountId}`,
      expand: [{ property: "contact_customer_accounts", select: ["lastname"], expand: [{ property: "parentcustomerid_account", select: ["name"] }] }],
    });
    const children = down.value[0]?.contact_customer_accounts as Row[];
    expect(children).toHaveLength(4);
    for (const child of children) expect(child.parentcustomerid_account).toMatchObject({ accountid: accountId, name: "Expand Holdings" });

    const up = await dwa.retrieve<Row>({
      collection: "contacts",
      key: childIds[0] as string,
      select: ["lastname"],
      expand: [{ property: "parentcustomerid_account", select: ["name"], expand: [{ property: "contact_customer_accounts", select: ["lastname"] }] }],
    });
    const parent = up.parentcustomerid_account as Row;
    expect(parent.name).toBe("Expand Holdings");
    expect((parent.contact_customer_accounts as Row[]).map((c) => c.lastname).sort()).toEqual(["Beta", "Gamma", "alpha", "delta"]);
  });

  it("returns up to 5000 rows of a single-level collection expand, then <nav>@odata.nextLink to the rest", async () => {
    const big = (await dwa.create({ collection: "accounts", data: { name: "Expand Big" } })) as string;
    for (let start = 0; start < 5001; start += 1000) {
      const targets = Array.from({ length: Math.min(1000, 5001 - start) }, (_, i) => ({ "@odata.type": "Microsoft.Dynamics.CRM.contact", lastname: `Bulk ${String(start + i).padStart(5, "0")}`, "parentcustomerid_account@odata.bind": `/accounts(${big})` }));
      await dwa.callAction({ collection: "contacts", actionName: "Microsoft.Dynamics.CRM.CreateMultiple", action: { Targets: targets } });
    }
    const res = await dwa.retrieve<Row>({ collection: "accounts", key: big, select: ["name"], expand: [{ property: "contact_customer_accounts", select: ["lastname"], orderBy: ["lastname"] }] });
    const first = res.contact_customer_accounts as Row[];
    expect(first).toHaveLength(5000);
    expect(first[4999]?.lastname).toBe("Bulk 04999");
    const link = res["contact_customer_accounts@odata.nextLink"];
    expect(typeof link).toBe("string");
    const rest = await dwa.retrieveMultiple<Row>({ collection: "contacts" }, link as string);
    expect(rest.value.map((r) => r.lastname)).toEqual(["Bulk 05000"]);
    expect(rest.oDataNextLink).toBeUndefined();
    // Ordered by a column its $select leaves out (descending): the nextLink's cookie still carries that column's last value.
    const desc = await dwa.retrieve<Row>({ collection: "accounts", key: big, select: ["name"], expand: [{ property: "contact_customer_accounts", select: ["firstname"], orderBy: ["lastname desc"] }] });
    expect(desc.contact_customer_accounts as Row[]).toHaveLength(5000);
    const tail = await dwa.retrieveMultiple<Row>({ collection: "contacts" }, desc["contact_customer_accounts@odata.nextLink"] as string);
    expect(tail.value.map((r) => r.contactid)).toEqual([first[0]?.contactid]);

    // A nested level under 5001 rows (5000 shown plus the one that proves more remain) reads its keys in two statements.
    const firstBulk = first[0]?.contactid as string;
    const grandchild = (await dwa.create({ collection: "contacts", data: { lastname: "Grandchild", "parentcustomerid_contact@odata.bind": `/contacts(${firstBulk})` } })) as string;
    const nested = await dwa.retrieve<Row>({
      collection: "accounts",
      key: big,
      select: ["name"],
      expand: [{ property: "contact_customer_accounts", select: ["lastname"], expand: [{ property: "parentcustomerid_account", select: ["name"] }, { property: "contact_customer_contacts", select: ["lastname"] }] }],
    });
    const withParents = nested.contact_customer_accounts as Row[];
    expect(withParents).toHaveLength(5000);
    expect(withParents.every((c) => (c.parentcustomerid_account as Row).accountid === big)).toBe(true);
    const grandchildren = withParents.flatMap((c) => (c.contact_customer_contacts as Row[]).map((g) => [c.contactid, g.contactid]));
    expect(grandchildren).toEqual([[firstBulk, grandchild]]);
  }, 60_000);

  it("expands on create with return=representation and on an empty page", async () => {
    const created = await dwa.create<Row>({ collection: "accounts", data: { name: "Expand Created", "primarycontactid@odata.bind": `/contacts(${sampleId(2, 1)})` }, returnRepresentation: true, select: ["name"], expand: [{ property: "primarycontactid", select: ["lastname"] }] });
    expect(created.name).toBe("Expand Created");
    expect((created.primarycontactid as Row).contactid).toBe(sampleId(2, 1));
    const empty = await dwa.retrieveMultiple<Row>({ collection: "accounts", select: ["name"], filter: "name eq 'no such account'", expand: [{ property: "primarycontactid" }, { property: "contact_customer_accounts" }] });
    expect(empty.value).toEqual([]);
  });

  it("annotates expanded rows when annotations are requested", async () => {
    const res = await dwa.retrieve<Row>({
      collection: "accounts",
      key: accountId,
      select: ["name"],
      includeAnnotations: "OData.Community.Display.V1.FormattedValue",
      expand: [{ property: "contact_customer_accounts", select: ["lastname", "_parentcustomerid_value"], filter: "lastname eq 'Beta'" }],
    });
    const [child] = res.contact_customer_accounts as Row[];
    expect(child?._parentcustomerid_value).toBe(accountId);
    expect(child?.["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"]).toBe("Expand Holdings");
    expect(child?._parentcustomerid_value_Formatted).toBe("Expand Holdings");
  });

  it("refuses options a single-valued expand does not take and unknown properties, naming them", async () => {
    await expect(dwa.retrieveMultiple({ collection: "accounts", select: ["name"], expand: [{ property: "primarycontactid", filter: "lastname eq 'x'" }] })).rejects.toMatchObject({
      status: 400,
      code: "0x80060888",
      message: expect.stringContaining("$filter inside $expand of the single-valued navigation property 'primarycontactid'"),
    });
    await expect(dwa.retrieve({ collection: "accounts", key: accountId, expand: [{ property: "nosuchnav" }] })).rejects.toMatchObject({
      status: 400,
      message: "Could not find a property named 'nosuchnav' on type 'Microsoft.Dynamics.CRM.account'.",
    });
    await expect(dwa.retrieve({ collection: "accounts", key: accountId, expand: [{ property: "primarycontactid", select: ["nosuchcolumn"] }] })).rejects.toMatchObject({
      message: "Could not find a property named 'nosuchcolumn' on type 'Microsoft.Dynamics.CRM.contact'.",
    });
  });
});

describe("$expand negative paths (raw HTTP)", () => {
  const orgbox = useOrgbox();

  async function get(path: string): Promise<{ status: number; body: ErrorBody }> {
    const o = orgbox();
    const res = await apiGet(o, await demoToken(o), path);
    return { status: res.status, body: res.body as ErrorBody };
  }

  it("refuses 16 expands, $skip/$count/$levels inside an expand, and $top/$orderby with a nested expand with 0x80060888", async () => {
    const sixteen = Array.from({ length: 16 }, (_, i) => (i === 0 ? "primarycontactid" : `nav${i}`)).join(",");
    const cases: [string, string][] = [
      [`accounts?$expand=${sixteen}`, "$expand with 16 navigation properties (the maximum is 15)"],
      ["accounts?$expand=contact_customer_accounts($skip=1)", "$skip inside $expand (contact_customer_accounts)"],
      ["accounts?$expand=contact_customer_accounts($count=true)", "$count inside $expand (contact_customer_accounts)"],
      ["accounts?$expand=contact_customer_accounts($levels=2)", "$levels inside $expand (contact_customer_accounts)"],
      ["accounts?$expand=contact_customer_accounts($top=1;$expand=parentcustomerid_account)", "$top with a nested $expand (contact_customer_accounts)"],
      ["accounts?$expand=contact_customer_accounts($orderby=lastname;$expand=parentcustomerid_account)", "$orderby with a nested $expand (contact_customer_accounts)"],
    ];
    for (const [path, detail] of cases) {
      const res = await get(path);
      expect(res.status, path).toBe(400);
      expect(res.body.error.code, path).toBe("0x80060888");
      expect(res.body.error.message, path).toContain(detail);
    }
  });

  it("refuses syntax errors, polymorphic expands and $expand with /$count", async () => {
    for (const path of ["accounts?$expand=primarycontactid(", "accounts?$expand=primarycontactid($select=)", "accounts?$expand="]) {
      const res = await get(path);
      expect(res.status, path).toBe(400);
      expect(res.body.error.code, path).toBe("0x80060888");
    }
    const owner = await get("accounts?$expand=ownerid");
    expect(owner.body.error.message).toContain("polymorphic navigation property 'ownerid'");
    const count = await get("accounts/$count?$expand=primarycontactid");
    expect(count.status).toBe(400);
    expect(count.body.error.message).toContain("$expand with /$count");
  });
});

describe("$expand and the security model", () => {
  const orgbox = useOrgbox();

  async function contoso(): Promise<Org> {
    return (await orgbox().dataverse.service.findOrg("contoso")) as Org;
  }

  it("a role with prvReadAccount but not prvReadContact gets 403 0x80040220 expanding contacts, either way round", async () => {
    const o = orgbox();
    const org = await contoso();
    const role = await o.dataverse.service.createRole(org, { name: "Accounts only", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadAccount", depth: "Global" }] });
    const { token, userId } = await appUser(o, org, "accounts only", DEMO.org.rootBusinessUnitId, [role]);
    expect((await apiGet(o, token, "accounts?$select=name&$top=1")).status).toBe(200);
    for (const path of [
      "accounts?$select=name&$expand=contact_customer_accounts($select=lastname)",
      `accounts(${sampleId(1, 0)})?$select=name&$expand=primarycontactid`,
    ]) {
      const res = await apiGet(o, token, path);
      expect(res.status, path).toBe(403);
      const error = (res.body as ErrorBody).error;
      expect(error.code, path).toBe("0x80040220");
      expect(error.message, path).toContain(`is missing prvReadContact privilege`);
      expect(error.message, path).toContain(`context.Caller=${userId}`);
    }
  });

  it("expands an N:N navigation property (a user's roles) once the caller may read both tables", async () => {
    const o = orgbox();
    const org = await contoso();
    const role = await o.dataverse.service.createRole(org, { name: "User reader", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadUser", depth: "Global" }, { name: "prvReadRole", depth: "Global" }] });
    const { token, userId } = await appUser(o, org, "user reader", DEMO.org.rootBusinessUnitId, [role]);
    const res = await apiGet(o, token, `systemusers?$select=fullname&$filter=systemuserid eq ${userId}&$expand=systemuserroles_association($select=name)`);
    expect(res.status).toBe(200);
    const [user] = (res.body as { value: { systemuserroles_association: { name: string }[] }[] }).value;
    expect(user?.systemuserroles_association.map((r) => r.name)).toEqual(["User reader"]);
  });

  it("filters expanded rows by the caller's Read depth on the expanded table", async () => {
    const o = orgbox();
    const org = await contoso();
    const role = await o.dataverse.service.createRole(org, {
      name: "Accounts, own contacts",
      businessUnitId: DEMO.org.rootBusinessUnitId,
      privileges: [
        { name: "prvReadAccount", depth: "Global" },
        { name: "prvReadContact", depth: "Basic" },
        { name: "prvCreateContact", depth: "Basic" },
        { name: "prvAppendContact", depth: "Basic" },
        { name: "prvAppendToAccount", depth: "Global" },
      ],
    });
    const { token } = await appUser(o, org, "own contacts", DEMO.org.rootBusinessUnitId, [role]);
    const dwa = new DynamicsWebApi({ serverUrl: `${o.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    const account = sampleId(1, 0);
    const mine = (await dwa.create({ collection: "contacts", data: { lastname: "Mine", "parentcustomerid_account@odata.bind": `/accounts(${account})` } })) as string;

    const res = await dwa.retrieve<Row>({ collection: "accounts", key: account, select: ["name"], expand: [{ property: "contact_customer_accounts", select: ["lastname"] }] });
    expect((res.contact_customer_accounts as Row[]).map((c) => c.contactid)).toEqual([mine]);

    // The seeded contact is owned by someone else: the single-valued expand comes back null.
    const seeded = await dwa.retrieveMultiple<Row>({ collection: "accounts", select: ["name"], filter: `accountid eq ${account}`, expand: [{ property: "primarycontactid", select: ["lastname"] }] });
    expect(seeded.value[0]?.primarycontactid).toBeNull();
  });
});
