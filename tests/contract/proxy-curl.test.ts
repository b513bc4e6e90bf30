/**
 * orgbox's proxy as curl sees it (`curl --proxy`, the CA trusted with `--cacert`, nothing else): the cloud issuers,
 * endpoints and org URLs through the proxy, tokens valid at the org whichever way they were asked for, other hosts
 * tunnelled or refused, plain-HTTP proxy requests, and the clear errors.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MICROSOFT_GRAPH_APP_ID } from "../../src/identity/index.ts";
import type { OrgboxInstance } from "../../src/index.ts";
import { demoToken, useOrgbox } from "../helpers/orgbox.ts";

const run = promisify(execFile);
const CLEAN_ENV = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/_proxy$|^ssl_cert_file$|^curl_ca_bundle$/i.test(key)));

interface CurlResult {
  status: number;
  body: string;
  json: Record<string, unknown>;
}

/** `curl --proxy {proxyUrl} --cacert {ca} …args`, with the status code of the last response. */
async function curl(o: OrgboxInstance, ...args: string[]): Promise<CurlResult> {
  const { stdout } = await run("curl", ["-sS", "--proxy", o.proxyUrl as string, "--cacert", o.caCertPath as string, "-w", "\n%{http_code}", ...args], { env: CLEAN_ENV });
  const cut = stdout.lastIndexOf("\n");
  const body = stdout.slice(0, cut);
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(body) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: Number(stdout.slice(cut + 1)), body, json };
}

const claimsOf = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()) as Record<string, unknown>;

async function cloudToken(o: OrgboxInstance, resource: string): Promise<string> {
  const r = await curl(o, "-d", `grant_type=client_credentials&client_id=${o.demo.clientId}&client_secret=${encodeURIComponent(o.demo.clientSecret)}&resource=${encodeURIComponent(resource)}`, `https://login.microsoftonline.com/${o.tenantId}/oauth2/token`);
  expect(r.status, r.body).toBe(200);
  return r.json.access_token as string;
}

describe("orgbox's proxy, through curl", () => {
  const orgbox = useOrgbox({ proxy: true, proxyPort: 0 });
  let upstream: Server;
  let upstreamPort = 0;
  beforeAll(async () => {
    upstream = createServer((req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(`upstream saw ${req.method} ${req.url}`));
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    upstreamPort = (upstream.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

  it("v2 and v1 discovery on login.microsoftonline.com carry the cloud's issuers and endpoints", async () => {
    const o = orgbox();
    const v2 = await curl(o, `https://login.microsoftonline.com/${o.tenantId}/v2.0/.well-known/openid-configuration`);
    expect(v2.json).toMatchObject({
      issuer: `https://login.microsoftonline.com/${o.tenantId}/v2.0`,
      token_endpoint: `https://login.microsoftonline.com/${o.tenantId}/oauth2/v2.0/token`,
      jwks_uri: `https://login.microsoftonline.com/${o.tenantId}/discovery/v2.0/keys`,
      cloud_instance_name: "microsoftonline.com",
    });
    const common = await curl(o, "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration");
    expect(common.json.issuer).toBe("https://login.microsoftonline.com/{tenantid}/v2.0");
    const v1 = await curl(o, `https://login.windows.net/${o.tenantDomain}/.well-known/openid-configuration`);
    expect(v1.json).toMatchObject({ issuer: `https://sts.windows.net/${o.tenantId}/`, token_endpoint: `https://login.windows.net/${o.tenantId}/oauth2/token` });
    const keys = await curl(o, `https://login.microsoftonline.com/${o.tenantId}/discovery/v2.0/keys`);
    expect((keys.json.keys as { issuer: string }[])[0]?.issuer).toBe(`https://login.microsoftonline.com/${o.tenantId}/v2.0`);
  });

  it("instance discovery answers as the public cloud, and refuses another host (AADSTS50049)", async () => {
    const o = orgbox();
    const ok = await curl(o, "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=https://login.microsoftonline.com/common/oauth2/v2.0/authorize");
    expect(ok.json).toMatchObject({ tenant_discovery_endpoint: "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration", metadata: [{ preferred_network: "login.microsoftonline.com", aliases: expect.arrayContaining(["login.windows.net", "sts.windows.net"]) }] });
    const bad = await curl(o, "https://login.microsoftonline.com/common/discovery/instance?api-version=1.1&authorization_endpoint=https://evil.example/common/oauth2/v2.0/authorize");
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: "invalid_instance", error_codes: [50049] });
  });

  it("a token asked for the cloud org URL has the cloud issuer and audience; the org answers with its cloud URL", async () => {
    const o = orgbox();
    const token = await cloudToken(o, "https://contoso.crm.dynamics.com/");
    expect(claimsOf(token)).toMatchObject({ iss: `https://sts.windows.net/${o.tenantId}/`, aud: "https://contoso.crm.dynamics.com/" });
    const who = await curl(o, "-H", `authorization: Bearer ${token}`, "https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI");
    expect(who.status).toBe(200);
    expect(who.json["@odata.context"]).toBe("https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse");
    const api = await curl(o, "-H", `authorization: Bearer ${token}`, "https://contoso.api.crm.dynamics.com/api/data/v9.2/accounts?$select=name&$top=1");
    expect(api.json["@odata.context"]).toBe("https://contoso.api.crm.dynamics.com/api/data/v9.2/$metadata#accounts(name)");
  });

  it("a token is valid at the org whichever way it was asked for: path URL at the cloud host, cloud URL at the path URL", async () => {
    const o = orgbox();
    const pathToken = await demoToken(o);
    expect(claimsOf(pathToken).iss).toBe(`${o.url}/sts/${o.tenantId}/`);
    const atCloud = await curl(o, "-H", `authorization: Bearer ${pathToken}`, "https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI");
    expect(atCloud.status).toBe(200);
    const cloudTok = await cloudToken(o, "https://contoso.crm.dynamics.com");
    const atPath = await fetch(`${o.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${cloudTok}` } });
    expect(atPath.status).toBe(200);
    expect(((await atPath.json()) as Record<string, unknown>)["@odata.context"]).toBe(`${o.orgUrl}/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`);
    // The org-less path URL (dynamics-web-api's `new URL("api/data/v9.2/", orgUrl)`) finds the org by the cloud audience too.
    const orgless = await fetch(`${o.url}/org/api/data/v9.2/WhoAmI`, { headers: { authorization: `Bearer ${cloudTok}` } });
    expect(orgless.status).toBe(200);
    const unknownHost = await fetch(`${o.url}/org/api/data/v9.2/WhoAmI`, { headers: { authorization: `Bearer ${await cloudToken(o, "https://graph.microsoft.com")}` } });
    expect(unknownHost.status).toBe(401);
  });

  it("refuses a token for Graph at the org, and a tampered token, with 401", async () => {
    const o = orgbox();
    const graphToken = await cloudToken(o, "https://graph.microsoft.com");
    const wrongAud = await curl(o, "-H", `authorization: Bearer ${graphToken}`, "https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI");
    expect(wrongAud.status).toBe(401);
    const token = await cloudToken(o, "https://contoso.crm.dynamics.com");
    const [h, p, s] = token.split(".") as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...claimsOf(token), appid: "c0de0000-0000-4000-8000-00000000ffff" })).toString("base64url");
    const tampered = await curl(o, "-H", `authorization: Bearer ${h}.${forged}.${s}`, "https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI");
    expect(tampered.status).toBe(401);
    expect(p).not.toBe(forged);
  });

  it("Graph at graph.microsoft.com: cloud @odata.context; a cloud-issued token works at the path URL too", async () => {
    const o = orgbox();
    await o.identity.service.grantApplicationPermissions({ tenantId: o.tenantId, clientAppId: o.demo.clientId, resourceAppId: MICROSOFT_GRAPH_APP_ID, roles: ["Organization.Read.All"] });
    const token = await cloudToken(o, "https://graph.microsoft.com");
    expect(claimsOf(token)).toMatchObject({ iss: `https://sts.windows.net/${o.tenantId}/`, aud: "https://graph.microsoft.com", roles: ["Organization.Read.All"] });
    const org = await curl(o, "-H", `authorization: Bearer ${token}`, "https://graph.microsoft.com/v1.0/organization");
    expect(org.status, org.body).toBe(200);
    expect(org.json["@odata.context"]).toBe("https://graph.microsoft.com/v1.0/$metadata#organization");
    const local = await fetch(`${o.url}/graph/v1.0/organization`, { headers: { authorization: `Bearer ${token}` } });
    expect(local.status).toBe(200);
  });

  it("ARM at management.azure.com: the subscription and tenant lists for an ARM token; 401 without one or for another audience; 404 NotSupported for the rest", async () => {
    const o = orgbox();
    const token = await cloudToken(o, "https://management.core.windows.net/");
    expect(claimsOf(token)).toMatchObject({ aud: "https://management.core.windows.net/", iss: `https://sts.windows.net/${o.tenantId}/` });
    const subscriptions = await curl(o, "-H", `authorization: Bearer ${token}`, "https://management.azure.com/subscriptions?api-version=2022-12-01");
    expect(subscriptions).toMatchObject({ status: 200, json: { value: [] } });
    const tenants = await curl(o, "-H", `authorization: Bearer ${token}`, "https://management.azure.com/tenants?api-version=2022-12-01");
    expect(tenants.json).toMatchObject({ value: [{ tenantId: o.tenantId, defaultDomain: o.tenantDomain }] });
    const anonymous = await curl(o, "https://management.azure.com/subscriptions?api-version=2022-12-01");
    expect(anonymous).toMatchObject({ status: 401, json: { error: { code: "AuthenticationFailed" } } });
    const orgToken = await cloudToken(o, "https://contoso.crm.dynamics.com");
    const wrongAudience = await curl(o, "-H", `authorization: Bearer ${orgToken}`, "https://management.azure.com/subscriptions?api-version=2022-12-01");
    expect(wrongAudience).toMatchObject({ status: 401, json: { error: { code: "InvalidAuthenticationToken" } } });
    const other = await curl(o, "-H", `authorization: Bearer ${token}`, "https://management.azure.com/providers?api-version=2021-04-01");
    expect(other).toMatchObject({ status: 404, json: { error: { code: "NotSupported" } } });
  });

  it("an org host of no org is 404 naming it; orgbox's path layout is not served on the cloud hosts", async () => {
    const o = orgbox();
    const none = await curl(o, "https://nosuch.crm.dynamics.com/api/data/v9.2/WhoAmI");
    expect(none.status).toBe(404);
    expect(JSON.stringify(none.json)).toMatch(/nosuch/);
    const regional = await curl(o, "https://contoso.crm4.dynamics.com/api/data/v9.2/WhoAmI");
    expect(regional.status).toBe(404);
    expect(JSON.stringify(regional.json)).toMatch(/contoso\.crm4\.dynamics\.com/);
    const layout = await curl(o, "https://login.microsoftonline.com/org/contoso/api/data/v9.2/WhoAmI");
    expect(layout).toMatchObject({ status: 404, json: { error: "not_found", error_description: expect.stringMatching(/served on its own URL only/) } });
    const graphLayout = await curl(o, "https://graph.microsoft.com/graph/v1.0/organization");
    expect(graphLayout.status).toBe(400);
  });

  it("tunnels other hosts unchanged (CONNECT), forwards plain-HTTP proxy requests, redirects http:// cloud URLs to https://", async () => {
    const o = orgbox();
    const tunnelled = await curl(o, "--proxytunnel", `http://127.0.0.1:${upstreamPort}/through?x=1`);
    expect(tunnelled).toMatchObject({ status: 200, body: "upstream saw GET /through?x=1" });
    const forwarded = await curl(o, `http://127.0.0.1:${upstreamPort}/plain`);
    expect(forwarded).toMatchObject({ status: 200, body: "upstream saw GET /plain" });
    const redirect = await run("curl", ["-sS", "--proxy", o.proxyUrl as string, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "http://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"], { env: CLEAN_ENV });
    expect(redirect.stdout).toBe("308 https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration");
  });

  it("an unreachable host is 502; a request to the proxy itself is 400", async () => {
    const o = orgbox();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = await run("curl", ["-sS", "--proxy", o.proxyUrl as string, "--proxytunnel", "-w", "%{http_connect}", "-o", "/dev/null", `http://127.0.0.1:${deadPort}/`], { env: CLEAN_ENV }).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
    expect(unreachable.stdout).toBe("502");
    const direct = await run("curl", ["-sS", "-w", "\n%{http_code}", `${o.proxyUrl as string}/`], { env: CLEAN_ENV });
    expect(direct.stdout).toMatch(/orgbox's HTTP proxy[\s\S]*\n400$/);
  });
});

describe("orgbox's proxy with proxyPassthrough: false", () => {
  const orgbox = useOrgbox({ proxy: true, proxyPort: 0, proxyPassthrough: false });

  it("refuses other hosts with 502 and a sentence, still answers as the cloud hosts", async () => {
    const o = orgbox();
    const refused = await run("curl", ["-sS", "--proxy", o.proxyUrl as string, "-w", "\n%{http_code}", "http://127.0.0.1:9/"], { env: CLEAN_ENV });
    expect(refused.stdout).toMatch(/passthrough is off[\s\S]*\n502$/);
    const tunnel = await run("curl", ["-sS", "--proxy", o.proxyUrl as string, "--proxytunnel", "-w", "%{http_connect}", "-o", "/dev/null", "https://example.com/"], { env: CLEAN_ENV }).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
    expect(tunnel.stdout).toBe("502");
    const served = await curl(o, "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration");
    expect(served.status).toBe(200);
  });
});
