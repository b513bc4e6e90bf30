/**
 * Change tracking (learn.microsoft.com/power-apps/developer/data-platform/use-change-tracking-synchronize-data-external-systems)
 * with dynamics-web-api: `trackChanges` gives every row and an `@odata.deltaLink`; the delta link gives
 * the rows created or updated since, then the deleted ones as `$deletedEntity`, and a new delta link.
 */
import { DynamicsWebApi, type RetrieveMultipleRequest } from "dynamics-web-api";
import { describe, expect, it } from "vitest";
import type { Org } from "../../src/dataverse/index.ts";
import { DEMO, SAMPLE_ACCOUNTS } from "../../src/server/demo.ts";
import { failure, systemAdministratorToken, useDemoClient } from "../helpers/dwa.ts";
import { apiGet } from "../helpers/orgbox.ts";
import { appUser } from "../helpers/security.ts";

type Account = { accountid: string; name: string; "@odata.context"?: string; id?: string; reason?: string };

describe("change tracking with dynamics-web-api", () => {
  const { orgbox, dwa, token } = useDemoClient();

  it("initial sync, then only the changes: created, updated and deleted rows, and nothing when nothing changed", async () => {
    const adminToken = await systemAdministratorToken(orgbox(), "change tracking syncer");
    const admin = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => adminToken });
    const initial = await admin.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], trackChanges: true });
    expect(initial.value.map((a) => a.name).sort()).toEqual([...SAMPLE_ACCOUNTS].sort());
    const deltaLink = initial.oDataDeltaLink as string;
    expect(deltaLink).toMatch(/\/accounts\?\$select=name&\$deltatoken=\d+%21\d\d%2f\d\d%2f\d{4}%20\d\d%3a\d\d%3a\d\d$/);

    const unchanged = await admin.retrieveMultiple<Account>({ collection: "accounts" }, deltaLink);
    expect(unchanged.value).toEqual([]);

    const created = (await admin.create({ collection: "accounts", data: { name: "Tracked new" } })) as string;
    const updated = initial.value.find((a) => a.name === SAMPLE_ACCOUNTS[2])?.accountid as string;
    await admin.update({ collection: "accounts", key: updated, data: { name: "Tracked renamed" } });
    const deleted = initial.value.find((a) => a.name === SAMPLE_ACCOUNTS[5])?.accountid as string;
    await admin.deleteRecord({ collection: "accounts", key: deleted });

    const count = await apiGet(orgbox(), adminToken, `accounts/$count?${new URL(deltaLink).search.slice(1).replace(/^\$select=name&/, "")}`);
    expect(count.body).toBe(3);

    const changes = await admin.retrieveMultiple<Account>({ collection: "accounts" }, deltaLink);
    expect(changes.value.filter((r) => r.reason === undefined).map((r) => [r.accountid, r.name])).toEqual([
      [created, "Tracked new"],
      [updated, "Tracked renamed"],
    ]);
    expect(changes.value.filter((r) => r.reason !== undefined)).toMatchObject([{ "@odata.context": `${orgbox().apiUrl}/$metadata#accounts/$deletedEntity`, id: deleted, reason: "deleted" }]);
    expect(changes.oDataContext).toBe(`${orgbox().apiUrl}/$metadata#accounts(name)/$delta`);

    // The new delta link starts after these changes.
    const next = await admin.retrieveMultiple<Account>({ collection: "accounts" }, changes.oDataDeltaLink as string);
    expect(next.value).toEqual([]);
    // The old one still gives the same changes.
    const again = await admin.retrieveMultiple<Account>({ collection: "accounts" }, deltaLink);
    expect(again.value).toHaveLength(3);
  });

  it("pages a large initial sync; the delta link on the last page covers rows changed while paging", async () => {
    const o = orgbox();
    const response = await fetch(`${o.apiUrl}/contacts?$select=lastname`, { headers: { authorization: `Bearer ${token()}`, accept: "application/json", prefer: "odata.track-changes,odata.maxpagesize=15" } });
    expect(response.headers.get("preference-applied")).toContain("odata.track-changes");
    const first = (await response.json()) as { value: { contactid: string }[]; "@odata.nextLink"?: string; "@odata.deltaLink"?: string };
    expect(first["@odata.deltaLink"]).toBeUndefined();
    expect(first["@odata.nextLink"]).toContain("istracking%3d%22True%22");
    // A change made while paging is reported by the delta link (its version is after the sync's start).
    await dwa().update({ collection: "contacts", key: first.value[0]?.contactid as string, data: { lastname: "Changed while paging" } });
    const rest = await dwa().retrieveAll<{ contactid: string }>({ collection: "contacts", select: ["lastname"], trackChanges: true, maxPageSize: 15 });
    expect(rest.oDataDeltaLink).toBeDefined();
    let link: string | undefined = first["@odata.nextLink"];
    let deltaLink: string | undefined;
    let total = first.value.length;
    while (link) {
      const page = (await (await fetch(link, { headers: { authorization: `Bearer ${token()}`, accept: "application/json", prefer: "odata.track-changes,odata.maxpagesize=15" } })).json()) as { value: unknown[]; "@odata.nextLink"?: string; "@odata.deltaLink"?: string };
      total += page.value.length;
      link = page["@odata.nextLink"];
      deltaLink = page["@odata.deltaLink"];
    }
    expect(total).toBe(rest.value.length);
    const changes = await dwa().retrieveMultiple<{ lastname: string }>({ collection: "contacts" }, deltaLink as string);
    expect(changes.value.map((c) => c.lastname)).toEqual(["Changed while paging"]);
  });

  it("reports only rows the caller may read; deletions by id", async () => {
    const o = orgbox();
    const org = (await o.dataverse.service.findOrg("contoso")) as Org;
    const role = await o.dataverse.service.createRole(org, { name: "Own leads for change tracking", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: ["Read", "Create", "Write", "Delete"].map((v) => ({ name: `prv${v}Lead`, depth: "Basic" as const })) });
    const user = await appUser(o, org, "tracking own reader", DEMO.org.rootBusinessUnitId, [role]);
    const own = new DynamicsWebApi({ serverUrl: `${o.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => user.token });
    const initial = await own.retrieveMultiple({ collection: "leads", select: ["subject"], trackChanges: true });
    expect(initial.value).toEqual([]);
    await dwa().create({ collection: "leads", data: { subject: "Someone else's lead" } });
    const mine = (await own.create({ collection: "leads", data: { subject: "My lead" } })) as string;
    const changes = await own.retrieveMultiple<{ leadid: string; subject: string }>({ collection: "leads" }, initial.oDataDeltaLink as string);
    expect(changes.value.map((l) => l.subject)).toEqual(["My lead"]);
    await own.deleteRecord({ collection: "leads", key: mine });
    const after = await own.retrieveMultiple<{ id?: string; reason?: string }>({ collection: "leads" }, changes.oDataDeltaLink as string);
    expect(after.value).toMatchObject([{ id: mine, reason: "deleted" }]);
  });

  it("refuses $filter, $orderby, $top and $expand, tokens it did not issue, and tables without change tracking", async () => {
    const cases: [Partial<RetrieveMultipleRequest>, string][] = [
      [{ filter: "name ne null" }, "$filter"],
      [{ orderBy: ["name"] }, "$orderby"],
      [{ top: 3 }, "$top"],
      [{ expand: [{ property: "primarycontactid" }] }, "$expand"],
    ];
    for (const [request, option] of cases) {
      const error = await failure(dwa().retrieveMultiple({ collection: "accounts", select: ["name"], trackChanges: true, ...request }));
      expect(error.status).toBe(400);
      expect(error.message).toBe(`The query parameter ${option} is not supported when change tracking is enabled.`);
    }
    const forged = await apiGet(orgbox(), token(), "accounts?$select=name&$deltatoken=abc");
    expect(forged.status).toBe(400);
    expect(JSON.stringify(forged.body)).toContain("$deltatoken");
    const untracked = await failure(dwa().retrieveMultiple({ collection: "roles", select: ["name"], trackChanges: true }));
    expect(untracked.message).toContain("Change tracking is not enabled for the table 'role'");
    const admin = await systemAdministratorToken(orgbox(), "change tracking metadata reader");
    const definitions = await apiGet(orgbox(), admin, "EntityDefinitions?$select=LogicalName,ChangeTrackingEnabled&$filter=LogicalName eq 'account' or LogicalName eq 'role'");
    expect((definitions.body as { value: { LogicalName: string; ChangeTrackingEnabled: boolean }[] }).value.map((d) => [d.LogicalName, d.ChangeTrackingEnabled]).sort()).toEqual([
      ["account", true],
      ["role", false],
    ]);
  });
});
