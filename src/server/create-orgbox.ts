import { dirname, resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Clock } from "../common/clock.ts";
import { systemClock } from "../common/clock.ts";
import { ensureLocalTls, type LocalTls } from "../common/tls.ts";
import { loadOwnTls, type OwnTls } from "../common/own-tls.ts";

/** The server's certificate: the local CA's (with the CA to trust), or your own (`tlsCert`, no CA). */
type ServerTls = LocalTls | (OwnTls & { caCert?: undefined; caCertPath?: undefined });
import { configDocument, type OrgboxConfig } from "../config/config.ts";
import type { Dataverse } from "../dataverse/index.ts";
import type { Identity } from "../identity/index.ts";
import { applyEnvironment } from "../environment/apply.ts";
import { isEnvironmentDocument, validateEnvironment, type LoadedEnvironment } from "../environment/load.ts";
import { readDocument } from "../environment/read.ts";
import type { OrgboxEnvironment } from "../environment/schema.ts";
import { Checkpoints, type OrgboxSnapshot } from "./admin.ts";
import { createHttpApp, listen } from "./http.ts";
import { FaultInjector } from "./faults.ts";
import { OrgHosts } from "./org-hosts.ts";
import { startProxy, type OrgboxProxy } from "./proxy.ts";
import { openServices, type Services } from "./services.ts";
import { DEMO } from "./demo.ts";
import { seedDemo } from "./seed.ts";
import { parseDuration, type ClockState } from "./time-travel.ts";
import { rebuildForReapply } from "./reapply.ts";

/** The demo credentials printed in the banner and the `--json` ready line. */
export interface DemoInfo {
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
}

export type { OrgboxSnapshot } from "./admin.ts";
export type { FaultInjector, FaultRule, FaultRuleInput } from "./faults.ts";

/** Options of {@link createOrgbox} that are not configuration. */
export interface CreateOrgboxOptions {
  /** An environment given as data (instead of, or before, the config file's). */
  environment?: OrgboxEnvironment;
  /** How many processes `start --workers` runs on this store (this one included); reset and snapshots refuse above 1. Default 1. */
  workers?: number;
}

/** A running orgbox: URLs, the CA to trust, the services, and `close()`. */
export interface OrgboxInstance {
  /** `https://localhost:PORT` (or `http://` with `http: true`); PORT is `publicPort` when set. */
  url: string;
  /** The port listened on. */
  port: number;
  /**
   * `http://{host}:{proxyPort}`: orgbox's HTTP proxy (`HTTPS_PROXY`), which answers as `login.microsoftonline.com`,
   * `graph.microsoft.com` and the orgs' cloud hosts. Undefined with `proxy: false` or over plain HTTP.
   */
  proxyUrl: string | undefined;
  /** `https://contoso.crm.dynamics.com` (the org of `orgUrl`): its URL through the proxy. */
  cloudOrgUrl: string;
  /** The cloud URL of an org by name (`https://{hostName}`). */
  cloudOrgUrlOf(name: string): string;
  /** The demo tenant; without the demo, the tenant of the environment's first org (its first tenant when it has no org). */
  tenantId: string;
  tenantDomain: string;
  /** `{url}/{tenantId}`: the MSAL authority. */
  authority: string;
  /** `{url}/org/contoso` (without the demo, the environment's first org): the resource to request tokens for. */
  orgUrl: string;
  /** `{orgUrl}/api/data/v9.2`. */
  apiUrl: string;
  /** CA certificate (PEM) to trust, or undefined over plain HTTP and with your own certificate (`tlsCert`). */
  caCert: string | undefined;
  caCertPath: string | undefined;
  demo: DemoInfo;
  config: OrgboxConfig;
  identity: Identity;
  dataverse: Dataverse;
  /** The environment applied at start (from the config file or the `environment` option), validated and with every id resolved. */
  environment: LoadedEnvironment | undefined;
  /** URL of an org by name. */
  orgUrlOf(name: string): string;
  /**
   * Puts every tenant, app, org and row back to the state right after start
   * (environment and demo applied), in one store transaction: milliseconds, no restart.
   * Tokens already issued stay valid (signing keys are kept).
   */
  reset(): Promise<void>;
  /** Checkpoints the current state under `name` (default `snapshot-N`); a name already taken is replaced. */
  snapshot(name?: string): Promise<OrgboxSnapshot>;
  /** Goes back to a checkpoint of {@link snapshot}. @throws Error for an unknown name. */
  restore(snapshot: OrgboxSnapshot | string): Promise<void>;
  /**
   * Fault injection (off while it holds no rule): `add(rule)`, `list()`, `remove(id)`, `clear()`; rules from
   * the config key `faults` are in force from start. See the README, "Service protection and fault injection".
   */
  faults: FaultInjector;
  /**
   * orgbox's clock (time travel, see `time-travel.ts`): every service follows a move at once, and the
   * offset is kept in the store. It only moves forward.
   */
  clock: OrgboxClock;
  /** Stops listening and closes the store. Idempotent. */
  close(): Promise<void>;
}

/** The programmatic face of time travel (`orgbox.clock`), the same as `POST /_orgbox/clock` and `orgbox clock`. */
export interface OrgboxClock {
  /** orgbox's now, ms since the epoch (UTC). */
  now(): number;
  /** orgbox's now and its offset from the wall clock. */
  show(): ClockState;
  /**
   * Moves the clock forward by seconds (a number) or a duration (`"91d"`, `"1d12h"`, `"90m"`).
   * @throws ClockMoveError (status 400) for a negative or malformed duration.
   */
  advance(by: number | string): Promise<ClockState>;
  /**
   * Sets the clock to a later time (a Date, or ISO 8601 with a time zone).
   * @throws ClockMoveError (status 400) for an earlier or malformed time.
   */
  set(when: Date | string): Promise<ClockState>;
}

/**
 * Starts orgbox: validates the environment, opens the services ({@link openServices}: the store,
 * identity and Dataverse wired together), seeds the demo on an empty store, applies the environment,
 * takes the start checkpoint and listens ({@link createHttpApp}).
 * @throws when the port is taken, the data folder is not writable, or a migration fails.
 */
export async function createOrgbox(config: OrgboxConfig, logger: Logger, baseClock: Clock = systemClock, options: CreateOrgboxOptions = {}): Promise<OrgboxInstance> {
  // The whole environment is validated before anything is opened or applied.
  const environment = loadEnvironment(config, options);
  // Rules are checked before anything is opened: a bad one stops the start.
  const faults = new FaultInjector(config.faults ?? []);
  let base = "";
  const orgHosts = new OrgHosts();
  for (const org of environment?.orgs ?? []) if (org.hostName !== undefined) orgHosts.define(org.name, org.hostName);
  const open = () => openServices(config, { clock: baseClock, logger, baseUrl: () => base, orgHosts });
  let services = await open();
  // A persisted store an earlier start applied the file to: said so, or (--reapply) rebuilt from the file.
  if (environment) {
    try {
      const holds = await heldEnvironment(environment, services.identity);
      if (holds && rebuildForReapply(config, environment.source, holds, logger)) {
        await services.close();
        services = await open();
      }
    } catch (error) {
      await services.close().catch(() => undefined);
      throw error;
    }
  }
  // orgbox's clock from here on: the base clock plus the time-travel offset kept in the store.
  const { database, identity, dataverse, clock, timeTravel } = services;
  let server: FastifyInstance | undefined;
  let proxy: OrgboxProxy | undefined;
  try {
    const tls: ServerTls | undefined = config.http
      ? undefined
      : config.tlsCert !== undefined && config.tlsKey !== undefined
        ? loadOwnTls(config.tlsCert, config.tlsKey, config.publicHost, clock.now(), (message) => logger.warn(message))
        : await ensureLocalTls(config.caDir, config.publicHost === "localhost" ? [] : [config.publicHost], (message) => logger.warn(message));

    // Several processes starting on one store: one at a time seeds and applies, the others find it done.
    await database.exclusive("startup", async () => {
      await services.syncWithStore();
      const wantsDemo = config.seedDemo && (environment ? environment.seedDemo : true);
      if (wantsDemo && !(await identity.service.findTenant(DEMO.tenantId))) {
        await seedDemo(identity.service, dataverse.service, clock.now());
      }
      if (environment && !(await heldEnvironment(environment, identity))) {
        // All or nothing: a failure half-way (e.g. a persisted store holding a conflicting object) leaves the store as it was.
        const before = await database.snapshots.take();
        try {
          await applyEnvironment(environment, identity.service, dataverse.service, clock.now());
        } catch (error) {
          await database.snapshots.restore(before);
          dataverse.service.invalidateCaches();
          identity.invalidateCaches();
          await database.announceChange();
          throw new Error(`cannot apply the environment of ${environment.source}: ${(error as Error).message}`, { cause: error });
        } finally {
          await database.snapshots.drop(before);
        }
        logger.info({ source: environment.source, tenants: environment.tenants.length, apps: environment.apps.length, orgs: environment.orgs.length }, `environment ${environment.source} applied`);
      }
    });
    // `--workers N`: reset and snapshots always refuse, so no worker copies the whole store for a start checkpoint.
    const workers = options.workers ?? 1;
    const checkpoints = new Checkpoints(database, dataverse, identity, clock, workers > 1 ? undefined : await database.snapshots.take(), workers, () => timeTravel.keep());
    // Counted as a serving process from now on; another process's change reaches this one at once (PostgreSQL NOTIFY).
    await database.serve(() => void services.syncWithStore()?.catch(() => undefined));

    const app = await createHttpApp({ config, logger, tls, clock, baseUrl: () => base, identity, dataverse, checkpoints, faults, timeTravel, beforeRequest: () => services.syncWithStore(), orgForHost: (host) => orgHosts.orgFor(host) });
    server = app;
    const port = await listen(app, config);
    base = `${config.http ? "http" : "https"}://${config.publicHost}:${config.publicPort ?? port}`;
    // The proxy serves the cloud host names with leaf certificates of orgbox's local CA: not with --http, nor with your own certificate.
    const localCa = tls !== undefined && "caKey" in tls;
    if (config.proxy && !tls) logger.info("the proxy needs HTTPS: it is off with --http");
    if (config.proxy && tls && !localCa) logger.info("the proxy issues certificates with orgbox's local CA: it is off with --tls-cert");
    if (config.proxy && localCa) {
      const proxyPort = config.proxyPort ?? (config.port === 0 || config.port === 65535 ? 0 : config.port + 1);
      proxy = await startProxy({ target: app.server, passthrough: config.proxyPassthrough, logger }, proxyPort, config.host);
    }
    const proxyUrl = proxy ? `http://${proxyHostForClients(config.host)}:${proxy.port}` : undefined;
    return buildInstance(config, base, port, tls, services, app, environment, checkpoints, faults, { proxy, proxyUrl, orgHosts });
  } catch (error) {
    await proxy?.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
    await services.close().catch(() => undefined);
    throw error;
  }
}

function buildInstance(
  config: OrgboxConfig,
  base: string,
  port: number,
  tls: ServerTls | undefined,
  services: Services,
  app: FastifyInstance,
  environment: LoadedEnvironment | undefined,
  checkpoints: Checkpoints,
  faults: FaultInjector,
  cloud: { proxy: OrgboxProxy | undefined; proxyUrl: string | undefined; orgHosts: OrgHosts },
): OrgboxInstance {
  const { identity, dataverse } = services;
  let closing: Promise<void> | undefined;
  // Without the demo, the environment's first org and the tenant it belongs to fill the well-known fields (the first
  // tenant when there is no org), so that a token from `authority` works at `orgUrl`; the client is the first app with a
  // secret that has a service principal in that tenant, the user that tenant's first.
  const demoSeeded = !environment || (config.seedDemo && environment.seedDemo);
  const firstOrg = environment?.orgs[0];
  const envTenant = environment ? (environment.tenants.find((t) => t.id === firstOrg?.tenantId) ?? environment.tenants[0]) : undefined;
  const tenant = demoSeeded ? { id: DEMO.tenantId, domain: DEMO.tenantDomain } : { id: envTenant?.id ?? DEMO.tenantId, domain: envTenant?.defaultDomain ?? DEMO.tenantDomain };
  const orgName = demoSeeded ? DEMO.org.name : (firstOrg?.name ?? DEMO.org.name);
  const orgUrl = `${base}/org/${orgName}`;
  const withSecret = environment?.apps.filter((a) => a.secrets.length > 0) ?? [];
  const firstApp = withSecret.find((a) => a.tenantId === tenant.id || a.consents.some((c) => c.tenantId === tenant.id)) ?? withSecret[0];
  const firstUser = envTenant?.users[0];
  const demo = demoSeeded
    ? { clientId: DEMO.app.clientId, clientSecret: DEMO.app.clientSecret, username: DEMO.admin.username, password: DEMO.admin.password }
    : { clientId: firstApp?.appId ?? "", clientSecret: firstApp?.secrets[0]?.value ?? "", username: firstUser?.userPrincipalName ?? "", password: firstUser?.password ?? "" };
  return {
    url: base,
    port,
    proxyUrl: cloud.proxyUrl,
    cloudOrgUrl: `https://${cloud.orgHosts.hostOf(orgName)}`,
    cloudOrgUrlOf: (name) => `https://${cloud.orgHosts.hostOf(name.toLowerCase())}`,
    tenantId: tenant.id,
    tenantDomain: tenant.domain,
    authority: `${base}/${tenant.id}`,
    orgUrl,
    apiUrl: `${orgUrl}/api/data/v9.2`,
    caCert: tls?.caCert,
    caCertPath: tls?.caCertPath,
    demo,
    config,
    identity,
    dataverse,
    environment,
    orgUrlOf: (name) => `${base}/org/${name.toLowerCase()}`,
    reset: () => checkpoints.reset(),
    snapshot: (name) => checkpoints.take(name),
    restore: (snapshot) => checkpoints.restore(typeof snapshot === "string" ? snapshot : snapshot.name),
    faults,
    clock: {
      now: () => services.clock.now(),
      show: () => services.timeTravel.state(),
      advance: (by) => services.timeTravel.advance(typeof by === "number" ? by : parseDuration(by)),
      set: (when) => services.timeTravel.set(when instanceof Date ? when.toISOString() : when),
    },
    close() {
      closing ??= (async () => {
        await cloud.proxy?.close();
        await app.close();
        await services.close();
      })();
      return closing;
    },
  };
}

/** The environment to apply: the `environment` option, else the config file when it describes one. */
function loadEnvironment(config: OrgboxConfig, options: CreateOrgboxOptions): LoadedEnvironment | undefined {
  if (options.environment) return validateEnvironment(options.environment, "(environment option)", process.cwd());
  if (!config.configFile) return undefined;
  // The file resolveConfig already read: one read per start.
  const document = configDocument(config) ?? readDocument(config.configFile);
  return isEnvironmentDocument(document) ? validateEnvironment(document, config.configFile, dirname(resolve(config.configFile))) : undefined;
}

/**
 * A persisted store that already holds the environment's first tenant (else its first app) was set up by an earlier
 * start: what shows it (`tenant 'fabrikam.onmicrosoft.com'`), or undefined when the environment is not applied yet.
 */
async function heldEnvironment(environment: LoadedEnvironment, identity: Identity): Promise<string | undefined> {
  // The demo tenant an environment extends (seedDemo: true) exists before it is applied: look at what the file creates.
  const first = environment.tenants.find((t) => !t.existing);
  if (first) return (await identity.service.findTenant(first.id)) !== undefined ? `tenant '${first.defaultDomain}'` : undefined;
  const app = environment.apps[0];
  return app !== undefined && (await identity.service.findApplication(app.appId)) !== undefined ? `app '${app.displayName}' (${app.appId})` : undefined;
}

/** The host a client on this machine reaches a listener on `host` at (`0.0.0.0` and `::` listen on every interface: loopback). */
function proxyHostForClients(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "[::]") return "127.0.0.1";
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
