import type { Kysely } from "kysely";
import type { StoreDialect, StoreDialectName } from "./dialect.ts";
import type { Schema } from "./schema.ts";

/** A store-wide lock (see {@link Database.exclusive}): startup writes, or the timed key rotation. */
export type StoreLockName = "startup" | "key-rotation";

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
   * True when another process (an offline `orgbox` command, another orgbox on the same store) committed
   * a change that a cache may hold since the previous call (false on the first call). SQLite: one
   * `PRAGMA data_version` (a read of a counter in the shared-memory header, no table access, no I/O:
   * sqlite.org/pragma.html#pragma_data_version), answered synchronously; always false in memory.
   * PostgreSQL: one read of the `store_changes` counter (see `postgres/changes.ts`).
   */
  changedElsewhere(): boolean | Promise<boolean>;
  /**
   * Tells the other processes on the store that something they may cache changed: call after the
   * write committed, before acknowledging it. PostgreSQL: bumps `store_changes` and NOTIFYs; SQLite:
   * nothing (`PRAGMA data_version` moves by itself).
   */
  announceChange(): Promise<void>;
  /**
   * Runs `work` while no other process on the store runs work under the same lock name. PostgreSQL:
   * a session advisory lock; SQLite: runs `work` (one process starts at a time there: `start --workers`
   * prepares the store before it forks).
   */
  exclusive<T>(name: StoreLockName, work: () => Promise<T>): Promise<T>;
  /**
   * Marks this process as serving the store and calls `onChange` as soon as another process announces
   * a change (PostgreSQL `LISTEN`); nothing on SQLite.
   */
  serve(onChange: () => void): Promise<void>;
  /** How many processes serve the store now (see {@link serve}): PostgreSQL counts them; SQLite answers 1. */
  servingProcesses(): Promise<number>;
  close(): Promise<void>;
}
