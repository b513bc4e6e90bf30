import { ensurePrivateDir, ensurePrivateFile, tightenIfPresent, type PermissionReport } from "../common/private-files.ts";
import { join } from "node:path";
import type { Database } from "./open-database.ts";
import { openPostgres } from "./postgres/postgres.ts";
import { openSqlite } from "./sqlite/sqlite.ts";

export type { Database, StoreLockName, StoreSnapshots } from "./open-database.ts";

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
