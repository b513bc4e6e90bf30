import type { EntityMetadata } from "./metadata/types.ts";
import type { Org, Row } from "./model.ts";

/** A literal in a query. Dates are ISO strings (`YYYY-MM-DDTHH:MM:SSZ`). */
export type Scalar = string | number | boolean | null;

/** A value side of a comparison: a column of the queried table, or a literal. */
export type Operand = { kind: "column"; name: string } | { kind: "value"; value: Scalar };

/**
 * A row predicate, compiled to SQL by the store. The OData `$filter` parser and
 * FetchXML produce it; the security model adds to it. Nothing is filtered in memory.
 */
export type Expr =
  | { kind: "and" | "or"; left: Expr; right: Expr }
  | { kind: "not"; operand: Expr }
  | { kind: "compare"; op: "eq" | "ne" | "gt" | "ge" | "lt" | "le"; left: Operand; right: Operand }
  /** Case-insensitive SQL LIKE; `pattern` uses `%` and `_`, already escaped by the caller with `\`. */
  | { kind: "like"; column: string; pattern: string }
  | { kind: "in"; column: string; values: Scalar[] }
  | { kind: "true" }
  | { kind: "false" };

/** A read of one table: one SQL statement. */
export interface RecordQuery {
  entity: EntityMetadata;
  /** SQL column names (attribute logical names) to return. */
  columns: string[];
  where?: Expr;
  orderBy: { column: string; descending: boolean }[];
  /** Maximum rows. */
  limit?: number;
  /** Rows to skip (paging cookies; never exposed as `$skip`). */
  offset?: number;
}

/** Dataverse persistence port; `src/store/` implements it per SQL dialect. */
export interface DataverseStore {
  createOrg(org: Org, now: number): Promise<void>;
  findOrg(name: string): Promise<Org | undefined>;
  listOrgs(): Promise<Org[]>;
  /** Next free SQL table prefix for a new org. */
  nextTablePrefix(): Promise<string>;

  /** Creates the SQL table for a Dataverse table (one real column per attribute, indexes on keys and lookups). */
  createRecordTable(org: Org, entity: EntityMetadata): Promise<void>;
  insertRow(org: Org, entity: EntityMetadata, row: Row): Promise<void>;
  selectRows(org: Org, query: RecordQuery): Promise<Row[]>;
  countRows(org: Org, query: Pick<RecordQuery, "entity" | "where">): Promise<number>;
}
