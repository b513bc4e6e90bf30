#!/usr/bin/env node
/**
 * `orgbox` command line. Flags map 1:1 to {@link OrgboxConfig} keys and to
 * `ORGBOX_*` variables; precedence is defaults < --config file < env < flags.
 */
import { Command, Option } from "commander";
import { createLogger } from "../common/logger.ts";
import { ConfigError } from "../common/errors.ts";
import { resolveConfig, type OrgboxConfig, type OrgboxConfigInput } from "../config/config.ts";
import { ensureLocalTls } from "../common/tls.ts";
// The server and the exporter load only for the commands that use them: the directory and security
// commands start faster without them.
import type { OrgboxInstance } from "../server/create-orgbox.ts";
import { registerSecurityCommands } from "./security.ts";
import { registerSolutionCommands } from "./solutions.ts";
import { registerDirectoryCommands } from "./directory.ts";
import { ORGBOX_VERSION } from "./version.ts";
import { envLinesFor, formatPosix, registerEnvCommand } from "./env.ts";
import { registerClockCommands } from "./clock.ts";
import { registerInteractionCommands } from "./interaction.ts";
import { offlineStore } from "../server/offline.ts";
import { isWorker, readyInfo, reportToPrimary, runPrimary, workerCount, type ReadyInfo } from "./workers.ts";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

interface StartFlags {
  port?: string;
  host?: string;
  publicHost?: string;
  publicPort?: string;
  workers?: string;
  data?: string;
  inMemory?: boolean;
  storeUrl?: string;
  http?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  caDir?: string;
  config?: string;
  logLevel?: string;
  logFormat?: string;
  seed?: boolean;
  json?: boolean;
  adminKey?: string;
  keyRotationInterval?: string;
  rejectAssertionReplay?: boolean;
  legacyApplicationUserRule?: boolean;
  refreshTokenLifetime?: string;
  spaRefreshTokenLifetime?: string;
  refreshTokenRotation?: string;
  lockoutThreshold?: string;
  lockoutDuration?: string;
  serviceProtection?: boolean;
  serviceProtectionRequests?: string;
  serviceProtectionExecution?: string;
  serviceProtectionConcurrency?: string;
  serviceProtectionWindow?: string;
  faults?: string;
  tokenRequestsPerMinute?: string;
  proxy?: boolean;
  proxyPort?: string;
  proxyPassthrough?: boolean;
  printEnv?: boolean;
  reapply?: boolean;
}

function toInput(flags: StartFlags): OrgboxConfigInput {
  const input: OrgboxConfigInput = {};
  if (flags.port !== undefined) input.port = flags.port;
  if (flags.host !== undefined) input.host = flags.host;
  if (flags.publicHost !== undefined) input.publicHost = flags.publicHost;
  if (flags.publicPort !== undefined) input.publicPort = flags.publicPort;
  if (flags.workers !== undefined) input.workers = flags.workers;
  if (flags.data !== undefined) input.dataDir = flags.data;
  if (flags.inMemory) input.inMemory = true;
  if (flags.storeUrl !== undefined) input.storeUrl = flags.storeUrl;
  if (flags.http) input.http = true;
  if (flags.tlsCert !== undefined) input.tlsCert = flags.tlsCert;
  if (flags.tlsKey !== undefined) input.tlsKey = flags.tlsKey;
  if (flags.caDir !== undefined) input.caDir = flags.caDir;
  if (flags.config !== undefined) input.configFile = flags.config;
  if (flags.logLevel !== undefined) input.logLevel = flags.logLevel;
  if (flags.logFormat !== undefined) input.logFormat = flags.logFormat;
  if (flags.seed === false) input.seedDemo = false;
  if (flags.adminKey !== undefined) input.adminKey = flags.adminKey;
  if (flags.keyRotationInterval !== undefined) input.keyRotationIntervalSeconds = flags.keyRotationInterval;
  if (flags.rejectAssertionReplay) input.rejectAssertionReplay = true;
  if (flags.legacyApplicationUserRule) input.legacyApplicationUserRule = true;
  if (flags.refreshTokenLifetime !== undefined) input.refreshTokenLifetimeSeconds = flags.refreshTokenLifetime;
  if (flags.spaRefreshTokenLifetime !== undefined) input.spaRefreshTokenLifetimeSeconds = flags.spaRefreshTokenLifetime;
  if (flags.refreshTokenRotation !== undefined) input.refreshTokenRotation = flags.refreshTokenRotation;
  if (flags.lockoutThreshold !== undefined) input.lockoutThreshold = flags.lockoutThreshold;
  if (flags.lockoutDuration !== undefined) input.lockoutDurationSeconds = flags.lockoutDuration;
  if (flags.serviceProtection === false) input.serviceProtection = false;
  if (flags.serviceProtectionRequests !== undefined) input.serviceProtectionRequests = flags.serviceProtectionRequests;
  if (flags.serviceProtectionExecution !== undefined) input.serviceProtectionExecutionSeconds = flags.serviceProtectionExecution;
  if (flags.serviceProtectionConcurrency !== undefined) input.serviceProtectionConcurrency = flags.serviceProtectionConcurrency;
  if (flags.serviceProtectionWindow !== undefined) input.serviceProtectionWindowSeconds = flags.serviceProtectionWindow;
  if (flags.faults !== undefined) input.faults = flags.faults;
  if (flags.tokenRequestsPerMinute !== undefined) input.tokenRequestsPerMinute = flags.tokenRequestsPerMinute;
  if (flags.proxy === false) input.proxy = false;
  if (flags.proxyPort !== undefined) input.proxyPort = flags.proxyPort;
  if (flags.proxyPassthrough === false) input.proxyPassthrough = false;
  if (flags.reapply) input.reapply = true;
  return input;
}

function wantsJson(flags: StartFlags): boolean {
  const env = process.env.ORGBOX_JSON;
  return flags.json === true || env === "1" || env === "true";
}

/** Trust instructions for the local CA, per client stack. */
export function trustLines(caCertPath: string): string[] {
  return [
    `Node.js:  export NODE_EXTRA_CA_CERTS=${caCertPath}`,
    `Python:   export REQUESTS_CA_BUNDLE=${caCertPath}   # or msal: verify="${caCertPath}"`,
    `curl:     curl --cacert ${caCertPath} …`,
  ];
}

/** The human ready banner; `tlsCert` is the file of your own certificate (`--tls-cert`), if any. */
function banner(orgbox: ReadyInfo, tlsCert?: string): string {
  const lines = [
    "",
    "  orgbox is ready — a Dynamics 365 org and its Entra ID tenant, in a box",
    "",
    `  Identity URL    ${orgbox.url}`,
    `  Authority       ${orgbox.authority}`,
    `  Tenant          ${orgbox.tenantDomain} (${orgbox.tenantId})`,
    `  Org URL         ${orgbox.orgUrl}`,
    `  Web API         ${orgbox.apiUrl}`,
    `  Demo client id  ${orgbox.demo.clientId}`,
    `  Demo secret     ${orgbox.demo.clientSecret}`,
    `  Demo admin      ${orgbox.demo.username} / ${orgbox.demo.password}`,
  ];
  if (orgbox.workers > 1) lines.push(`  Processes       ${orgbox.workers} (--workers)`);
  if (orgbox.proxyUrl) lines.push(`  Proxy           ${orgbox.proxyUrl}  (real host names: ${orgbox.cloudOrgUrl}, login.microsoftonline.com; eval "$(orgbox env)")`);
  if (orgbox.caCertPath) {
    lines.push(`  CA certificate  ${orgbox.caCertPath}`, "", "  Trust it:", ...trustLines(orgbox.caCertPath).map((l) => `    ${l}`));
  } else if (tlsCert !== undefined) {
    lines.push(`  TLS certificate ${tlsCert} (yours: clients trust it as they trust its issuer)`);
  } else {
    lines.push("  TLS             off (--http)");
  }
  lines.push("", "  Stop with Ctrl+C.", "");
  return lines.join("\n");
}

async function start(flags: StartFlags): Promise<void> {
  const config = resolveConfig(toInput(flags), process.env);
  const json = wantsJson(flags);
  const logger = createLogger(config.logLevel, undefined, config.logFormat);
  const workers = workerCount(config);
  let ready: ReadyInfo;
  if (workers > 1 && !isWorker()) {
    ready = await runPrimary(config, workers, logger);
  } else {
    const { createOrgbox } = await import("../server/create-orgbox.ts");
    let orgbox: OrgboxInstance;
    try {
      orgbox = await createOrgbox(config, logger, undefined, { workers });
    } catch (error) {
      if (isWorker()) reportToPrimary({ type: "failed", message: (error as Error).message });
      throw error;
    }
    // Handlers first: a supervisor may signal as soon as it reads the ready output.
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "stopping");
      orgbox.close().then(
        () => {
          logger.flush();
          process.exit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, "error while stopping");
          process.exit(1);
        },
      );
    };
    // A worker stops when the primary tells it (SIGTERM), not on the terminal's Ctrl+C, which the primary handles.
    process.once("SIGINT", () => (isWorker() ? undefined : stop("SIGINT")));
    process.once("SIGTERM", () => stop("SIGTERM"));
    ready = readyInfo(orgbox, workers);
    if (isWorker()) {
      reportToPrimary({ type: "ready", ready });
      return;
    }
  }
  const caCert = flags.printEnv && ready.proxyUrl && ready.caCertPath ? readFileSync(ready.caCertPath, "utf8") : undefined;
  const envLines = ready.proxyUrl && ready.caCertPath && caCert ? await envLinesFor(ready.proxyUrl, ready.caCertPath, caCert) : undefined;
  if (flags.printEnv && !envLines) logger.warn("--print-env: the proxy is off (--no-proxy or --http): nothing to print");
  if (json) {
    process.stdout.write(`${JSON.stringify({ event: "ready", pid: process.pid, ...ready, ...(envLines ? { env: Object.fromEntries(envLines.map((l) => [l.name, l.value])) } : {}) })}\n`);
  } else {
    process.stdout.write(`${banner(ready, config.tlsCert)}\n`);
    if (envLines) process.stdout.write(formatPosix(envLines));
  }
}

async function cert(flags: StartFlags & { install?: boolean; dryRun?: boolean }): Promise<void> {
  const config: OrgboxConfig = resolveConfig(toInput(flags), process.env);
  const tls = await ensureLocalTls(config.caDir);
  if (flags.install || flags.dryRun) {
    const trust = await import("./trust-install.ts");
    const facts = trust.hostFacts();
    const plan = trust.trustPlan(tls.caCertPath, facts);
    const outcomes = trust.installTrust(plan, facts, flags.dryRun === true);
    process.stdout.write(wantsJson(flags) ? `${JSON.stringify({ caCertPath: plan.caCertPath, steps: outcomes, notes: plan.notes })}\n` : trust.trustReport(plan, outcomes));
    if (outcomes.some((o) => o.outcome === "failed")) process.exitCode = 1;
    return;
  }
  if (wantsJson(flags)) {
    process.stdout.write(`${JSON.stringify({ caCertPath: tls.caCertPath, caDir: config.caDir, node: `NODE_EXTRA_CA_CERTS=${tls.caCertPath}`, python: `REQUESTS_CA_BUNDLE=${tls.caCertPath}`, curl: `--cacert ${tls.caCertPath}` })}\n`);
    return;
  }
  process.stdout.write(["", `  orgbox local CA: ${tls.caCertPath}`, "", ...trustLines(tls.caCertPath).map((l) => `  ${l}`), "", "  The server certificate covers localhost, 127.0.0.1 and ::1.", ""].join("\n") + "\n");
}

/**
 * `orgbox keys rotate --data DIR [--activate-after SECONDS]`: adds a signing key to a
 * persisted store (published at once, signing after the delay) and schedules the old
 * keys' retirement. A server already running on the store picks it up at its next request.
 */
async function keysRotate(flags: StartFlags & { activateAfter?: string }): Promise<void> {
  const config = resolveConfig(toInput(flags), process.env);
  if (config.inMemory) throw new ConfigError("keys rotate needs a persisted store: pass --data DIR or --store-url URL");
  if (config.storeUrl === undefined && !existsSync(config.dataDir)) throw new ConfigError(`no orgbox data folder at ${config.dataDir}`);
  const activateAfterSeconds = Number(flags.activateAfter ?? "0");
  if (!Number.isInteger(activateAfterSeconds) || activateAfterSeconds < 0) throw new ConfigError(`--activate-after must be a whole number of seconds ≥ 0 (got '${flags.activateAfter}')`);
  const { openServices } = await import("../server/services.ts");
  // The services as `start` opens them (migrations, the upgrade of an older data folder), without the rotation timer.
  const services = await openServices({ ...config, keyRotationIntervalSeconds: undefined });
  try {
    const result = await services.identity.rotateKeys({ activateAfterSeconds });
    const out = { kid: result.kid, activatesAt: new Date(result.activatesAt).toISOString(), previousKeysRetireAt: new Date(result.previousRetireAt).toISOString() };
    process.stdout.write(wantsJson(flags) ? `${JSON.stringify(out)}\n` : `  new signing key ${out.kid}\n  signs from       ${out.activatesAt}\n  old keys retire  ${out.previousKeysRetireAt}\n`);
  } finally {
    await services.close();
  }
}

/**
 * `orgbox export --data DIR [--format yaml|json] [--out FILE]`: writes the state of a
 * persisted store as an environment file (stdout without --out). Passwords and client
 * secrets are hashed at rest, so they come out as placeholders; what the environment
 * format cannot hold is listed as warnings on stderr (and in the YAML header).
 */
async function exportCommand(flags: { data?: string; storeUrl?: string; format?: string; out?: string }): Promise<void> {
  const store = offlineStore(flags);
  const format = flags.format ?? (flags.out && /\.json$/i.test(flags.out) ? "json" : "yaml");
  if (format !== "yaml" && format !== "json") throw new ConfigError(`--format must be yaml or json (got '${format}')`);
  const [{ exportStore }, { formatEnvironment }] = await Promise.all([import("../server/export.ts"), import("../environment/export.ts")]);
  const exported = await exportStore(store);
  const text = formatEnvironment(exported, format);
  if (flags.out) writeFileSync(flags.out, text);
  else process.stdout.write(text);
  for (const warning of exported.warnings) console.error(`orgbox export: warning: ${warning}`);
  if (exported.placeholders.length > 0) console.error(`orgbox export: ${exported.placeholders.length} password/secret value(s) are hashed at rest and were written as placeholders; replace them before use`);
}

function withCommonOptions(command: Command): Command {
  return command
    .option("--data <dir>", "data folder (SQLite file and CA; default ./.orgbox); env ORGBOX_DATA", undefined)
    .option("--in-memory", "keep the store in memory; env ORGBOX_IN_MEMORY")
    .option("--store-url <url>", "keep the store in this PostgreSQL database (postgres://user@host:5432/db) instead of SQLite; env ORGBOX_STORE_URL")
    .option("--ca-dir <dir>", "folder of the local CA; env ORGBOX_CA_DIR")
    .option("--config <file>", "config or environment file (.json, .yaml, .ts/.js); env ORGBOX_CONFIG")
    .option("--json", "machine-readable output on stdout; env ORGBOX_JSON");
}

const program = new Command("orgbox")
  .description("A Dynamics 365 organization and its Microsoft Entra ID tenant, in a box.")
  .version(ORGBOX_VERSION, "-V, --version", "print orgbox's version")
  .showHelpAfterError()
  // Commander's own errors (unknown option or command, missing or invalid argument) are bad input: exit 2, as a
  // ConfigError below; --help (and --version) exit 0. Every command created from `program` inherits this.
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

withCommonOptions(
  program
    .command("start")
    .description("start orgbox (HTTPS by default) with the demo tenant and org")
    .option("--port <port>", "TCP port, 0 picks a free one (default 8443); env ORGBOX_PORT")
    .option("--host <host>", "interface to listen on (default 127.0.0.1); env ORGBOX_HOST")
    .option("--public-host <name>", "host name in emitted URLs (default localhost); env ORGBOX_PUBLIC_HOST")
    .option("--public-port <port>", "port in emitted URLs, e.g. a load balancer's (default: the port listened on); env ORGBOX_PUBLIC_PORT")
    .option("--workers <n>", "processes sharing the port (default: one per core on PostgreSQL without --admin-key, else 1; >1 needs --store-url); env ORGBOX_WORKERS")
    .option("--http", "serve plain HTTP instead of HTTPS; env ORGBOX_HTTP")
    .option("--tls-cert <file>", "your own server certificate (PEM, leaf first, then intermediates) instead of the local CA's; with --tls-key; env ORGBOX_TLS_CERT")
    .option("--tls-key <file>", "the PEM private key of --tls-cert; env ORGBOX_TLS_KEY")
    .addOption(new Option("--log-level <level>", "log level (default info); env ORGBOX_LOG_LEVEL").choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"]))
    .addOption(new Option("--log-format <format>", "json: one JSON object per line (default); pretty: readable lines for people; env ORGBOX_LOG_FORMAT").choices(["json", "pretty"]))
    .option("--no-seed", "do not seed the demo environment; env ORGBOX_SEED_DEMO=false")
    .option("--admin-key <key>", "enable POST /_orgbox/reset and /_orgbox/snapshots for 'Authorization: Bearer <key>'; env ORGBOX_ADMIN_KEY")
    .option("--key-rotation-interval <seconds>", "rotate the token-signing key every N seconds (default off); env ORGBOX_KEY_ROTATION_INTERVAL")
    .option("--reject-assertion-replay", "refuse reused client-assertion jti values (breaks MSAL's assertion reuse); env ORGBOX_REJECT_ASSERTION_REPLAY")
    .option("--legacy-application-user-rule", "refuse default security roles for application users (the 2019 rule); env ORGBOX_LEGACY_APPLICATION_USER_RULE")
    .option("--refresh-token-lifetime <seconds>", "refresh-token inactivity lifetime (default 7776000, 90 days); env ORGBOX_REFRESH_TOKEN_LIFETIME")
    .option("--spa-refresh-token-lifetime <seconds>", "fixed lifetime of refresh tokens issued to SPA redirect URIs (default 86400); env ORGBOX_SPA_REFRESH_TOKEN_LIFETIME")
    .addOption(new Option("--refresh-token-rotation <mode>", "entra: a redeemed refresh token stays valid (default); strict: single use, a replay revokes the family; env ORGBOX_REFRESH_TOKEN_ROTATION").choices(["entra", "strict"]))
    .option("--lockout-threshold <n>", "wrong passwords in a row before a user is locked out, 0 for never (default 10); env ORGBOX_LOCKOUT_THRESHOLD")
    .option("--lockout-duration <seconds>", "how long a locked-out user stays locked (default 60); env ORGBOX_LOCKOUT_DURATION")
    .option("--no-service-protection", "turn off Dataverse's service protection limits (429 with Retry-After); env ORGBOX_SERVICE_PROTECTION=false")
    .option("--service-protection-requests <n>", "service protection: requests per window and user (default 6000); env ORGBOX_SERVICE_PROTECTION_REQUESTS")
    .option("--service-protection-execution <seconds>", "service protection: execution time per window and user (default 1200); env ORGBOX_SERVICE_PROTECTION_EXECUTION")
    .option("--service-protection-concurrency <n>", "service protection: concurrent requests per user (default 52); env ORGBOX_SERVICE_PROTECTION_CONCURRENCY")
    .option("--service-protection-window <seconds>", "service protection: the sliding window (default 300); env ORGBOX_SERVICE_PROTECTION_WINDOW")
    .option("--faults <json>", "fault injection rules from start, a JSON array (default none); env ORGBOX_FAULTS")
    .option("--token-requests-per-minute <n>", "throttle token requests per tenant and client (AADSTS50196; default off); env ORGBOX_TOKEN_REQUESTS_PER_MINUTE")
    .option("--no-proxy", "do not listen as the HTTP proxy that answers as the Microsoft host names; env ORGBOX_PROXY=false")
    .option("--proxy-port <port>", "the proxy's port, 0 picks a free one (default port + 1); env ORGBOX_PROXY_PORT")
    .option("--no-proxy-passthrough", "refuse (502) proxy requests for hosts orgbox does not answer as, instead of tunnelling them; env ORGBOX_PROXY_PASSTHROUGH=false")
    .option("--print-env", "after the banner, print the shell lines of `orgbox env` (HTTPS_PROXY, CA variables); with --json, an `env` object in the ready line")
    .option("--reapply", "rebuild the --data store from the --config environment file it already holds (old store kept as orgbox.sqlite.before-reapply); env ORGBOX_REAPPLY"),
).action(start);

const keysCommand = program.command("keys").description("manage the token-signing keys of a persisted store");
withCommonOptions(
  keysCommand
    .command("rotate")
    .description("add a new signing key (published now, signing after --activate-after seconds); old keys retire once their tokens expire")
    .option("--activate-after <seconds>", "delay before the new key signs (default 0)"),
).action(keysRotate);

withCommonOptions(
  program
    .command("cert")
    .description("print the local CA path and how to trust it (creates the CA if needed); 'orgbox app cert' manages an app's certificates")
    .option("--install", "add the local CA to the system trust store and Chrome/Firefox (NSS) where allowed; prints the commands that need root")
    .option("--dry-run", "with --install: print what would run, change nothing"),
).action(cert);

program
  .command("export")
  .description("write the state of a persisted store as an environment file (passwords and secrets become placeholders)")
  .option("--data <dir>", "data folder of the store to export (default ./.orgbox); env ORGBOX_DATA")
  .option("--store-url <url>", "or the PostgreSQL database of the store; env ORGBOX_STORE_URL")
  .addOption(new Option("--format <format>", "output format (default yaml, or json for an --out ending in .json)").choices(["yaml", "json"]))
  .option("--out <file>", "write to this file instead of stdout")
  .action(exportCommand);

registerDirectoryCommands(program);
registerSecurityCommands(program);
registerEnvCommand(program);
registerClockCommands(program);
registerInteractionCommands(program);
registerSolutionCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`orgbox: ${error.message}`);
    process.exit(2);
  }
  console.error(`orgbox: ${(error as Error).message}`);
  process.exit(1);
});
