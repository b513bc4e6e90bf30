import { AGGREGATE_RECORD_LIMIT, DataverseError, dv } from "../errors.ts";
import type { AttributeMetadata, EntityMetadata } from "../metadata/types.ts";
import { isLookupType } from "../metadata/types.ts";
import type { Row } from "../model.ts";
import { navigationFor } from "../navigation.ts";
import { FORMATTED_VALUE, formatValue } from "../odata/annotations.ts";
import { parseApply, type ApplyAggregate, type ApplySpec } from "../odata/apply.ts";
import { bindFilter } from "../odata/filter-binder.ts";
import { parseFilter } from "../odata/filter.ts";
import { AnnotationSelection } from "../odata/prefer.ts";
import { propertyName, serializeRow } from "../odata/serializer.ts";
import { withScope } from "../security/scope.ts";
import type { AggregateFunction, Expr, JoinedColumn, JoinedOrder, JoinedTable } from "../store.ts";
import type { ReadRequest, ReadResult } from "./records.ts";

/** Groups returned at most (Dataverse's page size; aggregate results are not paged). */
const MAX_GROUPS = 5000;
const ROOT = "t0";
const NUMERIC = new Set(["Integer", "BigInt", "Decimal", "Double", "Money"]);
const COUNT_FORMAT = new Intl.NumberFormat("en-US");
const METHOD_SQL: Record<string, AggregateFunction> = { sum: "sum", average: "avg", min: "min", max: "max", countdistinct: "countcolumn" };

/** One value of a result row: its JSON key, its SQL result column and how to serialise and format it. */
interface Output {
  key: string;
  sqlName: string;
  /** The column it comes from (grouped values, min/max), or undefined for counts. */
  attribute?: AttributeMetadata;
  entity: EntityMetadata;
  /** Counts, sums and averages come back as numbers. */
  numeric: boolean;
  /** Formatted as this attribute (sums and averages of money keep the currency). */
  formatAs?: AttributeMetadata;
}

/** A column reached by a grouping or aggregate path: a root column, or a column of a table joined through a lookup. */
interface Reached {
  table: string;
  entity: EntityMetadata;
  attribute: AttributeMetadata;
  /** JSON key of a grouped value: the property name, or `{target}_{column}` through a navigation property. */
  key: string;
}

/**
 * `GET /{set}?$apply=…`: grouping and aggregation compiled to one SQL statement (GROUP BY with
 * COUNT/SUM/AVG/MIN/MAX, LEFT JOINs for `navigation/column` paths) under the caller's Read scope on
 * every table (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/aggregate-data).
 * Grouped values and aggregates come back by property name or alias; null grouped values are left out;
 * `Prefer: odata.include-annotations` adds FormattedValue annotations. `$orderby` may name grouped
 * root columns, `$top` limits the groups.
 * @throws DataverseError 400 `0x80060888` (syntax, unsupported transformations or options, datetime
 *   grouping, ordering by an aggregate), `0x0` (unknown property), `0x8004e023` (more than 50,000 rows).
 */
export async function readApply(request: ReadRequest, text: string): Promise<ReadResult> {
  const { store, org, md, entity, options, prefer, security } = request;
  const other = [["$select", options.select], ["$expand", options.expand], ["$filter", options.filter], ["$count", options.count], ["$skiptoken", options.skipToken]].find(([, v]) => v !== undefined);
  if (other) throw dv.queryOptionNotSupported(`${String(other[0])} with $apply${other[0] === "$filter" ? " (put the condition in $apply as filter(…))" : ""}`);
  const spec = parseApply(text);
  const nav = navigationFor(md);
  const joins: JoinedTable[] = [];
  const joinedBy = new Map<string, JoinedTable>();

  /** A root column, `_lookup_value`, or `navigation/column` through a single-valued navigation property (LEFT JOIN, Read scope in ON). */
  const reach = async (path: string[]): Promise<Reached> => {
    const [first, second] = path as [string, string | undefined];
    if (second === undefined) {
      const lookup = /^_(.+)_value$/.exec(first);
      const attribute = md.attribute(entity, lookup ? (lookup[1] as string) : first);
      if (!attribute || Boolean(lookup) !== isLookupType(attribute.type)) throw dv.propertyNotFound(first, entity.logicalName);
      return { table: ROOT, entity, attribute, key: propertyName(attribute) };
    }
    const navigation = nav.singleValued(entity, first);
    if (!navigation) throw dv.propertyNotFound(first, entity.logicalName);
    const [targetName, ...others] = navigation.targets;
    const target = targetName === undefined || others.length > 0 ? undefined : md.entity(targetName);
    if (!target) throw dv.queryOptionNotSupported(`$apply through the polymorphic navigation property '${first}'`);
    const attribute = md.attribute(target, second);
    if (!attribute || isLookupType(attribute.type)) throw dv.propertyNotFound(second, target.logicalName);
    let join = joinedBy.get(first);
    if (!join) {
      join = { alias: `l${joins.length + 1}`, entity: target, parent: ROOT, from: target.primaryIdAttribute, to: navigation.attribute.logicalName, outer: true, scope: await security.readScope(target) };
      joins.push(join);
      joinedBy.set(first, join);
    }
    return { table: join.alias, entity: target, attribute, key: `${target.logicalName}_${attribute.logicalName}` };
  };

  const columns: JoinedColumn[] = [];
  const outputs: Output[] = [];
  const groupBy: { table: string; column: string }[] = [];
  const grouped = new Map<string, Reached>();
  for (const path of spec.groupBy) {
    const reached = await reach(path);
    if (reached.attribute.type === "DateTime") throw dv.queryOptionNotSupported(`groupby with the datetime column '${path.join("/")}' (Dataverse does not group by datetime values)`);
    if (grouped.has(reached.key)) throw dv.querySyntax(`the property '${path.join("/")}' is grouped twice in $apply`);
    grouped.set(reached.key, reached);
    const sqlName = `c${columns.length}`;
    columns.push({ table: reached.table, column: reached.attribute.logicalName, as: sqlName });
    groupBy.push({ table: reached.table, column: reached.attribute.logicalName });
    outputs.push({ key: reached.key, sqlName, attribute: reached.attribute, entity: reached.entity, numeric: false });
  }
  for (const aggregate of spec.aggregates) await addAggregate(aggregate);

  async function addAggregate(aggregate: ApplyAggregate): Promise<void> {
    const sqlName = `c${columns.length}`;
    if (grouped.has(aggregate.alias)) throw dv.querySyntax(`the alias '${aggregate.alias}' is also a grouped property`);
    if (aggregate.kind === "count") {
      columns.push({ table: ROOT, column: entity.primaryIdAttribute, as: sqlName, aggregate: "count" });
      outputs.push({ key: aggregate.alias, sqlName, entity, numeric: true });
      return;
    }
    const reached = await reach(aggregate.path);
    const { attribute } = reached;
    const type = attribute.type;
    if ((aggregate.method === "sum" || aggregate.method === "average") && !NUMERIC.has(type)) {
      throw dv.querySyntax(`'${aggregate.method}' needs a numeric column; '${aggregate.path.join("/")}' is ${type}`);
    }
    if ((aggregate.method === "min" || aggregate.method === "max") && !NUMERIC.has(type) && type !== "DateTime") {
      throw dv.querySyntax(`'${aggregate.method}' needs a numeric or date and time column; '${aggregate.path.join("/")}' is ${type}`);
    }
    const method = METHOD_SQL[aggregate.method] as AggregateFunction;
    columns.push({ table: reached.table, column: attribute.logicalName, as: sqlName, aggregate: method, ...(aggregate.method === "countdistinct" ? { distinct: true } : {}) });
    const counted = aggregate.method === "countdistinct";
    const dated = type === "DateTime";
    outputs.push({ key: aggregate.alias, sqlName, entity: reached.entity, numeric: !dated, ...(dated ? { attribute } : {}), ...(counted ? {} : { formatAs: attribute }) });
  }

  let filtered: Expr | undefined;
  for (const filter of spec.filters) {
    const bound = await bindFilter({ md, entity, caller: request.caller, now: request.now }, parseFilter(filter, options.aliases), (table) => security.readScope(table));
    filtered = withScope(filtered, bound);
  }
  const where = withScope(await security.scope("Read", entity), filtered);
  const total = await store.countRows(org, { entity, ...(where ? { where } : {}), limit: AGGREGATE_RECORD_LIMIT + 1 });
  if (total > AGGREGATE_RECORD_LIMIT) throw dv.aggregateLimit();

  const rows = await store.selectJoined(org, {
    entity,
    alias: ROOT,
    joins,
    columns,
    ...(where ? { where } : {}),
    groupBy,
    orderBy: orderFor(options.orderBy, grouped, spec),
    limit: Math.min(options.top ?? MAX_GROUPS, MAX_GROUPS),
  });

  const selection = new AnnotationSelection(prefer.includeAnnotations);
  const formatted = selection.has(FORMATTED_VALUE);
  const symbol = formatted && outputs.some((o) => o.formatAs?.type === "Money") ? await baseCurrencySymbol(request) : undefined;
  const value = rows.map((row) => {
    const record: Record<string, unknown> = {};
    for (const output of outputs) {
      const v = outputValue(output, row);
      if (v === null) continue;
      const format = output.formatAs ?? output.attribute;
      const text = !formatted ? undefined : format ? formatValue(format, v, symbol) : COUNT_FORMAT.format(Number(v));
      if (text !== undefined) record[`${output.key}@${FORMATTED_VALUE}`] = text;
      record[output.key] = v;
    }
    return record;
  });
  return {
    body: { "@odata.context": `${request.apiUrl}/$metadata#${entity.entitySetName}`, value },
    preferenceApplied: prefer.includeAnnotations !== undefined ? `odata.include-annotations="${prefer.includeAnnotations}"` : undefined,
  };
}

/** `$orderby` of an `$apply` read: grouped root columns only; an aggregate alias fails as Dataverse fails it. */
function orderFor(text: string | undefined, grouped: Map<string, Reached>, spec: ApplySpec): JoinedOrder[] {
  const out: JoinedOrder[] = [];
  for (const item of text === undefined ? [] : text.split(",").map((s) => s.trim())) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\s+(asc|desc))?$/.exec(item);
    if (!m) throw dv.querySyntax(`'${item}' in $orderby is not 'property [asc|desc]'`);
    const name = m[1] as string;
    if (spec.aggregates.some((a) => a.alias === name)) throw new DataverseError(400, "0x80060888", "The query node SingleValueOpenPropertyAccess is not supported");
    const reached = grouped.get(name);
    if (!reached || reached.table !== ROOT) throw dv.queryOptionNotSupported(`$orderby on '${name}' with $apply (order by grouped columns of the queried table)`);
    const text = reached.attribute.type === "String" || reached.attribute.type === "Memo";
    out.push({ table: ROOT, column: reached.attribute.logicalName, descending: m[2] === "desc", ...(text ? { caseInsensitive: true } : {}) });
  }
  // Groups in a stable order: by the grouped values, as SQL Server's GROUP BY usually returns them.
  for (const reached of grouped.values()) if (!out.some((o) => "column" in o && o.table === reached.table && o.column === reached.attribute.logicalName)) out.push({ table: reached.table, column: reached.attribute.logicalName, descending: false });
  return out;
}

function outputValue(output: Output, row: Row): unknown {
  const value = row[output.sqlName];
  if (value === null || value === undefined) return null;
  if (output.numeric) return Number(value);
  const attribute = output.attribute as AttributeMetadata;
  return serializeRow(output.entity, [attribute], { [attribute.logicalName]: value })[propertyName(attribute)];
}

/** The currency symbol of the org's base currency (money aggregates are in it). */
export async function baseCurrencySymbol(request: Pick<ReadRequest, "store" | "org" | "md">): Promise<string | undefined> {
  const { store, org, md } = request;
  const organization = md.entity("organization");
  const currency = md.entity("transactioncurrency");
  if (!organization || !currency) return undefined;
  const [orgRow] = await store.selectRows(org, { entity: organization, columns: ["basecurrencyid"], orderBy: [], limit: 1 });
  const id = orgRow?.basecurrencyid;
  if (typeof id !== "string") return undefined;
  const [row] = await store.selectRows(org, { entity: currency, columns: ["currencysymbol"], where: { kind: "compare", op: "eq", left: { kind: "column", name: "transactioncurrencyid" }, right: { kind: "value", value: id } }, orderBy: [], limit: 1 });
  return typeof row?.currencysymbol === "string" ? row.currencysymbol : undefined;
}
