import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import Fastify, { LogController, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Clock } from "../common/clock.ts";
import { systemClock } from "../common/clock.ts";
import { ensureLocalTls, type LocalTls } from "../common/tls.ts";
import type { OrgboxConfig } from "../config/config.ts";
import { createDataverse, type Dataverse, type Org } from "../dataverse/index.ts";
import { createIdentity, DYNAMICS_CRM_APP_ID, type Identity } from "../identity/index.ts";
import { openDatabase, type Database } from "../store/database.ts";
import { SqlDataverseStore } from "../store/dataverse-store.ts";
import { SqlIdentityStore } from "../store/identity-store.ts";
import { DEMO } from "./demo.ts";
import { seedDemo } from "./seed.ts";

/** The demo credentials printed in the banner and the `--json` ready line. */
export interface DemoInfo {
  clientId: string;
  clientSecret: string;
  username: string;
  password: string;
}

/** A running orgbox: URLs, the CA to trust, the services, and `close()`. */
export interface OrgboxInstance {
  /** `https://localhost:PORT` (or `http://` with `http: true`). */
  url: string;
  port: number;
  tenantId: string;
  tenantDomain: string;
  /** `{url}/{tenantId}`: the MSAL authority. */
  authority: string;
  /** `{url}/org/contoso`: the resource to request tokens for. */
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
  /** URL of an org by name. */
  orgUrlOf(name: string): string;
  /** Stops listening and closes the store. Idempotent. */
  close(): Promise<void>;
}

/**
 * The composition root: opens the store, builds identity and Dataverse, wires
 * Dataverse's trust in identity's tokens, seeds the demo on an empty store and
 * listens. The only place that knows both surfaces.
 * @throws when the port is taken, the data folder is not writable, or a migration fails.
 */
export async function createOrgbox(config: OrgboxConfig, logger: Logger, clock: Clock = systemClock): Promise<OrgboxInstance> {
  const database = await openDatabase({ inMemory: config.inMemory, dataDir: config.dataDir });
  let server: FastifyInstance | undefined;
  try {
    const tls = config.http ? undefined : await ensureLocalTls(config.caDir, config.publicHost === "localhost" ? [] : [config.publicHost]);
    let base = "";
    const identityStore = new SqlIdentityStore(database.db);
    const dataverseStore = new SqlDataverseStore(database.db, database.afterDdl);
    const orgUrl = (org: Pick<Org, "name">) => `${base}/org/${org.name}`;

    const identity = await createIdentity({
      store: identityStore,
      clock,
      baseUrl: () => base,
      accessTokenLifetimeSeconds: config.accessTokenLifetimeSeconds,
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

    if (config.seedDemo && !(await identity.service.findTenant(DEMO.tenantId))) {
      await seedDemo(identity.service, dataverse.service, clock.now());
    }

    const app = Fastify({
      loggerInstance: logger,
      ...(tls ? { https: { key: tls.key, cert: tls.cert } } : {}),
      genReqId: (req) => {
        const given = req.headers["client-request-id"] ?? req.headers["x-ms-client-request-id"];
        return typeof given === "string" && /^[0-9a-f-]{8,64}$/i.test(given) ? given.toLowerCase() : randomUUID();
      },
      logController: new LogController({ requestIdLogLabel: "correlationId", disableRequestLogging: config.logLevel !== "debug" && config.logLevel !== "trace" }),
      bodyLimit: 64 * 1024 * 1024,
      routerOptions: { maxParamLength: 2000, ignoreTrailingSlash: false },
    }) as unknown as FastifyInstance;
    server = app;
    app.get("/_orgbox/health", async () => ({ status: "ok" }));
    await app.register(async (scope) => identity.register(scope));
    await app.register(async (scope) => dataverse.register(scope), { prefix: "/org" });
    app.setNotFoundHandler((request, reply) => reply.status(404).send({ error: "not_found", error_description: `orgbox has no endpoint at ${request.method} ${request.url.split("?")[0]}`, correlation_id: request.id }));

    await app.listen({ port: config.port, host: config.host });
    const port = (app.server.address() as AddressInfo).port;
    base = `${config.http ? "http" : "https"}://${config.publicHost}:${port}`;
    return buildInstance(config, base, port, tls, identity, dataverse, app, database);
  } catch (error) {
    await server?.close().catch(() => undefined);
    await database.close().catch(() => undefined);
    throw error;
  }
}

function buildInstance(config: OrgboxConfig, base: string, port: number, tls: LocalTls | undefined, identity: Identity, dataverse: Dataverse, app: FastifyInstance, database: Database): OrgboxInstance {
  let closing: Promise<void> | undefined;
  const orgUrl = `${base}/org/${DEMO.org.name}`;
  return {
    url: base,
    port,
    tenantId: DEMO.tenantId,
    tenantDomain: DEMO.tenantDomain,
    authority: `${base}/${DEMO.tenantId}`,
    orgUrl,
    apiUrl: `${orgUrl}/api/data/v9.2`,
    caCert: tls?.caCert,
    caCertPath: tls?.caCertPath,
    demo: { clientId: DEMO.app.clientId, clientSecret: DEMO.app.clientSecret, username: DEMO.admin.username, password: DEMO.admin.password },
    config,
    identity,
    dataverse,
    orgUrlOf: (name) => `${base}/org/${name.toLowerCase()}`,
    close() {
      closing ??= (async () => {
        await app.close();
        await database.close();
      })();
      return closing;
    },
  };
}
