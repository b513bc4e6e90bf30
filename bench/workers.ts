import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import pg from "pg";
import { createTestDatabase, startTestPostgres, type TestPostgres } from "../tests/helpers/postgres.ts";
import { PAGE_COLUMNS } from "./baselines.ts";
import { clientCredentialsForm, fetchToken, httpsRequest } from "./http.ts";
import type { LoadResult } from "./load.ts";

/** One `orgbox start --workers N` measured: the token endpoint and the page read. */
export interface WorkersRun {
  workers: number;
  token: LoadResult;
  pageRead: LoadResult;
}

/** What {@link benchWorkers} measured, 1 worker and 2 side by side. */
export interface WorkersSection {
  runs: WorkersRun[];
  /** Rows of `accounts` the page read reads (the demo's). */
  query: string;
}

/**
 * `orgbox start --workers 1` and `--workers 2` (real child processes, the CLI) on one PostgreSQL
 * database, each measured on the token endpoint (client_credentials, v2) and the Web API page read
 * (`$select` 10 columns, `$top=50`), with the same load. More than one worker needs PostgreSQL:
 * `BENCH_STORE_URL` names a server's database to use (its `orgbox` tables are created there), else
 * a throwaway server is started as the test suite does (tests/helpers/postgres.ts); without
 * PostgreSQL installed the answer is undefined (skipped). The load
 * generator runs on the same machine, so on 2 cores it takes CPU from the workers too.
 */
export async function benchWorkers(options: { storeUrl: string | undefined; load: (spec: { url: string; method?: "GET" | "POST"; headers?: Record<string, string>; body?: string; ca: string | undefined }) => Promise<LoadResult>; log: (message: string) => void }): Promise<WorkersSection | undefined> {
  let server: TestPostgres | undefined;
  let database: { url: string; drop(): Promise<void> } | undefined;
  const caDir = await mkdtemp(join(tmpdir(), "orgbox-bench-workers-ca-"));
  try {
    let storeUrl = options.storeUrl;
    if (!storeUrl) {
      options.log("workers: starting a throwaway PostgreSQL server");
      try {
        server = await startTestPostgres();
      } catch (error) {
        // No PostgreSQL on this machine: the section is skipped, not failed.
        if (/not installed/.test((error as Error).message)) return undefined;
        throw error;
      }
      process.env.ORGBOX_TEST_PG_URL = server.url;
      database = await createTestDatabase();
      storeUrl = database.url;
    }
    const query = `$select=${PAGE_COLUMNS.join(",")}&$top=50`;
    const runs: WorkersRun[] = [];
    for (const workers of [1, 2]) {
      const { child, ready } = await startWorkers(storeUrl, workers, caDir);
      try {
        const ca = readFileSync(join(caDir, "ca.pem"), "utf8");
        const tokenUrl = `${ready.url}/${ready.tenantId}/oauth2/v2.0/token`;
        const form = clientCredentialsForm(ready.demo.clientId, ready.demo.clientSecret, { scope: `${ready.orgUrl}/.default` });
        const { accessToken } = await fetchToken(tokenUrl, form, ca);
        const probe = await httpsRequest(`${ready.apiUrl}/accounts?${query}`, { ca, headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" } });
        if (probe.status !== 200) throw new Error(`GET accounts answered ${probe.status}: ${probe.text.slice(0, 200)}`);
        options.log(`workers ${workers}: token endpoint`);
        const token = await options.load({ url: tokenUrl, method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form, ca });
        options.log(`workers ${workers}: page read`);
        const pageRead = await options.load({ url: `${ready.apiUrl}/accounts?${query}`, headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" }, ca });
        runs.push({ workers, token, pageRead });
      } finally {
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        await exited;
      }
    }
    return { runs, query };
  } finally {
    await database?.drop().catch(() => undefined);
    await server?.stop().catch(() => undefined);
    await rm(caDir, { recursive: true, force: true });
  }
}

interface Ready {
  url: string;
  tenantId: string;
  orgUrl: string;
  apiUrl: string;
  demo: { clientId: string; clientSecret: string };
}

/** `orgbox start --workers N --port 0` on the store; resolves once its ready line is out. */
async function startWorkers(storeUrl: string, workers: number, caDir: string): Promise<{ child: ChildProcess; ready: Ready }> {
  // The store may be a shared server's: check it is reachable first, with a clear message.
  const probe = new pg.Client({ connectionString: storeUrl });
  await probe.connect();
  await probe.end();
  const cli = resolve(import.meta.dirname, "../bin/orgbox.js");
  const child = spawn(process.execPath, [cli, "start", "--store-url", storeUrl, "--workers", String(workers), "--port", "0", "--ca-dir", caDir, "--json", "--log-level", "silent", "--no-service-protection", "--no-proxy"], { env: { ...process.env, ORGBOX_JSON: "" }, stdio: ["ignore", "pipe", "inherit"] });
  const [line] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), "line")) as [string];
  return { child, ready: JSON.parse(line) as Ready };
}
