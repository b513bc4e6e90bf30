import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Kysely, SqliteDialect, Migrator, type Migration, type MigrationProvider } from "kysely";
import { NodeSqliteDatabase } from "./sqlite/node-sqlite.ts";
import { SqliteSnapshots } from "./sqlite/snapshot.ts";
import { migrations } from "./migrations/index.ts";
import type { Schema } from "./schema.ts";

/** Which SQL engine backs the store. PostgreSQL follows; no SQLite-only SQL lives outside `sqlite/`. */
export type StoreDialect = "sqlite";

/**
 * Checkpoints of the whole store (every table, every org), dialect-neutral:
 * `take()` copies the current state, `restore()` puts it back in one
 * transaction, much faster than re-applying an environment.
 */
export interface StoreSnapshots {
  /** Copies the current state; returns an opaque handle. */
  take(): Promise<string>;
  /** Restores the state of `take()`'s handle. @throws Error for an unknown handle. */
  restore(handle: string): Promise<void>;
  /** Frees a snapshot. */
  drop(handle: string): Promise<void>;
}

/** An open store: the Kysely instance plus dialect facts the repositories need. */
export interface Database {
  readonly db: Kysely<Schema>;
  readonly dialect: StoreDialect;
  /** Invalidates cached prepared statements after DDL. */
  afterDdl(): void;
  /** Checkpoints of the whole store. */
  readonly snapshots: StoreSnapshots;
  close(): Promise<void>;
}

/**
 * Opens the embedded store and runs pending numbered migrations.
 * @param options.inMemory keep everything in memory (`:memory:`).
 * @param options.dataDir folder of `orgbox.sqlite` when persisted.
 * @throws when a migration fails (the error names it).
 */
export async function openDatabase(options: { inMemory: boolean; dataDir: string }): Promise<Database> {
  let location = ":memory:";
  if (!options.inMemory) {
    mkdirSync(options.dataDir, { recursive: true });
    location = join(options.dataDir, "orgbox.sqlite");
  }
  const sqlite = new NodeSqliteDatabase(location);
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: sqlite }) });
  const migrator = new Migrator({ db, provider: new StaticMigrations(migrations) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error");
    await db.destroy();
    throw new Error(`store migration ${failed?.migrationName ?? "?"} failed: ${(error as Error).message}`, { cause: error });
  }
  const afterDdl = () => sqlite.clearStatementCache();
  // Kysely's SQLite driver has one connection behind a mutex: holding it keeps requests and transactions out.
  const exclusive = <T>(work: () => T): Promise<T> => db.connection().execute(async () => work());
  return {
    db,
    dialect: "sqlite",
    afterDdl,
    snapshots: new SqliteSnapshots(sqlite.raw, exclusive, afterDdl),
    close: () => db.destroy(),
  };
}

class StaticMigrations implements MigrationProvider {
  private readonly all: Record<string, Migration>;

  constructor(all: Record<string, Migration>) {
    this.all = all;
}
  async getMigrations(): Promise<Record<string, Migration>> {
    return this.all;
  }
}
