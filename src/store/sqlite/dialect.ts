import { sql, type ColumnDataType, type Expression, type Kysely, type RawBuilder } from "kysely";
import type { AttributeMetadata } from "../../dataverse/metadata/types.ts";
import { lowerFold, sharedColumnType, substrDatePart, type DatePart, type StoreDialect } from "../dialect.ts";
import type { Schema } from "../schema.ts";

/**
 * SQLite's side of {@link StoreDialect} (https://sqlite.org/lang.html): String columns declared
 * `varchar(n)` (SQLite ignores the length; the write validation enforces MaxLength), index names
 * as they are (SQLite has no identifier length limit, and data folders already hold these names),
 * SQLite's own NULL order (first ascending, last descending: what Dataverse does), and a statement
 * cache to drop after DDL.
 */
export class SqliteStoreDialect implements StoreDialect {
  readonly name = "sqlite";
  private readonly statements: { clearStatementCache(): void };

  /** @param statements the connection whose prepared statements go stale after a schema change. */
  constructor(statements: { clearStatementCache(): void }) {
    this.statements = statements;
  }

  columnType(attribute: AttributeMetadata): ColumnDataType {
    return sharedColumnType(attribute, (maxLength) => `varchar(${maxLength})`);
  }

  indexName(name: string): string {
    return name;
  }

  caseFold(value: Expression<unknown>): RawBuilder<unknown> {
    return lowerFold(value);
  }

  orderKey(key: Expression<unknown>, descending: boolean): RawBuilder<unknown> {
    return sql`${key} ${sql.raw(descending ? "desc" : "asc")}`;
  }

  datePart(value: Expression<unknown>, part: DatePart): RawBuilder<unknown> {
    return substrDatePart(value, part);
  }

  /** Kysely's SQLite introspection (`sqlite_master` and `pragma_table_info`). */
  async recordTableColumns(db: Kysely<Schema>, prefix: string): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    for (const table of await db.introspection.getTables()) {
      if (!table.name.startsWith(prefix)) continue;
      out.set(table.name.slice(prefix.length), new Set(table.columns.map((c) => c.name)));
    }
    return out;
  }

  afterDdl(): void {
    this.statements.clearStatementCache();
  }
}
