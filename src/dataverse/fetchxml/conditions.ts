import type { OrgMetadata } from "../metadata/registry.ts";
import type { AttributeMetadata, EntityMetadata } from "../metadata/types.ts";
import type { FilterNode } from "../odata/filter.ts";
import { FilterBinder, likeBody, noJoins, type FilterCaller } from "../odata/filter-binder.ts";
import { coerceLiteral } from "../odata/literals.ts";
import { QUERY_FUNCTIONS } from "../odata/query-functions.ts";
import type { Expr, Operand, Scalar } from "../store.ts";
import { fetchErrors, type FetchCondition, type FetchFilter, type FetchLink } from "./parse.ts";

/** What compiling a condition needs: the table it belongs to, the caller and now (date and user operators). */
export interface ConditionContext {
  md: OrgMetadata;
  entity: EntityMetadata;
  caller: FilterCaller;
  /** "Now" in ms since the epoch. */
  now: number;
  /**
   * The table and SQL alias of a link-entity, by alias or name, for conditions with `entityname`
   * (only the root entity's filters have it).
   */
  linked?: (name: string) => { entity: EntityMetadata; table: string } | undefined;
  /** The predicate of a `link-type` `any`/`not any`/`all`/`not all` link-entity inside a filter of this table. */
  semiJoin?: (link: FetchLink) => Expr;
}

interface Bound {
  ctx: ConditionContext;
  condition: FetchCondition;
  attribute: AttributeMetadata;
}

type ConditionOperator = (bound: Bound) => Expr;

const isString = (a: AttributeMetadata) => ["String", "Memo", "EntityName"].includes(a.type);
const column = (a: AttributeMetadata) => ({ kind: "column" as const, name: a.logicalName });

function single(bound: Bound): string {
  const { condition } = bound;
  const value = condition.value ?? (condition.values.length === 1 ? condition.values[0] : undefined);
  if (value === undefined) throw fetchErrors.invalid(`the condition operator '${condition.operator}' on '${condition.attribute}' needs a value`);
  return value;
}

function coerce(bound: Bound, value: string): Scalar {
  return coerceLiteral(bound.attribute, { type: "string", value });
}

function compare(op: "eq" | "ne" | "gt" | "ge" | "lt" | "le"): ConditionOperator {
  return (bound) => ({ kind: "compare", op, left: column(bound.attribute), right: { kind: "value", value: coerce(bound, single(bound)) }, ...(isString(bound.attribute) ? { caseInsensitive: true } : {}) });
}

function like(prefix: string, suffix: string, negate = false): ConditionOperator {
  return (bound) => {
    if (!isString(bound.attribute)) throw fetchErrors.invalid(`the condition operator '${bound.condition.operator}' needs a text column; '${bound.attribute.logicalName}' is ${bound.attribute.type}`);
    const expr: Expr = { kind: "like", column: bound.attribute.logicalName, pattern: `${prefix}${likeBody(single(bound))}${suffix}` };
    return negate ? { kind: "not", operand: expr } : expr;
  };
}

function list(bound: Bound): Scalar[] {
  const values = bound.condition.values.length > 0 ? bound.condition.values : bound.condition.value !== undefined ? [bound.condition.value] : [];
  if (values.length === 0) throw fetchErrors.invalid(`the condition operator '${bound.condition.operator}' on '${bound.condition.attribute}' needs <value> elements`);
  return values.map((v) => coerce(bound, v));
}

function inList(negate: boolean): ConditionOperator {
  return (bound) => {
    const expr: Expr = { kind: "in", column: bound.attribute.logicalName, values: list(bound), ...(isString(bound.attribute) ? { caseInsensitive: true } : {}) };
    return negate ? { kind: "not", operand: expr } : expr;
  };
}

const nullCheck =
  (op: "eq" | "ne"): ConditionOperator =>
  (bound) => ({ kind: "compare", op, left: column(bound.attribute), right: { kind: "value", value: null } });

/** A FetchXML operator that means the same as a Web API query function (Today, LastXDays, EqualUserId, …). */
function viaQueryFunction(name: string): ConditionOperator {
  return (bound) => {
    const fn = QUERY_FUNCTIONS.get(name);
    if (!fn) throw new Error(`query function ${name} is not registered`);
    const literal = (value: string): FilterNode => ({ type: "literal", literal: { type: "string", value } });
    const named = new Map<string, FilterNode>([["PropertyName", literal(bound.attribute.logicalName)]]);
    const value = bound.condition.value ?? (bound.condition.values.length === 1 ? bound.condition.values[0] : undefined);
    if (value !== undefined) named.set("PropertyValue", literal(value));
    const { md, entity, caller, now } = bound.ctx;
    return fn({ name: bound.condition.operator, binder: new FilterBinder({ md, entity, caller, now, scopeOf: noJoins("a FetchXML condition") }), entity, named, caller, now });
  };
}

const between: ConditionOperator = (bound) => {
  const values = list(bound);
  if (values.length !== 2) throw fetchErrors.invalid(`the condition operator 'between' on '${bound.condition.attribute}' needs exactly two <value> elements`);
  const [low, high] = values as [Scalar, Scalar];
  const cmp = (op: "ge" | "le", value: Scalar): Expr => ({ kind: "compare", op, left: column(bound.attribute), right: { kind: "value", value }, ...(isString(bound.attribute) ? { caseInsensitive: true } : {}) });
  return { kind: "and", left: cmp("ge", low), right: cmp("le", high) };
};

/**
 * The FetchXML condition operators orgbox implements, by name
 * (learn.microsoft.com/power-apps/developer/data-platform/fetchxml/reference/operators).
 * Date operators use UTC day boundaries, as the Web API query functions do.
 */
const CONDITION_OPERATORS: ReadonlyMap<string, ConditionOperator> = new Map<string, ConditionOperator>([
  ["eq", compare("eq")],
  ["ne", compare("ne")],
  ["neq", compare("ne")],
  ["gt", compare("gt")],
  ["ge", compare("ge")],
  ["lt", compare("lt")],
  ["le", compare("le")],
  ["like", like("", "")],
  ["not-like", like("", "", true)],
  ["begins-with", like("", "%")],
  ["not-begin-with", like("", "%", true)],
  ["ends-with", like("%", "")],
  ["not-end-with", like("%", "", true)],
  ["in", inList(false)],
  ["not-in", inList(true)],
  ["null", nullCheck("eq")],
  ["not-null", nullCheck("ne")],
  ["between", between],
  ["today", viaQueryFunction("Today")],
  ["yesterday", viaQueryFunction("Yesterday")],
  ["tomorrow", viaQueryFunction("Tomorrow")],
  ["this-week", viaQueryFunction("ThisWeek")],
  ["last-week", viaQueryFunction("LastWeek")],
  ["next-week", viaQueryFunction("NextWeek")],
  ["this-month", viaQueryFunction("ThisMonth")],
  ["last-month", viaQueryFunction("LastMonth")],
  ["next-month", viaQueryFunction("NextMonth")],
  ["this-year", viaQueryFunction("ThisYear")],
  ["last-year", viaQueryFunction("LastYear")],
  ["next-year", viaQueryFunction("NextYear")],
  ["last-x-hours", viaQueryFunction("LastXHours")],
  ["next-x-hours", viaQueryFunction("NextXHours")],
  ["last-x-days", viaQueryFunction("LastXDays")],
  ["next-x-days", viaQueryFunction("NextXDays")],
  ["last-x-weeks", viaQueryFunction("LastXWeeks")],
  ["next-x-weeks", viaQueryFunction("NextXWeeks")],
  ["last-x-months", viaQueryFunction("LastXMonths")],
  ["next-x-months", viaQueryFunction("NextXMonths")],
  ["last-x-years", viaQueryFunction("LastXYears")],
  ["next-x-years", viaQueryFunction("NextXYears")],
  ["on", viaQueryFunction("On")],
  ["on-or-after", viaQueryFunction("OnOrAfter")],
  ["on-or-before", viaQueryFunction("OnOrBefore")],
  ["eq-userid", viaQueryFunction("EqualUserId")],
  ["ne-userid", viaQueryFunction("NotEqualUserId")],
  ["eq-businessid", viaQueryFunction("EqualBusinessId")],
  ["ne-businessid", viaQueryFunction("NotEqualBusinessId")],
]);

/**
 * Compiles `<filter>` elements of one table to a predicate on that table (several filters are ANDed).
 * @throws DataverseError 400 naming an unknown column or an unsupported operator.
 */
export function compileFilters(filters: FetchFilter[], ctx: ConditionContext): Expr | undefined {
  const parts = filters.map((f) => compileFilter(f, ctx)).filter((e): e is Expr => e !== undefined);
  return parts.length === 0 ? undefined : parts.reduce((left, right) => ({ kind: "and", left, right }));
}

function compileFilter(filter: FetchFilter, ctx: ConditionContext): Expr | undefined {
  const links = filter.links.map((link) => {
    if (!ctx.semiJoin) throw fetchErrors.unsupported(`<link-entity> with link-type '${link.type}' here`);
    return ctx.semiJoin(link);
  });
  const parts: Expr[] = [...filter.conditions.map((c) => compileCondition(c, ctx)), ...filter.filters.map((f) => compileFilter(f, ctx)).filter((e): e is Expr => e !== undefined), ...links];
  if (parts.length === 0) return undefined;
  return parts.reduce((left, right) => ({ kind: filter.type, left, right }));
}

function compileCondition(condition: FetchCondition, ctx: ConditionContext): Expr {
  if (condition.entityName !== undefined) {
    if (!ctx.linked) throw fetchErrors.unsupported(`'entityname' on a condition outside the root entity's filters`);
    const target = ctx.linked(condition.entityName);
    if (!target) throw fetchErrors.invalid(`the condition's entityname '${condition.entityName}' names no link-entity (alias or name) of this query`);
    const { entityName: _name, ...rest } = condition;
    return qualify(compileCondition(rest, { md: ctx.md, entity: target.entity, caller: ctx.caller, now: ctx.now }), target.table);
  }
  const attribute = ctx.md.attribute(ctx.entity, condition.attribute);
  if (!attribute) throw fetchErrors.noAttribute(ctx.entity.logicalName, condition.attribute);
  if (condition.otherColumn !== undefined) return columnComparison(ctx, condition, attribute, condition.otherColumn);
  const operator = CONDITION_OPERATORS.get(condition.operator);
  if (!operator) throw fetchErrors.unsupported(`condition operator '${condition.operator}'`);
  return operator({ ctx, condition, attribute });
}

const COLUMN_OPERATORS = new Map<string, "eq" | "ne" | "gt" | "ge" | "lt" | "le">([["eq", "eq"], ["ne", "ne"], ["neq", "ne"], ["gt", "gt"], ["ge", "ge"], ["lt", "lt"], ["le", "le"]]);
const NUMERIC = new Set(["Integer", "BigInt", "Decimal", "Double", "Money"]);

/**
 * `<condition attribute="a" operator="gt" valueof="b" />`: a column compared with another column of
 * the same row, or with `alias.column` of a link-entity (root filters only)
 * (learn.microsoft.com/power-apps/developer/data-platform/fetchxml/filter-rows#filter-on-column-values-in-the-same-row).
 * @throws DataverseError 400 for another operator, an unknown column or columns of different types.
 */
function columnComparison(ctx: ConditionContext, condition: FetchCondition, attribute: AttributeMetadata, valueOf: string): Expr {
  const op = COLUMN_OPERATORS.get(condition.operator);
  if (!op) throw fetchErrors.invalid(`'valueof' works with eq, ne, gt, ge, lt and le, not '${condition.operator}'`);
  const dot = valueOf.indexOf(".");
  let other: AttributeMetadata | undefined;
  let table: string | undefined;
  if (dot >= 0) {
    const target = ctx.linked?.(valueOf.slice(0, dot));
    if (!target) throw fetchErrors.invalid(`'valueof="${valueOf}"' names no link-entity alias of this query's root filters`);
    other = ctx.md.attribute(target.entity, valueOf.slice(dot + 1));
    if (!other) throw fetchErrors.noAttribute(target.entity.logicalName, valueOf.slice(dot + 1));
    table = target.table;
  } else {
    other = ctx.md.attribute(ctx.entity, valueOf);
    if (!other) throw fetchErrors.noAttribute(ctx.entity.logicalName, valueOf);
  }
  const comparable = other.type === attribute.type || (NUMERIC.has(other.type) && NUMERIC.has(attribute.type)) || (isString(other) && isString(attribute));
  if (!comparable) throw fetchErrors.invalid(`'${attribute.logicalName}' (${attribute.type}) cannot be compared with '${valueOf}' (${other.type})`);
  return { kind: "compare", op, left: column(attribute), right: { kind: "column", name: other.logicalName, ...(table !== undefined ? { table } : {}) }, ...(isString(attribute) ? { caseInsensitive: true } : {}) };
}

/** `expr` with every column reference of its own table moved to the joined table `table` (subqueries keep theirs). */
function qualify(expr: Expr, table: string): Expr {
  switch (expr.kind) {
    case "and":
    case "or":
      return { kind: expr.kind, left: qualify(expr.left, table), right: qualify(expr.right, table) };
    case "not":
      return { kind: "not", operand: qualify(expr.operand, table) };
    case "compare": {
      const side = (o: Operand): Operand => (o.kind === "column" ? { ...o, table } : o);
      return { ...expr, left: side(expr.left), right: side(expr.right) };
    }
    case "like":
    case "in":
      return { ...expr, table };
    case "exists":
    case "bitand":
      throw fetchErrors.unsupported(`this condition with 'entityname'`);
    case "true":
    case "false":
      return expr;
  }
}
