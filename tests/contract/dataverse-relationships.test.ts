/**
 * Relationships as Dataverse defines them, through the real dynamics-web-api client and plain fetch
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-relationships-using-web-api):
 * N:N relationships (custom ↔ standard, self-referential) and one-to-many relationships created with
 * POST RelationshipDefinitions, their reads, CSDL, associate/disassociate, $expand, @odata.bind on create,
 * FetchXML through the intersect table, cascades, privileges, errors and a restart on the same data.
 */
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamicsWebApi } from "dynamics-web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";
import { demoToken, useOrgbox, apiCall } from "../helpers/orgbox.ts";
import { label } from "../helpers/metadata.ts";
import { appUser } from "../helpers/security.ts";

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An application user holding System Administrator; returns its token. */
async function adminToken(o: OrgboxInstance): Promise<string> {
  const org = (await o.dataverse.service.findOrg("contoso")) as Org;
  const admin = (await o.dataverse.service.listRoles(org)).find((r) => r.name === "System Administrator");
  const { token } = await appUser(o, org, `relationships admin ${Math.random()}`, DEMO.org.rootBusinessUnitId, [admin?.id as string]);
  return token;
}

const call = apiCall;


const projectTable = {
  "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
  SchemaName: "new_Project",
  DisplayName: label("Project"),
  DisplayCollectionName: label("Projects"),
  OwnershipType: "UserOwned",
  Attributes: [{ "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", SchemaName: "new_Name", IsPrimaryName: true, MaxLength: 100, DisplayName: label("Name") }],
};

/** The N:N body of the documentation's sample, between the custom project table and contact. */
const projectContacts = {
  "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
  SchemaName: "new_project_contacts",
  Entity1LogicalName: "new_project",
  Entity2LogicalName: "contact",
  IntersectEntityName: "new_project_contact",
  Entity1AssociatedMenuConfiguration: { Behavior: "UseLabel", Group: "Details", Label: label("Contacts"), Order: 10000 },
  Entity2AssociatedMenuConfiguration: { Behavior: "UseLabel", Group: "Details", Label: label("Projects"), Order: 10000 },
};

/** The one-to-many body of the documentation's sample: a project's account lookup. */
const accountProjects = {
  "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
  SchemaName: "new_account_new_project",
  ReferencedEntity: "account",
  ReferencedAttribute: "accountid",
  ReferencingEntity: "new_project",
  CascadeConfiguration: { Assign: "NoCascade", Delete: "Cascade", Merge: "NoCascade", Reparent: "NoCascade", Share: "NoCascade", Unshare: "NoCascade" },
  Lookup: {
    "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata",
    AttributeType: "Lookup",
    AttributeTypeName: { Value: "LookupType" },
    SchemaName: "new_AccountId",
    DisplayName: label("Account"),
    RequiredLevel: { Value: "None", CanBeChanged: true, ManagedPropertyLogicalName: "canmodifyrequirementlevelsettings" },
  },
};

describe("relationships created with POST RelationshipDefinitions", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "orgbox-relationships-"));
  // The shared test CA (tests/global-setup.ts) serves persisted instances too.
  const caDir = defaultTempCaDir();
  const orgbox = useOrgbox({ inMemory: false, dataDir, caDir });
  let token = "";
  let api: DynamicsWebApi;
  let relationshipId = "";
  const ids = { apollo: "", gemini: "", ada: "", grace: "", alan: "", acme: "", globex: "" };

  beforeAll(async () => {
    token = await adminToken(orgbox());
    api = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    await api.createEntity({ data: projectTable });
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("createRelationship (N:N): 204 + OData-EntityId, the intersect table and the documented definition", async () => {
    relationshipId = String(await api.createRelationship({ data: projectContacts }));
    expect(relationshipId).toMatch(GUID_RE);
    const byId = await api.retrieveRelationship<Record<string, unknown>>({ key: relationshipId, castType: "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata" });
    expect(byId).toMatchObject({
      MetadataId: relationshipId,
      SchemaName: "new_project_contacts",
      RelationshipType: "ManyToManyRelationship",
      IsCustomRelationship: true,
      Entity1LogicalName: "new_project",
      Entity2LogicalName: "contact",
      IntersectEntityName: "new_project_contact",
      Entity1IntersectAttribute: "new_projectid",
      Entity2IntersectAttribute: "contactid",
      Entity1NavigationPropertyName: "new_project_contacts",
      Entity2NavigationPropertyName: "new_project_contacts",
    });
    const bySchema = await call(orgbox(), token, "GET", "RelationshipDefinitions(SchemaName='new_project_contacts')?$select=SchemaName,RelationshipType");
    expect(bySchema.status).toBe(200);
    expect(bySchema.body).toMatchObject({ "@odata.type": "#Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata", MetadataId: relationshipId, SchemaName: "new_project_contacts", RelationshipType: "ManyToManyRelationship" });
    expect(bySchema.body.Entity1LogicalName).toBeUndefined();
    const intersect = await api.retrieveEntity<Record<string, unknown>>({ key: "LogicalName='new_project_contact'", select: ["IsIntersect", "IsCustomEntity", "PrimaryIdAttribute"] });
    expect(intersect).toMatchObject({ IsIntersect: true, IsCustomEntity: true, PrimaryIdAttribute: "new_project_contactid" });

    const self = await call(orgbox(), token, "POST", "RelationshipDefinitions", { "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata", SchemaName: "new_account_account", Entity1LogicalName: "account", Entity2LogicalName: "account", IntersectEntityName: "new_account_account" });
    expect(self.status).toBe(204);
    expect(self.headers.get("odata-entityid")).toMatch(/\/RelationshipDefinitions\([0-9a-f-]{36}\)$/);
    const selfDefinition = await call(orgbox(), token, "GET", "RelationshipDefinitions(SchemaName='new_account_account')/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata?$select=Entity1IntersectAttribute,Entity2IntersectAttribute,Entity1NavigationPropertyName,Entity2NavigationPropertyName");
    expect(selfDefinition.body).toMatchObject({ Entity1IntersectAttribute: "accountidone", Entity2IntersectAttribute: "accountidtwo", Entity1NavigationPropertyName: "new_account_account", Entity2NavigationPropertyName: "new_account_account" });
    const directed = await call(orgbox(), token, "POST", "RelationshipDefinitions", { "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata", SchemaName: "new_account_mentors", Entity1LogicalName: "account", Entity2LogicalName: "account", IntersectEntityName: "new_account_mentor", Entity1NavigationPropertyName: "new_mentors", Entity2NavigationPropertyName: "new_mentees" });
    expect(directed.status).toBe(204);
  });

  it("createRelationship (1:N): the lookup column, navigation properties on both sides and the cascade configuration", async () => {
    const id = String(await api.createRelationship({ data: accountProjects }));
    const relationship = await api.retrieveRelationship<Record<string, unknown>>({ key: id, castType: "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata" });
    expect(relationship).toMatchObject({
      SchemaName: "new_account_new_project",
      RelationshipType: "OneToManyRelationship",
      IsCustomRelationship: true,
      ReferencedEntity: "account",
      ReferencedAttribute: "accountid",
      ReferencingEntity: "new_project",
      ReferencingAttribute: "new_accountid",
      ReferencedEntityNavigationPropertyName: "new_account_new_project",
      ReferencingEntityNavigationPropertyName: "new_AccountId",
      CascadeConfiguration: { Delete: "Cascade", Assign: "NoCascade" },
    });
    const lookup = await api.retrieveAttribute<Record<string, unknown>>({ entityKey: "LogicalName='new_project'", attributeKey: "LogicalName='new_accountid'", castType: "Microsoft.Dynamics.CRM.LookupAttributeMetadata", select: ["AttributeType", "Targets", "SchemaName", "IsCustomAttribute"] });
    expect(lookup).toMatchObject({ AttributeType: "Lookup", Targets: ["account"], SchemaName: "new_AccountId", IsCustomAttribute: true });
    const oneToMany = await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='account')/OneToManyRelationships?$select=SchemaName,ReferencingEntityNavigationPropertyName&$filter=SchemaName eq 'new_account_new_project'");
    expect(oneToMany.body.value).toEqual([{ MetadataId: id, SchemaName: "new_account_new_project", ReferencingEntityNavigationPropertyName: "new_AccountId" }]);
    const manyToOne = await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='new_project')/ManyToOneRelationships?$select=SchemaName");
    expect((manyToOne.body.value ?? []).map((r) => r.SchemaName)).toContain("new_account_new_project");
  });

  it("reads: RelationshipDefinitions with casts, $select and $filter; ManyToManyRelationships of standard and custom tables", async () => {
    const nn = await api.retrieveRelationships<{ SchemaName: string }>({ castType: "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata", select: ["SchemaName", "IntersectEntityName"] });
    expect(nn.value.map((r) => r.SchemaName).sort()).toEqual(["new_account_account", "new_account_mentors", "new_project_contacts", "roleprivileges_association", "systemuserroles_association", "teammembership_association", "teamroles_association"]);
    const filtered = await api.retrieveRelationships<{ SchemaName: string }>({ castType: "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata", select: ["SchemaName"], filter: "Entity2LogicalName eq 'contact'" });
    expect(filtered.value.map((r) => r.SchemaName)).toEqual(["new_project_contacts"]);
    const all = await call(orgbox(), token, "GET", "RelationshipDefinitions?$select=SchemaName,RelationshipType&$filter=IsCustomRelationship eq true");
    expect(all.status).toBe(200);
    expect(all.body["@odata.context"]).toBe(`${orgbox().apiUrl}/$metadata#RelationshipDefinitions(SchemaName,RelationshipType)`);
    expect((all.body.value ?? []).map((r) => `${String(r["@odata.type"])} ${String(r.SchemaName)}`).sort()).toEqual([
      "#Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata new_account_account",
      "#Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata new_account_mentors",
      "#Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata new_project_contacts",
      "#Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata new_account_new_project",
    ]);
    const contact = await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='contact')/ManyToManyRelationships?$select=SchemaName,Entity1LogicalName");
    expect(contact.body.value).toEqual([{ MetadataId: relationshipId, SchemaName: "new_project_contacts", Entity1LogicalName: "new_project" }]);
    const user = await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='systemuser')?$select=LogicalName&$expand=ManyToManyRelationships($select=SchemaName,IntersectEntityName)");
    expect((user.body.ManyToManyRelationships as { SchemaName: string }[]).map((r) => r.SchemaName).sort()).toEqual(["systemuserroles_association", "teammembership_association"]);
  });

  it("$metadata: collection-valued navigation properties on both entity types and their bindings", async () => {
    const csdl = await call(orgbox(), token, "GET", "$metadata");
    expect(csdl.text).toMatch(/<EntityType Name="new_project"[^]*?<NavigationProperty Name="new_project_contacts" Type="Collection\(mscrm\.contact\)" Partner="new_project_contacts"\/>/);
    expect(csdl.text).toMatch(/<EntityType Name="contact"[^]*?<NavigationProperty Name="new_project_contacts" Type="Collection\(mscrm\.new_project\)" Partner="new_project_contacts"\/>/);
    expect(csdl.text).toContain('<NavigationProperty Name="new_account_account" Type="Collection(mscrm.account)"/>');
    expect(csdl.text).toContain('<NavigationProperty Name="new_AccountId" Type="mscrm.account"><ReferentialConstraint Property="_new_accountid_value" ReferencedProperty="accountid"/></NavigationProperty>');
    expect(csdl.text).toContain('<NavigationPropertyBinding Path="new_project_contacts" Target="contacts"/>');
    expect(csdl.text).toContain('<NavigationProperty Name="systemuserroles_association" Type="Collection(mscrm.role)" Partner="systemuserroles_association"/>');
  });

  it("associate / disassociate through $ref from both sides, duplicates refused, reads of the navigation property", async () => {
    ids.acme = String(await api.create({ collection: "accounts", data: { name: "Acme" } }));
    ids.globex = String(await api.create({ collection: "accounts", data: { name: "Globex" } }));
    ids.apollo = String(await api.create({ collection: "new_projects", data: { new_name: "Apollo", "new_AccountId@odata.bind": `/accounts(${ids.acme})` } }));
    ids.gemini = String(await api.create({ collection: "new_projects", data: { new_name: "Gemini" } }));
    ids.ada = String(await api.create({ collection: "contacts", data: { firstname: "Ada", lastname: "Lovelace" } }));
    ids.grace = String(await api.create({ collection: "contacts", data: { firstname: "Grace", lastname: "Hopper" } }));
    ids.alan = String(await api.create({ collection: "contacts", data: { firstname: "Alan", lastname: "Turing" } }));

    await api.associate({ collection: "new_projects", primaryKey: ids.apollo, relationshipName: "new_project_contacts", relatedCollection: "contacts", relatedKey: ids.ada });
    await api.associate({ collection: "new_projects", primaryKey: ids.apollo, relationshipName: "new_project_contacts", relatedCollection: "contacts", relatedKey: ids.grace });
    // From the other side: contact → project.
    await api.associate({ collection: "contacts", primaryKey: ids.alan, relationshipName: "new_project_contacts", relatedCollection: "new_projects", relatedKey: ids.gemini });
    const viaRef = await call(orgbox(), token, "POST", `contacts(${ids.ada})/new_project_contacts/$ref`, { "@odata.id": `${orgbox().apiUrl}/new_projects(${ids.gemini})` });
    expect(viaRef.status).toBe(204);

    const duplicate = await call(orgbox(), token, "POST", `contacts(${ids.grace})/new_project_contacts/$ref`, { "@odata.id": `${orgbox().apiUrl}/new_projects(${ids.apollo})` });
    expect(duplicate.status).toBe(412);
    expect(duplicate.body.error?.code).toBe("0x80040237");
    await expect(api.associate({ collection: "new_projects", primaryKey: ids.apollo, relationshipName: "new_project_contacts", relatedCollection: "contacts", relatedKey: ids.ada })).rejects.toMatchObject({ status: 412 });

    const apolloContacts = await call(orgbox(), token, "GET", `new_projects(${ids.apollo})/new_project_contacts?$select=lastname&$orderby=lastname`);
    expect(apolloContacts.body.value?.map((c) => c.lastname)).toEqual(["Hopper", "Lovelace"]);
    const adaProjects = await call(orgbox(), token, "GET", `contacts(${ids.ada})/new_project_contacts?$select=new_name&$orderby=new_name`);
    expect(adaProjects.body.value?.map((p) => p.new_name)).toEqual(["Apollo", "Gemini"]);

    await api.disassociate({ collection: "contacts", primaryKey: ids.ada, relationshipName: "new_project_contacts", relatedKey: ids.gemini });
    const afterUrlForm = await call(orgbox(), token, "GET", `contacts(${ids.ada})/new_project_contacts?$select=new_name`);
    expect(afterUrlForm.body.value?.map((p) => p.new_name)).toEqual(["Apollo"]);
    const byQuery = await call(orgbox(), token, "DELETE", `new_projects(${ids.gemini})/new_project_contacts/$ref?$id=${orgbox().apiUrl}/contacts(${ids.alan})`);
    expect(byQuery.status).toBe(204);
    const gemini = await call(orgbox(), token, "GET", `new_projects(${ids.gemini})/new_project_contacts?$select=lastname`);
    expect(gemini.body.value).toEqual([]);
    await api.associate({ collection: "new_projects", primaryKey: ids.gemini, relationshipName: "new_project_contacts", relatedCollection: "contacts", relatedKey: ids.alan });
  });

  it("$expand of the N:N collection from both sides, with nested $select/$filter/$orderby/$top", async () => {
    const projects = await api.retrieveMultiple<{ new_name: string; new_project_contacts: { lastname: string }[] }>({
      collection: "new_projects",
      select: ["new_name"],
      orderBy: ["new_name"],
      expand: [{ property: "new_project_contacts", select: ["lastname"], orderBy: ["lastname desc"] }],
    });
    expect(projects.value.map((p) => [p.new_name, p.new_project_contacts.map((c) => c.lastname)])).toEqual([
      ["Apollo", ["Lovelace", "Hopper"]],
      ["Gemini", ["Turing"]],
    ]);
    const firstOnly = await api.retrieveMultiple<{ new_name: string; new_project_contacts: { lastname: string }[] }>({
      collection: "new_projects",
      select: ["new_name"],
      filter: `new_projectid eq ${ids.apollo}`,
      expand: [{ property: "new_project_contacts", select: ["lastname"], filter: "startswith(lastname,'Lo') or startswith(lastname,'Ho')", orderBy: ["lastname"], top: 1 }],
    });
    expect(firstOnly.value[0]?.new_project_contacts.map((c) => c.lastname)).toEqual(["Hopper"]);
    const contacts = await call(orgbox(), token, "GET", `contacts?$select=lastname&$filter=lastname eq 'Lovelace' or lastname eq 'Turing'&$orderby=lastname&$expand=new_project_contacts($select=new_name;$expand=new_AccountId($select=name))`);
    expect(contacts.status).toBe(200);
    expect(contacts.body.value?.map((c) => [c.lastname, (c.new_project_contacts as { new_name: string; new_AccountId: { name: string } | null }[]).map((p) => [p.new_name, p.new_AccountId?.name ?? null])])).toEqual([
      ["Lovelace", [["Apollo", "Acme"]]],
      ["Turing", [["Gemini", null]]],
    ]);
    const single = await call(orgbox(), token, "GET", `new_projects(${ids.gemini})?$select=new_name&$expand=new_project_contacts($select=firstname)`);
    expect(single.body.new_project_contacts).toEqual([expect.objectContaining({ firstname: "Alan" })]);
  });

  it("an N:N expand returns up to 5000 related rows, then <nav>@odata.nextLink to the navigation property's own read", async () => {
    const contactIds: string[] = [];
    for (let start = 0; start < 5001; start += 1000) {
      const targets = Array.from({ length: Math.min(1000, 5001 - start) }, (_, i) => ({ "@odata.type": "Microsoft.Dynamics.CRM.contact", lastname: `Member ${String(start + i).padStart(5, "0")}` }));
      const created = await api.callAction<{ Ids: string[] }>({ collection: "contacts", actionName: "Microsoft.Dynamics.CRM.CreateMultiple", action: { Targets: targets } });
      contactIds.push(...created.Ids);
    }
    const big = String(await api.create({ collection: "new_projects", data: { new_name: "Big", "new_project_contacts@odata.bind": contactIds.map((id) => `/contacts(${id})`) } }));
    const res = await api.retrieve<Record<string, unknown>>({ collection: "new_projects", key: big, select: ["new_name"], expand: [{ property: "new_project_contacts", select: ["lastname"], orderBy: ["lastname"] }] });
    const first = res.new_project_contacts as { lastname: string }[];
    expect(first).toHaveLength(5000);
    expect(first[4999]?.lastname).toBe("Member 04999");
    const link = res["new_project_contacts@odata.nextLink"];
    expect(link).toEqual(expect.stringContaining(`/new_projects(${big})/new_project_contacts?`));
    const rest = await api.retrieveMultiple<{ lastname: string }>({ collection: "contacts" }, link as string);
    expect(rest.value.map((r) => r.lastname)).toEqual(["Member 05000"]);
    await api.deleteRecord({ collection: "new_projects", key: big });
    const links = await call(orgbox(), token, "GET", `new_project_contactset?$select=contactid&$filter=new_projectid eq ${big}&$top=1`);
    expect(links.body.value).toEqual([]);
  }, 60_000);

  it("$filter with any/all over the N:N collection", async () => {
    const any = await call(orgbox(), token, "GET", "new_projects?$select=new_name&$filter=new_project_contacts/any(c:c/lastname eq 'Turing')");
    expect(any.body.value?.map((p) => p.new_name)).toEqual(["Gemini"]);
    const all = await call(orgbox(), token, "GET", "new_projects?$select=new_name&$filter=new_project_contacts/all(c:startswith(c/lastname,'Lo') or startswith(c/lastname,'Ho'))&$orderby=new_name");
    expect(all.body.value?.map((p) => p.new_name)).toEqual(["Apollo"]);
    const contacts = await call(orgbox(), token, "GET", "contacts?$select=lastname&$filter=new_project_contacts/any(p:p/new_name eq 'Apollo')&$orderby=lastname");
    expect(contacts.body.value?.map((c) => c.lastname)).toEqual(["Hopper", "Lovelace"]);
  });

  it("@odata.bind of the N:N collection on create; bind on update and deep update refused", async () => {
    const id = String(await api.create({ collection: "new_projects", data: { new_name: "Mercury", "new_project_contacts@odata.bind": [`/contacts(${ids.ada})`, `${orgbox().apiUrl}/contacts(${ids.grace})`] } }));
    const linked = await call(orgbox(), token, "GET", `new_projects(${id})/new_project_contacts?$select=lastname&$orderby=lastname`);
    expect(linked.body.value?.map((c) => c.lastname)).toEqual(["Hopper", "Lovelace"]);
    const fromContact = await call(orgbox(), token, "POST", "contacts", { lastname: "Hamilton", "new_project_contacts@odata.bind": [`/new_projects(${id})`] });
    expect(fromContact.status).toBe(204);
    const count = await call(orgbox(), token, "GET", `new_projects(${id})/new_project_contacts?$select=lastname`);
    expect(count.body.value).toHaveLength(3);

    const wrongType = await call(orgbox(), token, "POST", "new_projects", { new_name: "X", "new_project_contacts@odata.bind": [`/accounts(${ids.acme})`] });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error?.message).toContain("Microsoft.Dynamics.CRM.contact");
    const missing = await call(orgbox(), token, "POST", "new_projects", { new_name: "X", "new_project_contacts@odata.bind": ["/contacts(00000000-0000-0000-0000-000000000001)"] });
    expect(missing.status).toBe(404);
    const rolledBack = await call(orgbox(), token, "GET", "new_projects?$select=new_name&$filter=new_name eq 'X'");
    expect(rolledBack.body.value).toEqual([]);
    const onUpdate = await call(orgbox(), token, "PATCH", `new_projects(${id})`, { "new_project_contacts@odata.bind": [`/contacts(${ids.alan})`] });
    expect(onUpdate.status).toBe(400);
    const deepUpdate = await call(orgbox(), token, "PATCH", `new_projects(${id})`, { new_project_contacts: [{ lastname: "Nested" }] });
    expect(deepUpdate.status).toBe(400);
    expect(deepUpdate.body.error?.message).toContain("Deep update is not supported");
  });

  it("deep insert through an N:N navigation property creates the related records and links them, all or nothing", async () => {
    const id = String(await api.create({ collection: "new_projects", data: { new_name: "Deep", new_project_contacts: [{ lastname: "Nested one" }, { lastname: "Nested two" }] } }));
    const linked = await call(orgbox(), token, "GET", `new_projects(${id})/new_project_contacts?$select=lastname&$orderby=lastname`);
    expect(linked.body.value?.map((c) => c.lastname)).toEqual(["Nested one", "Nested two"]);
    // From the other side, nested inside a deep-inserted record.
    const fromContact = await call(orgbox(), token, "POST", "contacts", { lastname: "Parent of projects", new_project_contacts: [{ new_name: "Child project" }] });
    expect(fromContact.status).toBe(204);
    const projects = await call(orgbox(), token, "GET", "new_projects?$select=new_name&$filter=new_project_contacts/any(c:c/lastname eq 'Parent of projects')");
    expect(projects.body.value?.map((p) => p.new_name)).toEqual(["Child project"]);
    // A nested record that fails validation leaves nothing behind.
    const bad = await call(orgbox(), token, "POST", "new_projects", { new_name: "Rolled back", new_project_contacts: [{ lastname: "Fine" }, { lastname: "x".repeat(500) }] });
    expect(bad.status).toBe(400);
    const none = await call(orgbox(), token, "GET", "new_projects?$select=new_name&$filter=new_name eq 'Rolled back'");
    expect(none.body.value).toEqual([]);
    const notArray = await call(orgbox(), token, "POST", "new_projects", { new_name: "X", new_project_contacts: { lastname: "Single" } });
    expect(notArray.status).toBe(400);
  });

  it("self-referential N:N: one navigation property links both ways; distinct names keep a direction", async () => {
    const a = ids.acme;
    const b = ids.globex;
    await api.associate({ collection: "accounts", primaryKey: a, relationshipName: "new_account_account", relatedCollection: "accounts", relatedKey: b });
    const fromB = await call(orgbox(), token, "GET", `accounts(${b})/new_account_account?$select=name`);
    expect(fromB.body.value?.map((r) => r.name)).toEqual(["Acme"]);
    const fromA = await call(orgbox(), token, "GET", `accounts?$select=name&$filter=accountid eq ${a}&$expand=new_account_account($select=name)`);
    expect((fromA.body.value?.[0]?.new_account_account as { name: string }[]).map((r) => r.name)).toEqual(["Globex"]);
    const reverse = await call(orgbox(), token, "POST", `accounts(${b})/new_account_account/$ref`, { "@odata.id": `${orgbox().apiUrl}/accounts(${a})` });
    expect(reverse.status).toBe(412);
    const linkedToAcme = await call(orgbox(), token, "GET", "accounts?$select=name&$filter=new_account_account/any(x:x/name eq 'Acme')");
    expect(linkedToAcme.body.value?.map((r) => r.name)).toEqual(["Globex"]);

    await api.associate({ collection: "accounts", primaryKey: a, relationshipName: "new_mentors", relatedCollection: "accounts", relatedKey: b });
    const mentors = await call(orgbox(), token, "GET", `accounts(${a})/new_mentors?$select=name`);
    expect(mentors.body.value?.map((r) => r.name)).toEqual(["Globex"]);
    const mentees = await call(orgbox(), token, "GET", `accounts(${b})/new_mentees?$select=name`);
    expect(mentees.body.value?.map((r) => r.name)).toEqual(["Acme"]);
    const none = await call(orgbox(), token, "GET", `accounts(${a})/new_mentees?$select=name`);
    expect(none.body.value).toEqual([]);

    await api.disassociate({ collection: "accounts", primaryKey: b, relationshipName: "new_account_account", relatedKey: a });
    const gone = await call(orgbox(), token, "GET", `accounts(${a})/new_account_account?$select=name`);
    expect(gone.body.value).toEqual([]);
    // A record linked to itself is listed once.
    await api.associate({ collection: "accounts", primaryKey: a, relationshipName: "new_account_account", relatedCollection: "accounts", relatedKey: a });
    const itself = await call(orgbox(), token, "GET", `accounts(${a})?$select=name&$expand=new_account_account($select=name)`);
    expect((itself.body.new_account_account as { name: string }[]).map((r) => r.name)).toEqual(["Acme"]);
    await api.disassociate({ collection: "accounts", primaryKey: a, relationshipName: "new_account_account", relatedKey: a });
  });

  it("FetchXML: link-entity through the intersect table (intersect=\"true\")", async () => {
    const fetchXml = `<fetch><entity name="new_project"><attribute name="new_name"/><filter><condition attribute="new_projectid" operator="eq" value="${ids.apollo}"/></filter><link-entity name="new_project_contact" from="new_projectid" to="new_projectid" visible="false" intersect="true"><link-entity name="contact" from="contactid" to="contactid" alias="c"><attribute name="lastname"/><order attribute="lastname"/></link-entity></link-entity></entity></fetch>`;
    const rows = await api.fetchAll<Record<string, unknown>>({ collection: "new_projects", fetchXml });
    expect(rows.value.map((r) => [r.new_name, r.c_x002e_lastname])).toEqual([
      ["Apollo", "Hopper"],
      ["Apollo", "Lovelace"],
    ]);
  });

  it("deleting a record removes its intersect rows; a Cascade 1:N deletes the children (and their links)", async () => {
    const before = await call(orgbox(), token, "GET", `new_project_contactset?$select=contactid&$filter=contactid eq ${ids.grace}`);
    expect(before.body.value?.length).toBe(2);
    await api.deleteRecord({ collection: "contacts", key: ids.grace });
    const after = await call(orgbox(), token, "GET", `new_project_contactset?$select=contactid&$filter=contactid eq ${ids.grace}`);
    expect(after.body.value).toEqual([]);
    const apollo = await call(orgbox(), token, "GET", `new_projects(${ids.apollo})/new_project_contacts?$select=lastname`);
    expect(apollo.body.value?.map((c) => c.lastname)).toEqual(["Lovelace"]);

    await api.deleteRecord({ collection: "accounts", key: ids.acme });
    const project = await call(orgbox(), token, "GET", `new_projects(${ids.apollo})`);
    expect(project.status).toBe(404);
    const links = await call(orgbox(), token, "GET", `new_project_contactset?$select=contactid&$filter=new_projectid eq ${ids.apollo}`);
    expect(links.body.value).toEqual([]);
  });

  it("associating needs Append on both records (403 naming the privilege)", async () => {
    const o = orgbox();
    const org = (await o.dataverse.service.findOrg("contoso")) as Org;
    const role = await o.dataverse.service.createRole(org, {
      name: "Contacts only",
      businessUnitId: DEMO.org.rootBusinessUnitId,
      privileges: ["prvReadnew_Project", "prvReadContact", "prvAppendContact", "prvAppendToContact", "prvAppendTonew_Project"].map((name) => ({ name, depth: "Global" as const })),
    });
    const user = await appUser(o, org, "append tester", DEMO.org.rootBusinessUnitId, [role]);
    const denied = await call(o, user.token, "POST", `contacts(${ids.ada})/new_project_contacts/$ref`, { "@odata.id": `${o.apiUrl}/new_projects(${ids.gemini})` });
    expect(denied.status).toBe(403);
    expect(denied.body.error?.message).toContain("prvAppendnew_Project");
    const read = await call(o, user.token, "GET", `new_projects(${ids.gemini})/new_project_contacts?$select=lastname`);
    expect(read.status).toBe(200);
    const fetchXml = `<fetch><entity name="contact"><attribute name="lastname"/><link-entity name="new_project_contact" from="contactid" to="contactid" intersect="true"><link-entity name="new_project" from="new_projectid" to="new_projectid" alias="p"><attribute name="new_name"/></link-entity></link-entity></entity></fetch>`;
    const linked = await call(o, user.token, "GET", `contacts?fetchXml=${encodeURIComponent(fetchXml)}`);
    expect(linked.status).toBe(200);
  });

  it("errors: unknown tables (404), taken names (0x80040237), invalid bodies (400), unknown relationships and casts (404), privileges (403)", async () => {
    const nn = (extra: Record<string, unknown>) => ({ "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata", SchemaName: "new_x_y", Entity1LogicalName: "new_project", Entity2LogicalName: "account", ...extra });
    const unknown = await call(orgbox(), token, "POST", "RelationshipDefinitions", nn({ Entity2LogicalName: "new_nope" }));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error?.code).toBe("0x80040217");
    await expect(api.createRelationship({ data: projectContacts })).rejects.toMatchObject({ status: 400, code: "0x80040237" });
    const takenName = await call(orgbox(), token, "POST", "RelationshipDefinitions", nn({ SchemaName: "contact_customer_accounts" }));
    expect(takenName.status).toBe(400);
    const caseInsensitive = await call(orgbox(), token, "POST", "RelationshipDefinitions", nn({ SchemaName: "NEW_project_contacts", IntersectEntityName: "new_other" }));
    expect(caseInsensitive.body.error?.code).toBe("0x80040237");
    const takenIntersect = await call(orgbox(), token, "POST", "RelationshipDefinitions", nn({ IntersectEntityName: "new_project" }));
    expect(takenIntersect.body.error?.code).toBe("0x80040237");
    const takenNavigation = await call(orgbox(), token, "POST", "RelationshipDefinitions", nn({ Entity2NavigationPropertyName: "name" }));
    expect(takenNavigation.body.error?.code).toBe("0x80040237");
    const unprefixed = await call(orgbox(), token, "POST", "RelationshipDefinitions", nn({ SchemaName: "ProjectsAccounts" }));
    expect(unprefixed.status).toBe(400);
    expect(unprefixed.body.error?.code).toBe("0x80044331");
    const intersectSide = await call(orgbox(), token, "POST", "RelationshipDefinitions", nn({ Entity2LogicalName: "new_project_contact" }));
    expect(intersectSide.status).toBe(400);
    const untyped = await call(orgbox(), token, "POST", "RelationshipDefinitions", { SchemaName: "new_x_y", Entity1LogicalName: "account", Entity2LogicalName: "contact" });
    expect(untyped.status).toBe(400);
    const oneToMany = (extra: Record<string, unknown>) => ({ ...accountProjects, SchemaName: "new_contact_new_project", ReferencedEntity: "contact", ReferencedAttribute: "contactid", Lookup: { ...accountProjects.Lookup, SchemaName: "new_ContactId" }, ...extra });
    expect((await call(orgbox(), token, "POST", "RelationshipDefinitions", oneToMany({ Lookup: undefined }))).status).toBe(400);
    expect((await call(orgbox(), token, "POST", "RelationshipDefinitions", oneToMany({ ReferencedAttribute: "fullname" }))).status).toBe(400);
    expect((await call(orgbox(), token, "POST", "RelationshipDefinitions", oneToMany({ CascadeConfiguration: { Delete: "NoCascade" } }))).status).toBe(400);
    expect((await call(orgbox(), token, "POST", "RelationshipDefinitions", oneToMany({ Lookup: { ...accountProjects.Lookup, SchemaName: "new_AccountId" } }))).body.error?.code).toBe("0x80040237");
    expect((await call(orgbox(), token, "POST", "RelationshipDefinitions", oneToMany({ ReferencingEntity: "new_gone" }))).status).toBe(404);
    const lookupColumn = await call(orgbox(), token, "POST", "EntityDefinitions(LogicalName='new_project')/Attributes", { "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata", SchemaName: "new_ContactId" });
    expect(lookupColumn.status).toBe(400);
    expect(lookupColumn.body.error?.message).toContain("RelationshipDefinitions");

    const missing = await call(orgbox(), token, "GET", "RelationshipDefinitions(SchemaName='new_nope')");
    expect(missing.status).toBe(404);
    expect(missing.body.error?.code).toBe("0x80040217");
    expect((await call(orgbox(), token, "GET", `RelationshipDefinitions(${relationshipId})/Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata`)).status).toBe(404);
    expect((await call(orgbox(), token, "GET", "RelationshipDefinitions/Microsoft.Dynamics.CRM.EntityMetadata")).status).toBe(404);
    const derivedWithoutCast = await call(orgbox(), token, "GET", "RelationshipDefinitions?$select=Entity1LogicalName");
    expect(derivedWithoutCast.status).toBe(400);
    expect((await call(orgbox(), token, "PUT", `RelationshipDefinitions(${relationshipId})`, {})).status).toBe(501);
    const wrongTarget = await call(orgbox(), token, "POST", `new_projects(${ids.gemini})/new_project_contacts/$ref`, { "@odata.id": `${orgbox().apiUrl}/accounts(${ids.globex})` });
    expect(wrongTarget.status).toBe(400);
    const absent = await call(orgbox(), token, "POST", `new_projects(${ids.gemini})/new_project_contacts/$ref`, { "@odata.id": `${orgbox().apiUrl}/contacts(00000000-0000-0000-0000-000000000001)` });
    expect(absent.status).toBe(404);

    const demo = await demoToken(orgbox());
    const denied = await call(orgbox(), demo, "POST", "RelationshipDefinitions", nn({}));
    expect(denied.status).toBe(403);
    expect(denied.body.error?.message).toContain("prvCreateEntity");
    expect((await call(orgbox(), demo, "GET", "RelationshipDefinitions")).status).toBe(403);
  });

  it("relationships and links survive a restart with --data (a second orgbox on the same data folder)", async () => {
    const again = await startOrgbox({ inMemory: false, dataDir, caDir });
    try {
      const fresh = await adminToken(again);
      const definition = await call(again, fresh, "GET", "RelationshipDefinitions(SchemaName='new_project_contacts')/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata?$select=IntersectEntityName");
      expect(definition.body).toMatchObject({ MetadataId: relationshipId, IntersectEntityName: "new_project_contact" });
      const linked = await call(again, fresh, "GET", `new_projects(${ids.gemini})/new_project_contacts?$select=lastname`);
      expect(linked.body.value?.map((c) => c.lastname)).toEqual(["Turing"]);
      const associate = await call(again, fresh, "POST", `new_projects(${ids.gemini})/new_project_contacts/$ref`, { "@odata.id": `${again.apiUrl}/contacts(${ids.ada})` });
      expect(associate.status).toBe(204);
      const lookup = await call(again, fresh, "POST", "new_projects", { new_name: "Vostok", "new_AccountId@odata.bind": `/accounts(${ids.globex})` });
      expect(lookup.status).toBe(204);
    } finally {
      await again.close();
    }
  });

  it("DELETE RelationshipDefinitions: an N:N one goes with its links, a 1:N one with its lookup column; standard ones are refused", async () => {
    expect((await call(orgbox(), token, "DELETE", "RelationshipDefinitions(SchemaName='new_account_mentors')")).status).toBe(204);
    expect((await call(orgbox(), token, "GET", "RelationshipDefinitions(SchemaName='new_account_mentors')")).status).toBe(404);
    const gone = await call(orgbox(), token, "GET", "accounts?$select=name&$expand=new_mentors($select=name)");
    expect(gone.status).toBe(400);
    expect((await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='new_account_mentor')")).status).toBe(404);

    const byId = String((await api.retrieveRelationship<{ MetadataId: string }>({ key: "SchemaName='new_account_new_project'", select: ["MetadataId"] })).MetadataId);
    expect((await call(orgbox(), token, "DELETE", `RelationshipDefinitions(${byId})`)).status).toBe(204);
    expect((await call(orgbox(), token, "GET", "EntityDefinitions(LogicalName='new_project')/Attributes(LogicalName='new_accountid')")).status).toBe(404);
    expect((await call(orgbox(), token, "GET", "new_projects?$select=new_name&$top=1")).status).toBe(200);
    // The name is free again.
    expect((await call(orgbox(), token, "POST", "RelationshipDefinitions", accountProjects)).status).toBe(204);

    const standard = await call(orgbox(), token, "DELETE", "RelationshipDefinitions(SchemaName='contact_customer_accounts')");
    expect(standard.status).toBe(400);
    expect(standard.body.error?.code).toBe("0x80040203");
    expect((await call(orgbox(), token, "DELETE", "RelationshipDefinitions(SchemaName='new_nothing')")).status).toBe(404);
  });
});
