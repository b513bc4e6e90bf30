import { Kysely, SqliteDialect } from "kysely";
import type { Database } from "../open-database.ts";
import { migrateToLatest } from "../migrate.ts";
import type { Schema } from "../schema.ts";
import { SqliteStoreDialect } from "./dialect.ts";
import { NodeSqliteDatabase } from "./node-sqlite.ts";
import { SqliteSnapshots } from "./snapshot.ts";

/**
 * Opens an embedded SQLite store (`node:sqlite`) behind Kysely's `SqliteDialect`, then the
 * numbered migrations (the same as on PostgreSQL). The caller prepares the file and its folder.
 * @param location a file path, or `:memory:`.
 * @throws the migration's error when one fails (the database is closed first).
 */
export async function openSqlite(location: string): Promise<Database> {
  const sqlite = new NodeSqliteDatabase(location);
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) });
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const adapter = new SqliteStoreDialect(sqlite);
  // Kysely's SQLite driver has one connection behind a mutex: holding it keeps requests and transactions out.
  const exclusive = <T>(work: () => T): Promise<T> => db.connection().execute(async () => work());
  // `PRAGMA data_version` changes when another connection commits, never for this connection's own commits.
  const dataVersion = location === ":memory:" ? undefined : sqlite.raw.prepare("PRAGMA data_version");
  let seenVersion = dataVersion?.get()?.data_version;
  return {
    db,
    dialect: adapter.name,
    adapter,
    changedElsewhere() {
      if (!dataVersion || !sqlite.raw.isOpen) return false;
      const version = dataVersion.get()?.data_version;
      if (version === seenVersion) return false;
      seenVersion = version;
      return true;
    },
    announceChange: async () => undefined,
    exclusive: (_name, work) => work(),
    serve: async () => undefined,
    servingProcesses: async () => 1,
    snapshots: new SqliteSnapshots(sqlite.raw, exclusive, () => adapter.afterDdl()),
    close: () => db.destroy(),
  };
}
