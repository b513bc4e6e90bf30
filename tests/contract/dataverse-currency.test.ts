/**
 * Issue 12: rows of tables with money columns get a currency as Dataverse gives them one. A Create
 * without `transactioncurrencyid` gets the org's base currency (Web API through dynamics-web-api, and
 * the data rows of an environment file); every Money column with a sibling `{name}_base` column gets
 * `value / exchangerate`; an Update setting a money value on a row without a currency gets the base
 * currency. (learn.microsoft.com/power-apps/developer/data-platform/transaction-currency-currency-entity)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DynamicsWebApi } from "dynamics-web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Org } from "../../src/dataverse/index.ts";
import { startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { BACKENDS, type TestStoreLocation } from "../helpers/store-backends.ts";

const TENANT = "9d000000-0000-4000-8000-000000000001";
const APP = "9d000000-0000-4000-8000-00000000a001";
const SECRET = "money-app-secret";
const EURO = "9d000000-0000-4000-8000-00000000e001";

const ENV = `
tenants:
  - id: ${TENANT}
    displayName: Money
    domains: [money.onmicrosoft.com]
apps:
  - appId: ${APP}
    displayName: Money daemon
    tenant: money.onmicrosoft.com
    secrets: [{ value: ${SECRET} }]
orgs:
  - name: money
    tenant: money.onmicrosoft.com
    tables:
      new_deal:
        displayName: Deal
        columns:
          new_amount: { type: Money, precision: 2 }
          new_amount_base: { type: Money, precision: 4 }
    applicationUsers:
      - app: ${APP}
        roles: [System Administrator]
    defaultOwner: ${APP}
    data:
      account:
        - { "@key": filed, name: Filed Ltd, revenue: 1000 }
      new_deal:
        - { new_name: Filed deal, new_amount: 250.5 }
`;

describe.each(BACKENDS)("currency of money columns ($name)", (backend) => {
  let dir: string;
  let store: TestStoreLocation;
  let orgbox: OrgboxInstance;
  let api: DynamicsWebApi;
  let baseCurrency: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "orgbox-currency-"));
    writeFileSync(join(dir, "env.yaml"), ENV);
    store = await backend.create();
    const { location } = store;
    // The CA the test workers trust (tests/global-setup.ts sets NODE_EXTRA_CA_CERTS to the in-memory default).
    orgbox = await startOrgbox({ config: join(dir, "env.yaml"), caDir: dirname(process.env.NODE_EXTRA_CA_CERTS ?? join(defaultTempCaDir(), "ca.pem")), ...(location.storeUrl ? { storeUrl: location.storeUrl } : { dataDir: location.dataDir }) });
    const org = (await orgbox.dataverse.service.findOrg("money")) as Org;
    // A second currency: 0.5 euro per base unit.
    await orgbox.dataverse.service.insert(org, "transactioncurrency", { transactioncurrencyid: EURO, currencyname: "Euro", isocurrencycode: "EUR", currencysymbol: "€", exchangerate: 0.5, currencyprecision: 2 });
    const res = await fetch(`${orgbox.url}/${TENANT}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: APP, client_secret: SECRET, resource: orgbox.orgUrlOf("money") }) });
    const { access_token: token } = (await res.json()) as { access_token: string };
    api = new DynamicsWebApi({ serverUrl: `${orgbox.orgUrlOf("money")}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    const [organization] = (await api.retrieveMultiple<{ _basecurrencyid_value: string }>({ collection: "organizations", select: ["basecurrencyid"] })).value;
    baseCurrency = organization?._basecurrencyid_value as string;
    expect(baseCurrency).toMatch(/^[0-9a-f-]{36}$/);
  });
  afterAll(async () => {
    await orgbox?.close();
    await store?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("environment-file rows get the base currency and their base values", async () => {
    const [account] = (await api.retrieveMultiple<Record<string, unknown>>({ collection: "accounts", select: ["name", "revenue", "transactioncurrencyid"], filter: "name eq 'Filed Ltd'" })).value;
    expect(account).toMatchObject({ revenue: 1000, _transactioncurrencyid_value: baseCurrency });
    const [deal] = (await api.retrieveMultiple<Record<string, unknown>>({ collection: "new_deals", select: ["new_amount", "new_amount_base", "transactioncurrencyid"] })).value;
    expect(deal).toMatchObject({ new_amount: 250.5, new_amount_base: 250.5, _transactioncurrencyid_value: baseCurrency });
  });

  it("a Web API create without a currency gets the base currency (dynamics-web-api)", async () => {
    const id = (await api.create({ collection: "accounts", data: { name: "Created Ltd", revenue: 12.5 } })) as string;
    const account = await api.retrieve<Record<string, unknown>>({ collection: "accounts", key: id, select: ["revenue", "transactioncurrencyid"], includeAnnotations: "OData.Community.Display.V1.FormattedValue" });
    expect(account).toMatchObject({ revenue: 12.5, _transactioncurrencyid_value: baseCurrency, "revenue@OData.Community.Display.V1.FormattedValue": "$12.50" });

    const dealId = (await api.create({ collection: "new_deals", data: { new_name: "Web deal", new_amount: 99.99 } })) as string;
    expect(await api.retrieve({ collection: "new_deals", key: dealId, select: ["new_amount", "new_amount_base", "transactioncurrencyid"] })).toMatchObject({ new_amount: 99.99, new_amount_base: 99.99, _transactioncurrencyid_value: baseCurrency });
  });

  it("another currency: the base value is value / exchangerate, on create, update and currency change", async () => {
    const id = (await api.create({ collection: "new_deals", data: { new_name: "Euro deal", new_amount: 10, "transactioncurrencyid@odata.bind": `/transactioncurrencies(${EURO})` } })) as string;
    const read = () => api.retrieve<Record<string, unknown>>({ collection: "new_deals", key: id, select: ["new_amount", "new_amount_base", "transactioncurrencyid"] });
    expect(await read()).toMatchObject({ new_amount: 10, new_amount_base: 20, _transactioncurrencyid_value: EURO });

    await api.update({ collection: "new_deals", key: id, data: { new_amount: 30 } });
    expect(await read()).toMatchObject({ new_amount: 30, new_amount_base: 60, _transactioncurrencyid_value: EURO });

    await api.update({ collection: "new_deals", key: id, data: { "transactioncurrencyid@odata.bind": `/transactioncurrencies(${baseCurrency})` } });
    expect(await read()).toMatchObject({ new_amount: 30, new_amount_base: 30, _transactioncurrencyid_value: baseCurrency });
  });

  it("account's documented revenue_base, creditlimit_base and exchangerate are filled (standard columns)", async () => {
    const id = (await api.create({ collection: "accounts", data: { name: "Euro Ltd", revenue: 100, creditlimit: 40, "transactioncurrencyid@odata.bind": `/transactioncurrencies(${EURO})` } })) as string;
    expect(await api.retrieve({ collection: "accounts", key: id, select: ["revenue", "revenue_base", "creditlimit_base", "exchangerate", "transactioncurrencyid"] })).toMatchObject({
      revenue: 100,
      revenue_base: 200,
      creditlimit_base: 80,
      exchangerate: 0.5,
      _transactioncurrencyid_value: EURO,
    });
  });

  it("an update setting a money value on a row without a currency gives it the base currency", async () => {
    const id = (await api.create({ collection: "new_deals", data: { new_name: "Cleared", new_amount: 5 } })) as string;
    await api.update({ collection: "new_deals", key: id, data: { "transactioncurrencyid@odata.bind": null } });
    expect(await api.retrieve({ collection: "new_deals", key: id, select: ["transactioncurrencyid"] })).toMatchObject({ _transactioncurrencyid_value: null });

    await api.update({ collection: "new_deals", key: id, data: { new_name: "Renamed" } });
    expect(await api.retrieve({ collection: "new_deals", key: id, select: ["transactioncurrencyid"] })).toMatchObject({ _transactioncurrencyid_value: null });

    await api.update({ collection: "new_deals", key: id, data: { new_amount: 7 } });
    expect(await api.retrieve({ collection: "new_deals", key: id, select: ["new_amount", "new_amount_base", "transactioncurrencyid"] })).toMatchObject({ new_amount: 7, new_amount_base: 7, _transactioncurrencyid_value: baseCurrency });
  });
});
