import { DynamicsWebApi } from "dynamics-web-api";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO, type OrgboxInstance } from "../../src/index.ts";
import { adminToken, demoToken, useOrgbox } from "../helpers/orgbox.ts";

/**
 * The write side of the Web API through the real dynamics-web-api client, and
 * with plain fetch where the client hides status codes and headers.
 */

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface ApiResponse {
  status: number;
  headers: Headers;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

describe("Dataverse Web API writes", () => {
  const orgbox = useOrgbox();
  let token = "";
  let api: DynamicsWebApi;
  let callerId = "";

  /** A Web API call relative to apiUrl, JSON in and out. */
  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const response = await fetch(`${orgbox().apiUrl}/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: "application/json", "odata-version": "4.0", ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: ApiResponse["body"] = {};
    if (text && (response.headers.get("content-type") ?? "").includes("json")) parsed = JSON.parse(text) as ApiResponse["body"];
    else if (text) parsed = { text };
    return { status: response.status, headers: response.headers, body: parsed };
  }

  async function countAccountsNamed(name: string): Promise<number> {
    const res = await call("GET", `accounts?$select=name&$filter=name eq '${name}'`);
    return (res.body.value as unknown[]).length;
  }

  beforeAll(async () => {
    const instance: OrgboxInstance = orgbox();
    // The demo role has no Delete privilege (writes are privilege-checked): give the demo app one for the delete tests.
    const org = await instance.dataverse.service.findOrg(DEMO.org.name);
    if (!org) throw new Error("no demo org");
    const deleter = await instance.dataverse.service.createRole(org, { name: "Test deleter", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: ["Account", "Contact", "Lead"].map((t) => ({ name: `prvDelete${t}`, depth: "Global" as const })) });
    await instance.dataverse.service.assignRole(org, DEMO.org.applicationUserId, deleter);
    token = await demoToken(instance);
    api = new DynamicsWebApi({ serverUrl: `${instance.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    const who = await call("GET", "WhoAmI");
    callerId = String(who.body.UserId);
  });

  describe("create", () => {
    it("returns the new id from OData-EntityId (204, lower-case GUID) and fills platform columns", async () => {
      const id = await api.create<Record<string, unknown>, string>({ collection: "accounts", data: { name: "DWA Create", revenue: 1234.567, numberofemployees: 12, creditonhold: true, industrycode: 7 } });
      expect(id).toMatch(GUID_RE);
      const row = await api.retrieve({ collection: "accounts", key: id });
      expect(row).toMatchObject({ name: "DWA Create", revenue: 1234.57, numberofemployees: 12, creditonhold: true, industrycode: 7, statecode: 0, statuscode: 1 });
      expect(row._ownerid_value).toBe(callerId);
      expect(row._owninguser_value).toBe(callerId);
      expect(row._createdby_value).toBe(callerId);
      expect(row._owningbusinessunit_value).toMatch(GUID_RE);
      expect(row["@odata.etag"]).toMatch(/^W\/"\d+"$/);
      expect(row.createdon).toBeInstanceOf(Date); // DWA revives only YYYY-MM-DDTHH:MM:SSZ
    });

    it("answers 204 with OData-EntityId on the wire", async () => {
      const res = await call("POST", "accounts", { name: "Wire Create" });
      expect(res.status).toBe(204);
      expect(res.headers.get("odata-entityid")).toMatch(new RegExp(`^${orgbox().apiUrl.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/accounts\\([0-9a-f-]{36}\\)$`));
    });

    it("returns the record with Prefer: return=representation (201, $select honoured)", async () => {
      const created = await api.create<Record<string, unknown>, Record<string, unknown>>({ collection: "accounts", data: { name: "With Representation", telephone1: "555" }, returnRepresentation: true, select: ["name", "telephone1"] });
      expect(created).toMatchObject({ name: "With Representation", telephone1: "555" });
      expect(created.accountid).toMatch(GUID_RE);
      const res = await call("POST", "accounts?$select=name", { name: "Rep Wire" }, { prefer: "return=representation" });
      expect(res.status).toBe(201);
      expect(res.body["@odata.context"]).toBe(`${orgbox().apiUrl}/$metadata#accounts(name)/$entity`);
      expect(res.body["@odata.etag"]).toMatch(/^W\/"\d+"$/);
      expect(res.headers.get("preference-applied")).toBe("return=representation");
    });

    it("accepts a client-supplied primary key and refuses a taken one with 412", async () => {
      const id = "0f8fad5b-d9cb-469f-a165-70867728950e";
      const res = await call("POST", "accounts", { accountid: id.toUpperCase(), name: "Own Id" });
      expect(res.status).toBe(204);
      expect(res.headers.get("odata-entityid")).toMatch(new RegExp(`accounts\\(${id}\\)$`));
      const again = await call("POST", "accounts", { accountid: id, name: "Own Id again" });
      expect(again.status).toBe(412);
      expect(again.body.error).toEqual({ code: "0x80040237", message: "A record with matching key values already exists." });
    });

    it("sets lookups with @odata.bind (leading slash or not, absolute URL, polymorphic customer)", async () => {
      const accountId = await api.create<unknown, string>({ collection: "accounts", data: { name: "Parent Co" } });
      const contactId = await api.create<unknown, string>({ collection: "contacts", data: { firstname: "Ada", lastname: "Lovelace", "parentcustomerid_account@odata.bind": `/accounts(${accountId})` } });
      const contact = await api.retrieve({ collection: "contacts", key: contactId, select: ["fullname", "_parentcustomerid_value"] });
      expect(contact.fullname).toBe("Ada Lovelace");
      expect(contact._parentcustomerid_value).toBe(accountId);
      await api.update({ collection: "accounts", key: accountId, data: { "primarycontactid@odata.bind": `contacts(${contactId})` } });
      expect((await api.retrieve({ collection: "accounts", key: accountId, select: ["_primarycontactid_value"] }))._primarycontactid_value).toBe(contactId);
      const child = await call("POST", "accounts", { name: "Child Co", "parentaccountid@odata.bind": `${orgbox().apiUrl}/accounts(${accountId})` });
      expect(child.status).toBe(204);
    });

    it("assigns the owner with ownerid@odata.bind to a team", async () => {
      // The demo app cannot read teams (no prvReadTeam): create one as the admin center would.
      const who = await call("GET", "WhoAmI");
      const org = await orgbox().dataverse.service.findOrg("contoso");
      if (!org) throw new Error("the demo org is missing");
      const teamId = await orgbox().dataverse.service.insert(org, "team", { name: "Owners", businessunitid: String(who.body.BusinessUnitId), teamtype: 0, isdefault: false });
      const team = { teamid: teamId, _businessunitid_value: String(who.body.BusinessUnitId) };
      const res = await call("POST", "accounts?$select=_ownerid_value,_owningteam_value,_owninguser_value,_owningbusinessunit_value", { name: "Team Owned", "ownerid@odata.bind": `/teams(${team.teamid})` }, { prefer: "return=representation" });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ _ownerid_value: team.teamid, _owningteam_value: team.teamid, _owninguser_value: null, _owningbusinessunit_value: team._businessunitid_value });
    });

    it("refuses a bind to a record that does not exist with 404 0x80040217", async () => {
      const missing = "11111111-2222-3333-4444-555555555555";
      const res = await call("POST", "accounts", { name: "Dangling", "primarycontactid@odata.bind": `/contacts(${missing})` });
      expect(res.status).toBe(404);
      expect(res.body.error).toEqual({ code: "0x80040217", message: `contact With Id = ${missing} Does Not Exist` });
      expect(await countAccountsNamed("Dangling")).toBe(0);
    });

    it("refuses binds of the wrong type, undeclared navigation properties and batch references", async () => {
      const accountId = await api.create<unknown, string>({ collection: "accounts", data: { name: "Wrong Target" } });
      const wrong = await call("POST", "accounts", { name: "x", "primarycontactid@odata.bind": `/accounts(${accountId})` });
      expect(wrong.status).toBe(400);
      expect(wrong.body.error?.code).toBe("0x80048d19");
      const undeclared = await call("POST", "accounts", { name: "x", "name@odata.bind": `/accounts(${accountId})` });
      expect(undeclared.status).toBe(400);
      expect(undeclared.body.error?.message).toContain("An undeclared property 'name'");
      const contentId = await call("POST", "accounts", { name: "x", "parentaccountid@odata.bind": "$1" });
      expect(contentId.status).toBe(400);
      expect(contentId.body.error?.message).toBe("Content-ID Reference: '$1' does not exist in the batch context.");
      const rawLookup = await call("POST", "accounts", { name: "x", _parentaccountid_value: accountId });
      expect(rawLookup.status).toBe(400);
      const primitiveNav = await call("POST", "accounts", { name: "x", parentaccountid: accountId });
      expect(primitiveNav.status).toBe(400);
      expect(primitiveNav.body.error?.code).toBe("0x80048d19");
    });

    it("deep-inserts a single-valued related record and collection children in one transaction", async () => {
      const res = await call("POST", "accounts?$select=name,_primarycontactid_value", { name: "Deep Co", primarycontactid: { firstname: "Grace", lastname: "Hopper" }, contact_customer_accounts: [{ lastname: "Child One" }, { lastname: "Child Two" }] }, { prefer: "return=representation" });
      expect(res.status).toBe(201);
      const accountId = String(res.body.accountid);
      const primary = await api.retrieve({ collection: "contacts", key: String(res.body._primarycontactid_value), select: ["fullname"] });
      expect(primary.fullname).toBe("Grace Hopper");
      const children = await call("GET", `contacts?$select=lastname&$filter=_parentcustomerid_value eq ${accountId}`);
      expect((children.body.value as { lastname: string }[]).map((c) => c.lastname).sort()).toEqual(["Child One", "Child Two"]);
    });

    it("writes nothing when any part of a deep insert is invalid", async () => {
      const res = await call("POST", "accounts", { name: "Atomic Co", primarycontactid: { lastname: "Fine" }, contact_customer_accounts: [{ lastname: "ok" }, { lastname: "x".repeat(51) }] });
      expect(res.status).toBe(400);
      expect(res.body.error?.code).toBe("0x80044331");
      expect(await countAccountsNamed("Atomic Co")).toBe(0);
      const fine = await call("GET", "contacts?$select=lastname&$filter=lastname eq 'Fine'");
      expect(fine.body.value).toEqual([]);
    });

    it("rolls back a deep insert whose bound record is missing (failure after earlier inserts)", async () => {
      const missing = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
      const res = await call("POST", "accounts", { name: "Rollback Co", primarycontactid: { lastname: "Rolled Back" }, "parentaccountid@odata.bind": `/accounts(${missing})` });
      expect(res.status).toBe(404);
      const contacts = await call("GET", "contacts?$select=lastname&$filter=lastname eq 'Rolled Back'");
      expect(contacts.body.value).toEqual([]);
    });
  });

  describe("validation", () => {
    it("refuses an unknown property with 0x0", async () => {
      const res = await call("POST", "accounts", { name: "x", nosuchcolumn: 1 });
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({ code: "0x0", message: "Could not find a property named 'nosuchcolumn' on type 'Microsoft.Dynamics.CRM.account'." });
    });

    it("refuses a wrong JSON type", async () => {
      const res = await call("POST", "accounts", { name: "x", numberofemployees: "many" });
      expect(res.status).toBe(400);
      expect(res.body.error?.code).toBe("0x80048d19");
      expect(res.body.error?.message).toContain("Cannot convert the literal 'many' to the expected type 'Edm.Int32'.");
      for (const body of [{ name: 5 }, { name: "x", creditonhold: "yes" }, { name: "x", revenue: "lots" }, { name: "x", numberofemployees: 1.5 }]) {
        expect((await call("POST", "accounts", body)).status).toBe(400);
      }
    });

    it("refuses a string over MaxLength with 0x80044331", async () => {
      const res = await call("POST", "accounts", { name: "n".repeat(161) });
      expect(res.status).toBe(400);
      expect(res.body.error).toEqual({ code: "0x80044331", message: "A validation error occurred. The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'." });
      expect((await call("POST", "accounts", { name: "n".repeat(160) })).status).toBe(204);
    });

    it("refuses a choice value outside the options with 0x8004431a", async () => {
      const res = await call("POST", "accounts", { name: "x", industrycode: 999 });
      expect(res.status).toBe(400);
      expect(res.body.error?.code).toBe("0x8004431a");
      expect(res.body.error?.message).toContain("The value 999 of 'industrycode' on record of type 'account' is outside the valid range.");
    });

    it("refuses platform columns (IsValidForCreate/IsValidForUpdate false)", async () => {
      const created = await call("POST", "accounts", { name: "x", createdon: "2020-01-01T00:00:00Z" });
      expect(created.status).toBe(400);
      expect(created.body.error?.message).toContain("'createdon'");
      const fullname = await call("POST", "contacts", { lastname: "x", fullname: "Not Allowed" });
      expect(fullname.status).toBe(400);
    });

    it("requires SystemRequired columns on create", async () => {
      const res = await call("POST", "transactioncurrencies", { currencyname: "Euro" });
      expect(res.status).toBe(400);
      expect(res.body.error?.message).toContain("'isocurrencycode'");
    });

    it("accepts ISO dates for date-only columns and refuses invalid ones", async () => {
      const ok = await call("POST", "contacts?$select=birthdate", { lastname: "Born", birthdate: "1990-02-28" }, { prefer: "return=representation" });
      expect(ok.status).toBe(201);
      expect(ok.body.birthdate).toBe("1990-02-28");
      expect((await call("POST", "contacts", { lastname: "Born", birthdate: "1990-02-30" })).status).toBe(400);
      expect((await call("POST", "contacts", { lastname: "Born", birthdate: "1990-02-28T10:00:00Z" })).status).toBe(400);
    });

    it("refuses a body that is not a JSON object", async () => {
      expect((await call("POST", "accounts", [{ name: "x" }])).status).toBe(400);
      expect((await call("POST", "accounts", "{not json")).status).toBe(400);
    });
  });

  describe("update and upsert", () => {
    it("updates with DWA (If-Match: *), bumping versionnumber and modifiedon", async () => {
      const id = await api.create<unknown, string>({ collection: "contacts", data: { firstname: "Old", lastname: "Name" } });
      const before = await api.retrieve({ collection: "contacts", key: id, select: ["fullname", "versionnumber"] });
      await api.update({ collection: "contacts", key: id, data: { firstname: "New" } });
      const after = await api.retrieve({ collection: "contacts", key: id, select: ["fullname", "versionnumber", "_modifiedby_value"] });
      expect(after.fullname).toBe("New Name");
      // versionnumber is an Edm.Int64: a JSON number (IEEE754Compatible=false), and the ETag carries it.
      expect(typeof after.versionnumber).toBe("number");
      expect(after.versionnumber).toBeGreaterThan(before.versionnumber);
      expect(after["@odata.etag"]).toBe(`W/"${String(after.versionnumber)}"`);
      expect(after["@odata.etag"]).not.toBe(before["@odata.etag"]);
      expect(after._modifiedby_value).toBe(callerId);
    });

    it("returns the updated record with return=representation (200)", async () => {
      const id = await api.create<unknown, string>({ collection: "accounts", data: { name: "Before" } });
      const updated = await api.update({ collection: "accounts", key: id, data: { name: "After" }, returnRepresentation: true, select: ["name"] });
      expect(updated.name).toBe("After");
      const res = await call("PATCH", `accounts(${id})?$select=name`, { name: "Again" }, { prefer: "return=representation", "if-match": "*" });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ name: "Again", accountid: id });
    });

    it("answers 404 to an update of a missing record with If-Match: *", async () => {
      const missing = "22222222-3333-4444-5555-666666666666";
      await expect(api.update({ collection: "accounts", key: missing, data: { name: "x" } })).rejects.toMatchObject({ status: 404 });
      const res = await call("PATCH", `accounts(${missing})`, { name: "x" }, { "if-match": "*" });
      expect(res.status).toBe(404);
      expect(res.body.error).toEqual({ code: "0x80040217", message: `account With Id = ${missing} Does Not Exist` });
      expect((await call("GET", `accounts(${missing})`)).status).toBe(404);
    });

    it("creates a missing record on PATCH (upsert), also with If-None-Match: null", async () => {
      const id = "33333333-4444-4555-8666-777777777777";
      const res = await call("PATCH", `accounts(${id})`, { name: "Upserted" }, { "if-none-match": "null" });
      expect(res.status).toBe(204);
      expect(res.headers.get("odata-entityid")).toBe(`${orgbox().apiUrl}/accounts(${id})`);
      expect((await api.retrieve({ collection: "accounts", key: id, select: ["name"] })).name).toBe("Upserted");
      await api.upsert({ collection: "accounts", key: id, data: { name: "Upserted twice" } });
      expect((await api.retrieve({ collection: "accounts", key: id, select: ["name"] })).name).toBe("Upserted twice");
      const dwaId = "44444444-5555-4666-8777-888888888888";
      await api.upsert({ collection: "accounts", key: dwaId, data: { name: "DWA upsert" } });
      expect((await api.retrieve({ collection: "accounts", key: dwaId, select: ["name"] })).name).toBe("DWA upsert");
    });

    it("refuses an upsert with If-None-Match: * when the record exists (412)", async () => {
      const id = await api.create<unknown, string>({ collection: "accounts", data: { name: "Exists" } });
      expect(await api.upsert({ collection: "accounts", key: id, data: { name: "x" }, ifnonematch: "*" })).toBeNull();
      const res = await call("PATCH", `accounts(${id})`, { name: "x" }, { "if-none-match": "*" });
      expect(res.status).toBe(412);
      expect(res.body.error).toEqual({ code: "0x80040237", message: "A record with matching key values already exists." });
      expect((await api.retrieve({ collection: "accounts", key: id, select: ["name"] })).name).toBe("Exists");
    });

    it("applies optimistic concurrency with If-Match: W/\"n\"", async () => {
      const created = await api.create<Record<string, unknown>, Record<string, unknown>>({ collection: "accounts", data: { name: "Versioned" }, returnRepresentation: true, select: ["name"] });
      const etag = String(created["@odata.etag"]);
      const stale = await call("PATCH", `accounts(${String(created.accountid)})`, { name: "Stale" }, { "if-match": 'W/"1"' });
      expect(stale.status).toBe(412);
      expect(stale.body.error).toEqual({ code: "0x80060882", message: "The version of the existing record doesn't match the RowVersion property provided." });
      const fresh = await call("PATCH", `accounts(${String(created.accountid)})`, { name: "Fresh" }, { "if-match": etag });
      expect(fresh.status).toBe(204);
      expect(await api.update({ collection: "accounts", key: String(created.accountid), data: { name: "Stale again" }, ifmatch: etag })).toBe(false);
    });

    it("validates updates like creates and refuses deep update", async () => {
      const id = await api.create<unknown, string>({ collection: "accounts", data: { name: "Validate Update" } });
      expect((await call("PATCH", `accounts(${id})`, { name: "n".repeat(161) })).body.error?.code).toBe("0x80044331");
      expect((await call("PATCH", `accounts(${id})`, { versionnumber: 5 })).status).toBe(400);
      expect((await call("PATCH", `accounts(${id})`, { primarycontactid: { lastname: "Deep" } })).status).toBe(400);
      expect((await call("PATCH", `accounts(${id})`, { accountid: "99999999-9999-4999-8999-999999999999" })).status).toBe(400);
      expect((await call("PATCH", "accounts", { name: "x" })).status).toBe(405);
    });

    it("clears a lookup with @odata.bind null", async () => {
      const parent = await api.create<unknown, string>({ collection: "accounts", data: { name: "Unbind Parent" } });
      const child = await api.create<unknown, string>({ collection: "accounts", data: { name: "Unbind Child", "parentaccountid@odata.bind": `/accounts(${parent})` } });
      await api.update({ collection: "accounts", key: child, data: { "parentaccountid@odata.bind": null } });
      expect((await api.retrieve({ collection: "accounts", key: child, select: ["_parentaccountid_value"] }))._parentaccountid_value).toBeNull();
    });
  });

  describe("delete", () => {
    it("deletes with DWA, then the record is gone (404 on a second delete)", async () => {
      const id = await api.create<unknown, string>({ collection: "leads", data: { subject: "To delete", lastname: "Gone" } });
      await api.deleteRecord({ collection: "leads", key: id });
      expect((await call("GET", `leads(${id})`)).status).toBe(404);
      const again = await call("DELETE", `leads(${id})`);
      expect(again.status).toBe(404);
      expect(again.body.error?.code).toBe("0x80040217");
      expect((await call("DELETE", "leads")).status).toBe(405);
    });

    it("honours If-Match on delete", async () => {
      const id = await api.create<unknown, string>({ collection: "leads", data: { subject: "Versioned delete", lastname: "x" } });
      expect((await call("DELETE", `leads(${id})`, undefined, { "if-match": 'W/"1"' })).status).toBe(412);
      expect((await call("GET", `leads(${id})`)).status).toBe(200);
    });

    it("cascades to parental children and removes referential links", async () => {
      const accountId = await api.create<unknown, string>({ collection: "accounts", data: { name: "Cascade Parent" } });
      const contactId = await api.create<unknown, string>({ collection: "contacts", data: { lastname: "Cascade Child", "parentcustomerid_account@odata.bind": `/accounts(${accountId})` } });
      const childAccount = await api.create<unknown, string>({ collection: "accounts", data: { name: "Sub Account", "parentaccountid@odata.bind": `/accounts(${accountId})` } });
      const lead = await api.create<unknown, string>({ collection: "leads", data: { subject: "Lead", lastname: "L", "parentaccountid@odata.bind": `/accounts(${accountId})` } });
      const leadBefore = await api.retrieve({ collection: "leads", key: lead, select: ["versionnumber"] });
      await api.deleteRecord({ collection: "accounts", key: accountId });
      expect((await call("GET", `contacts(${contactId})`)).status).toBe(404); // contact_customer_accounts: Cascade
      expect((await api.retrieve({ collection: "accounts", key: childAccount, select: ["_parentaccountid_value"] }))._parentaccountid_value).toBeNull(); // account_parent_account: RemoveLink
      const leadAfter = await api.retrieve({ collection: "leads", key: lead, select: ["_parentaccountid_value", "versionnumber"] });
      expect(leadAfter._parentaccountid_value).toBeNull();
      expect(Number(leadAfter.versionnumber)).toBeGreaterThan(Number(leadBefore.versionnumber));
    });

    it("refuses to delete tables Dataverse never deletes from", async () => {
      const res = await call("DELETE", `systemusers(${callerId})`);
      expect(res.status).toBe(400);
    });
  });

  describe("single properties and $ref", () => {
    it("reads, sets and clears one property", async () => {
      const id = await api.create<unknown, string>({ collection: "accounts", data: { name: "Property", description: "text" } });
      await api.updateSingleProperty({ collection: "accounts", key: id, fieldValuePair: { telephone1: "555-0100" } });
      const got = await call("GET", `accounts(${id})/telephone1`);
      expect(got.status).toBe(200);
      expect(got.body).toEqual({ "@odata.context": `${orgbox().apiUrl}/$metadata#accounts(${id})/telephone1`, value: "555-0100" });
      const raw = await call("GET", `accounts(${id})/telephone1/$value`);
      expect(raw.body).toEqual({ text: "555-0100" });
      await api.deleteRecord({ collection: "accounts", key: id, property: "description" });
      expect((await call("GET", `accounts(${id})/description`)).body.value).toBeNull();
      expect((await call("PUT", `accounts(${id})/name`, { value: "n".repeat(161) })).status).toBe(400);
      expect((await call("PUT", `accounts(${id})/nosuch`, { value: 1 })).status).toBe(404);
      expect((await call("PUT", `accounts(${id})/createdon`, { value: "2020-01-01T00:00:00Z" })).status).toBe(400);
      expect((await call("PUT", "accounts(55555555-6666-4777-8888-999999999999)/name", { value: "x" })).status).toBe(404);
    });

    it("associates and disassociates single-valued navigation properties", async () => {
      const accountId = await api.create<unknown, string>({ collection: "accounts", data: { name: "Ref Parent" } });
      const contactId = await api.create<unknown, string>({ collection: "contacts", data: { lastname: "Ref Contact" } });
      await api.associateSingleValued({ collection: "accounts", primaryKey: accountId, navigationProperty: "primarycontactid", relatedCollection: "contacts", relatedKey: contactId });
      expect((await api.retrieve({ collection: "accounts", key: accountId, select: ["_primarycontactid_value"] }))._primarycontactid_value).toBe(contactId);
      const ref = await call("GET", `accounts(${accountId})/primarycontactid/$ref`);
      expect(ref.body["@odata.id"]).toBe(`${orgbox().apiUrl}/contacts(${contactId})`);
      await api.disassociateSingleValued({ collection: "accounts", primaryKey: accountId, navigationProperty: "primarycontactid" });
      expect((await api.retrieve({ collection: "accounts", key: accountId, select: ["_primarycontactid_value"] }))._primarycontactid_value).toBeNull();
      const relative = await call("PUT", `accounts(${accountId})/primarycontactid/$ref`, { "@odata.id": `contacts(${contactId})` });
      expect(relative.status).toBe(204);
    });

    it("associates and disassociates one-to-many children through the collection", async () => {
      const accountId = await api.create<unknown, string>({ collection: "accounts", data: { name: "Collection Parent" } });
      const contactId = await api.create<unknown, string>({ collection: "contacts", data: { lastname: "Collection Child" } });
      await api.associate({ collection: "accounts", primaryKey: accountId, relationshipName: "contact_customer_accounts", relatedCollection: "contacts", relatedKey: contactId });
      expect((await api.retrieve({ collection: "contacts", key: contactId, select: ["_parentcustomerid_value"] }))._parentcustomerid_value).toBe(accountId);
      const refs = await call("GET", `accounts(${accountId})/contact_customer_accounts/$ref`);
      expect(refs.status).toBe(200);
      expect(refs.body).toEqual({ "@odata.context": `${orgbox().apiUrl}/$metadata#Collection($ref)`, value: [{ "@odata.id": `${orgbox().apiUrl}/contacts(${contactId})` }] });
      expect((await call("GET", `accounts(${accountId})/contact_customer_accounts/$ref?$select=fullname`)).status).toBe(400);
      expect((await call("GET", `accounts(55555555-6666-4777-8888-999999999999)/contact_customer_accounts/$ref`)).status).toBe(404);
      // The collection itself, as dynamics-web-api reads it (retrieve with a collection-valued navigationProperty), with query options.
      const children = (await api.retrieve({ collection: "accounts", key: accountId, navigationProperty: "contact_customer_accounts", select: ["lastname"] })) as unknown as { value: Record<string, unknown>[] };
      expect(children.value.map((c) => [c.contactid, c.lastname])).toEqual([[contactId, "Collection Child"]]);
      const filtered = await call("GET", `accounts(${accountId})/contact_customer_accounts?$select=lastname&$filter=lastname eq 'nobody'`);
      expect(filtered.status).toBe(200);
      expect(filtered.body.value).toEqual([]);
      expect((await call("GET", `accounts(55555555-6666-4777-8888-999999999999)/contact_customer_accounts`)).status).toBe(404);
      await api.disassociate({ collection: "accounts", primaryKey: accountId, relationshipName: "contact_customer_accounts", relatedKey: contactId });
      expect((await api.retrieve({ collection: "contacts", key: contactId, select: ["_parentcustomerid_value"] }))._parentcustomerid_value).toBeNull();
      expect((await call("GET", `accounts(${accountId})/contact_customer_accounts/$ref`)).body.value).toEqual([]);
    });

    it("lists N:N links as references: GET systemusers(id)/systemuserroles_association/$ref", async () => {
      // The demo app's role cannot read systemusers: a System Administrator reads its own roles.
      const admin = await adminToken(orgbox());
      const get = async (path: string) => (await fetch(`${orgbox().apiUrl}/${path}`, { headers: { authorization: `Bearer ${admin}` } })).json() as Promise<Record<string, unknown>>;
      const whoami = (await get("WhoAmI")) as { UserId: string };
      const refs = await get(`systemusers(${whoami.UserId})/systemuserroles_association/$ref`);
      const value = refs.value as { "@odata.id": string }[];
      expect(value.length).toBeGreaterThan(0);
      for (const r of value) expect(r["@odata.id"]).toMatch(new RegExp(`^${orgbox().apiUrl.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/roles\\([0-9a-f-]{36}\\)$`));
    });

    it("creates a related record through a collection-valued navigation property", async () => {
      const accountId = await api.create<unknown, string>({ collection: "accounts", data: { name: "Related Parent" } });
      const res = await call("POST", `accounts(${accountId})/contact_customer_accounts`, { lastname: "Related Child" });
      expect(res.status).toBe(204);
      const id = /\(([0-9a-f-]{36})\)$/.exec(res.headers.get("odata-entityid") ?? "")?.[1] ?? "";
      expect((await api.retrieve({ collection: "contacts", key: id, select: ["_parentcustomerid_value"] }))._parentcustomerid_value).toBe(accountId);
    });
  });

  describe("alternate keys", () => {
    it("fails clearly for columns that are not an alternate key", async () => {
      const res = await call("GET", "accounts(accountnumber='ACC-1001')");
      expect(res.status).toBe(400);
      expect(res.body.error?.message).toContain("is not an alternate key of the table 'account'");
      expect((await call("PATCH", "contacts(firstname='Joe',emailaddress1='a@b.c')", { lastname: "x" })).status).toBe(400);
    });
  });

  describe("bulk", () => {
    it("CreateMultiple creates all targets atomically and returns their ids", async () => {
      const targets = [1, 2, 3].map((i) => ({ "@odata.type": "Microsoft.Dynamics.CRM.account", name: `Bulk ${i}` }));
      const res = await call("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", { Targets: targets });
      expect(res.status).toBe(200);
      const ids = res.body.Ids as string[];
      expect(ids).toHaveLength(3);
      for (const id of ids) expect(id).toMatch(GUID_RE);
      const bad = await call("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", { Targets: [{ "@odata.type": "Microsoft.Dynamics.CRM.account", name: "Bulk Atomic" }, { "@odata.type": "Microsoft.Dynamics.CRM.account", name: "n".repeat(161) }] });
      expect(bad.status).toBe(400);
      expect(await countAccountsNamed("Bulk Atomic")).toBe(0);
    });

    it("CreateMultiple through DWA callAction", async () => {
      const result = await api.callAction<{ Ids: string[] }>({ collection: "accounts", actionName: "Microsoft.Dynamics.CRM.CreateMultiple", action: { Targets: [{ "@odata.type": "Microsoft.Dynamics.CRM.account", name: "Bulk DWA" }] } });
      expect(result.Ids).toHaveLength(1);
    });

    it("UpdateMultiple and UpsertMultiple", async () => {
      const created = await call("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", { Targets: [{ "@odata.type": "Microsoft.Dynamics.CRM.account", name: "U1" }, { "@odata.type": "Microsoft.Dynamics.CRM.account", name: "U2" }] });
      const [a, b] = created.body.Ids as [string, string];
      const update = await call("POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", { Targets: [{ "@odata.type": "Microsoft.Dynamics.CRM.account", accountid: a, name: "U1 updated" }, { "@odata.type": "Microsoft.Dynamics.CRM.account", accountid: b, name: "U2 updated" }] });
      expect(update.status).toBe(204);
      expect((await api.retrieve({ collection: "accounts", key: b, select: ["name"] })).name).toBe("U2 updated");
      const newId = "66666666-7777-4888-8999-aaaaaaaaaaaa";
      const upsert = await call("POST", "accounts/Microsoft.Dynamics.CRM.UpsertMultiple", { Targets: [{ "@odata.type": "Microsoft.Dynamics.CRM.account", accountid: a, name: "U1 upserted" }, { "@odata.type": "Microsoft.Dynamics.CRM.account", accountid: newId, name: "U3 new" }] });
      expect(upsert.status).toBe(200);
      expect((upsert.body.Results as { RecordCreated: boolean }[]).map((r) => r.RecordCreated)).toEqual([false, true]);
      const missing = await call("POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", { Targets: [{ "@odata.type": "Microsoft.Dynamics.CRM.account", accountid: a, name: "not applied" }, { "@odata.type": "Microsoft.Dynamics.CRM.account", accountid: "77777777-8888-4999-8aaa-bbbbbbbbbbbb", name: "x" }] });
      expect(missing.status).toBe(404);
      expect((await api.retrieve({ collection: "accounts", key: a, select: ["name"] })).name).toBe("U1 upserted");
    });
  });
});
