import type { IncomingHttpHeaders } from "node:http";
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { authorizeRequest, type TokenTrust } from "./auth.ts";
import { DataverseError, dv } from "./errors.ts";
import { checkJsonText, checkRequestText } from "./input.ts";
import { invokeOperation, resolveOperation, type OperationRegistry } from "./functions.ts";
import { systemClock, type Clock } from "../common/clock.ts";
import { handleBatch } from "./handlers/batch.ts";
import { handleMetadata, isMetadataPath } from "./handlers/metadata.ts";
import { countCollection, readCollection, readEntity } from "./handlers/records.ts";
import { readFetchXml } from "./fetchxml/query.ts";
import { readApply } from "./handlers/apply.ts";
import { countChanges, readChanges } from "./handlers/changes.ts";
import { createRecordWriter, handleWrite, isWriteSideRequest } from "./handlers/writes.ts";
import type { Org } from "./model.ts";
import { parseResourcePath } from "./odata/path.ts";
import { parsePrefer } from "./odata/prefer.ts";
import { parseQueryOptions, splitQuery } from "./odata/query-options.ts";
import type { DataverseService } from "./service.ts";
import type { DataverseStore } from "./store.ts";

/** What the Web API routes need. */
export interface DataverseRouteDeps {
  store: DataverseStore;
  service: DataverseService;
  trust: TokenTrust;
  operations: OperationRegistry;
  /** `{base}/org/{name}` for an org. */
  orgUrl: (org: Org) => string;
  /** "Now" for date query functions (`Today`, `LastXDays`, …); the wall clock when absent. */
  clock?: Clock;
}

const JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8";
const VERSION_RE = /^v(8\.[0-2]|9\.[0-2])$/;
const EXPOSED = "OData-Version, OData-EntityId, Location, ETag, Preference-Applied, Retry-After, REQ_ID, x-ms-dop-hint, x-ms-service-request-id";

type Params = { org: string; version: string; "*": string };

/** One Web API request as {@link Dispatch} sees it: a top-level request or a `$batch` part. */
export interface ApiRequest {
  method: string;
  /** Path and raw query as received: `/org/{name}/api/data/{version}/{path}?{query}`. */
  url: string;
  params: Params;
  headers: IncomingHttpHeaders;
  /** Parsed JSON, raw text, or undefined when there is none. */
  body: unknown;
}

/** A Web API response: status, headers (lower-case names) and a JSON value, text, or no body. */
export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * Runs one Web API request (auth, security, handlers) against `store` — a transaction-bound store
 * for `$batch` change sets — and returns its response; errors become the Dataverse error envelope.
 */
export type Dispatch = (request: ApiRequest, store: DataverseStore, log?: FastifyBaseLogger) => Promise<ApiResponse>;

/** Collects what a route sets on its reply (the subset of Fastify's reply the routes use). */
class ResponseBuilder {
  private code = 200;
  private readonly values: Record<string, string> = {};
  private payload: unknown;

  status(code: number): this {
    this.code = code;
    return this;
  }
  header(name: string, value: string): this {
    this.values[name.toLowerCase()] = value;
    return this;
  }
  headers(values: Record<string, string>): this {
    for (const [name, value] of Object.entries(values)) this.header(name, value);
    return this;
  }
  type(contentType: string): this {
    return this.header("content-type", contentType);
  }
  send(payload?: unknown): this {
    this.payload = payload;
    return this;
  }
  /** The response, given what the route returned (this builder after `send`, or a body). */
  result(returned: unknown): ApiResponse {
    return { status: this.code, headers: { ...this.values }, body: returned === this ? this.payload : returned };
  }
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

  app.options("/:org/api/data/:version/*", async (request, reply) => {
    reply.header("Access-Control-Allow-Methods", "GET, POST, PATCH, PUT, DELETE, OPTIONS");
    reply.header("Access-Control-Allow-Headers", request.headers["access-control-request-headers"] ?? "Authorization, Content-Type, OData-Version, OData-MaxVersion, Prefer, If-Match, If-None-Match, MSCRMCallerID, CallerObjectId");
    reply.header("Access-Control-Max-Age", "600");
    return reply.status(204).send();
  });

  const route = async (request: ApiRequest, reply: ResponseBuilder, store: DataverseStore): Promise<unknown> => {
    const { version } = request.params;
    if (!VERSION_RE.test(version)) throw dv.segmentNotFound(version);
    const org = await store.findOrg(request.params.org);
    if (!org) throw dv.orgNotFound(request.params.org);
    const orgUrl = deps.orgUrl(org);
    const apiUrl = `${orgUrl}/api/data/${version}`;
    const md = await deps.service.loadMetadata(org, store);
    const security = await authorizeRequest(request.headers, org, orgUrl, deps.trust, store, md, deps.service.securityState);
    const caller = security.caller;

    const rest = request.params["*"] ?? "";
    const query = request.url.includes("?") ? request.url.slice(request.url.indexOf("?") + 1) : "";
    const params = splitQuery(query);
    reply.type(JSON_TYPE);
    if (rest === "$batch") {
      if (request.method !== "POST") throw dv.methodNotAllowed(request.method);
      const batch = await handleBatch({ request, body: typeof request.body === "string" ? request.body : "", store, dispatch });
      return reply.status(batch.status).headers(batch.headers).send(batch.body);
    }

    if (rest === "" || rest === "/") {
      if (request.method !== "GET") throw dv.methodNotAllowed(request.method);
      return { "@odata.context": `${apiUrl}/$metadata`, value: md.entities().filter((e) => !e.isIntersect).map((e) => ({ name: e.entitySetName, kind: "EntitySet", url: e.entitySetName })) };
    }
    if (isMetadataPath(rest)) {
      const result = await handleMetadata({ method: request.method, path: rest, params, body: request.body, org, md, security, apiUrl, service: deps.service, store, operations: deps.operations });
      reply.status(result.status).headers(result.headers);
      return result.body === undefined ? reply.send() : result.body;
    }
    const path = parseResourcePath(rest);
    const call = resolveOperation(deps.operations, md, path);
    if (call) {
      const output = await invokeOperation(call, request.method, { org, caller, apiUrl, aliases: parseQueryOptions(params).aliases, store, security, body: request.body });
      return output === undefined ? reply.status(204).send() : output;
    }
    const entity = md.entityBySet(path.name);
    if (!entity) throw dv.segmentNotFound(path.name);
    if (isWriteSideRequest(request.method, path, md, entity)) {
      const result = await handleWrite({ method: request.method, path, entity, body: request.body, headers: request.headers, params, org, md, caller, security, apiUrl, store, writer });
      reply.status(result.status).headers(result.headers);
      return result.body === undefined ? reply.send() : result.body;
    }
    if (path.kind === "call") throw dv.segmentNotFound(path.name);
    const options = parseQueryOptions(params);
    const prefer = parsePrefer(headerValue(request.headers.prefer));
    const now = (deps.clock ?? systemClock).now();
    if (options.fetchXml !== undefined && path.kind !== "collection") throw dv.queryOptionNotSupported("fetchXml on anything but an entity set");
    const counting = path.kind === "bound" && path.segments.length === 1 && path.segments[0] === "$count";
    if (options.deltaToken !== undefined && path.kind !== "collection" && !counting) throw dv.queryOptionNotSupported("$deltatoken on anything but an entity set");
    if (options.apply !== undefined && (path.kind !== "collection" || options.fetchXml !== undefined)) throw dv.queryOptionNotSupported(options.fetchXml !== undefined ? "$apply with fetchXml" : "$apply on anything but an entity set");
    if (path.kind === "entity") {
      const body = await readEntity({ store, org, md, entity, id: path.id, options, apiUrl, prefer, security, caller, now, ifNoneMatch: headerValue(request.headers["if-none-match"]) });
      if (body === undefined) return reply.status(304).send();
      if (prefer.includeAnnotations !== undefined) reply.header("Preference-Applied", `odata.include-annotations="${prefer.includeAnnotations}"`);
      return body;
    }
    if (path.kind === "bound") {
      if (path.segments.length !== 1 || path.segments[0] !== "$count") throw dv.segmentNotFound(path.segments[0] ?? "");
      const count = options.deltaToken !== undefined ? await countChanges({ store, org, entity, options, security }) : await countCollection({ store, org, md, entity, options, caller, security, now });
      return reply.type("text/plain; charset=utf-8").send(String(count));
    }
    if (path.kind !== "collection") throw dv.segmentNotFound(path.segments[0] ?? path.name);
    if (options.fetchXml !== undefined) {
      if (prefer.trackChanges || options.deltaToken !== undefined) throw dv.queryOptionNotSupported("fetchXml with change tracking");
      const result = await readFetchXml({ store, org, md, entity, options, fetchXml: options.fetchXml, apiUrl, caller, security, now, prefer });
      if (result.preferenceApplied) reply.header("Preference-Applied", result.preferenceApplied);
      return result.body;
    }
    const resourceUrl = `${apiUrl}/${rest.replace(/^\/+/, "")}`;
    if (prefer.trackChanges || options.deltaToken !== undefined) {
      const result = await readChanges({ store, org, md, entity, options, apiUrl, caller, security, now, prefer, resourceUrl, rawQuery: query });
      if (result.preferenceApplied) reply.header("Preference-Applied", result.preferenceApplied);
      return result.body;
    }
    if (options.apply !== undefined) {
      const result = await readApply({ store, org, md, entity, options, apiUrl, caller, security, now, prefer, resourceUrl, rawQuery: query }, options.apply);
      if (result.preferenceApplied) reply.header("Preference-Applied", result.preferenceApplied);
      return result.body;
    }
    const result = await readCollection({ store, org, md, entity, options, apiUrl, caller, security, now, prefer, resourceUrl, rawQuery: query });
    if (result.preferenceApplied) reply.header("Preference-Applied", result.preferenceApplied);
    return result.body;
  };
  const dispatch: Dispatch = async (request, store, log = app.log) => {
    const reply = new ResponseBuilder();
    try {
      checkRequestText(request.url, request.headers, request.body);
      return reply.result(await route(request, reply, store));
    } catch (error) {
      return errorResponse(error, log);
    }
  };
  const handle = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const result = await dispatch({ method: request.method, url: request.url, params: request.params, headers: request.headers, body: request.body }, deps.store, request.log);
    return reply.status(result.status).headers(result.headers).send(result.body);
  };
  app.route({ method: ["GET", "POST", "PATCH", "PUT", "DELETE"], url: "/:org/api/data/:version/*", handler: handle });
  app.route({ method: ["GET"], url: "/:org/api/data/:version", handler: handle });
}

function renderError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const result = errorResponse(error, request.log);
  return reply.status(result.status).headers(result.headers).send(result.body);
}

/** Any error → the Dataverse error envelope `{"error":{"code","message"}}` (unexpected ones logged as 500s). */
function errorResponse(error: unknown, log: FastifyBaseLogger): ApiResponse {
  let dvError: DataverseError;
  if (error instanceof DataverseError) {
    dvError = error;
  } else {
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      dvError = new DataverseError(status, "0x80048d19", `Error identified in Payload provided by the user for Entity :'', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : ${(error as Error).message}`);
    } else {
      log.error({ err: error }, "dataverse request failed");
      dvError = dv.unexpected();
    }
  }
  if (dvError.status >= 500) log.error({ code: dvError.code }, dvError.message);
  return { status: dvError.status, headers: { ...dvError.headers, "content-type": JSON_TYPE }, body: { error: { code: dvError.code, message: dvError.message } } };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}
