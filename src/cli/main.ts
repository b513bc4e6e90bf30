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
import { offlineStore } from "../server/offline.ts";
import { existsSync, writeFileSync } from "node:fs";

interface StartFlags {
  port?: string;
  host?: string;
  publicHost?: string;
  data?: string;
  inMemory?: boolean;
  storeUrl?: string;
  http?: boolean;
  caDir?: string;
  config?: string;
  logLevel?: string;
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
}

function toInput(flags: StartFlags): OrgboxConfigInput {
  const input: OrgboxConfigInput = {};
  if (flags.port !== undefined) input.port = flags.port;
  if (flags.host !== undefined) input.host = flags.host;
  if (flags.publicHost !== undefined) input.publicHost = flags.publicHost;
  if (flags.data !== undefined) input.dataDir = flags.data;
  if (flags.inMemory) input.inMemory = true;
  if (flags.storeUrl !== undefined) input.storeUrl = flags.storeUrl;
  if (flags.http) input.http = true;
  if (flags.caDir !== undefined) input.caDir = flags.caDir;
  if (flags.config !== undefined) input.configFile = flags.config;
  if (flags.logLevel !== undefined) input.logLevel = flags.logLevel;
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

function banner(orgbox: OrgboxInstance): string {
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
  if (orgbox.caCertPath) {
    lines.push(`  CA certificate  ${orgbox.caCertPath}`, "", "  Trust it:", ...trustLines(orgbox.caCertPath).map((l) => `    ${l}`));
  } else {
    lines.push("  TLS             off (--http)");
  }
  lines.push("", "  Stop with Ctrl+C.", "");
  return lines.join("\n");
}

async function start(flags: StartFlags): Promise<void> {
  const config = resolveConfig(toInput(flags), process.env);
  const json = wantsJson(flags);
  const logger = createLogger(config.logLevel);
  const { createOrgbox } = await import("../server/create-orgbox.ts");
  const orgbox = await createOrgbox(config, logger);
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
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  if (json) {
    process.stdout.write(
      `${JSON.stringify({
        event: "ready",
        url: orgbox.url,
        tenantId: orgbox.tenantId,
        tenantDomain: orgbox.tenantDomain,
        authority: orgbox.authority,
        orgUrl: orgbox.orgUrl,
        apiUrl: orgbox.apiUrl,
        caCertPath: orgbox.caCertPath ?? null,
        demo: orgbox.demo,
      })}\n`,
    );
  } else {
    process.stdout.write(`${banner(orgbox)}\n`);
  }
}

async function cert(flags: StartFlags): Promise<void> {
  const config: OrgboxConfig = resolveConfig(toInput(flags), process.env);
  const tls = await ensureLocalTls(config.caDir);
  if (wantsJson(flags)) {
    process.stdout.write(`${JSON.stringify({ caCertPath: tls.caCertPath, caDir: config.caDir, node: `NODE_EXTRA_CA_CERTS=${tls.caCertPath}`, python: `REQUESTS_CA_BUNDLE=${tls.caCertPath}`, curl: `--cacert ${tls.caCertPath}` })}\n`);
    return;
  }
  process.stdout.write(["", `  orgbox local CA: ${tls.caCertPath}`, "", ...trustLines(tls.caCertPath).map((l) => `  ${l}`), "", "  The server certificate covers localhost, 127.0.0.1 and ::1.", ""].join("\n") + "\n");
}

/**
 * `orgbox keys rotate --data DIR [--activate-after SECONDS]`: adds a signing key to a
 * persisted store (published at once, signing after the delay) and schedules the old
 * keys' retirement. A server already running on the folder picks it up when it restarts.
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
    .option("--data <dir>", "data folder (SQLite file and CA); env ORGBOX_DATA", undefined)
    .option("--in-memory", "keep the store in memory; env ORGBOX_IN_MEMORY")
    .option("--store-url <url>", "keep the store in this PostgreSQL database (postgres://user@host:5432/db) instead of SQLite; env ORGBOX_STORE_URL")
    .option("--ca-dir <dir>", "folder of the local CA; env ORGBOX_CA_DIR")
    .option("--config <file>", "config or environment file (.json, .yaml, .ts/.js); env ORGBOX_CONFIG")
    .option("--json", "machine-readable output on stdout; env ORGBOX_JSON");
}

const program = new Command("orgbox").description("A Dynamics 365 organization and its Microsoft Entra ID tenant, in a box.").showHelpAfterError();

withCommonOptions(
  program
    .command("start")
    .description("start orgbox (HTTPS by default) with the demo tenant and org")
    .option("--port <port>", "TCP port, 0 picks a free one (default 8443); env ORGBOX_PORT")
    .option("--host <host>", "interface to listen on (default 127.0.0.1); env ORGBOX_HOST")
    .option("--public-host <name>", "host name in emitted URLs (default localhost); env ORGBOX_PUBLIC_HOST")
    .option("--http", "serve plain HTTP instead of HTTPS; env ORGBOX_HTTP")
    .addOption(new Option("--log-level <level>", "log level (default info); env ORGBOX_LOG_LEVEL").choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"]))
    .option("--no-seed", "do not seed the demo environment; env ORGBOX_SEED_DEMO=false")
    .option("--admin-key <key>", "enable POST /_orgbox/reset and /_orgbox/snapshots for 'Authorization: Bearer <key>'; env ORGBOX_ADMIN_KEY")
    .option("--key-rotation-interval <seconds>", "rotate the token-signing key every N seconds (default off); env ORGBOX_KEY_ROTATION_INTERVAL")
    .option("--reject-assertion-replay", "refuse reused client-assertion jti values (breaks MSAL's assertion reuse); env ORGBOX_REJECT_ASSERTION_REPLAY")
    .option("--legacy-application-user-rule", "refuse default security roles for application users (the 2019 rule); env ORGBOX_LEGACY_APPLICATION_USER_RULE")
    .option("--refresh-token-lifetime <seconds>", "refresh-token inactivity lifetime (default 7776000, 90 days); env ORGBOX_REFRESH_TOKEN_LIFETIME")
    .option("--spa-refresh-token-lifetime <seconds>", "fixed lifetime of refresh tokens issued to SPA redirect URIs (default 86400); env ORGBOX_SPA_REFRESH_TOKEN_LIFETIME")
    .addOption(new Option("--refresh-token-rotation <mode>", "entra: a redeemed refresh token stays valid (default); strict: single use, a replay revokes the family; env ORGBOX_REFRESH_TOKEN_ROTATION").choices(["entra", "strict"]))
    .option("--lockout-threshold <n>", "wrong passwords in a row before a user is locked out, 0 for never (default 10); env ORGBOX_LOCKOUT_THRESHOLD")
    .option("--lockout-duration <seconds>", "how long a locked-out user stays locked (default 60); env ORGBOX_LOCKOUT_DURATION"),
).action(start);

const keysCommand = program.command("keys").description("manage the token-signing keys of a persisted store");
withCommonOptions(
  keysCommand
    .command("rotate")
    .description("add a new signing key (published now, signing after --activate-after seconds); old keys retire once their tokens expire")
    .option("--activate-after <seconds>", "delay before the new key signs (default 0)"),
).action(keysRotate);

withCommonOptions(program.command("cert").description("print the local CA path and how to trust it (creates the CA if needed)")).action(cert);

program
  .command("export")
  .description("write the state of a persisted store as an environment file (passwords and secrets become placeholders)")
  .option("--data <dir>", "data folder of the store to export; env ORGBOX_DATA")
  .option("--store-url <url>", "or the PostgreSQL database of the store; env ORGBOX_STORE_URL")
  .addOption(new Option("--format <format>", "output format (default yaml, or json for an --out ending in .json)").choices(["yaml", "json"]))
  .option("--out <file>", "write to this file instead of stdout")
  .action(exportCommand);

registerDirectoryCommands(program);
registerSecurityCommands(program);
registerSolutionCommands(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`orgbox: ${error.message}`);
    process.exit(2);
  }
  console.error(`orgbox: ${(error as Error).message}`);
  process.exit(1);
});
