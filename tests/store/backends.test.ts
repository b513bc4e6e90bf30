/**
 * The store on every backend (embedded SQLite and PostgreSQL): migrations, identity round trips,
 * Dataverse record tables (types, filters, ordering, paging, aggregates, alternate keys),
 * transactions and snapshots. The same assertions must hold on each: what differs between the
 * engines (booleans, bigint/numeric parsing, NULL ordering, identifier length) is the store's job.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "kysely";
import { attr, table } from "../../src/dataverse/metadata/standard.ts";
import type { EntityMetadata } from "../../src/dataverse/metadata/types.ts";
import type { Org, Row } from "../../src/dataverse/model.ts";
import { serializeRow } from "../../src/dataverse/odata/serializer.ts";
import type { DataverseStore, Expr, RecordQuery } from "../../src/dataverse/store.ts";
import { openDatabase, type Database } from "../../src/store/database.ts";
import { SqlDataverseStore } from "../../src/store/dataverse-store.ts";
import { SqlIdentityStore } from "../../src/store/identity-store.ts";
import { SqlOrgBindings } from "../../src/store/org-bindings.ts";
import { BACKENDS, type TestStoreLocation } from "../helpers/store-backends.ts";

const NOW = 1_767_225_600_123; // 2026-01-01T00:00:00.123Z: a millisecond time beyond 32 bits (bigint columns)
const TENANT = "7e570000-0000-4000-8000-000000000001";

const org: Org = { id: "7e570000-0000-4000-8000-0000000000a1", name: "storetest", tenantId: TENANT, displayName: "Store test", tablePrefix: "dv1_" };

/** A custom table with one column of each interesting type; a long logical name (index names past 63 bytes). */
const gadget: EntityMetadata = {
  ...table({
    logicalName: "new_gadget_with_a_rather_long_logical_name_xy",
    entitySetName: "new_gadgets",
    displayName: "Gadget",
    displayCollectionName: "Gadgets",
    primaryNameAttribute: "new_name",
    ownershipType: "OrganizationOwned",
    objectTypeCode: 10_001,
    columns: [
      attr("new_name", "String", "Name", { maxLength: 100 }),
      attr("new_flag", "Boolean", "Flag", { options: [{ value: 0, label: "No" }, { value: 1, label: "Yes" }] }),
      attr("new_amount", "Decimal", "Amount", { precision: 2 }),
      attr("new_price", "Money", "Price", { precision: 2 }),
      attr("new_big", "BigInt", "Big"),
      attr("new_qty", "Integer", "Quantity"),
      attr("new_score", "Double", "Score"),
      attr("new_mask", "Integer", "Mask"),
      attr("new_category", "Picklist", "Category", { options: [{ value: 1, label: "A" }, { value: 2, label: "B" }] }),
      attr("new_code_for_the_first_alternate_key_abcdefghij", "String", "Code 1", { maxLength: 50 }),
      attr("new_code_for_the_second_alternate_key_abcdefghi", "String", "Code 2", { maxLength: 50 }),
    ],
  }),
  isCustomEntity: true,
};
const KEY1 = { logicalName: "new_alternate_key_number_one_with_a_long_name_abc", keyAttributes: ["new_code_for_the_first_alternate_key_abcdefghij"] };
const KEY2 = { logicalName: "new_alternate_key_number_one_with_a_long_name_xyz", keyAttributes: ["new_code_for_the_second_alternate_key_abcdefghi"] };

const id = (n: number) => `7e570000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const column = (name: string) => ({ kind: "column" as const, name });
const value = (v: string | number | boolean | null) => ({ kind: "value" as const, value: v });
const eq = (name: string, v: string | number | boolean | null, caseInsensitive = false): Expr => ({ kind: "compare", op: "eq", left: column(name), right: value(v), caseInsensitive });

/** name, flag, amount, big, qty, score, mask, category */
const ROWS: [string, boolean | null, number | null, number | string, number, number, number, number][] = [
  ["Alpha", true, 12.5, 9_007_199_254_740_991, 3, 0.1, 1, 1],
  ["beta", false, null, 5, 1, 2.25, 2, 1],
  ["Gamma", true, 0.25, "-9007199254740991", 2, -1.5, 3, 2],
  ["100% sure", false, 99.99, 0, 5, 1e-7, 4, 2],
  ["100 percent", null, null, -7, 4, 3, 5, 2],
];

function gadgetRow(i: number): Row {
  const [name, flag, amount, big, qty, score, mask, category] = ROWS[i] as (typeof ROWS)[number];
  return { [gadget.primaryIdAttribute]: id(i + 1), new_name: name, new_flag: flag, new_amount: amount, new_price: amount, new_big: big, new_qty: qty, new_score: score, new_mask: mask, new_category: category, versionnumber: i + 1 };
}

const names = (rows: Row[]) => rows.map((r) => r.new_name);

describe.each(BACKENDS)("store on $name", (backend) => {
  let place: TestStoreLocation;
  let database: Database;
  let store: SqlDataverseStore;
  let identity: SqlIdentityStore;

  const select = (query: Partial<RecordQuery>): Promise<Row[]> =>
    store.selectRows(org, { entity: gadget, columns: ["new_name"], orderBy: [{ column: "new_name", descending: false, caseInsensitive: true }], ...query });

  beforeAll(async () => {
    place = await backend.create();
    database = await openDatabase(place.location);
    store = new SqlDataverseStore(database.db, database.adapter);
    identity = new SqlIdentityStore(database.db);
    await store.createOrg(org, NOW);
    await store.createRecordTable(org, gadget);
    for (let i = 0; i < ROWS.length; i++) await store.insertRow(org, gadget, gadgetRow(i));
  });
  afterAll(async () => {
    await database?.close();
    await place?.dispose();
  });

  it("runs the migrations once: every fixed table exists, and reopening the store applies nothing twice", async () => {
    expect(database.dialect).toBe(backend.name);
    const tables = (await database.db.introspection.getTables()).map((t) => t.name);
    for (const name of ["tenants", "users", "applications", "service_principals", "orgs", "entity_definitions", "relationship_definitions", "option_set_definitions", "record_deletions", "refresh_tokens", "device_codes", "app_role_assignments", "groups", "group_members", "store_changes", "store_secrets"]) {
      expect(tables).toContain(name);
    }
    const again = await openDatabase(place.location);
    try {
      const migrations = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(again.db);
      expect(migrations.rows.map((r) => r.name)).toEqual(["001_identity", "002_dataverse", "003_identity_sessions", "004_identity_credentials", "005_identity_consent", "006_identity_groups", "007_dataverse_relationships", "008_dataverse_option_sets", "009_dataverse_deletions", "010_identity_refresh_families_and_lockout", "011_identity_application_owners", "012_identity_service_principal_graph", "013_identity_directory_graph", "014_orgbox_clock", "015_identity_interaction_requirements", "016_store_changes", "017_identity_web_logout_url"]);
      expect(await new SqlDataverseStore(again.db, again.adapter).findOrg("STORETEST")).toEqual(org);
    } finally {
      await again.close();
    }
  });

  it("indexes the primary name as reads sort and compare it, (lower(name), id); ensureNameIndex is idempotent and adds it to older tables", async () => {
    const table = `${org.tablePrefix}${gadget.logicalName}`;
    const indexName = database.adapter.indexName(`${table}_new_name_ci`);
    const indexes = async (): Promise<string[]> =>
      backend.name === "sqlite"
        ? (await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = ${table}`.execute(database.db)).rows.map((r) => r.name)
        : (await sql<{ name: string }>`select indexname as name from pg_indexes where tablename = ${table}`.execute(database.db)).rows.map((r) => r.name);
    expect(await indexes()).toContain(indexName);
    // An older data folder: the index is missing until the upgrade ensures it (twice: idempotent).
    await sql`drop index ${sql.ref(indexName)}`.execute(database.db);
    expect(await indexes()).not.toContain(indexName);
    await store.ensureNameIndex(org, gadget);
    await store.ensureNameIndex(org, gadget);
    expect(await indexes()).toContain(indexName);
    if (backend.name === "sqlite") {
      // The shape `$orderby=new_name` with keyset paging compiles to: sorted through the index, no temporary B-tree.
      const plan = await sql<{ detail: string }>`explain query plan select "t0"."new_name" from ${sql.table(table)} as "t0" where lower("t0"."new_name") > lower(${"b"}) order by lower("t0"."new_name") asc, "t0".${sql.ref(gadget.primaryIdAttribute)} asc limit 2`.execute(database.db);
      const details = plan.rows.map((r) => r.detail).join(" | ");
      expect(details).toContain(indexName);
      expect(details).not.toMatch(/TEMP B-TREE/);
    }
    expect(names(await select({}))).toEqual(["100 percent", "100% sure", "Alpha", "beta", "Gamma"]);
  });

  it("round-trips the directory: flags as booleans, millisecond times as numbers, lookups case-insensitive, upserts", async () => {
    await identity.createTenant({ id: TENANT, displayName: "Store Test", defaultDomain: "storetest.onmicrosoft.com", domains: ["Store.Example"] }, NOW);
    expect(await identity.findTenant("STORE.example")).toEqual({ id: TENANT, displayName: "Store Test", defaultDomain: "storetest.onmicrosoft.com", domains: ["storetest.onmicrosoft.com", "store.example"] });

    const user = { id: id(101), tenantId: TENANT, userPrincipalName: "Ada@StoreTest.onmicrosoft.com", displayName: "Ada", givenName: "Ada", surname: null, accountEnabled: false, directoryRoles: ["62e90394-69f5-4237-9190-012177145e10"], passwordChangedAt: NOW };
    await identity.createUser(user, "hash", NOW);
    const found = await identity.findUserByUpn("ada@storetest.onmicrosoft.com");
    expect(found).toEqual({ ...user, userPrincipalName: "ada@storetest.onmicrosoft.com", passwordHash: "hash" });
    expect(typeof found?.passwordChangedAt).toBe("number");
    await identity.setUserAccountEnabled(user.id, true);
    expect((await identity.findUserById(user.id.toUpperCase()))?.accountEnabled).toBe(true);

    const app = {
      id: id(102),
      appId: id(103),
      tenantId: TENANT,
      displayName: "Store app",
      signInAudience: "AzureADMyOrg" as const,
      identifierUris: ["api://Store-App"],
      web: { redirectUris: ["https://localhost/cb"] },
      spa: { redirectUris: [] },
      publicClient: { redirectUris: [] },
      isFallbackPublicClient: true,
      requiredResourceAccess: [],
      appRoles: [],
      api: { oauth2PermissionScopes: [], requestedAccessTokenVersion: 2 as const },
      publisherDomain: null,
      groupMembershipClaims: "SecurityGroup" as const,
    };
    await identity.createApplication(app, NOW);
    expect(await identity.findApplicationByAppId(app.appId)).toEqual({ ...app, createdDateTime: NOW });
    expect((await identity.findApplicationByIdentifierUri("API://store-app"))?.id).toBe(app.id);

    await identity.createServicePrincipal({ id: id(104), tenantId: TENANT, appId: app.appId, appOwnerOrganizationId: TENANT, displayName: "Store app", appRoleAssignmentRequired: true, accountEnabled: true }, NOW);
    expect((await identity.findServicePrincipal(TENANT, app.appId))?.appRoleAssignmentRequired).toBe(true);
    await identity.setAppRoleAssignmentRequired(id(104), false);
    expect((await identity.findServicePrincipal(TENANT, app.appId))?.appRoleAssignmentRequired).toBe(false);

    // ON CONFLICT DO NOTHING: the second insert reports nothing inserted, the row stays single.
    expect(await identity.recordAssertionJti("jti-hash", NOW + 60_000, NOW)).toBe(true);
    expect(await identity.recordAssertionJti("jti-hash", NOW + 60_000, NOW)).toBe(false);
    const assignment = { id: id(105), tenantId: TENANT, principalId: id(104), resourceId: id(104), appRoleId: id(106) };
    await identity.addAppRoleAssignment(assignment, NOW);
    await identity.addAppRoleAssignment({ ...assignment, id: id(107) }, NOW);
    expect(await identity.listAppRoleAssignments(id(104), id(104))).toEqual([{ ...assignment, principalType: "ServicePrincipal" }]);

    const token = { id: id(108), tokenHash: "h1", tenantId: TENANT, clientId: app.appId, userId: user.id, publicClient: true, scope: "openid", resource: "https://x", amr: ["pwd"], authTime: NOW, codeId: null, familyId: id(108), spa: true, issuedAt: NOW, expiresAt: NOW + 1000, revokedAt: null };
    await identity.createRefreshToken(token);
    expect(await identity.findRefreshToken("h1")).toEqual(token);
    expect(await identity.rotateRefreshToken(token.id, { ...token, id: id(109), tokenHash: "h2" }, NOW + 1)).toBe(true);
    expect(await identity.rotateRefreshToken(token.id, { ...token, id: id(110), tokenHash: "h3" }, NOW + 2)).toBe(false);
    expect((await identity.findRefreshToken("h1"))?.revokedAt).toBe(NOW + 1);
    expect(await identity.findRefreshToken("h3")).toBeUndefined();
    // A family is revoked as one; other families are left alone.
    await identity.createRefreshToken({ ...token, id: id(111), tokenHash: "h4", familyId: id(111), spa: false });
    expect(await identity.revokeRefreshTokenFamily(id(108), NOW + 3)).toBe(1);
    expect((await identity.findRefreshToken("h2"))?.revokedAt).toBe(NOW + 3);
    expect((await identity.findRefreshToken("h1"))?.revokedAt).toBe(NOW + 1);
    expect(await identity.findRefreshToken("h4")).toMatchObject({ revokedAt: null, spa: false, familyId: id(111) });

    // Smart lockout: failures count atomically, the lock is set at the threshold (a bigint time), cleared on success.
    expect(await identity.findSignInLockout(user.id)).toEqual({ failedSignIns: 0, lockedUntil: null });
    expect(await identity.recordFailedSignIn(user.id, 2, NOW + 60_000)).toEqual({ failedSignIns: 1, lockedUntil: null });
    expect(await identity.recordFailedSignIn(user.id.toUpperCase(), 2, NOW + 60_000)).toEqual({ failedSignIns: 2, lockedUntil: NOW + 60_000 });
    expect(await identity.recordFailedSignIn(user.id, 2, NOW + 120_000)).toEqual({ failedSignIns: 3, lockedUntil: NOW + 120_000 });
    await identity.clearFailedSignIns(user.id);
    expect(await identity.findSignInLockout(user.id)).toEqual({ failedSignIns: 0, lockedUntil: null });

    await identity.addSigningKey({ kid: "k1", privateKeyPem: "pem", certificateB64: "cert", createdAt: NOW, activatesAt: NOW, retiresAt: null });
    expect(await identity.listSigningKeys()).toEqual([{ kid: "k1", privateKeyPem: "pem", certificateB64: "cert", createdAt: NOW, activatesAt: NOW, retiresAt: null }]);
  });

  it("tells identity the orgs bound to a tenant (OrgBindings over the org catalog), by tenant id in any case", async () => {
    const bindings = new SqlOrgBindings(database.db);
    expect(await bindings.orgNamesOfTenant(TENANT.toUpperCase())).toEqual(["storetest"]);
    expect(await bindings.orgNamesOfTenant("7e570000-0000-4000-8000-0000000000ff")).toEqual([]);
  });

  it("reads record values the serializer turns into the Web API's JSON: booleans, decimals, big integers, nulls", async () => {
    const [alpha, , gamma, , percent] = await select({ columns: gadget.attributes.map((a) => a.logicalName), orderBy: [{ column: "versionnumber", descending: false }] });
    const json = (row: Row | undefined) => serializeRow(gadget, gadget.attributes.filter((a) => a.logicalName.startsWith("new_")), row as Row);
    expect(json(alpha)).toMatchObject({ "@odata.etag": 'W/"1"', new_name: "Alpha", new_flag: true, new_amount: 12.5, new_price: 12.5, new_big: 9007199254740991, new_qty: 3, new_score: 0.1, new_category: 1 });
    expect(json(gamma)).toMatchObject({ new_flag: true, new_amount: 0.25, new_big: -9007199254740991, new_score: -1.5 });
    expect(json(percent)).toMatchObject({ new_flag: null, new_amount: null, new_big: -7 });
  });

  it("filters booleans, decimals and integers; IN lists; bit masks; IS NULL", async () => {
    expect(names(await select({ where: eq("new_flag", true) }))).toEqual(["Alpha", "Gamma"]);
    expect(names(await select({ where: eq("new_flag", false) }))).toEqual(["100% sure", "beta"]);
    expect(names(await select({ where: { kind: "in", column: "new_flag", values: [false] } }))).toEqual(["100% sure", "beta"]);
    expect(names(await select({ where: eq("new_flag", null) }))).toEqual(["100 percent"]);
    expect(names(await select({ where: { kind: "compare", op: "gt", left: column("new_amount"), right: value(10) } }))).toEqual(["100% sure", "Alpha"]);
    expect(names(await select({ where: { kind: "compare", op: "le", left: column("new_amount"), right: value(0.25) } }))).toEqual(["Gamma"]);
    expect(names(await select({ where: { kind: "compare", op: "gt", left: column("new_big"), right: value(1_000_000) } }))).toEqual(["Alpha"]);
    expect(names(await select({ where: { kind: "in", column: "new_qty", values: [1, 5] } }))).toEqual(["100% sure", "beta"]);
    expect(names(await select({ where: { kind: "bitand", column: "new_mask", mask: 2 } }))).toEqual(["beta", "Gamma"]);
    expect(names(await select({ where: { kind: "not", operand: eq("new_flag", true) } }))).toEqual(["100% sure", "beta"]);
    expect(await select({ where: { kind: "in", column: "new_qty", values: [] } })).toEqual([]);
  });

  it("runs and/or chains of thousands of conditions (left-deep as parsed) without hitting the expression depth limit", async () => {
    const chain = (kind: "and" | "or", items: Expr[]): Expr => items.reduce((left, right) => ({ kind, left, right }));
    const misses = Array.from({ length: 3000 }, (_, i) => eq("new_name", `missing ${i}`));
    expect(names(await select({ where: chain("or", [...misses, eq("new_flag", true)]) }))).toEqual(["Alpha", "Gamma"]);
    const none = misses.map((m): Expr => ({ kind: "not", operand: m }));
    expect(names(await select({ where: chain("and", [...none, eq("new_flag", false)]) }))).toEqual(["100% sure", "beta"]);
  });

  it("records deletions for change tracking: listed after a version, oldest first; the latest version covers rows and deletions", async () => {
    const before = await store.latestVersion(org, gadget);
    expect(before).toBeGreaterThan(0);
    await store.recordDeletion(org, gadget, "00000000-0000-4000-8000-0000000000d2", before + 20);
    await store.recordDeletion(org, gadget, "00000000-0000-4000-8000-0000000000d1", before + 10);
    expect(await store.listDeletions(org, gadget, before)).toEqual([
      { id: "00000000-0000-4000-8000-0000000000d1", version: before + 10 },
      { id: "00000000-0000-4000-8000-0000000000d2", version: before + 20 },
    ]);
    expect(await store.listDeletions(org, gadget, before + 10)).toEqual([{ id: "00000000-0000-4000-8000-0000000000d2", version: before + 20 }]);
    expect(await store.latestVersion(org, gadget)).toBe(before + 20);
  });

  it("compares text case-insensitively only when asked, and LIKE honours the escape character", async () => {
    expect(names(await select({ where: eq("new_name", "ALPHA", true) }))).toEqual(["Alpha"]);
    expect(names(await select({ where: eq("new_name", "ALPHA") }))).toEqual([]);
    expect(names(await select({ where: { kind: "in", column: "new_name", values: ["BETA", "gamma"], caseInsensitive: true } }))).toEqual(["beta", "Gamma"]);
    expect(names(await select({ where: { kind: "like", column: "new_name", pattern: "%A%" } }))).toEqual(["Alpha", "beta", "Gamma"]);
    expect(names(await select({ where: { kind: "like", column: "new_name", pattern: "100\\%%" } }))).toEqual(["100% sure"]);
    expect(names(await select({ where: { kind: "like", column: "new_name", pattern: "100%" } }))).toEqual(["100 percent", "100% sure"]);
    expect(names(await select({ where: { kind: "like", column: "new_name", pattern: "b_ta" } }))).toEqual(["beta"]);
    expect(names(await select({ where: { kind: "like", column: "new_name", pattern: "b\\_ta" } }))).toEqual([]);
  });

  it("sorts NULLs first ascending and last descending (Dataverse's order), case-insensitively when asked", async () => {
    const asc = await select({ columns: ["new_name", "new_amount"], orderBy: [{ column: "new_amount", descending: false }, { column: "new_name", descending: false }] });
    expect(names(asc)).toEqual(["100 percent", "beta", "Gamma", "Alpha", "100% sure"]);
    const desc = await select({ orderBy: [{ column: "new_amount", descending: true }, { column: "new_name", descending: false }] });
    expect(names(desc)).toEqual(["100% sure", "Alpha", "Gamma", "100 percent", "beta"]);
    const flags = await select({ orderBy: [{ column: "new_flag", descending: true }, { column: "new_name", descending: false }] });
    expect(names(flags)).toEqual(["Alpha", "Gamma", "100% sure", "beta", "100 percent"]);
    expect(names(await select({ orderBy: [{ column: "new_name", descending: false, caseInsensitive: true }] }))).toEqual(["100 percent", "100% sure", "Alpha", "beta", "Gamma"]);
  });

  it("pages with LIMIT/OFFSET, counts (capped), and keeps the first rows of each group", async () => {
    const byQty = { orderBy: [{ column: "new_qty", descending: false }] };
    expect(names(await select({ ...byQty, limit: 2 }))).toEqual(["beta", "Gamma"]);
    expect(names(await select({ ...byQty, limit: 2, offset: 2 }))).toEqual(["Alpha", "100 percent"]);
    expect(names(await select({ ...byQty, limit: 2, offset: 4 }))).toEqual(["100% sure"]);
    expect(await store.countRows(org, { entity: gadget })).toBe(5);
    expect(await store.countRows(org, { entity: gadget, where: eq("new_flag", true) })).toBe(2);
    expect(await store.countRows(org, { entity: gadget, limit: 3 })).toBe(3);
    const grouped = await select({ columns: ["new_name", "new_category"], orderBy: [{ column: "new_qty", descending: true }], perGroup: { column: "new_category", limit: 2 } });
    expect(grouped.map((r) => [r.new_category, r.new_name])).toEqual([
      [1, "Alpha"],
      [1, "beta"],
      [2, "100% sure"],
      [2, "100 percent"],
    ]);
  });

  it("aggregates over joined reads as numbers (count, sum, avg of decimals, min/max)", async () => {
    const rows = await store.selectJoined(org, {
      entity: gadget,
      alias: "g",
      joins: [],
      columns: [
        { table: "g", column: "new_category", as: "category" },
        { table: "g", column: gadget.primaryIdAttribute, as: "n", aggregate: "count" },
        { table: "g", column: "new_amount", as: "amounts", aggregate: "countcolumn" },
        { table: "g", column: "new_amount", as: "total", aggregate: "sum" },
        { table: "g", column: "new_qty", as: "average", aggregate: "avg" },
        { table: "g", column: "new_qty", as: "most", aggregate: "max" },
      ],
      groupBy: [{ table: "g", column: "new_category" }],
      orderBy: [{ output: "category", descending: false }],
    });
    expect(rows).toEqual([
      { category: 1, n: 2, amounts: 1, total: 12.5, average: 2, most: 3 },
      { category: 2, n: 3, amounts: 2, total: 100.24, average: 11 / 3, most: 5 },
    ]);
  });

  it("updates and deletes by predicate, reporting the row counts", async () => {
    const extra = { ...gadgetRow(0), [gadget.primaryIdAttribute]: id(50), new_name: "Temp", new_code_for_the_first_alternate_key_abcdefghij: null };
    await store.insertRow(org, gadget, extra);
    expect(await store.updateRows(org, gadget, eq(gadget.primaryIdAttribute, id(50)), { new_flag: false, new_amount: 1.5 })).toBe(1);
    const [updated] = await select({ columns: ["new_flag", "new_amount"], where: eq("new_name", "Temp") });
    expect(serializeRow(gadget, gadget.attributes.filter((a) => a.logicalName === "new_flag" || a.logicalName === "new_amount"), updated as Row)).toEqual({ new_flag: false, new_amount: 1.5 });
    expect(await store.deleteRows(org, gadget, eq("new_name", "Temp"))).toBe(1);
    expect(await store.deleteRows(org, gadget, eq("new_name", "Temp"))).toBe(0);
  });

  it("creates, enforces and drops alternate keys whose index names pass 63 bytes (case-insensitive text)", async () => {
    const code1 = KEY1.keyAttributes[0] as string;
    const code2 = KEY2.keyAttributes[0] as string;
    await store.createKeyIndex(org, gadget, KEY1);
    await store.createKeyIndex(org, gadget, KEY2);
    const row = (n: number, c1: string, c2: string) => ({ ...gadgetRow(0), [gadget.primaryIdAttribute]: id(n), new_name: `Keyed ${n}`, [code1]: c1, [code2]: c2 });
    await store.insertRow(org, gadget, row(60, "K-1", "L-1"));
    await expect(store.insertRow(org, gadget, row(61, "k-1", "L-2"))).rejects.toThrow();
    await expect(store.insertRow(org, gadget, row(62, "K-2", "l-1"))).rejects.toThrow();
    await store.dropKeyIndex(org, gadget, KEY1);
    await store.insertRow(org, gadget, row(63, "K-1", "L-3"));
    await expect(store.insertRow(org, gadget, row(64, "K-9", "L-3"))).rejects.toThrow();
    await store.dropKeyIndex(org, gadget, KEY2);
    expect(await store.deleteRows(org, gadget, { kind: "like", column: "new_name", pattern: "keyed %" })).toBe(2);
  });

  it("rolls a transaction back whole: rows, nested work and DDL; commits when the work succeeds", async () => {
    const extraTable = table({ logicalName: "new_rolledback", entitySetName: "new_rolledbacks", displayName: "R", displayCollectionName: "Rs", primaryNameAttribute: "new_name", ownershipType: "OrganizationOwned", objectTypeCode: 10_002, columns: [attr("new_name", "String", "Name", { maxLength: 10 })] });
    const failing = store.transaction(async (trx: DataverseStore) => {
      expect(trx.inTransaction).toBe(true);
      await trx.insertRow(org, gadget, { ...gadgetRow(0), [gadget.primaryIdAttribute]: id(70), new_name: "Rolled back" });
      await trx.createRecordTable(org, extraTable);
      await trx.transaction(async (nested) => {
        expect(nested).toBe(trx);
        await nested.insertRow(org, gadget, { ...gadgetRow(0), [gadget.primaryIdAttribute]: id(71), new_name: "Rolled back too" });
      });
      expect(await trx.countRows(org, { entity: gadget, where: { kind: "like", column: "new_name", pattern: "rolled%" } })).toBe(2);
      throw new Error("change set failed");
    });
    await expect(failing).rejects.toThrow("change set failed");
    expect(await store.countRows(org, { entity: gadget, where: { kind: "like", column: "new_name", pattern: "rolled%" } })).toBe(0);
    expect((await store.recordTableColumns(org)).has("new_rolledback")).toBe(false);

    await store.transaction(async (trx) => trx.insertRow(org, gadget, { ...gadgetRow(0), [gadget.primaryIdAttribute]: id(72), new_name: "Committed" }));
    expect(await store.deleteRows(org, gadget, eq("new_name", "Committed"))).toBe(1);
  });

  it("snapshots: restore brings back rows, drops tables and columns added since, and the keys' indexes", async () => {
    const before = await select({ columns: ["new_name", "new_flag", "new_amount", "new_big"] });
    const handle = await database.snapshots.take();
    try {
      await store.insertRow(org, gadget, { ...gadgetRow(1), [gadget.primaryIdAttribute]: id(80), new_name: "After the snapshot" });
      await store.updateRows(org, gadget, eq("new_name", "Alpha"), { new_flag: false, new_amount: 1 });
      await store.deleteRows(org, gadget, eq("new_name", "beta"));
      const later = table({ logicalName: "new_later", entitySetName: "new_laters", displayName: "L", displayCollectionName: "Ls", primaryNameAttribute: "new_name", ownershipType: "OrganizationOwned", objectTypeCode: 10_003, columns: [attr("new_name", "String", "Name", { maxLength: 10 })] });
      await store.createRecordTable(org, later);
      await store.addColumn(org, gadget, attr("new_added", "Integer", "Added"));
      await store.createKeyIndex(org, gadget, KEY1);
      await identity.createTenant({ id: id(90), displayName: "Later", defaultDomain: "later.onmicrosoft.com", domains: [] }, NOW);

      await database.snapshots.restore(handle);
      const columns = await store.recordTableColumns(org);
      expect(columns.has("new_later")).toBe(false);
      expect(columns.get(gadget.logicalName)?.has("new_added")).toBe(false);
      expect(await select({ columns: ["new_name", "new_flag", "new_amount", "new_big"] })).toEqual(before);
      expect(await identity.findTenant(id(90))).toBeUndefined();
      expect(await identity.findTenant(TENANT)).toBeDefined();
      // The key's unique index is gone: equal codes are accepted again.
      const code1 = KEY1.keyAttributes[0] as string;
      await store.insertRow(org, gadget, { ...gadgetRow(0), [gadget.primaryIdAttribute]: id(81), new_name: "Dup 1", [code1]: "same" });
      await store.insertRow(org, gadget, { ...gadgetRow(0), [gadget.primaryIdAttribute]: id(82), new_name: "Dup 2", [code1]: "SAME" });

      // A second restore of the same snapshot (no schema change since: rows only).
      await database.snapshots.restore(handle);
      expect(await select({ columns: ["new_name", "new_flag", "new_amount", "new_big"] })).toEqual(before);
    } finally {
      await database.snapshots.drop(handle);
    }
    await expect(database.snapshots.restore(handle)).rejects.toThrow(/no snapshot/);
  });
});
