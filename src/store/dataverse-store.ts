import { CompiledQuery, sql, type Expression, type SelectQueryBuilder, type RawBuilder, type ExpressionBuilder, type Kysely, type SqlBool, type ColumnDataType } from "kysely";
import type { AttributeMetadata, EntityMetadata } from "../dataverse/metadata/types.ts";
import type { Org, Row } from "../dataverse/model.ts";
import type { DataverseStore, Expr, JoinedColumn, JoinedQuery, Operand, RecordQuery, Scalar } from "../dataverse/store.ts";
import type { Schema } from "./schema.ts";
import { ReadShapes, bindShape, shapeOf } from "./read-shapes.ts";

/** Rows of a dynamic record table: any column. */
type DynamicDb = Record<string, Record<string, unknown>>;

/** SQL type for an attribute; dialect-neutral names Kysely passes through. */
function columnType(attribute: AttributeMetadata): ColumnDataType {
  switch (attribute.type) {
    case "Uniqueidentifier":
    case "Lookup":
    case "Customer":
    case "Owner":
      return "varchar(36)";
    case "String":
      return `varchar(${attribute.maxLength ?? 4000})`;
    case "EntityName":
      return "varchar(128)";
    case "Memo":
    case "MultiSelectPicklist":
      return "text";
    case "Integer":
    case "Picklist":
    case "State":
    case "Status":
      return "integer";
    case "BigInt":
      return "bigint";
    case "Decimal":
    case "Money":
      return "decimal(38, 10)";
    case "Double":
      return "double precision";
    case "DateTime":
      return "varchar(32)";
    case "Boolean":
      return "boolean";
  }
}

/** Kysely implementation of the Dataverse port. Record tables are `{org.tablePrefix}{logicalname}`. */
export class SqlDataverseStore implements DataverseStore {
  private readonly dyn: Kysely<DynamicDb>;

  private readonly db: Kysely<Schema>;
  private readonly afterDdl: () => void;

  /** True for a store bound to an open transaction (see {@link transaction}). */
  readonly inTransaction: boolean;
  /** SQL of record reads by shape, shared with this store's transactions. */
  private readonly shapes: ReadShapes;

  constructor(db: Kysely<Schema>, afterDdl: () => void, inTransaction = false, shapes: ReadShapes = new ReadShapes()) {
    this.db = db;
    this.afterDdl = afterDdl;
    this.inTransaction = inTransaction;
    this.shapes = shapes;
    this.dyn = db as unknown as Kysely<DynamicDb>;
  }

  async createOrg(org: Org, now: number): Promise<void> {
    await this.db.insertInto("orgs").values({ id: org.id, name: org.name, tenant_id: org.tenantId, display_name: org.displayName, table_prefix: org.tablePrefix, created_at: now }).execute();
  }

  async findOrg(name: string): Promise<Org | undefined> {
    const r = await this.db.selectFrom("orgs").selectAll().where("name", "=", name.toLowerCase()).executeTakeFirst();
    return r ? { id: r.id, name: r.name, tenantId: r.tenant_id, displayName: r.display_name, tablePrefix: r.table_prefix } : undefined;
  }

  async listOrgs(): Promise<Org[]> {
    const rows = await this.db.selectFrom("orgs").selectAll().orderBy("created_at").execute();
    return rows.map((r) => ({ id: r.id, name: r.name, tenantId: r.tenant_id, displayName: r.display_name, tablePrefix: r.table_prefix }));
  }

  async nextTablePrefix(): Promise<string> {
    const { n } = await this.db.selectFrom("orgs").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    return `dv${Number(n) + 1}_`;
  }

  async createRecordTable(org: Org, entity: EntityMetadata): Promise<void> {
    const name = `${org.tablePrefix}${entity.logicalName}`;
    let builder = this.db.schema.createTable(name);
    for (const attribute of entity.attributes) {
      const isPk = attribute.logicalName === entity.primaryIdAttribute;
      builder = builder.addColumn(attribute.logicalName, columnType(attribute), (c) => (isPk ? c.primaryKey() : c));
    }
    await builder.execute();
    for (const attribute of entity.attributes) {
      const lookup = attribute.type === "Lookup" || attribute.type === "Customer" || attribute.type === "Owner";
      if (lookup || attribute.isPrimaryName || attribute.logicalName === "applicationid" || attribute.logicalName === "azureactivedirectoryobjectid") {
        if (attribute.logicalName === entity.primaryIdAttribute) continue;
        await this.db.schema.createIndex(`${name}_${attribute.logicalName}`).on(name).column(attribute.logicalName).execute();
      }
    }
    this.afterDdl();
  }

  async addColumn(org: Org, entity: EntityMetadata, attribute: AttributeMetadata): Promise<void> {
    const name = `${org.tablePrefix}${entity.logicalName}`;
    await this.db.schema.alterTable(name).addColumn(attribute.logicalName, columnType(attribute)).execute();
    if (attribute.type === "Lookup" || attribute.type === "Customer" || attribute.type === "Owner") {
      await this.db.schema.createIndex(`${name}_${attribute.logicalName}`).on(name).column(attribute.logicalName).execute();
    }
    this.afterDdl();
  }

  async saveEntityDefinition(org: Org, entity: EntityMetadata, now: number): Promise<void> {
    const definition = JSON.stringify(entity);
    await this.db
      .insertInto("entity_definitions")
      .values({ org_id: org.id, logical_name: entity.logicalName, definition, created_at: now })
      .onConflict((oc) => oc.columns(["org_id", "logical_name"]).doUpdateSet({ definition }))
      .execute();
  }

  async listEntityDefinitions(org: Org): Promise<EntityMetadata[]> {
    const rows = await this.db.selectFrom("entity_definitions").select(["definition"]).where("org_id", "=", org.id).orderBy("created_at").orderBy("logical_name").execute();
    // Written by saveEntityDefinition from validated metadata only.
    return rows.map((r) => JSON.parse(r.definition) as EntityMetadata);
  }

  async insertRow(org: Org, entity: EntityMetadata, row: Row): Promise<void> {
    await this.dyn.insertInto(`${org.tablePrefix}${entity.logicalName}`).values(row).execute();
  }

  async updateRows(org: Org, entity: EntityMetadata, where: Expr, values: Row): Promise<number> {
    if (Object.keys(values).length === 0) return 0;
    const result = await this.dyn
      .updateTable(`${org.tablePrefix}${entity.logicalName}`)
      .set(values)
      .where((eb) => compile(eb, where))
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async deleteRows(org: Org, entity: EntityMetadata, where: Expr): Promise<number> {
    const result = await this.dyn
      .deleteFrom(`${org.tablePrefix}${entity.logicalName}`)
      .where((eb) => compile(eb, where))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async transaction<T>(work: (store: DataverseStore) => Promise<T>): Promise<T> {
    if (this.inTransaction) return work(this);
    return this.db.transaction().execute((trx) => work(new SqlDataverseStore(trx, this.afterDdl, true, this.shapes)));
  }

  /**
   * One SQL statement. Reads of a shape already seen (same table, columns, predicate structure,
   * order; see {@link ReadShapes}) reuse its compiled SQL and only bind their values.
   */
  async selectRows(org: Org, query: RecordQuery): Promise<Row[]> {
    if (query.perGroup) return this.selectPerGroup(this.buildSelect(org, query), query, query.perGroup);
    const shaped = shapeOf(`${org.tablePrefix}${query.entity.logicalName}`, query);
    const compiled = this.shapes.get(shaped.key, () => this.buildSelect(org, shaped.query).compile());
    const result = await this.dyn.executeQuery<Row>(CompiledQuery.raw(compiled.sql, bindShape(compiled, shaped.literals)));
    return result.rows;
  }

  /** The Kysely builder of a record read: a shaped one (see {@link shapeOf}), or the base of a `perGroup` read. */
  private buildSelect(org: Org, query: RecordQuery): SelectQueryBuilder<DynamicDb, string, Row> {
    const table = `${org.tablePrefix}${query.entity.logicalName}`;
    const scope: Scope = { prefix: org.tablePrefix, alias: ROOT, depth: 0 };
    let q = this.dyn.selectFrom(`${table} as ${ROOT}`).select(query.columns.map((c) => sql.ref(`${ROOT}.${c}`).as(c)));
    for (const [i, related] of (query.related ?? []).entries()) {
      const alias = `r${i}`;
      const target = `${org.tablePrefix}${related.target.logicalName}`;
      q = q.select((eb) =>
        eb
          .selectFrom(`${target} as ${alias}`)
          .select(sql.ref(`${alias}.${related.targetColumn}`).as("v"))
          .where(sql.ref(`${alias}.${related.target.primaryIdAttribute}`), "=", sql.ref(`${ROOT}.${related.column}`))
          .limit(1)
          .as(related.alias),
      );
    }
    if (query.where) {
      const where = query.where;
      q = q.where((eb) => compile(eb, where, scope));
    }
    if (query.perGroup) return q as SelectQueryBuilder<DynamicDb, string, Row>;
    for (const order of query.orderBy) {
      const ref = sql.ref(`${ROOT}.${order.column}`);
      q = q.orderBy(order.caseInsensitive ? sql`lower(${ref})` : ref, order.descending ? "desc" : "asc");
    }
    if (query.limit !== undefined) q = q.limit(query.limit);
    // Shaped reads (see shapeOf) carry an offset only when there is one, as a sentinel.
    if (query.offset !== undefined) q = q.offset(query.offset);
    return q as SelectQueryBuilder<DynamicDb, string, Row>;
  }

  /** `RecordQuery.perGroup`: ranks rows per group with `ROW_NUMBER() OVER (PARTITION BY …)` and keeps the first `limit` of each. */
  private async selectPerGroup(q: SelectQueryBuilder<DynamicDb, string, Row>, query: RecordQuery, group: { column: string; limit: number }): Promise<Row[]> {
    if (!query.columns.includes(group.column)) throw new Error(`perGroup column '${group.column}' must be one of the selected columns`);
    const keys = query.orderBy.map((order) => {
      const ref = sql.ref(`${ROOT}.${order.column}`);
      return sql`${order.caseInsensitive ? sql`lower(${ref})` : ref} ${sql.raw(order.descending ? "desc" : "asc")}`;
    });
    const rank = "__rank";
    const ranked = q.select(sql<number>`row_number() over (partition by ${sql.ref(`${ROOT}.${group.column}`)} order by ${sql.join(keys)})`.as(rank));
    const rows = (await this.dyn
      .selectFrom(ranked.as("ranked"))
      .selectAll()
      .where(sql.ref(`ranked.${rank}`), "<=", group.limit)
      .orderBy(sql.ref(`ranked.${group.column}`))
      .orderBy(sql.ref(`ranked.${rank}`))
      .execute()) as Row[];
    return rows.map((row) => {
      const out: Row = { ...row };
      delete out[rank];
      return out;
    });
  }

  async countRows(org: Org, query: Pick<RecordQuery, "entity" | "where"> & { limit?: number }): Promise<number> {
    const table = `${org.tablePrefix}${query.entity.logicalName}`;
    const scope: Scope = { prefix: org.tablePrefix, alias: ROOT, depth: 0 };
    const where = query.where;
    if (query.limit === undefined) {
      let q = this.dyn.selectFrom(`${table} as ${ROOT}`).select((eb) => eb.fn.countAll<number>().as("n"));
      if (where) q = q.where((eb) => compile(eb, where, scope));
      const row = await q.executeTakeFirstOrThrow();
      return Number(row.n);
    }
    // Capped count: COUNT(*) over at most `limit` matching rows, so large tables stop early.
    let inner = this.dyn.selectFrom(`${table} as ${ROOT}`).select(sql.lit(1).as("one"));
    if (where) inner = inner.where((eb) => compile(eb, where, scope));
    const row = await this.dyn
      .selectFrom(inner.limit(query.limit).as("capped"))
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async selectJoined(org: Org, query: JoinedQuery): Promise<Row[]> {
    const scopeOf = (alias: string): Scope => ({ prefix: org.tablePrefix, alias, depth: 0 });
    let q = this.dyn.selectFrom(`${org.tablePrefix}${query.entity.logicalName} as ${query.alias}`);
    for (const join of query.joins) {
      const table = `${org.tablePrefix}${join.entity.logicalName} as ${join.alias}`;
      const on = join.on;
      const condition = (jb: Eb) => {
        const key = jb(sql.ref(`${join.alias}.${join.from}`), "=", sql.ref(`${join.parent}.${join.to}`));
        return on ? jb.and([key, compile(jb, on, scopeOf(join.alias))]) : key;
      };
      q = join.outer ? q.leftJoin(table, (jb) => jb.on((eb) => condition(eb as unknown as Eb))) : q.innerJoin(table, (jb) => jb.on((eb) => condition(eb as unknown as Eb)));
    }
    let s = q.select(query.columns.map((c) => joinedColumn(c).as(c.as)));
    if (query.distinct) s = s.distinct();
    const where = query.where;
    if (where) s = s.where((eb) => compile(eb, where, scopeOf(query.alias)));
    for (const g of query.groupBy) s = s.groupBy(sql.ref(`${g.table}.${g.column}`));
    for (const order of query.orderBy) {
      const ref = "output" in order ? sql.ref(order.output) : sql.ref(`${order.table}.${order.column}`);
      s = s.orderBy("output" in order || !order.caseInsensitive ? ref : sql`lower(${ref})`, order.descending ? "desc" : "asc");
    }
    if (query.limit !== undefined) s = s.limit(query.limit);
    if (query.offset !== undefined && query.offset > 0) s = s.offset(query.offset);
    return (await s.execute()) as Row[];
  }
}

/** SQL of one joined-read column: `alias.column` or an aggregate over it (dialect-neutral functions only). */
function joinedColumn(c: JoinedColumn): RawBuilder<unknown> {
  const ref = sql.ref(`${c.table}.${c.column}`);
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

/** Alias of the queried table in record reads. */
const ROOT = "t0";

/** Where column names of an expression resolve: the table alias, and the org's table prefix for subqueries. */
interface Scope {
  prefix: string;
  alias: string;
  depth: number;
}

type Eb = ExpressionBuilder<DynamicDb, string>;

function columnRef(name: string, scope: Scope | undefined): Expression<unknown> {
  return sql.ref(scope ? `${scope.alias}.${name}` : name);
}

function operand(eb: Eb, o: Operand, scope: Scope | undefined, lower = false): Expression<unknown> {
  const e = o.kind === "column" ? columnRef(o.name, scope) : eb.val(sqlValue(o.value));
  return lower ? sql`lower(${e})` : e;
}

function sqlValue(value: Scalar): Scalar {
  return typeof value === "boolean" ? (value ? 1 : 0) : value;
}

const OPS = { eq: "=", ne: "<>", gt: ">", ge: ">=", lt: "<", le: "<=" } as const;

/**
 * Compiles the predicate AST to a Kysely expression (parameterised; no string SQL from input).
 * Without a scope, column names are unqualified (single-table statements); with one they are
 * qualified by the scope's alias, which `exists` subqueries need.
 */
function compile(eb: Eb, expr: Expr, scope?: Scope): Expression<SqlBool> {
  switch (expr.kind) {
    case "and":
      return eb.and([compile(eb, expr.left, scope), compile(eb, expr.right, scope)]);
    case "or":
      return eb.or([compile(eb, expr.left, scope), compile(eb, expr.right, scope)]);
    case "not":
      return eb.not(compile(eb, expr.operand, scope));
    case "compare": {
      const isNull = (o: Operand) => o.kind === "value" && o.value === null;
      if (isNull(expr.right) || isNull(expr.left)) {
        const other = isNull(expr.right) ? expr.left : expr.right;
        if (expr.op === "eq") return eb(operand(eb, other, scope), "is", null);
        if (expr.op === "ne") return eb(operand(eb, other, scope), "is not", null);
      }
      const lower = expr.caseInsensitive === true;
      return eb(operand(eb, expr.left, scope, lower), OPS[expr.op], operand(eb, expr.right, scope, lower));
    }
    case "like":
      return sql<SqlBool>`lower(${columnRef(expr.column, scope)}) like lower(${expr.pattern}) escape '\\'`;
    case "in": {
      if (expr.values.length === 0) return sql<SqlBool>`1 = 0`;
      const lower = expr.caseInsensitive === true;
      const column = lower ? sql`lower(${columnRef(expr.column, scope)})` : columnRef(expr.column, scope);
      const values = expr.values.map((v) => (lower && typeof v === "string" ? v.toLowerCase() : sqlValue(v)));
      return eb(column, "in", values);
    }
    case "exists": {
      if (!scope) throw new Error("an exists predicate needs a table scope");
      const inner: Scope = { prefix: scope.prefix, alias: `s${scope.depth + 1}`, depth: scope.depth + 1 };
      let sub = eb
        .selectFrom(`${scope.prefix}${expr.entity.logicalName} as ${inner.alias}`)
        .select(sql.lit(1).as("one"))
        .where(columnRef(expr.innerColumn, inner), "=", columnRef(expr.outerColumn, scope));
      const where = expr.where;
      if (where) sub = sub.where((sb) => compile(sb as unknown as Eb, where, inner));
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
