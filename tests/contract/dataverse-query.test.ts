import { DynamicsWebApi } from "dynamics-web-api";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO, SAMPLE_ACCOUNTS, SAMPLE_PEOPLE, sampleId } from "../../src/server/demo.ts";
import { SEEDED_ACCOUNTS, failure } from "../helpers/dwa.ts";
import { apiGet, demoToken, useOrgbox } from "../helpers/orgbox.ts";

const ACCOUNTS = SEEDED_ACCOUNTS;
/** The seeded contacts: 40, each pointing at account `i % 20`. */
const CONTACTS = Array.from({ length: SAMPLE_PEOPLE.length * 2 }, (_, i) => ({
  contactid: sampleId(2, i),
  firstname: (SAMPLE_PEOPLE[i % SAMPLE_PEOPLE.length] as readonly [string, string])[0],
  parentcustomerid: sampleId(1, i % SAMPLE_ACCOUNTS.length),
}));

const byLowerName = (a: { name: string }, b: { name: string }) => (a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0);
const ids = (rows: { accountid?: string }[]) => rows.map((r) => r.accountid).sort();

type Account = { accountid: string; name: string; [key: string]: unknown };
type Collection = { value: Record<string, unknown>[]; "@odata.nextLink"?: string; "@odata.count"?: number; [key: string]: unknown };

describe("Dataverse query side with dynamics-web-api", () => {
  const orgbox = useOrgbox();
  let token = "";
  let dwa: DynamicsWebApi;

  beforeAll(async () => {
    token = await demoToken(orgbox());
    dwa = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
  });

  it("filters with startswith and orders descending, case-insensitively", async () => {
    const res = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter: "startswith(name,'a')", orderBy: ["name desc"] });
    const expected = ACCOUNTS.filter((a) => a.name.toLowerCase().startsWith("a")).sort(byLowerName).reverse().map((a) => a.name);
    expect(expected.length).toBeGreaterThan(1);
    expect(res.value.map((r) => r.name)).toEqual(expected);
    expect(Object.keys(res.value[0] ?? {}).sort()).toEqual(["@odata.etag", "accountid", "name"]);
  });

  it("combines and/or/not with parentheses, numbers, booleans and option sets", async () => {
    const res = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter: "revenue gt 900000 and (creditonhold eq true or industrycode eq 31) and not (address1_city eq 'Tokyo')" });
    const expected = ACCOUNTS.filter((a) => a.revenue > 900000 && (a.creditonhold || a.industrycode === 31) && a.address1_city !== "Tokyo");
    expect(expected.length).toBeGreaterThan(0);
    expect(ids(res.value)).toEqual(ids(expected));
  });

  it("compares strings case-insensitively and escapes quotes", async () => {
    const res = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter: "name eq 'MARGIE''S TRAVEL'" });
    expect(res.value.map((r) => r.name)).toEqual(["Margie's Travel"]);
  });

  it("treats % and _ as wildcards in contains and [c] as a literal character", async () => {
    const wildcard = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter: "contains(name,'o_o')" });
    expect(wildcard.value.map((r) => r.name).sort()).toEqual(ACCOUNTS.filter((a) => /o.o/i.test(a.name)).map((a) => a.name).sort());
    const literal = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter: "contains(name,'[&]')" });
    expect(literal.value.map((r) => r.name)).toEqual(["City Power & Light"]);
    const none = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter: "contains(name,'[%]')" });
    expect(none.value).toEqual([]);
  });

  it("filters on lookup values, lookup paths and any() over a collection navigation property", async () => {
    const account = ACCOUNTS[0] as (typeof ACCOUNTS)[number];
    const byValue = await dwa.retrieveMultiple({ collection: "contacts", select: ["fullname", "_parentcustomerid_value"], filter: `_parentcustomerid_value eq ${account.accountid}` });
    const expected = CONTACTS.filter((c) => c.parentcustomerid === account.accountid).map((c) => c.contactid).sort();
    expect(byValue.value.map((c: { contactid: string }) => c.contactid).sort()).toEqual(expected);

    const byPath = await dwa.retrieveMultiple({ collection: "contacts", select: ["fullname"], filter: `parentcustomerid_account/name eq '${account.name}'` });
    expect(byPath.value.map((c: { contactid: string }) => c.contactid).sort()).toEqual(expected);

    const any = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter: "contact_customer_accounts/any(c: c/firstname eq 'Nancy')" });
    const nancy = new Set(CONTACTS.filter((c) => c.firstname === "Nancy").map((c) => c.parentcustomerid));
    expect(ids(any.value)).toEqual([...nancy].sort());
  });

  it("compares two columns", async () => {
    const res = await apiGet(orgbox(), token, "accounts?$select=name&$filter=numberofemployees gt industrycode");
    expect(res.status).toBe(200);
    expect(ids((res.body as Collection).value as Account[])).toEqual(ids(ACCOUNTS.filter((a) => a.numberofemployees > a.industrycode)));
  });

  it("runs Microsoft.Dynamics.CRM query functions with parameter aliases", async () => {
    const inCities = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter: "Microsoft.Dynamics.CRM.In(PropertyName='address1_city',PropertyValues=@p1)", queryParams: ['@p1=["Paris","Tokyo"]'] });
    expect(ids(inCities.value)).toEqual(ids(ACCOUNTS.filter((a) => ["Paris", "Tokyo"].includes(a.address1_city))));

    const between = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter: `Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=["50","100"])` });
    expect(ids(between.value)).toEqual(ids(ACCOUNTS.filter((a) => a.numberofemployees >= 50 && a.numberofemployees <= 100)));

    const notIn = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter: `Microsoft.Dynamics.CRM.NotIn(PropertyName='industrycode',PropertyValues=["1","7"])` });
    expect(ids(notIn.value)).toEqual(ids(ACCOUNTS.filter((a) => ![1, 7].includes(a.industrycode))));

    const alias = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter: "name eq @p1", queryParams: ["@p1='Fourth Coffee'"] });
    expect(alias.value.map((a) => a.name)).toEqual(["Fourth Coffee"]);
  });

  it("evaluates date and caller functions against the clock and the caller", async () => {
    const count = async (filter: string) => dwa.count({ collection: "accounts", filter });
    expect(await count("Microsoft.Dynamics.CRM.LastXHours(PropertyName='createdon',PropertyValue=2)")).toBe(ACCOUNTS.length);
    expect(await count("Microsoft.Dynamics.CRM.ThisYear(PropertyName='createdon')")).toBe(ACCOUNTS.length);
    expect(await count("Microsoft.Dynamics.CRM.Yesterday(PropertyName='createdon')")).toBe(0);
    expect(await count("Microsoft.Dynamics.CRM.OnOrBefore(PropertyName='createdon',PropertyValue='2001-01-01')")).toBe(0);
    expect(await count("Microsoft.Dynamics.CRM.OnOrAfter(PropertyName='createdon',PropertyValue='2001-01-01')")).toBe(ACCOUNTS.length);
    // The seed's rows are owned by the admin user; the demo app's application user is the caller.
    expect(await count("Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')")).toBe(0);
    expect(await count("Microsoft.Dynamics.CRM.NotEqualUserId(PropertyName='ownerid')")).toBe(ACCOUNTS.length);
    expect(await count("Microsoft.Dynamics.CRM.EqualBusinessId(PropertyName='owningbusinessunit')")).toBe(ACCOUNTS.length);
    expect(await count(`_ownerid_value eq ${DEMO.org.adminSystemUserId}`)).toBe(ACCOUNTS.length);
  });

  it("pages with odata.maxpagesize and retrieveAll follows nextLink to the end", async () => {
    const all = await dwa.retrieveAll<Account>({ collection: "accounts", select: ["name"], orderBy: ["name"], maxPageSize: 7 });
    expect(all.value.map((a) => a.name)).toEqual([...ACCOUNTS].sort(byLowerName).map((a) => a.name));
    const filtered = await dwa.retrieveAll<Account>({ collection: "contacts", select: ["fullname"], filter: "startswith(firstname,'N') or startswith(firstname,'A')", maxPageSize: 1 });
    expect(filtered.value).toHaveLength(CONTACTS.filter((c) => /^[NA]/.test(c.firstname)).length);
  });

  it("emits paging annotations only while rows remain, and the nextLink replays verbatim", async () => {
    const first = await apiGet(orgbox(), token, "accounts?$select=name&$orderby=numberofemployees desc&$count=true", { prefer: 'odata.maxpagesize=15,odata.include-annotations="*"' });
    expect(first.status).toBe(200);
    expect(first.headers.get("preference-applied")).toBe('odata.include-annotations="*",odata.maxpagesize=15');
    const page1 = first.body as Collection;
    expect(page1.value).toHaveLength(15);
    expect(page1["@odata.count"]).toBe(ACCOUNTS.length);
    expect(page1["@Microsoft.Dynamics.CRM.totalrecordcount"]).toBe(ACCOUNTS.length);
    expect(page1["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"]).toBe(false);
    const link = page1["@odata.nextLink"] as string;
    expect(link.startsWith(`${orgbox().apiUrl}/accounts?`)).toBe(true);
    const skiptoken = new URL(link).searchParams.get("$skiptoken") as string;
    expect(skiptoken).toMatch(/^<cookie pagenumber="2" pagingcookie="%253ccookie[^"]*" istracking="False" \/>$/i);

    const second = await fetch(link, { headers: { authorization: `Bearer ${token}`, prefer: "odata.maxpagesize=15" } });
    const page2 = (await second.json()) as Collection;
    expect(page2.value).toHaveLength(ACCOUNTS.length - 15);
    expect(page2["@odata.nextLink"]).toBeUndefined();
    const names = [...page1.value, ...page2.value].map((r) => r.name);
    expect(names).toEqual([...ACCOUNTS].sort((a, b) => b.numberofemployees - a.numberofemployees).map((a) => a.name));
  });

  it("lets $top win over the page size", async () => {
    const res = await apiGet(orgbox(), token, "accounts?$select=name&$top=5", { prefer: "odata.maxpagesize=2" });
    const body = res.body as Collection;
    expect(body.value).toHaveLength(5);
    expect(body["@odata.nextLink"]).toBeUndefined();
  });

  it("counts with /$count (text/plain) and $count=true, with and without a filter", async () => {
    expect(await dwa.count({ collection: "accounts" })).toBe(ACCOUNTS.length);
    expect(await dwa.count({ collection: "accounts", filter: "creditonhold eq true" })).toBe(ACCOUNTS.filter((a) => a.creditonhold).length);
    const res = await fetch(`${orgbox().apiUrl}/contacts/$count?$filter=${encodeURIComponent("firstname eq 'Nancy'")}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await res.text()).toBe(String(CONTACTS.filter((c) => c.firstname === "Nancy").length));
  });

  it("annotates option sets, booleans, money, numbers and lookups", async () => {
    const account = ACCOUNTS[0] as (typeof ACCOUNTS)[number];
    const res = await dwa.retrieveMultiple({
      collection: "accounts",
      select: ["name", "industrycode", "creditonhold", "revenue", "numberofemployees"],
      filter: `accountid eq ${account.accountid}`,
      includeAnnotations: "*",
    });
    const row = res.value[0] as Record<string, unknown>;
    const F = "@OData.Community.Display.V1.FormattedValue";
    expect(row[`industrycode${F}`]).toBe("Accounting");
    expect(row[`creditonhold${F}`]).toBe("Yes");
    expect(row[`revenue${F}`]).toBe("$100,000.00");
    expect(row[`numberofemployees${F}`]).toBe("30");
    // Selecting money returns the currency lookup, annotated.
    expect(row._transactioncurrencyid_value).toBe(DEMO.org.baseCurrencyId);
    expect(row[`_transactioncurrencyid_value${F}`]).toBe("US Dollar");
    expect(row["_transactioncurrencyid_value@Microsoft.Dynamics.CRM.lookuplogicalname"]).toBe("transactioncurrency");
    expect(row["_transactioncurrencyid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"]).toBe("transactioncurrencyid");
    // dynamics-web-api turns the annotations into its own properties.
    expect(row.industrycode_Formatted).toBe("Accounting");
    expect(row._transactioncurrencyid_value_LogicalName).toBe("transactioncurrency");

    const contact = await apiGet(orgbox(), token, `contacts(${sampleId(2, 0)})?$select=fullname,_parentcustomerid_value`, { prefer: 'odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.*"' });
    const body = contact.body as Record<string, unknown>;
    expect(body[`_parentcustomerid_value${F}`]).toBe(account.name);
    expect(body["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"]).toBe("account");
    expect(body["_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty"]).toBe("parentcustomerid_account");
    expect(Object.keys(body).indexOf(`_parentcustomerid_value${F}`)).toBeLessThan(Object.keys(body).indexOf("_parentcustomerid_value"));
  });

  it("sends no annotations unless asked", async () => {
    const res = await apiGet(orgbox(), token, "accounts?$select=industrycode&$top=1");
    expect(Object.keys(((res.body as Collection).value[0] ?? {}) as object).some((k) => k.includes("@OData"))).toBe(false);
  });

  it("returns the same rows as a reference evaluator for random filters (fast-check)", async () => {
    type Row = (typeof ACCOUNTS)[number];
    type Gen = { text: string; test: (row: Row) => boolean };
    const ops = ["eq", "ne", "gt", "ge", "lt", "le"] as const;
    const cmp = (op: (typeof ops)[number], a: number | string, b: number | string) => ({ eq: a === b, ne: a !== b, gt: a > b, ge: a >= b, lt: a < b, le: a <= b })[op];
    const numeric = fc.tuple(fc.constantFrom("numberofemployees", "revenue", "industrycode"), fc.constantFrom(...ops), fc.integer({ min: 0, max: 2_100_000 })).map(([column, op, n]): Gen => ({
      text: `${column} ${op} ${n}`,
      test: (row) => cmp(op, row[column as "revenue"], n),
    }));
    const names = fc.constantFrom(...ACCOUNTS.map((a) => a.name), "m", "Z", "contoso ltd");
    const text = fc.tuple(fc.constantFrom(...ops), names).map(([op, v]): Gen => ({
      text: `name ${op} '${v.replace(/'/g, "''")}'`,
      test: (row) => cmp(op, row.name.toLowerCase(), v.toLowerCase()),
    }));
    const fragment = fc.constantFrom("o", "in", "ar", "e", "x", "tr");
    const strings = fc.tuple(fc.constantFrom("contains", "startswith", "endswith"), fragment).map(([fn, v]): Gen => ({
      text: `${fn}(name,'${v}')`,
      test: (row) => (fn === "contains" ? row.name.toLowerCase().includes(v) : fn === "startswith" ? row.name.toLowerCase().startsWith(v) : row.name.toLowerCase().endsWith(v)),
    }));
    const bool = fc.boolean().map((b): Gen => ({ text: `creditonhold eq ${b}`, test: (row) => row.creditonhold === b }));
    const leaf = fc.oneof(numeric, text, strings, bool);
    const { expr } = fc.letrec<{ expr: Gen }>((tie) => ({
      expr: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        leaf,
        fc.tuple(tie("expr"), fc.constantFrom("and", "or"), tie("expr")).map(([l, op, r]): Gen => ({ text: `(${l.text} ${op} ${r.text})`, test: (row) => (op === "and" ? l.test(row) && r.test(row) : l.test(row) || r.test(row)) })),
        tie("expr").map((e): Gen => ({ text: `not ${e.text.startsWith("(") ? e.text : `(${e.text})`}`, test: (row) => !e.test(row) })),
      ),
    }));
    await fc.assert(
      fc.asyncProperty(expr, async (gen) => {
        const res = await apiGet(orgbox(), token, `accounts?$select=accountid&$filter=${encodeURIComponent(gen.text)}`);
        expect(res.status, gen.text).toBe(200);
        expect(ids((res.body as Collection).value as Account[]), gen.text).toEqual(ids(ACCOUNTS.filter(gen.test)));
      }),
      { numRuns: 150 },
    );
  });

  it("runs filters of more than a thousand conditions (deeper than SQLite's expression limit if nested), sent directly and through $batch", async () => {
    const excluded = ACCOUNTS.slice(0, 3);
    const conditions = [...excluded.map((a) => `accountid ne ${a.accountid}`), ...Array.from({ length: 1200 }, (_, i) => `name ne 'x${i}'`)];
    const filter = conditions.join(" and ");
    // dynamics-web-api sends a URL over 2000 characters as a one-part $batch.
    const viaBatch = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter });
    expect(ids(viaBatch.value)).toEqual(ids(ACCOUNTS.slice(3)));
    // A direct GET: Dataverse takes URLs up to 32 KB.
    const path = `accounts?$select=name&$filter=${encodeURIComponent(filter)}`;
    expect(path.length).toBeGreaterThan(16 * 1024);
    expect(path.length).toBeLessThan(32 * 1024);
    const direct = await apiGet(orgbox(), token, path);
    expect(direct.status).toBe(200);
    expect(ids((direct.body as { value: Account[] }).value)).toEqual(ids(ACCOUNTS.slice(3)));
    const anyOf = Array.from({ length: 1200 }, (_, i) => `name eq 'x${i}'`).concat([`name eq '${excluded[0]?.name.replace(/'/g, "''")}'`]).join(" or ");
    const or = await dwa.retrieveMultiple<Account>({ collection: "accounts", select: ["name"], filter: anyOf });
    expect(ids(or.value)).toEqual([excluded[0]?.accountid]);
  });

  describe("errors", () => {
    it("refuses a $filter nested more than 100 levels deep, and out-of-range X of the …X… functions", async () => {
      const nested = await failure(dwa.retrieveMultiple({ collection: "accounts", filter: `${"(".repeat(150)}name eq 'a'${")".repeat(150)}` }));
      expect(nested.status).toBe(400);
      expect(nested.code).toBe("0x80060888");
      expect(nested.message).toContain("nests deeper than 100 levels");
      const nots = await failure(dwa.retrieveMultiple({ collection: "accounts", filter: `${"not ".repeat(150)}name eq 'a'` }));
      expect(nots.message).toContain("nests deeper than 100 levels");
      const huge = await failure(dwa.retrieveMultiple({ collection: "accounts", filter: "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=99999999999)" }));
      expect(huge.status).toBe(400);
      expect(huge.message).toContain("must be a whole number from 0 to 2147483647");
      // The largest X is past what a date holds: the range is open on that side, or empty.
      expect(await dwa.count({ collection: "accounts", filter: "Microsoft.Dynamics.CRM.LastXYears(PropertyName='createdon',PropertyValue=2147483647)" })).toBe(ACCOUNTS.length);
      expect(await dwa.count({ collection: "accounts", filter: "Microsoft.Dynamics.CRM.OlderThanXDays(PropertyName='createdon',PropertyValue=2147483647)" })).toBe(0);
    });

    it("names an unknown property", async () => {
      const error = await failure(dwa.retrieveMultiple({ collection: "accounts", filter: "nosuchcolumn eq 1" }));
      expect(error.status).toBe(400);
      expect(error.message).toBe("Could not find a property named 'nosuchcolumn' on type 'Microsoft.Dynamics.CRM.account'.");
      const orderBy = await failure(dwa.retrieveMultiple({ collection: "accounts", orderBy: ["nosuch desc"] }));
      expect(orderBy.message).toContain("'nosuch'");
    });

    it("reports syntax errors with 0x80060888", async () => {
      const error = await failure(dwa.retrieveMultiple({ collection: "accounts", filter: "name eq 'unterminated" }));
      expect(error.status).toBe(400);
      expect(error.code).toBe("0x80060888");
      expect(error.message).toMatch(/unterminated string literal/);
      const typeError = await failure(dwa.retrieveMultiple({ collection: "accounts", filter: "name eq 5" }));
      expect(typeError.message).toContain("incompatible types");
    });

    it("names unsupported functions and operators, and refuses $skip", async () => {
      const fn = await failure(dwa.retrieveMultiple({ collection: "accounts", filter: "tolower(name) eq 'x'" }));
      expect(fn.message).toContain("tolower");
      const crm = await failure(dwa.retrieveMultiple({ collection: "accounts", filter: "Microsoft.Dynamics.CRM.Under(PropertyName='accountid',PropertyValue='x')" }));
      expect(crm.message).toContain("Microsoft.Dynamics.CRM.Under");
      const multi = await failure(dwa.retrieveMultiple({ collection: "accounts", filter: "Microsoft.Dynamics.CRM.ContainValues(PropertyName='industrycode',PropertyValues=['1'])" }));
      expect(multi.message).toContain("multi-select");
      const skip = await apiGet(orgbox(), token, "accounts?$skip=2");
      expect(skip.status).toBe(400);
      expect(JSON.stringify(skip.body)).toContain("$skip");
      const badToken = await apiGet(orgbox(), token, "accounts?$skiptoken=abc");
      expect(badToken.status).toBe(400);
    });
  });
});
