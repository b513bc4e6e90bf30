import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from "fastify";
import type { Logger } from "pino";
import type { Clock } from "../common/clock.ts";
import type { LocalTls } from "../common/tls.ts";
import type { OrgboxConfig } from "../config/config.ts";
import { sendWebApiUrlError, type Dataverse } from "../dataverse/index.ts";
import { aad, aadErrorBody, type Identity } from "../identity/index.ts";
import { createGraph, graphError, graphErrorBody } from "../graph/index.ts";
import { registerAdmin, type Checkpoints } from "./admin.ts";
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
  /** The server certificate; undefined serves plain HTTP. */
  tls: LocalTls | undefined;
  clock: Clock;
  /** The public base URL, known once the server listens. */
  baseUrl: () => string;
  identity: Identity;
  dataverse: Dataverse;
  checkpoints: Checkpoints;
  /** Runs first on every request, before any surface reads a cache (see `Services.syncWithStore`). */
  beforeRequest?: () => void;
}

/**
 * The fastify app: identity at `/`, Dataverse at `/org`, the admin portal at `/` (src/portal), `GET /_orgbox/health`, the admin endpoints
 * (`/_orgbox/…`, only with `adminKey`), and a 404 naming the method and path for anything else.
 */
export async function createHttpApp(options: HttpAppOptions): Promise<FastifyInstance> {
  const { config, logger, tls, clock, baseUrl, identity, dataverse, checkpoints, beforeRequest } = options;
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
  // Once per request, on the root so it precedes every surface's own hooks: what an offline command wrote is seen at once.
  if (beforeRequest) {
    app.addHook("onRequest", (_request, _reply, done) => {
      try {
        beforeRequest();
      } catch (error) {
        done(error as Error);
        return;
      }
      done();
    });
  }
  app.get("/_orgbox/health", async () => ({ status: "ok" }));
  // Before the surfaces: its onSend hook must reach every route.
  registerDenials(app, {
    clock,
    verify: identity.verifier,
    issuers: (tid) => [identity.urls.issuerV1(tid), identity.urls.issuerV2(tid)],
    tenants: { orgTenant: async (name) => (await dataverse.service.findOrg(name))?.tenantId, tenant: async (segment) => (await identity.service.findTenant(segment))?.id },
  });
  if (config.adminKey) await registerAdmin(app, config.adminKey, checkpoints, identity);
  await app.register(async (scope) => identity.register(scope));
  await app.register(async (scope) => dataverse.register(scope), { prefix: "/org" });
  const graph = createGraph(identity, clock);
  await app.register(async (scope) => graph.register(scope), { prefix: "/graph" });
  await registerPortal(app, {
    identity: identity.service,
    listOrgs: () => dataverse.service.listOrgs(),
    baseUrl,
    ca: tls ? { pem: tls.caCert, path: tls.caCertPath } : undefined,
    demo: async () => ((await identity.service.findTenant(DEMO.tenantId)) ? { tenantId: DEMO.tenantId, username: DEMO.admin.username, password: DEMO.admin.password, clientId: DEMO.app.clientId, clientSecret: DEMO.app.clientSecret } : undefined),
  });
  app.setNotFoundHandler((request, reply) => reply.status(404).send({ error: "not_found", error_description: `orgbox has no endpoint at ${request.method} ${request.url.split("?")[0]}`, correlation_id: request.id }));

  return app;
}

/**
 * Listens on `config.host`:`config.port` (0 picks a free port).
 * @returns the port listened on.
 * @throws when the port is taken.
 */
export async function listen(app: FastifyInstance, config: Pick<OrgboxConfig, "port" | "host">): Promise<number> {
  await app.listen({ port: config.port, host: config.host });
  return (app.server.address() as AddressInfo).port;
}
