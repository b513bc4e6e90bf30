import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { SecureContext } from "node:tls";
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from "fastify";
import type { Logger } from "pino";
import type { Clock } from "../common/clock.ts";
import { LeafCertificates, type LocalTls } from "../common/tls.ts";
import { cloudHostKind, hostName, runAsCloudRequest, type CloudRequest } from "../common/cloud-hosts.ts";
import type { OrgboxConfig } from "../config/config.ts";
import { sendWebApiUrlError, type Dataverse } from "../dataverse/index.ts";
import { aad, aadErrorBody, type Identity } from "../identity/index.ts";
import { createGraph, graphError, graphErrorBody } from "../graph/index.ts";
import { registerAdmin, type Checkpoints } from "./admin.ts";
import { orgManagementToken } from "./org-token.ts";
import { addFaultHook, type FaultInjector } from "./faults.ts";
import { armRoutes } from "../arm/index.ts";
import type { TimeTravel } from "./time-travel.ts";
import { registerAccessLog } from "./access-log.ts";
import { DEMO } from "./demo.ts";
import { registerPortal } from "../portal/server.ts";
import { registerDenials } from "../portal/denials.ts";

/**
 * Request-line plus header bytes a connection may send: room for the 32 KB (32,768-character) URLs
 * Dataverse accepts (learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors)
 * and a bearer token. Beyond it Node answers 431.
 */
const MAX_HEADER_BYTES = 48 * 1024;

/** What the HTTP app serves: the two surfaces, the admin endpoints, and how it listens. */
export interface HttpAppOptions {
  config: Pick<OrgboxConfig, "logLevel" | "adminKey">;
  logger: Logger;
  /** The server certificate chain and key; undefined serves plain HTTP. */
  tls: Pick<LocalTls, "cert" | "key"> | undefined;
  clock: Clock;
  /** The public base URL, known once the server listens. */
  baseUrl: () => string;
  identity: Identity;
  dataverse: Dataverse;
  checkpoints: Checkpoints;
  /** Time travel (`/_orgbox/clock`, with `adminKey`). */
  timeTravel?: TimeTravel;
  /** Runs first on every request, before any surface reads a cache (see `Services.syncWithStore`); a promise is awaited. */
  beforeRequest?: () => Promise<void> | undefined;
  /** Fault injection rules (off while empty). */
  faults?: FaultInjector;
  /**
   * The org a Dataverse cloud host name (`contoso.crm.dynamics.com`, lower-case) belongs to, or undefined.
   * Default: none (requests to org hosts get a 404 naming the host).
   */
  orgForHost?: (host: string) => string | undefined;
}

const CLOUD = Symbol("orgbox.cloudRequest");
type CloudTagged = IncomingMessage & { [CLOUD]?: CloudRequest };

/**
 * Serves a request addressed to a Microsoft cloud host name (`Host: login.microsoftonline.com`, reached through
 * orgbox's proxy) as that service: Graph's paths move under `/graph`, an org host's under `/org/{name}`, and the
 * request runs in the cloud-host context (see `common/cloud-hosts.ts`) so that every URL it answers with carries
 * the cloud's values. Requests to orgbox's own URL pass unchanged.
 * @returns false when the request was answered here (404 for an org host of no org, or a path of orgbox's own URL layout).
 */
function routeCloudHost(req: CloudTagged, res: ServerResponse, orgForHost: (host: string) => string | undefined): CloudRequest | undefined | false {
  const host = hostName(req.headers.host);
  const kind = cloudHostKind(host);
  if (!kind) return undefined;
  const url = req.url ?? "/";
  // In the surface's format: Dataverse's envelope for an org host, orgbox's 404 (as for any unknown path) elsewhere.
  const refuse = (message: string) => {
    const body = kind === "org" ? { error: { code: "0x80040217", message } } : { error: "not_found", error_description: message };
    res.writeHead(404, { "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(body));
    return false as const;
  };
  if (kind === "graph") req.url = `/graph${url}`;
  else if (kind === "arm") req.url = `/arm${url}`;
  else if (kind === "org") {
    const org = orgForHost(host);
    if (org === undefined) return refuse(`orgbox has no organization at ${host}. Its orgs answer at {name}.crm.dynamics.com unless the environment file gives an org another hostName.`);
    req.url = `/org/${org}${url}`;
  } else if (/^\/(org|graph|arm)(\/|$)/i.test(url)) {
    return refuse(`${host} has no endpoint at ${url.split("?")[0]}: orgbox's path-based URLs (/org/…, /graph/…, /arm/…) are served on its own URL only.`);
  }
  const cloud = { host, kind };
  req[CLOUD] = cloud;
  return cloud;
}

/**
 * The fastify app: identity at `/`, Dataverse at `/org`, the admin portal at `/` (src/portal), `GET /_orgbox/health` (`{status: "ok", pid}`), the admin endpoints
 * (`/_orgbox/…`, only with `adminKey`), and a 404 naming the method and path for anything else.
 */
export async function createHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const { config, logger, tls, clock, baseUrl, identity, dataverse, checkpoints, beforeRequest, faults, timeTravel } = options;
  const orgForHost = options.orgForHost ?? (() => undefined);
  // The cloud host names get a leaf certificate of the local CA, chosen by SNI (the proxy hands their connections here).
  // Only with orgbox's local CA (not with your own certificate, `tlsCert`).
  const leaves = tls && "caKey" in tls ? new LeafCertificates(tls as LocalTls) : undefined;
  const sniCallback = (servername: string, callback: (error: Error | null, context?: SecureContext) => void) => {
    const host = servername.toLowerCase();
    if (!leaves || !cloudHostKind(host)) return callback(null, undefined);
    leaves.context(host).then((context) => callback(null, context), (error: unknown) => callback(error as Error));
  };
  const app = Fastify({
    loggerInstance: logger,
    // Dataverse takes request URLs up to 32 KB (Node's default header limit is 16 KB).
    ...(tls ? { https: { key: tls.key, cert: tls.cert, maxHeaderSize: MAX_HEADER_BYTES } } : { http: { maxHeaderSize: MAX_HEADER_BYTES } }),
    serverFactory: (handler) => {
      const onRequest = (req: IncomingMessage, res: ServerResponse) => {
        const cloud = routeCloudHost(req, res, orgForHost);
        if (cloud === false) return;
        runAsCloudRequest(cloud, () => handler(req, res));
      };
      return tls ? createHttpsServer({ key: tls.key, cert: tls.cert, maxHeaderSize: MAX_HEADER_BYTES, SNICallback: sniCallback }, onRequest) : createHttpServer({ maxHeaderSize: MAX_HEADER_BYTES }, onRequest);
    },
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
        void sendWebApiUrlError(reply, request.id, error.message, request.log);
        return;
      }
      if (path.startsWith("/graph/")) {
        const body = graphErrorBody(graphError.badRequest(`The request URL cannot be decoded: ${error.message}`), { requestId: request.id, clientRequestId: request.id, now: clock.now() });
        void reply.status(400).header("request-id", request.id).header("client-request-id", request.id).send(body);
        return;
      }
      const segment = path.split("/")[1] ?? "";
      const body = aadErrorBody(aad.malformedTenant(segment), { traceId: randomUUID(), correlationId: request.id, now: clock.now(), baseUrl: baseUrl() });
      void reply.status(400).header("cache-control", "no-store, no-cache").send(body);
    },
  }) as unknown as FastifyInstance;
  // One info line per request (before the surfaces register, so it sees all of them).
  registerAccessLog(app);
  // Once per request, on the root so it precedes every surface's own hooks: what an offline command wrote is seen at once.
  if (beforeRequest) {
    app.addHook("onRequest", (_request, _reply, done) => {
      let pending: Promise<void> | undefined;
      try {
        pending = beforeRequest();
      } catch (error) {
        done(error as Error);
        return;
      }
      // SQLite answers synchronously: no promise, no extra tick.
      if (pending) pending.then(() => done(), (error: unknown) => done(error as Error));
      else done();
    });
  }
  // Body parsing may resume a request outside the context it started in: re-enter it before the hooks and handler run.
  app.addHook("preValidation", (request, _reply, done) => {
    const cloud = (request.raw as CloudTagged)[CLOUD];
    if (cloud) runAsCloudRequest(cloud, done);
    else done();
  });
  if (faults) addFaultHook(app, faults, { clock, baseUrl });
  // `pid`: which process answered (`start --workers` runs several behind one port).
  app.get("/_orgbox/health", async () => ({ status: "ok", pid: process.pid }));
  // Before the surfaces: its onSend hook must reach every route.
  registerDenials(app, {
    clock,
    verify: identity.verifier,
    issuers: (tid) => identity.urls.acceptedIssuers(tid),
    tenants: { orgTenant: async (name) => (await dataverse.service.findOrg(name))?.tenantId, tenant: async (segment) => (await identity.service.findTenant(segment))?.id },
  });
  if (config.adminKey) await registerAdmin(app, { key: config.adminKey, checkpoints, identity, orgToken: orgManagementToken(identity, dataverse, (org) => `${baseUrl()}/org/${org.name}`), ...(faults ? { faults } : {}), ...(timeTravel ? { timeTravel } : {}) });
  await app.register(async (scope) => identity.register(scope));
  await app.register(async (scope) => dataverse.register(scope), { prefix: "/org" });
  const graph = createGraph(identity, clock);
  await app.register(async (scope) => graph.register(scope), { prefix: "/graph" });
  await app.register(async (scope) => armRoutes(scope, identity), { prefix: "/arm" });
  await registerPortal(app, {
    identity: identity.service,
    listOrgs: () => dataverse.service.listOrgs(),
    baseUrl,
    ca: tls && "caCert" in tls ? { pem: (tls as LocalTls).caCert, path: (tls as LocalTls).caCertPath } : undefined,
    demo: async () => ((await identity.service.findTenant(DEMO.tenantId)) ? { tenantId: DEMO.tenantId, username: DEMO.admin.username, password: DEMO.admin.password, clientId: DEMO.app.clientId, clientSecret: DEMO.app.clientSecret } : undefined),
  });
  app.setNotFoundHandler((request, reply) => reply.status(404).send({ error: "not_found", error_description: `orgbox has no endpoint at ${request.method} ${request.url.split("?")[0]}`, correlation_id: request.id }));

  return app;
}

/**
 * Listens on `config.host`:`config.port` (0 picks a free port).
 * @returns the port listened on.
 * @throws Error saying so in words when the port is taken (EADDRINUSE) or not allowed (EACCES), with the
 *   system error as `cause`; the system error itself for anything else.
 */
export async function listen(app: FastifyInstance, config: Pick<OrgboxConfig, "port" | "host">): Promise<number> {
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${config.host}:${config.port}`;
    if (code === "EADDRINUSE") throw new Error(`port ${config.port} is already in use on ${config.host} (EADDRINUSE): stop what listens on ${where}, or pass --port 0 (ORGBOX_PORT=0, port: 0) to pick a free port`, { cause: error });
    if (code === "EACCES") throw new Error(`not allowed to listen on ${where} (EACCES): ports below 1024 need privileges; pass --port 0 to pick a free port`, { cause: error });
    throw error;
  }
  return (app.server.address() as AddressInfo).port;
}
