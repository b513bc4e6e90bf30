import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool, type ColumnDataType } from "kysely";
import type { AttributeMetadata, EntityMetadata } from "../dataverse/metadata/types.ts";
import type { Org, Row } from "../dataverse/model.ts";
import type { DataverseStore, Expr, Operand, RecordQuery, Scalar } from "../dataverse/store.ts";
import type { Schema } from "./schema.ts";

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

  constructor(db: Kysely<Schema>, afterDdl: () => void) {
    this.db = db;
    this.afterDdl = afterDdl;
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

  async insertRow(org: Org, entity: EntityMetadata, row: Row): Promise<void> {
    await this.dyn.insertInto(`${org.tablePrefix}${entity.logicalName}`).values(row).execute();
  }

  async selectRows(org: Org, query: RecordQuery): Promise<Row[]> {
    const table = `${org.tablePrefix}${query.entity.logicalName}`;
    let q = this.dyn.selectFrom(table).select(query.columns);
    if (query.where) {
      const where = query.where;
      q = q.where((eb) => compile(eb, where));
    }
    for (const order of query.orderBy) q = q.orderBy(order.column, order.descending ? "desc" : "asc");
    if (query.limit !== undefined) q = q.limit(query.limit);
    if (query.offset !== undefined && query.offset > 0) q = q.offset(query.offset);
    return (await q.execute()) as Row[];
  }

  async countRows(org: Org, query: Pick<RecordQuery, "entity" | "where">): Promise<number> {
    const table = `${org.tablePrefix}${query.entity.logicalName}`;
    let q = this.dyn.selectFrom(table).select((eb) => eb.fn.countAll<number>().as("n"));
    if (query.where) {
      const where = query.where;
      q = q.where((eb) => compile(eb, where));
    }
    const row = await q.executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

type Eb = ExpressionBuilder<DynamicDb, string>;

function operand(eb: Eb, o: Operand): Expression<unknown> {
  return o.kind === "column" ? eb.ref(o.name) : eb.val(sqlValue(o.value));
}

function sqlValue(value: Scalar): Scalar {
  return typeof value === "boolean" ? (value ? 1 : 0) : value;
}

const OPS = { eq: "=", ne: "<>", gt: ">", ge: ">=", lt: "<", le: "<=" } as const;

/** Compiles the predicate AST to a Kysely expression (parameterised; no string SQL from input). */
function compile(eb: Eb, expr: Expr): Expression<SqlBool> {
  switch (expr.kind) {
    case "and":
      return eb.and([compile(eb, expr.left), compile(eb, expr.right)]);
    case "or":
      return eb.or([compile(eb, expr.left), compile(eb, expr.right)]);
    case "not":
      return eb.not(compile(eb, expr.operand));
    case "compare": {
      const isNull = (o: Operand) => o.kind === "value" && o.value === null;
      if (isNull(expr.right) || isNull(expr.left)) {
        const other = isNull(expr.right) ? expr.left : expr.right;
        if (expr.op === "eq") return eb(operand(eb, other), "is", null);
        if (expr.op === "ne") return eb(operand(eb, other), "is not", null);
      }
      return eb(operand(eb, expr.left), OPS[expr.op], operand(eb, expr.right));
    }
    case "like":
      return sql<SqlBool>`lower(${eb.ref(expr.column)}) like lower(${expr.pattern}) escape '\\'`;
    case "in":
      return expr.values.length === 0 ? sql<SqlBool>`1 = 0` : eb(eb.ref(expr.column), "in", expr.values.map(sqlValue));
    case "true":
      return sql<SqlBool>`1 = 1`;
    case "false":
      return sql<SqlBool>`1 = 0`;
  }
}
