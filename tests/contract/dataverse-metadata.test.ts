/**
 * The definition surface through the real dynamics-web-api client (and fetch where the client hides
 * status codes): EntityDefinitions reads with $select/$filter/$expand, keys and type casts,
 * relationships, $metadata CSDL, custom tables and columns created over the Web API and used
 * through the record CRUD, RetrieveVersion / RetrieveTotalRecordCount, privileges and errors.
 */
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamicsWebApi } from "dynamics-web-api";
import { XMLParser } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOrgbox } from "../../src/index.ts";
import { adminToken, demoToken, useOrgbox, apiCall } from "../helpers/orgbox.ts";
import { label, projectTable } from "../helpers/metadata.ts";

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const call = apiCall;

describe("EntityDefinitions reads", () => {
  const orgbox = useOrgbox();
  let token = "";
  let api: DynamicsWebApi;

  beforeAll(async () => {
    token = await adminToken(orgbox());
    api = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
  });

  it("retrieveEntities with $select (what useEntityNames asks) and $filter", async () => {
    const all = await api.retrieveEntities<{ LogicalName: string; EntitySetName: string; MetadataId: string }>({ select: ["EntitySetName", "LogicalName"] });
    expect(all.value).toContainEqual({ MetadataId: expect.stringMatching(GUID_RE), LogicalName: "account", EntitySetName: "accounts" });
    expect(Object.keys(all.value?.[0] ?? {}).sort()).toEqual(["EntitySetName", "LogicalName", "MetadataId"]);
    const some = await api.retrieveEntities<{ LogicalName: string }>({ select: ["LogicalName"], filter: "LogicalName eq 'contact' or EntitySetName eq 'leads'" });
    expect(some.value?.map((e) => e.LogicalName).sort()).toEqual(["contact", "lead"]);
    const custom = await api.retrieveEntities({ select: ["LogicalName"], filter: "IsCustomEntity eq true" });
    expect(custom.value).toEqual([]);
    const owned = await api.retrieveEntities<{ LogicalName: string }>({ select: ["LogicalName"], filter: "OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'" });
    expect(owned.value?.map((e) => e.LogicalName)).toContain("account");
  });

  it("retrieveEntity by LogicalName and by MetadataId, in the documented shape", async () => {
    const account = await api.retrieveEntity<Record<string, unknown>>({ key: "LogicalName='account'" });
    expect(account).toMatchObject({
      LogicalName: "account",
      SchemaName: "Account",
      EntitySetName: "accounts",
      PrimaryIdAttribute: "accountid",
      PrimaryNameAttribute: "name",
      ObjectTypeCode: 1,
      OwnershipType: "UserOwned",
      IsCustomEntity: false,
      IsOptimisticConcurrencyEnabled: true,
      DisplayName: { LocalizedLabels: [{ Label: "Account", LanguageCode: 1033 }], UserLocalizedLabel: { Label: "Account", LanguageCode: 1033 } },
    });
    const byId = await api.retrieveEntity<Record<string, unknown>>({ key: String(account.MetadataId), select: ["LogicalName", "IsOptimisticConcurrencyEnabled"] });
    expect(byId).toMatchObject({ LogicalName: "account", IsOptimisticConcurrencyEnabled: true, MetadataId: account.MetadataId });
    const again = await api.retrieveEntity<Record<string, unknown>>({ key: "LogicalName='account'", select: ["EntitySetName"] });
    expect(again.MetadataId).toBe(account.MetadataId); // stable ids
  });

  it("expands Attributes with a nested $select and reads …/Attributes and …/Attributes(LogicalName='name')", async () => {
    const res = await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='account')?$select=LogicalName&$expand=Attributes($select=LogicalName,AttributeType)");
    expect(res.status).toBe(200);
    const attributes = res.body.Attributes as Record<string, unknown>[];
    expect(attributes).toContainEqual({ "@odata.type": "#Microsoft.Dynamics.CRM.StringAttributeMetadata", MetadataId: expect.stringMatching(GUID_RE), LogicalName: "name", AttributeType: "String" });

    const list = await api.retrieveAttributes<Record<string, unknown>>({ entityKey: "LogicalName='account'", select: ["LogicalName", "AttributeTypeName"], filter: "AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Money'" });
    // The documented Money columns of account (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/account).
    expect(list.value.map((a) => a.LogicalName).sort()).toEqual(["aging30", "aging30_base", "aging60", "aging60_base", "aging90", "aging90_base", "creditlimit", "creditlimit_base", "marketcap", "marketcap_base", "revenue", "revenue_base"]);
    expect(list.value.every((a) => (a.AttributeTypeName as { Value: string }).Value === "MoneyType")).toBe(true);

    const name = await api.retrieveAttribute<Record<string, unknown>>({ entityKey: "LogicalName='account'", attributeKey: "LogicalName='name'" });
    expect(name).toMatchObject({ "@odata.type": "#Microsoft.Dynamics.CRM.StringAttributeMetadata", LogicalName: "name", SchemaName: "Name", AttributeType: "String", AttributeTypeName: { Value: "StringType" }, MaxLength: 160, RequiredLevel: { Value: "ApplicationRequired" }, IsPrimaryName: true });
  });

  it("type casts: PicklistAttributeMetadata with $expand=OptionSet, LookupAttributeMetadata with Targets", async () => {
    const picklists = await api.retrieveAttributes<Record<string, unknown>>({ entityKey: "LogicalName='account'", castType: "Microsoft.Dynamics.CRM.PicklistAttributeMetadata", select: ["LogicalName"], expand: [{ property: "OptionSet", select: ["Options"] }] });
    const industry = picklists.value?.find((a) => a.LogicalName === "industrycode") as { OptionSet: { Options: { Value: number; Label: { UserLocalizedLabel: { Label: string } } }[] } };
    expect(picklists.value?.every((a) => a["@odata.type"] === "#Microsoft.Dynamics.CRM.PicklistAttributeMetadata")).toBe(true);
    expect(industry.OptionSet.Options).toContainEqual(expect.objectContaining({ Value: 7, Label: expect.objectContaining({ UserLocalizedLabel: expect.objectContaining({ Label: "Consulting" }) }) }));

    const lookup = await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='contact')/Attributes(LogicalName='parentcustomerid')/Microsoft.Dynamics.CRM.LookupAttributeMetadata?$select=LogicalName,Targets");
    expect(lookup.status).toBe(200);
    expect(lookup.body).toMatchObject({ LogicalName: "parentcustomerid", Targets: ["account", "contact"] });
    const strings = await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata?$select=LogicalName,MaxLength");
    expect(strings.body.value).toContainEqual({ "@odata.type": "#Microsoft.Dynamics.CRM.StringAttributeMetadata", MetadataId: expect.stringMatching(GUID_RE), LogicalName: "telephone1", MaxLength: 50 });
    const booleans = await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.BooleanAttributeMetadata?$expand=OptionSet");
    expect((booleans.body.value?.[0]?.OptionSet as { TrueOption: { Value: number } }).TrueOption.Value).toBe(1);
  });

  it("ManyToOneRelationships and OneToManyRelationships", async () => {
    const manyToOne = await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='contact')/ManyToOneRelationships?$select=SchemaName,ReferencedEntity,ReferencingAttribute");
    expect(manyToOne.body.value).toContainEqual({ MetadataId: expect.stringMatching(GUID_RE), SchemaName: "contact_customer_accounts", ReferencedEntity: "account", ReferencingAttribute: "parentcustomerid" });
    const oneToMany = await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='account')?$select=LogicalName&$expand=OneToManyRelationships($select=SchemaName,ReferencingEntity,ReferencedEntityNavigationPropertyName)");
    expect(oneToMany.body.OneToManyRelationships).toContainEqual({ MetadataId: expect.stringMatching(GUID_RE), SchemaName: "contact_customer_accounts", ReferencingEntity: "contact", ReferencedEntityNavigationPropertyName: "contact_customer_accounts" });
  });

  it("useEntityNames mode resolves collections through EntityDefinitions", async () => {
    const byName = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, useEntityNames: true, onTokenRefresh: async () => token });
    const accounts = await byName.retrieveMultiple<{ name: string }>({ collection: "account", select: ["name"], top: 2 });
    expect(accounts.value).toHaveLength(2);
  });

  it("errors: unknown table and column (404 0x80040217), unknown property (400), unknown cast (404), writes orgbox does not serve", async () => {
    const missing = await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='nosuchtable')");
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: "0x80040217", message: "Could not find an entity with name nosuchtable and id 00000000-0000-0000-0000-000000000000." });
    await expect(api.retrieveEntity({ key: "LogicalName='nosuchtable'" })).rejects.toMatchObject({ status: 404 });
    const missingId = await call(orgbox(), token, "GET", "EntityDefinitions(00000000-0000-0000-0000-000000000001)");
    expect(missingId.status).toBe(404);
    const column = await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='nope')");
    expect(column.status).toBe(404);
    expect(column.body.error?.code).toBe("0x80040217");
    const property = await call(orgbox(), token, "GET", "EntityDefinitions?$select=Nope");
    expect(property.status).toBe(400);
    expect(property.body.error?.message).toBe("Could not find a property named 'Nope' on type 'Microsoft.Dynamics.CRM.EntityMetadata'.");
    const baseOnly = await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='account')/Attributes?$select=MaxLength");
    expect(baseOnly.status).toBe(400);
    const cast = await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.NopeAttributeMetadata");
    expect(cast.status).toBe(404);
    const fn = await call(orgbox(), token, "GET", "EntityDefinitions?$filter=contains(LogicalName,'acc')");
    expect(fn.status).toBe(400);
    expect(fn.body.error?.message).toContain("contains");
    const put = await call(orgbox(), token, "PUT", "EntityDefinitions(LogicalName='account')", { LogicalName: "account" });
    expect(put.status).toBe(501);
  });

  it("needs prvReadEntity: the demo app's custom role gets 403 0x80040220; $metadata needs no privilege", async () => {
    const demo = await demoToken(orgbox());
    const res = await call(orgbox(), demo, "GET", "EntityDefinitions?$select=LogicalName");
    expect(res.status).toBe(403);
    expect(res.body.error?.code).toBe("0x80040220");
    expect(res.body.error?.message).toContain("is missing prvReadEntity privilege");
    const csdl = await call(orgbox(), demo, "GET", "$metadata");
    expect(csdl.status).toBe(200);
  });
});

describe("$metadata", () => {
  const orgbox = useOrgbox();

  it("is CSDL XML that parses, with account's key, properties and navigation properties, WhoAmI and the entity container", async () => {
    const token = await demoToken(orgbox());
    const api = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    const xml = await api.retrieveCsdlMetadata();
    const wire = await call(orgbox(), token, "GET", "$metadata");
    expect(wire.headers.get("content-type")).toMatch(/^application\/xml/);
    expect(wire.text).toBe(xml);

    const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (name, _path, _leaf, isAttribute) => !isAttribute && ["Schema", "EntityType", "Property", "NavigationProperty", "EntitySet", "ComplexType", "Function", "FunctionImport", "PropertyRef"].includes(name) });
    type Named = { Name: string; Type?: string };
    const doc = parser.parse(xml) as { "edmx:Edmx": { Version: string; "edmx:DataServices": { Schema: { Namespace: string; Alias: string; EntityType: (Named & { Key?: { PropertyRef: Named[] }; Property?: Named[]; NavigationProperty?: Named[]; BaseType?: string })[]; ComplexType: (Named & { Property: Named[] })[]; Function: (Named & { ReturnType: { Type: string } })[]; EntityContainer: { Name: string; EntitySet: (Named & { EntityType: string })[]; FunctionImport: Named[] } }[] } } };
    expect(doc["edmx:Edmx"].Version).toBe("4.0");
    const [schema] = doc["edmx:Edmx"]["edmx:DataServices"].Schema;
    expect(schema).toMatchObject({ Namespace: "Microsoft.Dynamics.CRM", Alias: "mscrm" });
    const account = schema?.EntityType.find((t) => t.Name === "account");
    expect(account?.BaseType).toBe("mscrm.crmbaseentity");
    expect(account?.Key?.PropertyRef).toEqual([{ Name: "accountid" }]);
    expect(account?.Property).toContainEqual(expect.objectContaining({ Name: "name", Type: "Edm.String" }));
    expect(account?.Property).toContainEqual(expect.objectContaining({ Name: "revenue", Type: "Edm.Decimal" }));
    expect(account?.Property).toContainEqual({ Name: "_primarycontactid_value", Type: "Edm.Guid" });
    expect(account?.NavigationProperty).toContainEqual(expect.objectContaining({ Name: "primarycontactid", Type: "mscrm.contact" }));
    expect(account?.NavigationProperty).toContainEqual(expect.objectContaining({ Name: "contact_customer_accounts", Type: "Collection(mscrm.contact)" }));
    expect(schema?.ComplexType.find((c) => c.Name === "WhoAmIResponse")?.Property.map((p) => p.Name)).toEqual(["BusinessUnitId", "UserId", "OrganizationId"]);
    expect(schema?.Function.find((f) => f.Name === "WhoAmI")?.ReturnType.Type).toBe("mscrm.WhoAmIResponse");
    expect(schema?.EntityContainer.EntitySet).toContainEqual(expect.objectContaining({ Name: "accounts", EntityType: "Microsoft.Dynamics.CRM.account" }));
    expect(schema?.EntityContainer.FunctionImport.map((f) => f.Name)).toEqual(expect.arrayContaining(["WhoAmI", "RetrieveVersion", "RetrieveTotalRecordCount"]));
  });

  it("refuses query options and other methods", async () => {
    const token = await demoToken(orgbox());
    expect((await call(orgbox(), token, "GET", "$metadata?$select=x")).status).toBe(400);
    expect((await call(orgbox(), token, "POST", "$metadata", {})).status).toBe(405);
  });
});

describe("functions: RetrieveVersion, RetrieveTotalRecordCount", () => {
  const orgbox = useOrgbox();

  it("RetrieveVersion returns a 9.2 version", async () => {
    const token = await demoToken(orgbox());
    const api = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    const res = await api.callFunction<Record<string, unknown>>({ name: "RetrieveVersion" });
    expect(res["@odata.context"]).toBe(`${orgbox().apiUrl}/$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse`);
    expect(res.Version).toMatch(/^9\.2\.\d+\.\d+$/);
  });

  it("RetrieveTotalRecordCount counts rows, inline and with an @p1 alias (dynamics-web-api's form)", async () => {
    const token = await demoToken(orgbox());
    const inline = await call(orgbox(), token, "GET", "RetrieveTotalRecordCount(EntityNames=['account','contact'])");
    expect(inline.status).toBe(200);
    expect(inline.body).toEqual({
      "@odata.context": `${orgbox().apiUrl}/$metadata#Microsoft.Dynamics.CRM.RetrieveTotalRecordCountResponse`,
      EntityRecordCountCollection: { Count: 2, IsReadOnly: false, Keys: ["account", "contact"], Values: [20, 40] },
    });
    const api = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    const viaClient = await api.callFunction<{ EntityRecordCountCollection: { Values: number[] } }>({ name: "RetrieveTotalRecordCount", parameters: { EntityNames: ["lead"] } });
    expect(viaClient.EntityRecordCountCollection.Values).toEqual([24]);
  });

  it("refuses unknown tables (404), tables without read privilege (403) and bad parameters (400)", async () => {
    const token = await demoToken(orgbox());
    expect((await call(orgbox(), token, "GET", "RetrieveTotalRecordCount(EntityNames=['nosuch'])")).status).toBe(404);
    const denied = await call(orgbox(), token, "GET", "RetrieveTotalRecordCount(EntityNames=['role'])");
    expect(denied.status).toBe(403);
    expect(denied.body.error?.code).toBe("0x80040220");
    expect((await call(orgbox(), token, "GET", "RetrieveTotalRecordCount(Names=['account'])")).status).toBe(400);
    expect((await call(orgbox(), token, "GET", "RetrieveTotalRecordCount(EntityNames='account')")).status).toBe(400);
  });
});

describe("custom tables and columns", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "orgbox-metadata-"));
  // The shared test CA (tests/global-setup.ts) serves persisted instances too.
  const caDir = defaultTempCaDir();
  const orgbox = useOrgbox({ inMemory: false, dataDir, caDir });
  let token = "";
  let api: DynamicsWebApi;

  beforeAll(async () => {
    token = await adminToken(orgbox());
    api = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("createEntity: 204 + OData-EntityId, entity set new_projects, privileges for System Administrator", async () => {
    const wire = await call(orgbox(), token, "POST", "EntityDefinitions", projectTable("new_Project"));
    expect(wire.status).toBe(204);
    const entityId = wire.headers.get("odata-entityid") ?? "";
    expect(entityId).toMatch(new RegExp(`/EntityDefinitions\\([0-9a-f-]{36}\\)$`));

    const project = await api.retrieveEntity<Record<string, unknown>>({ key: "LogicalName='new_project'" });
    expect(entityId).toContain(String(project.MetadataId));
    expect(project).toMatchObject({ LogicalName: "new_project", SchemaName: "new_Project", EntitySetName: "new_projects", PrimaryIdAttribute: "new_projectid", PrimaryNameAttribute: "new_name", OwnershipType: "UserOwned", IsCustomEntity: true, ObjectTypeCode: 10000 });
    const custom = await api.retrieveEntities<{ LogicalName: string }>({ select: ["LogicalName"], filter: "IsCustomEntity eq true" });
    expect(custom.value?.map((e) => e.LogicalName)).toEqual(["new_project"]);
    const privileges = await call(orgbox(), token, "GET", "privileges?$select=name&$filter=endswith(name,'new_Project')");
    expect((privileges.body.value ?? []).map((p) => p.name).sort()).toEqual(["prvAppendTonew_Project", "prvAppendnew_Project", "prvAssignnew_Project", "prvCreatenew_Project", "prvDeletenew_Project", "prvReadnew_Project", "prvSharenew_Project", "prvWritenew_Project"]);
  });

  it("createAttribute for string, integer, choice, money, yes/no and date columns (ALTER TABLE ADD COLUMN)", async () => {
    const key = "LogicalName='new_project'";
    const base = (type: string, schemaName: string, extra: Record<string, unknown> = {}) => ({ "@odata.type": `Microsoft.Dynamics.CRM.${type}`, SchemaName: schemaName, DisplayName: label(schemaName), RequiredLevel: { Value: "None" }, ...extra });
    await api.createAttribute({ entityKey: key, data: base("StringAttributeMetadata", "new_Code", { MaxLength: 20 }) });
    await api.createAttribute({ entityKey: key, data: base("IntegerAttributeMetadata", "new_Seats", { MinValue: 0, MaxValue: 500 }) });
    await api.createAttribute({ entityKey: key, data: base("PicklistAttributeMetadata", "cr123_Phase", { OptionSet: { "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata", IsGlobal: false, OptionSetType: "Picklist", Options: [{ Value: 100000000, Label: label("Plan") }, { Value: 100000001, Label: label("Build") }] } }) });
    await api.createAttribute({ entityKey: key, data: base("MoneyAttributeMetadata", "new_Budget", { Precision: 2 }) });
    await api.createAttribute({ entityKey: key, data: base("BooleanAttributeMetadata", "new_Active", { OptionSet: { TrueOption: { Value: 1, Label: label("Active") }, FalseOption: { Value: 0, Label: label("Inactive") } } }) });
    const wire = await call(orgbox(), token, "POST", `EntityDefinitions(${key})/Attributes`, base("DateTimeAttributeMetadata", "new_Due", { Format: "DateOnly", DateTimeBehavior: { Value: "DateOnly" } }));
    expect(wire.status).toBe(204);
    expect(wire.headers.get("odata-entityid")).toMatch(/\/EntityDefinitions\([0-9a-f-]{36}\)\/Attributes\([0-9a-f-]{36}\)$/);

    const phase = await api.retrieveAttribute<{ OptionSet: { Options: { Value: number }[] }; IsCustomAttribute: boolean }>({ entityKey: key, attributeKey: "LogicalName='cr123_phase'", castType: "Microsoft.Dynamics.CRM.PicklistAttributeMetadata", expand: [{ property: "OptionSet" }] });
    expect(phase.IsCustomAttribute).toBe(true);
    expect(phase.OptionSet.Options.map((o) => o.Value)).toEqual([100000000, 100000001]);
    const due = await api.retrieveAttribute<Record<string, unknown>>({ entityKey: key, attributeKey: "LogicalName='new_due'" });
    expect(due).toMatchObject({ AttributeType: "DateTime", DateTimeBehavior: { Value: "DateOnly" }, Format: "DateOnly" });
  });

  it("refuses unprefixed names, duplicates, lookups and bodies without a primary name", async () => {
    const bad = await call(orgbox(), token, "POST", "EntityDefinitions", projectTable("Project"));
    expect(bad.status).toBe(400);
    expect(bad.body.error?.code).toBe("0x80044331");
    expect(bad.body.error?.message).toContain("publisher customization prefix");
    const duplicate = await call(orgbox(), token, "POST", "EntityDefinitions", projectTable("new_Project"));
    expect(duplicate.status).toBe(400);
    expect(duplicate.body.error?.code).toBe("0x80040237");
    await expect(api.createEntity({ data: projectTable("new_projects2", "Name") })).rejects.toMatchObject({ status: 400 });
    const noPrimary = await call(orgbox(), token, "POST", "EntityDefinitions", { ...projectTable("new_Other"), Attributes: [] });
    expect(noPrimary.status).toBe(400);
    const column = await call(orgbox(), token, "POST", "EntityDefinitions(LogicalName='new_project')/Attributes", { "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", SchemaName: "new_Code", DisplayName: label("Code") });
    expect(column.status).toBe(400);
    expect(column.body.error?.code).toBe("0x80040237");
    const lookup = await call(orgbox(), token, "POST", "EntityDefinitions(LogicalName='new_project')/Attributes", { "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata", SchemaName: "new_AccountId" });
    expect(lookup.status).toBe(400);
    expect(lookup.body.error?.message).toContain("RelationshipDefinitions");
    const untyped = await call(orgbox(), token, "POST", "EntityDefinitions(LogicalName='new_project')/Attributes", { SchemaName: "new_X" });
    expect(untyped.status).toBe(400);
    const unknownTable = await call(orgbox(), token, "POST", "EntityDefinitions(LogicalName='new_nope')/Attributes", { "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", SchemaName: "new_X" });
    expect(unknownTable.status).toBe(404);
    const demo = await demoToken(orgbox());
    const denied = await call(orgbox(), demo, "POST", "EntityDefinitions", projectTable("new_Denied"));
    expect(denied.status).toBe(403);
    expect(denied.body.error?.message).toContain("prvCreateEntity");
  });

  it("records of the custom table work through the record CRUD (create, read, filter) with dynamics-web-api", async () => {
    const id = await api.create<Record<string, unknown>, string>({ collection: "new_projects", data: { new_name: "Apollo", new_code: "AP-1", new_seats: 12, cr123_phase: 100000001, new_budget: 1000.5, new_active: true, new_due: "2030-01-31" } });
    expect(id).toMatch(GUID_RE);
    await api.create({ collection: "new_projects", data: { new_name: "Gemini", new_seats: 3 } });
    const row = await api.retrieve<Record<string, unknown>>({ collection: "new_projects", key: id });
    expect(row).toMatchObject({ new_name: "Apollo", new_code: "AP-1", new_seats: 12, cr123_phase: 100000001, new_budget: 1000.5, new_active: true, new_due: "2030-01-31", statecode: 0 });
    const big = await api.retrieveMultiple<{ new_name: string }>({ collection: "new_projects", select: ["new_name"], filter: "new_seats gt 5" });
    expect(big.value.map((r) => r.new_name)).toEqual(["Apollo"]);
    const refused = await call(orgbox(), token, "POST", "new_projects", { new_name: "x", cr123_phase: 7 });
    expect(refused.status).toBe(400);
    // dynamics-web-api caches the LogicalName → EntitySetName map once per process (a module-level
    // variable), and an earlier test filled it before this table existed; so check the exact
    // request its useEntityNames mode sends instead of a second client instance.
    const names = await call(orgbox(), token, "GET", "EntityDefinitions?$select=EntitySetName,LogicalName");
    expect((names.body.value ?? []).find((e) => e.LogicalName === "new_project")).toMatchObject({ EntitySetName: "new_projects" });
    const count = await call(orgbox(), token, "GET", "RetrieveTotalRecordCount(EntityNames=@p1)?@p1=['new_project']");
    expect((count.body.EntityRecordCountCollection as { Values: number[] }).Values).toEqual([2]);
    const csdl = await call(orgbox(), token, "GET", "$metadata");
    expect(csdl.text).toContain('<EntitySet Name="new_projects" EntityType="Microsoft.Dynamics.CRM.new_project">');
    expect(csdl.text).toContain('<Property Name="cr123_phase" Type="Edm.Int32"/>');
  });

  it("custom definitions survive a restart with --data (a second orgbox on the same data folder)", async () => {
    const again = await startOrgbox({ inMemory: false, dataDir, caDir });
    try {
      const fresh = await adminToken(again);
      const res = await call(again, fresh, "GET", "EntityDefinitions(LogicalName='new_project')?$select=EntitySetName&$expand=Attributes($select=LogicalName)");
      expect(res.body.EntitySetName).toBe("new_projects");
      expect((res.body.Attributes as { LogicalName: string }[]).map((a) => a.LogicalName)).toEqual(expect.arrayContaining(["new_code", "new_seats", "cr123_phase", "new_budget", "new_active", "new_due", "transactioncurrencyid"]));
      const rows = await call(again, fresh, "GET", "new_projects?$select=new_name&$orderby=new_name");
      expect(rows.body.value?.map((r) => r.new_name)).toEqual(["Apollo", "Gemini"]);
    } finally {
      await again.close();
    }
  });

  it("deletes custom columns and tables (DELETE EntityDefinitions…), refusing standard ones, key columns and referenced tables", async () => {
    // A column: its values go with it; the rest of the table stays.
    expect((await call(orgbox(), token, "DELETE", "EntityDefinitions(LogicalName='new_project')/Attributes(LogicalName='new_seats')")).status).toBe(204);
    const after = await call(orgbox(), token, "GET", "new_projects?$select=new_name&$orderby=new_name");
    expect(after.body.value?.map((r) => r.new_name)).toEqual(["Apollo", "Gemini"]);
    expect((await call(orgbox(), token, "GET", "new_projects?$select=new_seats")).status).toBe(400);
    expect((await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='new_project')/Attributes(LogicalName='new_seats')")).status).toBe(404);
    const standardColumn = await call(orgbox(), token, "DELETE", "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')");
    expect(standardColumn.status).toBe(400);
    expect(standardColumn.body.error?.code).toBe("0x80040203");
    const primary = await call(orgbox(), token, "DELETE", "EntityDefinitions(LogicalName='new_project')/Attributes(LogicalName='new_name')");
    expect(primary.status).toBe(400);
    // A column in an alternate key cannot go while the key exists.
    const keyed = await call(orgbox(), token, "POST", "EntityDefinitions(LogicalName='new_project')/Keys", { SchemaName: "new_codekey", DisplayName: label("Code"), KeyAttributes: ["new_code"] });
    expect(keyed.status).toBe(204);
    const keyColumn = await call(orgbox(), token, "DELETE", "EntityDefinitions(LogicalName='new_project')/Attributes(LogicalName='new_code')");
    expect(keyColumn.status).toBe(400);
    expect(keyColumn.body.error?.code).toBe("0x8004f01f");

    // A table other tables point at cannot go; once the lookup is gone, it can, with its rows and privileges.
    const lookup = await call(orgbox(), token, "POST", "RelationshipDefinitions", {
      "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
      SchemaName: "new_project_contacts_lookup",
      ReferencedEntity: "new_project",
      ReferencingEntity: "contact",
      Lookup: { "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata", SchemaName: "new_ProjectId", DisplayName: label("Project"), RequiredLevel: { Value: "None" } },
    });
    expect(lookup.status).toBe(204);
    const referenced = await call(orgbox(), token, "DELETE", "EntityDefinitions(LogicalName='new_project')");
    expect(referenced.status).toBe(400);
    expect(referenced.body.error).toMatchObject({ code: "0x8004f01f", message: expect.stringContaining("new_project_contacts_lookup") });
    expect((await call(orgbox(), token, "DELETE", "EntityDefinitions(LogicalName='account')")).status).toBe(400);

    const other = await call(orgbox(), token, "POST", "EntityDefinitions", projectTable("new_Scratch"));
    expect(other.status).toBe(204);
    const set = String((await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='new_scratch')?$select=EntitySetName")).body.EntitySetName);
    expect((await call(orgbox(), token, "POST", set, { new_name: "temporary" })).status).toBe(204);
    expect((await call(orgbox(), token, "DELETE", "EntityDefinitions(LogicalName='new_scratch')")).status).toBe(204);
    expect((await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='new_scratch')")).status).toBe(404);
    const privileges = await call(orgbox(), token, "GET", "privileges?$select=name&$filter=endswith(name,'new_Scratch')");
    expect(privileges.body.value).toEqual([]);
    // The name is free again.
    expect((await call(orgbox(), token, "POST", "EntityDefinitions", projectTable("new_Scratch"))).status).toBe(204);
    expect((await call(orgbox(), token, "GET", `${set}?$select=new_name`)).body.value).toEqual([]);
  });
});
