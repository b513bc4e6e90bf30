import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteSnapshots } from "./snapshot.ts";

/** Everything a restore must bring back: the schema of `main` and every table's rows with their rowids. */
function dump(db: DatabaseSync): string {
  const objects = db.prepare("SELECT type, name, sql FROM main.sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as { type: string; name: string; sql: string | null }[];
  const withoutRowid = new Set((db.prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND wr = 1").all() as { name: string }[]).map((t) => t.name));
  const rows = objects.filter((o) => o.type === "table").map((o) => [o.name, db.prepare(withoutRowid.has(o.name) ? `SELECT * FROM main."${o.name}" ORDER BY 1` : `SELECT _rowid_ AS orgbox_rowid, * FROM main."${o.name}" ORDER BY _rowid_`).all()]);
  return JSON.stringify({ objects, rows });
}

function open(location = ":memory:"): { db: DatabaseSync; snapshots: SqliteSnapshots; ddl: { count: number } } {
  const db = new DatabaseSync(location);
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("CREATE TABLE parent(k TEXT PRIMARY KEY, v TEXT UNIQUE, n INTEGER)");
  db.exec("CREATE TABLE child(id INTEGER PRIMARY KEY, parent TEXT REFERENCES parent(k) ON DELETE CASCADE, note TEXT)");
  db.exec("CREATE INDEX child_parent ON child(parent)");
  db.exec("CREATE TABLE setting(name TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID");
  const ddl = { count: 0 };
  const snapshots = new SqliteSnapshots(db, async (work) => work(), () => ddl.count++);
  return { db, snapshots, ddl };
}

/** A small deterministic PRNG (mulberry32): the same operations on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const opened: DatabaseSync[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) if (db.isOpen) db.close();
});

describe("SqliteSnapshots", () => {
  it("restores only the logged rows when no DDL happened, and every kind of row write is undone", async () => {
    const { db, snapshots } = open();
    opened.push(db);
    for (let i = 0; i < 50; i++) db.prepare("INSERT INTO parent VALUES (?, ?, ?)").run(`p${i}`, `v${i}`, i);
    for (let i = 0; i < 50; i++) db.prepare("INSERT INTO child(parent, note) VALUES (?, ?)").run(`p${i % 10}`, `n${i}`);
    const handle = await snapshots.take();
    const before = dump(db);

    db.exec("UPDATE parent SET n = n + 100 WHERE n < 20");
    db.exec("DELETE FROM parent WHERE k = 'p3'"); // cascades to child rows
    db.exec("INSERT OR REPLACE INTO parent VALUES ('new', 'v5', 0)"); // REPLACE removes p5 (unique v)
    db.exec("INSERT INTO parent VALUES ('p7', 'x', 1) ON CONFLICT(k) DO UPDATE SET n = -1");
    db.exec("UPDATE child SET id = id + 1000 WHERE id = 1"); // a rowid that moves
    db.exec("BEGIN; INSERT INTO parent VALUES ('rolled-back', 'rb', 0); ROLLBACK");
    db.exec("INSERT INTO setting VALUES ('theme', 'dark')"); // WITHOUT ROWID: copied whole
    db.exec("BEGIN; SAVEPOINT a; DELETE FROM child; ROLLBACK TO a; RELEASE a; COMMIT");
    expect(dump(db)).not.toBe(before);

    await snapshots.restore(handle);
    expect(snapshots.lastRestore).toBe("logged");
    expect(dump(db)).toBe(before);
    await snapshots.restore(handle);
    expect(snapshots.lastRestore).toBe("logged");
    expect(dump(db)).toBe(before);
  });

  it("finds the rows no trigger logged: new rowids in holes, rows a restore put back, rows REPLACE removed, rowids moved down", async () => {
    const { db, snapshots } = open();
    opened.push(db);
    for (let i = 1; i <= 5; i++) db.prepare("INSERT INTO parent VALUES (?, ?, ?)").run(`p${i}`, `v${i}`, i);
    db.exec("DELETE FROM parent WHERE k IN ('p2', 'p3', 'p4')");
    db.exec("INSERT INTO child(id, parent, note) VALUES (1, 'p1', 'one'), (5, 'p1', 'five'), (9, 'p1', 'nine')");
    const s = await snapshots.take();
    const atS = dump(db);

    // Inserts are not logged; with p5 (the largest rowid) deleted they land in the holes below it.
    db.exec("DELETE FROM parent WHERE k = 'p5'; INSERT INTO parent VALUES ('x', NULL, 0), ('y', NULL, 0)");
    await snapshots.restore(s);
    expect(dump(db)).toBe(atS);

    // REPLACE removes an untouched row (unique v) without a DELETE statement.
    db.exec("INSERT OR REPLACE INTO parent VALUES ('z', 'v1', 0)");
    await snapshots.restore(s);
    expect(dump(db)).toBe(atS);

    // A rowid moved down into a hole, below an untouched row.
    db.exec("UPDATE child SET id = 3 WHERE id = 5");
    await snapshots.restore(s);
    expect(dump(db)).toBe(atS);

    // A row the restore of S puts back is not in T: restoring T must remove it again.
    db.exec("DELETE FROM parent WHERE k = 'p1'");
    const t = await snapshots.take();
    const atT = dump(db);
    await snapshots.restore(s);
    expect(dump(db)).toBe(atS);
    await snapshots.restore(t);
    expect(dump(db)).toBe(atT);
    expect(snapshots.lastRestore).toBe("logged");
  });

  it("undoes tables created, columns added and tables dropped since the snapshot, then logs again", async () => {
    const { db, snapshots, ddl } = open();
    opened.push(db);
    db.exec("INSERT INTO parent VALUES ('a', 'va', 1), ('b', 'vb', 2)");
    const handle = await snapshots.take();
    const before = dump(db);

    db.exec("CREATE TABLE custom(id TEXT PRIMARY KEY, name TEXT)");
    db.exec("INSERT INTO custom VALUES ('c1', 'one')");
    db.exec("ALTER TABLE parent ADD COLUMN extra TEXT");
    db.exec("UPDATE parent SET extra = 'x'");
    db.exec("DROP TABLE child");
    await snapshots.restore(handle);
    expect(snapshots.lastRestore).toBe("full");
    expect(ddl.count).toBe(1);
    expect(dump(db)).toBe(before);

    // The same names can be created again, and the snapshot is back on the logged path.
    db.exec("CREATE TABLE custom(id TEXT PRIMARY KEY, name TEXT)");
    db.exec("ALTER TABLE parent ADD COLUMN extra TEXT");
    await snapshots.restore(handle);
    expect(dump(db)).toBe(before);
    db.exec("INSERT INTO child(parent, note) VALUES ('a', 'later')");
    await snapshots.restore(handle);
    expect(snapshots.lastRestore).toBe("logged");
    expect(dump(db)).toBe(before);

    // A table dropped and created again with the same definition: no trigger saw its rows go.
    db.exec("INSERT INTO child(parent, note) VALUES ('b', 'kept')");
    const withChild = await snapshots.take();
    const childState = dump(db);
    db.exec("DROP TABLE child");
    db.exec("CREATE TABLE child(id INTEGER PRIMARY KEY, parent TEXT REFERENCES parent(k) ON DELETE CASCADE, note TEXT)");
    db.exec("CREATE INDEX child_parent ON child(parent)");
    await snapshots.restore(withChild);
    expect(snapshots.lastRestore).toBe("full");
    expect(dump(db)).toBe(childState);
  });

  it("keeps named snapshots right when restored in any order, twice, and after one another", async () => {
    const { db, snapshots } = open();
    opened.push(db);
    const base = await snapshots.take();
    const s0 = dump(db);
    db.exec("INSERT INTO parent VALUES ('a', 'va', 1)");
    const one = await snapshots.take();
    const s1 = dump(db);
    db.exec("UPDATE parent SET n = 2; INSERT INTO parent VALUES ('b', 'vb', 1)");
    const two = await snapshots.take();
    const s2 = dump(db);
    db.exec("DELETE FROM parent WHERE k = 'a'; INSERT INTO child(parent, note) VALUES ('b', 'c')");

    for (const [handle, state] of [[one, s1], [two, s2], [one, s1], [one, s1], [base, s0], [two, s2], [base, s0]] as const) {
      await snapshots.restore(handle);
      expect(snapshots.lastRestore).toBe("logged");
      expect(dump(db)).toBe(state);
      db.exec(`INSERT INTO parent VALUES ('w${handle}', NULL, 0)`);
    }
    await snapshots.drop(one);
    await snapshots.restore(two);
    expect(dump(db)).toBe(s2);
    await expect(snapshots.restore(one)).rejects.toThrow(/no snapshot/);
  });

  it("falls back to a full copy when another connection wrote to the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "orgbox-snapshot-"));
    try {
      const { db, snapshots } = open(join(dir, "store.sqlite"));
      opened.push(db);
      db.exec("INSERT INTO parent VALUES ('a', 'va', 1)");
      const handle = await snapshots.take();
      const before = dump(db);
      const other = new DatabaseSync(join(dir, "store.sqlite"));
      opened.push(other);
      other.exec("INSERT INTO parent VALUES ('elsewhere', 've', 1)");
      other.close();
      await snapshots.restore(handle);
      expect(snapshots.lastRestore).toBe("full");
      expect(dump(db)).toBe(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([20240601, 7, 99])("matches the state of every snapshot after 1,000 random writes, DDL, rollbacks, takes and restores (seed %i)", async (seed) => {
    const { db, snapshots } = open();
    opened.push(db);
    const next = random(seed);
    const pick = <T>(list: readonly T[]): T | undefined => list[Math.floor(next() * list.length)];
    const taken = new Map<string, string>();
    const kinds = { logged: 0, full: 0 };
    let custom = 0;
    let serial = 0;
    const parentKey = () => (db.prepare("SELECT k FROM parent ORDER BY random() LIMIT 1").get() as { k: string } | undefined)?.k ?? null;
    const writes: (() => void)[] = [
      () => db.prepare("INSERT INTO parent(k, v, n) VALUES (?, ?, ?)").run(`k${++serial}`, next() < 0.5 ? `v${serial % 40}` : null, serial),
      () => db.prepare("INSERT OR REPLACE INTO parent(k, v, n) VALUES (?, ?, ?)").run(`r${++serial}`, `v${serial % 40}`, serial),
      () => db.prepare("INSERT INTO child(parent, note) VALUES (?, ?)").run(parentKey(), `n${++serial}`),
      // INTEGER PRIMARY KEY: an insert can choose a rowid below the largest (a hole).
      () => db.prepare("INSERT OR IGNORE INTO child(id, parent, note) VALUES (?, ?, ?)").run(Math.floor(next() * 40), parentKey(), `h${++serial}`),
      () => db.prepare("UPDATE parent SET n = n + 1 WHERE k = ?").run(parentKey()),
      () => db.prepare("UPDATE child SET id = ? WHERE id = (SELECT max(id) FROM child)").run(100_000 + ++serial),
      () => db.prepare("DELETE FROM parent WHERE k = ?").run(parentKey()),
      () => db.prepare("DELETE FROM child WHERE id % 7 = ?").run(serial % 7),
      () => db.prepare("INSERT INTO setting VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value").run(`s${serial % 5}`, `v${++serial}`),
      () => db.prepare("DELETE FROM setting WHERE name = ?").run(`s${serial % 5}`),
      () => db.exec(`BEGIN; INSERT INTO parent(k, v, n) VALUES ('tx${++serial}', NULL, 0); DELETE FROM child; ROLLBACK`),
    ];
    const ddl: (() => void)[] = [
      () => db.exec(`CREATE TABLE custom${++custom}(id TEXT PRIMARY KEY, name TEXT); INSERT INTO custom${custom} VALUES ('x', 'y')`),
      () => db.exec(`ALTER TABLE parent ADD COLUMN extra${++serial} TEXT`),
      () => {
        const table = (db.prepare("SELECT name FROM main.sqlite_master WHERE type = 'table' AND name LIKE 'custom%' LIMIT 1").get() as { name: string } | undefined)?.name;
        if (table) db.exec(`DROP TABLE ${table}`);
      },
    ];
    for (let step = 0; step < 1000; step++) {
      const roll = next();
      if (roll < 0.7) {
        // A write refused by a constraint is rolled back with whatever its triggers logged.
        try {
          pick(writes)?.();
        } catch (error) {
          expect(String(error)).toMatch(/constraint failed/);
          if (db.isTransaction) db.exec("ROLLBACK");
        }
      }
      else if (roll < 0.715) pick(ddl)?.();
      else if (roll < 0.82) {
        const handle = await snapshots.take();
        taken.set(handle, dump(db));
      } else if (roll < 0.98) {
        const handle = pick([...taken.keys()]);
        if (!handle) continue;
        await snapshots.restore(handle);
        kinds[snapshots.lastRestore as "logged" | "full"]++;
        expect(dump(db), `restore of ${handle} at step ${step}`).toBe(taken.get(handle));
      } else if (taken.size > 1) {
        const handle = pick([...taken.keys()]) as string;
        await snapshots.drop(handle);
        taken.delete(handle);
      }
    }
    expect(kinds.logged).toBeGreaterThan(10);
    expect(kinds.full).toBeGreaterThan(3);
  });
});
