import { createHash } from "node:crypto";
import { CompiledQuery, sql, type Expression, type SelectQueryBuilder, type RawBuilder, type ExpressionBuilder, type Kysely, type SqlBool, type ColumnDataType, type AliasedExpression } from "kysely";
import type { AttributeMetadata, EntityKeyMetadata, EntityMetadata, GlobalOptionSetMetadata, RelationshipMetadata } from "../dataverse/metadata/types.ts";
import type { Org, Row } from "../dataverse/model.ts";
import type { DataverseStore, Expr, JoinedColumn, JoinedQuery, Operand, RecordQuery, RelatedValue, ThroughIntersect } from "../dataverse/store.ts";
import type { StoreDialect } from "./database.ts";
import type { Schema } from "./schema.ts";
import { ReadShapes, bindShape, shapeOf } from "./read-shapes.ts";

/** Rows of a dynamic record table: any column. */
type DynamicDb = Record<string, Record<string, unknown>>;

/**
 * SQL type for an attribute; dialect-neutral names Kysely passes through. On PostgreSQL, String
 * columns are `text`: MaxLength is enforced by the write validation (as on SQLite, which ignores
 * `varchar(n)`), never by a database error.
 */
function columnType(attribute: AttributeMetadata, dialect: StoreDialect): ColumnDataType {
  switch (attribute.type) {
    case "Uniqueidentifier":
    case "Lookup":
    case "Customer":
    case "Owner":
      return "varchar(36)";
    case "String":
      return dialect === "postgres" ? "text" : `varchar(${attribute.maxLength ?? 4000})`;
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

/** PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1). */
const PG_IDENTIFIER_MAX = 63;

/** Options of {@link SqlDataverseStore}. */
export interface SqlDataverseStoreOptions {
  /** The database's dialect (`Database.dialect`). Default `sqlite`. */
  dialect?: StoreDialect;
  /** True for a store bound to an open transaction (internal: {@link SqlDataverseStore.transaction}). */
  inTransaction?: boolean;
  /** Compiled read statements by shape, shared with the store's transactions (internal). */
  shapes?: ReadShapes;
}

/** Kysely implementation of the Dataverse port. Record tables are `{org.tablePrefix}{logicalname}`. */
export class SqlDataverseStore implements DataverseStore {
  private readonly dyn: Kysely<DynamicDb>;

  private readonly db: Kysely<Schema>;
  private readonly afterDdl: () => void;
  private readonly dialect: StoreDialect;

  /** True for a store bound to an open transaction (see {@link transaction}). */
  readonly inTransaction: boolean;
  /** SQL of record reads by shape, shared with this store's transactions. */
  private readonly shapes: ReadShapes;

  /**
   * @param db the open database (`Database.db`), or a transaction of it.
   * @param afterDdl `Database.afterDdl`: called after every schema change.
   */
  constructor(db: Kysely<Schema>, afterDdl: () => void, options: SqlDataverseStoreOptions = {}) {
    this.db = db;
    this.afterDdl = afterDdl;
    this.dialect = options.dialect ?? "sqlite";
    this.inTransaction = options.inTransaction ?? false;
    this.shapes = options.shapes ?? new ReadShapes();
    this.dyn = db as unknown as Kysely<DynamicDb>;
  }

  /**
   * An index name that stays distinct on PostgreSQL, which truncates identifiers at 63 bytes
   * (`dv1_new_somelongtable_ak_new_somelongkey` could collide with a sibling): longer names keep
   * their first 50 characters and get a hash of the whole name. SQLite names are kept as they are
   * (data folders already hold them).
   */
  private indexName(name: string): string {
    if (this.dialect !== "postgres" || Buffer.byteLength(name) <= PG_IDENTIFIER_MAX) return name;
    return `${name.slice(0, 50)}_${createHash("sha256").update(name).digest("hex").slice(0, 12)}`;
  }

  /** `ASC`/`DESC` with Dataverse's NULL placement (first ascending, last descending: SQL Server's and SQLite's; PostgreSQL says so explicitly). */
  private direction(descending: boolean): RawBuilder<unknown> {
    if (this.dialect === "postgres") return sql.raw(descending ? "desc nulls last" : "asc nulls first");
    return sql.raw(descending ? "desc" : "asc");
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
      builder = builder.addColumn(attribute.logicalName, columnType(attribute, this.dialect), (c) => (isPk ? c.primaryKey() : c));
    }
    await builder.execute();
    for (const attribute of entity.attributes) {
      const lookup = attribute.type === "Lookup" || attribute.type === "Customer" || attribute.type === "Owner";
      if (lookup || attribute.isPrimaryName || attribute.logicalName === "applicationid" || attribute.logicalName === "azureactivedirectoryobjectid") {
        if (attribute.logicalName === entity.primaryIdAttribute) continue;
        await this.db.schema.createIndex(this.indexName(`${name}_${attribute.logicalName}`)).on(name).column(attribute.logicalName).execute();
      }
    }
    for (const key of entity.keys ?? []) await this.keyIndex(name, entity, key);
    this.afterDdl();
  }

  async createKeyIndex(org: Org, entity: EntityMetadata, key: EntityKeyMetadata): Promise<void> {
    await this.keyIndex(`${org.tablePrefix}${entity.logicalName}`, entity, key);
    this.afterDdl();
  }

  async dropKeyIndex(org: Org, entity: EntityMetadata, key: EntityKeyMetadata): Promise<void> {
    await this.db.schema.dropIndex(this.indexName(`${org.tablePrefix}${entity.logicalName}_ak_${key.logicalName}`)).ifExists().execute();
    this.afterDdl();
  }

  /** `CREATE UNIQUE INDEX {table}_ak_{key} ON {table} (lower(text), other, …)`: the expressions alternate-key lookups compare. */
  private async keyIndex(table: string, entity: EntityMetadata, key: EntityKeyMetadata): Promise<void> {
    const parts = key.keyAttributes.map((column) => {
      const text = entity.attributes.find((a) => a.logicalName === column)?.type === "String";
      return text ? sql`lower(${sql.ref(column)})` : sql.ref(column);
    });
    await this.db.schema.createIndex(this.indexName(`${table}_ak_${key.logicalName}`)).on(table).unique().expression(sql.join(parts)).execute();
  }

  async recordTableColumns(org: Org): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    if (this.dialect === "postgres") {
      // The store's own schema only (Kysely's introspection lists every schema of the database).
      const { rows } = await sql<{ table_name: string; column_name: string }>`select table_name, column_name from information_schema.columns where table_schema = current_schema() order by table_name, ordinal_position`.execute(this.db);
      for (const row of rows) {
        if (!row.table_name.startsWith(org.tablePrefix)) continue;
        const name = row.table_name.slice(org.tablePrefix.length);
        out.set(name, (out.get(name) ?? new Set()).add(row.column_name));
      }
      return out;
    }
    for (const table of await this.db.introspection.getTables()) {
      if (!table.name.startsWith(org.tablePrefix)) continue;
      out.set(table.name.slice(org.tablePrefix.length), new Set(table.columns.map((c) => c.name)));
    }
    return out;
  }

  async addColumn(org: Org, entity: EntityMetadata, attribute: AttributeMetadata): Promise<void> {
    const name = `${org.tablePrefix}${entity.logicalName}`;
    await this.db.schema.alterTable(name).addColumn(attribute.logicalName, columnType(attribute, this.dialect)).execute();
    if (attribute.type === "Lookup" || attribute.type === "Customer" || attribute.type === "Owner") {
      await this.db.schema.createIndex(this.indexName(`${name}_${attribute.logicalName}`)).on(name).column(attribute.logicalName).execute();
    }
    this.afterDdl();
  }

  async dropColumn(org: Org, entity: EntityMetadata, attribute: AttributeMetadata): Promise<void> {
    const name = `${org.tablePrefix}${entity.logicalName}`;
    // SQLite cannot drop an indexed column: a lookup's index (see addColumn) goes first.
    if (attribute.type === "Lookup" || attribute.type === "Customer" || attribute.type === "Owner") await this.db.schema.dropIndex(this.indexName(`${name}_${attribute.logicalName}`)).ifExists().execute();
    await this.db.schema.alterTable(name).dropColumn(attribute.logicalName).execute();
    this.afterDdl();
  }

  async dropRecordTable(org: Org, entity: EntityMetadata): Promise<void> {
    await this.db.schema.dropTable(`${org.tablePrefix}${entity.logicalName}`).ifExists().execute();
    // Its change-tracking log goes with it: a table created later under the name starts clean.
    await this.db.deleteFrom("record_deletions").where("org_id", "=", org.id).where("entity", "=", entity.logicalName).execute();
    this.afterDdl();
  }

  async deleteEntityDefinition(org: Org, logicalName: string): Promise<void> {
    await this.db.deleteFrom("entity_definitions").where("org_id", "=", org.id).where("logical_name", "=", logicalName).execute();
  }

  async deleteRelationshipDefinition(org: Org, schemaName: string): Promise<void> {
    await this.db.deleteFrom("relationship_definitions").where("org_id", "=", org.id).where("schema_name", "=", schemaName).execute();
  }

  async deleteOptionSetDefinition(org: Org, name: string): Promise<void> {
    await this.db.deleteFrom("option_set_definitions").where("org_id", "=", org.id).where("name", "=", name).execute();
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

  async createIntersectTable(org: Org, entity: EntityMetadata, columns: readonly [string, string]): Promise<void> {
    await this.createRecordTable(org, entity);
    const name = `${org.tablePrefix}${entity.logicalName}`;
    for (const column of columns) await this.db.schema.createIndex(this.indexName(`${name}_${column}`)).on(name).column(column).execute();
    await this.db.schema.createIndex(this.indexName(`${name}_pair`)).on(name).columns([...columns]).unique().execute();
    this.afterDdl();
  }

  async saveRelationshipDefinition(org: Org, relationship: RelationshipMetadata, now: number): Promise<void> {
    await this.db.insertInto("relationship_definitions").values({ org_id: org.id, schema_name: relationship.schemaName, definition: JSON.stringify(relationship), created_at: now }).execute();
  }

  async listRelationshipDefinitions(org: Org): Promise<RelationshipMetadata[]> {
    const rows = await this.db.selectFrom("relationship_definitions").select(["definition"]).where("org_id", "=", org.id).orderBy("created_at").orderBy("schema_name").execute();
    // Written by saveRelationshipDefinition from validated definitions only.
    return rows.map((r) => JSON.parse(r.definition) as RelationshipMetadata);
  }

  async saveOptionSetDefinition(org: Org, optionSet: GlobalOptionSetMetadata, now: number): Promise<void> {
    await this.db.insertInto("option_set_definitions").values({ org_id: org.id, name: optionSet.name, definition: JSON.stringify(optionSet), created_at: now }).execute();
  }

  async listOptionSetDefinitions(org: Org): Promise<GlobalOptionSetMetadata[]> {
    const rows = await this.db.selectFrom("option_set_definitions").select(["definition"]).where("org_id", "=", org.id).orderBy("created_at").orderBy("name").execute();
    // Written by saveOptionSetDefinition from validated definitions only.
    return rows.map((r) => JSON.parse(r.definition) as GlobalOptionSetMetadata);
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
    return this.db.transaction().execute((trx) => work(new SqlDataverseStore(trx, this.afterDdl, { dialect: this.dialect, inTransaction: true, shapes: this.shapes })));
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
    for (const [i, related] of (query.related ?? []).entries()) q = q.select((eb) => relatedValue(eb as unknown as Eb, org, related, `r${i}`, ROOT));
    if (query.through) {
      const through = query.through;
      q = q.innerJoin(this.links(org, through).as(LINK), (join) => join.onRef(`${LINK}.child`, "=", `${ROOT}.${query.entity.primaryIdAttribute}`)).select(sql.ref(`${LINK}.parent`).as(through.as));
    }
    if (query.where) {
      const where = query.where;
      q = q.where((eb) => compile(eb, where, scope));
    }
    if (query.perGroup) return q as SelectQueryBuilder<DynamicDb, string, Row>;
    for (const order of query.orderBy) {
      const ref = sql.ref(`${ROOT}.${order.column}`);
      q = q.orderBy(sql`${order.caseInsensitive ? sql`lower(${ref})` : ref} ${this.direction(order.descending)}`);
    }
    if (query.limit !== undefined) q = q.limit(query.limit);
    // Shaped reads (see shapeOf) carry an offset only when there is one, as a sentinel.
    if (query.offset !== undefined) q = q.offset(query.offset);
    return q as SelectQueryBuilder<DynamicDb, string, Row>;
  }

  /** The (parent, child) pairs of {@link ThroughIntersect}: one SELECT of the intersect table, or a UNION of both directions. */
  private links(org: Org, through: ThroughIntersect): SelectQueryBuilder<DynamicDb, string, Row> {
    const table = `${org.tablePrefix}${through.intersect.logicalName}`;
    const scoped = through.scope.where;
    const pairs = (parent: string, child: string) => {
      let q = this.dyn
        .selectFrom(table)
        .select([sql.ref(parent).as("parent"), sql.ref(child).as("child")])
        .where(sql.ref(parent), "in", through.parents);
      if (scoped) q = q.where((eb) => compile(eb as unknown as Eb, scoped));
      return q as unknown as SelectQueryBuilder<DynamicDb, string, Row>;
    };
    const forward = pairs(through.parentColumn, through.childColumn);
    // UNION (not ALL): a record linked to itself appears once.
    return through.symmetric ? forward.union(pairs(through.childColumn, through.parentColumn)) : forward;
  }

  /** `RecordQuery.perGroup`: ranks rows per group with `ROW_NUMBER() OVER (PARTITION BY …)` and keeps the first `limit` of each. */
  private async selectPerGroup(q: SelectQueryBuilder<DynamicDb, string, Row>, query: RecordQuery, group: { column: string; limit: number }): Promise<Row[]> {
    const byParent = query.through?.as === group.column;
    if (!query.columns.includes(group.column) && !byParent) throw new Error(`perGroup column '${group.column}' must be one of the selected columns`);
    const keys = query.orderBy.map((order) => {
      const ref = sql.ref(`${ROOT}.${order.column}`);
      return sql`${order.caseInsensitive ? sql`lower(${ref})` : ref} ${this.direction(order.descending)}`;
    });
    const rank = "__rank";
    const partition = sql.ref(byParent ? `${LINK}.parent` : `${ROOT}.${group.column}`);
    const ranked = q.select(sql<number>`row_number() over (partition by ${partition} order by ${sql.join(keys)})`.as(rank));
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

  async recordDeletion(org: Org, entity: EntityMetadata, id: string, version: number): Promise<void> {
    await this.db.insertInto("record_deletions").values({ org_id: org.id, entity: entity.logicalName, record_id: id, version_number: version }).execute();
  }

  async listDeletions(org: Org, entity: EntityMetadata, afterVersion: number): Promise<{ id: string; version: number }[]> {
    const rows = await this.db
      .selectFrom("record_deletions")
      .select(["record_id", "version_number"])
      .where("org_id", "=", org.id)
      .where("entity", "=", entity.logicalName)
      .where("version_number", ">", afterVersion)
      .orderBy("version_number")
      .orderBy("record_id")
      .execute();
    return rows.map((r) => ({ id: r.record_id, version: Number(r.version_number) }));
  }

  async latestVersion(org: Org, entity: EntityMetadata): Promise<number> {
    const [rows] = await this.selectJoined(org, { entity, alias: ROOT, joins: [], columns: [{ table: ROOT, column: "versionnumber", as: "v", aggregate: "max" }], groupBy: [], orderBy: [] });
    const deleted = await this.db.selectFrom("record_deletions").select((eb) => eb.fn.max("version_number").as("v")).where("org_id", "=", org.id).where("entity", "=", entity.logicalName).executeTakeFirst();
    return Math.max(Number(rows?.v ?? 0), Number(deleted?.v ?? 0));
  }

  async selectJoined(org: Org, query: JoinedQuery): Promise<Row[]> {
    const scopeOf = (alias: string): Scope => ({ prefix: org.tablePrefix, alias, depth: 0 });
    let q = this.dyn.selectFrom(`${org.tablePrefix}${query.entity.logicalName} as ${query.alias}`);
    for (const join of query.joins) {
      const table = `${org.tablePrefix}${join.entity.logicalName} as ${join.alias}`;
      const conditions = [join.scope.where, join.on].filter((e): e is Expr => e !== undefined);
      const condition = (jb: Eb) => {
        const key = jb(sql.ref(`${join.alias}.${join.from}`), "=", sql.ref(`${join.parent}.${join.to}`));
        return conditions.length > 0 ? jb.and([key, ...conditions.map((c) => compile(jb, c, scopeOf(join.alias)))]) : key;
      };
      q = join.outer ? q.leftJoin(table, (jb) => jb.on((eb) => condition(eb as unknown as Eb))) : q.innerJoin(table, (jb) => jb.on((eb) => condition(eb as unknown as Eb)));
    }
    let s = q.select(query.columns.map((c) => joinedColumn(c).as(c.as)));
    for (const [i, related] of (query.related ?? []).entries()) s = s.select((eb) => relatedValue(eb as unknown as Eb, org, related, `rj${i}`, query.alias));
    if (query.distinct) s = s.distinct();
    const where = query.where;
    if (where) s = s.where((eb) => compile(eb, where, scopeOf(query.alias)));
    for (const g of query.groupBy) s = s.groupBy(g.datePart ? datePart(sql.ref(`${g.table}.${g.column}`), g.datePart) : sql.ref(`${g.table}.${g.column}`));
    for (const order of query.orderBy) {
      const ref = "output" in order ? sql.ref(order.output) : sql.ref(`${order.table}.${order.column}`);
      s = s.orderBy(sql`${"output" in order || !order.caseInsensitive ? ref : sql`lower(${ref})`} ${this.direction(order.descending)}`);
    }
    if (query.limit !== undefined) s = s.limit(query.limit);
    if (query.offset !== undefined && query.offset > 0) s = s.offset(query.offset);
    return (await s.execute()) as Row[];
  }
}

/** `(SELECT alias.targetColumn FROM target AS alias WHERE alias.pk = outer.column LIMIT 1) AS related.alias`: a value read through a lookup. */
function relatedValue(eb: Eb, org: Org, related: RelatedValue, alias: string, outer: string): AliasedExpression<unknown, string> {
  let sub = eb
    .selectFrom(`${org.tablePrefix}${related.target.logicalName} as ${alias}`)
    .select(sql.ref(`${alias}.${related.targetColumn}`).as("v"))
    .where(sql.ref(`${alias}.${related.target.primaryIdAttribute}`), "=", sql.ref(`${outer}.${related.column}`));
  const scoped = related.scope.where;
  if (scoped) sub = sub.where((sb) => compile(sb as unknown as Eb, scoped, { prefix: org.tablePrefix, alias, depth: 0 }));
  return sub.limit(1).as(related.alias);
}

/**
 * A part of a date and time column as an integer, from its text (`YYYY-MM-DDTHH:MM:SSZ`, UTC) with
 * `substr`, so the same SQL runs on SQLite and PostgreSQL; quarters by integer division.
 */
function datePart(ref: RawBuilder<unknown> | ReturnType<typeof sql.ref>, part: NonNullable<JoinedColumn["datePart"]>): RawBuilder<unknown> {
  const digits = (from: number, length: number) => sql`cast(substr(${ref}, ${sql.lit(from)}, ${sql.lit(length)}) as integer)`;
  switch (part) {
    case "year":
      return digits(1, 4);
    case "month":
      return digits(6, 2);
    case "day":
      return digits(9, 2);
    case "quarter":
      return sql`((${digits(6, 2)} + 2) / 3)`;
  }
}

/** SQL of one joined-read column: `alias.column` or an aggregate over it (dialect-neutral functions only). */
function joinedColumn(c: JoinedColumn): RawBuilder<unknown> {
  const ref = c.datePart ? datePart(sql.ref(`${c.table}.${c.column}`), c.datePart) : sql.ref(`${c.table}.${c.column}`);
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
/** Alias of the intersect pairs joined by {@link ThroughIntersect}. */
const LINK = "link";

/** Where column names of an expression resolve: the table alias, and the org's table prefix for subqueries. */
interface Scope {
  prefix: string;
  alias: string;
  depth: number;
}

type Eb = ExpressionBuilder<DynamicDb, string>;

function columnRef(name: string, scope: Scope | undefined, table?: string): Expression<unknown> {
  if (table !== undefined) return sql.ref(`${table}.${name}`);
  return sql.ref(scope ? `${scope.alias}.${name}` : name);
}

function operand(eb: Eb, o: Operand, scope: Scope | undefined, lower = false): Expression<unknown> {
  const e = o.kind === "column" ? columnRef(o.name, scope, o.table) : eb.val(o.value);
  return lower ? sql`lower(${e})` : e;
}

const OPS = { eq: "=", ne: "<>", gt: ">", ge: ">=", lt: "<", le: "<=" } as const;

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

/**
 * Compiles the predicate AST to a Kysely expression (parameterised; no string SQL from input).
 * Without a scope, column names are unqualified (single-table statements); with one they are
 * qualified by the scope's alias, which `exists` subqueries need.
 */
function compile(eb: Eb, expr: Expr, scope?: Scope): Expression<SqlBool> {
  switch (expr.kind) {
    case "and":
    case "or":
      return balanced(eb, expr.kind, chain(expr, expr.kind).map((e) => compile(eb, e, scope)));
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
      return sql<SqlBool>`lower(${columnRef(expr.column, scope, expr.table)}) like lower(${expr.pattern}) escape '\\'`;
    case "in": {
      if (expr.values.length === 0) return sql<SqlBool>`1 = 0`;
      const lower = expr.caseInsensitive === true;
      const column = lower ? sql`lower(${columnRef(expr.column, scope, expr.table)})` : columnRef(expr.column, scope, expr.table);
      // Booleans bind as themselves: the SQLite driver sends 1/0, pg sends true/false.
      const values = expr.values.map((v) => (lower && typeof v === "string" ? v.toLowerCase() : v));
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
      if (scoped) sub = sub.where((sb) => compile(sb as unknown as Eb, scoped, inner));
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
