import { sql, type AliasedExpression, type Expression, type ExpressionBuilder, type RawBuilder, type SqlBool } from "kysely";
import type { Org } from "../dataverse/model.ts";
import type { Expr, JoinedColumn, Operand, RelatedValue } from "../dataverse/store.ts";
import type { StoreDialect } from "./dialect.ts";

/** Rows of a dynamic record table: any column. */
export type DynamicDb = Record<string, Record<string, unknown>>;

/** Kysely's expression builder over record tables. */
export type Eb = ExpressionBuilder<DynamicDb, string>;

/**
 * Where column names of an expression resolve: the table alias (`t0`, a join's alias, `s1`… for
 * subqueries), the org's table prefix for the tables of subqueries, and the subquery depth.
 */
export interface Scope {
  prefix: string;
  alias: string;
  depth: number;
}

const OPS = { eq: "=", ne: "<>", gt: ">", ge: ">=", lt: "<", le: "<=" } as const;

/**
 * Compiles the store port's query inputs ({@link Expr} predicates, {@link RelatedValue}s,
 * {@link JoinedColumn}s, sort keys) to Kysely expressions: parameterised, never string SQL from
 * input. What differs between engines comes from the {@link StoreDialect}. Every join it builds
 * (an `exists` subquery, a related value) ANDs in the joined table's `ReadScope` first: the input
 * types require one, and there is no path around it.
 */
export class ExprCompiler {
  private readonly dialect: StoreDialect;

  constructor(dialect: StoreDialect) {
    this.dialect = dialect;
  }

  /**
   * The predicate `expr` as a boolean expression. Without a scope, column names are unqualified
   * (single-table statements); with one they are qualified by the scope's alias, which `exists`
   * subqueries need.
   * @throws Error for an `exists` predicate without a scope.
   */
  predicate(eb: Eb, expr: Expr, scope?: Scope): Expression<SqlBool> {
    switch (expr.kind) {
      case "and":
      case "or":
        return balanced(eb, expr.kind, chain(expr, expr.kind).map((e) => this.predicate(eb, e, scope)));
      case "not":
        return eb.not(this.predicate(eb, expr.operand, scope));
      case "compare": {
        const isNull = (o: Operand) => o.kind === "value" && o.value === null;
        if (isNull(expr.right) || isNull(expr.left)) {
          const other = isNull(expr.right) ? expr.left : expr.right;
          if (expr.op === "eq") return eb(this.operand(eb, other, scope), "is", null);
          if (expr.op === "ne") return eb(this.operand(eb, other, scope), "is not", null);
        }
        const fold = expr.caseInsensitive === true;
        return eb(this.operand(eb, expr.left, scope, fold), OPS[expr.op], this.operand(eb, expr.right, scope, fold));
      }
      case "like":
        return sql<SqlBool>`${this.dialect.caseFold(columnRef(expr.column, scope, expr.table))} like ${this.dialect.caseFold(sql`${expr.pattern}`)} escape '\\'`;
      case "in": {
        if (expr.values.length === 0) return sql<SqlBool>`1 = 0`;
        const fold = expr.caseInsensitive === true;
        const ref = columnRef(expr.column, scope, expr.table);
        const column = fold ? this.dialect.caseFold(ref) : ref;
        // Booleans bind as themselves: the SQLite driver sends 1/0, pg sends true/false. Folded
        // lists are lower-cased here, as read shapes record them (see read-shapes.ts).
        const values = expr.values.map((v) => (fold && typeof v === "string" ? v.toLowerCase() : v));
        return eb(column, "in", values);
      }
      case "exists": {
        if (!scope) throw new Error("an exists predicate needs a table scope");
        const inner: Scope = { prefix: scope.prefix, alias: `s${scope.depth + 1}`, depth: scope.depth + 1 };
        let sub = eb
          .selectFrom(`${scope.prefix}${expr.entity.logicalName} as ${inner.alias}`)
          .select(sql.lit(1).as("one"))
          .where(columnRef(expr.innerColumn, inner), "=", columnRef(expr.outerColumn, scope));
        // The joined table's scope first (required by the type: see ReadScope), then the predicate.
        const scoped = expr.scope.where;
        if (scoped) sub = sub.where((sb) => this.predicate(sb as unknown as Eb, scoped, inner));
        const where = expr.where;
        if (where) sub = sub.where((sb) => this.predicate(sb as unknown as Eb, where, inner));
        return eb.exists(sub);
      }
      case "bitand":
        return sql<SqlBool>`(${columnRef(expr.column, scope)} & ${expr.mask}) <> 0`;
      case "true":
        return sql<SqlBool>`1 = 1`;
      case "false":
        return sql<SqlBool>`1 = 0`;
    }
  }

  /**
   * `(SELECT alias.targetColumn FROM target AS alias WHERE alias.pk = outer.column AND scope LIMIT 1) AS related.alias`:
   * a value read through a lookup, within the related value's `ReadScope`.
   */
  relatedValue(eb: Eb, org: Org, related: RelatedValue, alias: string, outer: string): AliasedExpression<unknown, string> {
    let sub = eb
      .selectFrom(`${org.tablePrefix}${related.target.logicalName} as ${alias}`)
      .select(sql.ref(`${alias}.${related.targetColumn}`).as("v"))
      .where(sql.ref(`${alias}.${related.target.primaryIdAttribute}`), "=", sql.ref(`${outer}.${related.column}`));
    const scoped = related.scope.where;
    if (scoped) sub = sub.where((sb) => this.predicate(sb as unknown as Eb, scoped, { prefix: org.tablePrefix, alias, depth: 0 }));
    return sub.limit(1).as(related.alias);
  }

  /** `table.column`, or a part of it when `datePart` is set (FetchXML `dategrouping`). */
  columnValue(table: string, column: string, datePart?: JoinedColumn["datePart"]): RawBuilder<unknown> {
    const ref = sql.ref(`${table}.${column}`);
    return datePart ? this.dialect.datePart(ref, datePart) : ref;
  }

  /** SQL of one joined-read column: `alias.column` (or a date part of it), or an aggregate over it. */
  joinedColumn(c: JoinedColumn): RawBuilder<unknown> {
    const ref = this.columnValue(c.table, c.column, c.datePart);
    const arg = c.distinct ? sql`distinct ${ref}` : ref;
    switch (c.aggregate) {
      case undefined:
        return ref;
      case "count":
        return sql`count(*)`;
      case "countcolumn":
        return sql`count(${arg})`;
      case "sum":
        return sql`sum(${arg})`;
      case "avg":
        return sql`avg(${arg})`;
      case "min":
        return sql`min(${arg})`;
      case "max":
        return sql`max(${arg})`;
    }
  }

  /** A sort key: `key` (case-folded when `caseInsensitive`) with its direction and Dataverse's NULL placement. */
  orderKey(key: Expression<unknown>, descending: boolean, caseInsensitive = false): RawBuilder<unknown> {
    return this.dialect.orderKey(caseInsensitive ? this.dialect.caseFold(key) : key, descending);
  }

  private operand(eb: Eb, o: Operand, scope: Scope | undefined, fold = false): Expression<unknown> {
    const e = o.kind === "column" ? columnRef(o.name, scope, o.table) : eb.val(o.value);
    return fold ? this.dialect.caseFold(e) : e;
  }
}

/** A column: `table.name` for another table of a joined read, `alias.name` within a scope, else unqualified. */
function columnRef(name: string, scope: Scope | undefined, table?: string): Expression<unknown> {
  if (table !== undefined) return sql.ref(`${table}.${name}`);
  return sql.ref(scope ? `${scope.alias}.${name}` : name);
}

/** The operands of a run of one connective (`a and b and c` parsed as `((a and b) and c)`), in order. */
function chain(expr: Expr, kind: "and" | "or"): Expr[] {
  const out: Expr[] = [];
  const stack: Expr[] = [expr];
  while (stack.length > 0) {
    const e = stack.pop() as Expr;
    if (e.kind === kind) stack.push(e.right, e.left);
    else out.push(e);
  }
  return out;
}

/**
 * `a and b and …` as a balanced tree of parenthesised groups of at most 8, so that a filter of
 * thousands of conditions stays far below SQLite's expression depth limit (1000) and PostgreSQL's
 * stack depth: a left-deep chain would nest once per condition. AND and OR are associative in SQL's
 * three-valued logic, so the grouping does not change the result.
 */
function balanced(eb: Eb, kind: "and" | "or", items: Expression<SqlBool>[]): Expression<SqlBool> {
  if (items.length <= 8) return kind === "and" ? eb.and(items) : eb.or(items);
  const size = Math.ceil(items.length / 8);
  const groups: Expression<SqlBool>[] = [];
  for (let i = 0; i < items.length; i += size) groups.push(balanced(eb, kind, items.slice(i, i + size)));
  return kind === "and" ? eb.and(groups) : eb.or(groups);
}
