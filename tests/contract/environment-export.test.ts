/**
 * Issue 6: `orgbox export`. A persisted orgbox started from the ISV example gets
 * rows after start; the CLI (a real child process) exports the store; a
 * fresh orgbox started from the exported file, with the hashed secret put back,
 * holds the same directory, org model and rows.
 */
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Org } from "../../src/dataverse/index.ts";
import { startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { exportEnvironment, PASSWORD_PLACEHOLDER, SECRET_PLACEHOLDER } from "../../src/environment/export.ts";
import { validateEnvironment } from "../../src/environment/load.ts";

const CLI = resolve(import.meta.dirname, "../../bin/orgbox.js");
const FILE = resolve(import.meta.dirname, "../../examples/isv-multitenant.orgbox.yaml");
const APP = { clientId: "fab00000-0000-4000-8000-0000f00d0001", secret: "fabrikam-sync-secret-1" };
const NORTHWIND = "00a70000-0000-4000-8000-000000000001";

async function cli(args: string[], cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ORGBOX_DATA: "" }, ...(cwd ? { cwd } : {}) });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, stderr };
}

async function appToken(o: OrgboxInstance, tenant: string, org: string): Promise<string> {
  const res = await fetch(`${o.url}/${tenant}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: APP.clientId, client_secret: APP.secret, scope: `${o.orgUrlOf(org)}/.default` }) });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`token: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** Every row of the data and org-model tables of every org, without `versionnumber` (always new on insert). */
async function dataRows(o: OrgboxInstance): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const org of await o.dataverse.service.listOrgs()) {
    for (const table of ["account", "contact", "lead", "systemuser", "role", "businessunit"]) {
      const rows = await o.dataverse.service.listRows(org, table, { limit: 10_000 });
      const dataTable = ["account", "contact", "lead"].includes(table);
      // The org model's own rows get new timestamps on load; data rows keep theirs.
      out[`${org.name}.${table}`] = rows.map(({ versionnumber: _v, createdon, modifiedon, ...rest }) => (dataTable ? { ...rest, createdon, modifiedon } : rest)).filter((r) => table !== "role" || r.roletemplateid === null);
    }
  }
  return out;
}

describe("orgbox export", () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-export-"));
  const dataDir = join(dir, "data");
  let before: Record<string, unknown[]>;
  let firstExport: unknown;

  beforeAll(async () => {
    const o = await startOrgbox({ config: FILE, inMemory: false, dataDir, caDir: defaultTempCaDir() });
    try {
      // Rows written after start, as the application user (owner) of the Fabrikam Sync app.
      const org = (await o.dataverse.service.findOrg("northwind")) as Org;
      const appUser = { id: "00a70000-0000-4000-8000-00000000d003", businessUnitId: "00a70000-0000-4000-8000-00000000d002" };
      const account = await o.dataverse.service.insert(org, "account", { name: "Written after start", revenue: 1234.5, creditonhold: true, industrycode: 7, telephone1: "+1 206 555 0100" }, appUser.id, appUser);
      await o.dataverse.service.insert(org, "contact", { firstname: "Ana", lastname: "Trujillo", parentcustomerid: account, parentcustomeridtype: "account" }, appUser.id, appUser);
      await o.dataverse.service.insert(org, "lead", { subject: "Exported lead", firstname: "Lee", lastname: "Ward" }, "00a70000-0000-4000-8000-00000000d005", { id: "00a70000-0000-4000-8000-00000000d005", businessUnitId: "00a70000-0000-4000-8000-00000000d011" });
      before = await dataRows(o);
      firstExport = (await exportEnvironment(o.identity.service, o.dataverse.service, { batchSize: 2 })).environment;
    } finally {
      await o.close();
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes a YAML file that validates, with placeholders for hashed passwords and secrets", async () => {
    const out = join(dir, "exported.orgbox.yaml");
    const result = await cli(["export", "--data", dataDir, "--out", out]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("placeholders");
    const text = readFileSync(out, "utf8");
    expect(text).toContain(`value: ${SECRET_PLACEHOLDER} # not exported (stored as a hash; it starts with 'fab')`);
    expect(text).toContain(`password: ${PASSWORD_PLACEHOLDER} # not exported`);
    const loaded = validateEnvironment(parse(text), out, dir);
    expect(loaded.apps[0]?.secrets[0]).toMatchObject({ keyId: expect.stringMatching(/^[0-9a-f-]{36}$/), expires: Date.parse("2099-12-31T23:59:59Z") });
    // The export paged in batches of 2 in-process reads the same as the CLI's.
    expect(parse(text)).toEqual(firstExport);
  });

  it("starts a fresh orgbox from the export (secret put back) with the same directory, org model and rows", async () => {
    const result = await cli(["export", "--data", dataDir]);
    expect(result.code, result.stderr).toBe(0);
    const patched = join(dir, "patched.orgbox.yaml");
    writeFileSync(patched, result.stdout.replaceAll(SECRET_PLACEHOLDER, APP.secret).replaceAll(PASSWORD_PLACEHOLDER, "Exported-Pass-1"));
    const o = await startOrgbox({ config: patched });
    try {
      expect(await dataRows(o)).toEqual(before);
      const again = await exportEnvironment(o.identity.service, o.dataverse.service);
      expect(again.environment).toEqual(firstExport);

      // The app signs in with the re-supplied secret and reads the rows written before the export.
      const t = await appToken(o, NORTHWIND, "northwind");
      const res = await fetch(`${o.orgUrlOf("northwind")}/api/data/v9.2/contacts?$select=fullname&$filter=lastname eq 'Trujillo'`, { headers: { authorization: `Bearer ${t}` } });
      expect(((await res.json()) as { value: { fullname: string }[] }).value).toEqual([expect.objectContaining({ fullname: "Ana Trujillo" })]);
      expect(await o.identity.service.listUsers(NORTHWIND)).toEqual([expect.objectContaining({ userPrincipalName: "admin@northwind.onmicrosoft.com", directoryRoles: ["62e90394-69f5-4237-9190-012177145e10"] })]);
    } finally {
      await o.close();
    }
  });

  it("writes JSON with --format json", async () => {
    const result = await cli(["export", "--data", dataDir, "--format", "json"]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(firstExport);
  });

  it("refuses a folder without a store, and an unknown format", async () => {
    const missing = await cli(["export", "--data", join(dir, "nothing-here")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no orgbox store in");
    // Without --data, the default ./.orgbox (here: a folder without one).
    const noData = await cli(["export"], dir);
    expect(noData.code).toBe(2);
    expect(noData.stderr).toContain("no orgbox store in './.orgbox'");
    const badFormat = await cli(["export", "--data", dataDir, "--format", "xml"]);
    expect(badFormat.code).not.toBe(0);
    expect(badFormat.stderr).toContain("xml");
  });

  it("exports the demo environment to a file that validates, warning about what it leaves out", async () => {
    const o = await startOrgbox();
    try {
      const exported = await exportEnvironment(o.identity.service, o.dataverse.service);
      expect(() => validateEnvironment(exported.environment)).not.toThrow();
      expect(exported.environment.orgs?.[0]?.data?.account).toHaveLength(20);
    } finally {
      await o.close();
    }
  });
});
