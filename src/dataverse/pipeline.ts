import type { FastifyBaseLogger } from "fastify";
import { authorizeRequest, type TokenTrust } from "./auth.ts";
import type { Clock } from "../common/clock.ts";
import { dv } from "./errors.ts";
import { checkRequestText } from "./input.ts";
import { resolveOperation, type OperationCall } from "./functions.ts";
import { isMetadataPath } from "./handlers/metadata.ts";
import { isWriteSideRequest } from "./handlers/writes.ts";
import type { OrgMetadata } from "./metadata/registry.ts";
import type { EntityMetadata } from "./metadata/types.ts";
import type { Org } from "./model.ts";
import { parseResourcePath, type ResourcePath } from "./odata/path.ts";
import { parsePrefer } from "./odata/prefer.ts";
import { parseQueryOptions, splitQuery, type QueryOptions } from "./odata/query-options.ts";
import type { Admission, ServiceProtection } from "./service-protection.ts";
import { errorResponse, type ApiRequest, type Dispatch, type WebApiHandler, type WebApiRequest, type WebApiResponse, type WebApiServices } from "./request.ts";
import { ROUTES, type RouteKind } from "./route-table.ts";
import type { SecurityContext } from "./security/context.ts";
import type { DataverseStore, OrgRegistry } from "./store.ts";

/**
 * The Web API pipeline: every request — top-level or `$batch` part — runs the same named steps,
 * `checkInput → resolveOrg → loadMetadata → authenticate → protect → parsePath → pickHandler`, builds one
 * {@link WebApiRequest} and hands it to the handler the route table ({@link ROUTES}) names for its
 * path kind and method. Errors from any step or handler are rendered once ({@link errorResponse}).
 * `protect` (service protection limits) runs for top-level requests only: a `$batch` counts once.
 */

/** What the pipeline is built with. */
export interface PipelineDeps extends WebApiServices {
  trust: TokenTrust;
  /** `{base}/org/{name}` for an org. */
  orgUrl: (org: Org) => string;
  /** "Now" for date query functions (`Today`, `LastXDays`, …): orgbox's clock (time travel moves it). */
  clock: Clock;
  /** Dataverse's service protection limits (per org and user); none when turned off. */
  protection?: ServiceProtection;
}

const VERSION_RE = /^v(8\.[0-2]|9\.[0-2])$/;

/** Step 1: the org the URL names (and its URLs). @throws DataverseError 404 for an unknown version or org. */
async function resolveOrg(request: ApiRequest, store: OrgRegistry, deps: PipelineDeps): Promise<{ org: Org; orgUrl: string; apiUrl: string }> {
  const { version } = request.params;
  if (!VERSION_RE.test(version)) throw dv.segmentNotFound(version);
  const org = await store.findOrg(request.params.org);
  if (!org) throw dv.orgNotFound(request.params.org);
  const orgUrl = deps.orgUrl(org);
  const apiUrl = request.orgless ? `${orgUrl.slice(0, orgUrl.lastIndexOf("/"))}/api/data/${version}` : `${orgUrl}/api/data/${version}`;
  return { org, orgUrl, apiUrl };
}

/** Step 2: the org's metadata (cached by the service). */
function loadMetadata(org: Org, store: DataverseStore, deps: PipelineDeps): Promise<OrgMetadata> {
  return deps.service.loadMetadata(org, store);
}

/** Step 3: the caller's security context (bearer token, membership, roles, impersonation); see {@link authorizeRequest}. */
function authenticate(request: ApiRequest, org: Org, orgUrl: string, store: DataverseStore, md: OrgMetadata, deps: PipelineDeps): Promise<SecurityContext> {
  return authorizeRequest(request.headers, org, orgUrl, deps.trust, store, md, deps.service.securityState);
}

/**
 * Step 3b: the service protection limits of the authenticated user (the calling user when impersonating),
 * for a top-level request only (`$batch` parts ride on their batch's admission).
 * @throws DataverseError 429 `0x80072322` / `0x80072321` / `0x80072326` with `Retry-After`; see {@link ServiceProtection.admit}.
 */
function protect(org: Org, security: SecurityContext, deps: PipelineDeps, topLevel: boolean): Admission | undefined {
  if (!topLevel || !deps.protection) return undefined;
  return deps.protection.admit(org.id, security.caller.callingUserId ?? security.caller.systemUserId);
}

/**
 * Checks that the security context a handler is about to get acts for an authenticated caller, never
 * {@link SecurityContext.system} (the org model's own bypass): a Web API request always carries its
 * caller's context, so a handler cannot run with full access by mistake.
 * @throws Error (answered 500 `0x80040216`, logged) when given the system context.
 */
export function requireCallerContext(security: SecurityContext): SecurityContext {
  if (security.isSystem) throw new Error(`a Web API handler was given the system security context (${security.systemReason ?? ""}); Web API requests act for their authenticated caller`);
  return security;
}

/** What {@link parsePath} found: the route kind, and the parsed resource path and table where there is one. */
interface ParsedPath {
  kind: RouteKind;
  resource?: ResourcePath;
  entity?: EntityMetadata;
  operation?: OperationCall;
}

/**
 * Step 4: the path's route kind. In order: `$batch`, the service document, definitions (`$metadata`,
 * `EntityDefinitions`, …), OData operations (`WhoAmI`, bound actions), then an entity set: the write
 * side (see {@link isWriteSideRequest}), or a read of a record, a collection or its `/$count`.
 * @throws DataverseError 404 `0x8006088a` for a path naming no resource.
 */
function parsePath(method: string, pathText: string, md: OrgMetadata, deps: PipelineDeps): ParsedPath {
  if (pathText === "$batch") return { kind: "batch" };
  if (pathText === "" || pathText === "/") return { kind: "serviceDocument" };
  if (isMetadataPath(pathText)) return { kind: "metadata" };
  const resource = parseResourcePath(pathText);
  const operation = resolveOperation(deps.operations, md, resource);
  if (operation) return { kind: "operation", resource, operation };
  const entity = md.entityBySet(resource.name);
  if (!entity) throw dv.segmentNotFound(resource.name);
  if (isWriteSideRequest(method, resource, md, entity)) return { kind: "write", resource, entity };
  if (resource.kind === "entity") return { kind: "record", resource, entity };
  if (resource.kind === "collection") return { kind: "collection", resource, entity };
  if (resource.kind === "bound" && resource.segments.length === 1 && resource.segments[0] === "$count") return { kind: "count", resource, entity };
  return { kind: "unaddressable", resource, entity };
}

/** Step 5: the handler of the route table for the path kind and method. @throws DataverseError 405 naming the method when the resource does not take it. */
function pickHandler(kind: RouteKind, method: string): WebApiHandler {
  const routes = ROUTES[kind];
  const handler = Object.hasOwn(routes, method) ? routes[method] : routes["*"];
  if (!handler) throw dv.methodNotAllowed(method);
  return handler;
}

/** The request context's lazily parsed query options (see {@link WebApiRequest.options}). */
class RequestContext {
  private parsed: QueryOptions | undefined;
  private readonly params: Map<string, string>;
  constructor(params: Map<string, string>) {
    this.params = params;
  }
  get options(): QueryOptions {
    this.parsed ??= parseQueryOptions(this.params);
    return this.parsed;
  }
}

/** What the steps before the path resolved: the org, its URLs and metadata, the caller's security context. */
interface Resolved {
  org: Org;
  orgUrl: string;
  apiUrl: string;
  md: OrgMetadata;
  security: SecurityContext;
}

/** Builds the Web API's {@link Dispatch}: the pipeline above, errors rendered as the Dataverse envelope. */
export function createPipeline(deps: PipelineDeps, defaultLog: FastifyBaseLogger): Dispatch {
  const services: WebApiServices = { service: deps.service, operations: deps.operations, writer: deps.writer };
  const run = async (raw: ApiRequest, store: DataverseStore, log: FastifyBaseLogger, topLevel: boolean): Promise<WebApiResponse> => {
    checkRequestText(raw.url, raw.headers, raw.body);
    const { org, orgUrl, apiUrl } = await resolveOrg(raw, store, deps);
    const md = await loadMetadata(org, store, deps);
    const security = requireCallerContext(await authenticate(raw, org, orgUrl, store, md, deps));
    const admission = protect(org, security, deps, topLevel);
    const resolved: Resolved = { org, orgUrl, apiUrl, md, security };
    if (!admission) return answer(raw, store, log, resolved);
    let response: WebApiResponse;
    try {
      response = await answer(raw, store, log, resolved);
    } catch (error) {
      response = errorResponse(error, log);
    }
    Object.assign(response.headers, admission.finish());
    return response;
  };
  const answer = async (raw: ApiRequest, store: DataverseStore, log: FastifyBaseLogger, { org, orgUrl, apiUrl, md, security }: Resolved): Promise<WebApiResponse> => {
    const pathText = raw.params["*"] ?? "";
    const rawQuery = raw.url.includes("?") ? raw.url.slice(raw.url.indexOf("?") + 1) : "";
    const params = splitQuery(rawQuery);
    const parsed = parsePath(raw.method, pathText, md, deps);
    const handler = pickHandler(parsed.kind, raw.method);
    const lazy = new RequestContext(params);
    const req: WebApiRequest = {
      method: raw.method,
      org,
      md,
      security,
      caller: security.caller,
      store,
      now: deps.clock.now(),
      prefer: parsePrefer(headerValue(raw.headers.prefer)),
      get options() {
        return lazy.options;
      },
      params,
      rawQuery,
      pathText,
      resource: parsed.resource,
      headers: raw.headers,
      body: raw.body,
      correlationId: raw.correlationId,
      log,
      apiUrl,
      orgUrl,
      services,
      raw,
      dispatch,
      entity: parsed.entity,
      operation: parsed.operation,
    };
    return handler(req);
  };
  const entry = (topLevel: boolean): Dispatch => async (raw, store, log = defaultLog) => {
    try {
      return await run(raw, store, log, topLevel);
    } catch (error) {
      return errorResponse(error, log);
    }
  };
  // Handlers get the part dispatcher (`$batch` parts are not admitted again); the routes get the top-level one.
  const dispatch = entry(false);
  return entry(true);
}

/** A header's value, several joined by `, `. */
function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}
