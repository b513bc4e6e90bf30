import pg from "pg";
import type { StoreLockName } from "../open-database.ts";

/** The NOTIFY channel of a store's change announcements (payload: the new `store_changes.version`, decimal). */
export const CHANGES_CHANNEL = "orgbox_store_changes";

/** First key of orgbox's advisory locks (`pg_advisory_lock(int, int)`); the second is `hashtext(current_schema())`, so stores in two schemas of one database do not share locks. */
const LOCK_SPACE = 0x6f726762; // "orgb"

/** Store-wide locks, by what they guard: the second lock key is derived from the schema, the first from the name. */
const LOCKS = {
  /** Held by every serving process, shared, on its LISTEN connection: `pg_locks` then counts the servers. */
  serving: LOCK_SPACE,
  /** Startup: the first signing key, the first-party apps, the demo seed, the environment, the org upgrades. */
  startup: LOCK_SPACE + 1,
  /** The timed signing-key rotation (one process rotates; the others reload). */
  "key-rotation": LOCK_SPACE + 2,
} as const;


/**
 * How orgbox processes on one PostgreSQL store keep their caches true to it.
 *
 * **The guarantee is a per-request read of a change counter, not the NOTIFY.** Every process that
 * writes something another process may cache (directory objects, credentials, assignments, security
 * tables, definitions, orgs, signing keys, a snapshot restore) bumps `store_changes.version` after the
 * write committed and before it answers (or before an offline command exits), and every request first
 * reads the counter: one primary-key read of a one-row table, a fraction of a millisecond on a local
 * server, shared by the requests that arrive while it is in flight (a read joins only one that has not
 * started yet, so it never misses a change acknowledged before the request arrived). When the counter
 * moved, the process drops its caches before the request reads them. So a request that starts after a
 * write elsewhere was acknowledged never sees the state from before it. `LISTEN/NOTIFY` alone cannot
 * promise that: a notification reaches the listening process asynchronously, after the writer's
 * commit was acknowledged, so the next request may arrive first.
 *
 * **NOTIFY is the fast path.** The bump sends `pg_notify(orgbox_store_changes, version)` in the same
 * statement; each serving process LISTENs on a connection of its own and drops its caches (and reloads
 * its signing keys) as soon as it hears one, usually before the next request, which then finds the
 * counter already seen and pays only the read.
 *
 * The counter is bumped after the commit rather than inside the writing transaction: a reader that
 * sees the new counter before it re-reads can only find the new data (the bump follows the commit), and
 * one that re-read before the commit re-reads again on the next counter change. A process's own bumps
 * do not make it drop its caches again (it did when it wrote) unless another process bumped in between.
 */
export class PostgresChanges {
  private readonly pool: pg.Pool;
  private readonly config: pg.ClientConfig;
  /** The counter value this process's caches reflect; undefined before the first read. */
  private seen: number | undefined;
  private inFlight: Promise<number> | undefined;
  private next: Promise<number> | undefined;
  private listener: pg.Client | undefined;
  private closed = false;

  constructor(pool: pg.Pool, config: pg.ClientConfig) {
    this.pool = pool;
    this.config = config;
  }

  /**
   * True when another process bumped the counter since the previous call (false on the first call).
   * @throws the query's error when the database cannot be reached (the request then fails, as its own reads would).
   */
  async changedElsewhere(): Promise<boolean> {
    const version = await this.read();
    if (this.seen === undefined) {
      this.seen = version;
      return false;
    }
    if (version === this.seen) return false;
    this.seen = version;
    return true;
  }

  /** The counter, read by a query that starts after this call (joining a queued one, never one in flight). */
  private read(): Promise<number> {
    if (!this.inFlight) return this.start();
    this.next ??= this.inFlight.then(
      () => this.start(),
      () => this.start(),
    );
    return this.next;
  }

  private start(): Promise<number> {
    this.next = undefined;
    const run = this.pool.query<{ version: string | number }>("SELECT version FROM store_changes WHERE id = 'store'").then((r) => Number(r.rows[0]?.version ?? 0));
    this.inFlight = run;
    const clear = () => {
      if (this.inFlight === run) this.inFlight = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  /**
   * Bumps the counter and notifies the listening processes: call after a committed write that other
   * processes may hold in a cache, before acknowledging it.
   * @throws the query's error when the database cannot be reached.
   */
  async announce(): Promise<void> {
    const { rows } = await this.pool.query<{ version: string | number }>(
      `WITH bumped AS (
         INSERT INTO store_changes (id, version) VALUES ('store', 1)
         ON CONFLICT (id) DO UPDATE SET version = store_changes.version + 1
         RETURNING version)
       SELECT version, pg_notify($1, version::text) FROM bumped`,
      [CHANGES_CHANNEL],
    );
    const version = Number(rows[0]?.version ?? 0);
    // Only this process moved the counter since it last looked: its caches are current already.
    if (this.seen !== undefined && version === this.seen + 1) this.seen = version;
  }

  /**
   * Runs `work` holding the store-wide lock `name` (a session advisory lock on a connection of its
   * own, released when `work` settles or the connection drops): one process at a time.
   */
  async exclusive<T>(name: StoreLockName, work: () => Promise<T>): Promise<T> {
    const client = new pg.Client({ ...this.config, application_name: `orgbox ${name}` });
    client.on("error", () => undefined);
    await client.connect();
    try {
      await client.query("SELECT pg_advisory_lock($1, hashtext(current_schema()))", [LOCKS[name]]);
      return await work();
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * Registers this process as serving the store (a shared advisory lock, counted by
   * {@link servingProcesses}) and LISTENs for other processes' announcements, calling `onChange` for
   * each. A lost connection is reopened (and `onChange` called, since announcements may have been missed).
   */
  async serve(onChange: () => void): Promise<void> {
    if (this.closed || this.listener) return;
    const client = new pg.Client({ ...this.config, application_name: "orgbox listen" });
    this.listener = client;
    client.on("notification", (message) => {
      if (message.channel === CHANGES_CHANNEL) onChange();
    });
    client.on("error", () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.end().catch(() => undefined);
      if (this.closed) return;
      onChange();
      // Reconnect in the background; the per-request read keeps every answer current meanwhile.
      setTimeout(() => void this.serve(onChange).catch(() => undefined), 1000).unref();
    });
    await client.connect();
    await client.query("SELECT pg_advisory_lock_shared($1, hashtext(current_schema()))", [LOCKS.serving]);
    await client.query(`LISTEN ${CHANGES_CHANNEL}`);
  }

  /** How many processes serve this store now (see {@link serve}); 0 when none does. */
  async servingProcesses(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND classid = $1::bigint::oid AND objid = ((hashtext(current_schema())::bigint + 4294967296) % 4294967296)::oid AND objsubid = 2`,
      [LOCKS.serving],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /** Stops listening (and serving). */
  async close(): Promise<void> {
    this.closed = true;
    const client = this.listener;
    this.listener = undefined;
    await client?.end().catch(() => undefined);
  }
}
