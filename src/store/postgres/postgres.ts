import pg from "pg";
import { Kysely, PostgresDialect } from "kysely";
import type { Database } from "../open-database.ts";
import { migrateToLatest } from "../migrate.ts";
import type { Schema } from "../schema.ts";
import { PostgresStoreDialect } from "./dialect.ts";
import { PostgresSnapshots } from "./snapshot.ts";
import { PostgresChanges } from "./changes.ts";

/** PostgreSQL type OIDs whose text form we parse differently from `pg`'s defaults. */
const INT8 = 20;
const NUMERIC = 1700;

/**
 * Result parsers of every connection of the store (set per pool, not on `pg`'s global registry):
 * `bigint` (also `count(*)`, `row_number()`, `sum(integer)`) becomes a JS number when it is a safe
 * integer, and stays a decimal string beyond 2^53 (the Dataverse serializer writes BigInt values as
 * strings anyway); `numeric` (Decimal/Money columns, `avg`) becomes a JS number, as SQLite's REAL
 * values are. Everything else keeps `pg`'s parsing (booleans are `true`/`false`).
 */
export const storeTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => {
    if (oid === INT8) return (text: string) => {
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : text;
    };
    if (oid === NUMERIC) return (text: string) => Number(text);
    return format === "binary" ? pg.types.getTypeParser(oid, "binary") : pg.types.getTypeParser(oid);
  }) as pg.CustomTypesConfig["getTypeParser"],
};

/** The URL without its password, for error messages and logs. */
export function redactStoreUrl(url: string): string {
  return url.replace(/^([a-z]+:\/\/[^:@/?]*):[^@/?]*@/i, "$1:***@").replace(/([?&]password=)[^&]*/i, "$1***");
}

/**
 * Opens a PostgreSQL store: a `pg` pool behind Kysely's `PostgresDialect`, then the numbered
 * migrations (the same as on SQLite). Tables live in the connection's current schema
 * (`public` unless the URL sets `options=-c search_path=…`); snapshots use one more, dedicated
 * connection and its temporary tables (see {@link PostgresSnapshots}).
 * @param url `postgres://user[:password]@host[:port]/database`, or `postgres://user@/database?host=/socket/dir`.
 * @throws Error naming the (password-less) URL when the server cannot be reached; the migration's error when one fails.
 */
export async function openPostgres(url: string): Promise<Database> {
  const config: pg.PoolConfig = { connectionString: url, types: storeTypes, max: 10, application_name: "orgbox" };
  const pool = new pg.Pool(config);
  // A pooled idle connection that the server drops must not crash the process: the next query reports it.
  pool.on("error", () => undefined);
  try {
    await pool.query("SELECT 1");
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new Error(`cannot open the PostgreSQL store at ${redactStoreUrl(url)}: ${(error as Error).message}`, { cause: error });
  }
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  const changes = new PostgresChanges(pool, config);
  try {
    // Kysely's migrator serializes concurrent starts itself (a transaction-scoped advisory lock).
    await migrateToLatest(db);
    // The caches start from this version: a change announced after this read is seen by the first request.
    await changes.changedElsewhere();
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const snapshots = new PostgresSnapshots(config);
  const adapter = new PostgresStoreDialect();
  return {
    db,
    dialect: adapter.name,
    adapter,
    snapshots,
    changedElsewhere: () => changes.changedElsewhere(),
    announceChange: () => changes.announce(),
    exclusive: (name, work) => changes.exclusive(name, work),
    serve: (onChange) => changes.serve(onChange),
    servingProcesses: () => changes.servingProcesses(),
    async close() {
      await changes.close();
      await snapshots.close();
      await db.destroy();
    },
  };
}
