/**
 * The Graph surface's directory queries on every backend (embedded SQLite and PostgreSQL): users and
 * groups filtered, sorted and keyset-paged in SQL (case-insensitive strings, booleans, `in`,
 * `startsWith`), group membership and directory-role predicates, counts, and the profile writes
 * (`updateUser`, `setTokensValidFrom`, `updateGroup`, `deleteGroup`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { User } from "../../src/identity/model.ts";
import type { DirectoryQuery } from "../../src/identity/store.ts";
import { openDatabase, type Database } from "../../src/store/database.ts";
import { SqlIdentityStore } from "../../src/store/identity-store.ts";
import { BACKENDS, type TestStoreLocation } from "../helpers/store-backends.ts";

const NOW = 1_767_225_600_123;
const TENANT = "7e570000-0000-4000-8000-0000000000d1";
const OTHER = "7e570000-0000-4000-8000-0000000000d2";
const GA = "62e90394-69f5-4237-9190-012177145e10";
const PRA = "e8611ab8-c189-46e8-94e1-60213ab1f814";
const id = (n: number) => `7e570000-0000-4000-8000-${String(n).padStart(12, "0")}`;

describe.each(BACKENDS)("directory queries on $name", (backend) => {
  let place: TestStoreLocation;
  let database: Database;
  let store: SqlIdentityStore;
  const names = ["bravo", "Alpha", "charlie", "alpha", "Delta", "echo_1", "echo%2"];

  beforeAll(async () => {
    place = await backend.create();
    database = await openDatabase(place.location);
    store = new SqlIdentityStore(database.db);
    await store.createTenant({ id: TENANT, displayName: "Q", defaultDomain: "q.onmicrosoft.com", domains: [] }, NOW);
    await store.createTenant({ id: OTHER, displayName: "Other", defaultDomain: "other-q.onmicrosoft.com", domains: [] }, NOW);
    for (let i = 0; i < names.length; i++) {
      const user: User = { id: id(i + 1), tenantId: TENANT, userPrincipalName: `u${i}@q.onmicrosoft.com`, displayName: names[i] as string, givenName: null, surname: null, accountEnabled: i % 2 === 0, directoryRoles: i === 0 ? [GA] : i === 2 ? [GA, PRA] : [], passwordChangedAt: NOW, ...(i === 1 ? { mailNickname: "alpha1" } : {}) };
      await store.createUser(user, "hash", NOW);
    }
    await store.createUser({ id: id(99), tenantId: OTHER, userPrincipalName: "x@other-q.onmicrosoft.com", displayName: "Alpha", givenName: null, surname: null, accountEnabled: true, directoryRoles: [GA], passwordChangedAt: NOW }, "hash", NOW);
    await store.createGroup({ id: id(201), tenantId: TENANT, displayName: "Zulu", members: [id(1), id(2)], mailNickname: "zulu" }, NOW);
    await store.createGroup({ id: id(202), tenantId: TENANT, displayName: "yankee", members: [id(2)] }, NOW);
  });
  afterAll(async () => {
    await database?.close();
    await place?.dispose();
  });

  const users = async (query: Partial<DirectoryQuery>) => (await store.queryUsers(TENANT, { top: 100, count: false, ...query })).items.map((u) => u.displayName);

  it("filters users in SQL: case-insensitive eq, startsWith with LIKE metacharacters literal, in, booleans, tenant scope", async () => {
    expect((await users({ filter: { op: "eq", property: "displayName", value: "ALPHA" } })).sort()).toEqual(["Alpha", "alpha"]);
    expect(await users({ filter: { op: "startsWith", property: "displayName", value: "echo%" } })).toEqual(["echo%2"]);
    expect(await users({ filter: { op: "startsWith", property: "displayName", value: "echo_" } })).toEqual(["echo_1"]);
    expect((await users({ filter: { op: "in", property: "userPrincipalName", values: ["U0@Q.onmicrosoft.com", "u2@q.onmicrosoft.com"] } })).sort()).toEqual(["bravo", "charlie"]);
    expect((await users({ filter: { op: "eq", property: "accountEnabled", value: false } })).sort()).toEqual(["Alpha", "alpha", "echo_1"]);
    expect(await users({ filter: { op: "eq", property: "mailNickname", value: "ALPHA1" } })).toEqual(["Alpha"]);
    expect(await users({ filter: { op: "eq", property: "id", value: id(99) } })).toEqual([]);
  });

  it("pages users by lower(displayName) then id, both directions, every user once; counts ignore paging", async () => {
    for (const descending of [false, true]) {
      const seen: string[] = [];
      let after: DirectoryQuery["after"];
      for (;;) {
        const page = await store.queryUsers(TENANT, { top: 2, count: true, orderBy: { property: "displayName", descending }, ...(after ? { after } : {}) });
        expect(page.count).toBe(names.length);
        seen.push(...page.items.map((u) => u.id));
        if (!page.next) break;
        after = page.next;
      }
      expect(seen).toHaveLength(names.length);
      expect(new Set(seen).size).toBe(names.length);
      const order = (await users({ orderBy: { property: "displayName", descending } })).map((n) => n.toLowerCase());
      expect(order).toEqual([...order].sort((a, b) => (descending ? (a < b ? 1 : -1) : a < b ? -1 : 1)));
    }
  });

  it("group membership and directory roles as predicates; groups filtered, sorted and limited to a user's", async () => {
    expect((await users({ memberOf: id(201) })).sort()).toEqual(["Alpha", "bravo"]);
    expect((await users({ directoryRole: "*" })).sort()).toEqual(["bravo", "charlie"]);
    expect(await users({ directoryRole: PRA })).toEqual(["charlie"]);
    const groups = await store.queryGroups(TENANT, { top: 10, count: true, orderBy: { property: "displayName", descending: false } });
    expect(groups.items.map((g) => [g.displayName, g.mailNickname ?? null])).toEqual([["yankee", null], ["Zulu", "zulu"]]);
    expect(groups.count).toBe(2);
    expect((await store.queryGroups(TENANT, { top: 10, count: false, hasMember: id(1) })).items.map((g) => g.id)).toEqual([id(201)]);
    expect((await store.queryGroups(OTHER, { top: 10, count: false })).items).toEqual([]);
  });

  it("writes profiles, roles, TokensValidFrom; renames and deletes groups with their memberships", async () => {
    const user = (await store.findUserById(id(4))) as User;
    await store.updateUser({ ...user, displayName: "Renamed", givenName: "G", surname: "S", accountEnabled: true, mailNickname: "renamed", directoryRoles: [PRA] });
    expect(await store.findUserById(id(4))).toEqual({ ...user, displayName: "Renamed", givenName: "G", surname: "S", accountEnabled: true, mailNickname: "renamed", directoryRoles: [PRA] });
    await store.setTokensValidFrom(id(4), NOW + 5_000);
    expect((await store.findUserById(id(4)))?.passwordChangedAt).toBe(NOW + 5_000);
    await store.updateGroup({ id: id(202), tenantId: TENANT, displayName: "Yankee 2", mailNickname: "y2" });
    expect((await store.findGroup(TENANT, id(202)))?.displayName).toBe("Yankee 2");
    await store.deleteGroup(id(201));
    expect(await store.findGroup(TENANT, id(201))).toBeUndefined();
    expect(await store.listMemberGroupIds(id(1))).toEqual([]);
  });
});
