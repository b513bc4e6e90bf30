/**
 * orgbox with its store in PostgreSQL (`storeUrl`), driven by the real clients: an msal-node
 * client-credentials token for the demo app, dynamics-web-api creates, queries ($filter,
 * $orderby, $top, $count), a failing $batch change set, WhoAmI, an alternate key refused over
 * duplicates, a custom N:N relationship between long-named tables (index names past 63 bytes),
 * reset() and a restart on the same database; the CLI's `--store-url`, and the
 * refusals of bad store settings. The database is a fresh one on the test run's throwaway server.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { DynamicsWebApi } from "dynamics-web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { orgboxCli } from "../helpers/cli.ts";
import { adminToken } from "../helpers/orgbox.ts";
import { createTestDatabase } from "../helpers/postgres.ts";

interface Account {
  accountid: string;
  name: string;
  creditonhold: boolean | null;
  revenue: number | null;
  numberofemployees: number | null;
}

describe("orgbox on PostgreSQL", () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let o: OrgboxInstance;
  let api: DynamicsWebApi;
  let token = "";

  async function msalToken(instance: OrgboxInstance): Promise<string> {
    const cca = new ConfidentialClientApplication({
      auth: { clientId: instance.demo.clientId, clientSecret: instance.demo.clientSecret, authority: instance.authority, knownAuthorities: [new URL(instance.url).host] },
    });
    const result = await cca.acquireTokenByClientCredential({ scopes: [`${instance.orgUrl}/.default`] });
    if (!result?.accessToken) throw new Error("no token");
    return result.accessToken;
  }

  const clientFor = (instance: OrgboxInstance, bearer: () => string) => new DynamicsWebApi({ serverUrl: `${instance.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => bearer() });

  beforeAll(async () => {
    database = await createTestDatabase();
    o = await startOrgbox({ storeUrl: database.url });
    token = await msalToken(o);
    api = clientFor(o, () => token);
  });
  afterAll(async () => {
    await o?.close();
    await database?.drop();
  });

  it("keeps the store in PostgreSQL: config says so, and WhoAmI answers for the msal-node token's application user", async () => {
    expect(o.config).toMatchObject({ storeUrl: database.url, inMemory: false });
    const who = await api.callFunction<{ UserId: string; BusinessUnitId: string; OrganizationId: string }>({ name: "WhoAmI" });
    expect(who.OrganizationId).toBe(DEMO.org.id);
    expect(who.BusinessUnitId).toBe(DEMO.org.rootBusinessUnitId);
    expect(who.UserId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("creates records and queries them with $filter, $orderby, $top and $count: booleans, money, NULLs first, case-insensitive text", async () => {
    const rows = [
      { name: "PG Alpha", creditonhold: true, revenue: 1500.25, numberofemployees: 10 },
      { name: "PG Beta", creditonhold: false, revenue: null, numberofemployees: 20 },
      { name: "PG Gamma", creditonhold: true, revenue: null, numberofemployees: 30 },
      { name: "PG Delta 100%", creditonhold: true, revenue: 99.5, numberofemployees: null },
    ];
    for (const data of rows) expect(await api.create({ collection: "accounts", data })).toMatch(/^[0-9a-f-]{36}$/);

    const onHold = await api.retrieveMultiple<Account>({ collection: "accounts", select: ["name", "creditonhold", "revenue"], filter: "startswith(name,'PG ') and creditonhold eq true", orderBy: ["revenue asc", "name asc"], top: 2, count: true });
    expect(onHold["@odata.count"]).toBe(3);
    expect(onHold.value.map((a) => [a.name, a.creditonhold, a.revenue])).toEqual([
      ["PG Gamma", true, null],
      ["PG Delta 100%", true, 99.5],
    ]);

    const desc = await api.retrieveMultiple<Account>({ collection: "accounts", select: ["name", "revenue"], filter: "startswith(name,'pg ')", orderBy: ["revenue desc", "name asc"] });
    expect(desc.value.map((a) => a.name)).toEqual(["PG Alpha", "PG Delta 100%", "PG Beta", "PG Gamma"]);
    expect(desc.value[0]?.revenue).toBe(1500.25);

    const ci = await api.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter: "name eq 'pg alpha' or contains(name,'100%')", orderBy: ["name asc"] });
    expect(ci.value.map((a) => a.name)).toEqual(["PG Alpha", "PG Delta 100%"]);

    const ints = await api.retrieveMultiple<Account>({ collection: "accounts", select: ["name", "numberofemployees"], filter: "startswith(name,'PG ') and numberofemployees ge 20 and creditonhold ne true", orderBy: ["numberofemployees desc"] });
    expect(ints.value.map((a) => [a.name, a.numberofemployees])).toEqual([["PG Beta", 20]]);
  });

  it("aggregates ($apply, FetchXML dategrouping), thousand-condition filters and change tracking compile for PostgreSQL", async () => {
    for (const [i, birthdate] of ["2019-02-14", "2019-03-20", "2020-11-05"].entries()) await api.create({ collection: "contacts", data: { lastname: `PG grouped ${i}`, birthdate } });
    const applied = await api.retrieveMultiple<{ n: number; people: number }>({ collection: "contacts", apply: "filter(startswith(lastname,'PG grouped'))/aggregate($count as n,lastname with countdistinct as people)" });
    expect(applied.value).toEqual([{ n: 3, people: 3 }]);
    const years = await api.fetch<{ y: number; q: number; n: number }>({
      collection: "contacts",
      fetchXml: `<fetch aggregate="true"><entity name="contact"><attribute name="birthdate" groupby="true" dategrouping="year" alias="y" /><attribute name="birthdate" groupby="true" dategrouping="quarter" alias="q" /><attribute name="contactid" aggregate="count" alias="n" /><filter><condition attribute="lastname" operator="like" value="PG grouped %" /></filter><order alias="y" /></entity></fetch>`,
    });
    expect(years.value.map((r) => [r.y, r.q, r.n])).toEqual([
      [2019, 1, 2],
      [2020, 4, 1],
    ]);
    const many = Array.from({ length: 1500 }, (_, i) => `lastname ne 'x${i}'`).join(" and ");
    const filtered = await api.retrieveMultiple<{ lastname: string }>({ collection: "contacts", select: ["lastname"], filter: `startswith(lastname,'PG grouped') and ${many}` });
    expect(filtered.value).toHaveLength(3);
    const initial = await api.retrieveMultiple({ collection: "contacts", select: ["lastname"], trackChanges: true });
    await api.create({ collection: "contacts", data: { lastname: "PG tracked" } });
    const changes = await api.retrieveMultiple<{ lastname: string }>({ collection: "contacts" }, initial.oDataDeltaLink as string);
    expect(changes.value.map((c) => c.lastname)).toEqual(["PG tracked"]);
  });

  it("creates and deletes definitions on PostgreSQL: a custom table, its lookup relationship (indexed column) and a column", async () => {
    const admin = await adminToken(o);
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${o.apiUrl}/${path}`, { method, headers: { authorization: `Bearer ${admin}`, "content-type": "application/json", accept: "application/json" }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      return { status: res.status, text: await res.text() };
    };
    const label = (text: string) => ({ LocalizedLabels: [{ Label: text, LanguageCode: 1033 }] });
    const table = { SchemaName: "new_PgTemp", DisplayName: label("Temp"), DisplayCollectionName: label("Temps"), OwnershipType: "UserOwned", HasActivities: false, HasNotes: false, Attributes: [{ "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", SchemaName: "new_Name", IsPrimaryName: true, MaxLength: 100, DisplayName: label("Name"), RequiredLevel: { Value: "None" } }] };
    expect((await call("POST", "EntityDefinitions", table)).status).toBe(204);
    expect((await call("POST", "EntityDefinitions(LogicalName='new_pgtemp')/Attributes", { "@odata.type": "Microsoft.Dynamics.CRM.IntegerAttributeMetadata", SchemaName: "new_Size", DisplayName: label("Size"), RequiredLevel: { Value: "None" } })).status).toBe(204);
    const lookup = { "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata", SchemaName: "new_account_new_pgtemp", ReferencedEntity: "account", ReferencingEntity: "new_pgtemp", Lookup: { "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata", SchemaName: "new_AccountId", DisplayName: label("Account"), RequiredLevel: { Value: "None" } } };
    expect((await call("POST", "RelationshipDefinitions", lookup)).status).toBe(204);
    expect((await call("POST", "new_pgtemps", { new_name: "kept", new_size: 3 })).status).toBe(204);
    expect((await call("DELETE", "RelationshipDefinitions(SchemaName='new_account_new_pgtemp')")).status).toBe(204);
    expect((await call("DELETE", "EntityDefinitions(LogicalName='new_pgtemp')/Attributes(LogicalName='new_size')")).status).toBe(204);
    const rows = await call("GET", "new_pgtemps?$select=new_name");
    expect(JSON.parse(rows.text).value.map((r: { new_name: string }) => r.new_name)).toEqual(["kept"]);
    expect((await call("DELETE", "EntityDefinitions(LogicalName='new_pgtemp')")).status).toBe(204);
    expect((await call("GET", "new_pgtemps?$select=new_name")).status).toBe(404);
  });

  it("creates a custom N:N relationship between two tables with long names: its intersect indexes stay distinct past PostgreSQL's 63-byte identifiers", async () => {
    const admin = await adminToken(o);
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${o.apiUrl}/${path}`, { method, headers: { authorization: `Bearer ${admin}`, "content-type": "application/json", accept: "application/json" }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      return { status: res.status, text: await res.text() };
    };
    const label = (text: string) => ({ LocalizedLabels: [{ Label: text, LanguageCode: 1033 }] });
    const define = (schema: string) => ({ SchemaName: schema, DisplayName: label(schema), DisplayCollectionName: label(`${schema}s`), OwnershipType: "UserOwned", HasActivities: false, HasNotes: false, Attributes: [{ "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", SchemaName: "new_Name", IsPrimaryName: true, MaxLength: 100, DisplayName: label("Name"), RequiredLevel: { Value: "None" } }] });
    // 45-character table names; the intersect table is named after the 49-character relationship,
    // so `dv1_{intersect}_{column}` for both link columns share their first 63 bytes.
    const alpha = "new_warehouse_inventory_location_record_alpha";
    const beta = "new_warehouse_inventory_location_record_beta1";
    const schemaName = "new_warehouse_inventory_location_alpha_beta_links";
    expect((await call("POST", "EntityDefinitions", define(alpha))).status).toBe(204);
    expect((await call("POST", "EntityDefinitions", define(beta))).status).toBe(204);
    const created = await call("POST", "RelationshipDefinitions", { "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata", SchemaName: schemaName, Entity1LogicalName: alpha, Entity2LogicalName: beta });
    expect(created).toMatchObject({ status: 204 });

    // The administrator (System Administrator) reaches the new tables; the demo app's role does not.
    const adminApi = clientFor(o, () => admin);
    const a = String(await adminApi.create({ collection: `${alpha}s`, data: { new_name: "A1" } }));
    const b1 = String(await adminApi.create({ collection: `${beta}s`, data: { new_name: "B1" } }));
    const b2 = String(await adminApi.create({ collection: `${beta}s`, data: { new_name: "B2" } }));
    await adminApi.associate({ collection: `${alpha}s`, primaryKey: a, relationshipName: schemaName, relatedCollection: `${beta}s`, relatedKey: b1 });
    await adminApi.associate({ collection: `${alpha}s`, primaryKey: a, relationshipName: schemaName, relatedCollection: `${beta}s`, relatedKey: b2 });
    // The pair's unique index holds: the same link again is refused as on SQLite.
    await expect(adminApi.associate({ collection: `${alpha}s`, primaryKey: a, relationshipName: schemaName, relatedCollection: `${beta}s`, relatedKey: b1 })).rejects.toMatchObject({ status: 412 });
    const read = await adminApi.retrieve<Record<string, unknown>>({ collection: `${alpha}s`, key: a, select: ["new_name"], expand: [{ property: schemaName, select: ["new_name"], orderBy: ["new_name asc"] }] });
    expect((read[schemaName] as { new_name: string }[]).map((r) => r.new_name)).toEqual(["B1", "B2"]);
  });

  it("rolls a failing $batch change set back whole: nothing of it is left", async () => {
    api.startBatch();
    void api.create({ collection: "accounts", data: { name: "PG Batch One" } });
    void api.create({ collection: "accounts", data: { name: `PG Batch Two ${"x".repeat(200)}` } });
    const error = await api.executeBatch().then(
      () => undefined,
      (e: unknown) => e,
    );
    const [first] = error as { status: number; error?: { code: string } }[];
    expect(first?.status).toBe(400);
    expect(first?.error?.code).toBe("0x80044331");
    expect((await api.retrieveMultiple({ collection: "accounts", select: ["name"], filter: "startswith(name,'PG Batch')" })).value).toEqual([]);

    api.startBatch();
    void api.create({ collection: "accounts", data: { name: "PG Batch Kept" }, contentId: "1" });
    void api.update({ contentId: "$1", data: { creditonhold: true } });
    await api.executeBatch();
    const kept = await api.retrieveMultiple<Account>({ collection: "accounts", select: ["name", "creditonhold"], filter: "name eq 'PG Batch Kept'" });
    expect(kept.value.map((a) => a.creditonhold)).toEqual([true]);
  });

  it("refuses an alternate key over duplicate values and leaves no trace of it (the failed CREATE INDEX rolls back)", async () => {
    await api.create({ collection: "accounts", data: { name: "PG Dup 1", accountnumber: "PG-1" } });
    await api.create({ collection: "accounts", data: { name: "PG Dup 2", accountnumber: "pg-1" } });
    // Metadata writes need System Administrator (a new application user holding it; plain fetch token).
    const admin = await adminToken(o);
    const adminApi = clientFor(o, () => admin);
    const key = { SchemaName: "new_PgAccountNumberKeyWithQuiteALongNameForPostgre", KeyAttributes: ["accountnumber"] };
    const post = (body: unknown) =>
      fetch(`${o.apiUrl}/EntityDefinitions(LogicalName='account')/Keys`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json", accept: "application/json" }, body: JSON.stringify(body) });
    const refused = await post(key);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "0x80040237", message: expect.stringContaining("already share values") });
    const keys = await adminApi.retrieve<{ value: unknown[] }>({ collection: "EntityDefinitions", key: "LogicalName='account'", navigationProperty: "Keys" });
    expect(keys.value).toEqual([]);
    // The store is still usable after the failed statement (no aborted transaction left in the pool).
    await adminApi.deleteRecord({ collection: "accounts", key: (await api.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter: "name eq 'PG Dup 2'" })).value[0]?.accountid as string });
    expect((await post(key)).status).toBe(204);
    const duplicate = await api.create({ collection: "accounts", data: { name: "PG Dup 3", accountnumber: "Pg-1" } }).then(
      () => undefined,
      (e: unknown) => e as { status: number },
    );
    expect(duplicate?.status).toBe(412);
  });

  it("reset() puts back the state right after start (rows, keys), and a restart on the same database keeps what was written", async () => {
    await o.reset();
    expect((await api.retrieveMultiple({ collection: "accounts", select: ["name"], filter: "startswith(name,'PG ')" })).value).toEqual([]);
    const admin = await adminToken(o);
    const keys = await clientFor(o, () => admin).retrieve<{ value: unknown[] }>({ collection: "EntityDefinitions", key: "LogicalName='account'", navigationProperty: "Keys" });
    expect(keys.value).toEqual([]);
    const total = await api.count({ collection: "accounts" });
    await api.create({ collection: "accounts", data: { name: "PG Persisted", creditonhold: false, revenue: 12.5 } });
    await o.close();

    o = await startOrgbox({ storeUrl: database.url });
    token = await msalToken(o);
    api = clientFor(o, () => token);
    expect(await api.count({ collection: "accounts" })).toBe(total + 1);
    const persisted = await api.retrieveMultiple<Account>({ collection: "accounts", select: ["name", "creditonhold", "revenue"], filter: "name eq 'PG Persisted'" });
    expect(persisted.value.map((a) => [a.creditonhold, a.revenue])).toEqual([[false, 12.5]]);
  });

  it("starts from the CLI with --store-url and stops on SIGTERM", async () => {
    const child = spawn(process.execPath, [resolve(import.meta.dirname, "../../bin/orgbox.js"), "start", "--store-url", database.url, "--http", "--port", "0", "--json", "--log-level", "silent"], { env: { ...process.env, ORGBOX_JSON: "" } });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const [line] = (await once(createInterface({ input: child.stdout }), "line")) as [string];
    const ready = JSON.parse(line) as { event: string; tenantId: string; apiUrl: string };
    expect(ready, stderr).toMatchObject({ event: "ready", tenantId: DEMO.tenantId });
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    expect((await exited)[0]).toBe(0);
  });

  it("runs the offline commands on the PostgreSQL store: tenant list, role list, export", async () => {
    // Four processes at once (each pays Node's start-up).
    const [tenants, roles, exported, notPostgres] = await Promise.all([
      orgboxCli(["tenant", "list", "--store-url", database.url, "--json"]),
      orgboxCli(["role", "list", "--org", "contoso", "--json"], { ORGBOX_STORE_URL: database.url }),
      orgboxCli(["export", "--store-url", database.url, "--format", "json"]),
      orgboxCli(["tenant", "list", "--store-url", "mysql://localhost/orgbox"]),
    ]);
    expect(tenants.code, tenants.stderr).toBe(0);
    expect((JSON.parse(tenants.stdout) as { id: string }[]).map((t) => t.id)).toContain(DEMO.tenantId);
    expect(roles.code, roles.stderr).toBe(0);
    expect((JSON.parse(roles.stdout) as { name: string }[]).map((r) => r.name)).toContain("System Administrator");
    expect(exported.code, exported.stderr).toBe(0);
    const environment = JSON.parse(exported.stdout) as { orgs: { name: string; data?: Record<string, Record<string, unknown>[]> }[] };
    const accounts = environment.orgs.find((org) => org.name === "contoso")?.data?.account ?? [];
    expect(accounts).toContainEqual(expect.objectContaining({ name: "PG Persisted", creditonhold: false, revenue: 12.5 }));
    expect(notPostgres.code).toBe(2);
    expect(notPostgres.stderr).toContain("--store-url must be a postgres:// or postgresql:// URL");
  });

  it("refuses bad store settings at start with a clear message (and never prints the password)", async () => {
    await expect(startOrgbox({ storeUrl: database.url, inMemory: true })).rejects.toThrow("--in-memory and --store-url cannot be combined");
    await expect(startOrgbox({ storeUrl: "mysql://localhost/orgbox" })).rejects.toThrow(/storeUrl: a postgres:\/\/ or postgresql:\/\/ URL/);
    const unreachable = startOrgbox({ storeUrl: "postgres://orgbox:s3cret-pw@127.0.0.1:1/orgbox" });
    await expect(unreachable).rejects.toThrow(/^cannot open the PostgreSQL store at postgres:\/\/orgbox:\*\*\*@127\.0\.0\.1:1\/orgbox: /);
    await expect(unreachable).rejects.not.toThrow(/s3cret/);
    const cli = await orgboxCli(["start", "--store-url", database.url, "--in-memory"]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain("--in-memory and --store-url cannot be combined");
  });
});
