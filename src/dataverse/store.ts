import type { AttributeMetadata, EntityKeyMetadata, EntityMetadata, GlobalOptionSetMetadata, RelationshipMetadata } from "./metadata/types.ts";
import type { Org, Row } from "./model.ts";

/** A literal in a query. Dates are ISO strings (`YYYY-MM-DDTHH:MM:SSZ`). */
export type Scalar = string | number | boolean | null;

/**
 * A value side of a comparison: a column of the queried table, or a literal. `table` names another
 * table of a joined read by its SQL alias (FetchXML conditions with `entityname`).
 */
export type Operand = { kind: "column"; name: string; table?: string } | { kind: "value"; value: Scalar };

/**
 * The rows of a table that a join or correlated subquery into it may reach. Every join the store
 * compiles (`exists` predicates, {@link JoinedTable}, {@link RelatedValue}, {@link ThroughIntersect})
 * carries one: the SQL builder has no way to join a table without it. Two kinds, each greppable:
 *
 * - {@link ReadScope.caller}: the caller's Read scope of the table (`SecurityContext.readScope`),
 *   compiled into the join's condition so that a row the caller may not read behaves as if it did
 *   not exist (a navigation through it yields null, a collection does not contain it).
 * - {@link ReadScope.system}: every row, for a stated reason (the security model's own lookups,
 *   intersect rows, lookup names Dataverse shows whatever the caller's access).
 *
 * Instances are only made by these two factories (the constructor is private), so an object
 * literal cannot pass for a scope.
 */
export class ReadScope {
  /** The access predicate on the joined table's columns (`undefined`: every row). */
  readonly where: Expr | undefined;
  /** Why a system scope reaches every row; `undefined` for a caller's scope. */
  readonly systemReason: string | undefined;

  private constructor(where: Expr | undefined, systemReason: string | undefined) {
    this.where = where;
    this.systemReason = systemReason;
  }

  /**
   * The caller's Read scope of a table, from `accessFilter` (`undefined`: the caller reads every row).
   * Only `SecurityContext.readScope` should call this; everything else asks the security context.
   */
  static caller(where: Expr | undefined): ReadScope {
    return new ReadScope(where, undefined);
  }

  /** Every row of the joined table, regardless of the caller; `reason` says why that is right. */
  static system(reason: string): ReadScope {
    return new ReadScope(undefined, reason);
  }

  /** The same kind of scope with its predicate rewritten (the store's read shapes). */
  withWhere(where: Expr | undefined): ReadScope {
    return new ReadScope(where, this.systemReason);
  }
}

/**
 * A row predicate, compiled to SQL by the store. The OData `$filter` parser and
 * FetchXML produce it; the security model adds to it. Nothing is filtered in memory.
 */
export type Expr =
  | { kind: "and" | "or"; left: Expr; right: Expr }
  | { kind: "not"; operand: Expr }
  /** `caseInsensitive` compares `lower()` of both sides (string columns: Dataverse's SQL collation is case-insensitive). */
  | { kind: "compare"; op: "eq" | "ne" | "gt" | "ge" | "lt" | "le"; left: Operand; right: Operand; caseInsensitive?: boolean }
  /** Case-insensitive SQL LIKE; `pattern` uses `%` and `_`, already escaped by the caller with `\`. */
  | { kind: "like"; column: string; pattern: string; table?: string }
  | { kind: "in"; column: string; values: Scalar[]; caseInsensitive?: boolean; table?: string }
  /**
   * Correlated `EXISTS (SELECT 1 FROM entity WHERE entity.innerColumn = outer.outerColumn AND scope AND where)`:
   * lookup paths (`primarycontactid/fullname eq 'x'`), `any`/`all`, FetchXML semi-joins. Columns inside
   * `where` and `scope` belong to `entity`; `scope` is required (see {@link ReadScope}).
   */
  | { kind: "exists"; entity: EntityMetadata; innerColumn: string; outerColumn: string; where?: Expr; scope: ReadScope }
  /** `(column & mask) <> 0`: a bit of a flags column (`principalobjectaccess.accessrightsmask`) is set. */
  | { kind: "bitand"; column: string; mask: number }
  | { kind: "true" }
  | { kind: "false" };

/**
 * A value read through a lookup in the same SQL statement (correlated scalar subquery):
 * `(SELECT target.targetColumn FROM target WHERE target.pk = row.column) AS alias`.
 * Used for lookup formatted values and money currency symbols.
 */
export interface RelatedValue {
  /** Result column name in the returned row. */
  alias: string;
  /** Lookup column of the queried table. */
  column: string;
  target: EntityMetadata;
  targetColumn: string;
  /** Which rows of `target` the value may come from (a row outside it gives NULL). */
  scope: ReadScope;
}

/** A read of one table: one SQL statement. */
export interface RecordQuery {
  entity: EntityMetadata;
  /** SQL column names (attribute logical names) to return. */
  columns: string[];
  where?: Expr;
  /** `caseInsensitive` sorts by `lower(column)` (string columns). */
  orderBy: { column: string; descending: boolean; caseInsensitive?: boolean }[];
  /** Values read through lookups in the same statement. */
  related?: RelatedValue[];
  /** Maximum rows. */
  limit?: number;
  /** Rows to skip (paging cookies; never exposed as `$skip`). */
  offset?: number;
  /**
   * At most `limit` rows per distinct value of `column`, the first ones in `orderBy` order
   * (`ROW_NUMBER() OVER (PARTITION BY column ORDER BY …)`): `$expand` of a collection for a whole page.
   * Rows come back grouped by `column`, each group in `orderBy` order.
   */
  perGroup?: { column: string; limit: number };
  /** Only rows linked to one of `through.parents` by an N:N intersect table, each tagged with that parent (see {@link ThroughIntersect}). */
  through?: ThroughIntersect;
}

/**
 * The N:N part of a read: `JOIN (SELECT parentColumn AS parent, childColumn AS child FROM intersect
 * WHERE parentColumn IN (parents) [UNION the same with the columns swapped]) AS link ON
 * link.child = row.pk`, with `link.parent` returned as column `as` (usable as `perGroup.column`).
 * A row linked to several parents comes back once per parent. `symmetric` reads links in both
 * directions (self-referential relationships with one navigation property).
 */
export interface ThroughIntersect {
  intersect: EntityMetadata;
  parentColumn: string;
  childColumn: string;
  symmetric: boolean;
  parents: string[];
  /** Result column holding the parent id. */
  as: string;
  /** Which intersect rows may be read. */
  scope: ReadScope;
}

/** A table joined into a read (`<link-entity>` in FetchXML): `JOIN entity AS alias ON alias.from = parent.to AND on`. */
export interface JoinedTable {
  /** SQL alias of the joined table; unique in the query. */
  alias: string;
  entity: EntityMetadata;
  /** Alias of the table it joins to (the root's alias or an earlier join's). */
  parent: string;
  /** Column of the joined table. */
  from: string;
  /** Column of the parent table. */
  to: string;
  /** `LEFT JOIN` when true, `INNER JOIN` otherwise. */
  outer: boolean;
  /** More ON conditions; columns belong to the joined table (link-entity filters). */
  on?: Expr;
  /** The rows of the joined table the read may reach, ANDed into ON (see {@link ReadScope}). */
  scope: ReadScope;
}

/** Aggregate functions of {@link JoinedColumn}: `count` is `COUNT(*)`, `countcolumn` is `COUNT(column)`. */
export type AggregateFunction = "count" | "countcolumn" | "sum" | "avg" | "min" | "max";

/** One result column of a {@link JoinedQuery}: a column of a table alias, or an aggregate over it. */
export interface JoinedColumn {
  /** Table alias. */
  table: string;
  column: string;
  /** Result column name (an identifier: `[A-Za-z0-9_]`). */
  as: string;
  aggregate?: AggregateFunction;
  /** `COUNT(DISTINCT column)` and friends. */
  distinct?: boolean;
  /** A part of a date and time column (stored as `YYYY-MM-DDTHH:MM:SSZ`), as an integer: FetchXML `dategrouping`. */
  datePart?: "year" | "quarter" | "month" | "day";
}

/** A sort key: a table column, or a result column by its `as` name (aggregates). */
export type JoinedOrder = { table: string; column: string; descending: boolean; caseInsensitive?: boolean } | { output: string; descending: boolean };

/**
 * A read over a table and the tables joined to it, optionally grouped (FetchXML): one SQL statement.
 * Columns of `where` belong to the root table (`alias`).
 */
export interface JoinedQuery {
  entity: EntityMetadata;
  /** SQL alias of the root table. */
  alias: string;
  joins: JoinedTable[];
  columns: JoinedColumn[];
  where?: Expr;
  groupBy: { table: string; column: string; datePart?: JoinedColumn["datePart"] }[];
  orderBy: JoinedOrder[];
  /** `SELECT DISTINCT`. */
  distinct?: boolean;
  /** Values read through lookups of the root table in the same statement (annotations); not with `groupBy`. */
  related?: RelatedValue[];
  limit?: number;
  offset?: number;
}

/**
 * The orgs of this orgbox (the `orgs` table): each org's id, name, tenant and SQL table prefix.
 * Orgs are only ever added (and restored with a snapshot).
 */
export interface OrgRegistry {
  /** Records a new org; `now` is its creation time (ms since the epoch). @throws Error from the database when the name or id is taken. */
  createOrg(org: Org, now: number): Promise<void>;
  /** The org named `name` (compared lower-cased), if there is one. */
  findOrg(name: string): Promise<Org | undefined>;
  /** Every org, in creation order. */
  listOrgs(): Promise<Org[]>;
  /** Next free SQL table prefix for a new org. */
  nextTablePrefix(): Promise<string>;
}

/**
 * An org's schema: the SQL tables behind its Dataverse tables (record tables, their columns, the
 * unique indexes of alternate keys, N:N intersect tables) and the stored definitions of what was
 * created through the metadata API (custom tables, relationships, global option sets; JSON of the
 * metadata in `entity_definitions`, `relationship_definitions`, `option_set_definitions`).
 */
export interface SchemaStore {
  /** Creates the SQL table for a Dataverse table (one real column per attribute, indexes on keys and lookups). */
  createRecordTable(org: Org, entity: EntityMetadata): Promise<void>;
  /**
   * Creates the unique index of an alternate key (text columns compared case-insensitively, as
   * Dataverse's collation does). Rows whose key columns hold NULL never collide.
   * @throws Error from the database when existing rows already share key values.
   */
  createKeyIndex(org: Org, entity: EntityMetadata, key: EntityKeyMetadata): Promise<void>;
  /** Drops the unique index of an alternate key. */
  dropKeyIndex(org: Org, entity: EntityMetadata, key: EntityKeyMetadata): Promise<void>;
  /**
   * Ensures the index reads sort and filter the table's primary name column through: `(lower(name), id)`,
   * the case-folded key `$orderby=name` and `name eq '…'` compile to, with the keyset tie-breaker.
   * `createRecordTable` creates it; this adds it to tables of older data folders. Idempotent.
   */
  ensureNameIndex(org: Org, entity: EntityMetadata): Promise<void>;
  /** The org's record tables as they exist in SQL: logical name → column names (for upgrades of older data folders). */
  recordTableColumns(org: Org): Promise<Map<string, Set<string>>>;
  /** Adds one column to a table's SQL table (`ALTER TABLE … ADD COLUMN`); existing rows get NULL. */
  addColumn(org: Org, entity: EntityMetadata, attribute: AttributeMetadata): Promise<void>;
  /** Drops one column of a table's SQL table (and a lookup's index), with its values. */
  dropColumn(org: Org, entity: EntityMetadata, attribute: AttributeMetadata): Promise<void>;
  /** Drops a table's SQL table, its rows and indexes, and its recorded deletions (change tracking). */
  dropRecordTable(org: Org, entity: EntityMetadata): Promise<void>;
  /**
   * Creates the SQL table of an N:N intersect table: its primary key, the two link columns (each
   * indexed) and a unique index over the pair.
   */
  createIntersectTable(org: Org, entity: EntityMetadata, columns: readonly [string, string]): Promise<void>;
  /** Inserts or replaces the definition of a custom table (`entity_definitions`, JSON of the metadata). */
  saveEntityDefinition(org: Org, entity: EntityMetadata, now: number): Promise<void>;
  /** The org's custom table definitions, in creation order. */
  listEntityDefinitions(org: Org): Promise<EntityMetadata[]>;
  /** Removes the stored definition of a custom table. */
  deleteEntityDefinition(org: Org, logicalName: string): Promise<void>;
  /** Inserts the definition of a relationship created through `RelationshipDefinitions` (`relationship_definitions`, JSON). */
  saveRelationshipDefinition(org: Org, relationship: RelationshipMetadata, now: number): Promise<void>;
  /** The org's stored relationship definitions, in creation order. */
  listRelationshipDefinitions(org: Org): Promise<RelationshipMetadata[]>;
  /** Removes the stored definition of a relationship created through `RelationshipDefinitions`. */
  deleteRelationshipDefinition(org: Org, schemaName: string): Promise<void>;
  /** Stores a global option set (`option_set_definitions`, JSON of the metadata). */
  saveOptionSetDefinition(org: Org, optionSet: GlobalOptionSetMetadata, now: number): Promise<void>;
  /** The org's global option sets, in creation order. */
  listOptionSetDefinitions(org: Org): Promise<GlobalOptionSetMetadata[]>;
  /** Removes a stored global option set. */
  deleteOptionSetDefinition(org: Org, name: string): Promise<void>;
}

/**
 * The rows of an org's record tables: writes, reads (each one SQL statement, see {@link RecordQuery}
 * and {@link JoinedQuery}) and the deletions change tracking reports.
 */
export interface RecordStore {
  /**
   * True for a store bound to an open transaction: its reads see the transaction's uncommitted
   * writes (so an answer must not outlive it), and reads through other stores of the same database
   * would wait for it.
   */
  readonly inTransaction?: boolean;
  /** Inserts one row (`row`: SQL column → value). @throws Error from the database on a duplicate key. */
  insertRow(org: Org, entity: EntityMetadata, row: Row): Promise<void>;
  /** Sets `values` on the rows matching `where`; returns how many rows changed. */
  updateRows(org: Org, entity: EntityMetadata, where: Expr, values: Row): Promise<number>;
  /** Deletes the rows matching `where`; returns how many were deleted. */
  deleteRows(org: Org, entity: EntityMetadata, where: Expr): Promise<number>;
  /** Reads rows of one table (one SQL statement; see {@link RecordQuery}). */
  selectRows(org: Org, query: RecordQuery): Promise<Row[]>;
  /** Counts matching rows; with `limit`, counts at most `limit` rows (Dataverse caps counts at 5000). */
  countRows(org: Org, query: Pick<RecordQuery, "entity" | "where"> & { limit?: number }): Promise<number>;
  /** Reads a table with joined tables, aggregates and grouping (FetchXML) in one statement; rows are keyed by each column's `as`. */
  selectJoined(org: Org, query: JoinedQuery): Promise<Row[]>;
  /** Records the deletion of a record of a change-tracked table, at `version` (a `versionnumber`). */
  recordDeletion(org: Org, entity: EntityMetadata, id: string, version: number): Promise<void>;
  /** Deletions of `entity` after `afterVersion`, oldest first. */
  listDeletions(org: Org, entity: EntityMetadata, afterVersion: number): Promise<{ id: string; version: number }[]>;
  /** The highest `versionnumber` of `entity`'s rows and deletions (0 when there are none): where a change-tracking read starts. */
  latestVersion(org: Org, entity: EntityMetadata): Promise<number>;
}

/** Atomic units of work over every part of the store. */
export interface StoreTransactions {
  /**
   * Runs `work` atomically against a store bound to one SQL transaction: everything
   * it wrote is rolled back when it throws. Nested calls join the outer transaction.
   */
  transaction<T>(work: (store: DataverseStore) => Promise<T>): Promise<T>;
}

/**
 * Dataverse persistence port, the union of its aggregates ({@link OrgRegistry}, {@link SchemaStore},
 * {@link RecordStore}, {@link StoreTransactions}); `src/store/` implements it once for both SQL
 * engines. Code that needs one aggregate takes the narrow interface.
 */
export interface DataverseStore extends OrgRegistry, SchemaStore, RecordStore, StoreTransactions {}
