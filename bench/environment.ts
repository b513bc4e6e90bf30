/**
 * Environment section of `npm run bench` (issue 6): how long `startOrgbox` takes
 * from `examples/isv-multitenant.orgbox.yaml` (validate, migrate, apply, listen;
 * target < 1 s), and how long `reset()` takes with 10,000 rows in the environment
 * (target < 50 ms), after a write each time so there is something to undo.
 */
import { dirname, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { readDocument } from "../src/environment/read.ts";
import type { OrgboxEnvironment } from "../src/environment/schema.ts";
import { startOrgbox } from "../src/index.ts";

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
    const resets: number[] = [];
    for (let i = 0; i < (options.resetRuns ?? 20); i++) {
      await orgbox.dataverse.service.insert(org, "account", { name: `Dirty ${i}` });
      const t0 = performance.now();
      await orgbox.reset();
      resets.push(performance.now() - t0);
    }
    return { start: timing(starts), reset: { ...timing(resets), rows } };
  } finally {
    await orgbox.close();
  }
}
