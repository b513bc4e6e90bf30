/**
 * `npm run bench`: one run that measures orgbox against reference points and
 * prints a table plus one `{"bench":…}` JSON line. Never asserts timings.
 *
 *  1. Token endpoint (client_credentials, v2, keep-alive HTTPS) vs a bare Fastify
 *     handler answering a constant body, and vs the raw jose RS256 sign rate.
 *  2. Token verification: orgbox's verifier vs raw `jose.jwtVerify`.
 *  3. Web API page read (`$select` 10 columns, `$top=50`, `$filter` on an indexed
 *     lookup when orgbox supports it) vs bare Fastify running the hand-written SQL; and
 *     the same read by Local- and Basic-depth readers vs the Global one (row-level security);
 *     and `CreateMultiple` rows/s (batches of 1,000, keep-alive HTTPS) vs the bulk-SQL insert rate; and server-driven
 *     paging (`odata.maxpagesize=1000`, nextLinks followed): page 1 vs page 100 (keyset), by the primary key and by `name`.
 *
 * Environment (all optional; each also as a flag: `npm run bench -- --rows 1000000`):
 *   BENCH_ROWS          --rows: accounts to add for the page read (default 1000000, as issue 4 asks: seeding takes ~50 s)
 *   BENCH_SERVICE_ROWS  --service-rows: of those, how many go through dataverse.service.insert (default 2000)
 *   BENCH_DURATION      --duration: seconds per HTTP load run (default 8), after 1 s of warm-up
 *   BENCH_CONNECTIONS   --connections: keep-alive connections per load run (default 10)
 *   BENCH_FETCHXML_ROWS --fetchxml-rows: accounts the fetchxml section adds (default 200000; 40 pages of 5,000 need 200,000)
 *   BENCH_ONLY          --only: comma list of sections to run: token,verify,webapi,environment,fetchxml,workers (default all)
 *   BENCH_STORE_URL     PostgreSQL database for the workers section (default: a throwaway server, as the tests start)
 *
 *  5. FetchXML paging: a whole-table sync with paging cookies, `count="5000"`: page 1 vs page 40 (keyset, ratio near 1),
 *     and simple paging's page 10 (OFFSET) for reference.
 *  6. Workers: `orgbox start --workers 1` and `--workers 2` on PostgreSQL, token endpoint and page read side by side
 *     (the ratio is 2 workers / 1; the aim is ≥ 1.8 on 2 cores, with the load generator on another machine).
 */
import { createPublicKey, sign as nodeSign, verify as nodeVerify, type JsonWebKey } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { isDeepStrictEqual } from "node:util";
import { jwtVerify, SignJWT, type JWTPayload } from "jose";
import { ensureLocalTls } from "../src/common/tls.ts";
import { generateSigningKey, loadSigningKey } from "../src/common/keys.ts";
import { startOrgbox, type OrgboxInstance } from "../src/index.ts";
import { PAGE_COLUMNS, startSqlBaseline, startTokenBaseline, type Baseline } from "./baselines.ts";
import { iterationsFor, measureRate, measureSyncRate, type RateResult } from "./crypto.ts";
import { benchCreateMultiple, type CreateMultipleResult } from "./create-multiple.ts";
import { clientCredentialsForm, decodeHeader, decodePayload, fetchToken, httpsRequest } from "./http.ts";
import { runLoad, type LoadResult, type LoadSpec } from "./load.ts";
import { ms, rate, table, type Row } from "./report.ts";
import { seedAccounts, type SeedResult } from "./seed.ts";
import { benchFetchXmlPaging } from "./fetchxml.ts";
import { benchODataPaging } from "./odata-paging.ts";
import { scopedReader } from "./rls.ts";
import { benchEnvironment, RESET_TARGET_MS, START_TARGET_MS } from "./environment.ts";
import { benchWorkers } from "./workers.ts";

/** `--rows N` style flags override the matching `BENCH_*` variable. */
const FLAGS: Record<string, string> = { "--rows": "BENCH_ROWS", "--service-rows": "BENCH_SERVICE_ROWS", "--duration": "BENCH_DURATION", "--connections": "BENCH_CONNECTIONS", "--only": "BENCH_ONLY", "--fetchxml-rows": "BENCH_FETCHXML_ROWS" };
function flag(envName: string): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const [name, inline] = arg.split("=", 2) as [string, string | undefined];
    if (FLAGS[name] === envName) return inline ?? args[i + 1];
  }
  return process.env[envName];
}
for (const arg of process.argv.slice(2)) {
  if (arg.startsWith("--") && !(arg.split("=")[0] as string in FLAGS)) throw new Error(`unknown flag ${arg}; known: ${Object.keys(FLAGS).join(", ")}`);
}

function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = flag(name);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw.replace(/_/g, ""));
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got '${raw}'`);
  return n;
}

const ROWS = envInt("BENCH_ROWS", 1_000_000, 0, 2_000_000);
const SERVICE_ROWS = envInt("BENCH_SERVICE_ROWS", 2_000, 1, 100_000);
const DURATION = envInt("BENCH_DURATION", 8, 1, 60);
const CONNECTIONS = envInt("BENCH_CONNECTIONS", 10, 1, 256);
const FETCHXML_ROWS = envInt("BENCH_FETCHXML_ROWS", 200_000, 0, 2_000_000);
const ONLY = new Set((flag("BENCH_ONLY") ?? "token,verify,webapi,environment,fetchxml,workers").split(",").map((s) => s.trim()));
const CRYPTO_SECONDS = 2;
const PAGE = 50;

function log(message: string): void {
  process.stderr.write(`[bench ${(performance.now() / 1000).toFixed(1)}s] ${message}\n`);
}

function load(spec: Omit<LoadSpec, "connections" | "durationSeconds" | "warmupSeconds">): Promise<LoadResult> {
  return runLoad({ ...spec, connections: CONNECTIONS, durationSeconds: DURATION, warmupSeconds: 1 });
}

function checkLoad(name: string, result: LoadResult): void {
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) log(`warning: ${name}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts (rates count completed responses)`);
}

interface TokenSection {
  endpoint: LoadResult;
  bareFastify: LoadResult;
  rawSign: RateResult;
  rawSignParallel: RateResult;
  /** node:crypto `sign()` (synchronous OpenSSL, no WebCrypto job): the one-core CPU ceiling. */
  nodeSyncSign: RateResult;
  tokenBytes: number;
}

async function benchToken(orgbox: OrgboxInstance, token: string, tokenResponse: string): Promise<TokenSection> {
  // Raw jose RS256 sign rate with a cached KeyObject, the real token's claims and header shape.
  const key = loadSigningKey(await generateSigningKey(Date.now()));
  const claims = decodePayload(token) as JWTPayload;
  const header = { typ: "JWT", alg: "RS256", kid: key.kid };
  const sign = () => new SignJWT(claims).setProtectedHeader(header).sign(key.privateKey);
  log("raw jose sign (sequential)");
  const signIterations = await iterationsFor(sign, CRYPTO_SECONDS);
  const rawSign = await measureRate(sign, signIterations);
  log("raw jose sign (8 in flight)");
  const rawSignParallel = await measureRate(sign, signIterations, { inFlight: 8 });
  log("node:crypto sign (synchronous)");
  const signingInput = Buffer.from(token.split(".").slice(0, 2).join("."));
  const nodeSyncSign = measureSyncRate(() => nodeSign("sha256", signingInput, key.privateKey), signIterations);

  const form = clientCredentialsForm(orgbox.demo.clientId, orgbox.demo.clientSecret, { scope: `${orgbox.orgUrl}/.default` });
  const tokenPath = `/${orgbox.tenantId}/oauth2/v2.0/token`;
  const post = { method: "POST" as const, headers: { "content-type": "application/x-www-form-urlencoded" }, body: form, ca: orgbox.caCert };
  log(`token endpoint: ${CONNECTIONS} connections, ${DURATION} s`);
  const endpoint = await load({ url: `${orgbox.url}${tokenPath}`, ...post });
  checkLoad("token endpoint", endpoint);

  const tls = await ensureLocalTls(orgbox.config.caDir);
  const bare = await startTokenBaseline(tls, tokenResponse);
  try {
    log("bare Fastify token baseline");
    const bareFastify = await load({ url: `${bare.url}${tokenPath}`, ...post });
    checkLoad("bare Fastify token baseline", bareFastify);
    return { endpoint, bareFastify, rawSign, rawSignParallel, nodeSyncSign, tokenBytes: token.length };
  } finally {
    await bare.close();
  }
}

interface VerifySection {
  orgbox: RateResult;
  raw: RateResult;
  /** node:crypto `verify()` of the same signature, synchronous. */
  nodeSync: RateResult;
}

async function benchVerify(orgbox: OrgboxInstance, token: string): Promise<VerifySection> {
  const claims = decodePayload(token);
  const kid = String(decodeHeader(token).kid);
  const jwks = await httpsRequest(`${orgbox.url}/${orgbox.tenantId}/discovery/v2.0/keys`, { ca: orgbox.caCert });
  const jwk = (JSON.parse(jwks.text) as { keys: (JsonWebKey & { kid: string })[] }).keys.find((k) => k.kid === kid);
  if (!jwk) throw new Error(`JWKS has no key '${kid}'`);
  const publicKey = createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e }, format: "jwk" });
  const issuer = String(claims.iss);
  const audience = String(claims.aud);
  const expected = { issuers: [issuer], audiences: [audience, `${audience}/`] };
  const viaOrgbox = () => orgbox.identity.verifier(token, expected);
  const raw = () => jwtVerify(token, publicKey, { algorithms: ["RS256"], issuer: expected.issuers, audience: expected.audiences, clockTolerance: 60 });
  log("verify: orgbox verifier");
  const orgboxRate = await measureRate(viaOrgbox, await iterationsFor(viaOrgbox, CRYPTO_SECONDS, 500));
  log("verify: raw jose.jwtVerify");
  const rawRate = await measureRate(raw, await iterationsFor(raw, CRYPTO_SECONDS, 500));
  log("verify: node:crypto verify (synchronous)");
  const [h, p, sig] = token.split(".") as [string, string, string];
  const data = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(sig, "base64url");
  const nodeSync = measureSyncRate(() => nodeVerify("sha256", data, publicKey, signature), rawRate.iterations);
  return { orgbox: orgboxRate, raw: rawRate, nodeSync };
}

interface WebApiSection {
  seed: SeedResult;
  filter: { used: boolean; query: string; probeStatus: number; probeMessage: string };
  orgbox: LoadResult;
  handSql: LoadResult;
  /** The same read by application users whose role reads accounts at Local / Basic depth (the main read is Global). */
  rls: { depth: "Local" | "Basic"; rows: number; load: LoadResult }[];
  bodiesMatch: boolean;
  responseBytes: number;
  createMultiple: CreateMultipleResult;
}

async function benchWebApi(orgbox: OrgboxInstance, token: string, file: string): Promise<WebApiSection> {
  log(`seeding ${ROWS.toLocaleString("en-US")} accounts (${Math.min(ROWS, SERVICE_ROWS)} through dataverse.service.insert)`);
  const seed = await seedAccounts(orgbox, file, ROWS, SERVICE_ROWS);
  log(`seeded: ${seed.totalRows.toLocaleString("en-US")} rows in ${seed.table}; service ${rate(seed.viaService.rowsPerSecond)} rows/s, bulk ${rate(seed.viaBulk.rowsPerSecond)} rows/s`);

  const select = `$select=${PAGE_COLUMNS.join(",")}&$top=${PAGE}`;
  const filterQuery = `${select}&$filter=${encodeURIComponent(`_parentaccountid_value eq ${seed.filterParentId}`)}`;
  const auth = { authorization: `Bearer ${token}`, accept: "application/json" };
  const probe = await httpsRequest(`${orgbox.apiUrl}/accounts?${filterQuery}`, { ca: orgbox.caCert, headers: auth });
  const used = probe.status === 200 && ROWS > 0;
  let probeMessage = "";
  if (!used) {
    try {
      probeMessage = (JSON.parse(probe.text) as { error?: { message?: string } }).error?.message ?? probe.text;
    } catch {
      probeMessage = probe.text;
    }
    log(`$filter probe answered ${probe.status} (${probeMessage}): measuring without $filter`);
  }
  const query = used ? filterQuery : select;
  const first = await httpsRequest(`${orgbox.apiUrl}/accounts?${query}`, { ca: orgbox.caCert, headers: auth });
  if (first.status !== 200) throw new Error(`GET accounts answered ${first.status}: ${first.text}`);

  log(`Web API page read: ${CONNECTIONS} connections, ${DURATION} s`);
  const orgboxResult = await load({ url: `${orgbox.apiUrl}/accounts?${query}`, headers: auth, ca: orgbox.caCert });
  checkLoad("Web API page read", orgboxResult);
  const rls: WebApiSection["rls"] = [];
  for (const depth of ["Local", "Basic"] as const) {
    const reader = await scopedReader(orgbox, depth, query);
    log(`Web API page read as a ${depth}-depth reader (${reader.rows} rows on the page): ${CONNECTIONS} connections, ${DURATION} s`);
    const result = await load({ url: `${orgbox.apiUrl}/accounts?${query}`, headers: { ...auth, authorization: `Bearer ${reader.token}` }, ca: orgbox.caCert });
    checkLoad(`Web API page read (${depth})`, result);
    rls.push({ depth, rows: reader.rows, load: result });
  }

  const tls = await ensureLocalTls(orgbox.config.caDir);
  const firstBody = JSON.parse(first.text) as { "@odata.context": string; value: Record<string, unknown>[] };
  const contextUrl = firstBody["@odata.context"];
  const withCurrency = firstBody.value.some((row) => "_transactioncurrencyid_value" in row);
  let baseline: Baseline | undefined;
  try {
    baseline = await startSqlBaseline(tls, { file, table: seed.table, top: PAGE, filterParentId: used ? seed.filterParentId : undefined, withCurrency, contextUrl });
    const baseUrl = `${baseline.url}/org/${new URL(orgbox.orgUrl).pathname.split("/").pop() ?? ""}/api/data/v9.2/accounts?${query}`;
    const baseFirst = await httpsRequest(baseUrl, { ca: orgbox.caCert });
    const bodiesMatch = isDeepStrictEqual(JSON.parse(baseFirst.text), JSON.parse(first.text));
    if (!bodiesMatch) log("warning: the hand-written SQL baseline's body differs from orgbox's");
    log("hand-written SQL baseline");
    const handSql = await load({ url: baseUrl, headers: auth, ca: orgbox.caCert });
    checkLoad("hand-written SQL baseline", handSql);
    log(`CreateMultiple: batches of 1,000 accounts, 1 keep-alive connection, ${DURATION} s`);
    const createMultiple = await benchCreateMultiple({ apiUrl: orgbox.apiUrl, token, ca: orgbox.caCert, durationSeconds: DURATION });
    if (createMultiple.failures > 0) log(`warning: CreateMultiple: ${createMultiple.failures} batches refused (first: ${createMultiple.firstFailure ?? ""})`);
    return { seed, filter: { used, query, probeStatus: probe.status, probeMessage }, orgbox: orgboxResult, handSql, rls, bodiesMatch, responseBytes: Buffer.byteLength(first.text), createMultiple };
  } finally {
    await baseline?.close();
  }
}

function loadJson(r: LoadResult) {
  return { rps: Math.round(r.requestsPerSecond), p50Ms: r.p50Ms, p99Ms: r.p99Ms, maxMs: r.maxMs, total: r.total, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts };
}

function rateJson(r: RateResult) {
  return { opsPerSecond: Math.round(r.opsPerSecond), iterations: r.iterations, meanMs: Number(r.meanMs.toFixed(4)) };
}

const round3 = (n: number) => Number(n.toFixed(3));

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), "orgbox-bench-"));
  const started = performance.now();
  let orgbox: OrgboxInstance | undefined;
  try {
    const loadBefore = loadavg()[0] as number;
    log(`starting orgbox (dataDir ${dataDir}); node ${process.version}, ${cpus().length} cores, ${CONNECTIONS} connections, ${DURATION} s per load run, load average ${loadBefore.toFixed(2)}`);
    if (loadBefore > 0.5) log("warning: the machine is already busy (1-minute load average above 0.5): numbers will be low and noisy");
    // One user sends every load run's requests: Dataverse's service protection limits (6,000 per 5 minutes) would answer 429.
    const box = await startOrgbox({ dataDir, serviceProtection: false });
    orgbox = box;
    const form = clientCredentialsForm(orgbox.demo.clientId, orgbox.demo.clientSecret, { scope: `${orgbox.orgUrl}/.default` });
    const tokenUrl = `${orgbox.url}/${orgbox.tenantId}/oauth2/v2.0/token`;
    const tokenReply = await httpsRequest(tokenUrl, { ca: orgbox.caCert, method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form });
    const { accessToken } = await fetchToken(tokenUrl, form, orgbox.caCert);

    const rows: Row[] = [];
    const json: Record<string, unknown> = { node: process.version, cores: cpus().length, loadAverageBefore: round3(loadBefore), connections: CONNECTIONS, durationSeconds: DURATION };
    const failures: Record<string, string> = {};
    /** Runs one section; a failure (orgbox answering an error, say) is reported and the other sections still run. */
    const attempt = async (name: string, body: () => Promise<void>): Promise<void> => {
      try {
        await body();
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log(`section ${name} failed: ${message}`);
        failures[name] = message;
        rows.push({ section: name, metric: `FAILED: ${message.slice(0, 100)}`, orgbox: "", reference: "", ratio: undefined, target: undefined });
      }
    };

    if (ONLY.has("token")) await attempt("token", async () => {
      const t = await benchToken(box, accessToken, tokenReply.text);
      const ratioSign = t.endpoint.requestsPerSecond / t.rawSign.opsPerSecond;
      const ratioBare = t.endpoint.requestsPerSecond / t.bareFastify.requestsPerSecond;
      rows.push(
        { section: "1 token", metric: "tokens/s vs raw jose RS256 sign, sequential", orgbox: rate(t.endpoint.requestsPerSecond), reference: rate(t.rawSign.opsPerSecond), ratio: ratioSign, target: 0.7 },
        { section: "1 token", metric: "tokens/s vs bare Fastify constant JSON", orgbox: rate(t.endpoint.requestsPerSecond), reference: rate(t.bareFastify.requestsPerSecond), ratio: ratioBare, target: undefined },
        { section: "1 token", metric: "p99 latency vs bare Fastify", orgbox: ms(t.endpoint.p99Ms), reference: ms(t.bareFastify.p99Ms), ratio: undefined, target: undefined },
        { section: "1 token", metric: "tokens/s vs raw jose sign, 8 in flight (info)", orgbox: rate(t.endpoint.requestsPerSecond), reference: rate(t.rawSignParallel.opsPerSecond), ratio: t.endpoint.requestsPerSecond / t.rawSignParallel.opsPerSecond, target: undefined },
        { section: "1 token", metric: "tokens/s vs node:crypto sync sign (info)", orgbox: rate(t.endpoint.requestsPerSecond), reference: rate(t.nodeSyncSign.opsPerSecond), ratio: t.endpoint.requestsPerSecond / t.nodeSyncSign.opsPerSecond, target: undefined },
      );
      json.token = { endpoint: loadJson(t.endpoint), bareFastify: loadJson(t.bareFastify), rawSign: rateJson(t.rawSign), rawSignParallel8: rateJson(t.rawSignParallel), nodeSyncSign: rateJson(t.nodeSyncSign), ratioToRawSign: round3(ratioSign), ratioToBareFastify: round3(ratioBare), tokenChars: t.tokenBytes };
    });

    if (ONLY.has("verify")) await attempt("verify", async () => {
      const v = await benchVerify(box, accessToken);
      const ratio = v.orgbox.opsPerSecond / v.raw.opsPerSecond;
      rows.push(
        { section: "2 verify", metric: "verifications/s vs raw jose.jwtVerify", orgbox: rate(v.orgbox.opsPerSecond), reference: rate(v.raw.opsPerSecond), ratio, target: undefined },
        { section: "2 verify", metric: "verifications/s vs node:crypto sync verify (info)", orgbox: rate(v.orgbox.opsPerSecond), reference: rate(v.nodeSync.opsPerSecond), ratio: v.orgbox.opsPerSecond / v.nodeSync.opsPerSecond, target: undefined },
      );
      json.verify = { orgbox: rateJson(v.orgbox), rawJose: rateJson(v.raw), nodeSyncVerify: rateJson(v.nodeSync), ratio: round3(ratio) };
    });

    if (ONLY.has("webapi")) await attempt("webapi", async () => {
      const w = await benchWebApi(box, accessToken, join(dataDir, "orgbox.sqlite"));
      const ratio = w.orgbox.requestsPerSecond / w.handSql.requestsPerSecond;
      const what = `${w.seed.totalRows.toLocaleString("en-US")} rows, ${w.filter.used ? "$filter" : "no $filter"}`;
      rows.push(
        { section: "3 web api", metric: `page reads/s vs hand-written SQL (${what})`, orgbox: rate(w.orgbox.requestsPerSecond), reference: rate(w.handSql.requestsPerSecond), ratio, target: 0.6 },
        { section: "3 web api", metric: "p99 latency vs hand-written SQL", orgbox: ms(w.orgbox.p99Ms), reference: ms(w.handSql.p99Ms), ratio: undefined, target: undefined },
        ...w.rls.map((r) => ({
          section: "3 web api",
          metric: `RLS: ${r.depth}-depth reader vs Global reader (${r.rows} rows on the page)${r.depth === "Basic" ? " (info)" : ""}`,
          orgbox: rate(r.load.requestsPerSecond),
          reference: rate(w.orgbox.requestsPerSecond),
          ratio: r.load.requestsPerSecond / w.orgbox.requestsPerSecond,
          target: r.depth === "Local" ? 0.8 : undefined,
        })),
        { section: "3 web api", metric: "seed rows/s: service.insert vs bulk SQL (info)", orgbox: rate(w.seed.viaService.rowsPerSecond), reference: rate(w.seed.viaBulk.rowsPerSecond), ratio: undefined, target: undefined },
        { section: "3 web api", metric: `CreateMultiple rows/s (batches of ${w.createMultiple.batchSize}) vs bulk SQL (info)`, orgbox: rate(w.createMultiple.rowsPerSecond), reference: rate(w.seed.viaBulk.rowsPerSecond), ratio: w.createMultiple.rowsPerSecond / w.seed.viaBulk.rowsPerSecond, target: undefined },
      );
      json.webapi = {
        rows: w.seed.totalRows,
        seeded: { viaService: { rows: w.seed.viaService.rows, rowsPerSecond: Math.round(w.seed.viaService.rowsPerSecond) }, viaBulk: { rows: w.seed.viaBulk.rows, rowsPerSecond: Math.round(w.seed.viaBulk.rowsPerSecond) } },
        filter: w.filter.used ? "used" : `not supported (${w.filter.probeStatus}: ${w.filter.probeMessage})`,
        query: w.filter.query,
        responseBytes: w.responseBytes,
        bodiesMatch: w.bodiesMatch,
        orgbox: loadJson(w.orgbox),
        handSql: loadJson(w.handSql),
        ratio: round3(ratio),
        createMultiple: { ...w.createMultiple, rowsPerSecond: Math.round(w.createMultiple.rowsPerSecond), seconds: round3(w.createMultiple.seconds), ratioToBulkSql: round3(w.createMultiple.rowsPerSecond / w.seed.viaBulk.rowsPerSecond) },
        rls: Object.fromEntries(w.rls.map((r) => [r.depth, { rowsOnPage: r.rows, load: loadJson(r.load), ratioToGlobal: round3(r.load.requestsPerSecond / w.orgbox.requestsPerSecond) }])),
      };
      // Server-driven paging: page 1 vs the deepest page walked (up to 100 pages of 1,000), by keyset.
      const pageSize = 1000;
      const pages = Math.min(100, Math.floor(w.seed.totalRows / pageSize));
      if (pages >= 2) {
        const paging = [];
        for (const query of ["$select=name,accountnumber", "$select=accountnumber&$orderby=name"]) {
          log(`webapi paging: ${pages} pages of ${pageSize}, ${query}`);
          const p = await benchODataPaging(box, accessToken, query, pages, pageSize);
          if (p.distinctRows !== p.rowsRead) log(`warning: webapi paging: ${p.rowsRead} rows read, ${p.distinctRows} distinct`);
          rows.push({ section: "3 web api", metric: `paging: page ${p.pages} ($skiptoken, keyset) vs page 1, maxpagesize ${p.pageSize}, ${query}, ms per page`, orgbox: ms(p.lastPageMs), reference: ms(p.page1Ms), ratio: p.lastPageMs / p.page1Ms, target: undefined });
          paging.push({ ...p, page1Ms: round3(p.page1Ms), lastPageMs: round3(p.lastPageMs), totalSeconds: round3(p.totalSeconds), ratio: round3(p.lastPageMs / p.page1Ms) });
        }
        (json.webapi as Record<string, unknown>).paging = paging;
      }
      if (!w.filter.used) console.log(`note: $filter answered ${w.filter.probeStatus} (${w.filter.probeMessage}); the page read ran without $filter.`);
    });

    if (ONLY.has("environment")) await attempt("environment", async () => {
      const e = await benchEnvironment();
      const verdict = (value: number, target: number) => `target < ${target} ms: ${value < target ? "met" : "missed"}`;
      rows.push(
        { section: "4 environment", metric: `start from isv-multitenant.orgbox.yaml, median of ${e.start.runs.length} (${verdict(e.start.medianMs, START_TARGET_MS)})`, orgbox: ms(e.start.medianMs), reference: "", ratio: undefined, target: undefined },
        { section: "4 environment", metric: `reset() with ${e.reset.rows.toLocaleString("en-US")} rows, median of ${e.reset.runs.length} (${verdict(e.reset.medianMs, RESET_TARGET_MS)})`, orgbox: ms(e.reset.medianMs), reference: "", ratio: undefined, target: undefined },
        { section: "4 environment", metric: `reset() after 1,000 writes (500 creates, 400 updates, 100 deletes), median of ${e.resetAfterWrites.runs.length} (info)`, orgbox: ms(e.resetAfterWrites.medianMs), reference: "", ratio: undefined, target: undefined },
        { section: "4 environment", metric: `reset() after creating a custom table (schema change: full copy), median of ${e.resetAfterDdl.runs.length} (info)`, orgbox: ms(e.resetAfterDdl.medianMs), reference: "", ratio: undefined, target: undefined },
      );
      json.environment = { startMs: e.start, resetMs: e.reset, resetAfterWritesMs: e.resetAfterWrites, resetAfterDdlMs: e.resetAfterDdl, targets: { startMs: START_TARGET_MS, resetMs: RESET_TARGET_MS } };
    });

    if (ONLY.has("fetchxml")) await attempt("fetchxml", async () => {
      log(`fetchxml: seeding ${FETCHXML_ROWS.toLocaleString("en-US")} accounts (bulk SQL)`);
      await seedAccounts(box, join(dataDir, "orgbox.sqlite"), FETCHXML_ROWS, 1);
      log("fetchxml: 40 pages of count=5000 with paging cookies");
      const f = await benchFetchXmlPaging(box, accessToken);
      if (f.distinctRows !== f.rowsRead) log(`warning: fetchxml: ${f.rowsRead} rows read, ${f.distinctRows} distinct`);
      rows.push(
        { section: "5 fetchxml", metric: `page ${f.pages} (cookie, keyset) vs page 1, count=${f.pageSize}, ms per page`, orgbox: ms(f.lastPageMs), reference: ms(f.page1Ms), ratio: f.lastPageMs / f.page1Ms, target: undefined },
        { section: "5 fetchxml", metric: "simple paging page 10 (OFFSET 45,000) vs page 1 (info)", orgbox: ms(f.simplePage10Ms), reference: ms(f.page1Ms), ratio: f.simplePage10Ms / f.page1Ms, target: undefined },
        { section: "5 fetchxml", metric: `whole sync: ${f.rowsRead.toLocaleString("en-US")} rows in ${f.pages} pages, s (info)`, orgbox: f.totalSeconds.toFixed(1), reference: "", ratio: undefined, target: undefined },
      );
      json.fetchxml = { ...f, page1Ms: round3(f.page1Ms), lastPageMs: round3(f.lastPageMs), simplePage10Ms: round3(f.simplePage10Ms), totalSeconds: round3(f.totalSeconds), ratio: round3(f.lastPageMs / f.page1Ms) };
    });

    if (ONLY.has("workers")) await attempt("workers", async () => {
      const w = await benchWorkers({ storeUrl: process.env.BENCH_STORE_URL || undefined, load: (spec) => load(spec), log });
      if (!w) {
        rows.push({ section: "6 workers", metric: "skipped: PostgreSQL is not installed and BENCH_STORE_URL is not set (--workers > 1 needs PostgreSQL)", orgbox: "", reference: "", ratio: undefined, target: undefined });
        json.workers = "skipped: no PostgreSQL";
        return;
      }
      const [one, two] = w.runs as [(typeof w.runs)[0], (typeof w.runs)[0]];
      rows.push(
        { section: "6 workers", metric: `tokens/s: --workers 2 vs 1 (PostgreSQL, ${cpus().length} cores, load generator on this machine)`, orgbox: rate(two.token.requestsPerSecond), reference: rate(one.token.requestsPerSecond), ratio: two.token.requestsPerSecond / one.token.requestsPerSecond, target: 1.8 },
        { section: "6 workers", metric: "page reads/s: --workers 2 vs 1 (PostgreSQL, demo accounts, $top=50)", orgbox: rate(two.pageRead.requestsPerSecond), reference: rate(one.pageRead.requestsPerSecond), ratio: two.pageRead.requestsPerSecond / one.pageRead.requestsPerSecond, target: 1.8 },
      );
      json.workers = {
        query: w.query,
        runs: w.runs.map((r) => ({ workers: r.workers, token: loadJson(r.token), pageRead: loadJson(r.pageRead) })),
        tokenRatio: round3(two.token.requestsPerSecond / one.token.requestsPerSecond),
        pageReadRatio: round3(two.pageRead.requestsPerSecond / one.pageRead.requestsPerSecond),
      };
    });

    if (Object.keys(failures).length > 0) {
      json.failures = failures;
      process.exitCode = 1;
    }
    json.loadAverageAfter = round3(loadavg()[0] as number);
    json.totalSeconds = round3((performance.now() - started) / 1000);
    console.log("");
    console.log(table(rows));
    console.log("");
    console.log(JSON.stringify({ bench: json }));
  } finally {
    await orgbox?.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
