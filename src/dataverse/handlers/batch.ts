import type { IncomingHttpHeaders } from "node:http";
import { newGuid } from "../../common/ids.ts";
import { DataverseError } from "../errors.ts";
import { checkJsonText } from "../input.ts";
import {
  multipartBoundary,
  parseBatch,
  resolveContentIdReferences,
  resolveContentIdUrl,
  writeBatchResponse,
  type BatchRequestPart,
  type BatchResponseItem,
  type BatchResponsePart,
} from "../odata/batch.ts";
import { errorResponse, type ApiRequest, type WebApiRequest, type WebApiResponse } from "../request.ts";
import type { DataverseStore } from "../store.ts";

/**
 * `POST /$batch` (learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api):
 * runs each part, in order, through the same dispatch as a top-level request. A change set runs
 * inside one SQL transaction and is rolled back whole when one of its requests fails.
 */

/** Outer headers every part inherits: authentication and impersonation. */
const INHERITED = ["authorization", "mscrmcallerid", "callerobjectid"] as const;

/** Thrown inside a change set's transaction to roll it back. */
class ChangeSetFailed extends Error {}

/** `Prefer: odata.continue-on-error` (OData v4.0 Part 1 §8.2.8.3), without `=false`. */
function continueOnError(prefer: string | string[] | undefined): boolean {
  const header = Array.isArray(prefer) ? prefer.join(",") : (prefer ?? "");
  return /(^|[,;\s])odata\.continue-on-error\s*(=\s*"?true"?\s*)?($|[,;])/i.test(header);
}

function decodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw new DataverseError(400, "0x0", `The request URL path '${path}' is not validly percent-encoded.`);
  }
}

/**
 * A part's request line URL (after `$n` resolution) → the outer API's version, resource path and
 * raw query. Absolute URLs and `/…/api/data/v9.x/…` paths must address the outer request's org
 * (`/org/{name}/…`, or `/org/api/data/…`, the org-less form).
 */
function innerTarget(url: string, outer: ApiRequest): { version: string; rest: string; query: string } {
  let path = url;
  if (/^https?:\/\//i.test(path)) {
    try {
      const u = new URL(path);
      path = u.pathname + u.search;
    } catch {
      throw new DataverseError(400, "0x0", `The request URL '${url}' in the batch is not a valid URL.`);
    }
  }
  const q = path.indexOf("?");
  const query = q >= 0 ? path.slice(q + 1) : "";
  if (q >= 0) path = path.slice(0, q);
  const m = /^(.*?)\/?api\/data\/(v[^/]+)(?:\/(.*))?$/i.exec(path);
  if (!m) return { version: outer.params.version, rest: decodePath(path.replace(/^\/+/, "")), query };
  const prefix = (m[1] as string).replace(/\/+$/, "");
  // `/org/api/data/…` (no org segment) is the org the outer request's verified token names: this one.
  if (prefix !== "" && prefix.toLowerCase() !== "/org" && decodePath(prefix).toLowerCase() !== `/org/${outer.params.org}`.toLowerCase()) {
    throw new DataverseError(400, "0x0", `The request URL '${url}' in the batch does not address this organization's Web API.`);
  }
  return { version: m[2] as string, rest: decodePath(m[3] ?? ""), query };
}

/** A part's body: JSON when its Content-Type says so (`application/json`, `;type=entry`), else text. */
function innerBody(part: BatchRequestPart): unknown {
  if (part.body === "") return undefined;
  if (!/^application\/json/i.test(part.headers["content-type"] ?? "application/json")) return part.body;
  checkJsonText(part.body);
  try {
    return JSON.parse(part.body) as unknown;
  } catch (error) {
    throw new DataverseError(400, "0x80048d19", `Error identified in Payload provided by the user for Entity :'', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : ${(error as Error).message}`);
  }
}

function innerHeaders(part: BatchRequestPart, outer: IncomingHttpHeaders): IncomingHttpHeaders {
  const headers: Record<string, string> = { ...part.headers };
  delete headers.authorization;
  for (const name of INHERITED) {
    const value = outer[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return headers;
}

/** Runs one part through the dispatcher with `store`; records its entity URL under its Content-ID. */
async function runPart(part: BatchRequestPart, context: WebApiRequest, store: DataverseStore, ids: Map<string, string>): Promise<BatchResponsePart> {
  const outer = context.raw;
  let response: WebApiResponse;
  try {
    const { version, rest, query } = innerTarget(resolveContentIdUrl(part.url, ids), outer);
    if (rest.replace(/\/+$/, "") === "$batch") throw new DataverseError(400, "0x0", "A batch request cannot contain another batch request.");
    response = await context.dispatch(
      {
        method: part.method,
        url: `/org/${outer.params.org}/api/data/${version}/${rest}${query ? `?${query}` : ""}`,
        params: { org: outer.params.org, version, "*": rest },
        ...(outer.orgless ? { orgless: true } : {}),
        headers: innerHeaders(part, outer.headers),
        body: resolveContentIdReferences(innerBody(part), ids),
        correlationId: outer.correlationId,
      },
      store,
      context.log,
    );
  } catch (error) {
    if (!(error instanceof DataverseError)) throw error;
    response = errorResponse(error, context.log);
  }
  const entityId = Object.entries(response.headers).find(([name]) => name.toLowerCase() === "odata-entityid")?.[1];
  if (part.contentId !== undefined && entityId !== undefined && response.status < 400) ids.set(part.contentId, entityId);
  return toPart(part.contentId, response, entityId);
}

/** A dispatcher response → a batch response part: Content-Type, OData-Version, Location/OData-EntityId, then the rest. */
function toPart(contentId: string | undefined, response: WebApiResponse, entityId: string | undefined): BatchResponsePart {
  const headers: Record<string, string> = {};
  const rest = Object.entries(response.headers).filter(([name]) => !["content-type", "odata-version", "odata-entityid", "location", "content-length"].includes(name.toLowerCase()));
  let body: string | undefined;
  if (response.body.kind !== "none") {
    const type = Object.entries(response.headers).find(([name]) => name.toLowerCase() === "content-type")?.[1];
    body = response.body.kind === "json" ? JSON.stringify(response.body.value) : response.body.text;
    headers["Content-Type"] = type ?? "application/json; odata.metadata=minimal";
  }
  headers["OData-Version"] = "4.0";
  if (entityId !== undefined) {
    headers.Location = entityId;
    headers["OData-EntityId"] = entityId;
  }
  for (const [name, value] of rest) headers[name] = value;
  return { ...(contentId !== undefined ? { contentId } : {}), status: response.status, headers, ...(body !== undefined ? { body } : {}) };
}

/**
 * Executes a `$batch` request. Parts run sequentially; each is authorized like a top-level request
 * with the outer bearer token and impersonation headers. A change set runs in one transaction and,
 * when a request fails, is rolled back and answered with that request's error alone. The first
 * failure stops the batch, which then answers 400 with the responses so far; with
 * `Prefer: odata.continue-on-error` every item runs and the batch answers 200.
 * `$n` in URLs and in `@odata.bind` / `@odata.id` values resolve to the URL of the record that the
 * request with `Content-ID: n` created.
 * @returns 200 (or 400) `multipart/mixed; boundary=batchresponse_<guid>` with a CRLF body
 * @throws DataverseError 400 for a malformed batch, a GET in a change set, more than 1000 requests,
 *   or a forward `$n` reference (the whole batch fails, before any part runs)
 */
export async function handleBatch(context: WebApiRequest): Promise<WebApiResponse> {
  const contentType = context.headers["content-type"];
  const items = parseBatch(typeof context.body === "string" ? context.body : "", multipartBoundary(Array.isArray(contentType) ? contentType[0] : contentType));
  const keepGoing = continueOnError(context.headers.prefer);
  const ids = new Map<string, string>();
  const out: BatchResponseItem[] = [];
  let failed = false;
  for (const item of items) {
    if (item.kind === "request") {
      const response = await runPart(item.request, context, context.store, ids);
      out.push({ kind: "response", response });
      failed = response.status >= 400;
    } else {
      const local = new Map(ids);
      const responses: BatchResponsePart[] = [];
      try {
        await context.store.transaction(async (trx) => {
          for (const request of item.requests) {
            const response = await runPart(request, context, trx, local);
            responses.push(response);
            if (response.status >= 400) throw new ChangeSetFailed();
          }
        });
        for (const [id, url] of local) ids.set(id, url);
        out.push({ kind: "changeset", responses });
        failed = false;
      } catch (error) {
        if (!(error instanceof ChangeSetFailed)) throw error;
        out.push({ kind: "changeset", responses: responses.slice(-1) });
        failed = true;
      }
    }
    if (failed && !keepGoing) break;
  }
  const { contentType: type, body } = writeBatchResponse(out, newGuid);
  return { status: failed && !keepGoing ? 400 : 200, headers: { "content-type": type }, body: { kind: "batch", text: body } };
}
