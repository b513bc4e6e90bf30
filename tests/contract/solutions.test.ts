/**
 * Solutions, seed 003 end to end: Fabrikam builds a table (columns, a global option set, an N:N
 * relationship) and a custom role in its own org, puts them in a solution, exports it managed with
 * dynamics-web-api's `callAction`, and Tailspin (another tenant) imports it; the app user gets the
 * solution's role and the multi-tenant app reads what the role allows and is refused the rest.
 * Then: managed protection, upgrade keeps data, a conflicting import leaves the org as it was with
 * the import job saying why, and uninstall removes what the solution added.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { DynamicsWebApi } from "dynamics-web-api";
import { beforeAll, describe, expect, it } from "vitest";
import type { OrgboxInstance } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";
import { orgboxCli } from "../helpers/cli.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const FILE = resolve(import.meta.dirname, "../../examples/isv-multitenant.orgbox.yaml");
const APP = { clientId: "fab00000-0000-4000-8000-0000f00d0001", secret: "fabrikam-sync-secret-1" };
const FABRIKAM = "fab00000-0000-4000-8000-000000000001";
const TAILSPIN = "7a150000-0000-4000-8000-000000000001";
const TAILSPIN_APP_USER = "7a150000-0000-4000-8000-00000000d003";
const NORTHWIND = "00a70000-0000-4000-8000-000000000001";
const NORTHWIND_APP_USER = "00a70000-0000-4000-8000-00000000d003";

type Body = Record<string, unknown> & { error?: { code: string; message: string }; value?: Record<string, unknown>[] };

async function clientToken(o: OrgboxInstance, tenant: string, org: string, clientId: string, secret: string): Promise<string> {
  const cca = new ConfidentialClientApplication({ auth: { clientId, clientSecret: secret, authority: `${o.url}/${tenant}`, knownAuthorities: [new URL(o.url).host] } });
  const result = await cca.acquireTokenByClientCredential({ scopes: [`${o.orgUrlOf(org)}/.default`] });
  return result?.accessToken as string;
}

function client(o: OrgboxInstance, org: string, token: string) {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Body; headers: Headers }> => {
    const res = await fetch(`${o.orgUrlOf(org)}/api/data/v9.2/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: "application/json", "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Body) : {}, headers: res.headers };
  };
}

const label = (text: string) => ({ LocalizedLabels: [{ Label: text, LanguageCode: 1033 }] });
const idOf = (headers: Headers) => /\(([0-9a-f-]{36})\)$/.exec(headers.get("odata-entityid") ?? "")?.[1] as string;

/** An admin app (System Administrator) in `org` of `tenant`, returning its token. */
async function adminIn(o: OrgboxInstance, tenant: string, orgName: string): Promise<string> {
  const { clientId, secret } = await adminApp(o, tenant, orgName);
  return clientToken(o, tenant, orgName, clientId, secret);
}

/** Registers an app in `tenant` and makes it a System Administrator application user of `orgName`. */
async function adminApp(o: OrgboxInstance, tenant: string, orgName: string): Promise<{ clientId: string; secret: string }> {
  const service = o.dataverse.service;
  const org = (await service.findOrg(orgName)) as Org;
  const admin = (await service.listRoles(org)).find((r) => r.name === "System Administrator");
  const { application } = await o.identity.service.registerApplication({ tenantId: tenant, displayName: `${orgName} admin` });
  const secret = await o.identity.service.addPassword({ appId: application.appId });
  await service.createApplicationUser(org, { applicationId: application.appId, businessUnitId: await service.rootBusinessUnitId(org), roleIds: [admin?.id as string] });
  return { clientId: application.appId, secret: secret.secretText };
}

describe("solutions: Fabrikam's managed solution into Tailspin's org (seed 003)", () => {
  const orgbox = useOrgbox({ config: FILE });
  let dev: ReturnType<typeof client>;
  let tailspin: ReturnType<typeof client>;
  let devApi: DynamicsWebApi;
  let tailspinApi: DynamicsWebApi;
  let roleId: string;
  let solutionId: string;
  let managedV1: string;

  beforeAll(async () => {
    const o = orgbox();
    const service = o.dataverse.service;
    // Fabrikam's own development org, in its own tenant, where its app is System Administrator.
    const created = await service.createOrg({ name: "fabrikamdev", tenantId: FABRIKAM });
    await service.createApplicationUser(created.org, { applicationId: APP.clientId, businessUnitId: created.rootBusinessUnitId, roleIds: [created.systemAdministratorRoleId] });
    const devToken = await clientToken(o, FABRIKAM, "fabrikamdev", APP.clientId, APP.secret);
    dev = client(o, "fabrikamdev", devToken);
    devApi = new DynamicsWebApi({ serverUrl: `${o.orgUrlOf("fabrikamdev")}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => devToken });
    const tailspinToken = await adminIn(o, TAILSPIN, "tailspin");
    tailspin = client(o, "tailspin", tailspinToken);
    tailspinApi = new DynamicsWebApi({ serverUrl: `${o.orgUrlOf("tailspin")}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => tailspinToken });
  });

  it("every org has the standard publishers and the Default, Active and Basic solutions", async () => {
    const solutions = await tailspin("GET", "solutions?$select=uniquename,ismanaged,_publisherid_value&$orderby=uniquename");
    expect(solutions.status).toBe(200);
    expect(solutions.body.value?.map((s) => s.uniquename)).toEqual(["Active", "Basic", "Default"]);
    expect(solutions.body.value?.find((s) => s.uniquename === "Default")).toMatchObject({ solutionid: "fd140aaf-4df4-11dd-bd17-0019b9312238", ismanaged: false, _publisherid_value: "d21aab71-79e7-11dd-8874-00188b01e34f" });
    const publishers = await tailspin("GET", "publishers?$select=uniquename,friendlyname,customizationprefix,customizationoptionvalueprefix&$filter=friendlyname eq 'Default Publisher for tailspin'");
    expect(publishers.body.value?.[0]).toMatchObject({ customizationprefix: "new", customizationoptionvalueprefix: 10000 });
    expect((await tailspin("GET", "publishers?$filter=friendlyname eq 'CDS Default Publisher'")).body.value).toHaveLength(1);
  });

  it("builds the ISV's solution in its dev org and exports it managed with dynamics-web-api callAction", async () => {
    const publisher = await dev("POST", "publishers", { uniquename: "fabrikam", friendlyname: "Fabrikam Software", customizationprefix: "fab", customizationoptionvalueprefix: 72700 });
    expect(publisher.status).toBe(204);
    const solution = await dev("POST", "solutions", { uniquename: "FabrikamSync", friendlyname: "Fabrikam Sync", version: "1.0.0.0", "publisherid@odata.bind": `/publishers(${idOf(publisher.headers)})` });
    expect(solution.status).toBe(204);
    expect((await dev("POST", "GlobalOptionSetDefinitions", { Name: "fab_tier", DisplayName: label("Tier"), Options: [{ Value: 727000000, Label: label("Bronze") }, { Value: 727000001, Label: label("Gold") }] })).status).toBe(204);
    const table = await dev("POST", "EntityDefinitions", {
      SchemaName: "fab_Project",
      DisplayName: label("Project"),
      DisplayCollectionName: label("Projects"),
      OwnershipType: "UserOwned",
      Attributes: [{ "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", SchemaName: "fab_Name", IsPrimaryName: true, MaxLength: 100, DisplayName: label("Name") }],
    });
    expect(table.status).toBe(204);
    expect((await dev("POST", "EntityDefinitions(LogicalName='fab_project')/Attributes", { "@odata.type": "Microsoft.Dynamics.CRM.IntegerAttributeMetadata", SchemaName: "fab_Budget", DisplayName: label("Budget") })).status).toBe(204);
    expect((await dev("POST", "EntityDefinitions(LogicalName='fab_project')/Attributes", { "@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata", SchemaName: "fab_Tier", DisplayName: label("Tier"), "GlobalOptionSet@odata.bind": "/GlobalOptionSetDefinitions(Name='fab_tier')" })).status).toBe(204);
    expect((await dev("POST", "RelationshipDefinitions", { "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata", SchemaName: "fab_project_contact", Entity1LogicalName: "fab_project", Entity2LogicalName: "contact", IntersectEntityName: "fab_project_contact" })).status).toBe(204);
    const bu = (await dev("GET", "businessunits?$select=businessunitid&$filter=_parentbusinessunitid_value eq null")).body.value?.[0]?.businessunitid as string;
    const role = await dev("POST", "roles", { name: "Fabrikam Sync Projects", "businessunitid@odata.bind": `/businessunits(${bu})` });
    roleId = idOf(role.headers);
    const privileges = (await dev("GET", "privileges?$select=privilegeid,name&$filter=name eq 'prvReadfab_Project' or name eq 'prvCreatefab_Project' or name eq 'prvWritefab_Project'")).body.value ?? [];
    expect(privileges).toHaveLength(3);
    expect((await dev("POST", `roles(${roleId})/Microsoft.Dynamics.CRM.AddPrivilegesRole`, { Privileges: privileges.map((p) => ({ PrivilegeId: p.privilegeid, Depth: "Global" })) })).status).toBe(204);

    const metadataId = async (path: string) => (await dev("GET", `${path}?$select=MetadataId`)).body.MetadataId as string;
    const components: [number, string][] = [
      [9, await metadataId("GlobalOptionSetDefinitions(Name='fab_tier')")],
      [1, await metadataId("EntityDefinitions(LogicalName='fab_project')")],
      [10, await metadataId("RelationshipDefinitions(SchemaName='fab_project_contact')")],
      [20, roleId],
    ];
    for (const [type, id] of components) {
      const added = await devApi.callAction({ actionName: "AddSolutionComponent", action: { ComponentId: id, ComponentType: type, SolutionUniqueName: "FabrikamSync", AddRequiredComponents: false } });
      expect(added).toMatchObject({ id: expect.any(String) });
    }
    // Unmanaged customizations live in the Default solution.
    const inDefault = (await dev("GET", "solutioncomponents?$select=componenttype,objectid&$filter=_solutionid_value eq fd140aaf-4df4-11dd-bd17-0019b9312238")).body.value ?? [];
    expect(inDefault).toEqual(expect.arrayContaining(components.filter(([type]) => type !== 20).map(([type, id]) => expect.objectContaining({ componenttype: type, objectid: id }))));
    const listed = await dev("GET", `solutioncomponents?$select=componenttype&$filter=_solutionid_value eq ${idOf(solution.headers)}&$orderby=componenttype`);
    expect(listed.body.value?.map((c) => c.componenttype)).toEqual([1, 9, 10, 20]);

    const exported = await devApi.callAction<{ ExportSolutionFile: string }>({ actionName: "ExportSolution", action: { SolutionName: "FabrikamSync", Managed: true } });
    managedV1 = exported.ExportSolutionFile;
    expect(Buffer.from(managedV1, "base64").subarray(0, 2).toString()).toBe("PK");
    expect((await devApi.callAction({ actionName: "PublishAllXml" })) ?? null).toBeNull();
  });

  it("imports it into Tailspin's org (another tenant) with callAction, as a managed solution with its import job", async () => {
    const staged = await tailspin("POST", "StageSolution", { CustomizationFile: managedV1 });
    expect(staged.body.StageSolutionResults).toMatchObject({ StageSolutionStatus: "Passed", SolutionDetails: { SolutionUniqueName: "FabrikamSync", SolutionVersion: "1.0.0.0", IsManaged: true, ExistingSolutionVersion: null }, MissingDependencies: [] });
    expect((await tailspin("GET", "solutions?$filter=uniquename eq 'FabrikamSync'")).body.value).toEqual([]);
    const importJobId = "7a150000-0000-4000-8000-00000000a001";
    await tailspinApi.callAction({ actionName: "ImportSolution", action: { CustomizationFile: managedV1, OverwriteUnmanagedCustomizations: false, PublishWorkflows: false, ImportJobId: importJobId } });
    const solution = (await tailspin("GET", "solutions?$select=solutionid,uniquename,version,ismanaged&$filter=uniquename eq 'FabrikamSync'")).body.value?.[0] as Record<string, unknown>;
    expect(solution).toMatchObject({ version: "1.0.0.0", ismanaged: true });
    solutionId = solution.solutionid as string;
    const job = await tailspin("GET", `importjobs(${importJobId})?$select=progress,completedon,data,solutionname`);
    expect(job.body).toMatchObject({ progress: 100, solutionname: "FabrikamSync", completedon: expect.any(String) });
    expect(job.body.data).toContain('<entity id="fab_project"');
    expect(job.body.data).toContain('result="success"');
    const formatted = await tailspin("GET", `RetrieveFormattedImportJobResults(ImportJobId=${importJobId})`);
    expect(formatted.status).toBe(200);
    expect(formatted.body.FormattedResults).toContain("fab_project");

    const attributes = (await tailspin("GET", "EntityDefinitions(LogicalName='fab_project')/Attributes?$select=LogicalName")).body.value?.map((a) => a.LogicalName);
    expect(attributes).toEqual(expect.arrayContaining(["fab_name", "fab_budget", "fab_tier"]));
    expect((await tailspin("GET", "RelationshipDefinitions(SchemaName='fab_project_contact')?$select=SchemaName")).status).toBe(200);
    const tier = await tailspin("GET", "GlobalOptionSetDefinitions(Name='fab_tier')");
    expect(tier.status).toBe(200);
    const role = (await tailspin("GET", `roles(${roleId})?$select=name,ismanaged`)).body;
    expect(role).toMatchObject({ name: "Fabrikam Sync Projects", ismanaged: true });
  });

  it("orgbox deploy: a Package Deployer folder imports the solution into Northwind and gives the app user the solution's role, through the Web API", async () => {
    const o = orgbox();
    const admin = await adminApp(o, NORTHWIND, "northwind");
    const folder = mkdtempSync(join(tmpdir(), "orgbox-package-"));
    try {
      writeFileSync(join(folder, "FabrikamSync_managed.zip"), Buffer.from(managedV1, "base64"));
      writeFileSync(
        join(folder, "ImportConfig.xml"),
        `<?xml version="1.0" encoding="utf-16"?>\n<configdatastorage xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" installsampledata="false" waitforsampledatatoinstall="true" agentdesktopzipfile="" agentdesktopexename="" crmmigdataimportfile="">\n  <solutions>\n    <configsolutionfile solutionpackagefilename="FabrikamSync_managed.zip" overwriteunmanagedcustomizations="false" publishworkflowsandactivateplugins="true" />\n  </solutions>\n  <filestoimport />\n</configdatastorage>\n`,
      );
      writeFileSync(join(folder, "orgbox.deploy.yaml"), `applicationUsers:\n  - appId: ${APP.clientId}\n    roles: [Fabrikam Sync Projects]\n`);
      const credentials = ["--url", o.orgUrlOf("northwind"), "--tenant", "northwind.onmicrosoft.com", "--client-id", admin.clientId, "--client-secret", admin.secret];
      const run = await orgboxCli(["deploy", folder, ...credentials, "--json"]);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      const report = JSON.parse(run.stdout) as { solutions: { file: string }[]; applicationUsers: { systemUserId: string; created: boolean }[] };
      expect(report.solutions.map((s) => s.file)).toEqual(["FabrikamSync_managed.zip"]);
      expect(report.applicationUsers).toEqual([expect.objectContaining({ systemUserId: NORTHWIND_APP_USER, created: false })]);
      // Deploying again is refused by the import (same version), naming the import job.
      const again = await orgboxCli(["deploy", folder, ...credentials]);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/version 1\.0\.0\.0/);
      // The solution CLI against the same environment through the Web API.
      const listed = await orgboxCli(["solution", "list", ...credentials, "--json"]);
      expect(JSON.parse(listed.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ uniqueName: "FabrikamSync", version: "1.0.0.0", managed: true })]));
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
    // Seed 003's app, with Northwind's token: the role the package gave it lets it work with projects.
    const app = client(o, "northwind", await clientToken(o, NORTHWIND, "northwind", APP.clientId, APP.secret));
    expect((await app("POST", "fab_projects", { fab_name: "Northwind rollout" })).status).toBe(204);
    expect((await app("GET", "fab_projects?$select=fab_name")).body.value).toEqual([expect.objectContaining({ fab_name: "Northwind rollout" })]);
    expect((await app("GET", "leads")).status).toBe(403);
  }, 120_000);

  it("the app user gets the solution's role; the app reads and writes what it allows and is refused the rest", async () => {
    const o = orgbox();
    const assigned = await tailspin("POST", `systemusers(${TAILSPIN_APP_USER})/systemuserroles_association/$ref`, { "@odata.id": `${o.orgUrlOf("tailspin")}/api/data/v9.2/roles(${roleId})` });
    expect(assigned.status).toBe(204);
    const app = client(o, "tailspin", await clientToken(o, TAILSPIN, "tailspin", APP.clientId, APP.secret));
    const created = await app("POST", "fab_projects", { fab_name: "Launch", fab_budget: 1200, fab_tier: 727000001 });
    expect(created.status).toBe(204);
    const read = await app("GET", "fab_projects?$select=fab_name,fab_budget,fab_tier");
    expect(read.body.value).toEqual([expect.objectContaining({ fab_name: "Launch", fab_budget: 1200, fab_tier: 727000001 })]);
    const denied = await app("DELETE", `fab_projects(${idOf(created.headers)})`);
    expect(denied.status).toBe(403);
    expect(denied.body.error?.code).toBe("0x80040220");
    expect((await app("GET", "leads")).status).toBe(403);
  });

  it("refuses to delete or change managed components outside the solution (0x8004F032)", async () => {
    const drop = await tailspin("DELETE", "EntityDefinitions(LogicalName='fab_project')");
    expect(drop.status).toBe(400);
    expect(drop.body.error?.code).toBe("0x8004F032");
    const rename = await tailspin("PATCH", `roles(${roleId})`, { name: "Renamed" }, { "if-match": "*" });
    expect(rename.body.error?.code).toBe("0x8004F032");
    const privilege = (await tailspin("GET", "privileges?$select=privilegeid&$filter=name eq 'prvDeletefab_Project'")).body.value?.[0]?.privilegeid;
    const widen = await tailspin("POST", `roles(${roleId})/Microsoft.Dynamics.CRM.AddPrivilegesRole`, { Privileges: [{ PrivilegeId: privilege, Depth: "Global" }] });
    expect(widen.body.error?.code).toBe("0x8004F032");
    expect((await tailspin("DELETE", "GlobalOptionSetDefinitions(Name='fab_tier')")).body.error?.code).toBe("0x8004F032");
    const link = await tailspin("POST", `roles(${roleId})/roleprivileges_association/$ref`, { "@odata.id": `${orgbox().orgUrlOf("tailspin")}/api/data/v9.2/privileges(${privilege as string})` });
    expect(link.body.error?.code).toBe("0x8004F032");
    const relabel = await tailspin("PATCH", `solutions(${solutionId})`, { friendlyname: "Mine now" }, { "if-match": "*" });
    expect(relabel.body.error?.code).toBe("0x8004F024");
    // An import job id is used once; solution components, import jobs and system jobs are written by the platform only.
    const reused = await tailspin("POST", "ImportSolution", { CustomizationFile: managedV1, OverwriteUnmanagedCustomizations: false, PublishWorkflows: false, ImportJobId: "7a150000-0000-4000-8000-00000000a001" });
    expect(reused.status).toBe(412);
    expect((await tailspin("POST", "solutioncomponents", { componenttype: 1 })).status).toBe(400);
    expect((await tailspin("DELETE", "importjobs(7a150000-0000-4000-8000-00000000a001)")).status).toBe(400);
    const publisher = (await tailspin("GET", "publishers?$select=publisherid&$filter=uniquename eq 'fabrikam'")).body.value?.[0]?.publisherid as string;
    expect((await tailspin("DELETE", `publishers(${publisher})`)).body.error?.code).toBe("0x8004F006");
    // The same version again is refused: a managed solution is updated by a higher version.
    const again = await tailspin("POST", "ImportSolution", { CustomizationFile: managedV1, OverwriteUnmanagedCustomizations: false, PublishWorkflows: false, ImportJobId: "7a150000-0000-4000-8000-00000000a002" });
    expect(again.status).toBe(400);
  });

  it("a higher version upgrades the managed solution: the new column is added and the data kept", async () => {
    expect((await dev("POST", "EntityDefinitions(LogicalName='fab_project')/Attributes", { "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", SchemaName: "fab_Code", MaxLength: 20, DisplayName: label("Code") })).status).toBe(204);
    const devSolution = (await dev("GET", "solutions?$select=solutionid&$filter=uniquename eq 'FabrikamSync'")).body.value?.[0]?.solutionid as string;
    expect((await dev("PATCH", `solutions(${devSolution})`, { version: "1.1.0.0" }, { "if-match": "*" })).status).toBe(204);
    // The asynchronous messages: a system job to poll, then the file.
    const exportJob = (await dev("POST", "ExportSolutionAsync", { SolutionName: "FabrikamSync", Managed: true })).body;
    expect(exportJob).toMatchObject({ AsyncOperationId: expect.any(String), ExportJobId: expect.any(String) });
    expect((await dev("GET", `asyncoperations(${exportJob.AsyncOperationId as string})?$select=statecode,statuscode,completedon`)).body).toMatchObject({ statecode: 3, statuscode: 30, completedon: expect.any(String) });
    const v2 = (await dev("POST", "DownloadSolutionExportData", { ExportJobId: exportJob.ExportJobId })).body.ExportSolutionFile as string;
    const imported = await tailspin("POST", "ImportSolutionAsync", { CustomizationFile: v2, OverwriteUnmanagedCustomizations: true, PublishWorkflows: false });
    expect(imported.status).toBe(200);
    expect((await tailspin("GET", `asyncoperations(${imported.body.AsyncOperationId as string})?$select=statuscode`)).body).toMatchObject({ statuscode: 30 });
    expect((await tailspin("GET", `importjobs(${imported.body.ImportJobKey as string})?$select=progress`)).body).toMatchObject({ progress: 100 });
    // The same version again: the system job fails, saying why.
    const again = (await tailspin("POST", "ImportSolutionAsync", { CustomizationFile: v2, OverwriteUnmanagedCustomizations: true, PublishWorkflows: false })).body;
    const failedJob = (await tailspin("GET", `asyncoperations(${again.AsyncOperationId as string})?$select=statuscode,message`)).body;
    expect(failedJob).toMatchObject({ statuscode: 31, message: expect.stringContaining("1.1.0.0") });
    expect((await tailspin("GET", "solutions?$select=version&$filter=uniquename eq 'FabrikamSync'")).body.value?.[0]).toMatchObject({ version: "1.1.0.0" });
    const rows = await tailspin("GET", "fab_projects?$select=fab_name,fab_code");
    expect(rows.body.value).toEqual([expect.objectContaining({ fab_name: "Launch", fab_code: null })]);
  });

  it("a conflicting import leaves the org as it was, and the import job says why", async () => {
    // Tailspin already has an unmanaged table the ISV's second solution also brings.
    expect((await tailspin("POST", "EntityDefinitions", { SchemaName: "fab_Widget", DisplayName: label("Widget"), OwnershipType: "UserOwned", Attributes: [{ "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", SchemaName: "fab_Name", IsPrimaryName: true, DisplayName: label("Name") }] })).status).toBe(204);
    const publisher = (await dev("GET", "publishers?$select=publisherid&$filter=uniquename eq 'fabrikam'")).body.value?.[0]?.publisherid as string;
    await dev("POST", "solutions", { uniquename: "FabrikamWidgets", friendlyname: "Fabrikam Widgets", version: "1.0.0.0", "publisherid@odata.bind": `/publishers(${publisher})` });
    // MSCRM.SolutionUniqueName puts what a request creates into that solution; an unknown solution is refused before anything is created.
    const unknown = await dev("POST", "GlobalOptionSetDefinitions", { Name: "fab_color", DisplayName: label("Color"), Options: [{ Value: 727000000, Label: label("Red") }] }, { "MSCRM.SolutionUniqueName": "NoSuchSolution" });
    expect(unknown.status).toBe(404);
    expect((await dev("GET", "GlobalOptionSetDefinitions(Name='fab_color')")).status).toBe(404);
    expect((await dev("POST", "GlobalOptionSetDefinitions", { Name: "fab_color", DisplayName: label("Color"), Options: [{ Value: 727000000, Label: label("Red") }] }, { "MSCRM.SolutionUniqueName": "FabrikamWidgets" })).status).toBe(204);
    await dev("POST", "EntityDefinitions", { SchemaName: "fab_Widget", DisplayName: label("Widget"), OwnershipType: "UserOwned", Attributes: [{ "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", SchemaName: "fab_Name", IsPrimaryName: true, DisplayName: label("Name") }] });
    const widget = (await dev("GET", "EntityDefinitions(LogicalName='fab_widget')?$select=MetadataId")).body.MetadataId as string;
    expect((await dev("POST", "AddSolutionComponent", { ComponentId: widget, ComponentType: 1, SolutionUniqueName: "FabrikamWidgets", AddRequiredComponents: false })).status).toBe(200);
    const file = (await dev("POST", "ExportSolution", { SolutionName: "FabrikamWidgets", Managed: true })).body.ExportSolutionFile as string;
    const jobId = "7a150000-0000-4000-8000-00000000a004";
    const failed = await tailspin("POST", "ImportSolution", { CustomizationFile: file, OverwriteUnmanagedCustomizations: false, PublishWorkflows: false, ImportJobId: jobId });
    expect(failed.status).toBe(400);
    expect(failed.body.error?.code).toBe("0x8004F016");
    // Nothing of it stayed: not the option set imported before the table, not the solution.
    expect((await tailspin("GET", "GlobalOptionSetDefinitions(Name='fab_color')")).status).toBe(404);
    expect((await tailspin("GET", "solutions?$filter=uniquename eq 'FabrikamWidgets'")).body.value).toEqual([]);
    const job = (await tailspin("GET", `importjobs(${jobId})?$select=data,progress,completedon`)).body;
    expect(job).toMatchObject({ progress: 100, completedon: expect.any(String) });
    expect(job.data).toContain('result="failure" errorcode="0x8004F016"');
    expect(job.data).toContain("fab_widget");
    // The option set (put in the solution by the header) was imported first, then rolled back.
    expect(job.data).toContain('<optionSet id="fab_color"');
  });

  it("refuses to uninstall while another component depends on it, then uninstalls what it added (table with rows, role with assignments)", async () => {
    const o = orgbox();
    const lookup = await tailspin("POST", "RelationshipDefinitions", {
      "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
      SchemaName: "new_fab_project_account",
      ReferencedEntity: "fab_project",
      ReferencingEntity: "account",
      Lookup: { "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata", SchemaName: "new_ProjectId", DisplayName: label("Project") },
    });
    expect(lookup.status).toBe(204);
    const refused = await tailspin("DELETE", `solutions(${solutionId})`);
    expect(refused.status).toBe(400);
    expect(refused.body.error?.code).toBe("0x8004F01D");
    expect((await tailspin("GET", "fab_projects?$select=fab_name")).body.value).toHaveLength(1);
    expect((await tailspin("DELETE", "RelationshipDefinitions(SchemaName='new_fab_project_account')")).status).toBe(204);

    expect((await tailspin("DELETE", `solutions(${solutionId})`)).status).toBe(204);
    expect((await tailspin("GET", "EntityDefinitions(LogicalName='fab_project')")).status).toBe(404);
    expect((await tailspin("GET", "GlobalOptionSetDefinitions(Name='fab_tier')")).status).toBe(404);
    expect((await tailspin("GET", `roles(${roleId})`)).status).toBe(404);
    const roles = (await tailspin("GET", `systemusers(${TAILSPIN_APP_USER})/systemuserroles_association?$select=roleid`)).body.value?.map((r) => r.roleid);
    expect(roles).not.toContain(roleId);
    expect(roles).toHaveLength(1);
    expect((await tailspin("GET", "solutioncomponents?$filter=componenttype eq 20")).body.value).toEqual([]);
    // The app still works through the role the customer gave it.
    const app = client(o, "tailspin", await clientToken(o, TAILSPIN, "tailspin", APP.clientId, APP.secret));
    expect((await app("GET", "accounts?$select=name")).status).toBe(200);
  });

  it("refuses ImportSolution and ExportSolution to a caller without prvImportCustomization / prvExportCustomization (403 0x80040220)", async () => {
    const o = orgbox();
    const app = client(o, "tailspin", await clientToken(o, TAILSPIN, "tailspin", APP.clientId, APP.secret));
    const exported = await app("POST", "ExportSolution", { SolutionName: "Default", Managed: false });
    expect(exported.status).toBe(403);
    expect(exported.body.error?.code).toBe("0x80040220");
    expect(exported.body.error?.message).toContain("prvExportCustomization");
    const imported = await app("POST", "ImportSolution", { CustomizationFile: managedV1, OverwriteUnmanagedCustomizations: false, PublishWorkflows: false, ImportJobId: "7a150000-0000-4000-8000-00000000a005" });
    expect(imported.status).toBe(403);
    expect(imported.body.error?.message).toContain("prvImportCustomization");
  });

  it("refuses a file that is not a solution zip with a clear 400", async () => {
    const bad = await tailspin("POST", "ImportSolution", { CustomizationFile: Buffer.from("not a zip").toString("base64"), OverwriteUnmanagedCustomizations: false, PublishWorkflows: false, ImportJobId: "7a150000-0000-4000-8000-00000000a006" });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.code).toBe("0x80048060");
    expect((await tailspin("POST", "ImportSolution", { CustomizationFile: "%%%" })).status).toBe(400);
    expect((await tailspin("POST", "ExportSolution", { SolutionName: "NoSuchSolution", Managed: false })).status).toBe(404);
  });
});
