import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { SqliteDatabase, SqliteStatement } from "kysely";

/**
 * Adapts Node's built-in `node:sqlite` (`DatabaseSync`) to the database shape
 * Kysely's `SqliteDialect` expects (the better-sqlite3 API).
 *
 * Why not better-sqlite3: it is a native addon. This machine installs with
 * Node 20 while npm scripts run on the pinned Node 24, and prebuilt binaries
 * cannot be downloaded, so the addon is compiled for the wrong ABI. `node:sqlite`
 * ships inside Node ≥ 22.13 and needs no build.
 *
 * Prepared statements are cached by SQL text, so hot queries are parsed once.
 */
export class NodeSqliteDatabase implements SqliteDatabase {
  readonly raw: DatabaseSync;
  private readonly cache = new Map<string, NodeSqliteStatement>();
  private static readonly CACHE_LIMIT = 500;

  /** @param location a file path, or `:memory:`. */
  constructor(location: string) {
    this.raw = new DatabaseSync(location);
    this.raw.exec("PRAGMA foreign_keys = ON");
    if (location !== ":memory:") {
      this.raw.exec("PRAGMA journal_mode = WAL");
      this.raw.exec("PRAGMA synchronous = NORMAL");
      this.raw.exec("PRAGMA busy_timeout = 5000");
    }
  }

  close(): void {
    this.cache.clear();
    if (this.raw.isOpen) this.raw.close();
  }

  prepare(sql: string): SqliteStatement {
    let stmt = this.cache.get(sql);
    if (!stmt) {
      if (this.cache.size >= NodeSqliteDatabase.CACHE_LIMIT) {
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
      stmt = new NodeSqliteStatement(this.raw.prepare(sql));
      this.cache.set(sql, stmt);
    }
    return stmt;
  }

  /** Drops cached statements (after DDL changes a table's shape). */
  clearStatementCache(): void {
    this.cache.clear();
  }
}

type Bindable = null | number | bigint | string | Uint8Array;

function bind(parameters: ReadonlyArray<unknown>): Bindable[] {
  return parameters.map((value) => {
    if (value === undefined || value === null) return null;
    if (typeof value === "boolean") return value ? 1 : 0;
    if (value instanceof Date) return value.toISOString();
    if (typeof value === "object" && !(value instanceof Uint8Array)) return JSON.stringify(value);
    return value as Bindable;
  });
}

class NodeSqliteStatement implements SqliteStatement {
  readonly reader: boolean;
  private readonly stmt: StatementSync;

  constructor(stmt: StatementSync) {
    this.stmt = stmt;

    this.reader = stmt.columns().length > 0;
  }
  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.stmt.all(...bind(parameters));
  }
  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.stmt.run(...bind(parameters));
  }
  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    return this.stmt.iterate(...bind(parameters)) as IterableIterator<unknown>;
  }
}
