/**
 * Key identity, Web API and Graph flows run twice: on orgbox's own URLs (`https://localhost:PORT/…`, path-based org
 * URL) and through its proxy as the cloud host names (`https://login.microsoftonline.com`, `https://contoso.crm.dynamics.com`,
 * `https://graph.microsoft.com`), so both modes stay equal. Requests go through Node's own proxy support
 * (`https.Agent` with `proxyEnv`, Node 24), trusting orgbox's CA.
 */
import { Agent, request, type AgentOptions } from "node:https";
import { describe, expect, it } from "vitest";
import { DYNAMICS_CRM_APP_ID, MICROSOFT_GRAPH_APP_ID } from "../../src/identity/index.ts";
import type { OrgboxInstance } from "../../src/index.ts";
import { DEMO } from "../../src/server/demo.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: Record<string, unknown>;
}

/** The URLs a client uses in one mode. */
interface Mode {
  name: "path" | "proxy";
  login: string;
  orgUrl: string;
  graph: string;
  issuerV1: string;
  issuerV2: string;
}

function modeOf(name: Mode["name"], o: OrgboxInstance): Mode {
  return name === "path"
    ? { name, login: o.url, orgUrl: o.orgUrl, graph: `${o.url}/graph`, issuerV1: `${o.url}/sts/${o.tenantId}/`, issuerV2: `${o.url}/${o.tenantId}/v2.0` }
    : { name, login: "https://login.microsoftonline.com", orgUrl: "https://contoso.crm.dynamics.com", graph: "https://graph.microsoft.com", issuerV1: `https://sts.windows.net/${o.tenantId}/`, issuerV2: `https://login.microsoftonline.com/${o.tenantId}/v2.0` };
}

const agents = new WeakMap<OrgboxInstance, Agent>();
/** One HTTPS request, through the proxy for cloud host names (Node 24's `proxyEnv`), direct for orgbox's own URL. */
function send(o: OrgboxInstance, method: string, url: string, options: { headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  let agent = agents.get(o);
  if (!agent) {
    agent = new Agent({ proxyEnv: { HTTPS_PROXY: o.proxyUrl, NO_PROXY: "localhost,127.0.0.1" }, ca: o.caCert } as AgentOptions);
    agents.set(o, agent);
  }
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: options.headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: text && /json/.test(res.headers["content-type"] ?? "") ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

const form = (fields: Record<string, string>) => ({ headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields).toString() });
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()) as Record<string, unknown>;

describe.each(["path", "proxy"] as const)("the same flows on %s URLs", (name) => {
  const orgbox = useOrgbox({ proxy: true, proxyPort: 0 });
  const mode = () => modeOf(name, orgbox());

  async function appToken(version: 1 | 2, resource: string, secret = orgbox().demo.clientSecret): Promise<Answer> {
    const o = orgbox();
    const fields = { grant_type: "client_credentials", client_id: o.demo.clientId, client_secret: secret, ...(version === 1 ? { resource } : { scope: `${resource}/.default` }) };
    return send(o, "POST", `${mode().login}/${o.tenantId}/oauth2${version === 2 ? "/v2.0" : ""}/token`, form(fields));
  }
  /** The demo admin's token (System Administrator in the org) by the password grant, after admin consent to the demo app. */
  async function userToken(): Promise<Answer> {
    const o = orgbox();
    await o.identity.service.grantConsent({ tenantId: o.tenantId, clientAppId: o.demo.clientId, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] }).catch(() => undefined);
    return send(o, "POST", `${mode().login}/${o.tenantId}/oauth2/v2.0/token`, form({ grant_type: "password", client_id: o.demo.clientId, client_secret: o.demo.clientSecret, username: DEMO.admin.username, password: DEMO.admin.password, scope: `${mode().orgUrl}/user_impersonation openid` }));
  }
  const api = async (method: string, path: string, token: string, body?: unknown) =>
    send(orgbox(), method, `${mode().orgUrl}/api/data/v9.2/${path}`, { headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  it("discovery: v2 and v1 issuers and endpoints of the mode", async () => {
    const o = orgbox();
    const v2 = await send(o, "GET", `${mode().login}/${o.tenantDomain}/v2.0/.well-known/openid-configuration`);
    expect(v2.json).toMatchObject({ issuer: mode().issuerV2, token_endpoint: `${mode().login}/${o.tenantId}/oauth2/v2.0/token`, authorization_endpoint: `${mode().login}/${o.tenantId}/oauth2/v2.0/authorize` });
    const v1 = await send(o, "GET", `${mode().login}/${o.tenantId}/.well-known/openid-configuration`);
    expect(v1.json).toMatchObject({ issuer: mode().issuerV1, token_endpoint: `${mode().login}/${o.tenantId}/oauth2/token` });
  });

  it("client credentials (v1 and v2): issuer of the mode, the org URL as audience; the Web API reads with it", async () => {
    const v1 = await appToken(1, mode().orgUrl);
    expect(v1.status).toBe(200);
    expect(v1.json).toMatchObject({ resource: mode().orgUrl, expires_in: "3599" });
    expect(claimsOf(v1.json.access_token as string)).toMatchObject({ iss: mode().issuerV1, aud: mode().orgUrl, appid: orgbox().demo.clientId });
    const v2 = await appToken(2, mode().orgUrl);
    expect(claimsOf(v2.json.access_token as string)).toMatchObject({ iss: mode().issuerV1, aud: mode().orgUrl, ver: "1.0" });
    const leads = await api("GET", "leads?$select=subject&$top=5", v2.json.access_token as string);
    expect(leads.status).toBe(200);
    expect(leads.json["@odata.context"]).toBe(`${mode().orgUrl}/api/data/v9.2/$metadata#leads(subject)`);
    expect(leads.json.value).toHaveLength(5);
  });

  it("paging: @odata.nextLink on the mode's org URL, and it is followed", async () => {
    const token = (await appToken(2, mode().orgUrl)).json.access_token as string;
    const first = await send(orgbox(), "GET", `${mode().orgUrl}/api/data/v9.2/leads?$select=subject`, { headers: { authorization: `Bearer ${token}`, prefer: "odata.maxpagesize=10" } });
    const next = first.json["@odata.nextLink"] as string;
    expect(next.startsWith(`${mode().orgUrl}/api/data/v9.2/leads?`)).toBe(true);
    const second = await send(orgbox(), "GET", next, { headers: { authorization: `Bearer ${token}`, prefer: "odata.maxpagesize=10" } });
    expect(second.status).toBe(200);
    expect(second.json.value).toHaveLength(10);
  });

  it("create, read, update, delete as the user: OData-EntityId on the mode's org URL", async () => {
    const token = (await userToken()).json.access_token as string;
    const created = await api("POST", "accounts", token, { name: `proxy mode ${name}` });
    expect(created.status).toBe(204);
    const entityId = created.headers["odata-entityid"] as string;
    expect(entityId).toMatch(new RegExp(`^${mode().orgUrl.replace(/[.]/g, "\\.")}/api/data/v9\\.2/accounts\\([0-9a-f-]{36}\\)$`));
    const path = entityId.slice(`${mode().orgUrl}/api/data/v9.2/`.length);
    expect((await api("PATCH", path, token, { name: `proxy mode ${name} 2` })).status).toBe(204);
    expect((await api("GET", `${path}?$select=name`, token)).json.name).toBe(`proxy mode ${name} 2`);
    expect((await api("DELETE", path, token)).status).toBe(204);
    expect((await api("GET", path, token)).status).toBe(404);
  });

  it("delegated (ROPC): the user's token reads as the user", async () => {
    const o = orgbox();
    const answer = await userToken();
    expect(answer.status).toBe(200);
    expect(claimsOf(answer.json.id_token as string)).toMatchObject({ iss: mode().issuerV2, aud: o.demo.clientId });
    const who = await api("GET", "WhoAmI", answer.json.access_token as string);
    expect(who.json.UserId).toBe(DEMO.org.adminSystemUserId);
  });

  it("errors: wrong secret AADSTS7000215 (401), unknown tenant AADSTS90002, no token 401 with the mode's authorization_uri, unknown table 404", async () => {
    const o = orgbox();
    const wrong = await appToken(2, mode().orgUrl, "wrong");
    expect(wrong.status).toBe(401);
    expect(wrong.json).toMatchObject({ error: "invalid_client", error_codes: [7000215], error_uri: `${mode().login}/error?code=7000215` });
    const tenant = await send(o, "GET", `${mode().login}/nosuch.onmicrosoft.com/v2.0/.well-known/openid-configuration`);
    expect(tenant.json).toMatchObject({ error: "invalid_tenant", error_codes: [90002] });
    const anonymous = await send(o, "GET", `${mode().orgUrl}/api/data/v9.2/WhoAmI`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers["www-authenticate"]).toBe(`Bearer authorization_uri=${mode().login}/${o.tenantId}/oauth2/authorize, resource_id=${mode().orgUrl}/`);
    const token = (await appToken(2, mode().orgUrl)).json.access_token as string;
    const missing = await api("GET", "nosuchtables", token);
    expect(missing.status).toBe(404);
    expect((missing.json.error as { code: string }).code).toBe("0x8006088a");
  });

  it("Graph: organization with the mode's @odata.context", async () => {
    const o = orgbox();
    await o.identity.service.grantApplicationPermissions({ tenantId: o.tenantId, clientAppId: o.demo.clientId, resourceAppId: MICROSOFT_GRAPH_APP_ID, roles: ["Organization.Read.All"] }).catch(() => undefined);
    const token = (await appToken(2, "https://graph.microsoft.com")).json.access_token as string;
    const org = await send(o, "GET", `${mode().graph}/v1.0/organization`, { headers: { authorization: `Bearer ${token}` } });
    expect(org.status).toBe(200);
    expect(org.json["@odata.context"]).toBe(`${mode().graph}/v1.0/$metadata#organization`);
    expect((org.json.value as { id: string }[])[0]?.id).toBe(o.tenantId);
  });
});
