import { STATUS_CODES } from "node:http";
import { DataverseError } from "../errors.ts";
import { checkJsonText } from "../input.ts";

/**
 * OData `$batch` wire format as Dataverse speaks it: the `multipart/mixed` request parser
 * and the response writer. Pure: no I/O, no clock (the caller supplies boundary ids).
 *
 * Sources: learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api,
 * OData v4.0 Part 1 §11.7 (Batch Requests), RFC 2046 §5.1 (multipart).
 */

/** Dataverse's limit on the requests of one batch, change-set members included. */
export const MAX_BATCH_PARTS = 1000;

/** One HTTP request inside a batch. Header names are lower-cased; `body` is the raw text ('' when none). */
export interface BatchRequestPart {
  /** The part's `Content-ID` header, when it has one. */
  contentId?: string;
  method: string;
  /** The URL as written on the request line: absolute, `/api/data/v9.2/…`, relative (`accounts`) or `$n…`. */
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A top-level batch item: a lone request, or an atomic change set of requests. */
export type BatchItem = { kind: "request"; request: BatchRequestPart } | { kind: "changeset"; requests: BatchRequestPart[] };

/** One HTTP response inside a batch response; `body` is already serialized text. */
export interface BatchResponsePart {
  contentId?: string;
  status: number;
  /** Response headers in the order to write them (`Content-Type`, `OData-EntityId`, …). */
  headers: Record<string, string>;
  body?: string;
}

/** A top-level batch response item, mirroring {@link BatchItem}. */
export type BatchResponseItem = { kind: "response"; response: BatchResponsePart } | { kind: "changeset"; responses: BatchResponsePart[] };

const METHODS = new Set(["GET", "POST", "PATCH", "PUT", "DELETE"]);

/** Errors of the batch envelope itself: the whole `$batch` request fails with 400. */
const batchErrors = {
  format: (detail: string) => new DataverseError(400, "0x0", `The batch request is malformed: ${detail}`),
  // Message shape as ODataLib words it (Strings.ODataBatchReaderStream_InvalidHttpMethodForChangeSetRequest).
  getInChangeSet: (method: string) =>
    new DataverseError(400, "0x0", `An invalid HTTP method '${method}' was detected for a request in a change set. Requests in change sets only support the HTTP methods 'POST', 'PUT', 'DELETE', and 'PATCH'.`),
  // The documented limit is 1000 requests; this wording is ours (the cloud's exact text is unverified).
  tooManyParts: (count: number) => new DataverseError(400, "0x0", `The batch contains ${count} requests, more than the maximum of ${MAX_BATCH_PARTS} requests allowed in one batch.`),
  contentId: (ref: string) => new DataverseError(400, "0x0", `Content-ID Reference: '${ref}' does not exist in the batch context.`),
};

/**
 * The boundary of a `multipart/mixed` Content-Type (`boundary=batch_x` or `boundary="batch_x"`).
 * @throws DataverseError 400 when the type is not multipart/mixed or has no boundary.
 */
export function multipartBoundary(contentType: string | undefined): string {
  const type = contentType ?? "";
  if (!/^\s*multipart\/mixed\s*(;|$)/i.test(type)) throw batchErrors.format(`the Content-Type must be 'multipart/mixed; boundary=…', got '${type}'.`);
  const m = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(type);
  const boundary = m?.[1] ?? m?.[2];
  if (!boundary) throw batchErrors.format(`the Content-Type '${type}' has no boundary parameter.`);
  return boundary;
}

/** Header block lines → lower-cased name → value. */
function parseHeaders(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw batchErrors.format(`'${line}' is not a header line.`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** Splits lines into the headers before the first blank line and the rest. */
function splitHead(lines: string[]): { head: string[]; rest: string[] } {
  const blank = lines.findIndex((l) => l.trim() === "");
  return blank < 0 ? { head: lines, rest: [] } : { head: lines.slice(0, blank), rest: lines.slice(blank + 1) };
}

/**
 * The body parts between `--boundary` delimiters (preamble and epilogue dropped), as lines.
 * A missing close delimiter ends the last part at the end of the body: xrm-webapi-client
 * (v4) never writes the outer `--batch_…--`, and Dataverse accepts its batches.
 * @throws DataverseError 400 when there is no opening delimiter.
 */
function multipartBodies(lines: string[], boundary: string): string[][] {
  const open = `--${boundary}`;
  const close = `--${boundary}--`;
  const parts: string[][] = [];
  let current: string[] | undefined;
  let closed = false;
  for (const raw of lines) {
    const line = raw.trimEnd();
    if (line === close) {
      if (current) parts.push(current);
      closed = true;
      break;
    }
    if (line === open) {
      if (current) parts.push(current);
      current = [];
      continue;
    }
    current?.push(raw);
  }
  if (parts.length === 0 && !current) throw batchErrors.format(`the body has no '--${boundary}' delimiter.`);
  if (!closed && current) parts.push(current);
  return parts;
}

/** An `application/http` part (MIME headers already split off) → the request it carries. */
function parseRequestPart(mime: Record<string, string>, content: string[]): BatchRequestPart {
  const type = mime["content-type"] ?? "";
  if (!/^application\/http\s*(;|$)/i.test(type)) throw batchErrors.format(`a batch part has Content-Type '${type}'; each request part needs 'Content-Type: application/http'.`);
  if ((mime["content-transfer-encoding"] ?? "").toLowerCase() !== "binary") {
    throw batchErrors.format("the 'Content-Transfer-Encoding' header is missing or invalid; each request part needs 'Content-Transfer-Encoding: binary'.");
  }
  const start = content.findIndex((l) => l.trim() !== "");
  if (start < 0) throw batchErrors.format("a request part has no request line.");
  const requestLine = (content[start] as string).trim();
  const m = /^(\S+)\s+(.+?)\s+HTTP\/\d(?:\.\d)?$/i.exec(requestLine);
  if (!m) throw batchErrors.format(`'${requestLine}' is not a request line ('METHOD url HTTP/1.1').`);
  const method = (m[1] as string).toUpperCase();
  if (!METHODS.has(method)) throw batchErrors.format(`the HTTP method '${m[1]}' is not supported in a batch (GET, POST, PATCH, PUT, DELETE).`);
  const { head, rest } = splitHead(content.slice(start + 1));
  const contentId = mime["content-id"];
  return {
    ...(contentId !== undefined && contentId !== "" ? { contentId } : {}),
    method,
    url: m[2] as string,
    headers: parseHeaders(head),
    body: rest.join("\n").trim(),
  };
}

/**
 * Parses a `$batch` request body: top-level `application/http` parts and `changeset_` parts
 * (one level of nesting only). Accepts LF or CRLF line ends; request lines may carry absolute,
 * `/api/data/v9.x/…`, relative or `$n` URLs (resolved later, see {@link resolveContentIdUrl}).
 * @param body the raw request body
 * @param boundary from {@link multipartBoundary}
 * @returns the items in request order
 * @throws DataverseError 400 for a malformed body, a GET (or a nested change set) inside a change set,
 *   more than {@link MAX_BATCH_PARTS} requests, or a `$n` reference to a Content-ID not declared before it.
 */
export function parseBatch(body: string, boundary: string): BatchItem[] {
  const items: BatchItem[] = [];
  let count = 0;
  for (const part of multipartBodies(body.split(/\r?\n/), boundary)) {
    const { head, rest } = splitHead(part);
    const mime = parseHeaders(head);
    const type = mime["content-type"] ?? "";
    if (/^multipart\/mixed/i.test(type)) {
      const requests: BatchRequestPart[] = [];
      for (const inner of multipartBodies(rest, multipartBoundary(type))) {
        const split = splitHead(inner);
        const innerMime = parseHeaders(split.head);
        if (/^multipart\//i.test(innerMime["content-type"] ?? "")) throw batchErrors.format("a change set cannot contain another change set or batch.");
        const request = parseRequestPart(innerMime, split.rest);
        if (request.method === "GET") throw batchErrors.getInChangeSet(request.method);
        requests.push(request);
      }
      count += requests.length;
      items.push({ kind: "changeset", requests });
    } else {
      count += 1;
      items.push({ kind: "request", request: parseRequestPart(mime, rest) });
    }
  }
  if (count > MAX_BATCH_PARTS) throw batchErrors.tooManyParts(count);
  checkContentIdReferences(items);
  return items;
}

const URL_REF_RE = /^\$(\d+)(?=$|[/?(])/;

/** The `$n` references in a JSON body's `…@odata.bind` and `@odata.id` values (strings or arrays of strings). */
function bodyReferences(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const v of value) bodyReferences(v, found);
  } else if (value !== null && typeof value === "object") {
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      if (key === "@odata.id" || key.endsWith("@odata.bind")) {
        for (const s of Array.isArray(v) ? v : [v]) if (typeof s === "string" && /^\$\d+$/.test(s.trim())) found.push(s.trim());
      } else {
        bodyReferences(v, found);
      }
    }
  }
  return found;
}

function parseJsonBody(text: string): unknown {
  checkJsonText(text);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Every `$n` must name a Content-ID declared by an earlier request of the batch. */
function checkContentIdReferences(items: BatchItem[]): void {
  const declared = new Set<string>();
  const requests = items.flatMap((item) => (item.kind === "request" ? [item.request] : item.requests));
  for (const request of requests) {
    const refs = bodyReferences(request.body === "" ? undefined : parseJsonBody(request.body));
    const urlRef = URL_REF_RE.exec(request.url.trim());
    if (urlRef) refs.unshift(`$${urlRef[1] as string}`);
    for (const ref of refs) if (!declared.has(ref.slice(1))) throw batchErrors.contentId(ref);
    if (request.contentId !== undefined) declared.add(request.contentId);
  }
}

/**
 * Resolves a leading `$n` in a part's URL (`$1`, `$1/lastname`, `$1/primarycontactid/$ref`)
 * to the URL of the record that part `n` created (its `OData-EntityId`).
 * @param ids Content-ID → entity URL, of the requests run so far
 * @throws DataverseError 400 `Content-ID Reference: '$n' does not exist in the batch context.`
 */
export function resolveContentIdUrl(url: string, ids: ReadonlyMap<string, string>): string {
  const trimmed = url.trim();
  const m = URL_REF_RE.exec(trimmed);
  if (!m) return trimmed;
  const target = ids.get(m[1] as string);
  if (target === undefined) throw batchErrors.contentId(m[0]);
  return target + trimmed.slice(m[0].length);
}

/**
 * Replaces `$n` values of `…@odata.bind` and `@odata.id` properties (at any depth, in arrays too)
 * with the entity URLs they stand for. Returns a new value; `body` is not changed.
 * @throws DataverseError 400 `Content-ID Reference: '$n' does not exist in the batch context.`
 */
export function resolveContentIdReferences(body: unknown, ids: ReadonlyMap<string, string>): unknown {
  const resolve = (s: unknown): unknown => {
    if (typeof s !== "string" || !/^\$\d+$/.test(s.trim())) return s;
    const target = ids.get(s.trim().slice(1));
    if (target === undefined) throw batchErrors.contentId(s.trim());
    return target;
  };
  if (Array.isArray(body)) return body.map((v) => resolveContentIdReferences(v, ids));
  if (body === null || typeof body !== "object") return body;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(body as Record<string, unknown>)) {
    if (key === "@odata.id" || key.endsWith("@odata.bind")) out[key] = Array.isArray(v) ? v.map(resolve) : resolve(v);
    else out[key] = resolveContentIdReferences(v, ids);
  }
  return out;
}

/** `HTTP/1.1 204 No Content`: the reason phrase clients' status regexes expect. */
function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Unknown"}`;
}

function writePart(response: BatchResponsePart): string {
  const lines = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"];
  if (response.contentId !== undefined) lines.push(`Content-ID: ${response.contentId}`);
  lines.push("", statusLine(response.status));
  for (const [name, value] of Object.entries(response.headers)) lines.push(`${name}: ${value}`);
  lines.push("", response.body ?? "");
  return lines.join("\r\n") + "\r\n";
}

/**
 * Writes a batch response body: CRLF line ends, `--batchresponse_<id>` delimiters (the body starts
 * with one), change sets wrapped in `changesetresponse_<id>`, each response an `application/http`
 * part with `Content-Transfer-Encoding: binary`, its `Content-ID` echoed, and a `HTTP/1.1 <code> <reason>`
 * status line — the shape dynamics-web-api, dataverse-ify and xrm-webapi-client parse.
 * @param newId returns a fresh lower-case GUID per call (one for the batch, one per change set)
 * @returns the response `Content-Type` (with `boundary=`) and body
 */
export function writeBatchResponse(items: BatchResponseItem[], newId: () => string): { contentType: string; body: string } {
  const boundary = `batchresponse_${newId()}`;
  let body = "";
  for (const item of items) {
    body += `--${boundary}\r\n`;
    if (item.kind === "response") {
      body += writePart(item.response);
      continue;
    }
    const changeset = `changesetresponse_${newId()}`;
    body += `Content-Type: multipart/mixed; boundary=${changeset}\r\n\r\n`;
    for (const response of item.responses) body += `--${changeset}\r\n${writePart(response)}`;
    body += `--${changeset}--\r\n`;
  }
  body += `--${boundary}--\r\n`;
  return { contentType: `multipart/mixed; boundary=${boundary}`, body };
}
