import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { DYNAMICS_CRM_APP_ID, MICROSOFT_GRAPH_APP_ID } from "../../src/identity/index.ts";
import { ORGBOX_PORTAL_APP_ID } from "../../src/portal/registration.ts";
import { registerPortal } from "../../src/portal/server.ts";
import { DEMO } from "../../src/server/demo.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { BACKENDS, type TestStoreLocation } from "../helpers/store-backends.ts";

type Json = Record<string, unknown>;

describe("portal: static files, headers, the missing-bundle page", () => {
  const orgbox = useOrgbox();

  it("serves the page and the bundle with the sign-in pages' security headers, ETag and immutable when pinned", async () => {
    const page = await fetch(`${orgbox().url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("cache-control")).toBe("no-store, no-cache");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    expect(page.headers.get("content-security-policy")).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    const html = await page.text();
    const src = /<script type="module" src="([^"]+)"/.exec(html)?.[1];
    expect(src).toMatch(/^\/portal\/app\.js\?v=/);

    const pinned = await fetch(`${orgbox().url}${src}`);
    expect(pinned.status).toBe(200);
    expect(pinned.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(pinned.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const etag = pinned.headers.get("etag") as string;
    expect(`"${decodeURIComponent(src!.split("v=")[1] as string)}"`).toBe(etag);
    const plain = await fetch(`${orgbox().url}/portal/app.js`);
    expect(plain.headers.get("cache-control")).toBe("no-cache");
    expect((await fetch(`${orgbox().url}/portal/app.js`, { headers: { "if-none-match": etag } })).status).toBe(304);
    const stale = await fetch(`${orgbox().url}/portal/app.js?v=old`);
    expect(stale.headers.get("cache-control")).toBe("no-cache");
  });

  it("serves only the bundle's files: anything else under /portal is a JSON 404", async () => {
    for (const path of ["/portal/index.html", "/portal/..%2f..%2fpackage.json", "/portal/app.js.map", "/portal/"]) {
      const response = await fetch(`${orgbox().url}${path}`);
      expect(response.status, path).toBe(404);
      expect(((await response.json()) as Json).error).toBe("not_found");
    }
  });

  it("serves the CA certificate and the README's recipes as plain files", async () => {
    const ca = await fetch(`${orgbox().url}/_orgbox/ca.pem`);
    expect(ca.status).toBe(200);
    expect(await ca.text()).toBe(orgbox().caCert);
    const readme = await fetch(`${orgbox().url}/_orgbox/readme.md`);
    expect(readme.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await readme.text()).toContain("## Client recipes");
  });

  it("says how to build the portal when the bundle is missing, and has no CA under --http", async () => {
    const empty = mkdtempSync(join(tmpdir(), "orgbox-portal-"));
    const app = Fastify();
    try {
      await registerPortal(app, { identity: orgbox().identity.service, listOrgs: () => orgbox().dataverse.service.listOrgs(), baseUrl: () => "http://localhost:1", ca: undefined, demo: async () => undefined, distDir: empty });
      const page = await app.inject({ method: "GET", url: "/" });
      expect(page.statusCode).toBe(503);
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(page.headers["x-frame-options"]).toBe("DENY");
      expect(page.body).toContain("npm run build:portal");
      expect((await app.inject({ method: "GET", url: "/portal/app.js" })).statusCode).toBe(404);
      const ca = await app.inject({ method: "GET", url: "/_orgbox/ca.pem" });
      expect(ca.statusCode).toBe(404);
      expect(ca.json()).toMatchObject({ error: "not_found" });
    } finally {
      await app.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe.each(BACKENDS)("portal: GET /_orgbox/portal-info and the 'orgbox portal' registration ($name)", (backend) => {
  let store: TestStoreLocation;
  let o: OrgboxInstance;
  const info = async (): Promise<Json> => {
    const response = await fetch(`${o.url}/_orgbox/portal-info`);
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    return (await response.json()) as Json;
  };
  const portalGrants = async (tenantId: string) => {
    const sp = await o.identity.service.findServicePrincipal(tenantId, ORGBOX_PORTAL_APP_ID);
    return (await o.identity.service.listPermissionGrants(tenantId)).filter((g) => g.clientId === sp?.id);
  };

  beforeAll(async () => {
    store = await backend.create();
    const location = store.location;
    o = await startOrgbox({ port: 0, caDir: defaultTempCaDir(), ...(location.storeUrl ? { storeUrl: location.storeUrl } : { dataDir: location.dataDir }) });
  });
  afterAll(async () => {
    await o?.close();
    await store?.dispose();
  });

  it("describes the running services anonymously: identity URL, tenants, orgs and Web API URLs, demo values, the CA", async () => {
    const body = await info();
    expect(body).toMatchObject({
      identityUrl: o.url,
      graphUrl: `${o.url}/graph/v1.0`,
      portalClientId: ORGBOX_PORTAL_APP_ID,
      tenants: [{ id: DEMO.tenantId, displayName: DEMO.tenantDisplayName, defaultDomain: DEMO.tenantDomain, authority: `${o.url}/${DEMO.tenantId}` }],
      orgs: [{ name: DEMO.org.name, tenantId: DEMO.tenantId, url: o.orgUrl, webApiUrl: o.apiUrl }],
      demo: { tenantId: DEMO.tenantId, username: DEMO.admin.username, password: DEMO.admin.password, clientId: DEMO.app.clientId, clientSecret: DEMO.app.clientSecret },
      ca: { path: o.caCertPath, downloadUrl: "/_orgbox/ca.pem" },
    });
    // Nothing beyond the README's published demo values: no other secret, no key material.
    expect(JSON.stringify(body)).not.toMatch(/PRIVATE KEY|gph8Q/);
  });

  it("registers the portal as a first-party SPA whose redirect URI is this orgbox's root, pre-consented in every tenant", async () => {
    await info();
    const app = await o.identity.service.findApplication(ORGBOX_PORTAL_APP_ID);
    expect(app).toMatchObject({ displayName: "orgbox portal", signInAudience: "AzureADMultipleOrgs", spa: { redirectUris: [`${o.url}/`] }, web: { redirectUris: [] }, isFallbackPublicClient: false });
    const grants = await portalGrants(DEMO.tenantId);
    const graphSp = await o.identity.service.findServicePrincipal(DEMO.tenantId, MICROSOFT_GRAPH_APP_ID);
    const crmSp = await o.identity.service.findServicePrincipal(DEMO.tenantId, DYNAMICS_CRM_APP_ID);
    expect(grants.find((g) => g.resourceId === crmSp?.id)).toMatchObject({ consentType: "AllPrincipals", scope: "user_impersonation" });
    expect(grants.find((g) => g.resourceId === graphSp?.id)?.scope.split(" ")).toEqual(expect.arrayContaining(["Application.ReadWrite.All", "Directory.ReadWrite.All", "User.Read"]));
    // Idempotent: a second call writes nothing new.
    await info();
    expect(await portalGrants(DEMO.tenantId)).toEqual(grants);
  });

  it("a tenant created later gets the portal on the next call, and a reset's lost registration is made again", async () => {
    const tenant = await o.identity.service.createTenant({ displayName: "Northwind", defaultDomain: `northwind${backend.name}.onmicrosoft.com` });
    expect(await o.identity.service.findServicePrincipal(tenant.id, ORGBOX_PORTAL_APP_ID)).toBeUndefined();
    expect(((await info()).tenants as Json[]).map((t) => t.id)).toContain(tenant.id);
    expect(await portalGrants(tenant.id)).toHaveLength(2);
    await o.reset();
    await info();
    expect(await o.identity.service.findServicePrincipal(DEMO.tenantId, ORGBOX_PORTAL_APP_ID)).toBeDefined();
    expect(await portalGrants(DEMO.tenantId)).toHaveLength(2);
  });

  it("the portal's client id works only with its own redirect URI, and it holds no secret", async () => {
    const authorize = (redirectUri: string) =>
      fetch(`${o.url}/${DEMO.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: ORGBOX_PORTAL_APP_ID, response_type: "code", redirect_uri: redirectUri, scope: "openid", code_challenge: "x".repeat(43), code_challenge_method: "S256" })}`, { redirect: "manual" });
    const foreign = await authorize("https://evil.example/");
    expect(await foreign.text()).toContain("AADSTS50011");
    const own = await authorize(`${o.url}/`);
    expect(own.status).toBe(200);
    expect(await own.text()).toContain("Sign in");
    const cc = await fetch(`${o.url}/${DEMO.tenantId}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: ORGBOX_PORTAL_APP_ID, client_secret: "guess", scope: "https://graph.microsoft.com/.default" }) });
    expect(cc.status).toBe(401);
    expect(((await cc.json()) as Json).error).toBe("invalid_client");
  });
});
