/**
 * A data folder written by an older build: record tables, standard columns and privileges that
 * this build added are created on start, so the org keeps working (and keeps its rows) instead of
 * failing with SQL errors. The "older build" is simulated by removing them from the SQLite file.
 */
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { DynamicsWebApi } from "dynamics-web-api";
import { afterAll, describe, expect, it } from "vitest";
import { startOrgbox } from "../../src/index.ts";
import { exportStore } from "../../src/server/export.ts";
import { adminToken } from "../helpers/orgbox.ts";

describe("data folders from older builds", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "orgbox-upgrade-"));
  const caDir = defaultTempCaDir();
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("gets the standard tables, columns and privileges added since, and keeps its rows", async () => {
    const first = await startOrgbox({ inMemory: false, dataDir, caDir });
    const prefix = "dv1_";
    let leadCount: number;
    try {
      const api = new DynamicsWebApi({ serverUrl: `${first.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => adminToken(first) });
      await api.create({ collection: "leads", data: { subject: "Kept across the upgrade", companyname: "Old Co" } });
      leadCount = await api.count({ collection: "leads" });
    } finally {
      await first.close();
    }

    // What an older build left: no annotation table, no lead.companyname column, no prvReadOpportunity.
    const db = new DatabaseSync(join(dataDir, "orgbox.sqlite"));
    db.exec(`DROP TABLE ${prefix}annotation`);
    db.exec(`ALTER TABLE ${prefix}lead DROP COLUMN companyname`);
    // Nor the account columns taken from Microsoft's table reference since (issue #12).
    for (const column of ["accountcategorycode", "creditlimit", "address1_latitude"]) db.exec(`ALTER TABLE ${prefix}account DROP COLUMN ${column}`);
    for (const column of ["address3_city", "familystatuscode"]) db.exec(`ALTER TABLE ${prefix}contact DROP COLUMN ${column}`);
    for (const column of ["budgetamount", "qualificationcomments"]) db.exec(`ALTER TABLE ${prefix}lead DROP COLUMN ${column}`);
    // Nor prvReadActivity, which the three activity tables share: it must come back once, not three times.
    for (const name of ["prvReadOpportunity", "prvReadActivity"]) {
      const privilegeId = (db.prepare(`SELECT privilegeid FROM ${prefix}privilege WHERE name = ?`).get(name) as { privilegeid: string }).privilegeid;
      db.prepare(`DELETE FROM ${prefix}roleprivileges WHERE privilegeid = ?`).run(privilegeId);
      db.prepare(`DELETE FROM ${prefix}privilege WHERE privilegeid = ?`).run(privilegeId);
    }
    db.close();

    const again = await startOrgbox({ inMemory: false, dataDir, caDir });
    try {
      const token = await adminToken(again);
      const api = new DynamicsWebApi({ serverUrl: `${again.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
      expect(await api.count({ collection: "leads" })).toBe(leadCount);
      const leads = await api.retrieveMultiple<{ subject: string; companyname: string | null }>({ collection: "leads", select: ["subject", "companyname"], filter: "subject eq 'Kept across the upgrade'" });
      expect(leads.value).toEqual([expect.objectContaining({ subject: "Kept across the upgrade", companyname: null })]);
      const account = (await api.create({ collection: "accounts", data: { name: "After the upgrade", accountcategorycode: 1, creditlimit: 50, address1_latitude: 47.6 } })) as string;
      expect(await api.retrieve({ collection: "accounts", key: account, select: ["accountcategorycode", "creditlimit", "address1_latitude"] })).toMatchObject({ accountcategorycode: 1, creditlimit: 50, address1_latitude: 47.6 });
      const contact = (await api.create({ collection: "contacts", data: { lastname: "After the upgrade", address3_city: "Lyon", familystatuscode: 1 } })) as string;
      expect(await api.retrieve({ collection: "contacts", key: contact, select: ["address3_city", "familystatuscode"] })).toMatchObject({ address3_city: "Lyon", familystatuscode: 1 });
      const lead = (await api.create({ collection: "leads", data: { subject: "After the upgrade", lastname: "Lee", budgetamount: 10, qualificationcomments: "ok" } })) as string;
      expect(await api.retrieve({ collection: "leads", key: lead, select: ["budgetamount", "qualificationcomments"] })).toMatchObject({ budgetamount: 10, qualificationcomments: "ok" });
      const note = (await api.create({ collection: "annotations", data: { subject: "A note after the upgrade" } })) as string;
      expect(note).toMatch(/^[0-9a-f-]{36}$/);
      // System Administrator holds the privilege again, at Global depth.
      const opportunities = await api.retrieveMultiple({ collection: "opportunities", select: ["name"] });
      expect(Array.isArray(opportunities.value)).toBe(true);
      const tasks = await api.retrieveMultiple({ collection: "tasks", select: ["subject"] });
      expect(Array.isArray(tasks.value)).toBe(true);
      const shared = await api.retrieveMultiple<{ name: string }>({ collection: "privileges", select: ["name"], filter: "name eq 'prvReadActivity'" });
      expect(shared.value.map((p) => p.name)).toEqual(["prvReadActivity"]);
    } finally {
      await again.close();
    }

    // A current folder is left alone: the third start adds nothing (and still works).
    const third = await startOrgbox({ inMemory: false, dataDir, caDir });
    try {
      const api = new DynamicsWebApi({ serverUrl: `${third.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => adminToken(third) });
      expect(await api.count({ collection: "annotations" })).toBe(1);
    } finally {
      await third.close();
    }
  });

  it("is upgraded by an offline command too (here export: every offline command opens it through openServices), not only by start", async () => {
    const folder = mkdtempSync(join(tmpdir(), "orgbox-upgrade-offline-"));
    try {
      const first = await startOrgbox({ inMemory: false, dataDir: folder, caDir });
      await first.close();
      const file = join(folder, "orgbox.sqlite");
      const db = new DatabaseSync(file);
      db.exec("DROP TABLE dv1_annotation");
      db.exec("ALTER TABLE dv1_lead DROP COLUMN companyname");
      db.close();

      const exported = await exportStore({ dataDir: folder });
      expect(exported.environment.orgs?.map((o) => o.name)).toEqual(["contoso"]);

      const after = new DatabaseSync(file);
      try {
        expect(after.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'dv1_annotation'").all()).toHaveLength(1);
        expect((after.prepare("PRAGMA table_info(dv1_lead)").all() as { name: string }[]).map((c) => c.name)).toContain("companyname");
      } finally {
        after.close();
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
