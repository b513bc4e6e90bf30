/**
 * Issue 6: environment files define custom tables with columns, local option sets and alternate
 * keys, add columns and keys to standard tables, and data rows reference rows by alternate key
 * (`@ref:account(accountnumber='A-100')`). The org is then used with the real dynamics-web-api
 * client; `orgbox export` writes the definitions back and the export starts again to the same state.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamicsWebApi } from "dynamics-web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environmentProblems } from "../helpers/environment.ts";
import { exportEnvironment, SECRET_PLACEHOLDER } from "../../src/environment/export.ts";
import { startOrgbox, type OrgboxEnvironment, type OrgboxInstance } from "../../src/index.ts";

const TENANT = "9c000000-0000-4000-8000-000000000001";
const DOMAIN = "tables-env.onmicrosoft.com";
const APP = "9c000000-0000-4000-8000-00000000a001";
const SECRET = "tables-app-secret";

const BASE = `
tenants:
  - id: ${TENANT}
    displayName: Tables
    domains: [${DOMAIN}]
apps:
  - appId: ${APP}
    displayName: Tables daemon
    tenant: ${DOMAIN}
    secrets: [{ value: ${SECRET} }]
orgs:
  - name: tables
    tenant: ${DOMAIN}
`;

const ENV = `${BASE}    tables:
      new_milestone:
        displayName: Milestone
        columns:
          new_projectid: { type: Lookup, target: new_project, displayName: Project, required: true }
      new_project:
        schemaName: new_Project
        displayName: Project
        ownership: UserOwned
        columns:
          new_name: { type: String, displayName: Project name, maxLength: 200 }
          new_code: { type: String, schemaName: new_Code, maxLength: 20, required: true }
          new_budget: { type: Money, precision: 2 }
          new_phase: { type: Picklist, options: { 100000000: Planning, 100000001: Delivery } }
          new_tags: { type: MultiSelectPicklist, options: { 1: Red, 2: Green, 3: Blue } }
          new_active: { type: Boolean, options: { 0: Paused, 1: Running } }
          new_due: { type: DateTime, dateTimeBehavior: DateOnly }
        keys:
          new_codekey: [new_code]
      account:
        columns:
          new_tier: { type: Picklist, options: { 1: Gold, 2: Silver } }
          new_projectid: { type: Lookup, target: new_project, relationship: new_project_accounts }
        keys:
          new_accountnumberkey: { columns: [accountnumber], schemaName: new_AccountNumberKey, displayName: Account number }
    manyToMany:
      new_project_contacts: { tables: [new_project, contact] }
      new_project_peers: { tables: [new_project, new_project], navigation: [new_dependsOn, new_neededBy] }
    roles:
      - name: Project reader
        privileges: { prvReadnew_Project: Global, prvCreatenew_Project: Global, prvWritenew_Project: Global, prvReadnew_milestone: Global, prvReadAccount: Global, prvReadContact: Global, prvReadEntity: Global }
    applicationUsers:
      - app: ${APP}
        roles: [Project reader]
    defaultOwner: ${APP}
    data:
      account:
        - { name: Contoso, accountnumber: A-100, new_tier: 1, new_projectid: "@ref:new_project(new_code='P-2')" }
        - { name: Fabrikam, accountnumber: A-200, new_tier: 2 }
      contact:
        - { "@key": smith, lastname: Smith, parentcustomerid: "@ref:account(accountnumber='a-100')" }
        - { lastname: Jones, parentcustomerid: "@ref:account(accountnumber='A-200')" }
      new_project:
        - { new_name: Apollo, new_code: P-1, new_budget: 1500.5, new_phase: 100000001, new_tags: "3,1", new_active: true, new_due: "2027-01-31" }
        - { new_name: Gemini, new_code: P-2, new_phase: 100000000 }
      new_milestone:
        - { new_name: Kickoff, new_projectid: "@ref:new_project(new_code='P-1')" }
        - { new_name: Launch, new_projectid: "@ref:new_project(new_code='P-1')" }
        - { new_name: Review, new_projectid: "@ref:new_project(new_code='P-2')" }
    associations:
      new_project_contacts:
        - ["@ref:new_project(new_code='P-1')", "@ref:smith"]
        - ["@ref:new_project(new_code='P-2')", "@ref:smith"]
      new_project_peers:
        - ["@ref:new_project(new_code='P-2')", "@ref:new_project(new_code='P-1')"]
`;

async function token(o: OrgboxInstance): Promise<string> {
  const res = await fetch(`${o.url}/${TENANT}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: APP, client_secret: SECRET, resource: o.orgUrlOf("tables") }) });
  return ((await res.json()) as { access_token: string }).access_token;
}

function client(o: OrgboxInstance, bearer: string): DynamicsWebApi {
  return new DynamicsWebApi({ serverUrl: `${o.orgUrlOf("tables")}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => bearer });
}

describe("environment file: custom tables, columns, option sets and alternate keys", () => {
  let dir: string;
  let first: OrgboxInstance;
  let second: OrgboxInstance | undefined;
  let api: DynamicsWebApi;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "orgbox-env-tables-"));
    writeFileSync(join(dir, "env.yaml"), ENV);
    first = await startOrgbox({ config: join(dir, "env.yaml") });
    api = client(first, await token(first));
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  it("creates the custom table: dynamics-web-api reads its rows with formatted option values, and by its alternate key", async () => {
    const rows = await api.retrieveMultiple<Record<string, unknown>>({
      collection: "new_projects",
      select: ["new_name", "new_code", "new_budget", "new_phase", "new_tags", "new_active", "new_due"],
      orderBy: ["new_code"],
      includeAnnotations: "OData.Community.Display.V1.FormattedValue",
    });
    expect(rows.value).toHaveLength(2);
    expect(rows.value[0]).toMatchObject({
      new_name: "Apollo",
      new_code: "P-1",
      new_budget: 1500.5,
      new_phase: 100000001,
      "new_phase@OData.Community.Display.V1.FormattedValue": "Delivery",
      new_tags: "1,3",
      new_active: true,
      "new_active@OData.Community.Display.V1.FormattedValue": "Running",
      new_due: "2027-01-31",
    });
    const byKey = await api.retrieve<{ new_name: string }>({ collection: "new_projects", key: "new_code='p-2'", select: ["new_name"] });
    expect(byKey.new_name).toBe("Gemini");
    const created = (await api.create({ collection: "new_projects", data: { new_name: "Mercury", new_code: "P-3" } })) as string;
    expect(created).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("adds columns and keys to a standard table; contacts reference accounts by alternate key", async () => {
    const account = await api.retrieve<{ accountid: string; new_tier: number }>({ collection: "accounts", key: "accountnumber='A-100'", select: ["name", "new_tier"] });
    expect(account.new_tier).toBe(1);
    const contacts = await api.retrieveMultiple<{ lastname: string; _parentcustomerid_value: string }>({ collection: "contacts", select: ["lastname", "_parentcustomerid_value"], filter: "lastname eq 'Smith'" });
    expect(contacts.value[0]?._parentcustomerid_value).toBe(account.accountid);
    const keys = await first.dataverse.service.loadMetadata((await first.dataverse.service.findOrg("tables"))!);
    expect(keys.entity("account")?.keys).toEqual([{ logicalName: "new_accountnumberkey", schemaName: "new_AccountNumberKey", displayName: "Account number", keyAttributes: ["accountnumber"] }]);
  });

  it("Lookup columns are one-to-many relationships: rows reference by alternate key, dynamics-web-api expands both ways", async () => {
    const milestones = await api.retrieveMultiple<{ new_name: string; new_projectid: { new_code: string } }>({
      collection: "new_milestones",
      select: ["new_name"],
      expand: [{ property: "new_projectid", select: ["new_code"] }],
      orderBy: ["new_name"],
    });
    expect(milestones.value.map((m) => [m.new_name, m.new_projectid.new_code])).toEqual([
      ["Kickoff", "P-1"],
      ["Launch", "P-1"],
      ["Review", "P-2"],
    ]);
    const projects = await api.retrieveMultiple<{ new_code: string; new_new_project_new_milestone: { new_name: string }[]; new_project_accounts: { name: string }[] }>({
      collection: "new_projects",
      select: ["new_code"],
      expand: [
        { property: "new_new_project_new_milestone", select: ["new_name"], orderBy: ["new_name"] },
        { property: "new_project_accounts", select: ["name"] },
      ],
      filter: "new_code eq 'P-1' or new_code eq 'P-2'",
      orderBy: ["new_code"],
    });
    expect(projects.value.map((p) => [p.new_code, p.new_new_project_new_milestone.map((m) => m.new_name), p.new_project_accounts.map((a) => a.name)])).toEqual([
      ["P-1", ["Kickoff", "Launch"], []],
      ["P-2", ["Review"], ["Contoso"]],
    ]);
    const relationship = await api.retrieveRelationship({ key: "SchemaName='new_new_project_new_milestone'" });
    expect(relationship).toMatchObject({ ReferencedEntity: "new_project", ReferencingEntity: "new_milestone", ReferencingAttribute: "new_projectid" });
  });

  it("manyToMany and associations: N:N relationships with their links, read with dynamics-web-api from both sides", async () => {
    const projects = await api.retrieveMultiple<{ new_code: string; new_project_contacts: { lastname: string }[]; new_dependsOn: { new_code: string }[]; new_neededBy: { new_code: string }[] }>({
      collection: "new_projects",
      select: ["new_code"],
      expand: [
        { property: "new_project_contacts", select: ["lastname"] },
        { property: "new_dependsOn", select: ["new_code"] },
        { property: "new_neededBy", select: ["new_code"] },
      ],
      filter: "new_code eq 'P-1' or new_code eq 'P-2'",
      orderBy: ["new_code"],
    });
    expect(projects.value.map((p) => [p.new_code, p.new_project_contacts.map((c) => c.lastname), p.new_dependsOn.map((d) => d.new_code), p.new_neededBy.map((d) => d.new_code)])).toEqual([
      ["P-1", ["Smith"], [], ["P-2"]],
      ["P-2", ["Smith"], ["P-1"], []],
    ]);
    const smith = await api.retrieveMultiple<{ new_project_contacts: { new_code: string }[] }>({ collection: "contacts", select: ["lastname"], filter: "lastname eq 'Smith'", expand: [{ property: "new_project_contacts", select: ["new_code"], orderBy: ["new_code"] }] });
    expect(smith.value[0]?.new_project_contacts.map((p) => p.new_code)).toEqual(["P-1", "P-2"]);
  });

  it("resets to the file's state: custom table rows written after start are gone", async () => {
    await api.create({ collection: "new_projects", data: { new_name: "Temporary", new_code: "T-1" } });
    await first.reset();
    const fresh = client(first, await token(first));
    const rows = await fresh.retrieveMultiple<{ new_code: string }>({ collection: "new_projects", select: ["new_code"], orderBy: ["new_code"] });
    expect(rows.value.map((r) => r.new_code)).toEqual(["P-1", "P-2"]);
  });

  it("export writes the definitions and rows back; the export starts to the same tables and data", async () => {
    const exported = await exportEnvironment(first.identity.service, first.dataverse.service);
    const tables = exported.environment.orgs?.[0]?.tables;
    expect(tables?.new_project).toMatchObject({
      schemaName: "new_Project",
      displayName: "Project",
      primaryName: "new_name",
      keys: { new_codekey: ["new_code"] },
      columns: expect.objectContaining({
        new_name: expect.objectContaining({ type: "String", displayName: "Project name", maxLength: 200 }),
        new_code: expect.objectContaining({ type: "String", schemaName: "new_Code", required: true }),
        new_phase: { type: "Picklist", options: { 100000000: "Planning", 100000001: "Delivery" } },
        new_active: { type: "Boolean", options: { 0: "Paused", 1: "Running" } },
        new_due: { type: "DateTime", dateTimeBehavior: "DateOnly" },
      }),
    });
    expect(exported.environment.orgs?.[0]?.manyToMany).toEqual({
      new_project_contacts: { tables: ["new_project", "contact"] },
      new_project_peers: { tables: ["new_project", "new_project"], navigation: ["new_dependsOn", "new_neededBy"] },
    });
    expect(exported.environment.orgs?.[0]?.associations?.new_project_contacts).toHaveLength(2);
    expect(exported.environment.orgs?.[0]?.associations?.new_project_peers).toHaveLength(1);
    expect(tables?.new_milestone?.columns?.new_projectid).toEqual({ type: "Lookup", target: "new_project", displayName: "Project", required: true });
    expect(tables?.account).toEqual({
      columns: { new_tier: { type: "Picklist", options: { 1: "Gold", 2: "Silver" } }, new_projectid: { type: "Lookup", target: "new_project", relationship: "new_project_accounts" } },
      keys: { new_accountnumberkey: { columns: ["accountnumber"], schemaName: "new_AccountNumberKey", displayName: "Account number" } },
    });
    const environment: OrgboxEnvironment = JSON.parse(JSON.stringify(exported.environment).replaceAll(SECRET_PLACEHOLDER, SECRET));
    writeFileSync(join(dir, "exported.json"), JSON.stringify(environment));
    second = await startOrgbox({ config: join(dir, "exported.json") });
    const again = client(second, await token(second));
    const rows = await again.retrieveMultiple<{ new_code: string; new_tags: string }>({ collection: "new_projects", select: ["new_code", "new_tags"], orderBy: ["new_code"] });
    expect(rows.value.map((r) => [r.new_code, r.new_tags ?? null])).toEqual([
      ["P-1", "1,3"],
      ["P-2", null],
    ]);
    expect((await again.retrieve<{ name: string }>({ collection: "accounts", key: "accountnumber='A-200'", select: ["name"] })).name).toBe("Fabrikam");
    const linked = await again.retrieveMultiple<{ new_project_contacts: { new_code: string }[] }>({ collection: "contacts", select: ["lastname"], filter: "lastname eq 'Smith'", expand: [{ property: "new_project_contacts", select: ["new_code"], orderBy: ["new_code"] }] });
    expect(linked.value[0]?.new_project_contacts.map((p) => p.new_code)).toEqual(["P-1", "P-2"]);
    const milestones = await again.retrieveMultiple<{ new_name: string; new_projectid: { new_code: string } }>({ collection: "new_milestones", select: ["new_name"], expand: [{ property: "new_projectid", select: ["new_code"] }], orderBy: ["new_name"] });
    expect(milestones.value.map((m) => [m.new_name, m.new_projectid.new_code])).toEqual([
      ["Kickoff", "P-1"],
      ["Launch", "P-1"],
      ["Review", "P-2"],
    ]);
  });
});

describe("environment file: table definition errors", () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-env-tables-bad-"));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("names bad tables, columns and keys with their path and the Web API's reason", () => {
    const path = file(
      "bad-tables.yaml",
      `${BASE}    tables:
      project:
        displayName: Project
      new_thing:
        columns:
          new_x: { type: String }
      new_widget:
        displayName: Widget
        columns:
          size: { type: Integer }
          new_color: { type: Integer, options: { 1: Red } }
          new_kind: { type: Picklist, schemaName: new_Other, options: { 1: A } }
        keys:
          new_sizekey: [new_size]
      account:
        displayName: Account
      contact:
        columns:
          new_score: { type: Integer }
        keys:
          new_notes: [description]
`,
    );
    expect(environmentProblems(path)).toEqual([
      expect.stringMatching(/orgs\[0\]\.tables\.project: The schema name 'project' of the Entity is not valid: a custom name must start with a publisher customization prefix/),
      `${path}: orgs[0].tables.new_thing: The DisplayName of 'new_thing' is required.`,
      expect.stringMatching(/orgs\[0\]\.tables\.new_widget\.columns\.size: The schema name 'size' of the Attribute is not valid/),
      `${path}: orgs[0].tables.new_widget.columns.new_color.options: only Picklist, MultiSelectPicklist and Boolean columns take options (new_color is Integer)`,
      `${path}: orgs[0].tables.new_widget.columns.new_kind.schemaName: the schema name 'new_Other' does not match the column's logical name 'new_kind' (its lower case must be the key)`,
      `${path}: orgs[0].tables.new_widget.keys.new_sizekey: The key 'new_sizekey' names the column 'new_size', which table 'new_widget' does not have.`,
      `${path}: orgs[0].tables.account: account is a standard table: only columns and keys can be added to it (remove displayName)`,
      expect.stringMatching(/orgs\[0\]\.tables\.contact\.keys\.new_notes: The column 'description' \(Memo\) cannot be part of an alternate key/),
    ]);
  });

  it("names bad Lookup columns: unknown or missing target, options, a target on a text column, bad or taken relationship names (a standard one too), a row of the wrong table", () => {
    const path = file(
      "bad-lookups.yaml",
      `${BASE}    tables:
      new_task:
        displayName: Task
        columns:
          new_widgetid: { type: Lookup, target: new_widget }
          new_ownerref: { type: Lookup }
          new_accountid: { type: Lookup, target: account, options: { 1: A } }
          new_note: { type: String, target: account }
          new_contactid: { type: Lookup, target: contact, relationship: contact_tasks }
          new_leadrefid: { type: Lookup, target: lead, relationship: LeadTasks }
          new_parentid: { type: Lookup, target: account }
          new_otherid: { type: Lookup, target: account }
          new_leadid: { type: Lookup, target: lead }
    data:
      new_task:
        - { new_name: T, new_leadid: "@ref:account(name='x')" }
        - { new_name: U, new_leadid: "@ref:c1" }
      contact:
        - { "@key": c1, lastname: Smith }
`,
    );
    expect(environmentProblems(path)).toEqual([
      `${path}: orgs[0].tables.new_task.columns.new_note.target: only Lookup columns take a target and a relationship (new_note is String)`,
      `${path}: orgs[0].tables.new_task.columns.new_widgetid: Could not find an entity with name new_widget and id 00000000-0000-0000-0000-000000000000.`,
      `${path}: orgs[0].tables.new_task.columns.new_ownerref: a Lookup column needs a target: the logical name of the table it points to`,
      `${path}: orgs[0].tables.new_task.columns.new_accountid: a Lookup column takes target, relationship, schemaName, displayName, description and required (remove options)`,
      `${path}: orgs[0].tables.new_task.columns.new_contactid: A relationship with the specified name already exists: 'contact_tasks'. Specify a unique name.`,
      expect.stringMatching(/orgs\[0\]\.tables\.new_task\.columns\.new_leadrefid: The schema name 'LeadTasks' of the Relationship is not valid/),
      `${path}: orgs[0].tables.new_task.columns.new_otherid: A relationship with the specified name already exists: 'new_account_new_task'. Specify a unique name.`,
      expect.stringMatching(/orgs\[0\]\.data\.new_task\[0\]\.new_leadid: \(name\) is not an alternate key of table account/),
      `${path}: orgs[0].data.new_task[1].new_leadid: '@ref:c1' is a contact row; new_leadid points to lead`,
    ]);
  });

  it("names bad N:N relationships and links: unknown tables, bad names, unknown relationships, wrong sides, links twice, rows for an intersect table", () => {
    const path = file(
      "bad-many-to-many.yaml",
      `${BASE}    tables:
      new_project:
        displayName: Project
    manyToMany:
      new_project_widgets: { tables: [new_project, new_widget] }
      ProjectContacts: { tables: [new_project, contact] }
      new_project_contacts: { tables: [new_project, contact] }
      new_project_related: { tables: [new_project, new_project] }
    data:
      new_project:
        - { "@key": p1, new_name: Apollo }
        - { "@key": p2, new_name: Gemini }
      contact:
        - { "@key": c1, lastname: Smith }
      new_project_contacts:
        - { new_projectid: "@ref:p1" }
    associations:
      new_nothing:
        - ["@ref:p1", "@ref:c1"]
      new_project_contacts:
        - ["@ref:p1", "@ref:c1"]
        - ["@ref:c1", "@ref:p1"]
        - ["@ref:p1", "@ref:c1"]
        - ["@ref:p9", "00000000-0000-0000-0000-000000000001"]
      new_project_related:
        - ["@ref:p1", "@ref:p2"]
        - ["@ref:p2", "@ref:p1"]
`,
    );
    expect(environmentProblems(path)).toEqual([
      `${path}: orgs[0].manyToMany.new_project_widgets: Could not find an entity with name new_widget and id 00000000-0000-0000-0000-000000000000.`,
      expect.stringMatching(/orgs\[0\]\.manyToMany\.ProjectContacts: The schema name 'ProjectContacts' of the Relationship is not valid/),
      `${path}: orgs[0].data.new_project_contacts: new_project_contacts is the intersect table of an N:N relationship: link rows under associations.new_project_contacts`,
      `${path}: orgs[0].associations.new_nothing: 'new_nothing' is not an N:N relationship of manyToMany`,
      `${path}: orgs[0].associations.new_project_contacts[1][0]: '@ref:c1' is a contact row; side 1 of new_project_contacts is new_project`,
      `${path}: orgs[0].associations.new_project_contacts[1][1]: '@ref:p1' is a new_project row; side 2 of new_project_contacts is contact`,
      `${path}: orgs[0].associations.new_project_contacts[2]: the same two rows are linked twice (also at orgs[0].associations.new_project_contacts[0])`,
      `${path}: orgs[0].associations.new_project_contacts[3][0]: link to a missing row: no row has @key 'p9'`,
      `${path}: orgs[0].associations.new_project_contacts[3][1]: link to a missing row: no row with id '00000000-0000-0000-0000-000000000001' in this org`,
      // One navigation property for both sides: the link goes both ways, so (p2, p1) is (p1, p2).
      `${path}: orgs[0].associations.new_project_related[1]: the same two rows are linked twice (also at orgs[0].associations.new_project_related[0])`,
    ]);
  });

  it("checks roles and data against the file's tables: privileges, columns, references by alternate key, duplicate key values", () => {
    const path = file(
      "bad-data.yaml",
      `${BASE}    tables:
      new_project:
        displayName: Project
        columns:
          new_code: { type: String }
        keys:
          new_codekey: [new_code]
    roles:
      - name: Reader
        privileges: { prvReadnew_project: Global, prvReadnew_task: Global }
    data:
      new_project:
        - { new_name: A, new_code: P-1 }
        - { new_name: B, new_code: p-1 }
        - { new_name: C, new_colour: red }
      contact:
        - { lastname: X, parentcustomerid: "@ref:account(accountnumber='A-1')" }
        - { lastname: Y, parentcustomerid: "@ref:new_project(new_code='P-9')" }
        - { lastname: Z, parentcustomerid: "@ref:widget(code='1')" }
`,
    );
    expect(environmentProblems(path)).toEqual([
      `${path}: orgs[0].roles[0].privileges.prvReadnew_task: the privilege 'prvReadnew_task' does not exist`,
      `${path}: orgs[0].data.new_project[1]: duplicate values (new_code="p-1") of alternate key new_codekey of table new_project (also used at orgs[0].data.new_project[0])`,
      `${path}: orgs[0].data.new_project[2].new_colour: table new_project has no column 'new_colour'`,
      `${path}: orgs[0].data.contact[0].parentcustomerid: (accountnumber) is not an alternate key of table account; its keys: none; define one under tables.account.keys`,
      `${path}: orgs[0].data.contact[1].parentcustomerid: lookup to a missing row: no new_project row has new_code="P-9"`,
      `${path}: orgs[0].data.contact[2].parentcustomerid: unknown table 'widget' in an alternate-key reference (write the table's logical name)`,
    ]);
  });
});
