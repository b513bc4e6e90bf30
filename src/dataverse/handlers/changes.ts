import { DataverseError, dv } from "../errors.ts";
import { changeTrackingEnabled } from "../metadata/standard.ts";
import type { EntityMetadata } from "../metadata/types.ts";
import type { QueryOptions } from "../odata/query-options.ts";
import { annotateRecord, planAnnotations } from "../odata/annotations.ts";
import { decodeSkipToken, encodeSkipToken, sortKeys, withKeyColumns } from "../odata/paging.ts";
import { keysetPredicate } from "../keyset.ts";
import type { Row } from "../model.ts";
import { AnnotationSelection } from "../odata/prefer.ts";
import { rowSerializer } from "../odata/serializer.ts";
import { withScope } from "../security/scope.ts";
import type { Expr, RecordQuery } from "../store.ts";
import { selectedAttributes, sqlColumns } from "./columns.ts";
import { MAX_PAGE_SIZE, contextSuffix, preferenceApplied, type ReadRequest, type ReadResult } from "./records.ts";

/** Query options a change-tracking read refuses (learn.microsoft.com/power-apps/developer/data-platform/use-change-tracking-synchronize-data-external-systems). */
const REFUSED = [
  ["$filter", "filter"],
  ["$orderby", "orderBy"],
  ["$top", "top"],
  ["$expand", "expand"],
  ["$count", "count"],
  ["$apply", "apply"],
] as const;

/**
 * A `$deltatoken` as Dataverse writes it: `{version}!{MM/dd/yyyy HH:mm:ss}` (UTC), e.g.
 * `919042!08/22/2017 08:10:44`; the version is the highest `versionnumber` the read covered.
 */
function encodeDeltaToken(version: number, now: number): string {
  const d = new Date(now);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${version}!${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())}/${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

/**
 * The version a `$deltatoken` orgbox issued starts after.
 * @throws DataverseError 400 `0x80060888` for a token orgbox did not issue.
 */
function decodeDeltaToken(token: string): number {
  const m = /^(\d{1,16})!\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}:\d{2}$/.exec(token.trim());
  if (!m) throw dv.querySyntax("the $deltatoken is not a change-tracking token orgbox issued; replay @odata.deltaLink verbatim");
  return Number(m[1]);
}

/** Every reserved character escaped, in lower case (`%21`, `%2f`), as Dataverse writes the token in its links. */
function encodeLower(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)
    .replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase());
}

/**
 * The request URL with `name=value`: a delta link replaces `$skiptoken` and `$deltatoken`; a next link replaces
 * `$skiptoken` only, as the next page of a delta read is still the changes since the same `$deltatoken`.
 */
function linkWith(request: ReadRequest, name: "$skiptoken" | "$deltatoken", value: string): string {
  const replaced = name === "$skiptoken" ? /^(\$|%24)skiptoken=/i : /^(\$|%24)(skiptoken|deltatoken)=/i;
  const kept = request.rawQuery.split("&").filter((p) => p.length > 0 && !replaced.test(p));
  kept.push(`${name}=${encodeLower(value)}`);
  return `${request.resourceUrl}?${kept.join("&")}`;
}

/**
 * A change-tracking read needs a table with `ChangeTrackingEnabled` and no option Dataverse refuses with it.
 * @throws DataverseError 400 `0x80060888` naming the table or the option.
 */
function assertTrackable(entity: EntityMetadata, options: QueryOptions): void {
  if (!changeTrackingEnabled(entity)) throw new DataverseError(400, "0x80060888", `Change tracking is not enabled for the table '${entity.logicalName}' (ChangeTrackingEnabled is false).`);
  const [option] = REFUSED.find(([, key]) => options[key] !== undefined) ?? [];
  if (option !== undefined) throw new DataverseError(400, "0x80060888", `The query parameter ${option} is not supported when change tracking is enabled.`);
}

/**
 * Change tracking on an entity set: `Prefer: odata.track-changes` returns every row (paged) and, on the
 * last page, an `@odata.deltaLink`; `GET` on that link (`$deltatoken`) returns the rows created or
 * updated since (context `…/$delta`), then `$deletedEntity` entries for the rows deleted since, and
 * a new delta link (learn.microsoft.com/power-apps/developer/data-platform/use-change-tracking-synchronize-data-external-systems).
 * One SQL statement per page over `versionnumber`, under the caller's Read scope; `$select` only.
 * @throws DataverseError 400 `0x80060888` for a table without change tracking, a refused option
 *   (`$filter`, `$orderby`, `$top`, `$expand`, `$count`, `$apply`) or a token orgbox did not issue.
 */
export async function readChanges(request: ReadRequest): Promise<ReadResult> {
  const { store, org, md, entity, options, prefer, apiUrl } = request;
  assertTrackable(entity, options);
  const since = options.deltaToken !== undefined ? decodeDeltaToken(options.deltaToken) : undefined;
  const orderBy: RecordQuery["orderBy"] = since === undefined ? [{ column: entity.primaryIdAttribute, descending: false }] : [{ column: "versionnumber", descending: false }, { column: entity.primaryIdAttribute, descending: false }];
  const keys = sortKeys(md, entity, orderBy);
  const cookie = options.skipToken !== undefined ? decodeSkipToken(options.skipToken, keys) : undefined;
  if (cookie && cookie.deltaStart === undefined) throw dv.querySyntax("the $skiptoken is not a change-tracking paging cookie; replay @odata.nextLink verbatim");
  // The version the delta link will carry is fixed on the first page; later pages carry it in their cookie.
  const upTo = cookie?.deltaStart ?? (await store.latestVersion(org, entity));

  const attributes = selectedAttributes(md, entity, options.select);
  const version = (op: "gt" | "le", value: number): Expr => ({ kind: "compare", op, left: { kind: "column", name: "versionnumber" }, right: { kind: "value", value } });
  const changed = since === undefined ? undefined : withScope(version("gt", since), version("le", upTo));
  // Later pages start after the previous page's last row (keyset on versionnumber, then the primary key).
  const where = withScope(withScope(await request.security.scope("Read", entity), changed), cookie ? keysetPredicate(keys, cookie.after) : undefined);
  const pageSize = Math.min(prefer.maxPageSize ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE);
  const selection = new AnnotationSelection(prefer.includeAnnotations);
  const plan = planAnnotations(md, entity, attributes, selection);
  const rows = await store.selectRows(org, {
    entity,
    columns: withKeyColumns(sqlColumns(entity, attributes), keys),
    ...(where ? { where } : {}),
    orderBy,
    limit: pageSize + 1,
    ...(plan.related.length > 0 ? { related: plan.related } : {}),
  });
  const more = rows.length > pageSize;
  if (more) rows.pop();
  const serialize = rowSerializer(attributes);
  const value: Record<string, unknown>[] = rows.map((row) => annotateRecord(attributes, row, serialize(row), plan));

  const body: Record<string, unknown> = { "@odata.context": `${apiUrl}/$metadata#${entity.entitySetName}${contextSuffix(options)}${since === undefined ? "" : "/$delta"}` };
  if (more) {
    const token = encodeSkipToken((cookie?.pageNumber ?? 1) + 1, keys, rows[0] as Row, rows[rows.length - 1] as Row, upTo);
    body["@odata.nextLink"] = linkWith(request, "$skiptoken", token);
  } else {
    // Deleted rows follow the new and updated ones, on the last page.
    if (since !== undefined) {
      for (const deleted of await store.listDeletions(org, entity, since)) {
        if (deleted.version <= upTo) value.push({ "@odata.context": `${apiUrl}/$metadata#${entity.entitySetName}/$deletedEntity`, id: deleted.id, reason: "deleted" });
      }
    }
    body["@odata.deltaLink"] = linkWith(request, "$deltatoken", encodeDeltaToken(upTo, request.now));
  }
  body.value = value;
  return {
    body,
    preferenceApplied: preferenceApplied([
      prefer.trackChanges ? "odata.track-changes" : undefined,
      prefer.includeAnnotations !== undefined ? `odata.include-annotations="${prefer.includeAnnotations}"` : undefined,
      prefer.maxPageSize !== undefined ? `odata.maxpagesize=${pageSize}` : undefined,
    ]),
  };
}

/**
 * `GET /{set}/$count?$deltatoken=…`: how many rows were created, updated or deleted since the token
 * (the changes a delta read would return), under the caller's Read scope for the rows.
 */
export async function countChanges(request: Pick<ReadRequest, "store" | "org" | "entity" | "options" | "security">): Promise<number> {
  const { store, org, entity, options } = request;
  assertTrackable(entity, options);
  const since = decodeDeltaToken(options.deltaToken ?? "");
  const changed: Expr = { kind: "compare", op: "gt", left: { kind: "column", name: "versionnumber" }, right: { kind: "value", value: since } };
  const where = withScope(await request.security.scope("Read", entity), changed) as Expr;
  const rows = await store.countRows(org, { entity, where });
  return rows + (await store.listDeletions(org, entity, since)).length;
}
