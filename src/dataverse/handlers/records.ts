import { dv } from "../errors.ts";
import { attachExpands, bindExpands, expandColumns, type BoundExpand, type ExpandContext } from "./expand.ts";
import { selectedAttributes, sqlColumns } from "./columns.ts";
import type { EntityMetadata } from "../metadata/types.ts";
import type { Row } from "../model.ts";
import { annotateRecord, planAnnotations } from "../odata/annotations.ts";
import { parseFilter } from "../odata/filter.ts";
import { bindFilter, type FilterCaller } from "../odata/filter-binder.ts";
import { parseOrderBy } from "../odata/orderby.ts";
import { decodeSkipToken, encodeSkipToken, nextLink, sortKeys, withKeyColumns } from "../odata/paging.ts";
import { keysetPredicate } from "../keyset.ts";
import { AnnotationSelection } from "../odata/prefer.ts";
import { expandContext } from "../odata/expand.ts";
import type { QueryOptions } from "../odata/query-options.ts";
import { rowSerializer, serializeRow } from "../odata/serializer.ts";
import type { Expr } from "../store.ts";
import { withScope } from "../security/scope.ts";
import type { QueryContext, WebApiRequest } from "../request.ts";

/** Dataverse's default and maximum page size. */
export const MAX_PAGE_SIZE = 5000;

export function contextSuffix(options: QueryOptions): string {
  const parts = [...(options.select ?? []), ...expandContext(options.expand ?? [])];
  return parts.length > 0 ? `(${parts.join(",")})` : "";
}

/** What a collection read needs besides the store: the caller (query functions), now, and the request URL (nextLink). */
export interface ReadRequest extends QueryContext, Pick<WebApiRequest, "rawQuery"> {
  entity: EntityMetadata;
  options: QueryOptions;
  caller: FilterCaller;
  /** `{apiUrl}/{path}` as requested, without the query string. */
  resourceUrl: string;
  /** Rows the resource path restricts the read to (the related rows of a navigation property), ANDed into the SQL. */
  within?: Expr;
}

/** A read's JSON body and the `Preference-Applied` value to send. */
export interface ReadResult {
  body: Record<string, unknown>;
  preferenceApplied: string | undefined;
}

/** Dataverse caps `$count` and `/$count` at 5000 (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows). */
export const MAX_COUNT = 5000;

/**
 * The `$filter` predicate of a read, bound to the table (undefined without `$filter`); every lookup
 * path and lambda in it carries the caller's Read scope of the table it reaches.
 */
async function wherePredicate(request: Pick<ReadRequest, "md" | "entity" | "options" | "caller" | "now" | "security">): Promise<Expr | undefined> {
  const { options } = request;
  if (options.filter === undefined) return undefined;
  return bindFilter({ md: request.md, entity: request.entity, caller: request.caller, now: request.now }, parseFilter(options.filter, options.aliases), (entity) => request.security.readScope(entity));
}

/** The bound `$expand` of a read and what running it needs (undefined without `$expand`). */
async function bindRequestExpands(
  request: Pick<ReadRequest, "store" | "org" | "md" | "entity" | "options" | "caller" | "now" | "apiUrl" | "security">,
  selection: AnnotationSelection,
): Promise<{ ctx: ExpandContext; bound: BoundExpand[] } | undefined> {
  const items = request.options.expand;
  if (!items) return undefined;
  const ctx: ExpandContext = { store: request.store, org: request.org, md: request.md, caller: request.caller, security: request.security, now: request.now, selection, apiUrl: request.apiUrl, aliases: request.options.aliases };
  return { ctx, bound: await bindExpands(ctx, request.entity, items) };
}

/** `columns` plus the lookup columns single-valued expands read through. */
function withExpandColumns(columns: string[], expands: { bound: BoundExpand[] } | undefined): string[] {
  const extra = expandColumns(expands?.bound ?? []).filter((c) => !columns.includes(c));
  return extra.length > 0 ? [...columns, ...extra] : columns;
}

export function preferenceApplied(parts: (string | undefined)[]): string | undefined {
  const applied = parts.filter((p): p is string => p !== undefined);
  return applied.length > 0 ? applied.join(",") : undefined;
}

/**
 * `GET /{set}`: `$select`, `$filter`, `$orderby`, `$top`, `$count` and server-driven paging
 * compiled to one SQL statement (plus one capped COUNT for `$count=true`).
 * Page size: `Prefer: odata.maxpagesize` (default and maximum 5000); while more rows remain the
 * body carries `@odata.nextLink` with a `$skiptoken` paging cookie, and on the last page it does not. A later page is
 * read by keyset after the previous page's last row (`odata/paging.ts`): every page costs the same.
 * `$top` returns at most `$top` rows in one response and disables paging (page-results.md).
 */
export async function readCollection(request: ReadRequest): Promise<ReadResult> {
  const { store, org, md, entity, options, apiUrl, prefer } = request;
  const attributes = selectedAttributes(md, entity, options.select);
  const where = withScope(withScope(await request.security.scope("Read", entity), request.within), await wherePredicate(request));
  const orderBy = parseOrderBy(md, entity, options.orderBy);
  const selection = new AnnotationSelection(prefer.includeAnnotations);
  const plan = planAnnotations(md, entity, attributes, selection);
  const expands = await bindRequestExpands(request, selection);
  const keys = sortKeys(md, entity, orderBy);
  const cookie = options.skipToken !== undefined ? decodeSkipToken(options.skipToken, keys) : undefined;
  if (cookie?.deltaStart !== undefined) throw dv.querySyntax("the $skiptoken is a change-tracking paging cookie; replay @odata.nextLink verbatim, with Prefer: odata.track-changes");
  const paged = options.top === undefined;
  const pageSize = Math.min(prefer.maxPageSize ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE);
  const limit = paged ? pageSize + 1 : Math.min(options.top as number, MAX_PAGE_SIZE);
  // The next page starts after the previous page's last row (keyset), next to (never inside) the Read scope and $filter.
  const pageWhere = cookie ? withScope(where, keysetPredicate(keys, cookie.after)) : where;
  const rows = await store.selectRows(org, {
    entity,
    columns: withKeyColumns(withExpandColumns(sqlColumns(entity, attributes), expands), keys),
    ...(pageWhere ? { where: pageWhere } : {}),
    orderBy,
    limit,
    ...(plan.related.length > 0 ? { related: plan.related } : {}),
  });
  const more = paged && rows.length > pageSize;
  if (more) rows.pop();

  const body: Record<string, unknown> = { "@odata.context": `${apiUrl}/$metadata#${entity.entitySetName}${contextSuffix(options)}` };
  if (options.count) {
    const total = await store.countRows(org, { entity, ...(where ? { where } : {}), limit: MAX_COUNT + 1 });
    body["@odata.count"] = Math.min(total, MAX_COUNT);
    if (selection.has("Microsoft.Dynamics.CRM.totalrecordcount")) body["@Microsoft.Dynamics.CRM.totalrecordcount"] = Math.min(total, MAX_COUNT);
    if (selection.has("Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded")) body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] = total > MAX_COUNT;
  }
  const serialize = rowSerializer(attributes);
  const records = rows.map((row) => annotateRecord(attributes, row, serialize(row), plan));
  if (expands) await attachExpands(expands.ctx, entity, expands.bound, rows, records);
  body.value = records;
  if (more) {
    const token = encodeSkipToken((cookie?.pageNumber ?? 1) + 1, keys, rows[0] as Row, rows[rows.length - 1] as Row);
    body["@odata.nextLink"] = nextLink(request.resourceUrl, request.rawQuery, token);
  }
  return {
    body,
    preferenceApplied: preferenceApplied([
      prefer.includeAnnotations !== undefined ? `odata.include-annotations="${prefer.includeAnnotations}"` : undefined,
      paged && prefer.maxPageSize !== undefined ? `odata.maxpagesize=${pageSize}` : undefined,
    ]),
  };
}

/**
 * `GET /{set}/$count`: the number of rows matching `$filter`, capped at 5000, sent as text/plain
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows).
 */
export async function countCollection(request: Pick<ReadRequest, "store" | "org" | "md" | "entity" | "options" | "caller" | "security" | "now">): Promise<number> {
  const { options } = request;
  for (const option of ["select", "orderBy", "top", "skipToken", "expand"] as const) if (options[option] !== undefined) throw dv.queryOptionNotSupported(`${option === "orderBy" ? "$orderby" : `$${option.toLowerCase()}`} with /$count`);
  const where = withScope(await request.security.scope("Read", request.entity), await wherePredicate(request));
  const total = await request.store.countRows(request.org, { entity: request.entity, ...(where ? { where } : {}), limit: MAX_COUNT + 1 });
  return Math.min(total, MAX_COUNT);
}

/** What {@link readEntity} needs. */
export interface ReadEntityArgs extends Pick<QueryContext, "store" | "org" | "md" | "apiUrl" | "now" | "security">, Partial<Pick<QueryContext, "prefer">> {
  entity: EntityMetadata;
  id: string;
  options: QueryOptions;
  caller: FilterCaller;
}

/**
 * True when `If-None-Match` (a comma-separated list of entity tags such as `W/"1234"`) names the
 * record's current ETag (RFC 9110 §13.1.2, weak comparison).
 */
function etagMatches(ifNoneMatch: string, etag: string): boolean {
  const weak = (tag: string) => tag.trim().replace(/^W\//, "");
  return ifNoneMatch.split(",").some((tag) => weak(tag) === weak(etag));
}

/**
 * `GET /{set}({id})`. The caller (`security`) needs `prvRead{Entity}` and access to the record.
 * With `ifNoneMatch` (the `If-None-Match` header) naming the record's current ETag it resolves to
 * `undefined` (the caller answers 304 Not Modified, no body) — never when `$expand` or annotations
 * are requested, as those may change without the row's version changing
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api#conditional-retrievals).
 * @throws DataverseError 404 `0x80040217` when the row does not exist; 403 `0x80040220` / `0x80048306` (security).
 */
export async function readEntity(args: ReadEntityArgs & { ifNoneMatch: string | undefined }): Promise<Record<string, unknown> | undefined>;
export async function readEntity(args: ReadEntityArgs): Promise<Record<string, unknown>>;
export async function readEntity(args: ReadEntityArgs & { ifNoneMatch?: string | undefined }): Promise<Record<string, unknown> | undefined> {
  const { store, org, md, entity, id, options, apiUrl } = args;
  await args.security.assertRecordAccess("Read", entity, id);
  if (options.top !== undefined) throw dv.queryOptionNotSupported("$top on a single record");
  if (options.filter !== undefined) throw dv.queryOptionNotSupported("$filter on a single record");
  if (options.orderBy !== undefined) throw dv.queryOptionNotSupported("$orderby on a single record");
  if (options.count !== undefined) throw dv.queryOptionNotSupported("$count on a single record");
  if (options.skipToken !== undefined) throw dv.queryOptionNotSupported("$skiptoken on a single record");
  const attributes = selectedAttributes(md, entity, options.select);
  const selection = new AnnotationSelection(args.prefer?.includeAnnotations);
  const plan = planAnnotations(md, entity, attributes, selection);
  const expands = await bindRequestExpands({ ...args, now: args.now, security: args.security }, selection);
  const [row] = await store.selectRows(org, {
    entity,
    columns: withExpandColumns(sqlColumns(entity, attributes), expands),
    where: { kind: "compare", op: "eq", left: { kind: "column", name: entity.primaryIdAttribute }, right: { kind: "value", value: id } },
    orderBy: [],
    limit: 1,
    ...(plan.related.length > 0 ? { related: plan.related } : {}),
  });
  if (!row) throw dv.recordNotFound(entity.logicalName, id);
  const conditional = args.ifNoneMatch !== undefined && options.expand === undefined && args.prefer?.includeAnnotations === undefined;
  if (conditional && row.versionnumber !== undefined && row.versionnumber !== null && etagMatches(args.ifNoneMatch as string, `W/"${String(row.versionnumber)}"`)) return undefined;
  const record = annotateRecord(attributes, row, serializeRow(entity, attributes, row), plan);
  if (expands) await attachExpands(expands.ctx, entity, expands.bound, [row], [record]);
  return { "@odata.context": `${apiUrl}/$metadata#${entity.entitySetName}${contextSuffix(options)}/$entity`, ...record };
}
