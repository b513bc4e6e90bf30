import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { dirname, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import type { AddressInfo } from "node:net";
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from "fastify";
import type { Logger } from "pino";
import type { Clock } from "../common/clock.ts";
import { systemClock } from "../common/clock.ts";
import { ensureLocalTls, type LocalTls } from "../common/tls.ts";
import type { OrgboxConfig } from "../config/config.ts";
import { createDataverse, upgradeOrg, type Dataverse, type Org } from "../dataverse/index.ts";
import { aad, aadErrorBody, createIdentity, DYNAMICS_CRM_APP_ID, type Identity } from "../identity/index.ts";
import { createGraph } from "../graph/index.ts";
import { openDatabase, type Database } from "../store/database.ts";
import { SqlDataverseStore } from "../store/dataverse-store.ts";
import { SqlIdentityStore } from "../store/identity-store.ts";
import { SqlOrgBindings } from "../store/org-bindings.ts";
import { applyEnvironment } from "../environment/apply.ts";
import { isEnvironmentDocument, validateEnvironment, type LoadedEnvironment } from "../environment/load.ts";
import { readDocument } from "../environment/read.ts";
import type { OrgboxEnvironment } from "../environment/schema.ts";
import { DEMO } from "./demo.ts";
import { seedDemo } from "./seed.ts";

/**
 * Request-line plus header bytes a connection may send: room for the 32 KB (32,768-character) URLs
 * Dataverse accepts (learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors)
 * and a bearer token. Beyond it Node answers 431.
 */
const MAX_HEADER_BYTES = 48 * 1024;

/** The demo credentials printed in the banner and the `--json` ready line. */
export interface DemoInfo {
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
}

/** A named checkpoint of a running orgbox (see {@link OrgboxInstance.snapshot}). */
export interface OrgboxSnapshot {
  name: string;
  /** When it was taken (ms since the epoch, orgbox's clock). */
  takenAt: number;
}

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
  /** CA certificate (PEM) to trust, or undefined over plain HTTP. */
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
 * The composition root: opens the store, builds identity and Dataverse, wires
 * Dataverse's trust in identity's tokens, seeds the demo on an empty store and
 * listens. The only place that knows both surfaces.
 * @throws when the port is taken, the data folder is not writable, or a migration fails.
 */
export async function createOrgbox(config: OrgboxConfig, logger: Logger, clock: Clock = systemClock, options: CreateOrgboxOptions = {}): Promise<OrgboxInstance> {
  // The whole environment is validated before anything is opened or applied.
  const environment = loadEnvironment(config, options);
  const database = await openDatabase({ inMemory: config.inMemory, dataDir: config.dataDir, storeUrl: config.storeUrl, onPermissions: (message) => logger.warn(message) });
  let server: FastifyInstance | undefined;
  try {
    const tls = config.http ? undefined : await ensureLocalTls(config.caDir, config.publicHost === "localhost" ? [] : [config.publicHost], (message) => logger.warn(message));
    let base = "";
    const identityStore = new SqlIdentityStore(database.db);
    const dataverseStore = new SqlDataverseStore(database.db, database.adapter);
    const orgUrl = (org: Pick<Org, "name">) => `${base}/org/${org.name}`;

    const identity = await createIdentity({
      store: identityStore,
      orgs: new SqlOrgBindings(database.db),
      clock,
      baseUrl: () => base,
      accessTokenLifetimeSeconds: config.accessTokenLifetimeSeconds,
      keyRotationIntervalSeconds: config.keyRotationIntervalSeconds,
      rejectAssertionReplay: config.rejectAssertionReplay,
      refreshTokenLifetimeSeconds: config.refreshTokenLifetimeSeconds,
      spaRefreshTokenLifetimeSeconds: config.spaRefreshTokenLifetimeSeconds,
      refreshTokenRotation: config.refreshTokenRotation,
      lockout: { threshold: config.lockoutThreshold, durationSeconds: config.lockoutDurationSeconds },
      resources: {
        async appIdForIdentifier(uri) {
          const match = /^(https?:\/\/[^/]+)\/org\/([a-z0-9]+)$/i.exec(uri);
          if (!match || (match[1] as string).toLowerCase() !== base.toLowerCase()) return undefined;
          return (await dataverseStore.findOrg(match[2] as string)) ? DYNAMICS_CRM_APP_ID : undefined;
        },
      },
    });
    const dataverse = createDataverse({
      store: dataverseStore,
      legacyApplicationUserRule: config.legacyApplicationUserRule,
      clock,
      orgUrl,
      trust: {
        verify: identity.verifier,
        issuers: (tid) => [identity.urls.issuerV1(tid), identity.urls.issuerV2(tid)],
        authorizationUri: (tid) => `${base}/${tid}/oauth2/authorize`,
      },
      directory: {
        async servicePrincipal(tenantId, appId) {
          const sp = await identity.service.findServicePrincipal(tenantId, appId);
          if (!sp) return undefined;
          const app = await identity.service.findApplication(appId);
          return { objectId: sp.id, applicationIdUri: app?.identifierUris[0] ?? null, displayName: sp.displayName };
        },
      },
    });

    // A data folder from an older build: add the standard tables, columns and privileges added since.
    for (const org of await dataverse.service.listOrgs()) {
      const added = await upgradeOrg(dataverse.service, dataverseStore, org);
      if (added.tables.length + added.columns.length + added.privileges > 0) logger.info({ org: org.name, ...added }, "upgraded the org's standard tables to this build");
    }
    const wantsDemo = config.seedDemo && (environment ? environment.seedDemo : true);
    if (wantsDemo && !(await identity.service.findTenant(DEMO.tenantId))) {
      await seedDemo(identity.service, dataverse.service, clock.now());
    }
    if (environment && !(await alreadyApplied(environment, identity))) {
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
      logger.debug({ source: environment.source, tenants: environment.tenants.length, apps: environment.apps.length, orgs: environment.orgs.length }, "environment applied");
    }
    const checkpoints = new Checkpoints(database, dataverse, identity, clock, await database.snapshots.take());

    const app = Fastify({
      loggerInstance: logger,
      // Dataverse takes request URLs up to 32 KB (Node's default header limit is 16 KB).
      ...(tls ? { https: { key: tls.key, cert: tls.cert, maxHeaderSize: MAX_HEADER_BYTES } } : { http: { maxHeaderSize: MAX_HEADER_BYTES } }),
      genReqId: (req) => {
        const given = req.headers["client-request-id"] ?? req.headers["x-ms-client-request-id"];
        return typeof given === "string" && /^[0-9a-f-]{8,64}$/i.test(given) ? given.toLowerCase() : randomUUID();
      },
      logController: new LogController({ requestIdLogLabel: "correlationId", disableRequestLogging: config.logLevel !== "debug" && config.logLevel !== "trace" }),
      bodyLimit: 64 * 1024 * 1024,
      routerOptions: { maxParamLength: 2000, ignoreTrailingSlash: false },
      // URLs the router cannot even decode never reach a surface's error hook: answer in the surface's format.
      frameworkErrors: (error, request, rawReply) => {
        const reply = rawReply as unknown as FastifyReply;
        const path = request.url.split("?")[0] ?? "";
        if (path.startsWith("/org/")) {
          void reply.status(400).header("OData-Version", "4.0").header("REQ_ID", request.id).send({ error: { code: "0x80060888", message: `Bad Request - Error in query syntax: ${error.message}` } });
          return;
        }
        const segment = path.split("/")[1] ?? "";
        const body = aadErrorBody(aad.malformedTenant(segment), { traceId: randomUUID(), correlationId: request.id, now: clock.now(), baseUrl: base });
        void reply.status(400).header("cache-control", "no-store, no-cache").send(body);
      },
    }) as unknown as FastifyInstance;
    server = app;
    app.get("/_orgbox/health", async () => ({ status: "ok" }));
    if (config.adminKey) await registerAdmin(app, config.adminKey, checkpoints);
    await app.register(async (scope) => identity.register(scope));
    await app.register(async (scope) => dataverse.register(scope), { prefix: "/org" });
    const graph = createGraph(identity, clock);
    await app.register(async (scope) => graph.register(scope), { prefix: "/graph" });
    app.setNotFoundHandler((request, reply) => reply.status(404).send({ error: "not_found", error_description: `orgbox has no endpoint at ${request.method} ${request.url.split("?")[0]}`, correlation_id: request.id }));

    await app.listen({ port: config.port, host: config.host });
    const port = (app.server.address() as AddressInfo).port;
    base = `${config.http ? "http" : "https"}://${config.publicHost}:${port}`;
    return buildInstance(config, base, port, tls, identity, dataverse, app, database, environment, checkpoints);
  } catch (error) {
    await server?.close().catch(() => undefined);
    await database.close().catch(() => undefined);
    throw error;
  }
}

function buildInstance(
  config: OrgboxConfig,
  base: string,
  port: number,
  tls: LocalTls | undefined,
  identity: Identity,
  dataverse: Dataverse,
  app: FastifyInstance,
  database: Database,
  environment: LoadedEnvironment | undefined,
  checkpoints: Checkpoints,
): OrgboxInstance {
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
        identity.close();
        await app.close();
        await database.close();
      })();
      return closing;
    },
  };
}

/** The environment to apply: the `environment` option, else the config file when it describes one. */
function loadEnvironment(config: OrgboxConfig, options: CreateOrgboxOptions): LoadedEnvironment | undefined {
  if (options.environment) return validateEnvironment(options.environment, "(environment option)", process.cwd());
  if (!config.configFile) return undefined;
  const document = readDocument(config.configFile);
  return isEnvironmentDocument(document) ? validateEnvironment(document, config.configFile, dirname(resolve(config.configFile))) : undefined;
}

/** A persisted store that already holds the environment's first tenant was set up by an earlier start. */
async function alreadyApplied(environment: LoadedEnvironment, identity: Identity): Promise<boolean> {
  // The demo tenant an environment extends (seedDemo: true) exists before it is applied: look at what the file creates.
  const first = environment.tenants.find((t) => !t.existing);
  if (first) return (await identity.service.findTenant(first.id)) !== undefined;
  const app = environment.apps[0];
  return app !== undefined && (await identity.service.findApplication(app.appId)) !== undefined;
}

const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The start checkpoint and the named ones, over the store's dialect-neutral snapshots. */
class Checkpoints {
  private readonly database: Database;
  private readonly dataverse: Dataverse;
  private readonly identity: Identity;
  private readonly clock: Clock;
  private readonly baseline: string;
  private readonly named = new Map<string, { handle: string; takenAt: number }>();
  private counter = 0;

  constructor(database: Database, dataverse: Dataverse, identity: Identity, clock: Clock, baseline: string) {
    this.database = database;
    this.dataverse = dataverse;
    this.identity = identity;
    this.clock = clock;
    this.baseline = baseline;
  }

  async reset(): Promise<void> {
    await this.database.snapshots.restore(this.baseline);
    this.dataverse.service.invalidateCaches();
    this.identity.invalidateCaches();
  }

  async take(name?: string): Promise<OrgboxSnapshot> {
    const chosen = name ?? `snapshot-${++this.counter}`;
    if (!SNAPSHOT_NAME.test(chosen)) throw new SnapshotNameError(`snapshot names are 1–64 letters, digits, '.', '_' or '-' (got '${chosen}')`);
    const handle = await this.database.snapshots.take();
    const previous = this.named.get(chosen);
    const takenAt = this.clock.now();
    this.named.set(chosen, { handle, takenAt });
    if (previous) await this.database.snapshots.drop(previous.handle);
    return { name: chosen, takenAt };
  }

  async restore(name: string): Promise<void> {
    const found = this.named.get(name);
    if (!found) throw new UnknownSnapshotError(`no snapshot named '${name}'`);
    await this.database.snapshots.restore(found.handle);
    this.dataverse.service.invalidateCaches();
    this.identity.invalidateCaches();
  }
}

class SnapshotNameError extends Error {}
class UnknownSnapshotError extends Error {}

/** `Authorization: Bearer {key}`, compared in constant time (digests of equal length). */
function adminAuthorized(header: string | undefined, key: string): boolean {
  const match = /^Bearer (.+)$/i.exec(header ?? "");
  if (!match) return false;
  const given = createHash("sha256").update(match[1] as string).digest();
  const expected = createHash("sha256").update(key).digest();
  return timingSafeEqual(given, expected);
}

/**
 * The admin surface, only when `adminKey` is configured (404 otherwise, as for any
 * unknown path): `POST /_orgbox/reset`, `POST /_orgbox/snapshots` (`{"name"?}` → `{name}`),
 * `POST /_orgbox/snapshots/{name}/restore`.
 */
async function registerAdmin(app: FastifyInstance, key: string, checkpoints: Checkpoints): Promise<void> {
  await app.register(async (scope) => {
    // Bodies are optional: accept an empty body whatever the content type says.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "string" }, (_request, body, done) => {
      const text = typeof body === "string" ? body.trim() : "";
      if (text === "") return done(null, undefined);
      try {
        done(null, JSON.parse(text) as unknown);
      } catch {
        done(null, undefined);
      }
    });
    scope.addHook("onRequest", async (request, reply) => {
      if (!adminAuthorized(request.headers.authorization, key)) {
        return reply.status(401).header("www-authenticate", 'Bearer realm="orgbox-admin"').send({ error: "unauthorized", error_description: "send Authorization: Bearer {adminKey}" });
      }
      return undefined;
    });
    scope.post("/_orgbox/reset", async (_request, reply) => {
      const started = performance.now();
      await checkpoints.reset();
      return reply.send({ status: "reset", ms: Math.round((performance.now() - started) * 100) / 100 });
    });
    scope.post("/_orgbox/snapshots", async (request, reply) => {
      const body = request.body as { name?: unknown } | undefined;
      const query = request.query as { name?: string };
      const name = typeof body?.name === "string" ? body.name : query.name;
      try {
        const snapshot = await checkpoints.take(name);
        return reply.status(201).send({ name: snapshot.name });
      } catch (error) {
        if (error instanceof SnapshotNameError) return reply.status(400).send({ error: "invalid_request", error_description: error.message });
        throw error;
      }
    });
    scope.post("/_orgbox/snapshots/:name/restore", async (request, reply) => {
      try {
        await checkpoints.restore((request.params as { name: string }).name);
        return reply.send({ status: "restored" });
      } catch (error) {
        if (error instanceof UnknownSnapshotError) return reply.status(404).send({ error: "not_found", error_description: error.message });
        throw error;
      }
    });
  });
}
