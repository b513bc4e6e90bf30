/**
 * Issue 2, steps 2 and 3: the server-to-server walkthrough of seeds 004 and 001,
 * with the real @azure/msal-node client and with plain fetch (v1 form post).
 */
import { ConfidentialClientApplication } from "@azure/msal-node";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import { apiGet, useOrgbox } from "../helpers/orgbox.ts";

const GUID_LOWER = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("server-to-server with @azure/msal-node (seed 004)", () => {
  const orgbox = useOrgbox();

  it("acquires a client-credentials token on the v2 endpoint and reads leads with it", async () => {
    const o = orgbox();
    const cca = new ConfidentialClientApplication({
      auth: { clientId: o.demo.clientId, clientSecret: o.demo.clientSecret, authority: o.authority, knownAuthorities: [new URL(o.url).host] },
    });
    const result = await cca.acquireTokenByClientCredential({ scopes: [`${o.orgUrl}/.default`] });
    expect(result?.accessToken).toBeTruthy();
    const token = result?.accessToken as string;

    const header = decodeProtectedHeader(token);
    expect(header).toMatchObject({ alg: "RS256", typ: "JWT" });
    expect(header.kid).toBeTruthy();
    expect(header.x5t).toBe(header.kid);
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      ver: "1.0",
      aud: o.orgUrl,
      iss: `${o.url}/sts/${o.tenantId}/`,
      appid: o.demo.clientId,
      appidacr: "1",
      tid: o.tenantId,
      oid: DEMO.app.servicePrincipalId,
      sub: DEMO.app.servicePrincipalId,
      idtyp: "app",
    });
    expect((claims.exp as number) - (claims.iat as number)).toBeGreaterThan(3000);
    expect(claims.nbf).toBe(claims.iat);

    const res = await fetch(`${o.apiUrl}/leads?$select=subject`, { headers: { authorization: `Bearer ${token}`, accept: "application/json" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("odata-version")).toBe("4.0");
    expect(res.headers.get("content-type")).toMatch(/^application\/json; odata.metadata=minimal/);
    const body = (await res.json()) as { "@odata.context": string; value: { subject: string; leadid: string }[] };
    expect(body["@odata.context"]).toBe(`${o.apiUrl}/$metadata#leads(subject)`);
    expect(body.value).toHaveLength(24);
    for (const lead of body.value) {
      expect(lead.leadid).toMatch(GUID_LOWER);
      expect(typeof lead.subject).toBe("string");
      expect(Object.keys(lead).sort()).toEqual(["@odata.etag", "leadid", "subject"]);
    }
    expect(body.value.map((l) => l.subject)).toContain("Interested in 500 units (1)");
  });

  it("serves the token from MSAL's cache on the second call", async () => {
    const o = orgbox();
    const cca = new ConfidentialClientApplication({ auth: { clientId: o.demo.clientId, clientSecret: o.demo.clientSecret, authority: o.authority, knownAuthorities: [new URL(o.url).host] } });
    const first = await cca.acquireTokenByClientCredential({ scopes: [`${o.orgUrl}/.default`] });
    const second = await cca.acquireTokenByClientCredential({ scopes: [`${o.orgUrl}/.default`] });
    expect(second?.accessToken).toBe(first?.accessToken);
    expect(second?.fromCache).toBe(true);
  });
});

describe("server-to-server with a v1 form post and fetch (seed 001)", () => {
  const orgbox = useOrgbox();

  it("returns the v1 response shape and the token works on the Web API", async () => {
    const o = orgbox();
    const res = await fetch(`${o.url}/${o.tenantId}/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `grant_type=client_credentials&client_id=${o.demo.clientId}&client_secret=${encodeURIComponent(o.demo.clientSecret)}&resource=${encodeURIComponent(o.orgUrl)}`,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toContain("no-store");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.token_type).toBe("Bearer");
    expect(typeof body.expires_in).toBe("string");
    expect(typeof body.expires_on).toBe("string");
    expect(typeof body.not_before).toBe("string");
    expect(Number(body.expires_on) - Number(body.not_before)).toBe(Number(body.expires_in));
    expect(body.resource).toBe(o.orgUrl);

    const token = body.access_token as string;
    const leads = await apiGet(o, token, "leads?$select=subject&$top=5");
    expect(leads.status).toBe(200);
    expect((leads.body as { value: unknown[] }).value).toHaveLength(5);
  });

  it("keeps the trailing-slash resource form as aud, and Dataverse accepts it", async () => {
    const o = orgbox();
    const res = await fetch(`${o.url}/${o.tenantDomain}/oauth2/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: o.demo.clientId, client_secret: o.demo.clientSecret, resource: `${o.orgUrl}/` }),
    });
    const body = (await res.json()) as { access_token: string; resource: string };
    expect(body.resource).toBe(`${o.orgUrl}/`);
    expect(decodeJwt(body.access_token).aud).toBe(`${o.orgUrl}/`);
    expect((await apiGet(o, body.access_token, "WhoAmI")).status).toBe(200);
  });

  it("accepts client_secret_basic", async () => {
    const o = orgbox();
    const basic = Buffer.from(`${encodeURIComponent(o.demo.clientId)}:${encodeURIComponent(o.demo.clientSecret)}`).toString("base64");
    const res = await fetch(`${o.url}/${o.tenantId}/oauth2/v2.0/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${basic}` },
      body: new URLSearchParams({ grant_type: "client_credentials", scope: `${o.orgUrl}/.default` }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(typeof body.expires_in).toBe("number");
    expect(body).not.toHaveProperty("resource");
  });
});

describe("Web API reads", () => {
  const orgbox = useOrgbox();

  async function token(): Promise<string> {
    const o = orgbox();
    const cca = new ConfidentialClientApplication({ auth: { clientId: o.demo.clientId, clientSecret: o.demo.clientSecret, authority: o.authority, knownAuthorities: [new URL(o.url).host] } });
    return (await cca.acquireTokenByClientCredential({ scopes: [`${o.orgUrl}/.default`] }))?.accessToken as string;
  }

  it("reads accounts, contacts and leads with $select and $top", async () => {
    const t = await token();
    for (const [set, column, pk] of [["accounts", "name", "accountid"], ["contacts", "fullname", "contactid"], ["leads", "subject", "leadid"]] as const) {
      const res = await apiGet(orgbox(), t, `${set}?$select=${column}&$top=3`);
      expect(res.status).toBe(200);
      const rows = (res.body as { value: Record<string, unknown>[] }).value;
      expect(rows).toHaveLength(3);
      for (const row of rows) {
        expect(row[pk]).toMatch(GUID_LOWER);
        expect(typeof row[column]).toBe("string");
      }
    }
  });

  it("reads a single record, lookups as _x_value, and every column without $select", async () => {
    const o = orgbox();
    const t = await token();
    const list = await apiGet(o, t, "contacts?$top=1");
    const contact = (list.body as { value: Record<string, unknown>[] }).value[0] as Record<string, unknown>;
    expect(contact).toHaveProperty("_parentcustomerid_value");
    expect(contact).toHaveProperty("_ownerid_value", DEMO.org.adminSystemUserId);
    expect(contact.createdon).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(contact).not.toHaveProperty("parentcustomerid");

    const one = await apiGet(o, t, `accounts(${contact._parentcustomerid_value as string})?$select=name,_primarycontactid_value`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ "@odata.context": `${o.apiUrl}/$metadata#accounts(name,_primarycontactid_value)/$entity`, accountid: contact._parentcustomerid_value });
    expect((one.body as Record<string, unknown>)["@odata.etag"]).toMatch(/^W\/"\d+"$/);
    expect(typeof (one.body as { name: string }).name).toBe("string");
  });

  it("answers WhoAmI with the application user, its business unit and the org", async () => {
    const t = await token();
    for (const path of ["WhoAmI", "WhoAmI()"]) {
      const res = await apiGet(orgbox(), t, path);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        "@odata.context": `${orgbox().apiUrl}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
        BusinessUnitId: DEMO.org.rootBusinessUnitId,
        UserId: DEMO.org.applicationUserId,
        OrganizationId: DEMO.org.id,
      });
      expect(res.headers.get("x-ms-dop-hint")).toMatch(/^\d+$/);
      expect(res.headers.get("req_id")).toBeTruthy();
    }
  });

  it("accepts API versions v8.0 to v9.2 and refuses others", async () => {
    const o = orgbox();
    const t = await token();
    for (const version of ["v8.0", "v8.2", "v9.0", "v9.1", "v9.2"]) {
      const res = await fetch(`${o.orgUrl}/api/data/${version}/WhoAmI`, { headers: { authorization: `Bearer ${t}` } });
      expect(res.status, version).toBe(200);
    }
    const bad = await fetch(`${o.orgUrl}/api/data/v7.0/WhoAmI`, { headers: { authorization: `Bearer ${t}` } });
    expect(bad.status).toBe(404);
    expect(await bad.json()).toEqual({ error: { code: "0x8006088a", message: "Resource not found for the segment 'v7.0'." } });
  });

  it("answers a missing record, an unknown set and an unknown column with Dataverse errors", async () => {
    const t = await token();
    const missing = await apiGet(orgbox(), t, "accounts(00000000-0000-0000-0000-000000000001)");
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: { code: "0x80040217", message: "account With Id = 00000000-0000-0000-0000-000000000001 Does Not Exist" } });
    const unknownSet = await apiGet(orgbox(), t, "Account");
    expect(unknownSet.status).toBe(404);
    expect(unknownSet.body).toEqual({ error: { code: "0x8006088a", message: "Resource not found for the segment 'Account'." } });
    const unknownColumn = await apiGet(orgbox(), t, "accounts?$select=Name");
    expect(unknownColumn.status).toBe(400);
    expect(unknownColumn.body).toEqual({ error: { code: "0x0", message: "Could not find a property named 'Name' on type 'Microsoft.Dynamics.CRM.account'." } });
    const skip = await apiGet(orgbox(), t, "accounts?$skip=5");
    expect(skip.status).toBe(400);
    expect((skip.body as { error: { message: string } }).error.message).toContain("$skip");
  });
});
