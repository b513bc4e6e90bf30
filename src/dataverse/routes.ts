import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { authenticate, type TokenTrust } from "./auth.ts";
import { DataverseError, dv } from "./errors.ts";
import type { OperationRegistry } from "./functions.ts";
import { MAX_PAGE_SIZE, readCollection, readEntity } from "./handlers/records.ts";
import type { Org } from "./model.ts";
import { parseResourcePath } from "./odata/path.ts";
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
}

const JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8";
const VERSION_RE = /^v(8\.[0-2]|9\.[0-2])$/;
const EXPOSED = "OData-Version, OData-EntityId, Location, ETag, Preference-Applied, Retry-After, REQ_ID, x-ms-dop-hint, x-ms-service-request-id";

type Params = { org: string; version: string; "*": string };

/**
 * Registers the Dataverse Web API under `/org/{name}/api/data/v{8.0–9.2}/` (register with prefix `/org`),
 * with one error hook rendering `{"error":{"code","message"}}`.
 */
export async function dataverseRoutes(app: FastifyInstance, deps: DataverseRouteDeps): Promise<void> {
  app.setErrorHandler((error, request, reply) => renderError(error, request, reply));
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

  const handle = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const { version } = request.params;
    if (!VERSION_RE.test(version)) throw dv.segmentNotFound(version);
    const org = await deps.service.findOrg(request.params.org);
    if (!org) throw dv.orgNotFound(request.params.org);
    const orgUrl = deps.orgUrl(org);
    const apiUrl = `${orgUrl}/api/data/${version}`;
    const md = deps.service.metadataFor(org);
    const caller = await authenticate(request.headers, org, orgUrl, deps.trust, deps.store, md);

    const rest = request.params["*"] ?? "";
    const query = request.url.includes("?") ? request.url.slice(request.url.indexOf("?") + 1) : "";
    const params = splitQuery(query);
    reply.type(JSON_TYPE);

    if (rest === "" || rest === "/") {
      if (request.method !== "GET") throw dv.methodNotAllowed(request.method);
      return { "@odata.context": `${apiUrl}/$metadata`, value: md.entities().filter((e) => !e.isIntersect).map((e) => ({ name: e.entitySetName, kind: "EntitySet", url: e.entitySetName })) };
    }
    const path = parseResourcePath(rest);
    const operation = deps.operations.get(path.name);
    if (operation && (path.kind === "collection" || path.kind === "call")) {
      const expected = operation.kind === "function" ? "GET" : "POST";
      if (request.method !== expected) throw dv.methodNotAllowed(request.method);
      return operation.invoke({ org, caller, apiUrl }, path.kind === "call" ? path.args : "");
    }
    const entity = md.entityBySet(path.name);
    if (!entity || path.kind === "call") throw dv.segmentNotFound(path.name);
    if (request.method !== "GET") throw new DataverseError(405, "0x80060888", `The HTTP method '${request.method}' is not supported by orgbox yet for '${path.name}'.`);
    const options = parseQueryOptions(params);
    if (path.kind === "entity") return readEntity({ store: deps.store, org, md, entity, id: path.id, options, apiUrl });
    const maxPageSize = preferredPageSize(headerValue(request.headers.prefer));
    if (maxPageSize !== undefined) reply.header("Preference-Applied", `odata.maxpagesize=${maxPageSize}`);
    return readCollection({ store: deps.store, org, md, entity, options, apiUrl, maxPageSize: maxPageSize ?? MAX_PAGE_SIZE });
  };
  app.route({ method: ["GET", "POST", "PATCH", "PUT", "DELETE"], url: "/:org/api/data/:version/*", handler: handle });
  app.route({ method: ["GET"], url: "/:org/api/data/:version", handler: handle });
}

/** `Prefer: odata.maxpagesize=N` (one of possibly several comma-separated preferences). */
function preferredPageSize(prefer: string | undefined): number | undefined {
  const match = prefer ? /odata\.maxpagesize\s*=\s*"?(\d+)"?/i.exec(prefer) : null;
  if (!match) return undefined;
  const size = Number(match[1]);
  return size > 0 ? Math.min(size, MAX_PAGE_SIZE) : undefined;
}

function renderError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let dvError: DataverseError;
  if (error instanceof DataverseError) {
    dvError = error;
  } else {
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      dvError = new DataverseError(status, "0x80048d19", `Error identified in Payload provided by the user for Entity :'', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : ${(error as Error).message}`);
    } else {
      request.log.error({ err: error }, "dataverse request failed");
      dvError = dv.unexpected();
    }
  }
  if (dvError.status >= 500) request.log.error({ code: dvError.code }, dvError.message);
  return reply
    .status(dvError.status)
    .headers(dvError.headers)
    .type(JSON_TYPE)
    .send({ error: { code: dvError.code, message: dvError.message } });
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}
