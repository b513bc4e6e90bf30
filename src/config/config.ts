import { join, resolve } from "node:path";
import { defaultTempCaDir } from "../common/tls.ts";
import { z } from "zod";
import { ConfigError } from "../common/errors.ts";
import { readDocument } from "../environment/read.ts";
import { EnvironmentSchema } from "../environment/schema.ts";
import { unknownKeysMessage } from "../common/suggest.ts";

/**
 * Everything that shapes one orgbox instance. Every key maps 1:1 to a CLI flag
 * of `orgbox start` and to an `ORGBOX_*` environment variable (see
 * {@link CONFIG_KEYS}); precedence is defaults < config file < environment < flags.
 */
export interface OrgboxConfig {
  /** TCP port; 0 picks a free one. Default 8443. */
  port: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  host: string;
  /** Host name used in every URL orgbox emits (issuer, org URL). Default `localhost`. */
  publicHost: string;
  /**
   * Port in every URL orgbox emits (issuer, org URL), when clients reach orgbox on another port than
   * it listens on: several orgbox processes behind one load balancer (or a port mapping) must all emit
   * the balancer's URL, so that a token one issues is accepted by the others. Default: the port listened on.
   */
  publicPort: number | undefined;
  /**
   * Processes `orgbox start` runs, sharing the listening port (`node:cluster`), so the token
   * endpoint's RSA signing and the Web API use every core. More than one needs a PostgreSQL store
   * (`storeUrl`): refused on SQLite and in memory. Default: one per core (`os.availableParallelism()`)
   * on PostgreSQL without `adminKey` (reset and snapshots live in one process), else 1.
   * `startOrgbox` always runs in the calling process (it ignores this key).
   */
  workers: number | undefined;
  /** Folder for the SQLite file and the local CA (only the CA with `storeUrl`). Default `./.orgbox`. */
  dataDir: string;
  /** Keep the store in memory (nothing written but the CA). CLI default false; `startOrgbox` default true (false with `storeUrl`). */
  inMemory: boolean;
  /**
   * A PostgreSQL database to keep the store in, instead of the embedded SQLite file:
   * `postgres://user[:password]@host[:port]/database` (or `?host=/socket/dir` for a unix socket).
   * Default: none (SQLite). Cannot be combined with `inMemory`.
   */
  storeUrl: string | undefined;
  /** Serve plain HTTP instead of HTTPS. Default false. */
  http: boolean;
  /**
   * Your own server certificate: a PEM file with the certificate (leaf first, then any intermediates), used instead
   * of a certificate of the local CA. Needs `tlsKey`; not with `http`. Default: none (the local CA's).
   */
  tlsCert: string | undefined;
  /** The PEM private key of `tlsCert`. Default: none. */
  tlsKey: string | undefined;
  /** Folder of the local CA. Default `{dataDir}/ca`, or `{tmpdir}/orgbox-ca-{uid}` when in memory (per user). */
  caDir: string;
  /** Optional config file that was loaded (`.json`, `.yaml`/`.yml`, `.ts`/`.js`); it may also describe an environment. */
  configFile: string | undefined;
  /** Log level (pino). Default `info` for the CLI, `silent` for `startOrgbox`. At `info`, one access-log line per request. */
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** How log lines are written to stderr: `json` (one object per line, for machines) or `pretty` (for people). Default `json`. */
  logFormat: "json" | "pretty";
  /** Seed the deterministic demo tenant, org and data on first start. Default true. */
  seedDemo: boolean;
  /** Access-token lifetime in seconds. Default 3599 (Entra's 60–90 min range is not simulated). */
  accessTokenLifetimeSeconds: number;
  /** Enables the `/_orgbox/` admin endpoints (reset, snapshots); requests send `Authorization: Bearer {adminKey}`. Default: off. */
  adminKey: string | undefined;
  /** Rotate the token-signing key every this many seconds (the new key is published at once and signs after half the interval). Default: off. */
  keyRotationIntervalSeconds: number | undefined;
  /**
   * Refuse a certificate `client_assertion` whose `jti` was already used (AADSTS7000274).
   * Default false: Entra accepts a reused assertion while it is valid, and MSAL reuses its
   * assertion for up to 10 minutes, so turning this on breaks unmodified MSAL clients.
   */
  rejectAssertionReplay: boolean;
  /**
   * The 2019 rule "an application user cannot be associated with one of the default security
   * roles; you must create a custom security role" (seed 003). Default false: current Dataverse
   * tooling routinely assigns System Administrator to application users.
   */
  legacyApplicationUserRule: boolean;
  /**
   * Refresh-token lifetime in seconds: a refresh token not redeemed within this time fails with
   * AADSTS700082 ("expired due to inactivity"). Every redemption returns a new refresh token with a
   * fresh lifetime. Default 7776000 (90 days, Entra's default max inactive time;
   * learn.microsoft.com/entra/identity-platform/refresh-tokens#token-lifetime).
   */
  refreshTokenLifetimeSeconds: number;
  /**
   * Lifetime in seconds of refresh tokens issued through a redirect URI of the SPA platform. Fixed:
   * the refresh tokens it is redeemed for keep the first one's expiry, and then AADSTS700084.
   * Default 86400 (24 hours, as Entra; the same page).
   */
  spaRefreshTokenLifetimeSeconds: number;
  /**
   * What redeeming a refresh token does to it. `entra` (default): it stays valid until it expires or
   * is revoked, and the response carries a new one, as in Entra ID. `strict`: it stops working, and
   * presenting it again revokes every refresh token descended from the same sign-in (RFC 9700 §4.14.2).
   */
  refreshTokenRotation: "entra" | "strict";
  /**
   * Smart lockout: consecutive wrong passwords after which a user is locked (AADSTS50053) on every
   * password sign-in (ROPC and the sign-in page). 0 turns lockout off. Default 10, as Entra
   * (learn.microsoft.com/entra/identity/authentication/howto-password-smart-lockout).
   */
  lockoutThreshold: number;
  /** Smart lockout: how long, in seconds, a locked user stays locked. Default 60, as Entra. */
  lockoutDurationSeconds: number;
  /**
   * Dataverse's service protection limits per org and user (429 with `Retry-After`, codes `0x80072322`,
   * `0x80072321`, `0x80072326`; learn.microsoft.com/power-apps/developer/data-platform/api-limits).
   * Default true, as in Dataverse; the four limits below default to the documented values.
   */
  serviceProtection: boolean;
  /** Service protection: requests per window and user. Default 6000. */
  serviceProtectionRequests: number;
  /** Service protection: combined execution time per window and user, in seconds. Default 1200 (20 minutes). */
  serviceProtectionExecutionSeconds: number;
  /** Service protection: concurrent requests per user. Default 52. */
  serviceProtectionConcurrency: number;
  /** Service protection: the sliding window, in seconds. Default 300 (5 minutes). */
  serviceProtectionWindowSeconds: number;
  /**
   * Token requests per tenant and client in one minute before the token endpoint answers AADSTS50196
   * (429 with `Retry-After: 60` for client credentials, 400 `invalid_grant` otherwise), as Entra throttles
   * apps that do not cache tokens (learn.microsoft.com/entra/msal/dotnet/advanced/client-and-server-throttling;
   * Entra publishes no threshold). Default: off.
   */
  tokenRequestsPerMinute: number | undefined;
  /**
   * Fault injection rules applied from start (the rule shape is in `src/server/faults.ts`): a JSON
   * array (flag and environment variable) or an array (config file). Default: none.
   */
  faults: unknown[] | undefined;
  /**
   * Also listen as an HTTP proxy (`HTTPS_PROXY`) that answers as `login.microsoftonline.com`, `graph.microsoft.com` and
   * the orgs' `*.crm.dynamics.com` hosts with certificates of the local CA (needs HTTPS: off with `http`).
   * Default true for the CLI, false for `startOrgbox`.
   */
  proxy: boolean;
  /** Port of the proxy; 0 picks a free one. Default `port + 1` (8444), or a free port when `port` is 0. */
  proxyPort: number | undefined;
  /**
   * Tunnel proxy requests for other hosts unchanged (true), or refuse them with 502 (false). Default true: an app
   * also talks to other services.
   */
  proxyPassthrough: boolean;
  /**
   * When the config file describes an environment that a persisted store already holds (an earlier start applied
   * it): rebuild a data folder's store from the file, the old store kept as `orgbox.sqlite.before-reapply`
   * (refused with `storeUrl`). Default false: the store is kept as it is and a warning names this setting.
   */
  reapply: boolean;
}

/** Documented defaults; `dataDir`-relative defaults are resolved in {@link resolveConfig}. */
export const DEFAULTS = {
  port: 8443,
  host: "127.0.0.1",
  publicHost: "localhost",
  dataDir: "./.orgbox",
  inMemory: false,
  http: false,
  logLevel: "info",
  logFormat: "json",
  seedDemo: true,
  accessTokenLifetimeSeconds: 3599,
  rejectAssertionReplay: false,
  legacyApplicationUserRule: false,
  refreshTokenLifetimeSeconds: 90 * 86400,
  spaRefreshTokenLifetimeSeconds: 86400,
  refreshTokenRotation: "entra",
  lockoutThreshold: 10,
  lockoutDurationSeconds: 60,
  serviceProtection: true,
  serviceProtectionRequests: 6000,
  serviceProtectionExecutionSeconds: 1200,
  serviceProtectionConcurrency: 52,
  serviceProtectionWindowSeconds: 300,
  proxy: true,
  proxyPassthrough: true,
  reapply: false,
} as const;

/** Config key → environment variable. */
export const CONFIG_KEYS = {
  port: "ORGBOX_PORT",
  host: "ORGBOX_HOST",
  publicHost: "ORGBOX_PUBLIC_HOST",
  publicPort: "ORGBOX_PUBLIC_PORT",
  workers: "ORGBOX_WORKERS",
  dataDir: "ORGBOX_DATA",
  inMemory: "ORGBOX_IN_MEMORY",
  storeUrl: "ORGBOX_STORE_URL",
  http: "ORGBOX_HTTP",
  tlsCert: "ORGBOX_TLS_CERT",
  tlsKey: "ORGBOX_TLS_KEY",
  caDir: "ORGBOX_CA_DIR",
  configFile: "ORGBOX_CONFIG",
  logLevel: "ORGBOX_LOG_LEVEL",
  logFormat: "ORGBOX_LOG_FORMAT",
  seedDemo: "ORGBOX_SEED_DEMO",
  accessTokenLifetimeSeconds: "ORGBOX_ACCESS_TOKEN_LIFETIME",
  adminKey: "ORGBOX_ADMIN_KEY",
  keyRotationIntervalSeconds: "ORGBOX_KEY_ROTATION_INTERVAL",
  rejectAssertionReplay: "ORGBOX_REJECT_ASSERTION_REPLAY",
  legacyApplicationUserRule: "ORGBOX_LEGACY_APPLICATION_USER_RULE",
  refreshTokenLifetimeSeconds: "ORGBOX_REFRESH_TOKEN_LIFETIME",
  spaRefreshTokenLifetimeSeconds: "ORGBOX_SPA_REFRESH_TOKEN_LIFETIME",
  refreshTokenRotation: "ORGBOX_REFRESH_TOKEN_ROTATION",
  lockoutThreshold: "ORGBOX_LOCKOUT_THRESHOLD",
  lockoutDurationSeconds: "ORGBOX_LOCKOUT_DURATION",
  serviceProtection: "ORGBOX_SERVICE_PROTECTION",
  serviceProtectionRequests: "ORGBOX_SERVICE_PROTECTION_REQUESTS",
  serviceProtectionExecutionSeconds: "ORGBOX_SERVICE_PROTECTION_EXECUTION",
  serviceProtectionConcurrency: "ORGBOX_SERVICE_PROTECTION_CONCURRENCY",
  serviceProtectionWindowSeconds: "ORGBOX_SERVICE_PROTECTION_WINDOW",
  tokenRequestsPerMinute: "ORGBOX_TOKEN_REQUESTS_PER_MINUTE",
  faults: "ORGBOX_FAULTS",
  proxy: "ORGBOX_PROXY",
  proxyPort: "ORGBOX_PROXY_PORT",
  proxyPassthrough: "ORGBOX_PROXY_PASSTHROUGH",
  reapply: "ORGBOX_REAPPLY",
} as const satisfies Record<keyof Omit<OrgboxConfig, never>, string>;

const bool = z.union([z.boolean(), z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) => v === "true" || v === "1" || v === "yes")]);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const Schema = z
  .object({
    port: int(0, 65535),
    host: z.string().min(1),
    publicHost: z.string().regex(/^[A-Za-z0-9.-]+$|^\[[0-9a-fA-F:]+\]$/, "a host name or IP"),
    publicPort: int(1, 65535),
    workers: int(1, 1024),
    dataDir: z.string().min(1),
    inMemory: bool,
    storeUrl: z.string().regex(/^postgres(ql)?:\/\/\S*$/, "a postgres:// or postgresql:// URL"),
    http: bool,
    tlsCert: z.string().min(1),
    tlsKey: z.string().min(1),
    caDir: z.string().min(1),
    configFile: z.string().min(1),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    logFormat: z.enum(["json", "pretty"]),
    seedDemo: bool,
    accessTokenLifetimeSeconds: int(300, 86400),
    adminKey: z.string().min(8, { error: "must be at least 8 characters" }),
    keyRotationIntervalSeconds: int(1, 366 * 86400),
    rejectAssertionReplay: bool,
    legacyApplicationUserRule: bool,
    refreshTokenLifetimeSeconds: int(60, 3650 * 86400),
    spaRefreshTokenLifetimeSeconds: int(60, 3650 * 86400),
    refreshTokenRotation: z.enum(["entra", "strict"]),
    lockoutThreshold: int(0, 100_000),
    lockoutDurationSeconds: int(1, 366 * 86400),
    serviceProtection: bool,
    serviceProtectionRequests: int(1, 100_000_000),
    serviceProtectionExecutionSeconds: z.coerce.number().positive().max(366 * 86400),
    serviceProtectionConcurrency: int(1, 100_000),
    serviceProtectionWindowSeconds: int(1, 86400),
    tokenRequestsPerMinute: int(1, 10_000_000),
    faults: z.unknown().transform((value, ctx) => {
      if (Array.isArray(value)) return value as unknown[];
      if (typeof value === "string") {
        try {
          const parsed = JSON.parse(value) as unknown;
          if (Array.isArray(parsed)) return parsed as unknown[];
        } catch {
          // reported below
        }
      }
      ctx.addIssue({ code: "custom", message: "a JSON array of fault rules" });
      return z.NEVER;
    }),
    proxy: bool,
    proxyPort: int(0, 65535),
    proxyPassthrough: bool,
    reapply: bool,
  })
  .partial()
  .strict();

/** Input accepted from flags, env, files and `startOrgbox` options: every key optional. */
export type OrgboxConfigInput = Partial<{ [K in keyof OrgboxConfig]: OrgboxConfig[K] | string }>;

/** Reads `ORGBOX_*` variables into a partial config. */
export function configFromEnv(env: NodeJS.ProcessEnv): OrgboxConfigInput {
  const out: Record<string, string> = {};
  for (const [key, name] of Object.entries(CONFIG_KEYS)) {
    const value = env[name];
    if (value !== undefined && value !== "") out[key] = value;
  }
  return out as OrgboxConfigInput;
}

function parse(input: OrgboxConfigInput, source: string): Partial<OrgboxConfig> {
  const result = Schema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.code === "unrecognized_keys" ? unknownKeysMessage(i.keys, Object.keys(CONFIG_KEYS)) : i.message}`).join("; ");
    throw new ConfigError(`invalid configuration in ${source}: ${problems}`);
  }
  return result.data as Partial<OrgboxConfig>;
}

/**
 * Reads the server settings of a config file (`{"server": {...}}` or top-level keys):
 * JSON, YAML, or a TS/JS module with a default export. The same file may describe
 * an environment (tenants, apps, orgs); that part is read by `loadEnvironmentFile`.
 * In an environment file, `seedDemo` defaults to false.
 */
export function configFromFile(path: string): OrgboxConfigInput {
  return configFromDocument(readDocument(path), path);
}

/** {@link configFromFile} of a file already read (`data` is what `readDocument` returned for `path`). */
function configFromDocument(data: unknown, path: string): OrgboxConfigInput {
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new ConfigError(`config file ${path}: the top level must be an object`);
  const record = data as Record<string, unknown>;
  const server = (record.server ?? record) as Record<string, unknown>;
  const unknown = unknownFileKeys(record);
  if (unknown.length > 0) throw new ConfigError(`invalid configuration in ${path}: ${unknown.join("; ")}`);
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(CONFIG_KEYS)) if (key in server && key !== "configFile") picked[key] = server[key];
  const describesEnvironment = ["tenants", "apps", "orgs"].some((k) => k in record);
  if (describesEnvironment) picked.seedDemo = record.seedDemo ?? server.seedDemo ?? false;
  return picked as OrgboxConfigInput;
}

/**
 * The unknown keys of a config or environment file, each as `where: unknown key 'k' (did you mean '…'?)`: at the
 * top level anything but a config key or an environment section (`tenants`, `apps`, `orgs`, `server`, …), under
 * `server` anything but a config key. `configFile` is no key of a file.
 */
function unknownFileKeys(record: Record<string, unknown>): string[] {
  const configKeys = Object.keys(CONFIG_KEYS).filter((k) => k !== "configFile");
  const topLevel = [...configKeys, ...Object.keys(EnvironmentSchema.shape)];
  const problems: string[] = [];
  const strays = Object.keys(record).filter((k) => !topLevel.includes(k));
  if (strays.length > 0) problems.push(`(top level): ${unknownKeysMessage(strays, topLevel)}`);
  const server = record.server;
  if (typeof server === "object" && server !== null && !Array.isArray(server)) {
    const inServer = Object.keys(server).filter((k) => !configKeys.includes(k));
    if (inServer.length > 0) problems.push(`server: ${unknownKeysMessage(inServer, configKeys)}`);
  } else if (server !== undefined) problems.push("server: must be an object of server settings (port, host, …)");
  return problems;
}

/**
 * Merges the layers (defaults < file < env < explicit) and validates the result.
 * @param explicit flags or `startOrgbox` options.
 * @param env environment (pass `{}` to ignore it).
 * @param base defaults that differ by entry point (CLI vs programmatic).
 * @throws ConfigError naming the bad key, or a bad combination (`inMemory` with an explicit `dataDir`, or with `storeUrl`).
 */
export function resolveConfig(explicit: OrgboxConfigInput, env: NodeJS.ProcessEnv = {}, base: Partial<OrgboxConfig> = {}): OrgboxConfig {
  const fromEnv = parse(configFromEnv(env), "environment (ORGBOX_*)");
  const fromExplicit = parse(explicit, "options");
  const configFile = fromExplicit.configFile ?? fromEnv.configFile;
  const document = configFile ? readDocument(configFile) : undefined;
  const fromFile = configFile ? parse(configFromDocument(document, configFile), configFile) : {};
  const merged = { ...DEFAULTS, ...base, ...fromFile, ...fromEnv, ...fromExplicit };
  const dataDirGiven = [fromFile, fromEnv, fromExplicit].some((layer) => layer.dataDir !== undefined);
  if (merged.inMemory && dataDirGiven && [fromFile, fromEnv, fromExplicit].some((l) => l.inMemory === true)) {
    throw new ConfigError("--in-memory and --data cannot be combined: an in-memory store has no data folder");
  }
  if (merged.storeUrl !== undefined && merged.inMemory) {
    throw new ConfigError("--in-memory and --store-url cannot be combined: with --store-url the store is that PostgreSQL database");
  }
  if (merged.workers !== undefined && merged.workers > 1 && merged.storeUrl === undefined) {
    throw new ConfigError(
      `--workers ${merged.workers} needs a PostgreSQL store (--store-url): worker processes cannot share an in-memory store, and on a SQLite file a second writing process makes orgbox's transactions fail with SQLITE_BUSY`,
    );
  }
  if ((merged.tlsCert === undefined) !== (merged.tlsKey === undefined)) {
    throw new ConfigError(`--tls-cert and --tls-key go together: give the certificate and its private key (${merged.tlsCert === undefined ? "--tls-cert is missing" : "--tls-key is missing"})`);
  }
  if (merged.tlsCert !== undefined && merged.http) throw new ConfigError("--tls-cert and --http cannot be combined: --http serves plain HTTP");
  const dataDir = resolve(merged.dataDir);
  const caDir = resolve(merged.caDir ?? (merged.inMemory ? defaultTempCaDir() : join(dataDir, "ca")));
  const config = { ...merged, dataDir, caDir, configFile } as OrgboxConfig;
  if (configFile) documents.set(config, document);
  return config;
}

/** The config file each resolved config was read from, as read: a start reads its file once. */
const documents = new WeakMap<OrgboxConfig, unknown>();

/**
 * The contents of `config.configFile` as {@link resolveConfig} read it (plain data, see `readDocument`),
 * so that the environment the same file describes is taken from the same read (a file edited meanwhile
 * cannot give a start two different versions). Undefined without a config file, or for a config object
 * that {@link resolveConfig} did not return (a copy): read the file then.
 */
export function configDocument(config: OrgboxConfig): unknown {
  return documents.get(config);
}
