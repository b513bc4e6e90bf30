import { AGGREGATE_RECORD_LIMIT, DataverseError, dv } from "../errors.ts";
import type { OrgMetadata } from "../metadata/registry.ts";
import type { AttributeMetadata, EntityMetadata } from "../metadata/types.ts";
import type { Row } from "../model.ts";
import type { FilterCaller } from "../odata/filter-binder.ts";
import { FORMATTED_VALUE, annotateRecord, formatValue, planAnnotations } from "../odata/annotations.ts";
import { AnnotationSelection } from "../odata/prefer.ts";
import { baseCurrencySymbol } from "../handlers/apply.ts";
import { MAX_COUNT } from "../handlers/records.ts";
import type { QueryOptions } from "../odata/query-options.ts";
import { propertyName, serializeRow } from "../odata/serializer.ts";
import { withScope } from "../security/scope.ts";
import type { Expr, JoinedColumn, JoinedOrder, JoinedQuery, JoinedTable } from "../store.ts";
import type { QueryContext } from "../request.ts";
import { compileFilters, type ConditionContext } from "./conditions.ts";
import { cookieValues, emptyPagingCookieAnnotation, keysetPredicate, pagingCookieAnnotation, parsePagingCookie, type SortKey } from "./paging.ts";
import { SEMI_JOIN_TYPES, fetchErrors, parseFetchXml, type FetchFilter, type FetchLink, type FetchNode, type FetchSpec } from "./parse.ts";

/** Dataverse's default and maximum FetchXML page size (`count`). */
const FETCH_PAGE_SIZE = 5000;
/** Simple paging (`page` without a cookie) reaches at most this many rows (fetchxml/page-results.md). */
const FETCH_PAGING_LIMIT = 50_000;

const ROOT = "t0";
const COUNT_FORMAT = new Intl.NumberFormat("en-US");
const PAGING_COOKIE = "Microsoft.Dynamics.CRM.fetchxmlpagingcookie";
const MORE_RECORDS = "Microsoft.Dynamics.CRM.morerecords";
const ATTRIBUTE_NAME = "OData.Community.Display.V1.AttributeName";
const TOTAL_RECORD_COUNT = "Microsoft.Dynamics.CRM.totalrecordcount";
const TOTAL_LIMIT_EXCEEDED = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded";

/** What a FetchXML read needs: the table of the URL's entity set, the caller and its security context. */
export interface FetchRequest extends QueryContext {
  /** The table of the entity set in the URL. */
  entity: EntityMetadata;
  fetchXml: string;
  caller: FilterCaller;
  /** The request's other query options: none may accompany `fetchXml`. */
  options: QueryOptions;
}

/** How one result column comes back: its JSON key and how to convert the SQL value. */
interface Output {
  key: string;
  sqlName: string;
  /** The column's attribute (converted by type), or undefined for counts. */
  attribute?: AttributeMetadata;
  entity: EntityMetadata;
  /** Link-entity column: annotate with its logical name. */
  linked?: string;
  /** avg/sum always come back as numbers. */
  numeric?: boolean;
  /** A `dategrouping` part: a plain number (formatted without grouping separators). */
  datePart?: boolean;
}

interface Plan {
  query: JoinedQuery;
  /** Root columns serialised like a `$select` read (non-aggregate fetches). */
  rootAttributes: AttributeMetadata[];
  outputs: Output[];
}

function attributeOf(md: OrgMetadata, entity: EntityMetadata, name: string): AttributeMetadata {
  const attribute = md.attribute(entity, name);
  if (!attribute) throw fetchErrors.noAttribute(entity.logicalName, name);
  return attribute;
}

function tableOf(md: OrgMetadata, name: string): EntityMetadata {
  const entity = md.entity(name);
  if (!entity) throw new DataverseError(400, "0x80041102", `The entity with a name = '${name}' with namemapping = 'Logical' was not found in the MetadataCache.`);
  return entity;
}

const isString = (a: AttributeMetadata) => ["String", "Memo", "EntityName"].includes(a.type);

/** Compiles the parsed fetch into one joined SQL read, with the caller's Read scope on the root and every link. */
async function plan(request: FetchRequest, spec: FetchSpec): Promise<Plan> {
  const { md, security } = request;
  const root = request.entity;
  const ctx = (entity: EntityMetadata) => ({ md, entity, caller: request.caller, now: request.now });
  const joins: JoinedTable[] = [];
  const columns: JoinedColumn[] = [];
  const outputs: Output[] = [];
  const orderBy: JoinedOrder[] = [];
  const groupBy: { table: string; column: string }[] = [];
  const aliases = new Map<string, string>();
  const rootAttributes: AttributeMetadata[] = [];

  const addColumns = (node: FetchNode, entity: EntityMetadata, table: string, prefix: string | undefined) => {
    if (spec.aggregate) {
      if (node.allAttributes) throw fetchErrors.invalid("<all-attributes> can't be used in an aggregate query");
      for (const a of node.attributes) {
        const attribute = attributeOf(md, entity, a.name);
        if (!a.alias) throw fetchErrors.invalid(`the attribute '${a.name}' of an aggregate query needs an alias`);
        if (!a.aggregate && !a.groupby) throw fetchErrors.invalid(`the attribute '${a.name}' of an aggregate query needs 'aggregate' or 'groupby'`);
        if (a.aggregate && a.groupby) throw fetchErrors.invalid(`the attribute '${a.name}' can't both aggregate and group by`);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(a.alias) || aliases.has(a.alias)) throw fetchErrors.invalid(`the alias '${a.alias}' is not a valid, unique name`);
        const sqlName = `c${columns.length}`;
        aliases.set(a.alias, sqlName);
        if (a.dategrouping && attribute.type !== "DateTime") throw fetchErrors.invalid(`dategrouping needs a date and time column; '${a.name}' is ${attribute.type}`);
        const part = a.dategrouping ? { datePart: a.dategrouping } : {};
        columns.push({ table, column: attribute.logicalName, as: sqlName, ...(a.aggregate ? { aggregate: a.aggregate } : {}), ...(a.distinct ? { distinct: true } : {}), ...part });
        if (a.groupby) groupBy.push({ table, column: attribute.logicalName, ...part });
        if (a.dategrouping) {
          outputs.push({ key: a.alias, sqlName, entity, numeric: true, datePart: true });
          continue;
        }
        const counted = a.aggregate === "count" || a.aggregate === "countcolumn";
        if (a.aggregate && ["sum", "avg"].includes(a.aggregate) && !["Integer", "BigInt", "Decimal", "Money", "Double"].includes(attribute.type)) throw fetchErrors.invalid(`'${a.aggregate}' needs a numeric column; '${a.name}' is ${attribute.type}`);
        outputs.push({ key: a.alias, sqlName, entity, ...(counted ? {} : { attribute }), ...(a.aggregate === "avg" || a.aggregate === "sum" || counted ? { numeric: true } : {}) });
      }
      return;
    }
    for (const a of node.attributes) if (a.aggregate || a.groupby) throw fetchErrors.invalid(`'aggregate' and 'groupby' on '${a.name}' need <fetch aggregate="true">`);
    if (prefix === undefined) {
      for (const a of node.attributes) if (a.alias) throw fetchErrors.unsupported(`alias on the root entity's attribute '${a.name}' outside aggregate queries`);
      const chosen = node.allAttributes || node.attributes.length === 0 ? [...entity.attributes] : node.attributes.map((a) => attributeOf(md, entity, a.name));
      // The primary key always comes back, except from distinct queries (it would make every row distinct).
      const pk = attributeOf(md, entity, entity.primaryIdAttribute);
      if (!chosen.includes(pk) && !spec.distinct) chosen.push(pk);
      for (const attribute of new Set(chosen)) {
        rootAttributes.push(attribute);
        columns.push({ table, column: attribute.logicalName, as: attribute.logicalName });
      }
      if (!spec.distinct && !rootAttributes.some((a) => a.logicalName === "versionnumber") && entity.attributes.some((a) => a.logicalName === "versionnumber")) columns.push({ table, column: "versionnumber", as: "versionnumber" });
      return;
    }
    const chosen = node.allAttributes ? entity.attributes.map((a) => ({ attribute: a, alias: undefined })) : node.attributes.map((a) => ({ attribute: attributeOf(md, entity, a.name), alias: a.alias }));
    for (const { attribute, alias } of chosen) {
      const sqlName = `c${columns.length}`;
      columns.push({ table, column: attribute.logicalName, as: sqlName });
      outputs.push({ key: alias ?? `${prefix}_x002e_${attribute.logicalName}`, sqlName, attribute, entity, linked: attribute.logicalName });
    }
  };

  const addOrders = (node: FetchNode, entity: EntityMetadata, table: string) => {
    for (const o of node.orders) {
      if (o.alias !== undefined) {
        const output = aliases.get(o.alias);
        if (!spec.aggregate || !output) throw fetchErrors.invalid(`the order alias '${o.alias}' does not name an attribute alias of this aggregate query`);
        orderBy.push({ output, descending: o.descending });
      } else {
        if (spec.aggregate) throw fetchErrors.invalid("orders of an aggregate query must name an attribute alias");
        const attribute = attributeOf(md, entity, o.attribute as string);
        orderBy.push({ table, column: attribute.logicalName, descending: o.descending, ...(isString(attribute) && !spec.distinct ? { caseInsensitive: true } : {}) });
      }
    }
  };

  /** Predicates of the link-entities that filter by related rows, compiled before the (sync) filter compiler runs. */
  const semi = new Map<FetchLink, Expr>();
  const filterLinks = (filters: FetchFilter[]): FetchLink[] => filters.flatMap((f) => [...f.links, ...filterLinks(f.filters)]);
  /** `EXISTS (related rows the caller may read, matching the link's filters)`, by link type (fetchxml/reference/link-entity). */
  const semiJoin = async (link: FetchLink, parent: EntityMetadata): Promise<Expr> => {
    const entity = tableOf(md, link.name);
    const from = attributeOf(md, entity, link.from);
    const to = attributeOf(md, parent, link.to);
    for (const nested of filterLinks(link.filters)) semi.set(nested, await semiJoin(nested, entity));
    const scope = await security.readScope(entity);
    const matching = compileFilters(link.filters, linkContext(entity));
    const exists = (where: Expr | undefined): Expr => ({ kind: "exists", entity, innerColumn: from.logicalName, outerColumn: to.logicalName, scope, ...(where ? { where } : {}) });
    switch (link.type) {
      case "not any":
        return { kind: "not", operand: exists(matching) };
      case "all":
        // Related rows exist, and none of them matches the filters.
        return { kind: "and", left: exists(undefined), right: { kind: "not", operand: exists(matching ?? { kind: "true" }) } };
      default:
        // exists, in, any, and "not all", which the reference calls equivalent to any.
        return exists(matching);
    }
  };
  const linkContext = (entity: EntityMetadata) => ({ ...ctx(entity), semiJoin: (link: FetchLink) => semi.get(link) as Expr });
  /** A node's filters, its `exists`/`in` link-entities, and the `any`-style link-entities inside its filters. */
  const nodeWhere = async (node: FetchNode, entity: EntityMetadata, linked?: ConditionContext["linked"]): Promise<Expr | undefined> => {
    for (const link of filterLinks(node.filters)) semi.set(link, await semiJoin(link, entity));
    let where = compileFilters(node.filters, { ...linkContext(entity), ...(linked ? { linked } : {}) });
    for (const link of node.links.filter((l) => SEMI_JOIN_TYPES.has(l.type))) where = withScope(where, await semiJoin(link, entity));
    return where;
  };

  // SQL aliases of the joined link-entities, in join order; `entityname` conditions of the root's filters find them by alias or name.
  const linkAlias = new Map<FetchLink, string>();
  const linkedByName = new Map<string, { entity: EntityMetadata; table: string }>();
  const number = (links: FetchLink[]) => {
    for (const link of links) {
      if (SEMI_JOIN_TYPES.has(link.type)) continue;
      const table = `l${linkAlias.size + 1}`;
      linkAlias.set(link, table);
      const target = { entity: tableOf(md, link.name), table };
      if (link.alias !== undefined) linkedByName.set(link.alias, target);
      if (!linkedByName.has(link.name)) linkedByName.set(link.name, target);
      number(link.links);
    }
  };
  number(spec.entity.links);

  addColumns(spec.entity, root, ROOT, undefined);
  const rootWhere = await nodeWhere(spec.entity, root, (name) => linkedByName.get(name));
  const where = withScope(await security.scope("Read", root), rootWhere);
  const linkOrders: (() => void)[] = [];
  const walk = async (links: FetchLink[], parentEntity: EntityMetadata, parentTable: string) => {
    for (const link of links) {
      if (SEMI_JOIN_TYPES.has(link.type)) continue;
      const entity = tableOf(md, link.name);
      const alias = linkAlias.get(link) as string;
      const from = attributeOf(md, entity, link.from);
      const to = attributeOf(md, parentEntity, link.to);
      const on = await nodeWhere(link, entity);
      joins.push({ alias, entity, parent: parentTable, from: from.logicalName, to: to.logicalName, outer: link.outer, scope: await security.readScope(entity), ...(on ? { on } : {}) });
      addColumns(link, entity, alias, link.alias ?? `${entity.logicalName}${joins.length}`);
      linkOrders.push(() => addOrders(link, entity, alias));
      await walk(link.links, entity, alias);
    }
  };
  await walk(spec.entity.links, root, ROOT);
  if (spec.aggregate && columns.length === 0) throw fetchErrors.invalid("an aggregate query needs at least one <attribute> with 'aggregate' or 'groupby'");
  addOrders(spec.entity, root, ROOT);
  for (const add of linkOrders) add();
  // A stable order makes pages deterministic (Dataverse adds the primary key too).
  const byKey = orderBy.some((o) => "table" in o && o.table === ROOT && o.column === root.primaryIdAttribute);
  if (!spec.aggregate && !byKey && rootAttributes.some((a) => a.logicalName === root.primaryIdAttribute)) orderBy.push({ table: ROOT, column: root.primaryIdAttribute, descending: false });

  return { query: { entity: root, alias: ROOT, joins, columns, ...(where ? { where } : {}), groupBy, orderBy, ...(spec.distinct ? { distinct: true } : {}) }, rootAttributes, outputs };
}

function outputValue(output: Output, row: Row): unknown {
  const value = row[output.sqlName];
  if (value === null || value === undefined) return null;
  if (output.numeric || !output.attribute) return Number(value);
  const attribute = output.attribute;
  return serializeRow(output.entity, [attribute], { [attribute.logicalName]: value })[propertyName(attribute)];
}

/**
 * The sort keys of a read that can page by cookie (keyset), or undefined: orders on link-entities, one-to-many
 * link-entities (a root row repeated per related row), distinct and aggregate queries page by number only, as Dataverse returns no usable paging cookie for them
 * (fetchxml/page-results, "Queries that don't support paging cookies"). The keys are the root's `<order>`
 * columns up to the primary key, then the primary key: the ORDER BY that {@link plan} builds.
 */
function sortKeys(md: OrgMetadata, root: EntityMetadata, spec: FetchSpec): SortKey[] | undefined {
  if (spec.aggregate || spec.distinct) return undefined;
  // Each root row must come back once: every joined link-entity many-to-one (joined on its primary key), none ordered.
  const keysetSafe = (links: FetchLink[]): boolean =>
    links.every((l) => SEMI_JOIN_TYPES.has(l.type) || (l.orders.length === 0 && l.from === tableOf(md, l.name).primaryIdAttribute && keysetSafe(l.links)));
  if (!keysetSafe(spec.entity.links)) return undefined;
  const keys: SortKey[] = [];
  for (const o of spec.entity.orders) {
    const attribute = attributeOf(md, root, o.attribute as string);
    if (keys.some((k) => k.attribute === attribute)) continue;
    keys.push({ table: ROOT, attribute, descending: o.descending, caseInsensitive: isString(attribute), as: `pagekey${keys.length}` });
    if (attribute.logicalName === root.primaryIdAttribute) return keys;
  }
  keys.push({ table: ROOT, attribute: attributeOf(md, root, root.primaryIdAttribute), descending: false, caseInsensitive: false, as: `pagekey${keys.length}` });
  return keys;
}

/** `returntotalrecordcount` / `$count=true`: the rows the query matches (joins and the caller's Read scope included), up to 5001. */
async function totalCount(request: FetchRequest, spec: FetchSpec, query: JoinedQuery): Promise<number> {
  if (spec.aggregate || spec.distinct) throw fetchErrors.unsupported(`returntotalrecordcount with ${spec.aggregate ? "aggregate" : "distinct"}`);
  if (query.joins.length === 0) return request.store.countRows(request.org, { entity: request.entity, ...(query.where ? { where: query.where } : {}), limit: MAX_COUNT + 1 });
  const [counted] = await request.store.selectJoined(request.org, { entity: query.entity, alias: query.alias, joins: query.joins, ...(query.where ? { where: query.where } : {}), columns: [{ table: ROOT, column: request.entity.primaryIdAttribute, as: "n", aggregate: "count" }], groupBy: [], orderBy: [], limit: 1 });
  return Number(counted?.n ?? 0);
}

/**
 * `GET /{set}?fetchXml=…` (learn.microsoft.com/power-apps/developer/data-platform/fetchxml/retrieve-data?tabs=webapi):
 * the FetchXML compiles to one SQL statement (joins for `<link-entity>`, GROUP BY for aggregates) with the caller's
 * Read scope on the root table and every linked table. Pages by `count` (default and maximum 5000) and `page`
 * (learn.microsoft.com/power-apps/developer/data-platform/fetchxml/page-results): with the `paging-cookie` of the
 * previous page by keyset (unlimited, the same cost on every page: see `paging.ts`), without it by OFFSET up to
 * 50,000 rows (simple paging). While more rows remain, `@Microsoft.Dynamics.CRM.fetchxmlpagingcookie` comes back
 * (with or without Prefer) and `Prefer: odata.include-annotations` can ask for `@Microsoft.Dynamics.CRM.morerecords`;
 * on the last page both are omitted. `returntotalrecordcount="true"` (or `$count=true`) adds `@odata.count` and,
 * when Prefer asks, `@Microsoft.Dynamics.CRM.totalrecordcount` and `…totalrecordcountlimitexceeded`, counted in SQL
 * under the caller's Read scope up to 5000 (fetchxml/count-rows).
 * Link-entity columns come back as `{alias}_x002e_{column}`; aggregate columns by their alias.
 * @throws DataverseError 400 (invalid or unsupported FetchXML, entity not matching the entity set), 403 (privileges).
 */
export async function readFetchXml(request: FetchRequest): Promise<{ body: Record<string, unknown>; preferenceApplied: string | undefined }> {
  const { options } = request;
  const other = [["$select", options.select], ["$filter", options.filter], ["$orderby", options.orderBy], ["$top", options.top], ["$skiptoken", options.skipToken], ["$expand", options.expand]].find(([, v]) => v !== undefined);
  if (other) throw dv.queryOptionNotSupported(`${String(other[0])} with fetchXml`);
  const spec = parseFetchXml(request.fetchXml);
  const named = tableOf(request.md, spec.entity.name);
  if (named !== request.entity) throw new DataverseError(400, "0x80060888", `The entity name '${spec.entity.name}' in the FetchXML does not match the entity set '${request.entity.entitySetName}' (table '${request.entity.logicalName}').`);
  const { query, rootAttributes, outputs } = await plan(request, spec);
  const selection = new AnnotationSelection(request.prefer.includeAnnotations);
  // Root columns are annotated as in an OData read (lookup names and currency symbols read in the same statement).
  const annotations = planAnnotations(request.md, request.entity, spec.aggregate ? [] : rootAttributes, selection);
  if (annotations.related.length > 0) query.related = annotations.related;
  const formatted = selection.has(FORMATTED_VALUE);
  const symbol = formatted && outputs.some((o) => o.attribute?.type === "Money") ? await baseCurrencySymbol(request) : undefined;
  const paged = spec.top === undefined;
  const pageSize = Math.min(spec.count ?? FETCH_PAGE_SIZE, FETCH_PAGE_SIZE);
  const page = spec.page ?? 1;
  const keys = paged ? sortKeys(request.md, request.entity, spec) : undefined;
  // A cookie pages by keyset when it describes the previous page of this very query; otherwise it is ignored
  // ("if you request nonconsecutive pages, the paging cookie value is ignored": org-service/page-large-result-sets-with-fetchxml).
  const cookie = paged && spec.pagingCookie !== undefined ? parsePagingCookie(spec.pagingCookie) : undefined;
  const after = keys && cookie && cookie.page === page - 1 ? cookieValues(cookie, keys) : undefined;
  const offset = paged && !after ? (page - 1) * pageSize : 0;
  if (paged && !after && offset + pageSize > FETCH_PAGING_LIMIT) throw fetchErrors.unsupported(`simple paging beyond ${FETCH_PAGING_LIMIT} rows (page ${page} of count ${pageSize}) without the paging-cookie of page ${page - 1}; send back @Microsoft.Dynamics.CRM.fetchxmlpagingcookie`);
  const counting = spec.returnTotalRecordCount || options.count === true;
  const total = counting ? await totalCount(request, spec, query) : undefined;
  if (spec.aggregate) {
    // The rows the aggregate reads (joins included), counted first: Dataverse refuses more than 50,000.
    const [counted] = await request.store.selectJoined(request.org, { ...query, columns: [{ table: ROOT, column: request.entity.primaryIdAttribute, as: "n", aggregate: "count" }], groupBy: [], orderBy: [], distinct: false, limit: 1 });
    if (Number(counted?.n ?? 0) > AGGREGATE_RECORD_LIMIT) throw dv.aggregateLimit();
  }
  const keyColumns = (keys ?? []).map((k) => ({ table: ROOT, column: k.attribute.logicalName, as: k.as }));
  // The keyset predicate joins the WHERE next to (never inside) the Read scope and the filters plan() compiled.
  const where = after && keys ? withScope(query.where, keysetPredicate(keys, after)) : query.where;
  const rows = await request.store.selectJoined(request.org, { ...query, columns: [...query.columns, ...keyColumns], ...(where ? { where } : {}), limit: paged ? pageSize + 1 : Math.min(spec.top as number, FETCH_PAGE_SIZE), ...(offset > 0 ? { offset } : {}) });
  const more = paged && rows.length > pageSize;
  if (more) rows.pop();

  const names = selection.has(ATTRIBUTE_NAME);
  const value = rows.map((row) => {
    const record: Record<string, unknown> = spec.aggregate ? {} : annotateRecord(rootAttributes, row, serializeRow(request.entity, rootAttributes, row), annotations);
    for (const output of outputs) {
      const v = outputValue(output, row);
      if (v === null) continue;
      if (formatted) {
        // Linked and aggregate columns: labels, numbers and dates, money in the base currency; counts as numbers.
        const text = output.datePart ? String(v) : output.attribute ? formatValue(output.attribute, v, symbol) : COUNT_FORMAT.format(Number(v));
        if (text !== undefined) record[`${output.key}@${FORMATTED_VALUE}`] = text;
      }
      record[output.key] = v;
      if (output.linked && names) record[`${output.key}@${ATTRIBUTE_NAME}`] = output.linked;
    }
    // FetchXML results leave out null columns (webapi/use-fetchxml-web-api).
    for (const key of Object.keys(record)) if (record[key] === null) delete record[key];
    return record;
  });
  const body: Record<string, unknown> = { "@odata.context": `${request.apiUrl}/$metadata#${request.entity.entitySetName}` };
  if (total !== undefined) {
    // fetchxml/count-rows (Web API): @odata.count up to 5000; the CRM annotations when Prefer asks for them.
    body["@odata.count"] = Math.min(total, MAX_COUNT);
    if (selection.has(TOTAL_RECORD_COUNT)) body[`@${TOTAL_RECORD_COUNT}`] = Math.min(total, MAX_COUNT);
    if (selection.has(TOTAL_LIMIT_EXCEEDED)) body[`@${TOTAL_LIMIT_EXCEEDED}`] = total > MAX_COUNT;
  }
  // The cookie comes with every page that has more rows, Prefer or not: dynamics-web-api's fetch/fetchAll send no
  // Prefer and page by it (its README "Paging"; DynamicsWebApi issue #79); morerecords only when Prefer asks.
  if (more) body[`@${PAGING_COOKIE}`] = keys ? pagingCookieAnnotation(page, keys, rows[0] as Row, rows[rows.length - 1] as Row) : emptyPagingCookieAnnotation(page);
  if (more && selection.has(MORE_RECORDS)) body[`@${MORE_RECORDS}`] = true;
  body.value = value;
  return { body, preferenceApplied: request.prefer.includeAnnotations !== undefined ? `odata.include-annotations="${request.prefer.includeAnnotations}"` : undefined };
}
