import { describe, expect, it } from "vitest";
import { CachedIdentityStore } from "./cached-store.ts";
import type { IdentityStore } from "./store.ts";
import type { Tenant } from "./model.ts";

/** A fake inner store: one tenant table, counting reads, with a controllable read delay. */
function fakeStore() {
  const tenants = new Map<string, Tenant>();
  const failures = new Map<string, number>();
  const state = { reads: 0, lockoutReads: 0, gate: undefined as Promise<void> | undefined };
  const inner = {
    async findTenant(id: string) {
      state.reads++;
      const found = tenants.get(id);
      const copy = found ? { ...found, domains: [...found.domains] } : undefined;
      if (state.gate) await state.gate;
      return copy;
    },
    async createTenant(tenant: Tenant) {
      tenants.set(tenant.id, tenant);
    },
    async deleteTenant(id: string) {
      tenants.delete(id);
    },
    async createRefreshToken() {},
    async setServicePrincipalAccountEnabled() {},
    async deleteServicePrincipal() {},
    async setPermissionGrantScope() {
      return true;
    },
    async deleteAppRoleAssignment() {
      return true;
    },
    async findSignInLockout(id: string) {
      state.lockoutReads++;
      return { failedSignIns: failures.get(id) ?? 0, lockedUntil: null };
    },
    async recordFailedSignIn(id: string) {
      failures.set(id, (failures.get(id) ?? 0) + 1);
      return { failedSignIns: failures.get(id) ?? 0, lockedUntil: null };
    },
    async clearFailedSignIns(id: string) {
      failures.delete(id);
    },
  };
  return { store: new CachedIdentityStore(inner as unknown as IdentityStore), inner, state, tenants };
}

const tenant = (id: string): Tenant => ({ id, displayName: id, defaultDomain: `${id}.onmicrosoft.com`, domains: [`${id}.onmicrosoft.com`] });

describe("CachedIdentityStore", () => {
  it("answers a repeated lookup from memory, negative answers included, and frozen", async () => {
    const { store, state } = fakeStore();
    expect(await store.findTenant("a")).toBeUndefined();
    expect(await store.findTenant("a")).toBeUndefined();
    expect(state.reads).toBe(1);
    await store.createTenant(tenant("a"), 0);
    const found = await store.findTenant("a");
    expect(found?.id).toBe("a");
    expect(state.reads).toBe(2);
    expect(() => (found as Tenant).domains.push("x")).toThrow(TypeError);
    expect(() => ((found as { displayName: string }).displayName = "x")).toThrow(TypeError);
  });

  it("keeps the cache on artifact writes, empties it on a directory write that may change an answer, and on invalidateCaches", async () => {
    const { store, state } = fakeStore();
    await store.createTenant(tenant("a"), 0);
    await store.findTenant("a");
    await (store as unknown as { createRefreshToken(): Promise<void> }).createRefreshToken();
    await store.findTenant("a");
    expect(state.reads).toBe(1);
    await store.deleteTenant("a");
    expect(await store.findTenant("a")).toBeUndefined();
    expect(state.reads).toBe(2);
    store.invalidateCaches();
    await store.findTenant("a");
    expect(state.reads).toBe(3);
  });

  it("empties the cache on the Graph surface's writes (service principal enabled/deleted, grant scope, assignment deleted)", async () => {
    const { store, state } = fakeStore();
    await store.createTenant(tenant("a"), 0);
    const writes: (() => Promise<unknown>)[] = [
      () => store.setServicePrincipalAccountEnabled("sp", false),
      () => store.deleteServicePrincipal("sp", 0),
      () => store.setPermissionGrantScope("g", "x"),
      () => store.deleteAppRoleAssignment("a"),
    ];
    let reads = 0;
    for (const write of writes) {
      await store.findTenant("a");
      expect(state.reads).toBe(++reads);
      await write();
    }
    await store.findTenant("a");
    expect(state.reads).toBe(reads + 1);
  });

  it("does not keep an answer read across a write (it may be stale)", async () => {
    const { store, state } = fakeStore();
    await store.createTenant(tenant("a"), 0);
    let open: () => void = () => undefined;
    state.gate = new Promise((resolve) => (open = resolve));
    const inFlight = store.findTenant("a");
    await store.deleteTenant("a");
    open();
    expect((await inFlight)?.id).toBe("a");
    state.gate = undefined;
    expect(await store.findTenant("a")).toBeUndefined();
  });

  it("never caches smart-lockout state, and its writes keep the directory cache", async () => {
    const { store, state } = fakeStore();
    await store.createTenant(tenant("a"), 0);
    await store.findTenant("a");
    expect(await store.findSignInLockout("u")).toEqual({ failedSignIns: 0, lockedUntil: null });
    await store.recordFailedSignIn("u", 10, 0);
    expect(await store.findSignInLockout("u")).toEqual({ failedSignIns: 1, lockedUntil: null });
    await store.clearFailedSignIns("u");
    expect(await store.findSignInLockout("u")).toEqual({ failedSignIns: 0, lockedUntil: null });
    expect(state.lockoutReads).toBe(3);
    await store.findTenant("a");
    expect(state.reads).toBe(1);
  });
});
