/**
 * Environments as code, seed 003: the ISV multi-tenant example file, loaded by
 * `startOrgbox({ config })`; the app signs in to each customer tenant with client
 * credentials (MSAL and plain fetch) and works in each customer's org.
 */
import { resolve } from "node:path";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import type { OrgboxInstance } from "../../src/index.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const FILE = resolve(import.meta.dirname, "../../examples/isv-multitenant.orgbox.yaml");
const APP = { clientId: "fab00000-0000-4000-8000-0000f00d0001", secret: "fabrikam-sync-secret-1" };
const CUSTOMERS = [
  { tenant: "00a70000-0000-4000-8000-000000000001", domain: "northwind.onmicrosoft.com", org: "northwind", appUser: "00a70000-0000-4000-8000-00000000d003", sp: "00a70000-0000-4000-8000-0000f00d0003" },
  { tenant: "7a150000-0000-4000-8000-000000000001", domain: "tailspin.onmicrosoft.com", org: "tailspin", appUser: "7a150000-0000-4000-8000-00000000d003", sp: "7a150000-0000-4000-8000-0000f00d0003" },
] as const;

async function token(o: OrgboxInstance, tenant: string, org: string): Promise<string> {
  const res = await fetch(`${o.url}/${tenant}/oauth2/v2.0/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: APP.clientId, client_secret: APP.secret, scope: `${o.orgUrlOf(org)}/.default` }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!res.ok || !body.access_token) throw new Error(`token: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

async function api(o: OrgboxInstance, org: string, t: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${o.orgUrlOf(org)}/api/data/v9.2/${path}`, { ...init, headers: { authorization: `Bearer ${t}`, accept: "application/json", "content-type": "application/json", ...(init.headers as Record<string, string> | undefined) } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe("examples/isv-multitenant.orgbox.yaml (seed 003)", () => {
  const orgbox = useOrgbox({ config: FILE });

  it("applies the file instead of the demo: no contoso tenant, the first org and its tenant fill the handle", async () => {
    const o = orgbox();
    expect(await o.identity.service.findTenant("contoso.onmicrosoft.com")).toBeUndefined();
    // Issue 12: the handle (and the banner) name the first org and its own tenant, not the publisher's, so that a token
    // from `authority` for `orgUrl` works.
    expect(o.tenantId).toBe("00a70000-0000-4000-8000-000000000001");
    expect(o.orgUrl).toBe(o.orgUrlOf("northwind"));
    const token = await fetch(`${o.authority}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: o.demo.clientId, client_secret: o.demo.clientSecret, scope: `${o.orgUrl}/.default` }) });
    const { access_token: accessToken } = (await token.json()) as { access_token: string };
    expect((await fetch(`${o.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${accessToken}` } })).status).toBe(200);
    expect(o.environment?.orgs.map((org) => org.name)).toEqual(["northwind", "tailspin"]);
    expect((await o.dataverse.service.listOrgs()).map((org) => org.name).sort()).toEqual(["northwind", "tailspin"]);
  });

  for (const customer of CUSTOMERS) {
    it(`gets an app token from ${customer.domain} with MSAL and works in org ${customer.org}`, async () => {
      const o = orgbox();
      const cca = new ConfidentialClientApplication({ auth: { clientId: APP.clientId, clientSecret: APP.secret, authority: `${o.url}/${customer.domain}`, knownAuthorities: [new URL(o.url).host] } });
      const result = await cca.acquireTokenByClientCredential({ scopes: [`${o.orgUrlOf(customer.org)}/.default`] });
      const t = result?.accessToken as string;
      expect(decodeJwt(t)).toMatchObject({ tid: customer.tenant, appid: APP.clientId, oid: customer.sp, aud: o.orgUrlOf(customer.org) });

      const who = await api(o, customer.org, t, "WhoAmI");
      expect(who.status).toBe(200);
      expect(who.body).toMatchObject({ UserId: customer.appUser });

      const accounts = await api(o, customer.org, t, "accounts?$select=name&$orderby=name");
      expect(accounts.status).toBe(200);
      const names = (accounts.body as { value: { name: string }[] }).value.map((a) => a.name);
      expect(names).toEqual(customer.org === "northwind" ? ["Alfreds Futterkiste", "Northwind Traders HQ"] : ["Kites & Co", "Tailspin Toys", "Toyland, Inc."]);
    });
  }

  it("resolves @ref lookups, including polymorphic ones, and CSV values by column type", async () => {
    const o = orgbox();
    const nw = await token(o, CUSTOMERS[0].tenant, "northwind");
    const hq = await api(o, "northwind", nw, "accounts(00a70001-0000-4000-8000-000000000001)?$select=name,_primarycontactid_value");
    expect(hq.body).toMatchObject({ _primarycontactid_value: "00a70002-0000-4000-8000-000000000001" });
    const maria = await api(o, "northwind", nw, "contacts?$select=fullname,_parentcustomerid_value&$filter=lastname eq 'Anders'");
    const row = (maria.body as { value: Record<string, unknown>[] }).value[0] as Record<string, unknown>;
    expect(row.fullname).toBe("Maria Anders");
    const alfreds = await api(o, "northwind", nw, `accounts(${row._parentcustomerid_value as string})?$select=name`);
    expect(alfreds.body).toMatchObject({ name: "Alfreds Futterkiste" });

    const ts = await token(o, CUSTOMERS[1].tenant, "tailspin");
    const toyland = await api(o, "tailspin", ts, "accounts?$select=name,numberofemployees,creditonhold,_parentaccountid_value&$filter=accountnumber eq 'TT-0002'");
    expect((toyland.body as { value: unknown[] }).value[0]).toMatchObject({ name: "Toyland, Inc.", numberofemployees: 15, creditonhold: true, _parentaccountid_value: "7a150001-0000-4000-8000-000000000001" });
  });

  it("writes with the custom role, and a customer's token does not open the other customer's org", async () => {
    const o = orgbox();
    const nw = await token(o, CUSTOMERS[0].tenant, "northwind");
    const created = await fetch(`${o.orgUrlOf("northwind")}/api/data/v9.2/accounts`, { method: "POST", headers: { authorization: `Bearer ${nw}`, "content-type": "application/json" }, body: JSON.stringify({ name: "Created by Fabrikam Sync" }) });
    expect(created.status).toBe(204);
    const cross = await fetch(`${o.orgUrlOf("tailspin")}/api/data/v9.2/WhoAmI`, { headers: { authorization: `Bearer ${nw}` } });
    expect(cross.status).toBe(401);
    await o.reset();
    const after = await api(o, "northwind", nw, "accounts?$select=name&$filter=name eq 'Created by Fabrikam Sync'");
    expect((after.body as { value: unknown[] }).value).toHaveLength(0);
  });

  it("refuses a token for a tenant that did not consent", async () => {
    const o = orgbox();
    const res = await fetch(`${o.url}/contoso.onmicrosoft.com/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: APP.clientId, client_secret: APP.secret, scope: `${o.orgUrlOf("northwind")}/.default` }) });
    expect(res.status).toBe(400);
  });
});
