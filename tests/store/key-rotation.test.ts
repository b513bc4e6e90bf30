/**
 * The timed signing-key rotation of several processes on one store (`keyRotationIntervalSeconds`):
 * each process's timer runs under the store-wide `key-rotation` lock, reloads the keys, and rotates only
 * when no process rotated in the last half interval, so two processes rotate once per interval, and
 * both publish the new key. Two identity services over one store stand for the two processes; the
 * timers are fake and the clock a `ManualClock` (no wall-clock waits).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../src/common/clock.ts";
import { createIdentity, type Identity } from "../../src/identity/index.ts";
import { openDatabase, type Database } from "../../src/store/database.ts";
import { SqlIdentityStore } from "../../src/store/identity-store.ts";
import { SqlOrgBindings } from "../../src/store/org-bindings.ts";

const INTERVAL = 100;

describe("timed key rotation with two processes on one store", () => {
  let database: Database;
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  /** Every run of the rotation work, in lock order (the lock: one run at a time, as `Database.exclusive`). */
  const runs: Promise<void>[] = [];
  let queue: Promise<void> = Promise.resolve();
  const nodes: Identity[] = [];

  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    database = await openDatabase({ inMemory: true, dataDir: "" });
    for (let i = 0; i < 2; i++) {
      nodes.push(
        await createIdentity({
          store: new SqlIdentityStore(database.db),
          orgs: new SqlOrgBindings(database.db),
          clock,
          baseUrl: () => "https://localhost:8443",
          resources: { appIdForIdentifier: async () => undefined },
          accessTokenLifetimeSeconds: 3599,
          keyRotationIntervalSeconds: INTERVAL,
          exclusive: (_name, work) => {
            const run = queue.then(work);
            queue = run.catch(() => undefined);
            runs.push(run);
            return run;
          },
        }),
      );
    }
  });
  afterEach(async () => {
    await Promise.all(runs);
  });
  afterAll(async () => {
    for (const node of nodes) node.close();
    vi.useRealTimers();
    await database?.close();
  });

  /** One interval passes: the clock moves and both timers fire; resolves when both runs ended. */
  async function tick(): Promise<void> {
    clock.advance(INTERVAL * 1000);
    const before = runs.length;
    vi.advanceTimersByTime(INTERVAL * 1000);
    expect(runs.length).toBe(before + 2);
    await Promise.all(runs);
  }

  it("starts with one key, shared by both", async () => {
    expect(nodes.map((n) => n.keys.jwks().length)).toEqual([1, 1]);
  });

  it("rotates once per interval, not once per process, and both publish the new key", async () => {
    await tick();
    const stored = await new SqlIdentityStore(database.db).listSigningKeys();
    expect(stored).toHaveLength(2);
    const newest = stored.reduce((a, b) => (a.createdAt >= b.createdAt ? a : b));
    for (const node of nodes) expect(node.keys.jwks().map((k) => k.kid)).toContain(newest.kid);

    await tick();
    expect(await new SqlIdentityStore(database.db).listSigningKeys()).toHaveLength(3);
  });
});
