/**
 * Issue 2 negative paths: AADSTS errors from the token endpoints, and every
 * reason the Web API refuses a token or a caller.
 */
import { ConfidentialClientApplication } from "@azure/msal-node";
import { SignJWT, decodeJwt, decodeProtectedHeader, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/index.ts";
import { apiGet, demoToken, useOrgbox } from "../helpers/orgbox.ts";

type AadBody = { error: string; error_description: string; error_codes: number[]; timestamp: string; trace_id: string; correlation_id: string };

describe("token endpoint errors (AADSTS envelope)", () => {
  const orgbox = useOrgbox();

  async function post(path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: AadBody; headers: Headers }> {
    const res = await fetch(`${orgbox().url}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(form) });
    return { status: res.status, body: (await res.json()) as AadBody, headers: res.headers };
  }
  const v2 = () => `/${orgbox().tenantId}/oauth2/v2.0/token`;
  const good = () => ({ grant_type: "client_credentials", client_id: orgbox().demo.clientId, client_secret: orgbox().demo.clientSecret, scope: `${orgbox().orgUrl}/.default` });

  function expectEnvelope(body: AadBody, error: string, code: number) {
    expect(body.error).toBe(error);
    expect(body.error_codes).toEqual([code]);
    expect(body.error_description).toMatch(new RegExp(`^AADSTS${code}: `));
    expect(body.error_description).toContain(`\r\nTrace ID: ${body.trace_id}\r\nCorrelation ID: ${body.correlation_id}\r\nTimestamp: ${body.timestamp}`);
    expect(body.timestamp).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/);
    expect(body.trace_id).toMatch(/^[0-9a-f-]{36}$/);
  }

  it("wrong secret → 401 AADSTS7000215", async () => {
    const res = await post(v2(), { ...good(), client_secret: "not-the-secret" });
    expect(res.status).toBe(401);
    expectEnvelope(res.body, "invalid_client", 7000215);
    expect(res.body.error_description).toContain(`for a secret added to app '${orgbox().demo.clientId}'`);
  });

  it("echoes client-request-id as correlation_id", async () => {
    const id = "5d1e4c33-4a8f-4d35-9e2b-1f0a7f3c2b10";
    const res = await post(v2(), { ...good(), client_secret: "x" }, { "client-request-id": id });
    expect(res.body.correlation_id).toBe(id);
    expect(res.headers.get("client-request-id")).toBe(id);
  });

  it("unknown client → 400 AADSTS700016", async () => {
    const res = await post(v2(), { ...good(), client_id: "11111111-2222-3333-4444-555555555555" });
    expect(res.status).toBe(400);
    expectEnvelope(res.body, "unauthorized_client", 700016);
    expect(res.body.error_description).toContain("was not found in the directory 'contoso.onmicrosoft.com'");
  });

  it("unknown tenant → 400 AADSTS90002, malformed tenant → AADSTS900023", async () => {
    const res = await post("/fabrikam.onmicrosoft.com/oauth2/v2.0/token", good());
    expect(res.status).toBe(400);
    expectEnvelope(res.body, "invalid_tenant", 90002);
    expect(res.body.error_description).toContain("Tenant 'fabrikam.onmicrosoft.com' not found");
    const guid = await post("/99999999-9999-4999-8999-999999999999/oauth2/token", { ...good(), resource: orgbox().orgUrl });
    expectEnvelope(guid.body, "invalid_tenant", 90002);
    const malformed = await post("/not_a_tenant!/oauth2/v2.0/token", good());
    expectEnvelope(malformed.body, "invalid_request", 900023);
  });

  it("unknown resource → 400 AADSTS500011 (v2 scope and v1 resource)", async () => {
    const scope = await post(v2(), { ...good(), scope: `${orgbox().url}/org/nosuchorg/.default` });
    expect(scope.status).toBe(400);
    expectEnvelope(scope.body, "invalid_resource", 500011);
    expect(scope.body.error_description).toContain(`The resource principal named ${orgbox().url}/org/nosuchorg was not found in the tenant named contoso.onmicrosoft.com`);
    const resource = await post(`/${orgbox().tenantId}/oauth2/token`, { grant_type: "client_credentials", client_id: orgbox().demo.clientId, client_secret: orgbox().demo.clientSecret, resource: "https://nowhere.example.com" });
    expectEnvelope(resource.body, "invalid_resource", 500011);
  });

  it("an expired secret → 401 AADSTS7000222", async () => {
    const o = orgbox();
    const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "expired secret app" });
    const secret = await o.identity.service.addPassword({ appId: application.appId, startDateTime: Date.now() - 2 * 86400_000, endDateTime: Date.now() - 86400_000 });
    const res = await post(v2(), { ...good(), client_id: application.appId, client_secret: secret.secretText });
    expect(res.status).toBe(401);
    expectEnvelope(res.body, "invalid_client", 7000222);
  });

  it("missing parameters → AADSTS900144; no secret → AADSTS7000218", async () => {
    const noGrant = await post(v2(), { client_id: orgbox().demo.clientId });
    expectEnvelope(noGrant.body, "invalid_request", 900144);
    expect(noGrant.body.error_description).toContain("'grant_type'");
    const noScope = await post(v2(), { grant_type: "client_credentials", client_id: orgbox().demo.clientId, client_secret: orgbox().demo.clientSecret });
    expect(noScope.body.error_description).toContain("'scope'");
    const noResource = await post(`/${orgbox().tenantId}/oauth2/token`, { grant_type: "client_credentials", client_id: orgbox().demo.clientId, client_secret: orgbox().demo.clientSecret });
    expect(noResource.body.error_description).toContain("'resource'");
    const noSecret = await post(v2(), { grant_type: "client_credentials", client_id: orgbox().demo.clientId, scope: `${orgbox().orgUrl}/.default` });
    expect(noSecret.status).toBe(401);
    expectEnvelope(noSecret.body, "invalid_client", 7000218);
  });

  it("v2 rejects resource= (AADSTS901002) and scopes without /.default (AADSTS1002012)", async () => {
    const withResource = await post(v2(), { ...good(), resource: orgbox().orgUrl });
    expectEnvelope(withResource.body, "invalid_request", 901002);
    const noDefault = await post(v2(), { ...good(), scope: `${orgbox().orgUrl}/user_impersonation` });
    expectEnvelope(noDefault.body, "invalid_scope", 1002012);
  });

  it("unsupported grant → AADSTS70003; GET on the token endpoint → AADSTS900561", async () => {
    const grant = await post(v2(), { ...good(), grant_type: "urn:example:nope" });
    expectEnvelope(grant.body, "unsupported_grant_type", 70003);
    const get = await fetch(`${orgbox().url}${v2()}`);
    expect(get.status).toBe(400);
    expectEnvelope((await get.json()) as AadBody, "invalid_request", 900561);
  });

  it("client credentials on /common → AADSTS50059", async () => {
    const res = await post("/common/oauth2/v2.0/token", good());
    expectEnvelope(res.body, "invalid_request", 50059);
  });

  it("MSAL surfaces the AADSTS code of a wrong secret", async () => {
    const o = orgbox();
    const cca = new ConfidentialClientApplication({ auth: { clientId: o.demo.clientId, clientSecret: "wrong", authority: o.authority, knownAuthorities: [new URL(o.url).host] } });
    await expect(cca.acquireTokenByClientCredential({ scopes: [`${o.orgUrl}/.default`] })).rejects.toMatchObject({ errorCode: "invalid_client", errorMessage: expect.stringContaining("AADSTS7000215") });
  });
});

describe("Web API refuses bad tokens and non-members", () => {
  const clock = new ManualClock();
  const orgbox = useOrgbox({}, { clock });

  async function call(token: string | undefined, org = orgbox().orgUrl) {
    const res = await fetch(`${org}/api/data/v9.2/WhoAmI`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, headers: res.headers, body: (await res.json()) as { error: { code: string; message: string } } };
  }

  it("no token → 401 with a WWW-Authenticate challenge naming the tenant's authorize endpoint", async () => {
    const res = await call(undefined);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(`Bearer authorization_uri=${orgbox().url}/${orgbox().tenantId}/oauth2/authorize, resource_id=${orgbox().orgUrl}/`);
    expect(res.body.error.message).toContain("no bearer token");
  });

  it("a garbage token → 401", async () => {
    const res = await call("not.a.jwt");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  it("a token for org A used at org B → 401", async () => {
    const o = orgbox();
    await o.dataverse.service.createOrg({ name: "fabrikam", tenantId: o.tenantId });
    const tokenForContoso = await demoToken(o);
    const res = await call(tokenForContoso, o.orgUrlOf("fabrikam"));
    expect(res.status).toBe(401);
    expect(res.body.error.message).toContain("'aud'");
  });

  it("a token signed by another key → 401", async () => {
    const real = await demoToken(orgbox());
    const { privateKey } = await generateKeyPair("RS256");
    const forged = await new SignJWT(decodeJwt(real)).setProtectedHeader(decodeProtectedHeader(real) as { alg: string }).sign(privateKey);
    const res = await call(forged);
    expect(res.status).toBe(401);
    expect(res.body.error.message).toContain("signature");
  });

  it("an expired token → 401", async () => {
    const token = await demoToken(orgbox());
    expect((await call(token)).status).toBe(200);
    clock.advance(2 * 3600_000);
    try {
      const res = await call(token);
      expect(res.status).toBe(401);
      expect(res.body.error.message).toContain("expired");
    } finally {
      clock.advance(-2 * 3600_000);
    }
  });

  it("a token from another tenant → 401", async () => {
    const o = orgbox();
    const other = await o.identity.service.createTenant({ displayName: "Northwind", defaultDomain: "northwind.onmicrosoft.com" });
    const { application } = await o.identity.service.registerApplication({ tenantId: other.id, displayName: "northwind app" });
    const secret = await o.identity.service.addPassword({ appId: application.appId });
    const res = await fetch(`${o.url}/${other.id}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: application.appId, client_secret: secret.secretText, resource: o.orgUrl }) });
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };
    const api = await call(access_token);
    expect(api.status).toBe(401);
  });

  it("an app with no application user → 403 0x80072560", async () => {
    const o = orgbox();
    const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "not a member" });
    const secret = await o.identity.service.addPassword({ appId: application.appId });
    const res = await fetch(`${o.url}/${o.tenantId}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: application.appId, client_secret: secret.secretText, resource: o.orgUrl }) });
    const { access_token } = (await res.json()) as { access_token: string };
    const api = await call(access_token);
    expect(api.status).toBe(403);
    expect(api.body).toEqual({
      error: {
        code: "0x80072560",
        message: `The user is not a member of the organization. No application user in org 'contoso' has the application id '${application.appId}' (the token's appid): create one with 'orgbox appuser create --org contoso --app ${application.appId} --role "<role name>"', or POST systemusers with applicationid.`,
      },
    });
  });

  it("an application user with no roles → 403 0x80042f09 (disabled users: security-disabled.test.ts)", async () => {
    const o = orgbox();
    const org = (await o.dataverse.service.findOrg("contoso"))!;
    const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "no roles" });
    const secret = await o.identity.service.addPassword({ appId: application.appId });
    await o.dataverse.service.createApplicationUser(org, { applicationId: application.appId, businessUnitId: "c0de0000-0000-4000-8000-00000000d002" });
    const res = await fetch(`${o.url}/${o.tenantId}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: application.appId, client_secret: secret.secretText, resource: o.orgUrl }) });
    const { access_token } = (await res.json()) as { access_token: string };
    const api = await call(access_token);
    expect(api.status).toBe(403);
    expect(api.body.error.code).toBe("0x80042f09");
  });

  it("creating an application user for an app without a service principal in the org's tenant fails", async () => {
    const o = orgbox();
    const org = (await o.dataverse.service.findOrg("contoso"))!;
    const other = await o.identity.service.createTenant({ displayName: "Litware", defaultDomain: "litware.onmicrosoft.com" });
    const { application } = await o.identity.service.registerApplication({ tenantId: other.id, displayName: "litware app" });
    await expect(o.dataverse.service.createApplicationUser(org, { applicationId: application.appId, businessUnitId: "c0de0000-0000-4000-8000-00000000d002" })).rejects.toThrow(/no service principal/);
  });

  it("the token still works on apiGet after the negative cases", async () => {
    const res = await apiGet(orgbox(), await demoToken(orgbox()), "WhoAmI");
    expect(res.status).toBe(200);
  });
});

describe("URLs the router cannot decode", () => {
  const orgbox = useOrgbox();

  it("answer in the AADSTS envelope on identity paths", async () => {
    const res = await fetch(`${orgbox().url}/%E0%A4%A/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials" }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; error_codes: number[]; correlation_id: string };
    expect(body).toMatchObject({ error: "invalid_request", error_codes: [900023] });
    expect(body.correlation_id).toBeTruthy();
  });

  it("answer in the Dataverse envelope on Web API paths", async () => {
    const res = await fetch(`${orgbox().apiUrl}/accounts(%ZZ)`, { headers: { authorization: `Bearer ${await demoToken(orgbox())}` } });
    expect(res.status).toBe(400);
    expect(res.headers.get("odata-version")).toBe("4.0");
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("0x80060888");
  });

  it("an impossible date in $filter is a 400, not a silent match", async () => {
    const res = await apiGet(orgbox(), await demoToken(orgbox()), "accounts?$filter=createdon gt 2024-13-45");
    expect(res.status).toBe(400);
    expect((res.body as { error: { code: string } }).error.code).toBe("0x80060888");
  });
});

describe("query-string encoding", () => {
  const orgbox = useOrgbox();

  it("decodes + as a space (URLSearchParams form encoding), as Dataverse's front end does", async () => {
    const o = orgbox();
    const query = new URLSearchParams({ $select: "name", $filter: "name eq 'Contoso Ltd'" }).toString();
    expect(query).toContain("+eq+");
    const res = await fetch(`${o.apiUrl}/accounts?${query}`, { headers: { authorization: `Bearer ${await demoToken(o)}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { value: { name: string }[] }).value.map((a) => a.name)).toEqual(["Contoso Ltd"]);
  });
});

describe("scope errors", () => {
  const orgbox = useOrgbox();

  it("client credentials with two resources' /.default → AADSTS70011", async () => {
    const o = orgbox();
    const res = await fetch(`${o.url}/${o.tenantId}/oauth2/v2.0/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: o.demo.clientId, client_secret: o.demo.clientSecret, scope: `${o.orgUrl}/.default https://graph.microsoft.com/.default` }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; error_codes: number[]; error_description: string };
    expect(body.error).toBe("invalid_scope");
    expect(body.error_codes).toEqual([70011]);
    expect(body.error_description).toMatch(/^AADSTS70011: The provided value for the input parameter 'scope' is not valid\./);
  });
});
