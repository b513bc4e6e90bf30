/**
 * A solution in Microsoft's own format (tests/fixtures/solutions/ContosoProjects: solution.xml and
 * customizations.xml as Dataverse exports them, with forms, views and ribbons) imports into orgbox,
 * on SQLite and PostgreSQL; a failing import rolls back everything (one store transaction) and an
 * uninstall removes it all.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { adminToken } from "../helpers/orgbox.ts";
import { BACKENDS, type TestStoreLocation } from "../helpers/store-backends.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/solutions/ContosoProjects");

/** The fixture folder zipped, as `pac solution pack` / SolutionPackager would (optionally with one file changed). */
function zipFixture(change: (name: string, text: string) => string = (_n, t) => t): string {
  const files: Record<string, Uint8Array> = {};
  for (const name of readdirSync(FIXTURE)) files[name] = new TextEncoder().encode(change(name, readFileSync(join(FIXTURE, name), "utf8")));
  return Buffer.from(zipSync(files)).toString("base64");
}

type Body = Record<string, unknown> & { error?: { code: string; message: string }; value?: Record<string, unknown>[] };

describe.each(BACKENDS)("a solution in Microsoft's format ($name)", (backend) => {
  let store: TestStoreLocation;
  let o: OrgboxInstance;
  let token: string;
  async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Body }> {
    const res = await fetch(`${o.apiUrl}/${path}`, { method, headers: { authorization: `Bearer ${token}`, accept: "application/json", "content-type": "application/json", "if-match": "*" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Body) : {} };
  }

  beforeAll(async () => {
    store = await backend.create();
    const { location } = store;
    o = await startOrgbox({ inMemory: false, http: true, port: 0, ...(location.storeUrl ? { storeUrl: location.storeUrl } : { dataDir: location.dataDir }) });
    token = await adminToken(o);
  });
  afterAll(async () => {
    await o?.close();
    await store?.dispose();
  });

  it("a failing import (a role naming a privilege the org lacks, after the tables) leaves the org as it was", async () => {
    const broken = zipFixture((name, text) => (name === "customizations.xml" ? text.replace('<RolePrivilege name="prvReadAccount" level="Local" />', '<RolePrivilege name="prvReadcts_missing" level="Global" />') : text));
    const jobId = "c0de0000-0000-4000-8000-00000000f001";
    const failed = await api("POST", "ImportSolution", { CustomizationFile: broken, OverwriteUnmanagedCustomizations: false, PublishWorkflows: false, ImportJobId: jobId });
    expect(failed.status).toBe(400);
    expect(failed.body.error?.message).toContain("prvReadcts_missing");
    expect((await api("GET", "EntityDefinitions(LogicalName='cts_project')")).status).toBe(404);
    expect((await api("GET", "GlobalOptionSetDefinitions(Name='cts_priority')")).status).toBe(404);
    expect((await api("GET", "RelationshipDefinitions(SchemaName='cts_project_contact')")).status).toBe(404);
    expect((await api("GET", "roles(5b6e2a9c-1f3d-4e7a-9c21-7d0c2f4a1b01)")).status).toBe(404);
    expect((await api("GET", "solutions?$filter=uniquename eq 'ContosoProjects'")).body.value).toEqual([]);
    expect((await api("GET", "publishers?$filter=uniquename eq 'contoso'")).body.value).toEqual([]);
    const job = (await api("GET", `importjobs(${jobId})?$select=data`)).body;
    expect(job.data).toMatch(/<role id="Contoso Project Reader"[^>]*><result result="failure" errorcode="0x80040217"/);
    // The tables' steps ran before the role's: they are reported, and rolled back with it.
    expect(job.data).toContain('<entity id="cts_project"');
  });

  it("imports: columns of every kind, local and global choices, an alternate key, 1:N and N:N relationships, a role; forms and views are warnings", async () => {
    const jobId = "c0de0000-0000-4000-8000-00000000f002";
    const imported = await api("POST", "ImportSolution", { CustomizationFile: zipFixture(), OverwriteUnmanagedCustomizations: false, PublishWorkflows: true, ImportJobId: jobId });
    expect(imported.status).toBe(204);
    expect((await api("GET", "solutions?$select=version,ismanaged,friendlyname&$filter=uniquename eq 'ContosoProjects'")).body.value?.[0]).toMatchObject({ version: "2.0.0.3", ismanaged: true, friendlyname: "Contoso Projects" });
    expect((await api("GET", "publishers?$select=customizationprefix,customizationoptionvalueprefix&$filter=uniquename eq 'contoso'")).body.value?.[0]).toMatchObject({ customizationprefix: "cts", customizationoptionvalueprefix: 51270 });
    const attributes = (await api("GET", "EntityDefinitions(LogicalName='cts_project')/Attributes?$select=LogicalName,AttributeType")).body.value ?? [];
    const types = Object.fromEntries(attributes.map((a) => [a.LogicalName, a.AttributeType]));
    expect(types).toMatchObject({ cts_name: "String", cts_code: "String", cts_due: "DateTime", cts_open: "Boolean", cts_priority: "Picklist", cts_stage: "Picklist", cts_accountid: "Lookup" });
    const keys = (await api("GET", "EntityDefinitions(LogicalName='cts_project')/Keys?$select=LogicalName,KeyAttributes")).body.value;
    expect(keys).toEqual([expect.objectContaining({ LogicalName: "cts_code_key", KeyAttributes: ["cts_code"] })]);
    const account = (await api("POST", "accounts?$select=accountid", { name: "Contoso" })).status;
    expect(account).toBe(204);
    const accountId = (await api("GET", "accounts?$select=accountid&$filter=name eq 'Contoso'")).body.value?.[0]?.accountid as string;
    const created = await api("POST", "cts_projects", { cts_name: "Alpha", cts_code: "A-1", cts_due: "2026-12-24", cts_open: false, cts_priority: 512700001, cts_stage: 512700000, "cts_AccountId@odata.bind": `/accounts(${accountId})` });
    expect(created.status).toBe(204);
    const read = await api("GET", "cts_projects(cts_code='A-1')?$select=cts_name,cts_due,cts_open,cts_priority,_cts_accountid_value");
    expect(read.body).toMatchObject({ cts_name: "Alpha", cts_due: "2026-12-24", cts_open: false, cts_priority: 512700001, _cts_accountid_value: accountId });
    expect((await api("GET", "RelationshipDefinitions(SchemaName='cts_project_contact')?$select=SchemaName")).status).toBe(200);
    const role = (await api("GET", "roles(5b6e2a9c-1f3d-4e7a-9c21-7d0c2f4a1b01)?$select=name,ismanaged")).body;
    expect(role).toMatchObject({ name: "Contoso Project Reader", ismanaged: true });
    const job = (await api("GET", `importjobs(${jobId})?$select=data`)).body;
    expect(job.data).toContain('<node id="forms of cts_project"');
    expect(job.data).toContain('result="warning"');
    // A managed solution is not exported again (Dataverse exports unmanaged solutions).
    expect((await api("POST", "ExportSolution", { SolutionName: "ContosoProjects", Managed: true })).status).toBe(400);
  });

  it("uninstalls it in one transaction: the table with its rows, the relationships, the option set and the role", async () => {
    const solution = (await api("GET", "solutions?$select=solutionid&$filter=uniquename eq 'ContosoProjects'")).body.value?.[0]?.solutionid as string;
    const uninstall = await api("POST", "UninstallSolutionAsync", { SolutionUniqueName: "ContosoProjects" });
    expect(uninstall.status).toBe(200);
    expect((await api("GET", `solutions(${solution})`)).status).toBe(404);
    expect((await api("GET", "EntityDefinitions(LogicalName='cts_project')")).status).toBe(404);
    expect((await api("GET", "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='cts_accountid')")).status).toBe(404);
    expect((await api("GET", "GlobalOptionSetDefinitions(Name='cts_priority')")).status).toBe(404);
    expect((await api("GET", "roles(5b6e2a9c-1f3d-4e7a-9c21-7d0c2f4a1b01)")).status).toBe(404);
    expect((await api("GET", "accounts?$select=name&$filter=name eq 'Contoso'")).body.value).toHaveLength(1);
  });
});
