/**
 * Environment section of `npm run bench` (issue 6): how long `startOrgbox` takes
 * from `examples/isv-multitenant.orgbox.yaml` (validate, migrate, apply, listen;
 * target < 1 s), and how long `reset()` takes with 10,000 rows in the environment
 * (target < 50 ms), after a write each time so there is something to undo. For
 * information: `reset()` after 1,000 writes (creates, updates, deletes), and after
 * a custom table was created (a schema change: the full-copy path).
 */
import { dirname, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { readDocument } from "../src/environment/read.ts";
import type { OrgboxEnvironment } from "../src/environment/schema.ts";
import { startOrgbox, type OrgboxInstance } from "../src/index.ts";
import { fetchToken, httpsRequest, type HttpResult } from "./http.ts";

export const ISV_FILE = resolve(import.meta.dirname, "../examples/isv-multitenant.orgbox.yaml");
export const START_TARGET_MS = 1000;
export const RESET_TARGET_MS = 50;

/** Timings in ms: each run, and their median. */
export interface Timing {
  runs: number[];
  medianMs: number;
}

export interface EnvironmentSection {
  start: Timing;
  reset: Timing & { rows: number };
  /** `reset()` after 1,000 writes: 500 creates, 250 updates, 250 deletes of the environment's rows. */
  resetAfterWrites: Timing;
  /** `reset()` after creating a custom table (the store falls back to copying every table). */
  resetAfterDdl: Timing;
}

function timing(runs: number[]): Timing {
  const sorted = [...runs].sort((a, b) => a - b);
  return { runs: runs.map((r) => Math.round(r * 100) / 100), medianMs: sorted[Math.floor(sorted.length / 2)] as number };
}

/** The ISV environment with `rows` more accounts in org northwind (file references made absolute). */
function withRows(rows: number): OrgboxEnvironment {
  const env = structuredClone(readDocument(ISV_FILE)) as OrgboxEnvironment;
  for (const org of env.orgs ?? []) {
    for (const [table, spec] of Object.entries(org.data ?? {})) {
      if (!Array.isArray(spec)) (org.data as Record<string, unknown>)[table] = { file: resolve(dirname(ISV_FILE), spec.file) };
    }
  }
  const northwind = env.orgs?.find((o) => o.name === "northwind");
  const accounts = (northwind?.data?.account ?? []) as Record<string, string | number>[];
  for (let i = 0; i < rows; i++) accounts.push({ name: `Bench Account ${i}`, accountnumber: `BE-${i}`, address1_city: i % 2 ? "Seattle" : "Berlin", numberofemployees: i % 500 });
  return env;
}

/** Web API calls to org northwind as its System Administrator (ROPC through the file's app); throws on a status ≥ 300. */
async function northwindAdmin(orgbox: OrgboxInstance): Promise<(method: string, path: string, body?: unknown) => Promise<HttpResult>> {
  const orgUrl = orgbox.orgUrlOf("northwind");
  const form = new URLSearchParams({ grant_type: "password", client_id: "fab00000-0000-4000-8000-0000f00d0001", client_secret: "fabrikam-sync-secret-1", username: "admin@northwind.onmicrosoft.com", password: "Northwind-Admin-1", scope: `${orgUrl}/.default` });
  const { accessToken } = await fetchToken(`${orgbox.url}/northwind.onmicrosoft.com/oauth2/v2.0/token`, form.toString(), orgbox.caCert);
  return async (method, path, body) => {
    const headers = { authorization: `Bearer ${accessToken}`, accept: "application/json", "content-type": "application/json" };
    const res = await httpsRequest(`${orgUrl}/api/data/v9.2/${path}`, { ca: orgbox.caCert, method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${res.text.slice(0, 300)}`);
    return res;
  };
}

/** A custom table with only its primary name column (the Web API sample's shape). */
function customTable(schemaName: string): Record<string, unknown> {
  const label = (text: string) => ({ LocalizedLabels: [{ Label: text, LanguageCode: 1033 }] });
  return {
    "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
    SchemaName: schemaName,
    DisplayName: label(schemaName),
    DisplayCollectionName: label(`${schemaName}s`),
    OwnershipType: "UserOwned",
    HasActivities: false,
    HasNotes: false,
    IsActivity: false,
    Attributes: [{ "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", AttributeType: "String", SchemaName: "new_Name", IsPrimaryName: true, MaxLength: 100, DisplayName: label("Name") }],
  };
}

/**
 * Runs the section. `startRuns` cold starts (in memory, port 0), then `resetRuns`
 * resets of an orgbox holding `rows` extra rows.
 */
export async function benchEnvironment(options: { startRuns?: number; resetRuns?: number; rows?: number } = {}): Promise<EnvironmentSection> {
  const starts: number[] = [];
  for (let i = 0; i < (options.startRuns ?? 5); i++) {
    const t0 = performance.now();
    const orgbox = await startOrgbox({ config: ISV_FILE });
    starts.push(performance.now() - t0);
    await orgbox.close();
  }
  const rows = options.rows ?? 10_000;
  const orgbox = await startOrgbox({ environment: withRows(rows) });
  try {
    const org = await orgbox.dataverse.service.findOrg("northwind");
    if (!org) throw new Error("org northwind is missing");
    const timeReset = async (runs: number, dirty: (run: number) => Promise<void>): Promise<Timing> => {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        await dirty(i);
        const t0 = performance.now();
        await orgbox.reset();
        times.push(performance.now() - t0);
      }
      return timing(times);
    };
    const reset = await timeReset(options.resetRuns ?? 20, async (i) => {
      await orgbox.dataverse.service.insert(org, "account", { name: `Dirty ${i}` });
    });
    const call = await northwindAdmin(orgbox);
    const ids = (JSON.parse((await call("GET", "accounts?$select=accountid&$top=500")).text) as { value: { accountid: string }[] }).value.map((r) => r.accountid);
    const resetAfterWrites = await timeReset(5, async () => {
      await call("POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", { Targets: Array.from({ length: 500 }, (_, i) => ({ "@odata.type": "Microsoft.Dynamics.CRM.account", name: `Written ${i}` })) });
      await call("POST", "accounts/Microsoft.Dynamics.CRM.UpdateMultiple", { Targets: ids.slice(0, 400).map((accountid) => ({ "@odata.type": "Microsoft.Dynamics.CRM.account", accountid, name: "Updated" })) });
      for (const id of ids.slice(400)) await call("DELETE", `accounts(${id})`);
    });
    const resetAfterDdl = await timeReset(5, async () => {
      await call("POST", "EntityDefinitions", customTable("new_Bench"));
    });
    return { start: timing(starts), reset: { ...reset, rows }, resetAfterWrites, resetAfterDdl };
  } finally {
    await orgbox.close();
  }
}
