/**
 * Environments as code: `reset()`, `snapshot()`/`restore()` and the `/_orgbox/`
 * admin endpoints.
 */
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { describe, expect, it } from "vitest";
import { startOrgbox, type OrgboxInstance } from "../../src/index.ts";
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
