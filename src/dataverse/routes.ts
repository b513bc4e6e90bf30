import type { IncomingHttpHeaders } from "node:http";
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { decodeJwt } from "jose";
import type { TokenTrust } from "./auth.ts";
import { DataverseError, dv } from "./errors.ts";
import { checkJsonText } from "./input.ts";
import type { OperationRegistry } from "./functions.ts";
import type { Clock } from "../common/clock.ts";
import { createRecordWriter } from "./handlers/writes.ts";
import type { Org } from "./model.ts";
import { createPipeline } from "./pipeline.ts";
import { errorResponse, payloadOf, type ApiRequest, type WebApiResponse } from "./request.ts";
import type { DataverseService } from "./service.ts";
import type { ServiceProtection } from "./service-protection.ts";
import type { DataverseStore, OrgRegistry } from "./store.ts";

export type { ApiRequest, Dispatch, WebApiRequest, WebApiResponse } from "./request.ts";

/** What the Web API routes need. */
export interface DataverseRouteDeps {
  store: DataverseStore;
  service: DataverseService;
  trust: TokenTrust;
  operations: OperationRegistry;
  /** `{base}/org/{name}` for an org. */
  orgUrl: (org: Org) => string;
  /** "Now" for date query functions (`Today`, `LastXDays`, …): orgbox's clock (time travel moves it). */
  clock: Clock;
  /** Service protection limits (see `service-protection.ts`); none when off. */
  protection?: ServiceProtection;
}

const EXPOSED = "OData-Version, OData-EntityId, Location, ETag, Preference-Applied, Retry-After, REQ_ID, x-ms-dop-hint, x-ms-service-request-id, x-ms-ratelimit-burst-remaining-xrm-requests, x-ms-ratelimit-time-remaining-xrm-requests";

type Params = ApiRequest["params"];

/** Sends a pipeline response through Fastify. */
function send(reply: FastifyReply, response: WebApiResponse): FastifyReply {
  return reply.status(response.status).headers(response.headers).send(payloadOf(response.body));
}

/**
 * Registers the Dataverse Web API under `/org/{name}/api/data/v{8.0–9.2}/` (register with prefix `/org`),
 * with one error hook rendering `{"error":{"code","message"}}`.
 */
export async function dataverseRoutes(app: FastifyInstance, deps: DataverseRouteDeps): Promise<void> {
  const writer = createRecordWriter(deps.service);
  app.setErrorHandler((error, request, reply) => renderError(error, request, reply));
  // $batch bodies: kept as text for the batch parser.
  app.addContentTypeParser("multipart/mixed", { parseAs: "string" }, (_request, body, done) => done(null, body));
  // Reads and deletes carry no body even when the client sends `Content-Type: application/json`
  // (dataverse-ify's Node client does on DELETE); Dataverse ignores the header there. Other methods keep Fastify's JSON parser.
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (body === "" && (request.method === "DELETE" || request.method === "GET")) return done(null, undefined);
    try {
      checkJsonText(body.toString());
    } catch (error) {
      return done(error as Error, undefined);
    }
    return parseJson(request, body.toString(), done);
  });
  app.setNotFoundHandler((request, reply) => renderError(dv.segmentNotFound(request.url.split("?")[0] ?? ""), request, reply));

  app.addHook("onSend", async (request, reply) => {
    reply.header("OData-Version", "4.0");
    reply.header("REQ_ID", request.id);
    reply.header("x-ms-service-request-id", request.id);
    reply.header("x-ms-dop-hint", "4");
    const origin = request.headers.origin;
    if (origin) {
      reply.header("Access-Control-Allow-Origin", origin);
      reply.header("Access-Control-Allow-Credentials", "true");
      reply.header("Access-Control-Expose-Headers", EXPOSED);
      reply.header("Vary", "Origin");
    }
  });

  const preflight = async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header("Access-Control-Allow-Methods", "GET, POST, PATCH, PUT, DELETE, OPTIONS");
    reply.header("Access-Control-Allow-Headers", request.headers["access-control-request-headers"] ?? "Authorization, Content-Type, OData-Version, OData-MaxVersion, Prefer, If-Match, If-None-Match, MSCRMCallerID, CallerObjectId");
    reply.header("Access-Control-Max-Age", "600");
    return reply.status(204).send();
  };
  app.options("/:org/api/data/:version/*", preflight);
  app.options("/api/data/:version/*", preflight);

  const dispatch = createPipeline({ service: deps.service, operations: deps.operations, writer, trust: deps.trust, orgUrl: deps.orgUrl, clock: deps.clock, ...(deps.protection ? { protection: deps.protection } : {}) }, app.log);
  const handle = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) =>
    send(reply, await dispatch({ method: request.method, url: request.url, params: request.params, headers: request.headers, body: request.body, correlationId: request.id }, deps.store, request.log));
  app.route({ method: ["GET", "POST", "PATCH", "PUT", "DELETE"], url: "/:org/api/data/:version/*", handler: handle });
  app.route({ method: ["GET"], url: "/:org/api/data/:version", handler: handle });

  // The org URL as printed (`{base}/org/{name}`, no trailing slash) resolved against by clients that
  // build `new URL("api/data/v9.2/", serverUrl)` (dynamics-web-api) gives `{base}/org/api/data/v9.2/…`:
  // served for the org the bearer token's audience names, then authenticated exactly as `/org/{name}/…`.
  const handleOrgless = async (request: FastifyRequest<{ Params: Omit<Params, "org"> }>, reply: FastifyReply) => {
    let org: string;
    try {
      org = await orgFromAudience(request.headers, deps.store, deps.orgUrl, deps.trust);
    } catch (error) {
      return renderError(error, request, reply);
    }
    return send(reply, await dispatch({ method: request.method, url: request.url, params: { ...request.params, org }, orgless: true, headers: request.headers, body: request.body, correlationId: request.id }, deps.store, request.log));
  };
  app.route({ method: ["GET", "POST", "PATCH", "PUT", "DELETE"], url: "/api/data/:version/*", handler: handleOrgless });
  app.route({ method: ["GET"], url: "/api/data/:version", handler: handleOrgless });
}

/**
 * The name of the org a request to `{base}/org/api/data/v9.x/…` (no org segment) addresses: the org
 * whose URL (or other URL, {@link TokenTrust.orgForAudience}) is the `aud` of its bearer token. The token is only decoded here, to pick the org;
 * {@link authorizeRequest} then verifies its signature, lifetime, issuer (the org's tenant) and
 * audience (exactly that org's URL) as for `/org/{name}/…`.
 * @throws DataverseError 401 `0x0` without a bearer token, or when its `aud` is not the URL of an org of this orgbox.
 */
async function orgFromAudience(headers: IncomingHttpHeaders, store: OrgRegistry, orgUrl: (org: Org) => string, trust: TokenTrust): Promise<string> {
  const refuse = (why: string) =>
    new DataverseError(401, "0x0", `This Web API URL names no organization (${why}). Send a bearer token whose audience is the URL of an organization of this orgbox, or address the organization's Web API: {org URL}/api/data/v9.2/.`, { "www-authenticate": "Bearer" });
  const match = headers.authorization ? /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization) : null;
  if (!match) throw refuse("the request has no bearer token");
  let audiences: string[];
  try {
    const aud = decodeJwt(match[1] as string).aud;
    audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : [];
  } catch {
    throw refuse("the bearer token is not a JWT");
  }
  for (const aud of audiences) {
    const name = /\/org\/([a-z0-9]+)\/?$/i.exec(aud)?.[1];
    const org = name ? await store.findOrg(name.toLowerCase()) : undefined;
    if (org && aud.replace(/\/$/, "") === orgUrl(org)) return org.name;
    // Another URL of an org (its cloud host URL, a token asked for through the proxy).
    const other = trust.orgForAudience?.(aud);
    if (other !== undefined && (await store.findOrg(other))) return other;
  }
  throw refuse("the bearer token's audience is not the URL of an organization of this orgbox");
}

/**
 * Answers a Web API URL the router could not decode (Fastify's `frameworkErrors`, which runs before
 * any route or hook of the surface): 400 `0x80060888` in the Dataverse envelope, with the headers the
 * surface's `onSend` hook would have added.
 */
export function sendWebApiUrlError(reply: FastifyReply, correlationId: string, detail: string, log: FastifyBaseLogger): FastifyReply {
  return send(reply.header("OData-Version", "4.0").header("REQ_ID", correlationId), errorResponse(dv.urlSyntax(detail), log));
}

/** The one error hook of the Web API surface (Fastify's error and not-found handlers, the org-less org lookup). */
function renderError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return send(reply, errorResponse(error, request.log));
}
