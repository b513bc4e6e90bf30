import { dv } from "../errors.ts";
import { formatDateTime } from "../format.ts";
import type { EntityMetadata } from "../metadata/types.ts";
import type { Expr, Scalar } from "../store.ts";
import type { FilterNode } from "./filter.ts";
import { coerceLiteral } from "./literals.ts";
import type { BoundProperty, FilterCaller, PropertyBinder } from "./bound-property.ts";

/** What a `Microsoft.Dynamics.CRM.*` query function sees when it is compiled. */
export interface QueryFunctionContext {
  /** Full name as written, for messages. */
  name: string;
  binder: PropertyBinder;
  entity: EntityMetadata;
  /** Named parameters: `PropertyName`, `PropertyValue`, `PropertyValues`. */
  named: Map<string, FilterNode>;
  caller: FilterCaller;
  now: number;
}

/** Compiles one query function call to a predicate. */
export type QueryFunction = (context: QueryFunctionContext) => Expr;

function param(ctx: QueryFunctionContext, key: string): FilterNode {
  const node = ctx.named.get(key);
  if (!node) throw dv.querySyntax(`'${ctx.name}' needs the parameter '${key}'`);
  return node;
}

function checkParams(ctx: QueryFunctionContext, allowed: string[]): void {
  for (const key of ctx.named.keys()) if (!allowed.includes(key)) throw dv.querySyntax(`'${ctx.name}' has no parameter named '${key}'; it takes ${allowed.join(", ")}`);
}

/** `PropertyName='x'`: a column name (logical name or `_x_value`). */
function property(ctx: QueryFunctionContext): BoundProperty {
  const node = param(ctx, "PropertyName");
  const literal = ctx.binder.literal(node, `PropertyName of '${ctx.name}'`);
  if (literal.type !== "string") throw dv.querySyntax(`PropertyName of '${ctx.name}' must be a string`);
  const name = literal.value;
  // Query functions name lookups by logical name; `_x_value` works too.
  const attribute = ctx.binder.context.md.attribute(ctx.entity, name);
  if (attribute) return { attribute, entity: ctx.entity, name, wrap: (e) => e };
  return ctx.binder.property(name.split("/"), ctx.entity);
}

function valueOf(ctx: QueryFunctionContext, bound: BoundProperty, node: FilterNode, label: string): Scalar {
  const literal = ctx.binder.literal(node, `${label} of '${ctx.name}'`);
  return coerceLiteral(bound.attribute, literal);
}

function values(ctx: QueryFunctionContext, bound: BoundProperty): Scalar[] {
  const node = param(ctx, "PropertyValues");
  if (node.type !== "array") throw dv.querySyntax(`PropertyValues of '${ctx.name}' must be an array, e.g. ["a","b"]`);
  return node.items.map((item) => valueOf(ctx, bound, item, "PropertyValues"));
}

/** `PropertyValue` of the …X… functions is an Int32 in Dataverse's condition expressions. */
const INT32_MAX = 2_147_483_647;

function integerValue(ctx: QueryFunctionContext): number {
  const literal = ctx.binder.literal(param(ctx, "PropertyValue"), `PropertyValue of '${ctx.name}'`);
  const n = literal.type === "number" ? literal.value : literal.type === "string" ? Number(literal.value) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > INT32_MAX) throw dv.querySyntax(`PropertyValue of '${ctx.name}' must be a whole number from 0 to ${INT32_MAX}`);
  return n;
}

const col = (bound: BoundProperty) => ({ kind: "column" as const, name: bound.attribute.logicalName });
const val = (value: Scalar) => ({ kind: "value" as const, value });
const isString = (bound: BoundProperty) => ["String", "Memo", "EntityName"].includes(bound.attribute.type);

function compare(bound: BoundProperty, op: "eq" | "ne" | "gt" | "ge" | "lt" | "le", value: Scalar): Expr {
  return { kind: "compare", op, left: col(bound), right: val(value), ...(isString(bound) && value !== null ? { caseInsensitive: true } : {}) };
}

function and(left: Expr, right: Expr): Expr {
  return { kind: "and", left, right };
}

// ---- date arithmetic (UTC; Dataverse uses the caller's time zone, orgbox's users are on UTC) ----

const DAY = 86_400_000;
const HOUR = 3_600_000;

function startOfDay(ms: number): number {
  return ms - (((ms % DAY) + DAY) % DAY);
}

/** `ms` moved by whole months (UTC); ±Infinity past what a `Date` can hold, so {@link range} can tell the direction. */
function addMonths(ms: number, months: number): number {
  const d = new Date(ms);
  if (Math.abs(months) > 12 * 300_000) return months > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds());
}

function startOfMonth(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function startOfYear(ms: number): number {
  return Date.UTC(new Date(ms).getUTCFullYear(), 0, 1);
}

/** Weeks start on Sunday (Dataverse's default for en-US). */
function startOfWeek(ms: number): number {
  const day = startOfDay(ms);
  return day - new Date(day).getUTCDay() * DAY;
}

function dateColumn(ctx: QueryFunctionContext): BoundProperty {
  const bound = property(ctx);
  if (bound.attribute.type !== "DateTime") throw dv.querySyntax(`'${ctx.name}' needs a date and time column; '${bound.name}' is ${bound.attribute.type}`);
  return bound;
}

/** The instants a `DateTime` column can hold: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z (ms since the epoch). */
const MIN_DATETIME = -62_135_596_800_000;
const MAX_DATETIME = 253_402_300_799_000;

/**
 * `from <= column < to` (or `<= to`). A bound past the `DateTime` range (a huge `PropertyValue`)
 * is open when it widens the range and matches nothing when it empties it, instead of failing to format.
 */
function range(bound: BoundProperty, from: number | undefined, to: number | undefined, toInclusive = false): Expr {
  if ((from !== undefined && from > MAX_DATETIME) || (to !== undefined && to < MIN_DATETIME)) return bound.wrap({ kind: "in", column: bound.attribute.logicalName, values: [] });
  if (from !== undefined && from < MIN_DATETIME) from = undefined;
  if (to !== undefined && to > MAX_DATETIME) to = undefined;
  if (from === undefined && to === undefined) return bound.wrap(compare(bound, "ne", null));
  const parts: Expr[] = [];
  if (from !== undefined) parts.push(compare(bound, "ge", formatDateTime(from)));
  if (to !== undefined) parts.push(compare(bound, toInclusive ? "le" : "lt", formatDateTime(to)));
  const expr = parts.reduce((a, b) => and(a, b));
  return bound.wrap(expr);
}

/** A function over a date column with no value: the range is computed from now. */
function dateRange(compute: (now: number) => [number | undefined, number | undefined, boolean?]): QueryFunction {
  return (ctx) => {
    checkParams(ctx, ["PropertyName"]);
    const bound = dateColumn(ctx);
    const [from, to, inclusive] = compute(ctx.now);
    return range(bound, from, to, inclusive ?? false);
  };
}

/** A function over a date column and `PropertyValue=X` (a count of units). */
function xRange(compute: (now: number, x: number) => [number | undefined, number | undefined, boolean?]): QueryFunction {
  return (ctx) => {
    checkParams(ctx, ["PropertyName", "PropertyValue"]);
    const bound = dateColumn(ctx);
    const [from, to, inclusive] = compute(ctx.now, integerValue(ctx));
    return range(bound, from, to, inclusive ?? false);
  };
}

/** A function over a date column and `PropertyValue=<date>`. */
function onDate(compute: (day: number) => [number | undefined, number | undefined], negate = false): QueryFunction {
  return (ctx) => {
    checkParams(ctx, ["PropertyName", "PropertyValue"]);
    const bound = dateColumn(ctx);
    const text = valueOf(ctx, bound, param(ctx, "PropertyValue"), "PropertyValue");
    if (typeof text !== "string") throw dv.querySyntax(`PropertyValue of '${ctx.name}' must be a date`);
    const [from, to] = compute(startOfDay(Date.parse(text)));
    const expr = range(bound, from, to);
    return negate ? bound.wrap({ kind: "and", left: compare(bound, "ne", null), right: { kind: "not", operand: range({ ...bound, wrap: (e) => e }, from, to) } }) : expr;
  };
}

function inFunction(negate: boolean): QueryFunction {
  return (ctx) => {
    checkParams(ctx, ["PropertyName", "PropertyValues"]);
    const bound = property(ctx);
    const list = values(ctx, bound);
    if (list.length === 0) throw dv.querySyntax(`PropertyValues of '${ctx.name}' is empty`);
    const expr: Expr = { kind: "in", column: bound.attribute.logicalName, values: list, ...(isString(bound) ? { caseInsensitive: true } : {}) };
    return bound.wrap(negate ? { kind: "not", operand: expr } : expr);
  };
}

function betweenFunction(negate: boolean): QueryFunction {
  return (ctx) => {
    checkParams(ctx, ["PropertyName", "PropertyValues"]);
    const bound = property(ctx);
    const list = values(ctx, bound);
    if (list.length !== 2) throw dv.querySyntax(`PropertyValues of '${ctx.name}' must hold exactly two values`);
    const [low, high] = list as [Scalar, Scalar];
    const expr: Expr = negate ? { kind: "or", left: compare(bound, "lt", low), right: compare(bound, "gt", high) } : and(compare(bound, "ge", low), compare(bound, "le", high));
    return bound.wrap(expr);
  };
}

function principalFunction(kind: "user" | "business", negate: boolean): QueryFunction {
  return (ctx) => {
    checkParams(ctx, ["PropertyName"]);
    const bound = property(ctx);
    if (!["Lookup", "Owner", "Customer", "Uniqueidentifier"].includes(bound.attribute.type)) throw dv.querySyntax(`'${ctx.name}' needs a lookup column; '${bound.name}' is ${bound.attribute.type}`);
    const id = kind === "user" ? ctx.caller.systemUserId : ctx.caller.businessUnitId;
    const expr = compare(bound, "eq", id.toLowerCase());
    return bound.wrap(negate ? { kind: "or", left: compare(bound, "ne", id.toLowerCase()), right: compare(bound, "eq", null) } : expr);
  };
}

/**
 * `ContainValues` / `DoesNotContainValues` on a multi-select choice column, stored as ascending
 * comma-separated option values (`1,3`): a row contains option `v` when the text is `v`, starts
 * with `v,`, ends with `,v` or holds `,v,`. `ContainValues` matches rows holding any of the values;
 * `DoesNotContainValues` rows holding none of them (empty columns included).
 * @throws DataverseError 400 for another column type, an empty list or a value that is not one of the column's options.
 */
function multiSelect(negate: boolean): QueryFunction {
  return (ctx) => {
    checkParams(ctx, ["PropertyName", "PropertyValues"]);
    const bound = property(ctx);
    if (bound.attribute.type !== "MultiSelectPicklist") throw dv.querySyntax(`'${ctx.name}' needs a multi-select choice column (MultiSelectPicklist); '${bound.name}' is ${bound.attribute.type}`);
    const node = param(ctx, "PropertyValues");
    if (node.type !== "array" || node.items.length === 0) throw dv.querySyntax(`PropertyValues of '${ctx.name}' must be a non-empty array of option values, e.g. ['1','2']`);
    const options = node.items.map((item) => {
      const literal = ctx.binder.literal(item, `PropertyValues of '${ctx.name}'`);
      const n = literal.type === "number" ? literal.value : literal.type === "string" ? Number(literal.value) : Number.NaN;
      if (!Number.isInteger(n) || !(bound.attribute.options ?? []).some((o) => o.value === n)) throw dv.querySyntax(`'${literal.type === "null" ? "null" : String(literal.value)}' is not an option of the multi-select column '${bound.name}'`);
      return String(n);
    });
    const column = bound.attribute.logicalName;
    const holds = (v: string): Expr =>
      [`${v},%`, `%,${v}`, `%,${v},%`].reduce<Expr>((left, pattern) => ({ kind: "or", left, right: { kind: "like", column, pattern } }), compare(bound, "eq", v));
    const any = options.map(holds).reduce((left, right) => ({ kind: "or", left, right }));
    return bound.wrap(negate ? { kind: "or", left: compare(bound, "eq", null), right: { kind: "not", operand: any } } : and(compare(bound, "ne", null), any));
  };
}

/**
 * The `Microsoft.Dynamics.CRM.*` query functions orgbox implements, by name
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/queryfunctions).
 * Dates use UTC day boundaries; weeks start on Sunday. Functions not listed here
 * (hierarchy `Under`/`Above`, fiscal periods, `EqualUserOrUserTeams`, …) fail naming themselves.
 */
export const QUERY_FUNCTIONS: ReadonlyMap<string, QueryFunction> = new Map<string, QueryFunction>([
  ["In", inFunction(false)],
  ["NotIn", inFunction(true)],
  ["Between", betweenFunction(false)],
  ["NotBetween", betweenFunction(true)],
  ["Today", dateRange((now) => [startOfDay(now), startOfDay(now) + DAY])],
  ["Yesterday", dateRange((now) => [startOfDay(now) - DAY, startOfDay(now)])],
  ["Tomorrow", dateRange((now) => [startOfDay(now) + DAY, startOfDay(now) + 2 * DAY])],
  ["ThisWeek", dateRange((now) => [startOfWeek(now), startOfWeek(now) + 7 * DAY])],
  ["LastWeek", dateRange((now) => [startOfWeek(now) - 7 * DAY, startOfWeek(now)])],
  ["NextWeek", dateRange((now) => [startOfWeek(now) + 7 * DAY, startOfWeek(now) + 14 * DAY])],
  ["ThisMonth", dateRange((now) => [startOfMonth(now), addMonths(startOfMonth(now), 1)])],
  ["LastMonth", dateRange((now) => [addMonths(startOfMonth(now), -1), startOfMonth(now)])],
  ["NextMonth", dateRange((now) => [addMonths(startOfMonth(now), 1), addMonths(startOfMonth(now), 2)])],
  ["ThisYear", dateRange((now) => [startOfYear(now), addMonths(startOfYear(now), 12)])],
  ["LastYear", dateRange((now) => [addMonths(startOfYear(now), -12), startOfYear(now)])],
  ["NextYear", dateRange((now) => [addMonths(startOfYear(now), 12), addMonths(startOfYear(now), 24)])],
  // Last X units: from the start of the day X units ago up to now; next X: from now to the end of the day X units ahead.
  ["LastXHours", xRange((now, x) => [now - x * HOUR, now, true])],
  ["NextXHours", xRange((now, x) => [now, now + x * HOUR, true])],
  ["LastXDays", xRange((now, x) => [startOfDay(now) - x * DAY, now, true])],
  ["NextXDays", xRange((now, x) => [now, startOfDay(now) + (x + 1) * DAY])],
  ["LastXWeeks", xRange((now, x) => [startOfDay(now) - 7 * x * DAY, now, true])],
  ["NextXWeeks", xRange((now, x) => [now, startOfDay(now) + (7 * x + 1) * DAY])],
  ["LastXMonths", xRange((now, x) => [addMonths(startOfDay(now), -x), now, true])],
  ["NextXMonths", xRange((now, x) => [now, addMonths(startOfDay(now), x) + DAY])],
  ["LastXYears", xRange((now, x) => [addMonths(startOfDay(now), -12 * x), now, true])],
  ["NextXYears", xRange((now, x) => [now, addMonths(startOfDay(now), 12 * x) + DAY])],
  ["OlderThanXMinutes", xRange((now, x) => [undefined, now - x * 60_000])],
  ["OlderThanXHours", xRange((now, x) => [undefined, now - x * HOUR])],
  ["OlderThanXDays", xRange((now, x) => [undefined, now - x * DAY])],
  ["OlderThanXWeeks", xRange((now, x) => [undefined, now - 7 * x * DAY])],
  ["OlderThanXMonths", xRange((now, x) => [undefined, addMonths(now, -x)])],
  ["OlderThanXYears", xRange((now, x) => [undefined, addMonths(now, -12 * x)])],
  ["On", onDate((day) => [day, day + DAY])],
  ["NotOn", onDate((day) => [day, day + DAY], true)],
  ["OnOrAfter", onDate((day) => [day, undefined])],
  ["OnOrBefore", onDate((day) => [undefined, day + DAY])],
  ["EqualUserId", principalFunction("user", false)],
  ["NotEqualUserId", principalFunction("user", true)],
  ["EqualBusinessId", principalFunction("business", false)],
  ["NotEqualBusinessId", principalFunction("business", true)],
  ["ContainValues", multiSelect(false)],
  ["DoesNotContainValues", multiSelect(true)],
]);
