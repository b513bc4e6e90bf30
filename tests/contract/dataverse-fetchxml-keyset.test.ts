/**
 * FetchXML paging cookies (keyset) on PostgreSQL and SQLite over a small table: 300 accounts paged with
 * `count="25"`, by hand (each page's cookie sent back in `paging-cookie`) and with dynamics-web-api's `fetchAll`,
 * ordered by a non-unique mixed-case text column with NULLs (ascending and descending), by a lookup with NULLs
 * descending then a number: every row once, in the order one unpaged fetch returns them, and each page read after
 * the cookie's row even when rows before it were deleted. (tests/contract/dataverse-fetchxml-paging.test.ts covers
 * paging past 50,000 rows, on SQLite only.)
 */
import { DynamicsWebApi } from "dynamics-web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { sampleId, SAMPLE_ACCOUNTS } from "../../src/server/demo.ts";
import { systemAdministratorToken } from "../helpers/dwa.ts";
import { apiGet, demoToken } from "../helpers/orgbox.ts";
import { createTestDatabase } from "../helpers/postgres.ts";
import { api } from "../helpers/security.ts";

const ROWS = 300;
const COOKIE = "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie";
const MINE = `<filter><condition attribute="accountnumber" operator="like" value="FK-%" /></filter>`;
type Row = { accountid: string; name?: string; _parentaccountid_value?: string; numberofemployees?: number };
type Page = { value: Row[]; error?: { code: string; message: string } } & Record<string, unknown>;

/** Row i: a name shared by ~10 rows in mixed case (NULL on one row in seven), a parent on two rows in three. */
function target(i: number): Record<string, unknown> {
  const parent = i % 3 === 0 ? {} : { "parentaccountid@odata.bind": `/accounts(${sampleId(1, i % SAMPLE_ACCOUNTS.length)})` };
  const name = i % 7 === 0 ? {} : { name: `${i % 2 ? "Fk" : "FK"} ${String(i % 30).padStart(2, "0")}` };
  return { "@odata.type": "Microsoft.Dynamics.CRM.account", accountnumber: `FK-${i}`, numberofemployees: i % 11, ...name, ...parent };
}

/** The inner cookie of a `fetchxmlpagingcookie` annotation, XML-escaped for a `paging-cookie` attribute (fetchxml/page-results, step 3). */
function cookieAttribute(annotation: string): string {
  const inner = /pagingcookie="([^"]*)"/.exec(annotation)?.[1] ?? "";
  return decodeURIComponent(decodeURIComponent(inner)).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const BACKENDS = [
  {
    name: "postgres",
    start: async () => {
      const database = await createTestDatabase();
      return { orgbox: await startOrgbox({ storeUrl: database.url }), drop: () => database.drop() };
    },
  },
  { name: "sqlite", start: async () => ({ orgbox: await startOrgbox(), drop: async () => {} }) },
];

describe.each(BACKENDS)("FetchXML keyset paging cookies, 300 rows by 25 ($name)", (backend) => {
  let o: OrgboxInstance;
  let drop: () => Promise<void>;
  let token = "";
  let dwa: DynamicsWebApi;

  beforeAll(async () => {
    ({ orgbox: o, drop } = await backend.start());
    token = await demoToken(o);
    dwa = new DynamicsWebApi({ serverUrl: `${o.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    const res = await api(o, token, "POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", { Targets: Array.from({ length: ROWS }, (_, i) => target(i)) });
    expect(res.status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await o?.close();
    await drop?.();
  });

  const fetchXml = (orders: string, page?: number, cookie?: string) =>
    `<fetch count="25"${page ? ` page="${page}"` : ""}${cookie ? ` paging-cookie="${cookie}"` : ""}><entity name="account"><attribute name="name" /><attribute name="parentaccountid" /><attribute name="numberofemployees" />${orders}${MINE}</entity></fetch>`;

  /** One fetch of every row (300 < 5000: one page), in the order SQL returns them: the reference. */
  async function unpaged(orders: string): Promise<string[]> {
    const body = (await apiGet(o, token, `accounts?fetchXml=${encodeURIComponent(fetchXml(orders).replace(`count="25"`, `count="5000"`))}`)).body as Page;
    expect(body.value).toHaveLength(ROWS);
    expect(body[COOKIE]).toBeUndefined();
    return body.value.map((r) => r.accountid);
  }

  /** Pages by hand, sending each page's cookie back; `between` runs after page 1. */
  async function pageByHand(orders: string, between?: () => Promise<void>): Promise<{ rows: Row[]; cookies: string[] }> {
    const rows: Row[] = [];
    const cookies: string[] = [];
    let cookie: string | undefined;
    for (let page = 1; page < 100; page++) {
      const res = await apiGet(o, token, `accounts?fetchXml=${encodeURIComponent(fetchXml(orders, page, cookie))}`);
      const body = res.body as Page;
      expect(res.status, JSON.stringify(body.error)).toBe(200);
      rows.push(...body.value);
      const annotation = body[COOKIE] as string | undefined;
      if (annotation === undefined) return { rows, cookies };
      expect(body.value).toHaveLength(25);
      expect(annotation).toMatch(new RegExp(`^<cookie pagenumber="${page + 1}" pagingcookie="%253ccookie%2520page%253d%2522${page}%2522%253e.+" istracking="False" />$`));
      cookies.push(decodeURIComponent(decodeURIComponent(/pagingcookie="([^"]*)"/.exec(annotation)?.[1] ?? "")));
      cookie = cookieAttribute(annotation);
      if (page === 1) await between?.();
    }
    throw new Error("more than 100 pages");
  }

  const BY_NAME = `<order attribute="name" />`;
  const BY_NAME_DESC = `<order attribute="name" descending="true" />`;
  const BY_PARENT_DESC = `<order attribute="parentaccountid" descending="true" /><order attribute="numberofemployees" />`;

  it("by hand, ordered by a non-unique mixed-case text with NULLs (ascending, then descending): every row once, in order", async () => {
    for (const orders of [BY_NAME, BY_NAME_DESC]) {
      const { rows, cookies } = await pageByHand(orders);
      expect(rows.map((r) => r.accountid), orders).toEqual(await unpaged(orders));
      expect(cookies).toHaveLength(ROWS / 25 - 1);
      // NULLs first ascending, last descending; case-insensitive within.
      const nulls = rows.filter((r) => r.name === undefined);
      expect(nulls).toHaveLength(Math.ceil(ROWS / 7));
      expect(orders === BY_NAME ? rows.slice(0, nulls.length) : rows.slice(-nulls.length)).toEqual(nulls);
      const names = rows.filter((r) => r.name !== undefined).map((r) => String(r.name).toLowerCase());
      expect(names).toEqual([...names].sort((a, b) => (orders === BY_NAME ? a.localeCompare(b, "en") : b.localeCompare(a, "en"))));
    }
    // A cookie on a NULL name (the page ends inside the NULL run ascending) is written lastnull="1".
    const { cookies } = await pageByHand(BY_NAME);
    expect(cookies[0]).toMatch(/^<cookie page="1"><name lastnull="1" firstnull="1" \/><accountid last="\{[0-9A-F-]{36}\}" first="\{[0-9A-F-]{36}\}" \/><\/cookie>$/);
  });

  it("fetchAll (dynamics-web-api) ordered by a lookup with NULLs descending, then a number: every row once, in order", async () => {
    const all = await dwa.fetchAll<Row>({ collection: "accounts", fetchXml: fetchXml(BY_PARENT_DESC) });
    expect(all.value.map((r) => r.accountid)).toEqual(await unpaged(BY_PARENT_DESC));
    const nulls = all.value.filter((r) => r._parentaccountid_value === undefined);
    expect(nulls).toHaveLength(ROWS / 3);
    expect(all.value.slice(-nulls.length)).toEqual(nulls);
    const all2 = await dwa.fetchAll<Row>({ collection: "accounts", fetchXml: fetchXml(BY_NAME_DESC) });
    expect(all2.value.map((r) => r.accountid)).toEqual(await unpaged(BY_NAME_DESC));
  });

  it("the cookie's row decides, not an offset: deleting rows already returned skips none of the others", async () => {
    const before = await unpaged(BY_PARENT_DESC);
    const admin = await systemAdministratorToken(o, "fetchxml keyset admin");
    const deleted = before.slice(0, 10);
    const { rows } = await pageByHand(BY_PARENT_DESC, async () => {
      for (const id of deleted) expect((await api(o, admin, "DELETE", `accounts(${id})`)).status).toBe(204);
    });
    expect(rows.map((r) => r.accountid)).toEqual(before);
  });
});
