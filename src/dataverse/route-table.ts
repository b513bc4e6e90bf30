import { dv } from "./errors.ts";
import { invokeOperation } from "./functions.ts";
import { readFetchXml } from "./fetchxml/query.ts";
import { readApply } from "./handlers/apply.ts";
import { handleBatch } from "./handlers/batch.ts";
import { countChanges, readChanges } from "./handlers/changes.ts";
import { handleMetadata } from "./handlers/metadata.ts";
import { countCollection, readCollection, readEntity, type ReadRequest, type ReadResult } from "./handlers/records.ts";
import { handleWrite } from "./handlers/writes.ts";
import type { EntityMetadata } from "./metadata/types.ts";
import type { ResourcePath } from "./odata/path.ts";
import { json, respond, type WebApiHandler, type WebApiRequest, type WebApiResponse } from "./request.ts";

/**
 * The Web API's route table: path kind × method → handler. The pipeline's `parsePath` step names the
 * kind, `pickHandler` looks the method up here (`*` takes any method, the handler then names the
 * methods it refuses); a method a kind does not list answers 405 naming it.
 */

/** The kinds of resource path the Web API serves (see `pipeline.ts` `parsePath`). */
export type RouteKind =
  /** `POST $batch`. */
  | "batch"
  /** `GET /` (the service document: the entity sets). */
  | "serviceDocument"
  /** `$metadata`, `EntityDefinitions…`, `RelationshipDefinitions…`, `GlobalOptionSetDefinitions…`. */
  | "metadata"
  /** An OData function or action, unbound or bound to a record. */
  | "operation"
  /** Creates, updates, deletes, upserts, `$ref`s, single properties, alternate keys, bulk actions (see `handlers/writes.ts`). */
  | "write"
  /** `GET set(id)`. */
  | "record"
  /** `GET set`: OData query, FetchXML, change tracking or `$apply`. */
  | "collection"
  /** `GET set/$count`. */
  | "count"
  /** `GET` of a path under an entity set that names nothing orgbox serves (404 naming the segment). */
  | "unaddressable";

/** The resource path and table of a route that has them (set by `parsePath` for every entity-set route). */
function target(req: WebApiRequest): { resource: ResourcePath; entity: EntityMetadata } {
  if (!req.resource || !req.entity) throw dv.segmentNotFound(req.pathText);
  return { resource: req.resource, entity: req.entity };
}

const serviceDocument: WebApiHandler = async (req) =>
  json({ "@odata.context": `${req.apiUrl}/$metadata`, value: req.md.entities().filter((e) => !e.isIntersect).map((e) => ({ name: e.entitySetName, kind: "EntitySet", url: e.entitySetName })) });

const batch: WebApiHandler = (req) => handleBatch(req);

const metadata: WebApiHandler = async (req) => {
  const result = await handleMetadata(req);
  return respond(result.status, result.headers, result.body);
};

const operation: WebApiHandler = async (req) => {
  if (!req.operation) throw dv.segmentNotFound(req.pathText);
  const output = await invokeOperation(req.operation, req.method, { org: req.org, caller: req.caller, apiUrl: req.apiUrl, aliases: req.options.aliases, store: req.store, security: req.security, body: req.body });
  return output === undefined ? respond(204, undefined, undefined) : json(output);
};

const write: WebApiHandler = async (req) => {
  const { resource, entity } = target(req);
  const result = await handleWrite({ method: req.method, path: resource, entity, body: req.body, headers: req.headers, params: req.params, org: req.org, md: req.md, caller: req.caller, security: req.security, apiUrl: req.apiUrl, store: req.store, writer: req.services.writer });
  return respond(result.status, result.headers, result.body);
};

/**
 * The query options every read checks before its own: `fetchXml`, `$deltatoken` and `$apply` only on
 * an entity set (`$deltatoken` also on its `/$count`).
 * @throws DataverseError 400 `0x80060888` naming the option.
 */
function checkReadOptions(req: WebApiRequest, kind: RouteKind): void {
  const { options } = req;
  const collection = kind === "collection";
  if (options.fetchXml !== undefined && !collection) throw dv.queryOptionNotSupported("fetchXml on anything but an entity set");
  if (options.deltaToken !== undefined && !collection && kind !== "count") throw dv.queryOptionNotSupported("$deltatoken on anything but an entity set");
  if (options.apply !== undefined && (!collection || options.fetchXml !== undefined)) throw dv.queryOptionNotSupported(options.fetchXml !== undefined ? "$apply with fetchXml" : "$apply on anything but an entity set");
}

/** What the collection reads need, from the request context. */
function readRequest(req: WebApiRequest, entity: EntityMetadata): ReadRequest {
  return {
    store: req.store,
    org: req.org,
    md: req.md,
    entity,
    options: req.options,
    apiUrl: req.apiUrl,
    caller: req.caller,
    security: req.security,
    now: req.now,
    prefer: req.prefer,
    resourceUrl: `${req.apiUrl}/${req.pathText.replace(/^\/+/, "")}`,
    rawQuery: req.rawQuery,
  };
}

/** A read's body, with its `Preference-Applied` header when it applied any. */
function readResponse(result: ReadResult): WebApiResponse {
  return json(result.body, result.preferenceApplied ? { "preference-applied": result.preferenceApplied } : undefined);
}

const readRecord: WebApiHandler = async (req) => {
  checkReadOptions(req, "record");
  const { resource, entity } = target(req);
  if (resource.kind !== "entity") throw dv.segmentNotFound(req.pathText);
  const ifNoneMatch = req.headers["if-none-match"];
  const body = await readEntity({ store: req.store, org: req.org, md: req.md, entity, id: resource.id, options: req.options, apiUrl: req.apiUrl, prefer: req.prefer, security: req.security, caller: req.caller, now: req.now, ifNoneMatch: Array.isArray(ifNoneMatch) ? ifNoneMatch.join(", ") : ifNoneMatch });
  if (body === undefined) return respond(304, undefined, undefined);
  return json(body, req.prefer.includeAnnotations !== undefined ? { "preference-applied": `odata.include-annotations="${req.prefer.includeAnnotations}"` } : undefined);
};

const count: WebApiHandler = async (req) => {
  checkReadOptions(req, "count");
  const { entity } = target(req);
  const { options } = req;
  const total = options.deltaToken !== undefined ? await countChanges({ store: req.store, org: req.org, entity, options, security: req.security }) : await countCollection({ store: req.store, org: req.org, md: req.md, entity, options, caller: req.caller, security: req.security, now: req.now });
  return respond(200, { "content-type": "text/plain; charset=utf-8" }, String(total));
};

const collection: WebApiHandler = async (req) => {
  checkReadOptions(req, "collection");
  const { entity } = target(req);
  const { options, prefer } = req;
  if (options.fetchXml !== undefined) {
    if (prefer.trackChanges || options.deltaToken !== undefined) throw dv.queryOptionNotSupported("fetchXml with change tracking");
    return readResponse(await readFetchXml({ store: req.store, org: req.org, md: req.md, entity, options, fetchXml: options.fetchXml, apiUrl: req.apiUrl, caller: req.caller, security: req.security, now: req.now, prefer }));
  }
  if (prefer.trackChanges || options.deltaToken !== undefined) return readResponse(await readChanges(readRequest(req, entity)));
  if (options.apply !== undefined) return readResponse(await readApply(readRequest(req, entity), options.apply));
  return readResponse(await readCollection(readRequest(req, entity)));
};

const unaddressable: WebApiHandler = async (req) => {
  checkReadOptions(req, "unaddressable");
  const { resource } = target(req);
  const segments = resource.kind === "bound" || resource.kind === "member" ? resource.segments : [];
  throw dv.segmentNotFound(segments[0] ?? (resource.kind === "bound" ? "" : resource.name));
};

/** Path kind × method → handler. */
export const ROUTES: Readonly<Record<RouteKind, Readonly<Record<string, WebApiHandler>>>> = {
  batch: { POST: batch },
  serviceDocument: { GET: serviceDocument },
  metadata: { "*": metadata },
  operation: { "*": operation },
  write: { "*": write },
  record: { GET: readRecord },
  collection: { GET: collection },
  count: { GET: count },
  unaddressable: { GET: unaddressable },
};
