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
import { openServices, type Services } from "./services.ts";
import { DEMO } from "./demo.ts";
import { seedDemo } from "./seed.ts";
import { rebuildForReapply } from "./reapply.ts";

/** The demo credentials printed in the banner and the `--json` ready line. */
export interface DemoInfo {
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
}

export type { OrgboxSnapshot } from "./admin.ts";

/** Options of {@link createOrgbox} that are not configuration. */
export interface CreateOrgboxOptions {
  /** An environment given as data (instead of, or before, the config file's). */
  environment?: OrgboxEnvironment;
}

/** A running orgbox: URLs, the CA to trust, the services, and `close()`. */
export interface OrgboxInstance {
  /** `https://localhost:PORT` (or `http://` with `http: true`). */
  url: string;
  port: number;
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
  /** Stops listening and closes the store. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts orgbox: validates the environment, opens the services ({@link openServices}: the store,
 * identity and Dataverse wired together), seeds the demo on an empty store, applies the environment,
 * takes the start checkpoint and listens ({@link createHttpApp}).
 * @throws when the port is taken, the data folder is not writable, or a migration fails.
 */
export async function createOrgbox(config: OrgboxConfig, logger: Logger, clock: Clock = systemClock, options: CreateOrgboxOptions = {}): Promise<OrgboxInstance> {
  // The whole environment is validated before anything is opened or applied.
  const environment = loadEnvironment(config, options);
  let base = "";
  let services = await openServices(config, { clock, logger, baseUrl: () => base });
  // A persisted store an earlier start applied the file to: said so, or (--reapply) rebuilt from the file.
  if (environment) {
    try {
      const holds = await heldEnvironment(environment, services.identity);
      if (holds && rebuildForReapply(config, environment.source, holds, logger)) {
        await services.close();
        services = await openServices(config, { clock, logger, baseUrl: () => base });
      }
    } catch (error) {
      await services.close().catch(() => undefined);
      throw error;
    }
  }
  const { database, identity, dataverse } = services;
  let server: FastifyInstance | undefined;
  try {
    const tls: ServerTls | undefined = config.http
      ? undefined
      : config.tlsCert !== undefined && config.tlsKey !== undefined
        ? loadOwnTls(config.tlsCert, config.tlsKey, config.publicHost, clock.now(), (message) => logger.warn(message))
        : await ensureLocalTls(config.caDir, config.publicHost === "localhost" ? [] : [config.publicHost], (message) => logger.warn(message));

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
        throw new Error(`cannot apply the environment of ${environment.source}: ${(error as Error).message}`, { cause: error });
      } finally {
        await database.snapshots.drop(before);
      }
      logger.info({ source: environment.source, tenants: environment.tenants.length, apps: environment.apps.length, orgs: environment.orgs.length }, `environment ${environment.source} applied`);
    }
    const checkpoints = new Checkpoints(database, dataverse, identity, clock, await database.snapshots.take());

    const app = await createHttpApp({ config, logger, tls, clock, baseUrl: () => base, identity, dataverse, checkpoints, beforeRequest: () => services.syncWithStore() });
    server = app;
    const port = await listen(app, config);
    base = `${config.http ? "http" : "https"}://${config.publicHost}:${port}`;
    return buildInstance(config, base, port, tls, services, app, environment, checkpoints);
  } catch (error) {
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
    close() {
      closing ??= (async () => {
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
