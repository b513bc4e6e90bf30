/**
 * `$apply` (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/aggregate-data) with the real
 * dynamics-web-api client (`apply`): groupby, aggregate, filter, navigation paths, FormattedValue
 * annotations, the caller's Read scope, and the errors Dataverse gives for what it does not support.
 */
import { DynamicsWebApi } from "dynamics-web-api";
import { describe, expect, it } from "vitest";
import type { Org } from "../../src/dataverse/index.ts";
import { DEMO, SAMPLE_ACCOUNTS, SAMPLE_PEOPLE } from "../../src/server/demo.ts";
import { SEEDED_ACCOUNTS, failure, useDemoClient } from "../helpers/dwa.ts";
import { apiGet, demoToken, useOrgbox } from "../helpers/orgbox.ts";
import { appUser } from "../helpers/security.ts";

const ACCOUNTS = SEEDED_ACCOUNTS;
const FORMATTED = "OData.Community.Display.V1.FormattedValue";
type Row = Record<string, unknown>;

describe("$apply with dynamics-web-api", () => {
  const { orgbox, dwa, token } = useDemoClient();

  it("aggregate: sum, average, min, max and countdistinct over the whole table, with formatted values", async () => {
    const res = await dwa().retrieveMultiple<Row>({
      collection: "accounts",
      apply: "aggregate(revenue with sum as total,revenue with average as mean,numberofemployees with min as fewest,numberofemployees with max as most,address1_city with countdistinct as cities,$count as n)",
      includeAnnotations: FORMATTED,
    });
    const total = ACCOUNTS.reduce((s, a) => s + a.revenue, 0);
    // dynamics-web-api also copies each FormattedValue to `{key}_Formatted`.
    expect(res.value).toHaveLength(1);
    expect(res.value[0]?.total_Formatted).toBe(`$${total.toLocaleString("en-US")}.00`);
    expect(res.value).toMatchObject([
      {
        [`total@${FORMATTED}`]: `$${total.toLocaleString("en-US")}.00`,
        total,
        [`mean@${FORMATTED}`]: `$${(total / ACCOUNTS.length).toLocaleString("en-US")}.00`,
        mean: total / ACCOUNTS.length,
        [`fewest@${FORMATTED}`]: "30",
        fewest: 30,
        [`most@${FORMATTED}`]: String(10 * (ACCOUNTS.length + 2)),
        most: 10 * (ACCOUNTS.length + 2),
        [`cities@${FORMATTED}`]: "8",
        cities: 8,
        [`n@${FORMATTED}`]: String(ACCOUNTS.length),
        n: ACCOUNTS.length,
      },
    ]);
  });

  it("groupby with aggregate: one row per option value, labelled, in value order", async () => {
    const res = await dwa().retrieveMultiple<Row>({ collection: "accounts", apply: "groupby((industrycode),aggregate($count as count,revenue with sum as total))", includeAnnotations: FORMATTED });
    const codes = [...new Set(ACCOUNTS.map((a) => a.industrycode))].sort((a, b) => a - b);
    expect(res.value.map((r) => [r.industrycode, r.count, r.total])).toEqual(
      codes.map((code) => {
        const group = ACCOUNTS.filter((a) => a.industrycode === code);
        return [code, group.length, group.reduce((s, a) => s + a.revenue, 0)];
      }),
    );
    expect(res.value[0]).toMatchObject({ [`industrycode@${FORMATTED}`]: "Accounting", industrycode: 1 });
  });

  it("filter then groupby: distinct values of several columns", async () => {
    const res = await dwa().retrieveMultiple<Row>({ collection: "accounts", apply: "filter(revenue gt 1000000 and address1_city ne 'Tokyo')/groupby((address1_city,creditonhold))" });
    const expected = [...new Set(ACCOUNTS.filter((a) => a.revenue > 1000000 && a.address1_city !== "Tokyo").map((a) => `${a.address1_city}|${a.creditonhold}`))].sort();
    expect(res.value.map((r) => `${String(r.address1_city)}|${String(r.creditonhold)}`).sort()).toEqual(expected);
    expect(Object.keys(res.value[0] ?? {}).sort()).toEqual(["address1_city", "creditonhold"]);
  });

  it("groupby through a navigation property: contacts per account name, keyed {table}_{column}; $orderby and $top on a grouped column", async () => {
    const res = await dwa().retrieveMultiple<Row>({ collection: "contacts", apply: "groupby((parentcustomerid_account/name),aggregate($count as n))" });
    const perAccount = (SAMPLE_PEOPLE.length * 2) / SAMPLE_ACCOUNTS.length;
    expect(res.value.map((r) => [r.account_name, r.n]).sort()).toEqual([...SAMPLE_ACCOUNTS].map((name) => [name, perAccount]).sort());
    const top = await apiGet(orgbox(), token(), `accounts?$apply=${encodeURIComponent("groupby((address1_city))")}&$orderby=address1_city desc&$top=2`);
    expect(top.status).toBe(200);
    expect((top.body as { value: Row[] }).value).toEqual([{ address1_city: "Toronto" }, { address1_city: "Tokyo" }]);
  });

  it("counts only the rows the caller may read (Basic depth: its own)", async () => {
    const o = orgbox();
    const org = (await o.dataverse.service.findOrg("contoso")) as Org;
    const role = await o.dataverse.service.createRole(org, { name: "Own accounts for $apply", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadAccount", depth: "Basic" }, { name: "prvCreateAccount", depth: "Basic" }] });
    const user = await appUser(o, org, "apply own reader", DEMO.org.rootBusinessUnitId, [role]);
    const own = new DynamicsWebApi({ serverUrl: `${o.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => user.token });
    await own.create({ collection: "accounts", data: { name: "Own apply account", revenue: 42 } });
    const res = await own.retrieveMultiple<Row>({ collection: "accounts", apply: "aggregate($count as n,revenue with sum as total)" });
    expect(res.value).toEqual([{ n: 1, total: 42 }]);
  });

  it.each([
    ["groupby on a datetime column", "groupby((createdon))", "0x80060888", /datetime/],
    ["sum of a text column", "aggregate(name with sum as x)", "0x80060888", /'sum' needs a numeric column; 'name' is String/],
    ["an unsupported transformation", "compute(revenue mul 2 as double)", "0x80060888", /\$apply transformation 'compute'/],
    ["an unknown aggregate method", "aggregate(revenue with median as m)", "0x80060888", /aggregate method 'median'/],
    ["an unknown column", "groupby((nosuchcolumn))", "0x0", /Could not find a property named 'nosuchcolumn' on type 'Microsoft.Dynamics.CRM.account'/],
    ["unbalanced parentheses", "groupby((statuscode)", "0x80060888", /unclosed/],
    ["a transformation after groupby", "groupby((statuscode))/filter(statuscode eq 1)", "0x80060888", /after groupby/],
  ])("refuses %s", async (_label, apply, code, message) => {
    const error = await failure(dwa().retrieveMultiple({ collection: "accounts", apply }));
    expect(error.status).toBe(400);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it("refuses ordering by an aggregate as Dataverse does, and options that cannot accompany $apply", async () => {
    const ordered = await apiGet(orgbox(), token(), `accounts?$apply=${encodeURIComponent("groupby((address1_city),aggregate($count as n))")}&$orderby=n desc`);
    expect(ordered.status).toBe(400);
    expect(ordered.body).toEqual({ error: { code: "0x80060888", message: "The query node SingleValueOpenPropertyAccess is not supported" } });
    const selected = await failure(dwa().retrieveMultiple({ collection: "accounts", apply: "groupby((statuscode))", select: ["name"] }));
    expect(selected.message).toContain("$select with $apply");
    const single = await apiGet(orgbox(), token(), `accounts(${"c0de0001-0000-4000-8000-000000000001"})?$apply=${encodeURIComponent("groupby((statuscode))")}`);
    expect(single.status).toBe(400);
  });
});

describe("aggregate record limit", () => {
  const orgbox = useOrgbox();

  it("refuses $apply and FetchXML aggregates over more than 50,000 rows with 0x8004e023, and answers at 50,000", { timeout: 120_000 }, async () => {
    const o = orgbox();
    const token = await demoToken(o);
    const dwa = new DynamicsWebApi({ serverUrl: `${o.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    const seeded = ACCOUNTS.length;
    const batch = 5000;
    for (let made = seeded; made < 50_000; made += batch) {
      const targets = Array.from({ length: Math.min(batch, 50_000 - made) }, (_, i) => ({ "@odata.type": "Microsoft.Dynamics.CRM.account", name: `Bulk ${made + i}` }));
      await dwa.callAction({ collection: "accounts", actionName: "Microsoft.Dynamics.CRM.CreateMultiple", action: { Targets: targets } });
    }
    const at = await dwa.retrieveMultiple<Row>({ collection: "accounts", apply: "aggregate($count as n)" });
    expect(at.value).toEqual([{ n: 50_000 }]);
    await dwa.create({ collection: "accounts", data: { name: "One too many" } });
    const over = await failure(dwa.retrieveMultiple({ collection: "accounts", apply: "aggregate($count as n)" }));
    expect(over).toMatchObject({ status: 400, code: "0x8004e023", message: "AggregateQueryRecordLimit exceeded. Cannot perform this operation." });
    const fetchXml = `<fetch aggregate="true"><entity name="account"><attribute name="accountid" aggregate="count" alias="n" /></entity></fetch>`;
    const viaFetch = await failure(dwa.fetch({ collection: "accounts", fetchXml }));
    expect(viaFetch).toMatchObject({ status: 400, code: "0x8004e023" });
    // Below the limit again, through a filter.
    const filtered = await dwa.retrieveMultiple<Row>({ collection: "accounts", apply: "filter(startswith(name,'Bulk 1'))/aggregate($count as n)" });
    const expected = Array.from({ length: 50_000 - seeded }, (_, i) => String(seeded + i)).filter((n) => n.startsWith("1")).length;
    expect(filtered.value).toEqual([{ n: expected }]);
  });
});
