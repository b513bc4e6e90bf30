/**
 * How two processes' connections to one store tell each other about changes (`Database.changedElsewhere`,
 * `announceChange`, `serve`, `servingProcesses`, `exclusive`), on every backend: SQLite's
 * `PRAGMA data_version` moves with another connection's commit; PostgreSQL's `store_changes` counter
 * moves with another process's announcement (and NOTIFYs the serving ones), never with its own.
 */
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/store/database.ts";
import { BACKENDS, type TestStoreLocation } from "../helpers/store-backends.ts";

describe.each(BACKENDS)("change announcements between two connections ($name)", (backend) => {
  let place: TestStoreLocation;
  let one: Database;
  let two: Database;

  beforeAll(async () => {
    place = await backend.create();
    one = await openDatabase(place.location);
    two = await openDatabase(place.location);
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
    await place?.dispose();
  });

  /** A committed write of `db` that another process may cache, announced as the services do. */
  async function write(db: Database, name: string): Promise<void> {
    await db.db.insertInto("store_secrets").values({ name, value: "v" }).execute();
    await db.announceChange();
  }

  it("sees another connection's announced write once, and not its own", async () => {
    await one.changedElsewhere();
    expect(await one.changedElsewhere()).toBe(false);
    await write(two, "from-two");
    expect(await one.changedElsewhere()).toBe(true);
    expect(await one.changedElsewhere()).toBe(false);
    await write(one, "from-one");
    expect(await one.changedElsewhere()).toBe(false);
    expect(await two.changedElsewhere()).toBe(true);
  });

  it("counts the serving processes (PostgreSQL) and calls a serving one back when another announces", async () => {
    if (backend.name === "sqlite") {
      expect(await one.servingProcesses()).toBe(1);
      return;
    }
    expect(await one.servingProcesses()).toBe(0);
    let heard: () => void = () => undefined;
    const notified = new Promise<void>((resolve) => (heard = resolve));
    await one.serve(() => heard());
    expect(await two.servingProcesses()).toBe(1);
    await two.serve(() => undefined);
    expect(await one.servingProcesses()).toBe(2);
    await write(two, "notify");
    await notified;
    expect(await one.changedElsewhere()).toBe(true);
  });

  it("runs work under a store-wide lock one process at a time (PostgreSQL advisory lock; SQLite runs it)", async () => {
    if (backend.name === "sqlite") {
      expect(await two.exclusive("startup", async () => "ran")).toBe("ran");
      return;
    }
    const order: string[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered: () => void = () => undefined;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const first = one.exclusive("key-rotation", async () => {
      order.push("one in");
      entered();
      await held;
      order.push("one out");
    });
    await inside;
    const second = two.exclusive("key-rotation", async () => {
      order.push("two in");
    });
    // The second process's lock request is queued behind the first's (a real waiter, seen in pg_locks).
    for (;;) {
      const { rows } = await sqlWaiting(one);
      if (rows > 0) break;
    }
    expect(order).toEqual(["one in"]);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(["one in", "one out", "two in"]);
  });
});

/** Advisory lock requests not granted yet on the store's database. */
async function sqlWaiting(db: Database): Promise<{ rows: number }> {
  const result = await sql<{ n: number | string }>`SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`.execute(db.db);
  return { rows: Number(result.rows[0]?.n ?? 0) };
}
