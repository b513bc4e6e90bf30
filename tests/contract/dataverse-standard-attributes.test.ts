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
    for (const name of ["account", "contact", "team", "annotation", "transactioncurrency", "task", "phonecall", "email", "systemuser", "businessunit"]) {
      const table = DOCUMENTED_TABLES.get(name);
      expect(table?.source).toBe(`powerapps-docs/developer/data-platform/reference/entities/${name}.md`);
      expect(table?.commit).toMatch(/^[0-9a-f]{40}$/);
    }
    // lead and opportunity are Dynamics 365 Sales tables: the Dataverse reference has no page for them.
    expect(DOCUMENTED_TABLES.get("lead")?.source).toBe("MicrosoftDocs/dynamics-365-customer-engagement:ce/developer/reference/entities/lead.md");
    expect(DOCUMENTED_TABLES.get("opportunity")?.source).toBe("MicrosoftDocs/dynamics-365-customer-engagement:ce/developer/entities/opportunity.md");
    for (const name of ["lead", "opportunity"]) expect(DOCUMENTED_TABLES.get(name)?.commit).toMatch(/^[0-9a-f]{40}$/);
    // account: the documented columns dataverse-ify's CRUD test writes, with their documented facts.
    const account = DOCUMENTED_TABLES.get("account")?.attributes ?? [];
    expect(account.find((a) => a.logicalName === "address1_latitude")).toMatchObject({ type: "Double", minValue: -90, maxValue: 90, precision: 5 });
    expect(account.find((a) => a.logicalName === "accountcategorycode")?.options).toEqual([{ value: 1, label: "Preferred Customer" }, { value: 2, label: "Standard" }]);
    // contact and lead: the complete attribute sets of their pages (lookup display-name attributes aside).
    const contact = DOCUMENTED_TABLES.get("contact")?.attributes ?? [];
    const lead = DOCUMENTED_TABLES.get("lead")?.attributes ?? [];
    expect(contact).toHaveLength(195);
    expect(lead).toHaveLength(165);
    expect(contact.find((a) => a.logicalName === "familystatuscode")?.options).toEqual([{ value: 1, label: "Single" }, { value: 2, label: "Married" }, { value: 3, label: "Divorced" }, { value: 4, label: "Widowed" }]);
    expect(contact.find((a) => a.logicalName === "anniversary")).toMatchObject({ type: "DateTime", dateTimeBehavior: "DateOnly", format: "DateOnly" });
    expect(contact.find((a) => a.logicalName === "lastname")).toMatchObject({ requiredLevel: "ApplicationRequired", maxLength: 50 });
    expect(contact.find((a) => a.logicalName === "parentcustomerid")).toMatchObject({ type: "Customer", targets: ["account", "contact"] });
    expect(lead.find((a) => a.logicalName === "statuscode")?.options).toEqual([
      { value: 1, label: "New", state: 0 },
      { value: 2, label: "Contacted", state: 0 },
      { value: 3, label: "Qualified", state: 1 },
      { value: 4, label: "Lost", state: 2 },
      { value: 5, label: "Cannot Contact", state: 2 },
      { value: 6, label: "No Longer Interested", state: 2 },
      { value: 7, label: "Canceled", state: 2 },
    ]);
    expect(lead.find((a) => a.logicalName === "budgetamount")).toMatchObject({ type: "Money", minValue: 0, maxValue: 1000000000000, precision: 2 });
    expect(lead.find((a) => a.logicalName === "customerid")).toMatchObject({ type: "Customer", targets: ["account", "contact"] });
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
    // Creatable since interactive users are created with it (POST systemusers, issue #14); never updatable.
    expect(user.get("azureactivedirectoryobjectid")).toMatchObject({ AttributeType: "Uniqueidentifier", IsValidForCreate: true, IsValidForUpdate: false });
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

  it("contact: documented columns round-trip and orgbox's own columns keep their behaviour", async () => {
    const account = await apiCall(orgbox(), token, "POST", "accounts", { name: "Contoso (contact columns)" });
    expect(account.status).toBe(204);
    const accountId = /\(([^)]+)\)/.exec(account.headers.get("odata-entityid") ?? "")?.[1] as string;
    const created = await apiCall(orgbox(), token, "POST", "contacts", {
      firstname: "Ana",
      lastname: "Trujillo",
      "parentcustomerid_account@odata.bind": `/accounts(${accountId})`,
      address3_city: "Lyon",
      anniversary: "2020-06-15",
      familystatuscode: 2,
      annualincome: 52000.5,
      nickname: "Anita",
      donotemail: true,
    });
    expect(created.status).toBe(204);
    const id = /\(([^)]+)\)/.exec(created.headers.get("odata-entityid") ?? "")?.[1] as string;
    const read = await apiCall(orgbox(), token, "GET", `contacts(${id})?$select=fullname,address3_city,anniversary,familystatuscode,annualincome,nickname,donotemail,_parentcustomerid_value,parentcustomeridtype,statecode,statuscode,_ownerid_value`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ fullname: "Ana Trujillo", address3_city: "Lyon", anniversary: "2020-06-15", familystatuscode: 2, annualincome: 52000.5, nickname: "Anita", donotemail: true, _parentcustomerid_value: accountId, parentcustomeridtype: "account", statecode: 0, statuscode: 1 });
    expect(read.body._ownerid_value).toMatch(/^[0-9a-f-]{36}$/);
    // fullname is still computed: a new last name changes it; it cannot be written.
    expect((await apiCall(orgbox(), token, "PATCH", `contacts(${id})`, { lastname: "Moreno" })).status).toBe(204);
    expect((await apiCall(orgbox(), token, "GET", `contacts(${id})?$select=fullname`)).body.fullname).toBe("Ana Moreno");
    const fullname = await apiCall(orgbox(), token, "PATCH", `contacts(${id})`, { fullname: "Someone Else" });
    expect(fullname.status).toBe(400);
    // A documented option set and range are served by the metadata.
    const family = await apiCall(orgbox(), token, "GET", "EntityDefinitions(LogicalName='contact')/Attributes(LogicalName='familystatuscode')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet");
    expect(family.status).toBe(200);
    const labels = ((family.body.OptionSet as { Options: { Value: number; Label: { UserLocalizedLabel: { Label: string } } }[] }).Options ?? []).map((o) => [o.Value, o.Label.UserLocalizedLabel.Label]);
    expect(labels).toEqual([[1, "Single"], [2, "Married"], [3, "Divorced"], [4, "Widowed"]]);
    // Read-only documented columns are refused on create, like Dataverse; those left out are unknown properties.
    expect((await apiCall(orgbox(), token, "POST", "contacts", { lastname: "X", aging30: 1 })).status).toBe(400);
    expect((await apiCall(orgbox(), token, "POST", "contacts", { lastname: "X", subscriptionid: "00000000-0000-0000-0000-000000000001" })).status).toBe(400);
  });

  it("lead: documented columns round-trip, customerid is a Customer lookup and the state model is the page's", async () => {
    const contact = await apiCall(orgbox(), token, "POST", "contacts", { lastname: "Lead customer" });
    const contactId = /\(([^)]+)\)/.exec(contact.headers.get("odata-entityid") ?? "")?.[1] as string;
    const created = await apiCall(orgbox(), token, "POST", "leads", {
      subject: "Interested in bikes",
      firstname: "Bo",
      lastname: "Lee",
      "customerid_contact@odata.bind": `/contacts(${contactId})`,
      budgetamount: 1000,
      budgetstatus: 2,
      purchasetimeframe: 1,
      estimatedclosedate: "2027-01-31",
      qualificationcomments: "Warm",
      decisionmaker: true,
    });
    expect(created.status).toBe(204);
    const id = /\(([^)]+)\)/.exec(created.headers.get("odata-entityid") ?? "")?.[1] as string;
    const read = await apiCall(orgbox(), token, "GET", `leads(${id})?$select=fullname,subject,budgetamount,budgetstatus,purchasetimeframe,estimatedclosedate,qualificationcomments,decisionmaker,_customerid_value,customeridtype,statecode,statuscode`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ fullname: "Bo Lee", subject: "Interested in bikes", budgetamount: 1000, budgetstatus: 2, purchasetimeframe: 1, estimatedclosedate: "2027-01-31", qualificationcomments: "Warm", decisionmaker: true, _customerid_value: contactId, customeridtype: "contact", statecode: 0, statuscode: 1 });
    // customerid is navigable to both targets, under the relationship names of the page.
    const expanded = await apiCall(orgbox(), token, "GET", `leads(${id})?$select=subject&$expand=customerid_contact($select=lastname)`);
    expect(expanded.status).toBe(200);
    expect(expanded.body.customerid_contact).toMatchObject({ lastname: "Lead customer" });
    const relationship = await apiCall(orgbox(), token, "GET", "EntityDefinitions(LogicalName='lead')/ManyToOneRelationships?$select=SchemaName,ReferencingAttribute,ReferencedEntity");
    const names = (relationship.body.value as { SchemaName: string; ReferencingAttribute: string }[]).filter((r) => r.ReferencingAttribute === "customerid").map((r) => r.SchemaName).sort();
    expect(names).toEqual(["lead_customer_accounts", "lead_customer_contacts"]);
    // The type column follows the lookup; it cannot be written on its own.
    expect((await apiCall(orgbox(), token, "PATCH", `leads(${id})`, { customeridtype: "account" })).status).toBe(400);
    // Disqualified (2) with a reason of that state.
    expect((await apiCall(orgbox(), token, "PATCH", `leads(${id})`, { statecode: 2, statuscode: 6 })).status).toBe(204);
    expect((await apiCall(orgbox(), token, "GET", `leads(${id})?$select=statecode,statuscode`)).body).toMatchObject({ statecode: 2, statuscode: 6 });
    // Lookups to tables orgbox does not have are not properties.
    expect((await apiCall(orgbox(), token, "POST", "leads", { subject: "x", lastname: "y", "campaignid@odata.bind": "/campaigns(00000000-0000-0000-0000-000000000001)" })).status).toBe(400);
    expect(entityTypes.get("lead")?.has("_campaignid_value")).toBe(false);
    expect(entityTypes.get("lead")?.has("_customerid_value")).toBe(true);
  });
});
