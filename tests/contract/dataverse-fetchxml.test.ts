/**
 * FetchXML over the Web API (`GET /{set}?fetchXml=…`) driven by dynamics-web-api's `fetch` and `fetchAll`:
 * paging with the `fetchxmlpagingcookie` annotation (omitted on the last page), link-entities with aliased
 * columns, aggregates with groupby, the caller's Read scope on linked tables, and 400s for bad FetchXML.
 */
import { DynamicsWebApi } from "dynamics-web-api";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO, type OrgboxInstance } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";
import { SAMPLE_ACCOUNTS, SAMPLE_PEOPLE, sampleId } from "../../src/server/demo.ts";
import { apiGet, demoToken, useOrgbox } from "../helpers/orgbox.ts";
import { useDemoClient } from "../helpers/dwa.ts";
import { appUser } from "../helpers/security.ts";

const ACCOUNT_CITIES = SAMPLE_ACCOUNTS.map((_, i) => ["Seattle", "Redmond", "London", "Paris", "Berlin", "Sydney", "Toronto", "Tokyo"][i % 8] as string);
const CONTACT_COUNT = SAMPLE_PEOPLE.length * 2;
type ErrorBody = { error: { code: string; message: string } };

describe("FetchXML with dynamics-web-api", () => {
  const orgbox = useOrgbox();
  let dwa: DynamicsWebApi;
  let token = "";

  beforeAll(async () => {
    token = await demoToken(orgbox());
    dwa = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
  });

  it("fetch: filters, orders and returns the chosen columns (nulls left out)", async () => {
    const res = await dwa.fetch<{ accountid: string; name: string; address1_city?: string }>({
      collection: "accounts",
      fetchXml: `<fetch><entity name="account"><attribute name="name" /><attribute name="address1_city" /><order attribute="name" descending="true" /><filter type="or"><condition attribute="address1_city" operator="eq" value="seattle" /><condition attribute="name" operator="begins-with" value="fourth" /></filter></entity></fetch>`,
    });
    const expected = SAMPLE_ACCOUNTS.filter((n, i) => ACCOUNT_CITIES[i] === "Seattle" || n.startsWith("Fourth")).sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? 1 : -1));
    expect(expected.length).toBeGreaterThan(1);
    expect(res.value.map((r) => r.name)).toEqual(expected);
    expect(Object.keys(res.value[0] ?? {}).filter((k) => !k.startsWith("@")).sort()).toEqual(["accountid", "address1_city", "name"]);
    expect(res.PagingInfo).toBeUndefined();
  });

  it("supports in with <value> children, not-null, top and like", async () => {
    const res = await dwa.fetch<{ name: string }>({
      collection: "accounts",
      fetchXml: `<fetch top="3"><entity name="account"><attribute name="name" /><order attribute="name" /><filter><condition attribute="address1_city" operator="in"><value>London</value><value>Paris</value></condition><condition attribute="name" operator="not-null" /><condition attribute="name" operator="not-like" value="%zzz%" /></filter></entity></fetch>`,
    });
    const expected = SAMPLE_ACCOUNTS.filter((_, i) => ["London", "Paris"].includes(ACCOUNT_CITIES[i] as string)).sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)).slice(0, 3);
    expect(res.value.map((r) => r.name)).toEqual(expected);
  });

  it("fetchAll follows the paging cookie across pages; the last page carries no cookie", async () => {
    const fetchXml = `<fetch count="7"><entity name="contact"><attribute name="contactid" /><attribute name="firstname" /><order attribute="contactid" /></entity></fetch>`;
    const all = await dwa.fetchAll<{ contactid: string }>({ collection: "contacts", fetchXml, includeAnnotations: "Microsoft.Dynamics.CRM.fetchxmlpagingcookie" });
    expect(all.value.map((r) => r.contactid)).toEqual(Array.from({ length: CONTACT_COUNT }, (_, i) => sampleId(2, i)).sort());

    const prefer = { prefer: 'odata.include-annotations="Microsoft.Dynamics.CRM.fetchxmlpagingcookie,Microsoft.Dynamics.CRM.morerecords"' };
    const first = await apiGet(orgbox(), token, `contacts?fetchXml=${encodeURIComponent(fetchXml)}`, prefer);
    const firstBody = first.body as Record<string, unknown> & { value: unknown[] };
    expect(firstBody.value).toHaveLength(7);
    expect(firstBody["@Microsoft.Dynamics.CRM.morerecords"]).toBe(true);
    expect(firstBody["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"]).toMatch(/^<cookie pagenumber="2" pagingcookie="%253ccookie%2520page%253d%25221%2522.+" istracking="False" \/>$/);
    const lastPage = Math.ceil(CONTACT_COUNT / 7);
    const last = await apiGet(orgbox(), token, `contacts?fetchXml=${encodeURIComponent(fetchXml.replace("<fetch ", `<fetch page="${lastPage}" `))}`, prefer);
    const lastBody = last.body as Record<string, unknown> & { value: unknown[] };
    expect(lastBody.value).toHaveLength(CONTACT_COUNT - 7 * (lastPage - 1));
    expect(Object.keys(lastBody).filter((k) => k.startsWith("@Microsoft"))).toEqual([]);
  });

  it("joins a link-entity and returns its columns as alias_x002e_column", async () => {
    const res = await dwa.fetch<Record<string, unknown>>({
      collection: "contacts",
      includeAnnotations: "OData.Community.Display.V1.AttributeName",
      fetchXml: `<fetch><entity name="contact"><attribute name="firstname" /><order attribute="contactid" /><filter><condition attribute="contactid" operator="eq" value="${sampleId(2, 3)}" /></filter><link-entity name="account" from="accountid" to="parentcustomerid" alias="acct" link-type="inner"><attribute name="name" /><attribute name="address1_city" /><filter><condition attribute="name" operator="ne" value="nobody" /></filter></link-entity></entity></fetch>`,
    });
    expect(res.value).toHaveLength(1);
    // dynamics-web-api folds alias_x002e_column into an `acct` object.
    expect(res.value[0]?.acct).toMatchObject({ name: SAMPLE_ACCOUNTS[3], address1_city: ACCOUNT_CITIES[3] });
    const raw = await apiGet(orgbox(), token, `contacts?fetchXml=${encodeURIComponent(`<fetch top="1"><entity name="contact"><attribute name="firstname" /><filter><condition attribute="contactid" operator="eq" value="${sampleId(2, 3)}" /></filter><link-entity name="account" from="accountid" to="parentcustomerid" alias="acct"><attribute name="name" /></link-entity></entity></fetch>`)}`, { prefer: 'odata.include-annotations="*"' });
    const row = (raw.body as { value: Record<string, unknown>[] }).value[0] ?? {};
    expect(row.acct_x002e_name).toBe(SAMPLE_ACCOUNTS[3]);
    expect(row["acct_x002e_name@OData.Community.Display.V1.AttributeName"]).toBe("name");
  });

  it("an outer link-entity keeps rows without a match; an inner one drops them", async () => {
    const xml = (type: string) => `<fetch aggregate="true"><entity name="account"><attribute name="accountid" alias="n" aggregate="count" /><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="${type}"><filter><condition attribute="firstname" operator="eq" value="${(SAMPLE_PEOPLE[0] as readonly string[])[0]}" /></filter></link-entity></entity></fetch>`;
    const inner = await dwa.fetch<{ n: number }>({ collection: "accounts", fetchXml: xml("inner") });
    const outer = await dwa.fetch<{ n: number }>({ collection: "accounts", fetchXml: xml("outer") });
    expect(inner.value[0]?.n).toBe(2);
    expect(outer.value[0]?.n).toBe(SAMPLE_ACCOUNTS.length + 1);
  });

  it("aggregates with groupby, keyed by alias and ordered by alias", async () => {
    const res = await dwa.fetch<{ city: string; n: number; total: number; most: number }>({
      collection: "accounts",
      fetchXml: `<fetch aggregate="true"><entity name="account"><attribute name="address1_city" alias="city" groupby="true" /><attribute name="accountid" alias="n" aggregate="count" /><attribute name="revenue" alias="total" aggregate="sum" /><attribute name="numberofemployees" alias="most" aggregate="max" /><order alias="city" /></entity></fetch>`,
    });
    const cities = [...new Set(ACCOUNT_CITIES)].sort();
    expect(res.value.map((r) => r.city)).toEqual(cities);
    for (const row of res.value) {
      const members = SAMPLE_ACCOUNTS.map((_, i) => i).filter((i) => ACCOUNT_CITIES[i] === row.city);
      expect(row.n).toBe(members.length);
      expect(row.total).toBe(members.reduce((sum, i) => sum + 100000 * (i + 1), 0));
      expect(row.most).toBe(Math.max(...members.map((i) => 10 * (i + 3))));
    }
  });

  it("annotates FetchXML results with FormattedValue: root option sets, money and lookups, linked columns, aggregates", async () => {
    const F = "OData.Community.Display.V1.FormattedValue";
    const raw = await apiGet(
      orgbox(),
      token,
      `contacts?fetchXml=${encodeURIComponent(`<fetch top="1"><entity name="contact"><attribute name="firstname" /><attribute name="parentcustomerid" /><filter><condition attribute="contactid" operator="eq" value="${sampleId(2, 3)}" /></filter><link-entity name="account" from="accountid" to="parentcustomerid" alias="acct"><attribute name="industrycode" /><attribute name="revenue" /><attribute name="creditonhold" /></link-entity></entity></fetch>`)}`,
      { prefer: `odata.include-annotations="${F},Microsoft.Dynamics.CRM.lookuplogicalname"` },
    );
    expect(raw.status).toBe(200);
    const row = (raw.body as { value: Record<string, unknown>[] }).value[0] ?? {};
    expect(row).toMatchObject({
      [`_parentcustomerid_value@${F}`]: SAMPLE_ACCOUNTS[3],
      "_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account",
      _parentcustomerid_value: sampleId(1, 3),
      [`acct_x002e_industrycode@${F}`]: expect.any(String),
      [`acct_x002e_revenue@${F}`]: "$400,000.00",
      acct_x002e_revenue: 400000,
      [`acct_x002e_creditonhold@${F}`]: "No",
    });
    const annotated = await dwa.fetch<Record<string, unknown>>({
      collection: "accounts",
      includeAnnotations: F,
      fetchXml: `<fetch aggregate="true"><entity name="account"><attribute name="industrycode" alias="industry" groupby="true" /><attribute name="accountid" alias="n" aggregate="count" /><attribute name="revenue" alias="total" aggregate="sum" /><filter><condition attribute="industrycode" operator="eq" value="1" /></filter></entity></fetch>`,
    });
    expect(annotated.value).toHaveLength(1);
    expect(annotated.value[0]).toMatchObject({ [`industry@${F}`]: "Accounting", industry: 1, [`n@${F}`]: String(annotated.value[0]?.n), [`total@${F}`]: expect.stringMatching(/^\$[\d,]+\.00$/) });
  });

  it("dategrouping: groups a date column by year, quarter, month and day (UTC); week is refused by name", async () => {
    const birthdays = ["2019-02-14", "2019-03-01", "2019-03-20", "2020-11-05"];
    for (const [i, birthdate] of birthdays.entries()) await dwa.create({ collection: "contacts", data: { lastname: `Grouped ${i}`, birthdate } });
    const grouped = await dwa.fetch<{ y: number; q: number; m: number; n: number }>({
      collection: "contacts",
      includeAnnotations: "OData.Community.Display.V1.FormattedValue",
      fetchXml: `<fetch aggregate="true"><entity name="contact"><attribute name="birthdate" groupby="true" dategrouping="year" alias="y" /><attribute name="birthdate" groupby="true" dategrouping="quarter" alias="q" /><attribute name="birthdate" groupby="true" dategrouping="month" alias="m" /><attribute name="contactid" aggregate="count" alias="n" /><filter><condition attribute="lastname" operator="like" value="Grouped %" /></filter><order alias="y" /><order alias="m" /></entity></fetch>`,
    });
    expect(grouped.value.map((r) => [r.y, r.q, r.m, r.n])).toEqual([
      [2019, 1, 2, 1],
      [2019, 1, 3, 2],
      [2020, 4, 11, 1],
    ]);
    expect(grouped.value[0]).toMatchObject({ "y@OData.Community.Display.V1.FormattedValue": "2019" });
    const days = await dwa.fetch<{ d: number; n: number }>({
      collection: "contacts",
      fetchXml: `<fetch aggregate="true"><entity name="contact"><attribute name="birthdate" groupby="true" dategrouping="day" alias="d" /><attribute name="contactid" aggregate="count" alias="n" /><filter><condition attribute="lastname" operator="like" value="Grouped %" /></filter><order alias="d" /></entity></fetch>`,
    });
    expect(days.value.map((r) => r.d)).toEqual([1, 5, 14, 20]);
    const week = await apiGet(orgbox(), token, `contacts?fetchXml=${encodeURIComponent(`<fetch aggregate="true"><entity name="contact"><attribute name="birthdate" groupby="true" dategrouping="week" alias="w" /></entity></fetch>`)}`);
    expect(week.status).toBe(400);
    expect(JSON.stringify(week.body)).toContain("dategrouping 'week'");
    const notDate = await apiGet(orgbox(), token, `contacts?fetchXml=${encodeURIComponent(`<fetch aggregate="true"><entity name="contact"><attribute name="lastname" groupby="true" dategrouping="year" alias="y" /></entity></fetch>`)}`);
    expect(notDate.status).toBe(400);
    expect(JSON.stringify(notDate.body)).toContain("dategrouping needs a date and time column");
  });

  it("distinct removes duplicate rows", async () => {
    const res = await dwa.fetch<{ address1_city: string }>({ collection: "accounts", fetchXml: `<fetch distinct="true"><entity name="account"><attribute name="address1_city" /><order attribute="address1_city" /></entity></fetch>` });
    expect(res.value.map((r) => r.address1_city)).toEqual([...new Set(ACCOUNT_CITIES)].sort());
    expect(Object.keys(res.value[0] ?? {}).filter((k) => !k.startsWith("@"))).toEqual(["address1_city"]);
    const cities = await apiGet(orgbox(), token, `accounts?fetchXml=${encodeURIComponent(`<fetch aggregate="true"><entity name="account"><attribute name="address1_city" alias="c" aggregate="countcolumn" distinct="true" /></entity></fetch>`)}`);
    expect((cities.body as { value: { c: number }[] }).value[0]?.c).toBe(new Set(ACCOUNT_CITIES).size);
  });

  it.each([
    ["an entity that does not match the entity set", "accounts", `<fetch><entity name="contact" /></fetch>`, 400, "0x80060888"],
    ["an unknown table", "accounts", `<fetch><entity name="nosuchtable" /></fetch>`, 400, "0x80041102"],
    ["an unknown column", "accounts", `<fetch><entity name="account"><attribute name="nosuchcolumn" /></entity></fetch>`, 400, "0x80041103"],
    ["an unsupported operator", "accounts", `<fetch><entity name="account"><filter><condition attribute="name" operator="under" value="x" /></filter></entity></fetch>`, 400, "0x80060888"],
    ["an unsupported element", "accounts", `<fetch><entity name="account"><attribute name="name" /></entity><order attribute="name" /></fetch>`, 400, "0x80060888"],
    ["malformed XML", "accounts", `<fetch><entity name="account">`, 400, "0x80040203"],
    ["a page number too large to be a number", "accounts", `<fetch page="99999999999999999999"><entity name="account" /></fetch>`, 400, "0x80040203"],
    ["a page beyond simple paging's first 50,000 rows", "accounts", `<fetch page="11"><entity name="account" /></fetch>`, 400, "0x80060888"],
    ["an aggregate without alias", "accounts", `<fetch aggregate="true"><entity name="account"><attribute name="revenue" aggregate="sum" /></entity></fetch>`, 400, "0x80040203"],
    ["filters nested past the XML parser's depth limit", "accounts", `<fetch><entity name="account">${"<filter>".repeat(300)}<condition attribute="name" operator="null" />${"</filter>".repeat(300)}</entity></fetch>`, 400, "0x80040203"],
    ["a last-x-days value beyond Int32", "accounts", `<fetch><entity name="account"><filter><condition attribute="createdon" operator="last-x-days" value="99999999999" /></filter></entity></fetch>`, 400, "0x80060888"],
  ])("refuses %s", async (_label, set, fetchXml, status, code) => {
    const res = await apiGet(orgbox(), token, `${set}?fetchXml=${encodeURIComponent(fetchXml)}`);
    expect(res.status).toBe(status);
    expect((res.body as ErrorBody).error.code).toBe(code);
  });

  it("refuses OData options next to fetchXml and fetchXml on a single record", async () => {
    const xml = encodeURIComponent(`<fetch><entity name="account" /></fetch>`);
    const withSelect = await apiGet(orgbox(), token, `accounts?fetchXml=${xml}&$select=name`);
    expect(withSelect.status).toBe(400);
    expect((withSelect.body as ErrorBody).error.message).toContain("$select with fetchXml");
    const single = await apiGet(orgbox(), token, `accounts(${sampleId(1, 0)})?fetchXml=${xml}`);
    expect(single.status).toBe(400);
    await expect(dwa.fetch({ collection: "accounts", fetchXml: `<fetch><entity name="contact" /></fetch>` })).rejects.toMatchObject({ status: 400, code: "0x80060888" });
  });

  it("applies the caller's Read privilege to every link-entity: prvReadAccount alone cannot join contact", async () => {
    const o: OrgboxInstance = orgbox();
    const org = (await o.dataverse.service.findOrg("contoso")) as Org;
    const role = await o.dataverse.service.createRole(org, { name: "FetchXML account reader", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadAccount", depth: "Global" }] });
    const reader = await appUser(o, org, "fetchxml account reader", DEMO.org.rootBusinessUnitId, [role]);
    const plain = await apiGet(o, reader.token, `accounts?fetchXml=${encodeURIComponent(`<fetch><entity name="account"><attribute name="name" /></entity></fetch>`)}`);
    expect(plain.status).toBe(200);
    expect((plain.body as { value: unknown[] }).value).toHaveLength(SAMPLE_ACCOUNTS.length);
    const joined = await apiGet(o, reader.token, `accounts?fetchXml=${encodeURIComponent(`<fetch><entity name="account"><attribute name="name" /><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="outer" alias="c"><attribute name="firstname" /></link-entity></entity></fetch>`)}`);
    expect(joined.status).toBe(403);
    expect((joined.body as ErrorBody).error.code).toBe("0x80040220");
    expect((joined.body as ErrorBody).error.message).toContain("prvReadContact");
    expect(JSON.stringify(joined.body)).not.toContain((SAMPLE_PEOPLE[0] as readonly string[])[0]);
  });

  it("filters linked rows by the caller's Read depth: a user-level contact reader joins none of the seeded contacts", async () => {
    const o: OrgboxInstance = orgbox();
    const org = (await o.dataverse.service.findOrg("contoso")) as Org;
    const role = await o.dataverse.service.createRole(org, { name: "FetchXML basic contact reader", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadAccount", depth: "Global" }, { name: "prvReadContact", depth: "Basic" }] });
    const reader = await appUser(o, org, "fetchxml basic contact reader", DEMO.org.rootBusinessUnitId, [role]);
    const link = (type: string) => `<fetch><entity name="account"><attribute name="name" /><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="${type}" alias="c"><attribute name="firstname" /></link-entity></entity></fetch>`;
    const inner = await apiGet(o, reader.token, `accounts?fetchXml=${encodeURIComponent(link("inner"))}`);
    expect(inner.status).toBe(200);
    expect((inner.body as { value: unknown[] }).value).toEqual([]);
    const outer = await apiGet(o, reader.token, `accounts?fetchXml=${encodeURIComponent(link("outer"))}`);
    const rows = (outer.body as { value: Record<string, unknown>[] }).value;
    expect(rows).toHaveLength(SAMPLE_ACCOUNTS.length);
    expect(rows.some((r) => "c_x002e_firstname" in r)).toBe(false);
  });
});

describe("FetchXML link-entities that filter by related rows (exists, in, any, not any, all, not all)", () => {
  const orgbox = useOrgbox();
  let dwa: DynamicsWebApi;
  let token = "";
  const names = async (fetchXml: string) => (await dwa.fetch<{ name: string }>({ collection: "accounts", fetchXml })).value.map((r) => r.name);
  /** Accounts named `Semi-…` whose contacts match (or not) the link-entity's filter on lastname. */
  const query = (type: string, op: string, inFilter: boolean) => {
    const link = `<link-entity name="contact" from="parentcustomerid" to="accountid" link-type="${type}"><filter><condition attribute="lastname" operator="${op}" value="Match" /></filter></link-entity>`;
    const root = `<condition attribute="name" operator="begins-with" value="Semi-" />`;
    return `<fetch><entity name="account"><attribute name="name" /><order attribute="name" />${inFilter ? `<filter>${root}${link}</filter>` : `<filter>${root}</filter>${link}`}</entity></fetch>`;
  };

  beforeAll(async () => {
    token = await demoToken(orgbox());
    dwa = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    // Semi-A: a Match and an Other contact; Semi-B: none; Semi-C: two Match contacts; Semi-D: one Other contact.
    const contacts: Record<string, string[]> = { "Semi-A": ["Match", "Other"], "Semi-B": [], "Semi-C": ["Match", "Match"], "Semi-D": ["Other"] };
    for (const [name, lastnames] of Object.entries(contacts)) {
      const id = (await dwa.create({ collection: "accounts", data: { name } })) as string;
      for (const lastname of lastnames) await dwa.create({ collection: "contacts", data: { lastname, "parentcustomerid_account@odata.bind": `/accounts(${id})` } });
    }
  });

  it("exists and in keep each parent once when a related row matches; no linked columns come back", async () => {
    expect(await names(query("exists", "eq", false))).toEqual(["Semi-A", "Semi-C"]);
    expect(await names(query("in", "eq", false))).toEqual(["Semi-A", "Semi-C"]);
    const rows = (await dwa.fetch<Record<string, unknown>>({ collection: "accounts", fetchXml: query("exists", "eq", false) })).value;
    expect(Object.keys(rows[0] ?? {}).filter((k) => !k.startsWith("@")).sort()).toEqual(["accountid", "name"]);
  });

  it("any, not any, all and not all inside a filter", async () => {
    expect(await names(query("any", "eq", true))).toEqual(["Semi-A", "Semi-C"]);
    expect(await names(query("not any", "eq", true))).toEqual(["Semi-B", "Semi-D"]);
    // all: related rows exist and none of them matches the filter — here, every contact is a Match.
    expect(await names(query("all", "ne", true))).toEqual(["Semi-C"]);
    // not all is, per the reference, the same as any.
    expect(await names(query("not all", "eq", true))).toEqual(["Semi-A", "Semi-C"]);
    // Inside an or-filter: Semi-B by name, or any account with an Other contact.
    const or = `<fetch><entity name="account"><attribute name="name" /><order attribute="name" /><filter><condition attribute="name" operator="begins-with" value="Semi-" /><filter type="or"><condition attribute="name" operator="eq" value="Semi-B" /><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="any"><filter><condition attribute="lastname" operator="eq" value="Other" /></filter></link-entity></filter></filter></entity></fetch>`;
    expect(await names(or)).toEqual(["Semi-A", "Semi-B", "Semi-D"]);
  });

  it("conditions with entityname test a link-entity's columns from the root filter: accounts without contacts", async () => {
    const outer = (conditions: string) => `<fetch><entity name="account"><attribute name="name" /><order attribute="name" /><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="outer" alias="c" /><filter><condition attribute="name" operator="begins-with" value="Semi-" />${conditions}</filter></entity></fetch>`;
    expect(await names(outer(`<condition entityname="c" attribute="contactid" operator="null" />`))).toEqual(["Semi-B"]);
    expect(await names(outer(`<condition entityname="c" attribute="lastname" operator="eq" value="other" />`))).toEqual(["Semi-A", "Semi-D"]);
    expect(await names(outer(`<filter type="or"><condition entityname="contact" attribute="lastname" operator="like" value="Mat%" /><condition attribute="name" operator="eq" value="Semi-B" /></filter>`))).toEqual(["Semi-A", "Semi-B", "Semi-C", "Semi-C"]);
  });

  it.each([
    ["an entityname naming no link-entity", `<fetch><entity name="account"><filter><condition entityname="nope" attribute="name" operator="null" /></filter></entity></fetch>`, "0x80040203"],
    ["an entityname inside a link-entity's filter", `<fetch><entity name="account"><link-entity name="contact" from="parentcustomerid" to="accountid" alias="c"><filter><condition entityname="c" attribute="lastname" operator="null" /></filter></link-entity></entity></fetch>`, "0x80060888"],
    ["any outside a filter", query("any", "eq", false), "0x80040203"],
    ["exists inside a filter", query("exists", "eq", true), "0x80040203"],
    ["columns from an exists link", `<fetch><entity name="account"><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="exists"><attribute name="lastname" /></link-entity></entity></fetch>`, "0x80040203"],
    ["matchfirstrowusingcrossapply", `<fetch><entity name="account"><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="matchfirstrowusingcrossapply"><attribute name="lastname" /></link-entity></entity></fetch>`, "0x80060888"],
    ["an unknown link-type", `<fetch><entity name="account"><link-entity name="contact" from="parentcustomerid" to="accountid" link-type="sideways" /></entity></fetch>`, "0x80040203"],
  ])("refuses %s", async (_label, fetchXml, code) => {
    const res = await apiGet(orgbox(), token, `accounts?fetchXml=${encodeURIComponent(fetchXml)}`);
    expect(res.status).toBe(400);
    expect((res.body as ErrorBody).error.code).toBe(code);
  });
});

describe("FetchXML valueof (its own org: the rows it adds would change the other tests' counts)", () => {
  const { orgbox, dwa, token } = useDemoClient();

  it("valueof compares two columns of a row, or a column with a link-entity's (alias.column)", async () => {
    await dwa().create({ collection: "accounts", data: { name: "Valueof Paris", address1_city: "VALUEOF PARIS", numberofemployees: 500, revenue: 100 } });
    await dwa().create({ collection: "accounts", data: { name: "Valueof Lyon", address1_city: "Marseille", numberofemployees: 5, revenue: 100 } });
    const same = await dwa().fetch<{ name: string }>({ collection: "accounts", fetchXml: `<fetch><entity name="account"><attribute name="name" /><filter><condition attribute="name" operator="eq" valueof="address1_city" /></filter></entity></fetch>` });
    expect(same.value.map((a) => a.name)).toEqual(["Valueof Paris"]);
    const more = await dwa().fetch<{ name: string }>({ collection: "accounts", fetchXml: `<fetch><entity name="account"><attribute name="name" /><filter><condition attribute="numberofemployees" operator="gt" valueof="revenue" /></filter></entity></fetch>` });
    expect(more.value.map((a) => a.name)).toEqual(["Valueof Paris"]);
    await dwa().create({ collection: "contacts", data: { lastname: SAMPLE_ACCOUNTS[1], "parentcustomerid_account@odata.bind": `/accounts(${sampleId(1, 1)})` } });
    const linked = await dwa().fetch<{ lastname: string }>({
      collection: "contacts",
      fetchXml: `<fetch><entity name="contact"><attribute name="lastname" /><link-entity name="account" from="accountid" to="parentcustomerid" alias="acct" /><filter><condition attribute="lastname" operator="eq" valueof="acct.name" /></filter></entity></fetch>`,
    });
    expect(linked.value.map((c) => c.lastname)).toEqual([SAMPLE_ACCOUNTS[1]]);
    for (const [condition, message] of [
      [`<condition attribute="name" operator="like" valueof="address1_city" />`, "'valueof' works with eq"],
      [`<condition attribute="name" operator="eq" valueof="revenue" />`, "cannot be compared"],
      [`<condition attribute="name" operator="eq" valueof="nope" />`, "nope"],
      [`<condition attribute="name" operator="eq" valueof="x.name" />`, "names no link-entity alias"],
      [`<condition attribute="name" operator="eq" value="a" valueof="address1_city" />`, "takes no value"],
    ]) {
      const res = await apiGet(orgbox(), token(), `accounts?fetchXml=${encodeURIComponent(`<fetch><entity name="account"><filter>${condition}</filter></entity></fetch>`)}`);
      expect(res.status, condition).toBe(400);
      expect(JSON.stringify(res.body), condition).toContain(message);
    }
  });
});
