import type { IdentityStore } from "./store.ts";

/** Directory reads on the token path whose results are kept in memory until the next write. */
const CACHED: ReadonlySet<string> = new Set<keyof IdentityStore>([
  "findTenant",
  "findApplicationByAppId",
  "findApplicationByIdentifierUri",
  "findServicePrincipal",
  "listPasswordCredentials",
  "listKeyCredentials",
  "listAppRoleAssignments",
]);

/**
 * Methods that leave every {@link CACHED} read's answer unchanged: reads, and writes to
 * tables no cached read looks at (codes, tokens, sessions, users, groups, keys, replay records).
 * Any other method (including one added to {@link IdentityStore} later) is treated as a
 * write that may change a cached answer and empties the cache.
 */
const KEEPS_CACHE: ReadonlySet<string> = new Set<keyof IdentityStore>([
  "listTenants",
  "findUserByUpn",
  "findUserById",
  "listApplications",
  "findDeviceCode",
  "findAuthorizationCode",
  "findRefreshToken",
  "findSignInSession",
  "listPermissionGrants",
  "listAppRoleAssignedTo",
  "isUserAssigned",
  "findGroup",
  "listGroups",
  "listMemberGroupIds",
  "listSigningKeys",
  "listUsers",
  "listServicePrincipals",
  "listOAuth2PermissionGrants",
  "recordAssertionJti",
  "createDeviceCode",
  "transitionDeviceCode",
  "createAuthorizationCode",
  "redeemAuthorizationCode",
  "createRefreshToken",
  "rotateRefreshToken",
  "revokeRefreshTokensOfCode",
  "revokeRefreshTokenFamily",
  "findSignInLockout",
  "recordFailedSignIn",
  "clearFailedSignIns",
  "createSignInSession",
  "revokeSignInSession",
  "createUser",
  "setUserPassword",
  "setUserAccountEnabled",
  "createGroup",
  "addGroupMember",
  "removeGroupMember",
  "addSigningKey",
  "retireSigningKey",
]);

/** Freezes `value` and everything it holds (plain directory objects and arrays). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Entries kept before the cache starts over (each is one small directory object). */
const MAX_ENTRIES = 10_000;

/** An {@link IdentityStore} that remembers token-path lookups; see {@link cachingIdentityStore}. */
export type CachingIdentityStore = IdentityStore & {
  /** Forgets every cached answer: call after the database changed behind the store's back (snapshot restore). */
  invalidateCaches(): void;
};

/**
 * Wraps `inner` so the directory lookups every token request makes (tenant by id or domain,
 * app by appId or identifier URI, service principal, password and key credentials, app role
 * assignments) are answered from memory after the first time.
 *
 * Invalidation, not expiry: every write through the store that may change a cached answer
 * empties the whole cache, before it starts and again when it ends, and a read that was in
 * flight across a write does not store its (possibly stale) answer. Writes that bypass the
 * store (a snapshot restore) must call {@link CachingIdentityStore.invalidateCaches}.
 * Answers are deep-frozen and shared: a caller that tries to alter one gets a `TypeError`
 * (ES modules are strict) instead of silently changing what the next request sees.
 */
export function cachingIdentityStore(inner: IdentityStore): CachingIdentityStore {
  const entries = new Map<string, unknown>();
  let generation = 0;
  const invalidate = () => {
    generation++;
    entries.clear();
  };
  const wrappers = new Map<string, unknown>();
  return new Proxy(inner as CachingIdentityStore, {
    get(target, property, receiver) {
      if (property === "invalidateCaches") return invalidate;
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== "string" || typeof value !== "function") return value;
      const existing = wrappers.get(property);
      if (existing) return existing;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      let wrapper: (...args: unknown[]) => Promise<unknown>;
      if (CACHED.has(property)) {
        wrapper = async (...args: unknown[]) => {
          const key = `${property}\u0000${JSON.stringify(args)}`;
          if (entries.has(key)) return entries.get(key);
          const started = generation;
          const result = deepFreeze(await method.apply(target, args));
          if (started === generation) {
            if (entries.size >= MAX_ENTRIES) entries.clear();
            entries.set(key, result);
          }
          return result;
        };
      } else if (KEEPS_CACHE.has(property)) {
        wrapper = (...args: unknown[]) => method.apply(target, args);
      } else {
        wrapper = async (...args: unknown[]) => {
          invalidate();
          try {
            return await method.apply(target, args);
          } finally {
            invalidate();
          }
        };
      }
      wrappers.set(property, wrapper);
      return wrapper;
    },
  });
}
