import { ensurePrivateDir, ensurePrivateFile, tightenIfPresent, type PermissionReport } from "../common/private-files.ts";
import { join } from "node:path";
import type { Kysely } from "kysely";
import type { StoreDialect, StoreDialectName } from "./dialect.ts";
import { openPostgres } from "./postgres/postgres.ts";
import type { Schema } from "./schema.ts";
import { openSqlite } from "./sqlite/sqlite.ts";

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

/**
 * An open store: the Kysely instance plus its dialect adapter. Engine-specific code lives only in
 * `sqlite/` and `postgres/`: the repositories reach it through {@link Database.adapter}.
 */
export interface Database {
  readonly db: Kysely<Schema>;
  /** Which engine this is (`adapter.name`). */
  readonly dialect: StoreDialectName;
  /** What the store does differently on this engine (DDL, index names, NULL order, introspection, after-DDL steps). */
  readonly adapter: StoreDialect;
  /** Checkpoints of the whole store. */
  readonly snapshots: StoreSnapshots;
  /**
   * True when another connection (an offline `orgbox` command on the same data folder) committed a
   * change since the previous call (false on the first call). One `PRAGMA data_version` on SQLite
   * (a read of a counter in the shared-memory header, no table access, no I/O:
   * sqlite.org/pragma.html#pragma_data_version); always false on PostgreSQL and in memory, where no
   * other writer is detected (README "Differences from the cloud").
   */
  changedElsewhere(): boolean;
  close(): Promise<void>;
}

/** Where the store lives. */
export interface StoreLocation {
  /** SQLite only: keep everything in memory (`:memory:`). */
  inMemory: boolean;
  /** SQLite only: folder of `orgbox.sqlite` when persisted. */
  dataDir: string;
  /** A `postgres://` URL: the store is that PostgreSQL database (`inMemory` and `dataDir` are then ignored). */
  storeUrl?: string | undefined;
  /** SQLite file only: told when a permission of the data folder or file was tightened or is unsafe. Default: a line on stderr. */
  onPermissions?: PermissionReport;
}

const stderrReport: PermissionReport = (message) => process.stderr.write(`orgbox: ${message}\n`);

/**
 * Opens the store and runs pending numbered migrations: PostgreSQL when `storeUrl` is given,
 * otherwise the embedded SQLite file (or memory). The data folder is created `0700` and the
 * SQLite file `0600` (an older, looser folder or file owned by this user is tightened and reported).
 * @throws when the database cannot be reached, or a migration fails (the error names it).
 */
export async function openDatabase(options: StoreLocation): Promise<Database> {
  if (options.storeUrl) return openPostgres(options.storeUrl);
  let location = ":memory:";
  if (!options.inMemory) {
    // The file holds the token-signing private keys: owner-only folder (0700) and files (0600).
    // SQLite creates -wal and -shm with the mode of the database file.
    const report = options.onPermissions ?? stderrReport;
    ensurePrivateDir(options.dataDir, report);
    location = join(options.dataDir, "orgbox.sqlite");
    ensurePrivateFile(location, report);
    for (const companion of ["-wal", "-shm", "-journal"]) tightenIfPresent(`${location}${companion}`, report);
  }
  return openSqlite(location);
}
