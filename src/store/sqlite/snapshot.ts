import type { DatabaseSync, StatementSync } from "node:sqlite";

/** A schema object of the main database, as `sqlite_master` lists it. */
interface SchemaObject {
  type: "table" | "index" | "trigger" | "view";
  name: string;
  tbl_name: string;
  sql: string | null;
}

/** How a table's rows are copied and tracked. */
interface TableShape {
  /** Its columns, quoted and comma-separated. */
  columns: string;
  /** A name of its rowid that no column takes; undefined for a `WITHOUT ROWID` table. */
  rowid: string | undefined;
  /** Whether inserts choose the rowid (an `INTEGER PRIMARY KEY` alias) instead of taking the largest plus one. */
  chosenRowids: boolean;
}

/** What a snapshot remembers: the schema at that moment; the rows live in the attached database. */
interface Snapshot {
  prefix: string;
  objects: SchemaObject[];
  tables: Map<string, TableShape>;
  /** Each table's largest rowid in the copy (0 when empty). */
  tops: Map<string, number>;
  /** The log position of the snapshot's state: rows written since are logged after it. */
  since: number;
  /** The schema lineage the snapshot belongs to (see {@link SqliteSnapshots}). */
  lineage: number;
}

const ATTACHED = "orgbox_snap";
/** Temp (connection-local) objects: the change log and the triggers' name prefix. */
const LOG = "orgbox_log";
const TRIGGER = "orgbox_track_";
/** The `tbl` of a log entry that marks a position (a take or a restore), not a write. */
const MARK = 0;

function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Checkpoints of an SQLite store, kept in one attached in-memory database
 * (`ATTACH DATABASE ':memory:' AS orgbox_snap`): taking one copies every table
 * with its rowids. Costs memory for the copies, not disk, also when the store
 * itself is a file.
 *
 * **Restoring is incremental when it can be.** Connection-local `TEMP` triggers
 * on every table of `main` append `(table id, rowid)` to a temp change log on
 * each update and delete (`recursive_triggers` is on, so rows that `REPLACE`
 * removes are logged too; writes of a rolled-back transaction roll back with
 * their log entries). Inserts are not logged, to keep bulk inserts cheap: an
 * insert takes the table's largest rowid plus one, and every copy row that no
 * log entry names is still in the table, so an unlogged new row's rowid is
 * above the largest such row ("low"). (Tables whose inserts choose rowids,
 * `INTEGER PRIMARY KEY`, log inserts too.) The log is append-only and its own
 * rowid is the clock: every take and restore appends a mark, and a snapshot
 * remembers its mark. Restoring snapshot S rewrites, per table, the rows logged
 * after S's mark and those above low: deletes them, then copies S's version
 * back by rowid. A table with no entry is skipped unless its largest rowid
 * grew. The restore's own writes are logged too (its inserts explicitly), after
 * every other snapshot's mark, which keeps the log right for all of them
 * (restoring an older snapshot after a newer one and back). Entries before
 * every snapshot's mark are purged (never the newest entry, so rowids keep
 * growing). `WITHOUT ROWID` tables are not tracked: every restore copies them whole.
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
  private lineage = 0;
  /** Log ids of the tables (never reused for another name). */
  private readonly tableIds = new Map<string, number>();
  /** `SELECT max(rowid)` of each table, prepared once per lineage. */
  private readonly topStatements = new Map<string, StatementSync>();
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
      const since = this.mark();
      const tops = new Map<string, number>();
      this.raw.exec("BEGIN");
      try {
        for (const [name, shape] of tables) {
          const copy = `${ATTACHED}.${q(`${handle}_${name}`)}`;
          const columns = shape.rowid ? `${shape.rowid}, ${shape.columns}` : shape.columns;
          this.raw.exec(`CREATE TABLE ${copy}(${shape.columns})`);
          this.raw.exec(`INSERT INTO ${copy}(${columns}) SELECT ${columns} FROM main.${q(name)}`);
          if (shape.rowid) tops.set(name, this.top(copy, shape.rowid));
        }
        this.raw.exec("COMMIT");
      } catch (error) {
        if (this.raw.isTransaction) this.raw.exec("ROLLBACK");
        throw error;
      }
      this.snapshots.set(handle, { prefix: `${handle}_`, objects, tables, tops, since, lineage: this.lineage });
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
      // Rows logged before this mark are the ones to restore; the restore's own writes are logged after it.
      const until = this.mark();
      const logged = snapshot.lineage === this.lineage;
      if (logged) this.restoreLogged(snapshot, until);
      else this.restoreAll(snapshot);
      this.lastRestore = logged ? "logged" : "full";
      snapshot.since = this.mark();
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

  /** Rewrites the rows changed since the snapshot's mark, logged before `until` (same lineage: same schema, every write logged). */
  private restoreLogged(snapshot: Snapshot, until: number): void {
    const logged = new Set((this.raw.prepare(`SELECT DISTINCT tbl FROM ${LOG} WHERE rowid > ? AND rowid < ?`).all(snapshot.since, until) as unknown as { tbl: number }[]).map((r) => r.tbl));
    this.transaction(() => {
      for (const [name, shape] of snapshot.tables) {
        const table = `main.${q(name)}`;
        const copy = `${ATTACHED}.${q(`${snapshot.prefix}${name}`)}`;
        const rowid = shape.rowid;
        if (!rowid) {
          this.raw.exec(`DELETE FROM ${table}`);
          this.raw.exec(`INSERT INTO ${table}(${shape.columns}) SELECT ${shape.columns} FROM ${copy}`);
          continue;
        }
        const id = this.tableId(name);
        const top = snapshot.tops.get(name) ?? 0;
        let rows: string;
        if (logged.has(id)) {
          const changed = `SELECT rid FROM ${LOG} WHERE rowid > ${snapshot.since} AND rowid < ${until} AND tbl = ${id}`;
          const low = this.raw.prepare(`SELECT ${rowid} AS r FROM ${copy} WHERE ${rowid} NOT IN (${changed}) ORDER BY ${rowid} DESC LIMIT 1`).get() as { r: number } | undefined;
          rows = `${rowid} > ${low?.r ?? 0} OR ${rowid} IN (${changed})`;
        } else {
          if (this.top(table, rowid) <= top) continue;
          rows = `${rowid} > ${top}`;
        }
        this.raw.exec(`DELETE FROM ${table} WHERE ${rows}`);
        this.raw.exec(`INSERT INTO ${table}(${rowid}, ${shape.columns}) SELECT ${rowid}, ${shape.columns} FROM ${copy} WHERE ${rows}`);
        // The inserts are not logged by a trigger: other snapshots must see them.
        if (!shape.chosenRowids) this.raw.exec(`INSERT INTO ${LOG}(tbl, rid) SELECT ${id}, ${rowid} FROM ${copy} WHERE ${rows}`);
      }
    });
  }

  /** The largest rowid of a table (0 when empty); for `main` tables through a statement prepared once per lineage. */
  private top(table: string, rowid: string): number {
    let statement = this.topStatements.get(table);
    if (!statement) {
      statement = this.raw.prepare(`SELECT coalesce(max(${rowid}), 0) AS top FROM ${table}`);
      if (table.startsWith("main.")) this.topStatements.set(table, statement);
    }
    return Number((statement.get() as { top: number | bigint }).top);
  }

  /** Brings back the snapshot's schema and replaces every table's rows; the snapshot starts a new lineage. */
  private restoreAll(snapshot: Snapshot): void {
    const current = this.schema();
    const wanted = new Map(snapshot.objects.map((o) => [`${o.type}:${o.name}`, o]));
    const present = new Map(current.map((o) => [`${o.type}:${o.name}`, o]));
    let ddl = false;
    // Untracked while every row is rewritten: no log entry per row, and DELETE without WHERE can truncate.
    for (const { name } of this.triggers()) this.raw.exec(`DROP TRIGGER temp.${q(name)}`);
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
          const columns = shape.rowid ? `${shape.rowid}, ${shape.columns}` : shape.columns;
          this.raw.exec(`DELETE FROM main.${q(name)}`);
          this.raw.exec(`INSERT INTO main.${q(name)}(${columns}) SELECT ${columns} FROM ${ATTACHED}.${q(`${snapshot.prefix}${name}`)}`);
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
      this.newLineage();
    }
    // Now exactly the snapshot's state: it alone can restore incrementally from here.
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
      // No index: writes only append, and every read is a rowid range.
      this.raw.exec(`CREATE TEMP TABLE ${LOG}(tbl INTEGER NOT NULL, rid INTEGER NOT NULL)`);
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
    this.topStatements.clear();
    const tracked = new Set<string>();
    for (const trigger of this.triggers()) {
      // A trigger whose name no longer matches its table (renamed table) logs the wrong name: replace it.
      const kind = trigger.name.slice(TRIGGER.length, TRIGGER.length + 1);
      if (trigger.name.slice(TRIGGER.length + 2) === trigger.tbl_name) tracked.add(`${kind}:${trigger.tbl_name}`);
      else this.raw.exec(`DROP TRIGGER temp.${q(trigger.name)}`);
    }
    for (const [name, { rowid, chosenRowids }] of this.shapes()) {
      if (!rowid) continue;
      const id = this.tableId(name);
      const log = (row: "NEW" | "OLD", when = "") => `INSERT INTO ${LOG}(tbl, rid) SELECT ${id}, ${row}.${rowid}${when};`;
      const create = (kind: "i" | "d" | "u", event: string, body: string) => {
        if (!tracked.has(`${kind}:${name}`)) this.raw.exec(`CREATE TEMP TRIGGER ${q(`${TRIGGER}${kind}_${name}`)} AFTER ${event} ON main.${q(name)} BEGIN ${body} END`);
      };
      if (chosenRowids) create("i", "INSERT", log("NEW"));
      create("d", "DELETE", log("OLD"));
      create("u", "UPDATE", `${log("OLD")} ${log("NEW", ` WHERE NEW.${rowid} IS NOT OLD.${rowid}`)}`);
    }
  }

  /** The change-log triggers. */
  private triggers(): { name: string; tbl_name: string }[] {
    return this.raw.prepare("SELECT name, tbl_name FROM temp.sqlite_master WHERE type = 'trigger' AND name LIKE ?").all(`${TRIGGER}%`) as unknown as { name: string; tbl_name: string }[];
  }

  /** Purges log entries that no snapshot of the current lineage needs (all but a new mark when none does). */
  private compact(): void {
    let oldest = Infinity;
    for (const snapshot of this.snapshots.values()) if (snapshot.lineage === this.lineage) oldest = Math.min(oldest, snapshot.since);
    this.raw.prepare(`DELETE FROM ${LOG} WHERE rowid < ?`).run(oldest === Infinity ? this.mark() : oldest);
  }

  /** Appends a mark to the log; returns its position. */
  private mark(): number {
    return Number(this.raw.prepare(`INSERT INTO ${LOG}(tbl, rid) VALUES (${MARK}, 0)`).run().lastInsertRowid);
  }

  /** The log id of a table name (1, 2, …; 0 is {@link MARK}). */
  private tableId(name: string): number {
    let id = this.tableIds.get(name);
    if (id === undefined) {
      id = this.tableIds.size + 1;
      this.tableIds.set(name, id);
    }
    return id;
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

  /** Every table's columns (in creation order), rowid and kind of rowid. */
  private shapes(): Map<string, TableShape> {
    const rows = this.raw
      .prepare(
        "SELECT m.name AS tbl, p.name AS col, p.type AS type, p.pk AS pk, l.wr AS wr FROM main.sqlite_master AS m JOIN pragma_table_list(m.name) AS l ON l.schema = 'main' JOIN pragma_table_info(m.name, 'main') AS p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.rowid, p.cid",
      )
      .all() as unknown as { tbl: string; col: string; type: string; pk: number; wr: number }[];
    const tables = new Map<string, typeof rows>();
    for (const row of rows) {
      const list = tables.get(row.tbl) ?? [];
      list.push(row);
      tables.set(row.tbl, list);
    }
    const shapes = new Map<string, TableShape>();
    for (const [tbl, list] of tables) {
      const names = new Set(list.map((c) => c.col.toLowerCase()));
      const rowid = list[0]?.wr ? undefined : ["rowid", "_rowid_", "oid"].find((alias) => !names.has(alias));
      if (!list[0]?.wr && !rowid) throw new Error(`table ${tbl} has columns named rowid, _rowid_ and oid: it cannot be snapshotted`);
      const keys = list.filter((c) => c.pk > 0);
      shapes.set(tbl, { columns: list.map((c) => q(c.col)).join(", "), rowid, chosenRowids: keys.length === 1 && keys[0]?.type.toUpperCase() === "INTEGER" });
    }
    return shapes;
  }
}
