import type { DatabaseSync } from "node:sqlite";

/** A schema object of the main database, as `sqlite_master` lists it. */
interface SchemaObject {
  type: "table" | "index" | "trigger" | "view";
  name: string;
  tbl_name: string;
  sql: string | null;
}

/** What a snapshot remembers: the schema at that moment; the rows live in the attached database. */
interface Snapshot {
  prefix: string;
  objects: SchemaObject[];
}

const ATTACHED = "orgbox_snap";

function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Checkpoints of an SQLite store, kept in one attached in-memory database
 * (`ATTACH DATABASE ':memory:' AS orgbox_snap`): taking one copies every table
 * (`CREATE TABLE … AS SELECT *`); restoring one is a single transaction that
 * brings the schema back (drops tables created since, recreates dropped ones and
 * their indexes) and replaces every table's rows. Costs memory for the copies,
 * not disk, also when the store itself is a file.
 *
 * The caller serializes access (see {@link SqliteSnapshots.constructor}'s `exclusive`).
 */
export class SqliteSnapshots {
  private readonly raw: DatabaseSync;
  private readonly exclusive: <T>(work: () => T) => Promise<T>;
  private readonly afterDdl: () => void;
  private readonly snapshots = new Map<string, Snapshot>();
  private attached = false;
  private counter = 0;

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
      this.attach();
      const handle = `s${++this.counter}`;
      const objects = this.schema();
      this.raw.exec("BEGIN");
      try {
        for (const object of objects) {
          if (object.type === "table") this.raw.exec(`CREATE TABLE ${ATTACHED}.${q(`${handle}_${object.name}`)} AS SELECT * FROM main.${q(object.name)}`);
        }
        this.raw.exec("COMMIT");
      } catch (error) {
        this.raw.exec("ROLLBACK");
        throw error;
      }
      this.snapshots.set(handle, { prefix: `${handle}_`, objects });
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
      const current = this.schema();
      const wanted = new Map(snapshot.objects.map((o) => [`${o.type}:${o.name}`, o]));
      const present = new Map(current.map((o) => [`${o.type}:${o.name}`, o]));
      let ddl = false;
      this.raw.exec("PRAGMA foreign_keys = OFF");
      this.raw.exec("BEGIN");
      try {
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
        for (const object of snapshot.objects) {
          if (object.type !== "table") continue;
          this.raw.exec(`DELETE FROM main.${q(object.name)}`);
          this.raw.exec(`INSERT INTO main.${q(object.name)} SELECT * FROM ${ATTACHED}.${q(`${snapshot.prefix}${object.name}`)}`);
        }
        for (const object of snapshot.objects) {
          if (object.type !== "table" && object.sql && missing(object)) {
            this.raw.exec(object.sql);
            ddl = true;
          }
        }
        this.raw.exec("COMMIT");
      } catch (error) {
        if (this.raw.isTransaction) this.raw.exec("ROLLBACK");
        throw error;
      } finally {
        this.raw.exec("PRAGMA foreign_keys = ON");
        if (ddl) this.afterDdl();
      }
    });
  }

  /** Frees a snapshot's copies. Unknown handles are ignored. */
  async drop(handle: string): Promise<void> {
    const snapshot = this.snapshots.get(handle);
    if (!snapshot) return;
    await this.exclusive(() => {
      for (const object of snapshot.objects) {
        if (object.type === "table") this.raw.exec(`DROP TABLE IF EXISTS ${ATTACHED}.${q(`${snapshot.prefix}${object.name}`)}`);
      }
      this.snapshots.delete(handle);
    });
  }

  private attach(): void {
    if (this.attached) return;
    this.raw.exec(`ATTACH DATABASE ':memory:' AS ${ATTACHED}`);
    this.attached = true;
  }

  /** Tables first (in creation order), then indexes, triggers and views; SQLite's internal objects excluded. */
  private schema(): SchemaObject[] {
    const rows = this.raw.prepare("SELECT type, name, tbl_name, sql FROM main.sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, rowid").all() as unknown as SchemaObject[];
    return rows.map((r) => ({ type: r.type, name: r.name, tbl_name: r.tbl_name, sql: r.sql }));
  }
}
