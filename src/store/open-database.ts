import type { Kysely } from "kysely";
import type { StoreDialect, StoreDialectName } from "./dialect.ts";
import type { Schema } from "./schema.ts";

/* The shapes of an open store, apart from `database.ts` (which opens one): the engines import these without importing their opener (no import cycle). */

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
