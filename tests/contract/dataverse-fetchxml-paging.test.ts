/**
 * FetchXML paging cookies over a table larger than simple paging reaches (issue #12), on SQLite:
 * dynamics-web-api's `fetchAll` (no Prefer header) and hand-driven cookies return every row exactly once past
 * 50,000 rows, ordered by the primary key, by a non-unique text column, by a lookup with NULLs (descending); a
 * link-entity order falls back to simple paging (empty pagingcookie); cookies that do not fit are ignored; simple
 * paging keeps its 50,000-row limit; `returntotalrecordcount` counts under the caller's Read scope.
 * Rows are created with CreateMultiple (the real write path) in batches of 1000.
 */
import { DynamicsWebApi } from "dynamics-web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";
import { sampleId, SAMPLE_ACCOUNTS } from "../../src/server/demo.ts";
import { apiGet, demoToken } from "../helpers/orgbox.ts";
import { api, appUser } from "../helpers/security.ts";

/** Enough rows to cross simple paging's 50,000-row limit with count="5000" (page 11 needs the cookie). */
const ROWS = 52_000;
const BATCH = 1000;
const COOKIE = "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie";
type Page = Record<string, unknown> & { value: Record<string, unknown>[]; error?: { code: string; message: string } };

/** Row i: a name shared by ~600 rows in mixed case, and a parent account (one of the demo's) on two rows in three. */
function target(i: number): Record<string, unknown> {
  const parent = i % 3 === 0 ? {} : { "parentaccountid@odata.bind": `/accounts(${sampleId(1, i % SAMPLE_ACCOUNTS.length)})` };
  return { "@odata.type": "Microsoft.Dynamics.CRM.account", name: `${i % 2 ? "sync" : "SYNC"} ${String(i % 100).padStart(2, "0")}`, accountnumber: `SYNC-${i}`, numberofemployees: i, ...parent };
}

/** The inner cookie of a `fetchxmlpagingcookie` annotation, XML-escaped for a `paging-cookie` attribute (as the docs' step 3 says). */
function cookieAttribute(annotation: string): string {
  const inner = /pagingcookie="([^"]*)"/.exec(annotation)?.[1] ?? "";
  return decodeURIComponent(decodeURIComponent(inner)).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * SQLite only: creating 52,000 rows with CreateMultiple on the test run's PostgreSQL took over 300 s on the
 * shared machine. The keyset SQL is proven on PostgreSQL over 300 rows by tests/contract/dataverse-fetchxml-keyset.test.ts.
 */
const BACKENDS = [{ name: "sqlite", start: async () => ({ orgbox: await startOrgbox(), drop: async () => {} }) }];

describe.each(BACKENDS)("FetchXML paging cookies past 50,000 rows ($name)", (backend) => {
  let o: OrgboxInstance;
  let drop: () => Promise<void>;
  let token = "";
  let dwa: DynamicsWebApi;
  /** accountid by accountnumber index, for the rows this file created. */
  const ids = new Map<string, number>();

  beforeAll(async () => {
    ({ orgbox: o, drop } = await backend.start());
    token = await demoToken(o);
    dwa = new DynamicsWebApi({ serverUrl: `${o.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    for (let start = 0; start < ROWS; start += BATCH) {
      const res = await api(o, token, "POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", { Targets: Array.from({ length: BATCH }, (_, k) => target(start + k)) });
      expect(res.status).toBe(200);
      for (const [k, id] of ((res.body as { Ids: string[] }).Ids ?? []).entries()) ids.set(id, start + k);
    }
    expect(ids.size).toBe(ROWS);
  }, 300_000);

  afterAll(async () => {
    await o?.close();
    await drop?.();
  });

  const mine = `<filter><condition attribute="accountnumber" operator="like" value="SYNC-%" /></filter>`;

  /** Pages through a fetch by hand, sending back each page's cookie; returns the rows and the cookies' pagingcookie parts. */
  async function pageByHand(fetchXml: (page: number, cookie: string | undefined) => string, bearer = token): Promise<{ rows: Record<string, unknown>[]; cookies: string[] }> {
    const rows: Record<string, unknown>[] = [];
    const cookies: string[] = [];
    let cookie: string | undefined;
    for (let page = 1; page < 100; page++) {
      const res = await apiGet(o, bearer, `accounts?fetchXml=${encodeURIComponent(fetchXml(page, cookie))}`);
      const body = res.body as Page;
      expect(res.status, JSON.stringify(body.error)).toBe(200);
      rows.push(...body.value);
      const annotation = body[COOKIE] as string | undefined;
      if (annotation === undefined) return { rows, cookies };
      cookies.push(annotation);
      expect(annotation).toMatch(new RegExp(`^<cookie pagenumber="${page + 1}" pagingcookie="%253ccookie%2520page%253d%2522${page}%2522%253e.+" istracking="False" />$`));
      cookie = cookieAttribute(annotation);
    }
    throw new Error("more than 100 pages");
  }

  it("fetchAll (dynamics-web-api, no Prefer header) returns every row once, past simple paging's 50,000", async () => {
    const all = await dwa.fetchAll<{ accountid: string; accountnumber: string }>({ collection: "accounts", fetchXml: `<fetch count="5000"><entity name="account"><attribute name="accountnumber" />${mine}</entity></fetch>` });
    expect(all.value).toHaveLength(ROWS);
    expect(new Set(all.value.map((r) => r.accountid)).size).toBe(ROWS);
    // Ordered by the primary key, as Dataverse adds it.
    const keys = all.value.map((r) => r.accountid);
    expect(keys).toEqual([...keys].sort());
  });

  it("by hand: ordered by a non-unique text column (case-insensitive), every row once and in order", async () => {
    const fetchXml = (page: number, cookie: string | undefined) => `<fetch count="5000" page="${page}"${cookie ? ` paging-cookie="${cookie}"` : ""}><entity name="account"><attribute name="name" /><attribute name="numberofemployees" /><order attribute="name" />${mine}</entity></fetch>`;
    const { rows, cookies } = await pageByHand(fetchXml);
    expect(rows).toHaveLength(ROWS);
    expect(new Set(rows.map((r) => r.accountid)).size).toBe(ROWS);
    const sortKey = (r: Record<string, unknown>) => `${String(r.name).toLowerCase()}|${String(r.accountid)}`;
    const keys = rows.map(sortKey);
    expect(keys).toEqual([...keys].sort());
    // Dataverse's inner cookie: the order column's last/first values, then the primary key's.
    const inner = decodeURIComponent(decodeURIComponent(/pagingcookie="([^"]*)"/.exec(cookies[0] as string)?.[1] ?? ""));
    expect(inner).toMatch(/^<cookie page="1"><name last="(sync|SYNC) \d\d" first="(sync|SYNC) 00" \/><accountid last="\{[0-9A-F-]{36}\}" first="\{[0-9A-F-]{36}\}" \/><\/cookie>$/);
  });

  it("fetchAll ordered by a lookup with NULLs, descending, then a number: every row once and in order", async () => {
    const all = await dwa.fetchAll<{ accountid: string; _parentaccountid_value?: string; numberofemployees: number }>({
      collection: "accounts",
      fetchXml: `<fetch count="5000"><entity name="account"><attribute name="parentaccountid" /><attribute name="numberofemployees" /><order attribute="parentaccountid" descending="true" /><order attribute="numberofemployees" />${mine}</entity></fetch>`,
    });
    expect(all.value).toHaveLength(ROWS);
    expect(new Set(all.value.map((r) => r.accountid)).size).toBe(ROWS);
    // NULLs last when descending (Dataverse's order); then by numberofemployees ascending.
    const nulls = all.value.filter((r) => r._parentaccountid_value === undefined);
    expect(nulls).toHaveLength(Math.ceil(ROWS / 3));
    expect(all.value.slice(-nulls.length)).toEqual(nulls);
    const keyed = all.value.slice(0, ROWS - nulls.length).map((r) => [r._parentaccountid_value as string, r.numberofemployees] as const);
    for (let i = 1; i < keyed.length; i++) {
      const [p, n] = keyed[i - 1] as readonly [string, number];
      const [q, m] = keyed[i] as readonly [string, number];
      expect(p > q || (p === q && n < m)).toBe(true);
    }
  });

  it("simple paging (no cookie) still stops at 50,000 rows; the cookie of the previous page goes past it", async () => {
    const fetchXml = (page: number, cookie = "") => `<fetch count="5000" page="${page}"${cookie ? ` paging-cookie="${cookie}"` : ""}><entity name="account"><attribute name="accountnumber" />${mine}</entity></fetch>`;
    const refused = await apiGet(o, token, `accounts?fetchXml=${encodeURIComponent(fetchXml(11))}`);
    expect(refused.status).toBe(400);
    expect((refused.body as Page).error?.code).toBe("0x80060888");
    expect((refused.body as Page).error?.message).toContain("simple paging beyond 50000 rows");
    const page10 = (await apiGet(o, token, `accounts?fetchXml=${encodeURIComponent(fetchXml(10))}`)).body as Page;
    const page11 = await apiGet(o, token, `accounts?fetchXml=${encodeURIComponent(fetchXml(11, cookieAttribute(page10[COOKIE] as string)))}`);
    expect(page11.status).toBe(200);
    const first = (page11.body as Page).value[0]?.accountid as string;
    expect(first > (page10.value[page10.value.length - 1]?.accountid as string)).toBe(true);
    // A cookie for another page is ignored (non-consecutive pages): page 12 with page 10's cookie is simple paging, refused.
    const stale = await apiGet(o, token, `accounts?fetchXml=${encodeURIComponent(fetchXml(12, cookieAttribute(page10[COOKIE] as string)))}`);
    expect(stale.status).toBe(400);
    // A cookie of another query (other sort columns) is ignored too: page 2 by offset gives the same rows.
    const byName = `<cookie page="1"><name last="SYNC 50" first="SYNC 00" /><accountid last="{${String(first).toUpperCase()}}" first="{${String(first).toUpperCase()}}" /></cookie>`.replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
    const other = (await apiGet(o, token, `accounts?fetchXml=${encodeURIComponent(fetchXml(2, byName))}`)).body as Page;
    const plain = (await apiGet(o, token, `accounts?fetchXml=${encodeURIComponent(fetchXml(2))}`)).body as Page;
    expect(other.value.map((r) => r.accountid)).toEqual(plain.value.map((r) => r.accountid));
    // Not a cookie at all: 400 naming the paging-cookie.
    const bad = await apiGet(o, token, `accounts?fetchXml=${encodeURIComponent(fetchXml(2, "&lt;cookie&gt;"))}`);
    expect(bad.status).toBe(400);
    expect((bad.body as Page).error?.message).toContain("paging-cookie");
  });

  it("a link-entity order pages by number (empty pagingcookie), and fetchAll still returns every row once", async () => {
    const fetchXml = `<fetch count="500"><entity name="account"><attribute name="accountnumber" /><filter><condition attribute="numberofemployees" operator="lt" value="3000" />${mine.slice(8, -9)}</filter><link-entity name="account" from="accountid" to="parentaccountid" alias="p" link-type="outer"><attribute name="name" /><order attribute="name" descending="true" /></link-entity></entity></fetch>`;
    const first = (await apiGet(o, token, `accounts?fetchXml=${encodeURIComponent(fetchXml)}`)).body as Page;
    expect(first[COOKIE]).toBe(`<cookie pagenumber="2" pagingcookie="" istracking="False" />`);
    const all = await dwa.fetchAll<{ accountid: string }>({ collection: "accounts", fetchXml });
    expect(all.value).toHaveLength(3000);
    expect(new Set(all.value.map((r) => r.accountid)).size).toBe(3000);
  });

  it("returntotalrecordcount: @odata.count and the CRM annotations up to 5000, counted under the caller's Read scope", async () => {
    const prefer = { prefer: 'odata.include-annotations="Microsoft.Dynamics.CRM.totalrecordcount,Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"' };
    const count = (filter: string) => `<fetch count="10" returntotalrecordcount="true"><entity name="account"><attribute name="name" />${filter}</entity></fetch>`;
    const big = (await apiGet(o, token, `accounts?fetchXml=${encodeURIComponent(count(mine))}`, prefer)).body as Page;
    expect(big["@odata.count"]).toBe(5000);
    expect(big["@Microsoft.Dynamics.CRM.totalrecordcount"]).toBe(5000);
    expect(big["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"]).toBe(true);
    expect(big.value).toHaveLength(10);
    const small = (await apiGet(o, token, `accounts?fetchXml=${encodeURIComponent(count(`<filter><condition attribute="numberofemployees" operator="lt" value="1234" />${mine.slice(8, -9)}</filter>`))}`, prefer)).body as Page;
    expect(small["@odata.count"]).toBe(1234);
    expect(small["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"]).toBe(false);
    // Without Prefer, only @odata.count (fetchxml/count-rows, Web API); $count=true does the same.
    const plain = (await apiGet(o, token, `accounts?fetchXml=${encodeURIComponent(count(mine))}`)).body as Page;
    expect(plain["@odata.count"]).toBe(5000);
    expect(plain["@Microsoft.Dynamics.CRM.totalrecordcount"]).toBeUndefined();
    const dollar = (await apiGet(o, token, `accounts?$count=true&fetchXml=${encodeURIComponent(`<fetch count="10"><entity name="account"><attribute name="name" />${mine}</entity></fetch>`)}`)).body as Page;
    expect(dollar["@odata.count"]).toBe(5000);
    // top and returntotalrecordcount do not go together.
    const topped = await apiGet(o, token, `accounts?fetchXml=${encodeURIComponent(`<fetch top="5" returntotalrecordcount="true"><entity name="account" /></fetch>`)}`);
    expect(topped.status).toBe(400);

    // A user-level reader counts and pages only its own rows, cookie or not.
    const org = (await o.dataverse.service.findOrg("contoso")) as Org;
    const role = await o.dataverse.service.createRole(org, { name: "Paging basic account reader", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadAccount", depth: "Basic" }, { name: "prvCreateAccount", depth: "Basic" }] });
    const reader = await appUser(o, org, "paging basic account reader", DEMO.org.rootBusinessUnitId, [role]);
    for (let i = 0; i < 3; i++) expect((await api(o, reader.token, "POST", "accounts", { name: `Own ${i}`, accountnumber: `SYNC-OWN-${i}` })).status).toBe(204);
    const own = (await apiGet(o, reader.token, `accounts?fetchXml=${encodeURIComponent(count(mine))}`, prefer)).body as Page;
    expect(own["@odata.count"]).toBe(3);
    expect(own["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"]).toBe(false);
    const { rows } = await pageByHand((page, cookie) => `<fetch count="2" page="${page}"${cookie ? ` paging-cookie="${cookie}"` : ""}><entity name="account"><attribute name="accountnumber" /><order attribute="name" />${mine}</entity></fetch>`, reader.token);
    expect(rows.map((r) => r.accountnumber)).toEqual(["SYNC-OWN-0", "SYNC-OWN-1", "SYNC-OWN-2"]);
  });
});
