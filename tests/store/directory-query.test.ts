/**
 * The directory query port behind the Graph surface (`queryApplications`, owners, credentials of a
 * page, `updateApplication`) on SQLite and PostgreSQL: filters compile to the same SQL and give the
 * same answers (case-insensitive strings, LIKE wildcards taken literally, collections through the
 * identifier-URI index), keyset paging by id and by lower-case display name both ways, counts, owners.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Application, DirectoryPage, DirectoryQuery } from "../../src/identity/index.ts";
import { openDatabase, type Database } from "../../src/store/database.ts";
import { SqlIdentityStore } from "../../src/store/identity-store.ts";
import { BACKENDS, type TestStoreLocation } from "../helpers/store-backends.ts";

const NOW = 1_767_225_600_000;
const TENANT = "7e570000-0000-4000-8000-0000000000f1";
const OTHER = "7e570000-0000-4000-8000-0000000000f2";
const USER = "7e570000-0000-4000-8000-0000000000e1";

const NAMES = ["alpha", "Bravo", "charlie", "Delta", "50%_off", "500 off", "echo"];
const id = (i: number) => `7e570000-0000-4000-8000-${String(i).padStart(12, "0")}`;

function app(i: number, tenantId: string, displayName: string): Application {
  return {
    id: id(i), appId: id(100 + i), tenantId, displayName, signInAudience: i % 2 === 0 ? "AzureADMyOrg" : "AzureADMultipleOrgs", identifierUris: [`api://App-${i}`], web: { redirectUris: [] }, spa: { redirectUris: [] },
    publicClient: { redirectUris: [] }, isFallbackPublicClient: false, requiredResourceAccess: [], appRoles: [], api: { oauth2PermissionScopes: [] }, publisherDomain: "contoso.example",
  };
}

describe.each(BACKENDS)("directory queries on $name", (backend) => {
  let place: TestStoreLocation;
  let database: Database;
  let store: SqlIdentityStore;
  const query = (q: Partial<DirectoryQuery>, tenant = TENANT): Promise<DirectoryPage<Application>> => store.queryApplications(tenant, { top: 100, count: false, ...q });
  const names = async (q: Partial<DirectoryQuery>) => (await query(q)).items.map((a) => a.displayName);

  beforeAll(async () => {
    place = await backend.create();
    database = await openDatabase(place.location);
    store = new SqlIdentityStore(database.db);
    for (const t of [TENANT, OTHER]) await store.createTenant({ id: t, displayName: t, defaultDomain: `${t}.example`, domains: [] }, NOW);
    await store.createUser({ id: USER, tenantId: TENANT, userPrincipalName: "owner@contoso.example", displayName: "Owner", givenName: null, surname: null, accountEnabled: true, directoryRoles: [], passwordChangedAt: NOW }, "x", NOW);
    for (const [i, name] of NAMES.entries()) await store.createApplication(app(i + 1, TENANT, name), NOW + i);
    await store.createApplication(app(50, OTHER, "alpha elsewhere"), NOW);
  });
  afterAll(async () => {
    await database?.close();
    await place?.dispose();
  });

  it("filters: eq/in case-insensitive, startswith with % and _ literal, ne, not, or, any over identifier URIs; the tenant always applies", async () => {
    expect(await names({ filter: { op: "eq", property: "displayName", value: "ALPHA" } })).toEqual(["alpha"]);
    expect(await names({ filter: { op: "eq", property: "appId", value: id(102).toUpperCase() } })).toEqual(["Bravo"]);
    expect(await names({ filter: { op: "in", property: "displayName", values: ["bravo", "DELTA", "zulu"] } })).toEqual(["Bravo", "Delta"]);
    expect(await names({ filter: { op: "startsWith", property: "displayName", value: "50%_" } })).toEqual(["50%_off"]);
    expect(await names({ filter: { op: "startsWith", property: "displayName", value: "50_" } })).toEqual([]);
    expect(await names({ filter: { op: "startsWith", property: "displayName", value: "50" } })).toEqual(["50%_off", "500 off"]);
    expect((await names({ filter: { op: "ne", property: "signInAudience", value: "AzureADMyOrg" } })).sort()).toEqual(["50%_off", "alpha", "charlie", "echo"]);
    expect((await names({ filter: { op: "not", operand: { op: "startsWith", property: "displayName", value: "5" } } })).sort()).toEqual(["alpha", "Bravo", "charlie", "Delta", "echo"].sort());
    expect((await names({ filter: { op: "or", operands: [{ op: "eq", property: "displayName", value: "echo" }, { op: "eq", property: "id", value: id(1) }] } })).sort()).toEqual(["alpha", "echo"]);
    expect(await names({ filter: { op: "any", property: "identifierUris", value: "API://app-3" } })).toEqual(["charlie"]);
    expect(await names({ filter: { op: "eq", property: "displayName", value: "alpha elsewhere" } })).toEqual([]);
  });

  it("keyset paging by id, and by lower-case display name ascending and descending, with counts", async () => {
    const walk = async (q: Partial<DirectoryQuery>) => {
      const out: string[] = [];
      let page = await query({ ...q, top: 2, count: true });
      expect(page.count).toBe(NAMES.length);
      out.push(...page.items.map((a) => a.displayName));
      while (page.next) {
        page = await query({ ...q, top: 2, after: page.next });
        out.push(...page.items.map((a) => a.displayName));
      }
      return out;
    };
    expect(await walk({})).toEqual(NAMES);
    const byName = [...NAMES].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
    expect(await walk({ orderBy: { property: "displayName", descending: false } })).toEqual(byName);
    expect(await walk({ orderBy: { property: "displayName", descending: true } })).toEqual([...byName].reverse());
  });

  it("owners, ownedBy, credentials of a page, updateApplication re-indexes identifier URIs, deleting the user drops the ownership", async () => {
    expect(await store.addApplicationOwner(id(2), { id: USER, type: "User" }, NOW)).toBe(true);
    expect(await store.addApplicationOwner(id(2), { id: USER, type: "User" }, NOW)).toBe(false);
    expect(await names({ ownedBy: USER })).toEqual(["Bravo"]);
    await store.addPasswordCredential({ keyId: id(900), applicationId: id(2), displayName: "s", hint: "abc", secretHash: "h", startDateTime: NOW, endDateTime: NOW + 1000 }, NOW);
    const creds = await store.listApplicationCredentials([id(1), id(2)]);
    expect(creds.passwords.map((p) => [p.applicationId, p.hint])).toEqual([[id(2), "abc"]]);
    expect(creds.passwords[0]).not.toHaveProperty("secretHash");
    const bravo = (await query({ filter: { op: "eq", property: "id", value: id(2) } })).items[0] as Application;
    await store.updateApplication({ ...bravo, displayName: "Bravo 2", identifierUris: ["api://renamed"], web: { redirectUris: ["https://x.example/cb"], implicitGrantSettings: { enableAccessTokenIssuance: false, enableIdTokenIssuance: true } } });
    expect((await store.findApplicationByIdentifierUri("api://renamed"))?.displayName).toBe("Bravo 2");
    expect(await store.findApplicationByIdentifierUri("api://app-2")).toBeUndefined();
    expect((await store.findApplicationByAppId(id(102)))?.web).toEqual({ redirectUris: ["https://x.example/cb"], implicitGrantSettings: { enableAccessTokenIssuance: false, enableIdTokenIssuance: true } });
    await store.deleteUser(USER, NOW);
    expect(await store.listApplicationOwners(id(2))).toEqual([]);
  });
});
