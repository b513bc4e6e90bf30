import { sql, type ColumnDataType, type Expression, type Kysely, type RawBuilder } from "kysely";
import type { AttributeMetadata } from "../dataverse/metadata/types.ts";
import type { JoinedColumn } from "../dataverse/store.ts";
import type { Schema } from "./schema.ts";

/** Which SQL engine backs the store: embedded SQLite (`node:sqlite`) or a PostgreSQL server (`storeUrl`). */
export type StoreDialectName = "sqlite" | "postgres";

/** A part of a date and time column that FetchXML `dategrouping` groups by. */
export type DatePart = NonNullable<JoinedColumn["datePart"]>;

/**
 * Everything the Dataverse store does differently on SQLite and PostgreSQL, in one place (the role
 * of Kysely's `DialectAdapter`, for the SQL Kysely leaves to us). Implemented by
 * `sqlite/dialect.ts` and `postgres/dialect.ts`; the repositories and the `Expr` compiler never
 * test which engine they run on. One instance per open database (`Database.adapter`).
 *
 * What needs no method, because Kysely or plain SQL already covers both engines: upserts
 * (`INSERT … ON CONFLICT (…) DO UPDATE`, Kysely's `onConflict`), JSON (definitions are text columns
 * parsed in JavaScript), `LIMIT`/`OFFSET`, `ROW_NUMBER() OVER`, `EXISTS`, `&` on integers, and
 * result types (PostgreSQL's parsers are set on its pool: `postgres/postgres.ts`). Snapshots are
 * `Database.snapshots`, one implementation per engine.
 */
export interface StoreDialect {
  readonly name: StoreDialectName;

  /** SQL type of an attribute's column (Kysely passes the name through). */
  columnType(attribute: AttributeMetadata): ColumnDataType;

  /**
   * The name to give an index called `name` (`{table}_{column}`, `{table}_ak_{key}`,
   * `{table}_pair`): every index the store creates or drops goes through this, so that names the
   * engine would truncate stay distinct.
   */
  indexName(name: string): string;

  /**
   * `value` folded for a case-insensitive comparison or sort (`lower(value)`): Dataverse's SQL
   * collation ignores case. Alternate-key indexes are built over the same expression, so lookups
   * by key use them.
   */
  caseFold(value: Expression<unknown>): RawBuilder<unknown>;

  /**
   * A sort key with its direction and Dataverse's NULL placement: NULLs first ascending, last
   * descending (SQL Server's order).
   */
  orderKey(key: Expression<unknown>, descending: boolean): RawBuilder<unknown>;

  /**
   * A part of a date and time column, as an integer (FetchXML `dategrouping`). Values are stored
   * as text `YYYY-MM-DDTHH:MM:SSZ` (UTC), so the part is in UTC.
   */
  datePart(value: Expression<unknown>, part: DatePart): RawBuilder<unknown>;

  /**
   * The record tables whose names start with `prefix`, as they exist in the database: name without
   * the prefix → column names (for upgrades of older data folders).
   */
  recordTableColumns(db: Kysely<Schema>, prefix: string): Promise<Map<string, Set<string>>>;

  /** Called after every schema change (SQLite drops its prepared statements; PostgreSQL caches none). */
  afterDdl(): void;
}

/**
 * The column type both engines share for `attribute`; `text` is what the engine uses for String
 * columns of `attribute.maxLength` characters (default 4000).
 */
export function sharedColumnType(attribute: AttributeMetadata, text: (maxLength: number) => ColumnDataType): ColumnDataType {
  switch (attribute.type) {
    case "Uniqueidentifier":
    case "Lookup":
    case "Customer":
    case "Owner":
      return "varchar(36)";
    case "String":
      return text(attribute.maxLength ?? 4000);
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

/** 1-based character position and length of each part in `YYYY-MM-DDTHH:MM:SSZ`. */
const DIGITS_OF: Record<Exclude<DatePart, "quarter">, readonly [number, number]> = { year: [1, 4], month: [6, 2], day: [9, 2] };

/**
 * {@link StoreDialect.datePart} with `substr` and `cast(… as integer)`, which mean the same on
 * SQLite and PostgreSQL; quarters by integer division of the month.
 */
export function substrDatePart(value: Expression<unknown>, part: DatePart): RawBuilder<unknown> {
  const digits = ([from, length]: readonly [number, number]) => sql`cast(substr(${value}, ${sql.lit(from)}, ${sql.lit(length)}) as integer)`;
  if (part === "quarter") return sql`((${digits(DIGITS_OF.month)} + 2) / 3)`;
  return digits(DIGITS_OF[part]);
}

/** {@link StoreDialect.caseFold} as `lower(value)`, the same function on both engines. */
export function lowerFold(value: Expression<unknown>): RawBuilder<unknown> {
  return sql`lower(${value})`;
}
