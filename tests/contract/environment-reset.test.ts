/**
 * Environments as code: `reset()`, `snapshot()`/`restore()` and the `/_orgbox/`
 * admin endpoints.
 */
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { DynamicsWebApi } from "dynamics-web-api";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { failure } from "../helpers/dwa.ts";
import { label, projectTable } from "../helpers/metadata.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const FILE = resolve(import.meta.dirname, "../../examples/isv-multitenant.orgbox.yaml");
const ADMIN_KEY = "test-admin-key-0123456789";

async function count(o: OrgboxInstance, org: string, table: string): Promise<number> {
  const res = await fetch(`${o.url}/${o.environment?.orgs.find((x) => x.name === org)?.tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: "fab00000-0000-4000-8000-0000f00d0001", client_secret: "fabrikam-sync-secret-1", scope: `${o.orgUrlOf(org)}/.default` }),
  });
  const { access_token } = (await res.json()) as { access_token: string };
  const list = await fetch(`${o.orgUrlOf(org)}/api/data/v9.2/${table}?$count=true&$top=1`, { headers: { authorization: `Bearer ${access_token}`, accept: "application/json" } });
  const body = (await list.json()) as { "@odata.count": number };
  return body["@odata.count"];
}

describe("reset and snapshots", () => {
  const orgbox = useOrgbox({ config: FILE, adminKey: ADMIN_KEY });

  it("reset() puts the data back to the file's after 1,000 writes", async () => {
    const o = orgbox();
    const org = await o.dataverse.service.findOrg("northwind");
    if (!org) throw new Error("no org");
    expect(await count(o, "northwind", "accounts")).toBe(2);
    for (let i = 0; i < 1000; i++) await o.dataverse.service.insert(org, "account", { name: `Bulk ${i}` });
    expect(await count(o, "northwind", "accounts")).toBe(1002);
    const started = performance.now();
    await o.reset();
    const ms = performance.now() - started;
    expect(await count(o, "northwind", "accounts")).toBe(2);
    expect(ms).toBeLessThan(1000);
  });

  it("reset() also removes orgs and tenants created after start, and they can be created again", async () => {
    const o = orgbox();
    const tenant = await o.identity.service.createTenant({ displayName: "Later", defaultDomain: "later.onmicrosoft.com" });
    await o.dataverse.service.createOrg({ name: "later", tenantId: tenant.id });
    await o.reset();
    expect(await o.identity.service.findTenant("later.onmicrosoft.com")).toBeUndefined();
    expect(await o.dataverse.service.findOrg("later")).toBeUndefined();
    const again = await o.identity.service.createTenant({ displayName: "Later", defaultDomain: "later.onmicrosoft.com" });
    const { org } = await o.dataverse.service.createOrg({ name: "later", tenantId: again.id });
    await o.dataverse.service.insert(org, "account", { name: "x" });
    await o.reset();
    expect(await o.dataverse.service.findOrg("later")).toBeUndefined();
    expect(await count(o, "northwind", "accounts")).toBe(2);
  });

  it("snapshot(name) and restore(name) go back to a checkpoint", async () => {
    const o = orgbox();
    const org = await o.dataverse.service.findOrg("tailspin");
    if (!org) throw new Error("no org");
    await o.dataverse.service.insert(org, "account", { name: "Checkpointed" });
    const snap = await o.snapshot("one");
    expect(snap.name).toBe("one");
    await o.dataverse.service.insert(org, "account", { name: "After" });
    expect(await count(o, "tailspin", "accounts")).toBe(5);
    await o.restore(snap);
    expect(await count(o, "tailspin", "accounts")).toBe(4);
    await o.restore("one");
    expect(await count(o, "tailspin", "accounts")).toBe(4);
    const auto = await o.snapshot();
    expect(auto.name).toMatch(/^snapshot-\d+$/);
    await expect(o.restore("nope")).rejects.toThrow(/no snapshot named 'nope'/);
    await o.reset();
    expect(await count(o, "tailspin", "accounts")).toBe(3);
  });

  it("serves POST /_orgbox/reset and /_orgbox/snapshots with the admin key only", async () => {
    const o = orgbox();
    const auth = { authorization: `Bearer ${ADMIN_KEY}` };
    expect((await fetch(`${o.url}/_orgbox/reset`, { method: "POST" })).status).toBe(401);
    expect((await fetch(`${o.url}/_orgbox/reset`, { method: "POST", headers: { authorization: "Bearer wrong-key-wrong-key" } })).status).toBe(401);

    const org = await o.dataverse.service.findOrg("northwind");
    if (!org) throw new Error("no org");
    await o.dataverse.service.insert(org, "account", { name: "Before snapshot" });
    const created = await fetch(`${o.url}/_orgbox/snapshots`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ name: "ci-1" }) });
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({ name: "ci-1" });
    const unnamed = await fetch(`${o.url}/_orgbox/snapshots`, { method: "POST", headers: auth });
    expect(unnamed.status).toBe(201);
    expect(((await unnamed.json()) as { name: string }).name).toMatch(/^snapshot-/);

    await o.dataverse.service.insert(org, "account", { name: "After snapshot" });
    expect(await count(o, "northwind", "accounts")).toBe(4);
    const restored = await fetch(`${o.url}/_orgbox/snapshots/ci-1/restore`, { method: "POST", headers: auth });
    expect(restored.status).toBe(200);
    expect(await count(o, "northwind", "accounts")).toBe(3);
    expect((await fetch(`${o.url}/_orgbox/snapshots/missing/restore`, { method: "POST", headers: auth })).status).toBe(404);

    const reset = await fetch(`${o.url}/_orgbox/reset`, { method: "POST", headers: auth });
    expect(reset.status).toBe(200);
    expect(await count(o, "northwind", "accounts")).toBe(2);
  });
});

type Row = Record<string, unknown>;

/** A token for Northwind's admin (System Administrator in org northwind), by ROPC through Fabrikam Sync. */
async function northwindAdminToken(o: OrgboxInstance): Promise<string> {
  const res = await fetch(`${o.url}/northwind.onmicrosoft.com/oauth2/v2.0/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", client_id: "fab00000-0000-4000-8000-0000f00d0001", client_secret: "fabrikam-sync-secret-1", username: "admin@northwind.onmicrosoft.com", password: "Northwind-Admin-1", scope: `${o.orgUrlOf("northwind")}/.default` }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`token request failed: ${JSON.stringify(body)}`);
  return body.access_token;
}

describe("reset and snapshots undo every change since (dynamics-web-api against org northwind)", () => {
  const orgbox = useOrgbox({ config: FILE });
  let api: DynamicsWebApi;
  /** Every column of every row, by id: what the file put there. */
  const all = async (collection: string, key: string) => (await api.retrieveAll<Row>({ collection, orderBy: [key] })).value;
  const accountNames = async () => (await api.retrieveAll<Row>({ collection: "accounts", select: ["name"], orderBy: ["name"] })).value.map((r) => r.name);
  const projectNames = async () => (await api.retrieveAll<Row>({ collection: "new_projects", select: ["new_name"], orderBy: ["new_name"] })).value.map((r) => r.new_name);
  const fileAccounts = ["Alfreds Futterkiste", "Northwind Traders HQ"];

  beforeAll(async () => {
    // Tokens outlive a reset (the signing keys are kept), so one is enough.
    const token = await northwindAdminToken(orgbox());
    api = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrlOf("northwind")}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
  });
  afterEach(async () => {
    await orgbox().reset();
  });

  it("reset() after 1,000 creates, updates and deletes puts every row, user and session back to the file's", async () => {
    const o = orgbox();
    const accounts = await all("accounts", "accountid");
    const contacts = await all("contacts", "contactid");
    expect(accounts.map((a) => a.name).sort()).toEqual(fileAccounts);
    const targets = Array.from({ length: 1000 }, (_, i) => ({ "@odata.type": "Microsoft.Dynamics.CRM.account", name: `Bulk ${i}`, accountnumber: `B-${i}` }));
    await api.callAction({ collection: "accounts", actionName: "Microsoft.Dynamics.CRM.CreateMultiple", action: { Targets: targets } });
    const hq = accounts.find((a) => a.name === "Northwind Traders HQ") as Row;
    await api.update({ collection: "accounts", key: String(hq.accountid), data: { name: "Renamed HQ", address1_city: "Portland" } });
    const maria = contacts.find((c) => c.firstname === "Maria") as Row;
    await api.deleteRecord({ collection: "contacts", key: String(maria.contactid) });
    const tenant = await o.identity.service.findTenant("northwind.onmicrosoft.com");
    const user = await o.identity.service.createUser({ tenantId: tenant?.id as string, userPrincipalName: "later@northwind.onmicrosoft.com", displayName: "Later", password: "Later-Pass-1" });
    expect(await api.count({ collection: "accounts" })).toBe(1002);

    await o.reset();
    expect(await all("accounts", "accountid")).toEqual(accounts);
    expect(await all("contacts", "contactid")).toEqual(contacts);
    expect(await o.identity.service.findUser(user.id)).toBeUndefined();
    // The ROPC sign-in above made a session and a refresh token; the file's user still signs in.
    expect(await northwindAdminToken(o)).toMatch(/^ey/);
  });

  it("a custom table created after a snapshot is gone after restore, and creating it again works", async () => {
    const o = orgbox();
    await o.snapshot("before-table");
    await api.createEntity({ data: projectTable("new_Project") });
    await api.create({ collection: "new_projects", data: { new_name: "Apollo" } });
    expect(await projectNames()).toEqual(["Apollo"]);

    await o.restore("before-table");
    expect(await failure(api.retrieveEntity({ key: "LogicalName='new_project'" }))).toMatchObject({ status: 404 });
    expect(await failure(api.retrieveMultiple({ collection: "new_projects" }))).toMatchObject({ status: 404 });
    expect(await accountNames()).toEqual(fileAccounts);

    await api.createEntity({ data: projectTable("new_Project") });
    await api.create({ collection: "new_projects", data: { new_name: "Gemini" } });
    expect(await projectNames()).toEqual(["Gemini"]);
    await o.reset();
    expect(await failure(api.retrieveMultiple({ collection: "new_projects" }))).toMatchObject({ status: 404 });
  });

  it("a column added after a snapshot is gone after restore, with the table's rows as they were", async () => {
    const o = orgbox();
    await api.createEntity({ data: projectTable("new_Project") });
    await api.create({ collection: "new_projects", data: { new_name: "Kept" } });
    await o.snapshot("with-table");
    const code = { "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", SchemaName: "new_Code", DisplayName: label("Code"), RequiredLevel: { Value: "None" }, MaxLength: 20 };
    await api.createAttribute({ entityKey: "LogicalName='new_project'", data: code });
    await api.create({ collection: "new_projects", data: { new_name: "With code", new_code: "C-1" } });

    await o.restore("with-table");
    expect(await failure(api.retrieveAttribute({ entityKey: "LogicalName='new_project'", attributeKey: "LogicalName='new_code'" }))).toMatchObject({ status: 404 });
    expect(await failure(api.create({ collection: "new_projects", data: { new_name: "x", new_code: "C-2" } }))).toMatchObject({ status: 400 });
    expect(await projectNames()).toEqual(["Kept"]);

    // Added again, it works; writes after that restore are undone by the next one too.
    await api.createAttribute({ entityKey: "LogicalName='new_project'", data: code });
    await api.create({ collection: "new_projects", data: { new_name: "Again", new_code: "C-3" } });
    await o.restore("with-table");
    await api.create({ collection: "new_projects", data: { new_name: "Plain" } });
    await o.restore("with-table");
    expect(await projectNames()).toEqual(["Kept"]);
  });

  it("a table and a column deleted after a snapshot come back with their rows on restore", async () => {
    const o = orgbox();
    await api.createEntity({ data: projectTable("new_Project") });
    const code = { "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", SchemaName: "new_Code", DisplayName: label("Code"), RequiredLevel: { Value: "None" }, MaxLength: 20 };
    await api.createAttribute({ entityKey: "LogicalName='new_project'", data: code });
    await api.create({ collection: "new_projects", data: { new_name: "Kept", new_code: "K-1" } });
    await o.snapshot("before-deletes");
    await api.deleteRecord({ collection: "EntityDefinitions", key: "LogicalName='new_project'", property: "Attributes(LogicalName='new_code')" });
    expect(await failure(api.retrieveMultiple({ collection: "new_projects", select: ["new_code"] }))).toMatchObject({ status: 400 });
    await api.deleteRecord({ collection: "EntityDefinitions", key: "LogicalName='new_project'" });
    expect(await failure(api.retrieveMultiple({ collection: "new_projects" }))).toMatchObject({ status: 404 });

    await o.restore("before-deletes");
    const rows = await api.retrieveMultiple<Row>({ collection: "new_projects", select: ["new_name", "new_code"] });
    expect(rows.value.map((r) => [r.new_name, r.new_code])).toEqual([["Kept", "K-1"]]);
  });

  it("snapshot, write, snapshot 2, write, then restore 1, 2, 2 again, 1, and reset: each state exactly", async () => {
    const o = orgbox();
    const first = await api.create<Row, string>({ collection: "accounts", data: { name: "First" } });
    await o.snapshot("one");
    const one = await all("accounts", "accountid");
    await api.update({ collection: "accounts", key: first, data: { name: "First v2" } });
    await api.create({ collection: "accounts", data: { name: "Second" } });
    await o.snapshot("two");
    const two = await all("accounts", "accountid");
    await api.deleteRecord({ collection: "accounts", key: first });
    await api.create({ collection: "accounts", data: { name: "Third" } });

    await o.restore("one");
    expect(await all("accounts", "accountid")).toEqual(one);
    await o.restore("two");
    expect(await all("accounts", "accountid")).toEqual(two);
    await o.restore("two");
    expect(await all("accounts", "accountid")).toEqual(two);
    await o.restore("one");
    expect(await accountNames()).toEqual(["Alfreds Futterkiste", "First", "Northwind Traders HQ"]);
    await o.reset();
    expect(await accountNames()).toEqual(fileAccounts);
    await o.restore("two");
    expect(await accountNames()).toEqual(["Alfreds Futterkiste", "First v2", "Northwind Traders HQ", "Second"]);
  });

  it("writes of a rolled-back change set leave nothing for restore to miss", async () => {
    const o = orgbox();
    await o.snapshot("before-batch");
    api.startBatch();
    void api.create({ collection: "accounts", data: { name: "Rolled back" } });
    void api.create({ collection: "accounts", data: { name: `Too long ${"x".repeat(200)}` } });
    expect(Array.isArray(await failure(api.executeBatch()))).toBe(true);
    await api.create({ collection: "accounts", data: { name: "Committed" } });
    expect(await accountNames()).toEqual(["Alfreds Futterkiste", "Committed", "Northwind Traders HQ"]);
    await o.restore("before-batch");
    expect(await accountNames()).toEqual(fileAccounts);
  });
});

describe("admin endpoints without an admin key", () => {
  it("answer 404", async () => {
    const o = await startOrgbox();
    try {
      const res = await fetch(`${o.url}/_orgbox/reset`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}` } });
      expect(res.status).toBe(404);
      // reset() still works in process, on the demo.
      await o.reset();
      expect((await fetch(`${o.url}/_orgbox/health`)).status).toBe(200);
    } finally {
      await o.close();
    }
  });
});
