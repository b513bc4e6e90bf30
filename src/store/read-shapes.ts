import type { Expr, Operand, ReadScope, RecordQuery, Scalar } from "../dataverse/store.ts";

/**
 * Compiled SQL of record reads, by shape. A read's shape is everything but its literal values:
 * table, columns, related values, predicate structure (operators, columns, `null` tests, `IN`
 * list lengths), order, and whether it has a limit and an offset. Reads of one shape compile to
 * the same SQL text, so the query builder runs once per shape; later reads only bind their values.
 *
 * How: {@link shapeOf} replaces each literal with a sentinel string and collects the literals in
 * order; the shaped query is compiled once by the dialect's own compiler, and in the compiled
 * parameters each sentinel marks where a literal goes. The SQL is the dialect's, untouched.
 */
export class ReadShapes {
  private readonly compiled = new Map<string, CompiledShape>();

  /** The compiled form of `key`, compiling it with `compile` the first time. */
  get(key: string, compile: () => { sql: string; parameters: readonly unknown[] }): CompiledShape {
    let found = this.compiled.get(key);
    if (!found) {
      if (this.compiled.size >= MAX_SHAPES) this.compiled.clear();
      const { sql, parameters } = compile();
      found = { sql, parameters: parameters.map((p) => (isSentinel(p) ? { literal: Number(p.slice(1, -1)) } : { constant: p })) };
      this.compiled.set(key, found);
    }
    return found;
  }
}

/** One compiled shape: its SQL, and per parameter either the index of a literal or a constant of the builder. */
export interface CompiledShape {
  sql: string;
  parameters: readonly ({ literal: number } | { constant: unknown })[];
}

/** The parameters of a compiled shape for one read's literals. */
export function bindShape(shape: CompiledShape, literals: readonly Scalar[]): unknown[] {
  return shape.parameters.map((p) => ("literal" in p ? literals[p.literal] : p.constant));
}

/** Shapes kept before the cache starts over. */
const MAX_SHAPES = 1000;
/** A sentinel: NUL, the literal's index, NUL (unchanged by `toLowerCase`, never produced by the builder itself). */
const NUL = "\u0000";
const sentinel = (index: number) => `${NUL}${index}${NUL}`;
const DIGITS = /^\d+$/;
function isSentinel(p: unknown): p is string {
  return typeof p === "string" && p.length >= 3 && p.startsWith(NUL) && p.endsWith(NUL) && DIGITS.test(p.slice(1, -1));
}

/** A read with its literals replaced by sentinels, its shape key, and the literals in order. */
export interface ShapedRead {
  key: string;
  query: RecordQuery;
  literals: Scalar[];
}

/**
 * The shape of `query` on table `table` (see {@link ReadShapes}). Literals are recorded as the SQL
 * compiler would bind them: booleans as 1/0, and `IN` values of a case-insensitive list lower-cased.
 * `null` literals stay in the shape (they compile to `IS NULL`). The shaped read has an `offset`
 * only when `query` has one above 0.
 */
export function shapeOf(table: string, query: RecordQuery): ShapedRead {
  const literals: Scalar[] = [];
  const key: string[] = [table, query.columns.join(","), String(query.limit !== undefined), String(query.offset !== undefined && query.offset > 0)];
  const literal = (value: Scalar): string => {
    literals.push(typeof value === "boolean" ? (value ? 1 : 0) : value);
    return sentinel(literals.length - 1);
  };
  const related = (query.related ?? []).map((r) => {
    key.push(`r:${r.alias}:${r.column}:${r.target.logicalName}.${r.target.primaryIdAttribute}:${r.targetColumn}`);
    return { ...r, scope: shapeScope(r.scope, key, literal) };
  });
  const where = query.where ? shapeExpr(query.where, key, literal) : undefined;
  for (const o of query.orderBy) key.push(`o:${o.column}:${o.descending ? "d" : "a"}${o.caseInsensitive ? "i" : ""}`);
  const { offset, ...rest } = query;
  const shaped: RecordQuery = { ...rest, ...(where ? { where } : {}), ...(query.related ? { related } : {}) };
  // Kysely types `limit`/`offset` as numbers; the sentinel only passes through the compiler.
  if (query.limit !== undefined) shaped.limit = literal(query.limit) as unknown as number;
  // An offset of 0 is no offset: the shaped read has `offset` only when there is one.
  if (offset !== undefined && offset > 0) shaped.offset = literal(offset) as unknown as number;
  return { key: key.join("|"), query: shaped, literals };
}

function shapeOperand(o: Operand, key: string[], literal: (value: Scalar) => string): Operand {
  if (o.kind === "column") {
    key.push(`c:${o.table ?? ""}.${o.name}`);
    return o;
  }
  if (o.value === null) {
    key.push("null");
    return o;
  }
  key.push("?");
  return { kind: "value", value: literal(o.value) };
}

/** The shape of a join's scope: its predicate's structure (its values are literals like any other). */
function shapeScope(scope: ReadScope, key: string[], literal: (value: Scalar) => string): ReadScope {
  if (!scope.where) {
    key.push("scope:all");
    return scope;
  }
  key.push("scope(");
  const where = shapeExpr(scope.where, key, literal);
  key.push(")");
  return scope.withWhere(where);
}

function shapeExpr(expr: Expr, key: string[], literal: (value: Scalar) => string): Expr {
  switch (expr.kind) {
    case "and":
    case "or": {
      key.push(`${expr.kind}(`);
      const left = shapeExpr(expr.left, key, literal);
      const right = shapeExpr(expr.right, key, literal);
      key.push(")");
      return { kind: expr.kind, left, right };
    }
    case "not": {
      key.push("not(");
      const operand = shapeExpr(expr.operand, key, literal);
      key.push(")");
      return { kind: "not", operand };
    }
    case "compare": {
      key.push(`${expr.op}${expr.caseInsensitive ? "i" : ""}(`);
      const left = shapeOperand(expr.left, key, literal);
      const right = shapeOperand(expr.right, key, literal);
      key.push(")");
      return { ...expr, left, right };
    }
    case "like":
      key.push(`like(${expr.table ?? ""}.${expr.column})`);
      return { ...expr, pattern: literal(expr.pattern) };
    case "in": {
      const lower = expr.caseInsensitive === true;
      key.push(`in${lower ? "i" : ""}(${expr.table ?? ""}.${expr.column}:${expr.values.map((v) => (v === null ? "null" : "?")).join(",")})`);
      return { ...expr, values: expr.values.map((v) => (v === null ? null : literal(lower && typeof v === "string" ? v.toLowerCase() : v))) };
    }
    case "exists": {
      key.push(`exists(${expr.entity.logicalName}:${expr.innerColumn}:${expr.outerColumn}`);
      const scope = shapeScope(expr.scope, key, literal);
      const where = expr.where ? shapeExpr(expr.where, key, literal) : undefined;
      key.push(")");
      return { ...expr, scope, ...(where ? { where } : {}) };
    }
    case "bitand":
      key.push(`bitand(${expr.column}:${expr.mask})`);
      return expr;
    case "true":
    case "false":
      key.push(expr.kind);
      return expr;
  }
}
