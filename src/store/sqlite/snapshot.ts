import type { DatabaseSync } from "node:sqlite";

/** A schema object of the main database, as `sqlite_master` lists it. */
interface SchemaObject {
  type: "table" | "index" | "trigger" | "view";
  name: string;
  tbl_name: string;
  sql: string | null;
}

/** How a table's rows are copied: its columns (quoted, comma-separated) and a name of its rowid not taken by a column. */
interface TableShape {
  columns: string;
  rowid: string;
}

/** What a snapshot remembers: the schema at that moment; the rows live in the attached database. */
interface Snapshot {
  prefix: string;
  objects: SchemaObject[];
  tables: Map<string, TableShape>;
  /** Rows written since the snapshot's state are logged with an epoch ≥ this. */
  since: number;
  /** The schema lineage the snapshot belongs to (see {@link SqliteSnapshots}). */
  lineage: number;
}

const ATTACHED = "orgbox_snap";
/** Temp (connection-local) objects: the change log, the current epoch, and the triggers' name prefix. */
const LOG = "orgbox_log";
const EPOCH = "orgbox_epoch";
const TRIGGER = "orgbox_track_";

function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * Checkpoints of an SQLite store, kept in one attached in-memory database
 * (`ATTACH DATABASE ':memory:' AS orgbox_snap`): taking one copies every table
 * with its rowids. Costs memory for the copies, not disk, also when the store
 * itself is a file.
 *
 * **Restoring is incremental when it can be.** Connection-local `TEMP` triggers
 * on every table of `main` append `(table, rowid, epoch)` to a temp change log
 * on each insert, update and delete (`recursive_triggers` is on, so rows that
 * `REPLACE` removes are logged too; writes of a rolled-back transaction roll
 * back with their log entries). The epoch goes up at every take and restore.
 * Restoring snapshot S rewrites only the rows logged at an epoch ≥ S's: deletes
 * them, then copies S's version back by rowid. The restore's own writes are
 * logged too, at an epoch every other snapshot is older than, which keeps the
 * log right for all of them (restoring an older snapshot after a newer one and
 * back). Entries older than every snapshot's epoch are purged.
 *
 * **Schema changes fall back to a full copy.** The log cannot see DDL (a
 * dropped table's rows go without a trigger firing) nor writes of other
 * connections. So every operation first compares `PRAGMA schema_version` and
 * `PRAGMA data_version` with the values after the previous one: when either
 * moved, a new *lineage* starts and the snapshots of earlier lineages restore
 * the slow way, as a single transaction that brings the schema back (drops
 * tables created since, recreates dropped or altered ones and their indexes)
 * and replaces every table's rows. After that, the restored snapshot (only it)
 * is incremental again.
 *
 * The caller serializes access (see {@link SqliteSnapshots.constructor}'s `exclusive`).
 */
export class SqliteSnapshots {
  private readonly raw: DatabaseSync;
  private readonly exclusive: <T>(work: () => T) => Promise<T>;
  private readonly afterDdl: () => void;
  private readonly snapshots = new Map<string, Snapshot>();
  /** How the last restore went: `logged` (only the rows logged since the snapshot) or `full` (every table copied back). For tests and diagnostics. */
  lastRestore: "logged" | "full" | undefined;
  private ready = false;
  private counter = 0;
  /** Mirrors the single row of the temp epoch table. */
  private epoch = 0;
  private lineage = 0;
  private schemaVersion = -1;
  private dataVersion = -1;

  /**
   * @param raw the open database.
   * @param exclusive runs `work` while no other statement or transaction uses the connection.
   * @param afterDdl called after a restore changed the schema (prepared statements must go).
   */
  constructor(raw: DatabaseSync, exclusive: <T>(work: () => T) => Promise<T>, afterDdl: () => void) {
    this.raw = raw;
    this.exclusive = exclusive;
    this.afterDdl = afterDdl;
  }

  /** Copies every table; returns the snapshot's handle. */
  async take(): Promise<string> {
    return this.exclusive(() => {
      this.sync();
      const handle = `s${++this.counter}`;
      const objects = this.schema();
      const tables = this.shapes();
      this.setEpoch(this.epoch + 1);
      this.raw.exec("BEGIN");
      try {
        for (const [name, shape] of tables) {
          const copy = `${ATTACHED}.${q(`${handle}_${name}`)}`;
          this.raw.exec(`CREATE TABLE ${copy}(${shape.columns})`);
          this.raw.exec(`INSERT INTO ${copy}(${shape.rowid}, ${shape.columns}) SELECT ${shape.rowid}, ${shape.columns} FROM main.${q(name)}`);
        }
        this.raw.exec("COMMIT");
      } catch (error) {
        if (this.raw.isTransaction) this.raw.exec("ROLLBACK");
        throw error;
      }
      this.snapshots.set(handle, { prefix: `${handle}_`, objects, tables, since: this.epoch, lineage: this.lineage });
      this.compact();
      this.settle();
      return handle;
    });
  }

  /**
   * Puts the store back to the snapshot: schema and rows.
   * @throws Error for an unknown handle.
   */
  async restore(handle: string): Promise<void> {
    const snapshot = this.snapshots.get(handle);
    if (!snapshot) throw new Error(`no snapshot '${handle}'`);
    await this.exclusive(() => {
      this.sync();
      // The restore's own writes are logged at this epoch, newer than every snapshot's.
      this.setEpoch(this.epoch + 1);
      const logged = snapshot.lineage === this.lineage;
      if (logged) this.restoreLogged(snapshot);
      else this.restoreAll(snapshot);
      this.lastRestore = logged ? "logged" : "full";
      this.setEpoch(this.epoch + 1);
      snapshot.since = this.epoch;
      this.compact();
      this.settle();
    });
  }

  /** Frees a snapshot's copies. Unknown handles are ignored. */
  async drop(handle: string): Promise<void> {
    const snapshot = this.snapshots.get(handle);
    if (!snapshot) return;
    await this.exclusive(() => {
      for (const name of snapshot.tables.keys()) this.raw.exec(`DROP TABLE IF EXISTS ${ATTACHED}.${q(`${snapshot.prefix}${name}`)}`);
      this.snapshots.delete(handle);
      this.compact();
    });
  }

  /** Rewrites the rows logged since the snapshot (same lineage: same schema, every write logged). */
  private restoreLogged(snapshot: Snapshot): void {
    const touched = this.raw.prepare(`SELECT DISTINCT tbl FROM ${LOG} WHERE epoch >= ?`).all(snapshot.since) as unknown as { tbl: string }[];
    const logged = `SELECT rid FROM ${LOG} WHERE tbl = ? AND epoch >= ? AND epoch < ?`;
    this.transaction(() => {
      for (const { tbl } of touched) {
        const shape = snapshot.tables.get(tbl);
        if (!shape) continue;
        this.raw.prepare(`DELETE FROM main.${q(tbl)} WHERE ${shape.rowid} IN (${logged})`).run(tbl, snapshot.since, this.epoch);
        this.raw
          .prepare(`INSERT INTO main.${q(tbl)}(${shape.rowid}, ${shape.columns}) SELECT ${shape.rowid}, ${shape.columns} FROM ${ATTACHED}.${q(`${snapshot.prefix}${tbl}`)} WHERE ${shape.rowid} IN (${logged})`)
          .run(tbl, snapshot.since, this.epoch);
      }
    });
  }

  /** Brings back the snapshot's schema and replaces every table's rows; the snapshot starts a new lineage. */
  private restoreAll(snapshot: Snapshot): void {
    const current = this.schema();
    const wanted = new Map(snapshot.objects.map((o) => [`${o.type}:${o.name}`, o]));
    const present = new Map(current.map((o) => [`${o.type}:${o.name}`, o]));
    let ddl = false;
    try {
      this.transaction(() => {
        // Drop what the snapshot does not have, or has with another definition (tables first take their indexes along).
        const dropped = new Set<string>();
        for (const object of current.filter((o) => o.type !== "index")) {
          const want = wanted.get(`${object.type}:${object.name}`);
          if (!want || want.sql !== object.sql) {
            this.raw.exec(`DROP ${object.type.toUpperCase()} IF EXISTS main.${q(object.name)}`);
            dropped.add(`${object.type}:${object.name}`);
            ddl = true;
          }
        }
        for (const object of current.filter((o) => o.type === "index" && o.sql !== null)) {
          const want = wanted.get(`index:${object.name}`);
          if (!want || want.sql !== object.sql || dropped.has(`table:${object.tbl_name}`)) {
            this.raw.exec(`DROP INDEX IF EXISTS main.${q(object.name)}`);
            ddl = true;
          }
        }
        const missing = (o: SchemaObject) => !present.has(`${o.type}:${o.name}`) || dropped.has(`${o.type}:${o.name}`) || (o.type === "index" && (dropped.has(`table:${o.tbl_name}`) || present.get(`index:${o.name}`)?.sql !== o.sql));
        for (const object of snapshot.objects) {
          if (object.type === "table" && object.sql && missing(object)) {
            this.raw.exec(object.sql);
            ddl = true;
          }
        }
        for (const [name, shape] of snapshot.tables) {
          this.raw.exec(`DELETE FROM main.${q(name)}`);
          this.raw.exec(`INSERT INTO main.${q(name)}(${shape.rowid}, ${shape.columns}) SELECT ${shape.rowid}, ${shape.columns} FROM ${ATTACHED}.${q(`${snapshot.prefix}${name}`)}`);
        }
        for (const object of snapshot.objects) {
          if (object.type !== "table" && object.sql && missing(object)) {
            this.raw.exec(object.sql);
            ddl = true;
          }
        }
      });
    } finally {
      if (ddl) this.afterDdl();
    }
    // Now exactly the snapshot's state: it alone can restore incrementally from here.
    this.newLineage();
    snapshot.lineage = this.lineage;
  }

  /** Runs `work` in one transaction with foreign keys off (no cascades while rows are swapped). */
  private transaction(work: () => void): void {
    this.raw.exec("PRAGMA foreign_keys = OFF");
    this.raw.exec("BEGIN");
    try {
      work();
      this.raw.exec("COMMIT");
    } catch (error) {
      if (this.raw.isTransaction) this.raw.exec("ROLLBACK");
      throw error;
    } finally {
      this.raw.exec("PRAGMA foreign_keys = ON");
    }
  }

  /**
   * Called first by every operation: sets up the temp objects once, and starts a
   * new lineage when the schema changed or another connection wrote since the
   * previous operation ended (the log missed something).
   */
  private sync(): void {
    if (!this.ready) {
      // Must precede any temp object (changing it drops them); keeps the log off disk for file stores.
      this.raw.exec("PRAGMA temp_store = MEMORY");
      this.raw.exec("PRAGMA recursive_triggers = ON");
      this.raw.exec(`ATTACH DATABASE ':memory:' AS ${ATTACHED}`);
      this.raw.exec(`CREATE TEMP TABLE ${LOG}(tbl TEXT NOT NULL, rid INTEGER NOT NULL, epoch INTEGER NOT NULL)`);
      this.raw.exec(`CREATE INDEX temp.${LOG}_tbl ON ${LOG}(tbl, epoch)`);
      this.raw.exec(`CREATE INDEX temp.${LOG}_epoch ON ${LOG}(epoch)`);
      this.raw.exec(`CREATE TEMP TABLE ${EPOCH}(epoch INTEGER NOT NULL)`);
      this.raw.exec(`INSERT INTO ${EPOCH}(epoch) VALUES (0)`);
      this.ready = true;
    }
    if (this.pragma("schema_version") !== this.schemaVersion || this.pragma("data_version") !== this.dataVersion) this.newLineage();
  }

  /** Records the versions an operation leaves behind (its own DDL included). */
  private settle(): void {
    this.schemaVersion = this.pragma("schema_version");
    this.dataVersion = this.pragma("data_version");
  }

  /** Starts a new lineage: every table of `main` gets its triggers (tables created since have none). */
  private newLineage(): void {
    this.lineage = ++this.counter;
    const triggers = this.raw.prepare("SELECT name, tbl_name FROM temp.sqlite_master WHERE type = 'trigger' AND name LIKE ?").all(`${TRIGGER}%`) as unknown as { name: string; tbl_name: string }[];
    const tracked = new Set<string>();
    for (const trigger of triggers) {
      // A trigger whose name no longer matches its table (renamed table) logs the wrong name: replace it.
      const kind = trigger.name.slice(TRIGGER.length, TRIGGER.length + 1);
      if (trigger.name.slice(TRIGGER.length + 2) === trigger.tbl_name) tracked.add(`${kind}:${trigger.tbl_name}`);
      else this.raw.exec(`DROP TRIGGER temp.${q(trigger.name)}`);
    }
    for (const [name, { rowid }] of this.shapes()) {
      const log = (row: "NEW" | "OLD", when = "") => `INSERT INTO ${LOG}(tbl, rid, epoch) SELECT ${literal(name)}, ${row}.${rowid}, epoch FROM ${EPOCH}${when};`;
      const create = (kind: "i" | "d" | "u", event: string, body: string) => {
        if (!tracked.has(`${kind}:${name}`)) this.raw.exec(`CREATE TEMP TRIGGER ${q(`${TRIGGER}${kind}_${name}`)} AFTER ${event} ON main.${q(name)} BEGIN ${body} END`);
      };
      create("i", "INSERT", log("NEW"));
      create("d", "DELETE", log("OLD"));
      create("u", "UPDATE", `${log("OLD")} ${log("NEW", ` WHERE NEW.${rowid} IS NOT OLD.${rowid}`)}`);
    }
  }

  /** Purges log entries that no snapshot of the current lineage needs. */
  private compact(): void {
    let oldest = Infinity;
    for (const snapshot of this.snapshots.values()) if (snapshot.lineage === this.lineage) oldest = Math.min(oldest, snapshot.since);
    if (oldest === Infinity) this.raw.exec(`DELETE FROM ${LOG}`);
    else this.raw.prepare(`DELETE FROM ${LOG} WHERE epoch < ?`).run(oldest);
  }

  private setEpoch(epoch: number): void {
    this.raw.prepare(`UPDATE ${EPOCH} SET epoch = ?`).run(epoch);
    this.epoch = epoch;
  }

  private pragma(name: "schema_version" | "data_version"): number {
    const row = this.raw.prepare(`PRAGMA main.${name}`).get() as Record<string, number>;
    return Number(row[name]);
  }

  /** Tables first (in creation order), then indexes, triggers and views; SQLite's internal objects excluded. */
  private schema(): SchemaObject[] {
    const rows = this.raw.prepare("SELECT type, name, tbl_name, sql FROM main.sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, rowid").all() as unknown as SchemaObject[];
    return rows.map((r) => ({ type: r.type, name: r.name, tbl_name: r.tbl_name, sql: r.sql }));
  }

  /** Every table's columns, in creation order. */
  private shapes(): Map<string, TableShape> {
    const rows = this.raw
      .prepare("SELECT m.name AS tbl, p.name AS col FROM main.sqlite_master AS m JOIN pragma_table_info(m.name, 'main') AS p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.rowid, p.cid")
      .all() as unknown as { tbl: string; col: string }[];
    const columns = new Map<string, string[]>();
    for (const { tbl, col } of rows) {
      const list = columns.get(tbl) ?? [];
      list.push(col);
      columns.set(tbl, list);
    }
    const shapes = new Map<string, TableShape>();
    for (const [tbl, list] of columns) {
      const lower = new Set(list.map((c) => c.toLowerCase()));
      const rowid = ["rowid", "_rowid_", "oid"].find((alias) => !lower.has(alias));
      if (!rowid) throw new Error(`table ${tbl} has columns named rowid, _rowid_ and oid: it cannot be snapshotted`);
      shapes.set(tbl, { columns: list.map(q).join(", "), rowid });
    }
    return shapes;
  }
}
