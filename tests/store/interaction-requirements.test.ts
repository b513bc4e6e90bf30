/**
 * The "require MFA" switches (migration 015) and the sessions' `mfa_at` on every store backend:
 * set, re-set (moves `since`), find by several subjects, clear; a session round-trips its MFA time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/store/database.ts";
import { SqlIdentityStore } from "../../src/store/identity-store.ts";
import { BACKENDS, type TestStoreLocation } from "../helpers/store-backends.ts";

const NOW = 1_767_225_600_123;
const TENANT = "7e570000-0000-4000-8000-000000000001";
const USER = "7e570000-0000-4000-8000-0000000000b1";
const SP = "7e570000-0000-4000-8000-0000000000c1";

describe.each(BACKENDS)("interaction requirements ($name)", (backend) => {
  let place: TestStoreLocation;
  let database: Database;
  let store: SqlIdentityStore;
  beforeAll(async () => {
    place = await backend.create();
    database = await openDatabase(place.location);
    store = new SqlIdentityStore(database.db);
  });
  afterAll(async () => {
    await database?.close();
    await place?.dispose();
  });

  it("sets, re-sets, finds and clears requirements; sessions keep their MFA time", async () => {
    await store.requireInteraction({ tenantId: TENANT, subjectType: "user", subjectId: USER.toUpperCase(), kind: "mfa", since: NOW });
    await store.requireInteraction({ tenantId: TENANT, subjectType: "servicePrincipal", subjectId: SP, kind: "mfaRegistration", since: NOW + 1 });
    await store.requireInteraction({ tenantId: TENANT, subjectType: "user", subjectId: USER, kind: "mfa", since: NOW + 5 });
    const found = await store.findInteractionRequirements([USER, SP, "7e570000-0000-4000-8000-0000000000d1"]);
    expect(found.sort((a, b) => a.since - b.since)).toEqual([
      { tenantId: TENANT, subjectType: "servicePrincipal", subjectId: SP, kind: "mfaRegistration", since: NOW + 1 },
      { tenantId: TENANT, subjectType: "user", subjectId: USER, kind: "mfa", since: NOW + 5 },
    ]);
    expect(await store.findInteractionRequirements([])).toEqual([]);
    expect(await store.clearInteractionRequirement(USER, "mfa")).toBe(true);
    expect(await store.clearInteractionRequirement(USER, "mfa")).toBe(false);
    expect(await store.findInteractionRequirements([USER])).toEqual([]);

    await store.createSignInSession({ id: "7e570000-0000-4000-8000-0000000000e1", tokenHash: "h1", tenantId: TENANT, userId: USER, authTime: NOW, expiresAt: NOW + 1000, revokedAt: null, mfaAt: NOW });
    await store.createSignInSession({ id: "7e570000-0000-4000-8000-0000000000e2", tokenHash: "h2", tenantId: TENANT, userId: USER, authTime: NOW, expiresAt: NOW + 1000, revokedAt: null });
    expect((await store.findSignInSession("h1"))?.mfaAt).toBe(NOW);
    expect((await store.findSignInSession("h2"))?.mfaAt).toBeNull();
  });
});
