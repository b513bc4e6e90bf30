/**
 * The directory queries and writes behind Graph `servicePrincipals`, `oauth2PermissionGrants` and
 * app role assignments, on every backend (SQLite and PostgreSQL): `$filter` compiled to SQL (guid,
 * case-insensitive string, boolean), keyset paging by id with `$count`, tenant scoping,
 * `accountEnabled`, grant scope updates, assignment lookups by either side, and the cascade of a
 * service principal's deletion (grants, assignments, refresh tokens).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Application } from "../../src/identity/model.ts";
import { openDatabase, type Database } from "../../src/store/database.ts";
import { SqlIdentityStore } from "../../src/store/identity-store.ts";
import { BACKENDS, type TestStoreLocation } from "../helpers/store-backends.ts";

const NOW = 1_767_225_600_123;
const TENANT = "7e570000-0000-4000-8000-00000000c001";
const OTHER = "7e570000-0000-4000-8000-00000000c002";
const id = (n: number) => `7e570000-0000-4000-8000-${String(n).padStart(12, "0")}`;

function app(n: number): Application {
  return {
    id: id(1000 + n),
    appId: id(2000 + n),
    tenantId: TENANT,
    displayName: `App ${n}`,
    signInAudience: "AzureADMultipleOrgs",
    identifierUris: [],
    web: { redirectUris: [] },
    spa: { redirectUris: [] },
    publicClient: { redirectUris: [] },
    isFallbackPublicClient: false,
    requiredResourceAccess: [],
    appRoles: [],
    api: { oauth2PermissionScopes: [], requestedAccessTokenVersion: null },
    publisherDomain: null,
    groupMembershipClaims: null,
  };
}

describe.each(BACKENDS)("Graph directory queries on $name", (backend) => {
  let place: TestStoreLocation;
  let database: Database;
  let store: SqlIdentityStore;

  beforeAll(async () => {
    place = await backend.create();
    database = await openDatabase(place.location);
    store = new SqlIdentityStore(database.db);
    await store.createTenant({ id: TENANT, displayName: "Graph store", defaultDomain: "graphstore.onmicrosoft.com", domains: ["graphstore.onmicrosoft.com"] }, NOW);
    await store.createTenant({ id: OTHER, displayName: "Other", defaultDomain: "graphother.onmicrosoft.com", domains: ["graphother.onmicrosoft.com"] }, NOW);
    for (let n = 1; n <= 5; n++) {
      await store.createApplication(app(n), NOW);
      await store.createServicePrincipal({ id: id(3000 + n), tenantId: TENANT, appId: id(2000 + n), appOwnerOrganizationId: TENANT, displayName: `App ${n}`, appRoleAssignmentRequired: false, accountEnabled: n !== 3 }, NOW + n);
    }
    await store.createServicePrincipal({ id: id(4001), tenantId: OTHER, appId: id(2001), appOwnerOrganizationId: TENANT, displayName: "App 1", appRoleAssignmentRequired: false, accountEnabled: true }, NOW);
  });
  afterAll(async () => {
    await database?.close();
    await place?.dispose();
  });

  it("service principals: filters compile to SQL per tenant, keyset pages by id with a count, accountEnabled round-trips", async () => {
    const all = await store.queryServicePrincipals(TENANT, { top: 2, count: true });
    expect(all.count).toBe(5);
    expect(all.items.map((s) => s.id)).toEqual([id(3001), id(3002)]);
    const second = await store.queryServicePrincipals(TENANT, { top: 2, count: false, ...(all.next ? { after: all.next } : {}) });
    expect(second.items.map((s) => s.id)).toEqual([id(3003), id(3004)]);
    const last = await store.queryServicePrincipals(TENANT, { top: 2, count: false, ...(second.next ? { after: second.next } : {}) });
    expect(last.items.map((s) => s.id)).toEqual([id(3005)]);
    expect(last.next).toBeUndefined();

    expect((await store.queryServicePrincipals(TENANT, { filter: { op: "eq", property: "accountEnabled", value: false }, top: 10, count: false })).items.map((s) => s.id)).toEqual([id(3003)]);
    expect((await store.queryServicePrincipals(TENANT, { filter: { op: "eq", property: "displayName", value: "app 2" }, top: 10, count: false })).items.map((s) => s.id)).toEqual([id(3002)]);
    expect((await store.queryServicePrincipals(TENANT, { filter: { op: "eq", property: "appId", value: id(2001).toUpperCase() }, top: 10, count: false })).items.map((s) => s.tenantId)).toEqual([TENANT]);
    expect((await store.queryServicePrincipals(OTHER, { filter: { op: "eq", property: "id", value: id(3001) }, top: 10, count: false })).items).toEqual([]);
    expect((await store.queryServicePrincipals(TENANT, { filter: { op: "startsWith", property: "displayName", value: "APP" }, top: 10, count: true })).count).toBe(5);

    await store.setServicePrincipalAccountEnabled(id(3003), true);
    expect((await store.findServicePrincipalById(TENANT, id(3003)))?.accountEnabled).toBe(true);
    await store.setServicePrincipalAccountEnabled(id(3003), false);
    expect((await store.findServicePrincipal(TENANT, id(2003)))?.accountEnabled).toBe(false);
  });

  it("grants: filters on clientId / resourceId / consentType / principalId, scope updates; assignments by either side, find and delete", async () => {
    await store.upsertPermissionGrant({ id: id(5001), tenantId: TENANT, clientId: id(3001), consentType: "AllPrincipals", principalId: null, resourceId: id(3002), scope: "a b" }, NOW);
    await store.upsertPermissionGrant({ id: id(5002), tenantId: TENANT, clientId: id(3001), consentType: "Principal", principalId: id(9), resourceId: id(3002), scope: "a" }, NOW);
    await store.upsertPermissionGrant({ id: id(5003), tenantId: OTHER, clientId: id(4001), consentType: "AllPrincipals", principalId: null, resourceId: id(4001), scope: "a" }, NOW);
    const q = (filter: Parameters<SqlIdentityStore["queryPermissionGrants"]>[1]["filter"]) => store.queryPermissionGrants(TENANT, { ...(filter ? { filter } : {}), top: 10, count: false }).then((p) => p.items.map((g) => g.id));
    expect(await q(undefined)).toEqual([id(5001), id(5002)]);
    expect(await q({ op: "eq", property: "consentType", value: "allprincipals" })).toEqual([id(5001)]);
    expect(await q({ op: "and", operands: [{ op: "eq", property: "clientId", value: id(3001) }, { op: "eq", property: "principalId", value: id(9) }] })).toEqual([id(5002)]);
    expect(await q({ op: "eq", property: "resourceId", value: id(4001) })).toEqual([]);
    const paged = await store.queryPermissionGrants(TENANT, { top: 1, count: true });
    expect(paged.count).toBe(2);
    expect((await store.queryPermissionGrants(TENANT, { top: 1, count: false, ...(paged.next ? { after: paged.next } : {}) })).items.map((g) => g.id)).toEqual([id(5002)]);
    expect(await store.setPermissionGrantScope(id(5001), "c")).toBe(true);
    expect((await store.findPermissionGrant(id(5001)))?.scope).toBe("c");
    expect(await store.setPermissionGrantScope(id(5999), "c")).toBe(false);

    await store.addAppRoleAssignment({ id: id(6001), tenantId: TENANT, principalId: id(3001), resourceId: id(3002), appRoleId: id(7001), principalType: "ServicePrincipal" }, NOW);
    await store.addAppRoleAssignment({ id: id(6002), tenantId: TENANT, principalId: id(9), resourceId: id(3001), appRoleId: id(0), principalType: "User" }, NOW + 1);
    await store.addAppRoleAssignment({ id: id(6003), tenantId: TENANT, principalId: id(3001), resourceId: id(3003), appRoleId: id(7001), principalType: "ServicePrincipal" }, NOW);
    const first = await store.queryAppRoleAssignments(TENANT, { principalId: id(3001) }, { top: 1, count: true });
    expect(first.items.map((a) => a.id)).toEqual([id(6001)]);
    expect(first.count).toBe(2);
    expect((await store.queryAppRoleAssignments(TENANT, { principalId: id(3001) }, { top: 1, count: false, ...(first.next ? { after: first.next } : {}) })).items.map((a) => a.id)).toEqual([id(6003)]);
    expect((await store.queryAppRoleAssignments(TENANT, { resourceId: id(3001) }, { top: 10, count: false })).items.map((a) => a.id)).toEqual([id(6002)]);
    expect((await store.queryAppRoleAssignments(OTHER, { resourceId: id(3001) }, { top: 10, count: false })).items).toEqual([]);
    expect((await store.findAppRoleAssignment(id(6002)))?.principalType).toBe("User");
    expect(await store.deleteAppRoleAssignment(id(6002))).toBe(true);
    expect(await store.deleteAppRoleAssignment(id(6002))).toBe(false);
    expect(await store.findAppRoleAssignment(id(6002))).toBeUndefined();
  });

  it("deleting a service principal removes the grants and assignments naming it and revokes its app's refresh tokens in its tenant only", async () => {
    const token = (n: number, tenantId: string) => ({ id: id(8000 + n), tokenHash: `h${n}`, tenantId, clientId: id(2001), userId: id(9), publicClient: false, scope: "a", resource: "r", amr: ["pwd"], authTime: NOW, codeId: null, familyId: id(8000 + n), spa: false, issuedAt: NOW, expiresAt: NOW + 1000, revokedAt: null });
    await store.createRefreshToken(token(1, TENANT));
    await store.createRefreshToken(token(2, OTHER));
    await store.deleteServicePrincipal(id(3001), NOW + 5);
    expect(await store.findServicePrincipalById(TENANT, id(3001))).toBeUndefined();
    expect(await store.findPermissionGrant(id(5001))).toBeUndefined();
    expect(await store.findPermissionGrant(id(5002))).toBeUndefined();
    expect(await store.findAppRoleAssignment(id(6001))).toBeUndefined();
    expect(await store.findAppRoleAssignment(id(6003))).toBeUndefined();
    expect((await store.findRefreshToken("h1"))?.revokedAt).toBe(NOW + 5);
    expect((await store.findRefreshToken("h2"))?.revokedAt).toBeNull();
    expect(await store.findServicePrincipalById(OTHER, id(4001))).toBeDefined();
    expect(await store.findPermissionGrant(id(5003))).toBeDefined();
  });
});
