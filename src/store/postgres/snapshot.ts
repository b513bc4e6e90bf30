import pg from "pg";
import type { StoreSnapshots } from "../open-database.ts";

/** A column as the catalog describes it. */
interface ColumnDef {
  name: string;
  type: string;
  notNull: boolean;
  default: string | null;
}

/** A table constraint: primary key (`p`), unique (`u`), foreign key (`f`), check (`c`) or exclusion (`x`). */
interface ConstraintDef {
  name: string;
  type: string;
  /** `pg_get_constraintdef()`: `PRIMARY KEY (id)`, `FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE`. */
  definition: string;
  /** Foreign keys: the referenced table (same schema). */
  references: string | null;
}

/** A table of the store's schema at snapshot time: enough to recreate it, its indexes and its rows. */
interface TableDef {
  name: string;
  columns: ColumnDef[];
  constraints: ConstraintDef[];
  /** Indexes that no constraint owns: name → `pg_get_indexdef()` (`CREATE UNIQUE INDEX … ON schema.table USING btree (…)`). */
  indexes: Map<string, string>;
  /** Columns and constraints: a table whose signature changed since is dropped and recreated. */
  signature: string;
}

interface Snapshot {
  /** Quoted name of the schema the tables were read from. */
  schema: string;
  tables: TableDef[];
  /** The temporary table (of the snapshot connection) holding every row: `(tbl text, data jsonb)`, one row per record. */
  copy: string;
  /** {@link fingerprint}s of schemas known to equal the snapshot's: at take time, and after each full restore. */
  fingerprints: Set<string>;
}

/** Kysely's own bookkeeping and the change counter of the processes on the store: never snapshotted nor restored (both only move forward). */
const EXCLUDED = ["kysely_migration", "kysely_migration_lock", "store_changes"];

function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Checkpoints of a PostgreSQL store. Taking one copies every row of every table of the store's
 * schema, as `jsonb` (`to_jsonb(row)`), into one temporary table of a dedicated connection, in a
 * REPEATABLE READ transaction (one consistent point in time); the schema (columns, constraints,
 * indexes) is read from the catalog at the same moment. (One temporary table per snapshot rather
 * than one per table: creating ~50 relations costs more than the copy itself.) The column types
 * orgbox uses (text, integers, numeric, double precision, boolean) round-trip through `jsonb` exactly. Restoring one is a single transaction on
 * that connection: tables created since, or whose columns changed, are dropped (and recreated
 * from the snapshot's definition), indexes created or dropped since (alternate keys) are brought
 * back, every table's rows are replaced (`DELETE`, children first; `INSERT … SELECT` from
 * `jsonb_populate_record`, parents first) and foreign keys are re-added. When the catalog's
 * {@link fingerprint} shows no schema change since, only the rows are replaced.
 *
 * Temporary tables live as long as the connection: the copies cost the server's temp space,
 * vanish when orgbox stops or crashes, and nothing is left in the database. When that connection
 * is lost (server restart), the snapshots taken on it are lost too: `restore` then throws.
 */
export class PostgresSnapshots implements StoreSnapshots {
  private readonly config: pg.ClientConfig;
  private client: pg.Client | undefined;
  private lost = false;
  private readonly snapshots = new Map<string, Snapshot>();
  private counter = 0;
  private queue: Promise<unknown> = Promise.resolve();

  /** @param config connection settings of the store (a connection of its own is opened on the first `take`). */
  constructor(config: pg.ClientConfig) {
    this.config = config;
  }

  /** Copies every table; returns the snapshot's handle. */
  async take(): Promise<string> {
    return this.serialized(async () => {
      const client = await this.connection();
      const handle = `s${++this.counter}`;
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
      try {
        const { schema, tables } = await readSchema(client);
        const copy = `orgbox_snapshot_${handle}`;
        await client.query(`CREATE TEMP TABLE ${q(copy)} (tbl text NOT NULL, data jsonb NOT NULL)`);
        for (const table of tables) {
          await client.query(`INSERT INTO pg_temp.${q(copy)} (tbl, data) SELECT $1, to_jsonb(r) FROM ${schema}.${q(table.name)} r`, [table.name]);
        }
        await client.query(`CREATE INDEX ON pg_temp.${q(copy)} (tbl)`);
        const print = await fingerprint(client);
        await client.query("COMMIT");
        this.snapshots.set(handle, { schema, tables, copy, fingerprints: new Set([print]) });
        return handle;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    });
  }

  /**
   * Puts the store back to the snapshot: schema and rows, in one transaction.
   * @throws Error for an unknown handle, or when the snapshot connection was lost since `take()`.
   */
  async restore(handle: string): Promise<void> {
    const snapshot = this.snapshots.get(handle);
    if (!snapshot) throw new Error(`no snapshot '${handle}'`);
    await this.serialized(async () => {
      if (this.lost || !this.client) throw new Error("the PostgreSQL connection that held the snapshots was lost (server restart?): take a new snapshot");
      const client = this.client;
      await client.query("BEGIN");
      try {
        await restoreSnapshot(client, snapshot);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    });
  }

  /** Frees a snapshot's copies. Unknown handles are ignored. */
  async drop(handle: string): Promise<void> {
    const snapshot = this.snapshots.get(handle);
    if (!snapshot) return;
    this.snapshots.delete(handle);
    await this.serialized(async () => {
      if (this.lost || !this.client) return;
      await this.client.query(`DROP TABLE IF EXISTS pg_temp.${q(snapshot.copy)}`);
    });
  }

  /** Closes the snapshot connection (its temporary tables go with it). */
  async close(): Promise<void> {
    await this.serialized(async () => {
      const client = this.client;
      this.client = undefined;
      this.snapshots.clear();
      await client?.end().catch(() => undefined);
    });
  }

  private async connection(): Promise<pg.Client> {
    if (this.client && !this.lost) return this.client;
    await this.client?.end().catch(() => undefined);
    this.snapshots.clear();
    this.lost = false;
    const client = new pg.Client({ ...this.config, application_name: "orgbox snapshots" });
    client.on("error", () => {
      this.lost = true;
    });
    await client.connect();
    this.client = client;
    return client;
  }

  /** One operation at a time on the dedicated connection. */
  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** The store's schema (`current_schema()`) and its tables. */
interface SchemaState {
  /** Quoted schema name. */
  schema: string;
  tables: TableDef[];
}

/** Tables of the current schema (creation order), their columns, constraints and free-standing indexes. */
async function readSchema(client: pg.Client): Promise<SchemaState> {
  const name = (await client.query<{ name: string | null }>("SELECT current_schema() AS name")).rows[0]?.name;
  if (!name) throw new Error("the PostgreSQL connection has no current schema (its search_path names no existing schema)");
  const tables = (
    await client.query<{ oid: number; name: string }>(
      "SELECT c.oid, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relname = ANY($1::text[]) ORDER BY c.oid",
      [EXCLUDED],
    )
  ).rows;
  const oids = tables.map((t) => t.oid);
  const columns = await client.query<{ rel: number; name: string; type: string; not_null: boolean; def: string | null }>(
    `SELECT a.attrelid AS rel, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS def
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum`,
    [oids],
  );
  const constraints = await client.query<{ rel: number; name: string; type: string; def: string; refers: string | null }>(
    `SELECT k.conrelid AS rel, k.conname AS name, k.contype AS type, pg_get_constraintdef(k.oid) AS def, f.relname AS refers
       FROM pg_constraint k LEFT JOIN pg_class f ON f.oid = k.confrelid
      WHERE k.conrelid = ANY($1::oid[]) ORDER BY k.conrelid, k.conname`,
    [oids],
  );
  const indexes = await client.query<{ rel: number; name: string; def: string }>(
    `SELECT i.indrelid AS rel, c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = ANY($1::oid[])
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
      ORDER BY c.relname`,
    [oids],
  );
  const defs = tables.map((t) => {
    const cols = columns.rows.filter((c) => c.rel === t.oid).map((c) => ({ name: c.name, type: c.type, notNull: c.not_null, default: c.def }));
    const cons = constraints.rows.filter((c) => c.rel === t.oid).map((c) => ({ name: c.name, type: c.type, definition: c.def, references: c.refers }));
    return {
      name: t.name,
      columns: cols,
      constraints: cons,
      indexes: new Map(indexes.rows.filter((i) => i.rel === t.oid).map((i) => [i.name, i.def])),
      signature: JSON.stringify([cols, cons]),
    };
  });
  return { schema: q(name), tables: defs };
}

/**
 * A cheap summary of the store schema's shape: its tables and indexes (oid, column count) and its
 * constraints (oid). Creating, dropping or recreating a table, adding a column, an index or a
 * constraint all change it. (orgbox never drops a column; a dropped column would go unnoticed.)
 */
async function fingerprint(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ print: string | null }>(
    `SELECT (SELECT string_agg(c.oid::text || ':' || c.relnatts, ',' ORDER BY c.oid) FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p', 'i'))
       || '|' || coalesce((SELECT string_agg(k.oid::text, ',' ORDER BY k.oid) FROM pg_constraint k WHERE k.connamespace = current_schema()::regnamespace), '') AS print`,
  );
  return rows[0]?.print ?? "";
}

/** Parents before children along the snapshot's foreign keys (cycles and self-references keep their order). */
function parentsFirst(tables: TableDef[]): TableDef[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const out: TableDef[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (table: TableDef) => {
    if (state.has(table.name)) return;
    state.set(table.name, "visiting");
    for (const c of table.constraints) {
      const parent = c.type === "f" && c.references !== null && c.references !== table.name ? byName.get(c.references) : undefined;
      if (parent) visit(parent);
    }
    state.set(table.name, "done");
    out.push(table);
  };
  for (const table of tables) visit(table);
  return out;
}

async function restoreSnapshot(client: pg.Client, snapshot: Snapshot): Promise<void> {
  const ordered = parentsFirst(snapshot.tables);
  if (snapshot.fingerprints.has(await fingerprint(client))) {
    await replaceRows(client, snapshot, ordered, new Set());
    return;
  }
  const { schema, tables: current } = await readSchema(client);
  if (schema !== snapshot.schema) throw new Error(`the snapshot was taken in schema ${snapshot.schema}, the store is now in ${schema}`);
  const qualified = (name: string) => `${schema}.${q(name)}`;
  const wanted = new Map(snapshot.tables.map((t) => [t.name, t]));
  const recreated = new Set<string>();
  // Tables created since the snapshot, or whose columns/constraints changed: dropped (CASCADE drops foreign keys pointing at them; re-added below).
  for (const table of current) {
    const want = wanted.get(table.name);
    if (!want || want.signature !== table.signature) {
      await client.query(`DROP TABLE IF EXISTS ${qualified(table.name)} CASCADE`);
      if (want) recreated.add(table.name);
    }
  }
  // Free-standing indexes created or changed since (alternate keys) on the tables kept.
  for (const table of current) {
    if (!wanted.has(table.name) || recreated.has(table.name)) continue;
    const want = wanted.get(table.name) as TableDef;
    for (const [name, definition] of table.indexes) {
      if (want.indexes.get(name) !== definition) await client.query(`DROP INDEX IF EXISTS ${qualified(name)}`);
    }
  }
  const present = new Set(current.map((t) => t.name));
  for (const table of ordered) {
    if (present.has(table.name) && !recreated.has(table.name)) continue;
    recreated.add(table.name);
    const parts = [
      ...table.columns.map((c) => `${q(c.name)} ${c.type}${c.default !== null ? ` DEFAULT ${c.default}` : ""}${c.notNull ? " NOT NULL" : ""}`),
      ...table.constraints.filter((c) => c.type !== "f").map((c) => `CONSTRAINT ${q(c.name)} ${c.definition}`),
    ];
    await client.query(`CREATE TABLE ${qualified(table.name)} (${parts.join(", ")})`);
  }
  await replaceRows(client, snapshot, ordered, recreated);
  // Foreign keys of recreated tables, and those that a DROP … CASCADE took from kept tables.
  const { tables: after } = await readSchema(client);
  const afterByName = new Map(after.map((t) => [t.name, t]));
  for (const table of ordered) {
    const now = afterByName.get(table.name);
    for (const c of table.constraints.filter((k) => k.type === "f")) {
      if (!now?.constraints.some((k) => k.name === c.name)) await client.query(`ALTER TABLE ${qualified(table.name)} ADD CONSTRAINT ${q(c.name)} ${c.definition}`);
    }
    for (const [name, definition] of table.indexes) {
      if (now?.indexes.get(name) !== definition) await client.query(definition);
    }
  }
  snapshot.fingerprints.add(await fingerprint(client));
}

/** Deletes every row (children first; tables just created are empty) and inserts the snapshot's (parents first). */
async function replaceRows(client: pg.Client, snapshot: Snapshot, ordered: TableDef[], created: ReadonlySet<string>): Promise<void> {
  const qualified = (name: string) => `${snapshot.schema}.${q(name)}`;
  for (const table of [...ordered].reverse()) {
    if (!created.has(table.name)) await client.query(`DELETE FROM ${qualified(table.name)}`);
  }
  for (const table of ordered) {
    // The table's columns are the snapshot's (a changed table was recreated), so its row type reads the JSON back.
    const columns = table.columns.map((c) => q(c.name));
    await client.query(
      `INSERT INTO ${qualified(table.name)} (${columns.join(", ")}) SELECT ${columns.map((c) => `r.${c}`).join(", ")} FROM pg_temp.${q(snapshot.copy)} s CROSS JOIN LATERAL jsonb_populate_record(NULL::${qualified(table.name)}, s.data) r WHERE s.tbl = $1`,
      [table.name],
    );
  }
}
