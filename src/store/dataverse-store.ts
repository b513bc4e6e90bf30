import { CompiledQuery, sql, type SelectQueryBuilder, type Kysely } from "kysely";
import type { AttributeMetadata, EntityKeyMetadata, EntityMetadata, GlobalOptionSetMetadata, RelationshipMetadata } from "../dataverse/metadata/types.ts";
import type { Org, Row } from "../dataverse/model.ts";
import type { DataverseStore, Expr, JoinedQuery, RecordQuery, ThroughIntersect } from "../dataverse/store.ts";
import type { StoreDialect } from "./dialect.ts";
import { ExprCompiler, type DynamicDb, type Eb, type Scope } from "./expr-compiler.ts";
import type { Schema } from "./schema.ts";
import { ReadShapes, bindShape, shapeOf } from "./read-shapes.ts";

/** Options of {@link SqlDataverseStore}. */
export interface SqlDataverseStoreOptions {
  /** True for a store bound to an open transaction (internal: {@link SqlDataverseStore.transaction}). */
  inTransaction?: boolean;
  /** Compiled read statements by shape, shared with the store's transactions (internal). */
  shapes?: ReadShapes;
  /** The compiler of query inputs, shared with the store's transactions (internal). */
  compiler?: ExprCompiler;
}

/**
 * Kysely implementation of the Dataverse port. Record tables are `{org.tablePrefix}{logicalname}`.
 * The SQL is the same on every engine: what differs comes from its {@link StoreDialect}, and
 * predicates compile through {@link ExprCompiler}.
 */
export class SqlDataverseStore implements DataverseStore {
  private readonly dyn: Kysely<DynamicDb>;

  private readonly db: Kysely<Schema>;
  private readonly dialect: StoreDialect;
  private readonly compiler: ExprCompiler;

  /** True for a store bound to an open transaction (see {@link transaction}). */
  readonly inTransaction: boolean;
  /** SQL of record reads by shape, shared with this store's transactions. */
  private readonly shapes: ReadShapes;

  /**
   * @param db the open database (`Database.db`), or a transaction of it.
   * @param dialect the database's dialect adapter (`Database.adapter`).
   */
  constructor(db: Kysely<Schema>, dialect: StoreDialect, options: SqlDataverseStoreOptions = {}) {
    this.db = db;
    this.dialect = dialect;
    this.compiler = options.compiler ?? new ExprCompiler(dialect);
    this.inTransaction = options.inTransaction ?? false;
    this.shapes = options.shapes ?? new ReadShapes();
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
      builder = builder.addColumn(attribute.logicalName, this.dialect.columnType(attribute), (c) => (isPk ? c.primaryKey() : c));
    }
    await builder.execute();
    for (const attribute of entity.attributes) {
      const lookup = attribute.type === "Lookup" || attribute.type === "Customer" || attribute.type === "Owner";
      if (lookup || attribute.isPrimaryName || attribute.logicalName === "applicationid" || attribute.logicalName === "azureactivedirectoryobjectid") {
        if (attribute.logicalName === entity.primaryIdAttribute) continue;
        await this.db.schema.createIndex(this.dialect.indexName(`${name}_${attribute.logicalName}`)).on(name).column(attribute.logicalName).execute();
      }
    }
    for (const key of entity.keys ?? []) await this.keyIndex(name, entity, key);
    await this.nameIndex(name, entity);
    this.dialect.afterDdl();
  }

  async ensureNameIndex(org: Org, entity: EntityMetadata): Promise<void> {
    if (await this.nameIndex(`${org.tablePrefix}${entity.logicalName}`, entity)) this.dialect.afterDdl();
  }

  /** `CREATE INDEX IF NOT EXISTS {table}_{name}_ci ON {table} (lower(name), id)`; false when the table has no text primary name. */
  private async nameIndex(table: string, entity: EntityMetadata): Promise<boolean> {
    const name = entity.attributes.find((a) => a.isPrimaryName && a.type === "String");
    if (!name || !entity.primaryIdAttribute) return false;
    const expression = sql.join([this.dialect.caseFold(sql.ref(name.logicalName)), sql.ref(entity.primaryIdAttribute)]);
    await this.db.schema.createIndex(this.dialect.indexName(`${table}_${name.logicalName}_ci`)).ifNotExists().on(table).expression(expression).execute();
    return true;
  }

  async createKeyIndex(org: Org, entity: EntityMetadata, key: EntityKeyMetadata): Promise<void> {
    await this.keyIndex(`${org.tablePrefix}${entity.logicalName}`, entity, key);
    this.dialect.afterDdl();
  }

  async dropKeyIndex(org: Org, entity: EntityMetadata, key: EntityKeyMetadata): Promise<void> {
    await this.db.schema.dropIndex(this.dialect.indexName(`${org.tablePrefix}${entity.logicalName}_ak_${key.logicalName}`)).ifExists().execute();
    this.dialect.afterDdl();
  }

  /** `CREATE UNIQUE INDEX {table}_ak_{key} ON {table} (lower(text), other, …)`: the expressions alternate-key lookups compare. */
  private async keyIndex(table: string, entity: EntityMetadata, key: EntityKeyMetadata): Promise<void> {
    const parts = key.keyAttributes.map((column) => {
      const text = entity.attributes.find((a) => a.logicalName === column)?.type === "String";
      return text ? this.dialect.caseFold(sql.ref(column)) : sql.ref(column);
    });
    await this.db.schema.createIndex(this.dialect.indexName(`${table}_ak_${key.logicalName}`)).on(table).unique().expression(sql.join(parts)).execute();
  }

  async recordTableColumns(org: Org): Promise<Map<string, Set<string>>> {
    return this.dialect.recordTableColumns(this.db, org.tablePrefix);
  }

  async addColumn(org: Org, entity: EntityMetadata, attribute: AttributeMetadata): Promise<void> {
    const name = `${org.tablePrefix}${entity.logicalName}`;
    await this.db.schema.alterTable(name).addColumn(attribute.logicalName, this.dialect.columnType(attribute)).execute();
    if (attribute.type === "Lookup" || attribute.type === "Customer" || attribute.type === "Owner") {
      await this.db.schema.createIndex(this.dialect.indexName(`${name}_${attribute.logicalName}`)).on(name).column(attribute.logicalName).execute();
    }
    this.dialect.afterDdl();
  }

  async dropColumn(org: Org, entity: EntityMetadata, attribute: AttributeMetadata): Promise<void> {
    const name = `${org.tablePrefix}${entity.logicalName}`;
    // SQLite cannot drop an indexed column: a lookup's index (see addColumn) goes first.
    if (attribute.type === "Lookup" || attribute.type === "Customer" || attribute.type === "Owner") await this.db.schema.dropIndex(this.dialect.indexName(`${name}_${attribute.logicalName}`)).ifExists().execute();
    await this.db.schema.alterTable(name).dropColumn(attribute.logicalName).execute();
    this.dialect.afterDdl();
  }

  async dropRecordTable(org: Org, entity: EntityMetadata): Promise<void> {
    await this.db.schema.dropTable(`${org.tablePrefix}${entity.logicalName}`).ifExists().execute();
    // Its change-tracking log goes with it: a table created later under the name starts clean.
    await this.db.deleteFrom("record_deletions").where("org_id", "=", org.id).where("entity", "=", entity.logicalName).execute();
    this.dialect.afterDdl();
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
    for (const column of columns) await this.db.schema.createIndex(this.dialect.indexName(`${name}_${column}`)).on(name).column(column).execute();
    await this.db.schema.createIndex(this.dialect.indexName(`${name}_pair`)).on(name).columns([...columns]).unique().execute();
    this.dialect.afterDdl();
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
      .where((eb) => this.compiler.predicate(eb, where))
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async deleteRows(org: Org, entity: EntityMetadata, where: Expr): Promise<number> {
    const result = await this.dyn
      .deleteFrom(`${org.tablePrefix}${entity.logicalName}`)
      .where((eb) => this.compiler.predicate(eb, where))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async transaction<T>(work: (store: DataverseStore) => Promise<T>): Promise<T> {
    if (this.inTransaction) return work(this);
    return this.db.transaction().execute((trx) => work(new SqlDataverseStore(trx, this.dialect, { inTransaction: true, shapes: this.shapes, compiler: this.compiler })));
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
    for (const [i, related] of (query.related ?? []).entries()) q = q.select((eb) => this.compiler.relatedValue(eb as unknown as Eb, org, related, `r${i}`, ROOT));
    if (query.through) {
      const through = query.through;
      q = q.innerJoin(this.links(org, through).as(LINK), (join) => join.onRef(`${LINK}.child`, "=", `${ROOT}.${query.entity.primaryIdAttribute}`)).select(sql.ref(`${LINK}.parent`).as(through.as));
    }
    if (query.where) {
      const where = query.where;
      q = q.where((eb) => this.compiler.predicate(eb, where, scope));
    }
    if (query.perGroup) return q as SelectQueryBuilder<DynamicDb, string, Row>;
    for (const order of query.orderBy) {
      q = q.orderBy(this.compiler.orderKey(sql.ref(`${ROOT}.${order.column}`), order.descending, order.caseInsensitive));
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
      if (scoped) q = q.where((eb) => this.compiler.predicate(eb as unknown as Eb, scoped));
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
    const keys = query.orderBy.map((order) => this.compiler.orderKey(sql.ref(`${ROOT}.${order.column}`), order.descending, order.caseInsensitive));
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
      if (where) q = q.where((eb) => this.compiler.predicate(eb, where, scope));
      const row = await q.executeTakeFirstOrThrow();
      return Number(row.n);
    }
    // Capped count: COUNT(*) over at most `limit` matching rows, so large tables stop early.
    let inner = this.dyn.selectFrom(`${table} as ${ROOT}`).select(sql.lit(1).as("one"));
    if (where) inner = inner.where((eb) => this.compiler.predicate(eb, where, scope));
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
        return conditions.length > 0 ? jb.and([key, ...conditions.map((c) => this.compiler.predicate(jb, c, scopeOf(join.alias)))]) : key;
      };
      q = join.outer ? q.leftJoin(table, (jb) => jb.on((eb) => condition(eb as unknown as Eb))) : q.innerJoin(table, (jb) => jb.on((eb) => condition(eb as unknown as Eb)));
    }
    let s = q.select(query.columns.map((c) => this.compiler.joinedColumn(c).as(c.as)));
    for (const [i, related] of (query.related ?? []).entries()) s = s.select((eb) => this.compiler.relatedValue(eb as unknown as Eb, org, related, `rj${i}`, query.alias));
    if (query.distinct) s = s.distinct();
    const where = query.where;
    if (where) s = s.where((eb) => this.compiler.predicate(eb, where, scopeOf(query.alias)));
    for (const g of query.groupBy) s = s.groupBy(this.compiler.columnValue(g.table, g.column, g.datePart));
    for (const order of query.orderBy) {
      if ("output" in order) s = s.orderBy(this.compiler.orderKey(sql.ref(order.output), order.descending));
      else s = s.orderBy(this.compiler.orderKey(sql.ref(`${order.table}.${order.column}`), order.descending, order.caseInsensitive));
    }
    if (query.limit !== undefined) s = s.limit(query.limit);
    if (query.offset !== undefined && query.offset > 0) s = s.offset(query.offset);
    return (await s.execute()) as Row[];
  }
}

/** Alias of the queried table in record reads. */
const ROOT = "t0";
/** Alias of the intersect pairs joined by {@link ThroughIntersect}. */
const LINK = "link";
