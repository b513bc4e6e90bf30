import type { IncomingHttpHeaders } from "node:http";
import type { FastifyBaseLogger } from "fastify";
import type { Caller } from "./model.ts";
import { dv, ERROR_CONTENT_TYPE, errorBody, toDataverseError, type DataverseError } from "./errors.ts";
import type { OperationCall, OperationRegistry } from "./functions.ts";
import type { EntityMetadata } from "./metadata/types.ts";
import type { OrgMetadata } from "./metadata/registry.ts";
import type { Org } from "./model.ts";
import type { ResourcePath } from "./odata/path.ts";
import type { ReadPreferences } from "./odata/prefer.ts";
import type { QueryOptions } from "./odata/query-options.ts";
import type { SecurityContext } from "./security/context.ts";
import type { DataverseService } from "./service.ts";
import type { DataverseStore } from "./store.ts";
import type { RecordWriter } from "./writer.ts";

/**
 * One Web API request as it arrives at the pipeline: a top-level HTTP request or a `$batch` part
 * (`routes.ts` builds it from Fastify's request, `handlers/batch.ts` from a part).
 */
export interface ApiRequest {
  method: string;
  /** Path and raw query as received: `/org/{name}/api/data/{version}/{path}?{query}`. */
  url: string;
  params: { org: string; version: string; "*": string };
  /**
   * True when the request came without the org segment (`/org/api/data/…`, the org named by the token's
   * audience): the URLs in the answer (`@odata.context`, next and delta links, `OData-EntityId`) then use
   * that base too, as clients such as dynamics-web-api only follow links under the base they call.
   */
  orgless?: boolean;
  headers: IncomingHttpHeaders;
  /** Parsed JSON, raw text, or undefined when there is none. */
  body: unknown;
  /** The correlation id (Fastify's request id; a `$batch` part carries its outer request's). */
  correlationId: string;
}

/**
 * Runs one {@link ApiRequest} through the whole pipeline (resolve org → load metadata → authenticate →
 * parse path → pick handler) against `store` — a transaction-bound store for `$batch` change sets —
 * and returns its response; errors become the Dataverse error envelope.
 */
export type Dispatch = (request: ApiRequest, store: DataverseStore, log?: FastifyBaseLogger) => Promise<WebApiResponse>;

/** What the pipeline is built with (the Web API's collaborators, fixed at start-up). */
export interface WebApiServices {
  service: DataverseService;
  operations: OperationRegistry;
  writer: RecordWriter;
}

/**
 * The one context every Web API handler gets, built by the pipeline's named steps
 * (`pipeline.ts`): the org, its metadata, the authenticated caller's security context, the store
 * (a change set's transaction inside `$batch`), the request's preferences and query options, the
 * parsed resource path, the correlation id and the base URL answers link to. Modelled on Azurite's one
 * request context and node-oidc-provider's `ctx.oidc`.
 */
export interface WebApiRequest {
  readonly method: string;
  readonly org: Org;
  readonly md: OrgMetadata;
  /** The security context of the user the request acts as (after impersonation); required: every Web API request is authenticated. */
  readonly security: SecurityContext;
  /** `security.caller`. */
  readonly caller: Caller;
  readonly store: DataverseStore;
  /** "Now" in ms since the epoch (UTC), read once per request from the clock (date query functions). */
  readonly now: number;
  /** The read preferences of the `Prefer` header. */
  readonly prefer: ReadPreferences;
  /**
   * The parsed query options. Parsed on first use: resources that take none of them (metadata,
   * `$batch`) never parse them, so their own errors come first.
   * @throws DataverseError 400 for a malformed query option.
   */
  readonly options: QueryOptions;
  /** The decoded query options by name (`$select` → `name,…`). */
  readonly params: Map<string, string>;
  /** The raw query string as received (kept verbatim in `@odata.nextLink`). */
  readonly rawQuery: string;
  /** The resource path after `/api/data/vX.Y/`, as received (decoded). */
  readonly pathText: string;
  /** The parsed resource path; undefined for `$batch`, the service document and definition paths. */
  readonly resource: ResourcePath | undefined;
  /** The table of the entity set the path names (record, collection and write-side routes). */
  readonly entity: EntityMetadata | undefined;
  /** The OData function or action the path calls (operation routes). */
  readonly operation: OperationCall | undefined;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON, raw text (`$batch`), or undefined. */
  readonly body: unknown;
  readonly correlationId: string;
  /** The request's logger (its lines carry the correlation id). */
  readonly log: FastifyBaseLogger;
  /** `{orgUrl}/api/data/vX.Y` (org-less requests: `{base}/org/api/data/vX.Y`): the base URL answers link to. */
  readonly apiUrl: string;
  /** `{base}/org/{name}`. */
  readonly orgUrl: string;
  readonly services: WebApiServices;
  /** The request as received (a `$batch` handler reads its parts' inherited headers and org from it). */
  readonly raw: ApiRequest;
  /** Runs another request (a `$batch` part) through the same pipeline. */
  readonly dispatch: Dispatch;
}

/**
 * The request-context fields a query over one table needs (collection and record reads, `$expand`,
 * FetchXML, change tracking, `$apply`): the handlers' argument types pick them from here rather than
 * repeat them, and add the table, its query options and the caller's filter identity.
 */
export type QueryContext = Pick<WebApiRequest, "store" | "org" | "md" | "apiUrl" | "security" | "now" | "prefer">;

/** A Web API handler: one request context in, one response out. */
export type WebApiHandler = (req: WebApiRequest) => Promise<WebApiResponse>;

/** A response body: JSON, text (`/$count`, CSDL, `$value`), none, or a `$batch` multipart text. */
export type WebApiBody = { kind: "json"; value: unknown } | { kind: "text"; text: string } | { kind: "batch"; text: string } | { kind: "none" };

/** The one Web API response shape: status, headers (lower-case names) and body. */
export interface WebApiResponse {
  status: number;
  headers: Record<string, string>;
  body: WebApiBody;
}

/** The content type of JSON answers (and, unless a handler sets another, of every answer). */
const JSON_TYPE = ERROR_CONTENT_TYPE;

/** Lower-cases header names (handlers may spell them `OData-EntityId`). */
function lower(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) out[name.toLowerCase()] = value;
  return out;
}

/** A response; `body` undefined → none, a string → text, anything else → JSON. Content type JSON unless `headers` set one. */
export function respond(status: number, headers: Record<string, string> | undefined, body: unknown): WebApiResponse {
  const kind: WebApiBody = body === undefined ? { kind: "none" } : typeof body === "string" ? { kind: "text", text: body } : { kind: "json", value: body };
  return { status, headers: { "content-type": JSON_TYPE, ...lower(headers) }, body: kind };
}

/** 200 with a JSON body. */
export function json(value: unknown, headers?: Record<string, string>): WebApiResponse {
  return { status: 200, headers: { "content-type": JSON_TYPE, ...lower(headers) }, body: { kind: "json", value } };
}

/** The payload Fastify sends for a body (a string as is, JSON serialized by Fastify, nothing). */
export function payloadOf(body: WebApiBody): unknown {
  switch (body.kind) {
    case "json":
      return body.value;
    case "text":
    case "batch":
      return body.text;
    case "none":
      return undefined;
  }
}

/**
 * Any error → the Dataverse error response (the one place it is rendered): status, the error's
 * headers (`WWW-Authenticate`), {@link ERROR_CONTENT_TYPE} and `{"error":{"code","message"}}`
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors).
 * Unexpected errors are logged (with the request's correlation id, via `log`) and answer 500 `0x80040216`.
 */
export function errorResponse(error: unknown, log: FastifyBaseLogger): WebApiResponse {
  let dvError: DataverseError | undefined = toDataverseError(error);
  if (!dvError) {
    log.error({ err: error }, "dataverse request failed");
    dvError = dv.unexpected();
  }
  if (dvError.status >= 500) log.error({ code: dvError.code }, dvError.message);
  return { status: dvError.status, headers: { ...lower(dvError.headers), "content-type": ERROR_CONTENT_TYPE }, body: { kind: "json", value: errorBody(dvError) } };
}
