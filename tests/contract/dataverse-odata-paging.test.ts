/**
 * OData server-driven paging by keyset, on SQLite and PostgreSQL: dynamics-web-api's `retrieveAll` and
 * `retrieveMultiple` with `maxPageSize` over 3000 accounts, ordered by non-unique columns (mixed-case text with
 * NULLs, descending; a lookup; an option set, a date and money with NULLs), return every row once and in the order
 * one unpaged read returns them, even when `$select` leaves the sort columns out; rows created or deleted between
 * pages neither repeat nor skip the other rows (the `$skiptoken` carries the last row's sort values, not an offset);
 * `$count` counts every page's whole result.
 */
import { DynamicsWebApi } from "dynamics-web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { sampleId, SAMPLE_ACCOUNTS } from "../../src/server/demo.ts";
import { systemAdministratorToken } from "../helpers/dwa.ts";
import { apiGet, demoToken } from "../helpers/orgbox.ts";
import { createTestDatabase } from "../helpers/postgres.ts";
import { api } from "../helpers/security.ts";

const ROWS = 3000;
const BATCH = 1000;
const MINE = "startswith(accountnumber,'KS-')";
type Account = { accountid: string; accountnumber: string; name?: string | null };

/** Row i: a name shared by ~70 rows in mixed case (NULL on one row in nine), money and an option set with NULLs, a parent on two rows in three. */
function target(i: number): Record<string, unknown> {
  const parent = i % 3 === 0 ? {} : { "parentaccountid@odata.bind": `/accounts(${sampleId(1, i % SAMPLE_ACCOUNTS.length)})` };
  const name = i % 9 === 0 ? {} : { name: `${i % 2 ? "Key" : "KEY"} ${String(i % 40).padStart(2, "0")}` };
  const revenue = i % 5 === 0 ? {} : { revenue: (i % 13) * 1000.5 };
  const industry = i % 4 === 0 ? {} : { industrycode: [1, 7, 13][i % 3] };
  return { "@odata.type": "Microsoft.Dynamics.CRM.account", accountnumber: `KS-${i}`, numberofemployees: i % 17, ...name, ...revenue, ...industry, ...parent };
}

const BACKENDS = [
  { name: "sqlite", start: async () => ({ orgbox: await startOrgbox(), drop: async () => {} }) },
  {
    name: "postgres",
    start: async () => {
      const database = await createTestDatabase();
      return { orgbox: await startOrgbox({ storeUrl: database.url }), drop: () => database.drop() };
    },
  },
];

describe.each(BACKENDS)("OData keyset paging ($name)", (backend) => {
  let o: OrgboxInstance;
  let drop: () => Promise<void>;
  let token = "";
  let dwa: DynamicsWebApi;

  beforeAll(async () => {
    ({ orgbox: o, drop } = await backend.start());
    token = await demoToken(o);
    dwa = new DynamicsWebApi({ serverUrl: `${o.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    for (let start = 0; start < ROWS; start += BATCH) {
      const res = await api(o, token, "POST", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", { Targets: Array.from({ length: BATCH }, (_, k) => target(start + k)) });
      expect(res.status).toBe(200);
    }
  }, 240_000);

  afterAll(async () => {
    await o?.close();
    await drop?.();
  });

  /** The rows of one unpaged read (3000 < 5000: one page), in the order SQL returns them: the reference. */
  async function unpaged(orderBy: string[]): Promise<string[]> {
    const all = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["accountnumber"], filter: MINE, orderBy });
    expect(all.oDataNextLink).toBeUndefined();
    expect(all.value).toHaveLength(ROWS);
    return all.value.map((r) => r.accountid);
  }

  it("retrieveAll, descending by a non-unique mixed-case text with NULLs: every row once, in order (NULLs last), each page the same size", async () => {
    const all = await dwa.retrieveAll<Account>({ collection: "accounts", select: ["name", "accountnumber"], filter: MINE, orderBy: ["name desc"], maxPageSize: 250 });
    expect(all.value).toHaveLength(ROWS);
    expect(new Set(all.value.map((r) => r.accountid)).size).toBe(ROWS);
    // Case-insensitive descending, NULLs last, ties by the primary key ascending.
    const named = all.value.filter((r) => r.name !== undefined && r.name !== null);
    expect(all.value.slice(named.length).every((r) => r.name === null || r.name === undefined)).toBe(true);
    expect(ROWS - named.length).toBe(Math.ceil(ROWS / 9));
    for (let i = 1; i < named.length; i++) {
      const [a, b] = [named[i - 1] as Account, named[i] as Account];
      const [x, y] = [String(a.name).toLowerCase(), String(b.name).toLowerCase()];
      expect(x > y || (x === y && a.accountid < b.accountid), `${a.name}/${a.accountid} before ${b.name}/${b.accountid}`).toBe(true);
    }
    expect(all.value.map((r) => r.accountid)).toEqual(await unpaged(["name desc"]));
  });

  it("retrieveAll ordered by a lookup (descending), an option set, a date and money, none of them selected: the unpaged order", async () => {
    for (const orderBy of [["_parentaccountid_value desc", "numberofemployees"], ["industrycode desc", "createdon desc", "revenue"], ["revenue desc", "name"]]) {
      const all = await dwa.retrieveAll<Account>({ collection: "accounts", select: ["accountnumber"], filter: MINE, orderBy, maxPageSize: 400 });
      expect(all.value.map((r) => r.accountid), orderBy.join(",")).toEqual(await unpaged(orderBy));
      // $select is honoured: the sort columns were read for the cookie only.
      expect(Object.keys(all.value[0] as object)).not.toContain("revenue");
    }
  });

  it("the $skiptoken is Dataverse's cookie carrying the last row's sort values and primary key; $count counts every page's whole result", async () => {
    const first = (await apiGet(o, token, `accounts?$select=accountnumber&$filter=${encodeURIComponent(MINE)}&$orderby=name desc,revenue&$count=true`, { prefer: "odata.maxpagesize=100" })).body as { value: Account[]; "@odata.count": number; "@odata.nextLink": string };
    expect(first["@odata.count"]).toBe(ROWS);
    const token1 = new URL(first["@odata.nextLink"]).searchParams.get("$skiptoken") as string;
    const outer = /^<cookie pagenumber="2" pagingcookie="(%253ccookie%2520page%253d%25221%2522%253e[^"]+)" istracking="False" \/>$/.exec(token1);
    expect(outer, token1).not.toBeNull();
    const inner = decodeURIComponent(decodeURIComponent(outer?.[1] as string));
    const last = first.value[first.value.length - 1] as Account;
    expect(inner).toMatch(new RegExp(`^<cookie page="1"><name last="(Key|KEY) \\d\\d" first="(Key|KEY) 39" desc="1" /><revenue (last="[\\d.]+"|lastnull="1") (first="[\\d.]+"|firstnull="1") /><accountid last="\\{${last.accountid.toUpperCase()}\\}" first="\\{[0-9A-F-]{36}\\}" /></cookie>$`));
    const second = (await apiGet(o, token, first["@odata.nextLink"].slice(o.apiUrl.length + 1), { prefer: "odata.maxpagesize=100" })).body as { value: Account[]; "@odata.count": number; "@odata.nextLink": string };
    expect(second["@odata.count"]).toBe(ROWS);
    expect(second.value).toHaveLength(100);
    expect(second["@odata.nextLink"]).toContain(encodeURIComponent('<cookie pagenumber="3"'));
    const reference = await unpaged(["name desc", "revenue"]);
    expect([...first.value, ...second.value].map((r) => r.accountid)).toEqual(reference.slice(0, 200));
    // The same token with another $orderby is refused, not misread.
    const other = await apiGet(o, token, `accounts?$select=accountnumber&$orderby=name asc,revenue&$skiptoken=${encodeURIComponent(token1)}`);
    expect(other.status).toBe(400);
    expect((other.body as { error: { code: string; message: string } }).error).toMatchObject({ code: "0x80060888", message: expect.stringContaining("another order") });
  });

  it("change tracking: the initial read and the delta read page by keyset (istracking, deltastart), every row once", async () => {
    const prefer = { prefer: "odata.track-changes,odata.maxpagesize=7" };
    const pages = async (path: string) => {
      const rows: { accountid?: string; id?: string }[] = [];
      let link: string | undefined = path;
      let delta: string | undefined;
      while (link !== undefined) {
        const res = await apiGet(o, token, link, prefer);
        const body = res.body as { value: { accountid?: string; id?: string }[]; "@odata.nextLink"?: string; "@odata.deltaLink"?: string };
        expect(res.status, `${link} ${JSON.stringify(res.body)}`).toBe(200);
        rows.push(...body.value);
        if (body["@odata.nextLink"]) expect(body["@odata.nextLink"]).toContain("istracking%3d%22True%22");
        link = body["@odata.nextLink"]?.slice(o.apiUrl.length + 1);
        delta = body["@odata.deltaLink"];
      }
      return { rows, delta: (delta as string).slice(o.apiUrl.length + 1) };
    };
    const initial = await dwa.retrieveAll<Account>({ collection: "accounts", select: ["accountnumber"], trackChanges: true, maxPageSize: 500 });
    expect(new Set(initial.value.map((r) => r.accountid)).size).toBe(initial.value.length);
    expect(initial.value.filter((r) => r.accountnumber?.startsWith("KS-"))).toHaveLength(ROWS);
    const { delta } = await pages(`accounts?$select=accountnumber`);
    const admin = await systemAdministratorToken(o, "keyset delta writer");
    const updated = (await unpaged(["name desc"])).slice(0, 40);
    for (const id of updated) expect((await api(o, admin, "PATCH", `accounts(${id})`, { telephone1: "555-0100" })).status).toBe(204);
    const changes = await pages(delta);
    expect(changes.rows.map((r) => r.accountid)).toEqual(updated);
  });

  it("rows created or deleted between pages neither repeat nor skip the other rows (keyset, not offset)", async () => {
    const orderBy = ["name desc"];
    const before = await unpaged(orderBy);
    let page = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["name", "accountnumber"], filter: MINE, orderBy, maxPageSize: 300 });
    const seen = page.value.map((r) => r.accountid);
    expect(seen).toEqual(before.slice(0, 300));
    // Delete 20 rows already returned (an offset would now skip 20 rows) and 10 not yet returned (as a System Administrator: the demo app may not delete).
    const admin = await systemAdministratorToken(o, "keyset paging admin");
    const writer = new DynamicsWebApi({ serverUrl: `${o.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => admin });
    const deletedSeen = seen.slice(0, 20);
    const deletedAhead = before.slice(1000, 1010);
    for (const id of [...deletedSeen, ...deletedAhead]) await writer.deleteRecord({ collection: "accounts", key: id });
    // New rows: one sorting before the cursor ("key 99" > "key 3x" descending: not returned), two after it (NULL names sort last descending).
    const ahead: string[] = [];
    await writer.create({ collection: "accounts", data: { name: "key 99", accountnumber: "KS-new-0" } });
    for (const k of [1, 2]) ahead.push(((await writer.create({ collection: "accounts", data: { accountnumber: `KS-new-${k}` }, returnRepresentation: true, select: ["accountid"] })) as Account).accountid);
    while (page.oDataNextLink) {
      page = await dwa.retrieveMultiple<Account>({ collection: "accounts", maxPageSize: 300 }, page.oDataNextLink);
      seen.push(...page.value.map((r) => r.accountid));
    }
    const expected = [...before.slice(0, 300), ...before.slice(300).filter((id) => !deletedAhead.includes(id))];
    const rest = seen.slice(300);
    expect(new Set(seen).size).toBe(seen.length);
    expect(rest.filter((id) => !ahead.includes(id))).toEqual(expected.slice(300));
    expect(rest.filter((id) => ahead.includes(id)).sort()).toEqual([...ahead].sort());
    expect(seen).toHaveLength(ROWS - 10 + 2);
  });
});
