/**
 * The standard tables carry the attributes Microsoft's table reference documents
 * (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/<table>), as held in
 * src/dataverse/metadata/data/standard-attributes.json: EntityDefinitions lists them with their
 * documented facts and $metadata has a property for each.
 */
import { XMLParser } from "fast-xml-parser";
import { beforeAll, describe, expect, it } from "vitest";
import { DOCUMENTED_TABLES, documentedAttributeLeftOut } from "../../src/dataverse/metadata/documented.ts";
import { STANDARD_TABLES } from "../../src/dataverse/metadata/standard.ts";
import { adminToken, apiCall, useOrgbox } from "../helpers/orgbox.ts";

const KNOWN = new Set(STANDARD_TABLES.map((t) => t.logicalName));
const LOOKUP_TYPES = new Set(["Lookup", "Customer", "Owner"]);

interface Named {
  Name: string;
}

describe("standard tables from the documented attribute sets", () => {
  const orgbox = useOrgbox();
  let token = "";
  let entityTypes: Map<string, Set<string>>;

  beforeAll(async () => {
    token = await adminToken(orgbox());
    const res = await apiCall(orgbox(), token, "GET", "$metadata");
    expect(res.status).toBe(200);
    const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (name, _p, _l, isAttribute) => !isAttribute && ["Schema", "EntityType", "Property"].includes(name) });
    const doc = parser.parse(res.text) as { "edmx:Edmx": { "edmx:DataServices": { Schema: { EntityType: (Named & { Property?: Named[] })[] }[] } } };
    const types = doc["edmx:Edmx"]["edmx:DataServices"].Schema.flatMap((s) => s.EntityType);
    entityTypes = new Map(types.map((t) => [t.Name, new Set((t.Property ?? []).map((p) => p.Name))]));
  });

  it("covers the tables of issue #12 with their page and commit", () => {
    for (const name of ["account", "team", "annotation", "transactioncurrency", "task", "phonecall", "email", "systemuser", "businessunit"]) {
      const table = DOCUMENTED_TABLES.get(name);
      expect(table?.source).toBe(`powerapps-docs/developer/data-platform/reference/entities/${name}.md`);
      expect(table?.commit).toMatch(/^[0-9a-f]{40}$/);
    }
    // opportunity is a Dynamics 365 Sales table: the Dataverse reference has no page for it.
    expect(DOCUMENTED_TABLES.get("opportunity")?.source).toBe("MicrosoftDocs/dynamics-365-customer-engagement:ce/developer/entities/opportunity.md");
    expect(DOCUMENTED_TABLES.get("opportunity")?.commit).toMatch(/^[0-9a-f]{40}$/);
    // account: the documented columns dataverse-ify's CRUD test writes, with their documented facts.
    const account = DOCUMENTED_TABLES.get("account")?.attributes ?? [];
    expect(account.find((a) => a.logicalName === "address1_latitude")).toMatchObject({ type: "Double", minValue: -90, maxValue: 90, precision: 5 });
    expect(account.find((a) => a.logicalName === "accountcategorycode")?.options).toEqual([{ value: 1, label: "Preferred Customer" }, { value: 2, label: "Standard" }]);
  });

  for (const [name, documented] of DOCUMENTED_TABLES) {
    it(`${name}: EntityDefinitions and $metadata list every documented attribute orgbox stores`, async () => {
      const kept = documented.attributes.filter((a) => documentedAttributeLeftOut(a, KNOWN) === undefined);
      const leftOut = documented.attributes.filter((a) => documentedAttributeLeftOut(a, KNOWN) !== undefined);
      expect(kept.length + leftOut.length).toBe(documented.attributes.length);
      expect(kept.length).toBeGreaterThan(0);

      const res = await apiCall(orgbox(), token, "GET", `EntityDefinitions(LogicalName='${name}')/Attributes?$select=LogicalName,SchemaName,AttributeType`);
      expect(res.status).toBe(200);
      const listed = new Map((res.body.value as { LogicalName: string; SchemaName: string; AttributeType: string }[]).map((a) => [a.LogicalName, a]));
      const keptNames = kept.map((a) => a.logicalName);
      // Every documented attribute orgbox stores is listed, under its documented schema name; those left out are not.
      expect(keptNames.filter((n) => !listed.has(n))).toEqual([]);
      for (const a of kept) expect(listed.get(a.logicalName)?.SchemaName).toBe(a.schemaName);
      expect(leftOut.map((a) => a.logicalName).filter((n) => listed.has(n) && !STANDARD_TABLES.find((t) => t.logicalName === name)?.attributes.some((x) => x.logicalName === n))).toEqual([]);
      // The attribute count: the documented ones kept, plus orgbox's own columns the page does not list.
      const own = (STANDARD_TABLES.find((t) => t.logicalName === name)?.attributes ?? []).filter((a) => !documented.attributes.some((d) => d.logicalName === a.logicalName));
      expect(listed.size).toBe(kept.length + own.length);

      // $metadata: a property for each (lookups as `_name_value`).
      const properties = entityTypes.get(name) as Set<string>;
      const wanted = kept.map((a) => (LOOKUP_TYPES.has(a.type) ? `_${a.logicalName}_value` : a.logicalName));
      expect(wanted.filter((p) => !properties.has(p))).toEqual([]);
    });
  }

  /** `EntityDefinitions(LogicalName='<table>')/Attributes`, by logical name. */
  async function attributesOf(table: string): Promise<Map<string, Record<string, unknown>>> {
    const res = await apiCall(orgbox(), token, "GET", `EntityDefinitions(LogicalName='${table}')/Attributes`);
    expect(res.status).toBe(200);
    return new Map((res.body.value as Record<string, unknown>[]).map((a) => [a.LogicalName as string, a]));
  }
  const required = (a: Record<string, unknown> | undefined) => (a?.RequiredLevel as { Value: string } | undefined)?.Value;

  it("email: the documented columns, without the PartyList recipients; orgbox's activity columns keep their behaviour", async () => {
    const email = await attributesOf("email");
    for (const party of ["from", "to", "cc", "bcc", "related"]) expect(email.has(party)).toBe(false); // PartyList
    expect(email.has("descriptionblobid")).toBe(false); // File
    expect(email.has("receivingmailboxid")).toBe(false); // Lookup to mailbox
    expect(email.get("subject")).toMatchObject({ AttributeType: "String", MaxLength: 800 });
    expect(required(email.get("subject"))).toBe("ApplicationRequired"); // orgbox's activity subject (the page: None)
    expect(email.get("emailsender")).toMatchObject({ AttributeType: "Lookup", IsValidForCreate: false });
    expect(email.get("parentactivityid")).toMatchObject({ AttributeType: "Lookup" });
    expect(entityTypes.get("email")?.has("_regardingobjectid_value")).toBe(true);
    const status = DOCUMENTED_TABLES.get("email")?.attributes.find((a) => a.logicalName === "statuscode");
    expect(status?.options?.map((o) => o.value)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("systemuser: the documented columns; the security principal's own columns keep orgbox's definitions", async () => {
    const user = await attributesOf("systemuser");
    expect(user.get("azureactivedirectoryobjectid")).toMatchObject({ AttributeType: "Uniqueidentifier", IsValidForCreate: false, IsValidForUpdate: false });
    expect(user.get("applicationid")).toMatchObject({ AttributeType: "Uniqueidentifier", IsValidForCreate: true });
    expect(user.get("fullname")).toMatchObject({ IsValidForCreate: false, MaxLength: 200 });
    expect(required(user.get("businessunitid"))).toBe("SystemRequired");
    expect(required(user.get("accessmode"))).toBe("None"); // orgbox's (the page: SystemRequired, filled by the platform)
    expect(required(user.get("internalemailaddress"))).toBe("None");
    // Documented columns orgbox adds: SystemRequired ones valid for create become ApplicationRequired.
    expect(user.get("setupuser")).toMatchObject({ AttributeType: "Boolean", IsValidForCreate: true });
    expect(required(user.get("setupuser"))).toBe("ApplicationRequired");
    expect(user.get("parentsystemuserid")).toMatchObject({ AttributeType: "Lookup" });
    expect(user.has("positionid")).toBe(false); // Lookup to position
    expect(user.has("entityimage")).toBe(false); // Image
    expect(user.has("activedirectoryguid")).toBe(false); // not valid for read
  });

  it("businessunit: the documented columns; the hierarchy lookup keeps orgbox's definition", async () => {
    const unit = await attributesOf("businessunit");
    expect(unit.get("parentbusinessunitid")).toMatchObject({ AttributeType: "Lookup", IsValidForCreate: true });
    expect(required(unit.get("parentbusinessunitid"))).toBe("None"); // orgbox's: the root business unit has none
    expect(required(unit.get("name"))).toBe("SystemRequired");
    expect(unit.get("organizationid")).toMatchObject({ AttributeType: "Lookup", IsValidForCreate: false });
    expect(unit.get("creditlimit")).toMatchObject({ AttributeType: "Double" });
    expect(unit.has("calendarid")).toBe(false); // Lookup to calendar
    expect(unit.has("usergroupid")).toBe(false); // not valid for read
  });

  it("writes and reads documented columns of opportunity, email, systemuser and businessunit", async () => {
    const opp = await apiCall(orgbox(), token, "POST", "opportunities", { name: "Documented", budgetamount: 1200.5, salesstage: 2, purchasetimeframe: 1, need: 0, "msdyn_forecastcategory": 100000002 });
    expect(opp.status).toBe(204);
    const oppUrl = opp.headers.get("odata-entityid") as string;
    const oppRead = await apiCall(orgbox(), token, "GET", `${oppUrl.slice(oppUrl.indexOf("opportunities("))}?$select=budgetamount,salesstage,purchasetimeframe,msdyn_forecastcategory`);
    expect(oppRead.body).toMatchObject({ budgetamount: 1200.5, salesstage: 2, purchasetimeframe: 1, msdyn_forecastcategory: 100000002 });

    const mail = await apiCall(orgbox(), token, "POST", "emails", { subject: "Documented", messageid: "<m1@example.com>", deliveryprioritycode: 2, readreceiptrequested: true });
    expect(mail.status).toBe(204);
    const mailUrl = mail.headers.get("odata-entityid") as string;
    const mailRead = await apiCall(orgbox(), token, "GET", `${mailUrl.slice(mailUrl.indexOf("emails("))}?$select=messageid,deliveryprioritycode,readreceiptrequested`);
    expect(mailRead.body).toMatchObject({ messageid: "<m1@example.com>", deliveryprioritycode: 2, readreceiptrequested: true });
    // A value outside a documented column's options is refused.
    const badMail = await apiCall(orgbox(), token, "POST", "emails", { subject: "Bad", deliveryprioritycode: 9 });
    expect(badMail.status).toBe(400);

    const root = await apiCall(orgbox(), token, "GET", "businessunits?$select=businessunitid&$filter=_parentbusinessunitid_value eq null");
    const rootId = (root.body.value as { businessunitid: string }[])[0]?.businessunitid as string;
    const unit = await apiCall(orgbox(), token, "POST", "businessunits", { name: "Documented BU", costcenter: "CC-42", "parentbusinessunitid@odata.bind": `/businessunits(${rootId})` });
    expect(unit.status).toBe(204);
    const unitUrl = unit.headers.get("odata-entityid") as string;
    const unitRead = await apiCall(orgbox(), token, "GET", `${unitUrl.slice(unitUrl.indexOf("businessunits("))}?$select=costcenter,_parentbusinessunitid_value`);
    expect(unitRead.body).toMatchObject({ costcenter: "CC-42", _parentbusinessunitid_value: rootId });

    const users = await apiCall(orgbox(), token, "GET", "systemusers?$select=systemuserid&$top=1");
    const userId = (users.body.value as { systemuserid: string }[])[0]?.systemuserid as string;
    expect((await apiCall(orgbox(), token, "PATCH", `systemusers(${userId})`, { jobtitle: "Tester", address1_city: "Oslo" })).status).toBe(204);
    const userRead = await apiCall(orgbox(), token, "GET", `systemusers(${userId})?$select=jobtitle,address1_city`);
    expect(userRead.body).toMatchObject({ jobtitle: "Tester", address1_city: "Oslo" });
  });

  it("leaves out the documented attributes of types orgbox does not store, and lookups to tables it does not have", async () => {
    const res = await apiCall(orgbox(), token, "GET", "EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName");
    const names = new Set((res.body.value as { LogicalName: string }[]).map((a) => a.LogicalName));
    expect(names.has("entityimage")).toBe(false); // Image
    expect(names.has("slaid")).toBe(false); // Lookup to sla
    expect(names.has("createdbyexternalparty")).toBe(false); // Lookup to externalparty
    expect(names.has("isprivate")).toBe(false); // IsValidForRead false
    expect(names.has("preferredsystemuserid")).toBe(true);
    expect(entityTypes.get("account")?.has("_slaid_value")).toBe(false);
  });
});
