import { DataverseError, dv } from "../errors.ts";
import type { AttributeMetadata, EntityMetadata } from "../metadata/types.ts";
import type { Row } from "../model.ts";
import { INTERSECT_ROWS, navigationFor, type ManyToManyNavigation } from "../navigation.ts";
import { annotateRecord, planAnnotations, type AnnotationPlan } from "../odata/annotations.ts";
import type { ExpandItem } from "../odata/expand.ts";
import { parseFilter } from "../odata/filter.ts";
import { bindFilter, type FilterCaller } from "../odata/filter-binder.ts";
import { parseOrderBy } from "../odata/orderby.ts";
import { encodeSkipToken, sortKeys } from "../odata/paging.ts";
import type { SortKey } from "../keyset.ts";
import type { AnnotationSelection } from "../odata/prefer.ts";
import { rowSerializer } from "../odata/serializer.ts";
import type { SecurityContext } from "../security/context.ts";
import { withScope } from "../security/scope.ts";
import type { ReadScope} from "../store.ts";
import { type Expr, type RecordQuery } from "../store.ts";
import type { QueryContext } from "../request.ts";
import { selectedAttributes, sqlColumns } from "./columns.ts";

/** What expanding a page needs: the store, the caller (nested `$filter` functions, Read depth) and the request's annotations. */
export interface ExpandContext extends Pick<QueryContext, "store" | "org" | "md" | "now" | "apiUrl"> {
  caller: FilterCaller;
  /** The caller's security context: each expanded table is read within the caller's Read scope. */
  security: SecurityContext;
  selection: AnnotationSelection;
  /** Parameter aliases of the request (`@p1`), usable in nested `$filter`. */
  aliases: Map<string, string>;
}

/** An expand item bound to metadata, security checked, ready to run. */
export interface BoundExpand {
  item: ExpandItem;
  kind: "single" | "collection" | "manyToMany";
  target: EntityMetadata;
  /**
   * Single: the lookup column on the parent. Collection: the lookup column on the child pointing at
   * the parent. N:N: the result column carrying the parent id (see {@link ThroughIntersect}).
   */
  column: string;
  /** N:N: the relationship seen from the parent. */
  link?: ManyToManyNavigation;
  attributes: AttributeMetadata[];
  plan: AnnotationPlan;
  where: Expr | undefined;
  orderBy: RecordQuery["orderBy"];
  /** The keys of `orderBy` a nextLink's paging cookie carries (collections capped at 5000 rows). */
  keys: SortKey[];
  children: BoundExpand[];
}

/**
 * Binds `$expand` items to `entity`: resolves each navigation property (single-valued from a lookup,
 * collection-valued from a 1:N relationship), checks the inner options allowed for its kind, binds
 * nested `$select`/`$filter`/`$orderby`, and asks the security context for the caller's Read scope
 * on every expanded table (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/join-tables).
 * @throws DataverseError 400 `0x0` for an unknown navigation property, 400 `0x80060888` for options a
 * single-valued property does not take, N:N or polymorphic expands orgbox does not implement; 403 `0x80040220`
 * when the caller lacks prvRead on an expanded table.
 */
export async function bindExpands(ctx: ExpandContext, entity: EntityMetadata, items: ExpandItem[]): Promise<BoundExpand[]> {
  const nav = navigationFor(ctx.md);
  const out: BoundExpand[] = [];
  for (const item of items) {
    const single = nav.singleValued(entity, item.property);
    const collection = single ? undefined : nav.collectionValued(entity, item.property);
    const link = single || collection ? undefined : nav.manyToMany(entity, item.property);
    let kind: BoundExpand["kind"];
    let target: EntityMetadata;
    let column: string;
    if (item.ref && !single) {
      if (!nav.collectionValued(entity, item.property) && !nav.manyToMany(entity, item.property)) throw dv.propertyNotFound(item.property, entity.logicalName);
      throw new DataverseError(400, "0x80060888", "Expand with $ref is only supported on lookup type navigation property.");
    }
    if (single) {
      if (single.targets.length !== 1) throw dv.queryOptionNotSupported(`$expand of the polymorphic navigation property '${item.property}' (not implemented by orgbox yet)`);
      for (const [option, value] of [["$filter", item.filter], ["$orderby", item.orderBy], ["$top", item.top]] as const) {
        if (value !== undefined) throw dv.queryOptionNotSupported(`${option} inside $expand of the single-valued navigation property '${item.property}'`);
      }
      kind = "single";
      target = ctx.md.entity(single.targets[0] as string) as EntityMetadata;
      column = single.attribute.logicalName;
    } else if (collection) {
      kind = "collection";
      target = ctx.md.entity(collection.referencingEntity) as EntityMetadata;
      column = collection.referencingAttribute;
    } else if (link) {
      kind = "manyToMany";
      target = ctx.md.entity(link.other.entity) as EntityMetadata;
      column = LINKED_PARENT;
    } else {
      throw dv.propertyNotFound(item.property, entity.logicalName);
    }
    const attributes = selectedAttributes(ctx.md, target, item.select);
    const scope = await ctx.security.scope("Read", target);
    const filter = item.filter === undefined ? undefined : await bindFilter({ md: ctx.md, entity: target, caller: ctx.caller, now: ctx.now }, parseFilter(item.filter, ctx.aliases), (table) => readScopeOf(ctx, table));
    const orderBy = parseOrderBy(ctx.md, target, item.orderBy);
    out.push({
      item,
      kind,
      target,
      column,
      ...(link ? { link } : {}),
      attributes,
      plan: planAnnotations(ctx.md, target, attributes, ctx.selection),
      where: withScope(scope, filter),
      orderBy,
      keys: sortKeys(ctx.md, target, orderBy),
      children: await bindExpands(ctx, target, item.expand ?? []),
    });
  }
  return out;
}

/** The Read scope of a table a nested `$filter` joins into: the caller's. */
function readScopeOf(ctx: ExpandContext, table: EntityMetadata): Promise<ReadScope> {
  return ctx.security.readScope(table);
}

/** Parent columns the expands need in the parent's SQL read besides its selected ones (single-valued lookups). */
export function expandColumns(bound: BoundExpand[]): string[] {
  return bound.filter((b) => b.kind === "single").map((b) => b.column);
}

/** Result column of an N:N expand's read holding the parent a row is linked to (not a column of any table: `__` keeps it apart). */
const LINKED_PARENT = "__linkedparent";

function columnsFor(b: BoundExpand, extra: string[]): string[] {
  const cols = sqlColumns(b.target, b.attributes);
  // A collection's order keys, for the paging cookie of its nextLink (even when its $select leaves them out).
  const keys = b.kind === "single" ? [] : b.keys.map((k) => k.as);
  for (const c of [...expandColumns(b.children), ...extra, ...keys]) if (!cols.includes(c)) cols.push(c);
  return cols;
}

/**
 * Keys per SQL statement: a whole top-level page (at most 5000 rows) is always one statement; only a
 * nested level with more parents than that is split, staying far below SQL parameter limits (SQLite: 32766).
 */
const KEYS_PER_STATEMENT = 5000;

/** A single-level collection expand returns at most 5000 related rows per parent (join-tables.md). */
const MAX_EXPANDED_ROWS = 5000;

/** Runs `read` once per chunk of at most {@link KEYS_PER_STATEMENT} keys and concatenates the rows. */
async function readByKeys(keys: string[], read: (chunk: string[]) => Promise<Row[]>): Promise<Row[]> {
  const rows: Row[] = [];
  for (let start = 0; start < keys.length; start += KEYS_PER_STATEMENT) {
    for (const row of await read(keys.slice(start, start + KEYS_PER_STATEMENT))) rows.push(row);
  }
  return rows;
}

const idOf = (value: unknown): string | undefined => (value === null || value === undefined ? undefined : String(value).toLowerCase());

/**
 * Adds the expanded navigation properties to a page of serialized records (`outputs[i]` is `rows[i]`
 * serialized). Each expand is ONE SQL statement for the whole page (a nested level with more than 5000
 * parents: one per 5000), keyed by the page's lookup values
 * (single-valued) or primary keys (collection-valued, `ROW_NUMBER() … PARTITION BY` for per-parent
 * `$top` and the 5000-row cap), ANDed with the caller's Read scope; nested expands recurse on the
 * fetched rows. A single-valued property is the record or `null`; a collection is an array, with
 * `<nav>@odata.nextLink` when more than 5000 related rows exist.
 */
export async function attachExpands(ctx: ExpandContext, parent: EntityMetadata, bound: BoundExpand[], rows: Row[], outputs: Record<string, unknown>[]): Promise<void> {
  for (const b of bound) {
    if (b.kind === "single") await attachSingle(ctx, b, rows, outputs);
    else await attachCollection(ctx, parent, b, rows, outputs);
  }
}

async function attachSingle(ctx: ExpandContext, b: BoundExpand, rows: Row[], outputs: Record<string, unknown>[]): Promise<void> {
  const ids = [...new Set(rows.map((r) => idOf(r[b.column])).filter((id): id is string => id !== undefined))];
  if (b.item.ref) {
    // `nav/$ref`: the lookup's value and a reference to the record (join-tables#return-references). Only
    // the ids are read: a multi-table lookup (`parentcustomerid`) pointing at another table, or a
    // record the caller cannot read, gives null, as a full expand would.
    const pk = b.target.primaryIdAttribute;
    const read = ids.length === 0 ? [] : await readByKeys(ids, (chunk) => ctx.store.selectRows(ctx.org, { entity: b.target, columns: [pk], where: withScope(b.where, { kind: "in", column: pk, values: chunk }), orderBy: [] }));
    const found = new Set(read.map((r) => idOf(r[pk])));
    rows.forEach((row, i) => {
      const id = idOf(row[b.column]);
      const out = outputs[i] as Record<string, unknown>;
      out[`_${b.column}_value`] = id ?? null;
      out[b.item.property] = id !== undefined && found.has(id) ? { "@odata.id": `${ctx.apiUrl}/${b.target.entitySetName}(${id})` } : null;
    });
    return;
  }
  const byId = new Map<string, Record<string, unknown>>();
  if (ids.length > 0) {
    const pk = b.target.primaryIdAttribute;
    const targets = await readByKeys(ids, (chunk) =>
      ctx.store.selectRows(ctx.org, {
        entity: b.target,
        columns: columnsFor(b, []),
        where: withScope(b.where, { kind: "in", column: pk, values: chunk }),
        orderBy: [{ column: pk, descending: false }],
        ...(b.plan.related.length > 0 ? { related: b.plan.related } : {}),
      }),
    );
    const serialize = rowSerializer(b.attributes);
    // A single-valued expansion carries no `@odata.etag` (collections' records do), as in join-tables.md's examples.
    const serialized = targets.map((row) => {
      const { "@odata.etag": _etag, ...record } = serialize(row);
      return annotateRecord(b.attributes, row, record, b.plan);
    });
    await attachExpands(ctx, b.target, b.children, targets, serialized);
    targets.forEach((row, i) => byId.set(idOf(row[pk]) as string, serialized[i] as Record<string, unknown>));
  }
  rows.forEach((row, i) => {
    const id = idOf(row[b.column]);
    (outputs[i] as Record<string, unknown>)[b.item.property] = (id !== undefined ? byId.get(id) : undefined) ?? null;
  });
}

/**
 * A collection-valued expand: 1:N (children whose lookup is in the page's keys) or N:N (records
 * joined through the intersect table to the page's keys, {@link ThroughIntersect}); either way one
 * statement per chunk of parents, at most `$top` (or 5000 + 1) rows per parent.
 */
async function attachCollection(ctx: ExpandContext, parent: EntityMetadata, b: BoundExpand, rows: Row[], outputs: Record<string, unknown>[]): Promise<void> {
  const parentIds = rows.map((r) => idOf(r[parent.primaryIdAttribute])).filter((id): id is string => id !== undefined);
  const groups = new Map<string, { rows: Row[]; outputs: Record<string, unknown>[] }>();
  const cap = b.item.top !== undefined ? Math.min(b.item.top, MAX_EXPANDED_ROWS) : MAX_EXPANDED_ROWS + 1;
  const link = b.link;
  if (parentIds.length > 0 && cap > 0) {
    const children = await readByKeys([...new Set(parentIds)], (chunk) =>
      ctx.store.selectRows(ctx.org, {
        entity: b.target,
        ...(link
          ? {
              columns: columnsFor(b, []),
              through: { intersect: link.intersect, parentColumn: link.self.intersectColumn, childColumn: link.other.intersectColumn, symmetric: link.symmetric, parents: chunk, as: b.column, scope: INTERSECT_ROWS },
              ...(b.where ? { where: b.where } : {}),
            }
          : { columns: columnsFor(b, [b.column]), where: withScope(b.where, { kind: "in", column: b.column, values: chunk }) }),
        orderBy: b.orderBy,
        perGroup: { column: b.column, limit: cap },
        ...(b.plan.related.length > 0 ? { related: b.plan.related } : {}),
      }),
    );
    const serialize = rowSerializer(b.attributes);
    const serialized = children.map((row) => annotateRecord(b.attributes, row, serialize(row), b.plan));
    await attachExpands(ctx, b.target, b.children, children, serialized);
    children.forEach((row, i) => {
      const key = idOf(row[b.column]) as string;
      const group = groups.get(key) ?? { rows: [], outputs: [] };
      group.rows.push(row);
      group.outputs.push(serialized[i] as Record<string, unknown>);
      groups.set(key, group);
    });
  }
  rows.forEach((row, i) => {
    const out = outputs[i] as Record<string, unknown>;
    const id = idOf(row[parent.primaryIdAttribute]) as string;
    const group = groups.get(id) ?? { rows: [], outputs: [] };
    if (b.item.top === undefined && group.rows.length > MAX_EXPANDED_ROWS) {
      group.rows.pop();
      group.outputs.pop();
      out[`${b.item.property}@odata.nextLink`] = collectionNextLink(ctx, parent, b, id, group.rows);
    }
    out[b.item.property] = group.outputs;
  });
}

/**
 * The rest of an expanded collection capped at 5000 rows: a read of the child table filtered to
 * the parent, with a paging cookie past the rows already returned (served by the collection read).
 */
function collectionNextLink(ctx: ExpandContext, parent: EntityMetadata, b: BoundExpand, parentId: string, returned: Row[]): string {
  const params: string[] = [];
  if (b.item.select) params.push(`$select=${encodeURIComponent(b.item.select.join(","))}`);
  // N:N: the related records' own read (`{set}(id)/{nav}`); 1:N: the child table filtered to the parent.
  const lookup = b.link ? undefined : `_${b.column}_value eq ${parentId}`;
  const filter = [lookup, b.item.filter !== undefined ? (lookup ? `(${b.item.filter})` : b.item.filter) : undefined].filter((f) => f !== undefined).join(" and ");
  if (filter) params.push(`$filter=${encodeURIComponent(filter)}`);
  if (b.item.orderBy !== undefined) params.push(`$orderby=${encodeURIComponent(b.item.orderBy)}`);
  for (const [alias, value] of ctx.aliases) params.push(`${alias}=${encodeURIComponent(value)}`);
  const token = encodeSkipToken(2, b.keys, returned[0] as Row, returned[returned.length - 1] as Row);
  params.push(`$skiptoken=${encodeURIComponent(token)}`);
  const resource = b.link ? `${parent.entitySetName}(${parentId})/${b.item.property}` : b.target.entitySetName;
  return `${ctx.apiUrl}/${resource}?${params.join("&")}`;
}
