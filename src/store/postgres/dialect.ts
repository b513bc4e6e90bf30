import { createHash } from "node:crypto";
import { sql, type ColumnDataType, type Expression, type Kysely, type RawBuilder } from "kysely";
import type { AttributeMetadata } from "../../dataverse/metadata/types.ts";
import { lowerFold, sharedColumnType, substrDatePart, type DatePart, type StoreDialect } from "../dialect.ts";
import type { Schema } from "../schema.ts";

/**
 * PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1):
 * https://www.postgresql.org/docs/current/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS
 */
export const PG_IDENTIFIER_MAX = 63;

/**
 * PostgreSQL's side of {@link StoreDialect}: String columns are `text` (MaxLength is enforced by
 * the write validation, as on SQLite, never by a database error), long index names shortened with
 * a hash, explicit `NULLS FIRST`/`NULLS LAST` (PostgreSQL's default puts NULLs last ascending), the
 * store's own schema for introspection, and nothing to do after DDL (`pg` sends unnamed
 * statements, so nothing is cached across a schema change).
 */
export class PostgresStoreDialect implements StoreDialect {
  readonly name = "postgres";

  columnType(attribute: AttributeMetadata): ColumnDataType {
    return sharedColumnType(attribute, () => "text");
  }

  /**
   * Names longer than {@link PG_IDENTIFIER_MAX} bytes keep their first 50 characters and get 12
   * hex digits of the whole name's SHA-256, so that `dv1_new_somelongtable_ak_new_somelongkey` and
   * a sibling that PostgreSQL would truncate to the same 63 bytes stay distinct.
   */
  indexName(name: string): string {
    if (Buffer.byteLength(name) <= PG_IDENTIFIER_MAX) return name;
    return `${name.slice(0, 50)}_${createHash("sha256").update(name).digest("hex").slice(0, 12)}`;
  }

  caseFold(value: Expression<unknown>): RawBuilder<unknown> {
    return lowerFold(value);
  }

  orderKey(key: Expression<unknown>, descending: boolean): RawBuilder<unknown> {
    return sql`${key} ${sql.raw(descending ? "desc nulls last" : "asc nulls first")}`;
  }

  datePart(value: Expression<unknown>, part: DatePart): RawBuilder<unknown> {
    return substrDatePart(value, part);
  }

  /** `information_schema.columns` of `current_schema()` only (Kysely's introspection lists every schema of the database). */
  async recordTableColumns(db: Kysely<Schema>, prefix: string): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    const { rows } = await sql<{ table_name: string; column_name: string }>`select table_name, column_name from information_schema.columns where table_schema = current_schema() order by table_name, ordinal_position`.execute(db);
    for (const row of rows) {
      if (!row.table_name.startsWith(prefix)) continue;
      const name = row.table_name.slice(prefix.length);
      out.set(name, (out.get(name) ?? new Set()).add(row.column_name));
    }
    return out;
  }

  afterDdl(): void {}
}
