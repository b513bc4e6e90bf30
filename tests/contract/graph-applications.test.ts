/**
 * The Graph `applications` resource driven by the real @microsoft/microsoft-graph-client (with
 * @azure/identity's ClientSecretCredential through TokenCredentialAuthenticationProvider) and plain
 * fetch: seed 000 as Graph calls (create, PATCH redirect URIs and isFallbackPublicClient,
 * requiredResourceAccess for Dynamics CRM, addPassword, msal-node client credentials with the new
 * secret at once), changes live on the token path, owners, addKey/removeKey with a proof, and the
 * negative paths: permissions, a user without a directory role, tenant isolation, unknown properties.
 */
import { ConfidentialClientApplication } from "@azure/msal-node";
import { ClientSecretCredential } from "@azure/identity";
import { Client, type PageCollection } from "@microsoft/microsoft-graph-client";
import { TokenCredentialAuthenticationProvider } from "@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js";
import { importPKCS8, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO, type OrgboxInstance } from "../../src/index.ts";
import { DIRECTORY_ROLE_TEMPLATES, DYNAMICS_CRM_APP_ID, MICROSOFT_GRAPH_APP_ID } from "../../src/identity/index.ts";
import { createTestCertificate } from "../helpers/certificates.ts";
import { graph, graphToken } from "../helpers/graph.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

/** The Graph client as the README configures it against orgbox. */
function graphClient(o: OrgboxInstance, clientId: string = DEMO.graphAdmin.clientId, secret: string = DEMO.graphAdmin.clientSecret): Client {
  const credential = new ClientSecretCredential(o.tenantId, clientId, secret, { authorityHost: o.url, disableInstanceDiscovery: true });
  const authProvider = new TokenCredentialAuthenticationProvider(credential, { scopes: ["https://graph.microsoft.com/.default"] });
  return Client.initWithMiddleware({ authProvider, baseUrl: `${o.url}/graph/`, defaultVersion: "v1.0", customHosts: new Set([new URL(o.url).hostname]) });
}

/** Client credentials for the org with msal-node; resolves to the access token or rejects with the AADSTS error. */
async function orgTokenWith(o: OrgboxInstance, clientId: string, clientSecret: string): Promise<string> {
  const cca = new ConfidentialClientApplication({ auth: { clientId, clientSecret, authority: o.authority, knownAuthorities: [new URL(o.url).host] } });
  const result = await cca.acquireTokenByClientCredential({ scopes: [`${o.orgUrl}/.default`], skipCache: true });
  return result?.accessToken ?? "";
}

/** A delegated Graph token for a user through ROPC with a consented public client. */
async function userGraphToken(o: OrgboxInstance, clientId: string, username: string, password: string, scopes: string): Promise<string> {
  const res = await fetch(`${o.url}/${o.tenantId}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "password", client_id: clientId, username, password, scope: scopes }) });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`ROPC failed: ${JSON.stringify(body)}`);
  return body.access_token;
}

describe("Graph applications", () => {
  const orgbox = useOrgbox();

  it("seed 000 as Graph calls with the Graph client: create, PATCH, requiredResourceAccess, addPassword; the new secret works at once", async () => {
    const o = orgbox();
    const client = graphClient(o);
    const created = await client.api("/applications").post({ displayName: "Contoso Sync", signInAudience: "AzureADMyOrg" });
    expect(created).toMatchObject({ displayName: "Contoso Sync", signInAudience: "AzureADMyOrg", publisherDomain: DEMO.tenantDomain, isFallbackPublicClient: false, passwordCredentials: [], web: { redirectUris: [], implicitGrantSettings: { enableAccessTokenIssuance: false, enableIdTokenIssuance: false } } });
    expect(created["@odata.context"]).toBe(`${o.url}/graph/v1.0/$metadata#applications/$entity`);
    await client.api(`/applications/${created.id}`).patch({ web: { redirectUris: ["https://sync.contoso.example/signin-oidc"] }, isFallbackPublicClient: true });
    await client.api(`/applications/${created.id}`).patch({ requiredResourceAccess: [{ resourceAppId: DYNAMICS_CRM_APP_ID, resourceAccess: [{ id: "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4", type: "Scope" }] }] });
    const secret = await client.api(`/applications/${created.id}/addPassword`).post({ passwordCredential: { displayName: "ci", endDateTime: "2030-01-01T00:00:00Z" } });
    expect(secret).toMatchObject({ displayName: "ci", endDateTime: "2030-01-01T00:00:00.000Z", customKeyIdentifier: null });
    expect(secret.secretText).toMatch(/.{30,}/);
    expect(secret.hint).toBe(secret.secretText.slice(0, 3));

    const read = await client.api(`/applications(appId='${created.appId}')`).get();
    expect(read.web.redirectUris).toEqual(["https://sync.contoso.example/signin-oidc"]);
    expect(read.isFallbackPublicClient).toBe(true);
    expect(read.requiredResourceAccess).toEqual([{ resourceAppId: DYNAMICS_CRM_APP_ID, resourceAccess: [{ id: "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4", type: "Scope" }] }]);
    expect(read.passwordCredentials).toEqual([{ customKeyIdentifier: null, displayName: "ci", endDateTime: "2030-01-01T00:00:00.000Z", hint: secret.hint, keyId: secret.keyId, secretText: null, startDateTime: secret.startDateTime }]);

    // Graph's POST /applications creates no service principal; the servicePrincipals resource does (here identity's service).
    await o.identity.service.createServicePrincipal(o.tenantId, created.appId);
    const token = await orgTokenWith(o, created.appId, secret.secretText);
    expect(JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()).appid).toBe(created.appId);
  });

  it("the Graph client pages with PageIterator-style nextLinks, selects, filters and counts", async () => {
    const o = orgbox();
    const client = graphClient(o);
    for (let i = 0; i < 3; i++) await client.api("/applications").post({ displayName: `Pager ${i}` });
    const names: string[] = [];
    let page = (await client.api("/applications").select(["id", "displayName"]).filter("startswith(displayName,'Pager')").top(2).get()) as PageCollection;
    for (;;) {
      names.push(...page.value.map((a: { displayName: string }) => a.displayName));
      if (!page["@odata.nextLink"]) break;
      page = (await client.api(page["@odata.nextLink"]).get()) as PageCollection;
    }
    expect(names.sort()).toEqual(["Pager 0", "Pager 1", "Pager 2"]);
    const counted = await client.api("/applications").header("ConsistencyLevel", "eventual").filter("startswith(displayName,'Pager')").count(true).get();
    expect(counted["@odata.count"]).toBe(3);
  });

  it("changes are live: a new redirect URI and the public-client flag take effect on the next request", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    const app = (await graph(o, token, "POST", "applications", { displayName: "Live changes", publicClient: { redirectUris: ["http://localhost"] } })).body;
    await o.identity.service.createServicePrincipal(o.tenantId, String(app.appId));
    await o.identity.service.grantConsent({ tenantId: o.tenantId, clientAppId: String(app.appId), resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
    const authorize = () => fetch(`${o.url}/${o.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: String(app.appId), redirect_uri: "https://live.example/cb", response_type: "code", scope: "openid" })}`, { redirect: "manual" }).then(async (r) => r.text());
    expect(await authorize()).toContain("AADSTS50011");
    const ropc = () => fetch(`${o.url}/${o.tenantId}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "password", client_id: String(app.appId), username: DEMO.admin.username, password: DEMO.admin.password, scope: `${o.orgUrl}/user_impersonation` }) }).then(async (r) => ({ status: r.status, body: (await r.json()) as { access_token?: string; error_description?: string } }));
    expect((await ropc()).body.error_description).toMatch(/^AADSTS7000218/);

    expect((await graph(o, token, "PATCH", `applications/${String(app.id)}`, { web: { redirectUris: ["https://live.example/cb"] }, isFallbackPublicClient: true })).status).toBe(204);
    expect(await authorize()).not.toContain("AADSTS50011");
    const after = await ropc();
    expect(after.status).toBe(200);
    expect(after.body.access_token).toBeTruthy();
  });

  it("addKey (first certificate without a proof), removeKey with a proof signed by the app's certificate", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    const app = (await graph(o, token, "POST", "applications", { displayName: "Certificates" })).body;
    const cert = await createTestCertificate();
    const der = cert.certificatePem.replace(/-----[A-Z ]+-----|\s/g, "");
    const added = await graph(o, token, "POST", `applications/${String(app.id)}/addKey`, { keyCredential: { type: "AsymmetricX509Cert", usage: "Verify", key: der, displayName: "CN=orgbox test client" }, passwordCredential: null, proof: null });
    expect(added.status).toBe(200);
    expect(added.body).toMatchObject({ type: "AsymmetricX509Cert", usage: "Verify", key: null, customKeyIdentifier: Buffer.from(cert.sha1, "hex").toString("base64") });
    const keyId = String(added.body.keyId);
    const noProof = await graph(o, token, "POST", `applications/${String(app.id)}/removeKey`, { keyId, proof: "" });
    expect(noProof.body.error?.code).toBe("Request_BadRequest");
    const badProof = await graph(o, token, "POST", `applications/${String(app.id)}/removeKey`, { keyId, proof: await new SignJWT({}).setProtectedHeader({ alg: "RS256" }).setIssuer("someone-else").setAudience("00000002-0000-0000-c000-000000000000").setIssuedAt().setExpirationTime("10m").sign(await importPKCS8(cert.privateKeyPem, "RS256")) });
    expect(badProof.status).toBe(400);
    const proof = await new SignJWT({}).setProtectedHeader({ alg: "RS256" }).setIssuer(String(app.id)).setAudience("00000002-0000-0000-c000-000000000000").setNotBefore("0s").setIssuedAt().setExpirationTime("10m").sign(await importPKCS8(cert.privateKeyPem, "RS256"));
    expect((await graph(o, token, "POST", `applications/${String(app.id)}/removeKey`, { keyId, proof })).status).toBe(204);
    expect((await graph(o, token, "GET", `applications/${String(app.id)}?$select=keyCredentials`)).body.keyCredentials).toEqual([]);
  });

  it("owners: the creating user is an owner; $ref add, duplicate refused, remove, remove again 404", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    const app = (await graph(o, token, "POST", "applications", { displayName: "Owned" })).body;
    expect((await graph(o, token, "GET", `applications/${String(app.id)}/owners`)).body.value).toEqual([]);
    const ref = { "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${DEMO.admin.id}` };
    expect((await graph(o, token, "POST", `applications/${String(app.id)}/owners/$ref`, ref)).status).toBe(204);
    expect((await graph(o, token, "POST", `applications/${String(app.id)}/owners/$ref`, ref)).body.error?.code).toBe("Request_BadRequest");
    const owners = await graph(o, token, "GET", `applications/${String(app.id)}/owners`);
    expect(owners.body.value).toEqual([expect.objectContaining({ "@odata.type": "#microsoft.graph.user", id: DEMO.admin.id, userPrincipalName: DEMO.admin.username })]);
    expect((await graph(o, token, "DELETE", `applications/${String(app.id)}/owners/${DEMO.admin.id}/$ref`)).status).toBe(204);
    expect((await graph(o, token, "DELETE", `applications/${String(app.id)}/owners/${DEMO.admin.id}/$ref`)).body.error?.code).toBe("Request_ResourceNotFound");
    expect((await graph(o, token, "POST", `applications/${String(app.id)}/owners/$ref`, { "@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/00000000-0000-0000-0000-00000000dead" })).status).toBe(404);
  });

  it("PATCH refuses unknown, read-only and unsupported properties and invalid values by name (400 Request_BadRequest); DELETE removes", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    const app = (await graph(o, token, "POST", "applications", { displayName: "Validation" })).body;
    const patch = (body: unknown) => graph(o, token, "PATCH", `applications/${String(app.id)}`, body);
    const cases: [unknown, string][] = [
      [{ displayNam: "typo" }, "'displayNam'"],
      [{ appId: "00000000-0000-0000-0000-000000000001" }, "'appId' is read-only"],
      [{ tags: ["x"] }, "'tags'"],
      [{ web: { redirectUris: ["http://not-localhost.example/cb"] } }, "https"],
      [{ web: { redirectUri: [] } }, "'redirectUri'"],
      [{ signInAudience: "AzureADandPersonalMicrosoftAccount" }, "signInAudience"],
      [{ api: { requestedAccessTokenVersion: 3 } }, "requestedAccessTokenVersion"],
      [{ groupMembershipClaims: "DirectoryRole" }, "groupMembershipClaims"],
      [{ requiredResourceAccess: [{ resourceAppId: "nope", resourceAccess: [] }] }, "resourceAppId"],
      [{ web: { logoutUrl: "http://app.example/logout" } }, "logoutUrl"],
      [{ web: { logoutUrl: "not a url" } }, "logoutUrl"],
      [{ web: { logoutUrl: 42 } }, "logoutUrl"],
    ];
    for (const [body, named] of cases) {
      const res = await patch(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error?.code).toBe("Request_BadRequest");
      expect(res.body.error?.message).toContain(named);
    }
    expect((await patch({ api: { requestedAccessTokenVersion: 2, oauth2PermissionScopes: [{ id: "6a0e6c0e-1d2a-4f3e-9a0b-2a7f1c9d3e11", value: "access_as_user", type: "User" }] }, appRoles: [{ id: "6a0e6c0e-1d2a-4f3e-9a0b-2a7f1c9d3e12", value: "Sync.Run", displayName: "Run", allowedMemberTypes: ["Application"] }], identifierUris: [`api://${String(app.appId)}`], groupMembershipClaims: "SecurityGroup", spa: { redirectUris: ["http://localhost:5173"] }, web: { implicitGrantSettings: { enableIdTokenIssuance: true } } })).status).toBe(204);
    type Read = { api: { requestedAccessTokenVersion: number; oauth2PermissionScopes: unknown[] }; appRoles: unknown[]; identifierUris: string[]; spa: { redirectUris: string[] }; web: { implicitGrantSettings: unknown } };
    const read = (await graph(o, token, "GET", `applications/${String(app.id)}`)).body as unknown as Read;
    expect(read.api.requestedAccessTokenVersion).toBe(2);
    expect(read.api.oauth2PermissionScopes[0]).toMatchObject({ value: "access_as_user", isEnabled: true });
    expect(read.appRoles[0]).toMatchObject({ value: "Sync.Run", allowedMemberTypes: ["Application"] });
    expect(read.identifierUris).toEqual([`api://${String(app.appId)}`]);
    expect(read.spa.redirectUris).toEqual(["http://localhost:5173"]);
    expect(read.web.implicitGrantSettings).toEqual({ enableAccessTokenIssuance: false, enableIdTokenIssuance: true });
    // The front-channel logout URL (Authentication › Front-channel logout URL): set, kept by other PATCHes, cleared with null.
    expect((await patch({ web: { logoutUrl: "https://app.example/signout-oidc" } })).status).toBe(204);
    expect((await patch({ web: { redirectUris: ["https://app.example/signin-oidc"] } })).status).toBe(204);
    const web = async () => ((await graph(o, token, "GET", `applications/${String(app.id)}?$select=web`)).body as unknown as { web: { logoutUrl: string | null; redirectUris: string[] } }).web;
    expect(await web()).toMatchObject({ logoutUrl: "https://app.example/signout-oidc", redirectUris: ["https://app.example/signin-oidc"] });
    expect((await patch({ web: { logoutUrl: null } })).status).toBe(204);
    expect((await web()).logoutUrl).toBeNull();
    expect((await patch({ web: { logoutUrl: "http://localhost:5000/signout-oidc" } })).status).toBe(204);
    expect((await web()).logoutUrl).toBe("http://localhost:5000/signout-oidc");
    const other = (await graph(o, token, "POST", "applications", { displayName: "Clash" })).body;
    const clash = await graph(o, token, "PATCH", `applications/${String(other.id)}`, { identifierUris: [`api://${String(app.appId)}`] });
    expect(clash.body.error?.message).toContain("identifierUris");
    expect((await graph(o, token, "DELETE", `applications/${String(app.id)}`)).status).toBe(204);
    expect((await graph(o, token, "GET", `applications/${String(app.id)}`)).body.error?.code).toBe("Request_ResourceNotFound");
    const notAGuid = await graph(o, token, "GET", "applications/not-a-guid");
    expect(notAGuid.status).toBe(400);
    expect(notAGuid.body.error?.message).toBe("Invalid object identifier 'not-a-guid'.");
    expect((await graph(o, token, "GET", "applications(uniqueName='x')")).body.error?.message).toContain("uniqueName");
  });

  describe("authorization", () => {
    const READER = "c0de0000-0000-4000-8000-0000000e0001";
    const OWNED_BY = "c0de0000-0000-4000-8000-0000000e0002";
    const PUBLIC = "c0de0000-0000-4000-8000-0000000e0003";
    const secrets: Record<string, string> = {};

    beforeAll(async () => {
      const { service } = orgbox().identity;
      for (const [appId, role] of [[READER, "Application.Read.All"], [OWNED_BY, "Application.ReadWrite.OwnedBy"]] as const) {
        await service.registerApplication({ tenantId: DEMO.tenantId, appId, displayName: role });
        secrets[appId] = (await service.addPassword({ appId })).secretText;
        await service.grantApplicationPermissions({ tenantId: DEMO.tenantId, clientAppId: appId, resourceAppId: MICROSOFT_GRAPH_APP_ID, roles: [role] });
      }
      await service.registerApplication({ tenantId: DEMO.tenantId, appId: PUBLIC, displayName: "Graph public client", isFallbackPublicClient: true });
      await service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: PUBLIC, resourceAppId: MICROSOFT_GRAPH_APP_ID, scopes: ["Application.ReadWrite.All"] });
      await service.createUser({ tenantId: DEMO.tenantId, userPrincipalName: "dev@contoso.onmicrosoft.com", displayName: "Developer", password: "orgbox-Dev-1" });
      await service.createUser({ tenantId: DEMO.tenantId, userPrincipalName: "appadmin@contoso.onmicrosoft.com", displayName: "App Admin", password: "orgbox-Dev-1", directoryRoles: [DIRECTORY_ROLE_TEMPLATES.applicationAdministrator] });
    });

    it("Application.Read.All reads but cannot write: 403 Authorization_RequestDenied naming the permissions", async () => {
      const o = orgbox();
      const token = await graphToken(o, READER, secrets[READER]);
      expect((await graph(o, token, "GET", `applications/${DEMO.app.objectId}`)).status).toBe(200);
      const denied = await graph(o, token, "PATCH", `applications/${DEMO.app.objectId}`, { displayName: "renamed" });
      expect(denied.status).toBe(403);
      expect(denied.body.error?.code).toBe("Authorization_RequestDenied");
      expect(denied.body.error?.message).toContain("Application.ReadWrite.All");
      expect((await graph(o, token, "POST", `applications/${DEMO.app.objectId}/addPassword`, {})).status).toBe(403);
    });

    it("Application.ReadWrite.OwnedBy reaches only the apps it created or owns", async () => {
      const o = orgbox();
      const token = await graphToken(o, OWNED_BY, secrets[OWNED_BY]);
      const mine = await graph(o, token, "POST", "applications", { displayName: "Made by OwnedBy" });
      expect(mine.status).toBe(201);
      expect((await graph(o, token, "PATCH", `applications/${String(mine.body.id)}`, { displayName: "Renamed by OwnedBy" })).status).toBe(204);
      expect((await graph(o, token, "GET", "applications?$select=displayName")).body.value).toEqual([{ displayName: "Renamed by OwnedBy" }]);
      expect((await graph(o, token, "PATCH", `applications/${DEMO.app.objectId}`, { displayName: "nope" })).body.error?.code).toBe("Authorization_RequestDenied");
    });

    it("delegated: a user without a directory role reads, registers and manages own apps, but not others' (403); an Application Administrator may", async () => {
      const o = orgbox();
      const dev = await userGraphToken(o, PUBLIC, "dev@contoso.onmicrosoft.com", "orgbox-Dev-1", "https://graph.microsoft.com/Application.ReadWrite.All");
      expect((await graph(o, dev, "GET", `applications/${DEMO.app.objectId}`)).status).toBe(200);
      const denied = await graph(o, dev, "PATCH", `applications/${DEMO.app.objectId}`, { displayName: "hijacked" });
      expect(denied.status).toBe(403);
      expect(denied.body.error?.code).toBe("Authorization_RequestDenied");
      expect(denied.body.error?.message).toContain("Application Administrator");
      const own = await graph(o, dev, "POST", "applications", { displayName: "Dev's app" });
      expect(own.status).toBe(201);
      expect((await graph(o, dev, "PATCH", `applications/${String(own.body.id)}`, { displayName: "Dev's renamed app" })).status).toBe(204);
      expect((await graph(o, dev, "GET", `applications/${String(own.body.id)}/owners?`)).body.value?.map((u) => u.userPrincipalName)).toEqual(["dev@contoso.onmicrosoft.com"]);
      const admin = await userGraphToken(o, PUBLIC, "appadmin@contoso.onmicrosoft.com", "orgbox-Dev-1", "https://graph.microsoft.com/Application.ReadWrite.All");
      expect((await graph(o, admin, "PATCH", `applications/${String(own.body.id)}`, { displayName: "Fixed by the admin" })).status).toBe(204);
      // A delegated token without a Graph directory permission (User.Read only) is refused, naming the scopes.
      const { application: profileOnly } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "Profile reader", isFallbackPublicClient: true });
      await o.identity.service.grantConsent({ tenantId: o.tenantId, clientAppId: profileOnly.appId, resourceAppId: MICROSOFT_GRAPH_APP_ID, scopes: ["User.Read"] });
      const userRead = await userGraphToken(o, profileOnly.appId, "dev@contoso.onmicrosoft.com", "orgbox-Dev-1", "User.Read");
      const noScope = await graph(o, userRead, "GET", "applications");
      expect(noScope.status).toBe(403);
      expect(noScope.body.error?.message).toContain("Application.Read.All");
    });

    it("tenant isolation: tenant B's applications are 404 to a tenant A token, and A's to B's", async () => {
      const o = orgbox();
      const { service } = o.identity;
      const b = await service.createTenant({ displayName: "Fabrikam", defaultDomain: "fabrikam-graph.onmicrosoft.com" });
      const { application: bApp } = await service.registerApplication({ tenantId: b.id, displayName: "Fabrikam secret app" });
      const { application: bAdmin } = await service.registerApplication({ tenantId: b.id, displayName: "Fabrikam Graph admin" });
      const bSecret = (await service.addPassword({ appId: bAdmin.appId })).secretText;
      await service.grantApplicationPermissions({ tenantId: b.id, clientAppId: bAdmin.appId, resourceAppId: MICROSOFT_GRAPH_APP_ID, roles: ["Application.ReadWrite.All"] });
      const a = await graphToken(o);
      expect((await graph(o, a, "GET", `applications/${bApp.id}`)).body.error?.code).toBe("Request_ResourceNotFound");
      expect((await graph(o, a, "GET", `applications(appId='${bApp.appId}')`)).status).toBe(404);
      expect((await graph(o, a, "PATCH", `applications/${bApp.id}`, { displayName: "x" })).status).toBe(404);
      expect((await graph(o, a, "GET", `applications?$filter=appId eq '${bApp.appId}'`)).body.value).toEqual([]);
      const bToken = await graphToken(o, bAdmin.appId, bSecret, b.id);
      expect((await graph(o, bToken, "GET", "applications?$select=displayName")).body.value?.map((x) => x.displayName).sort()).toEqual(["Fabrikam Graph admin", "Fabrikam secret app"]);
      expect((await graph(o, bToken, "GET", `applications/${DEMO.app.objectId}`)).status).toBe(404);
    });
  });
});
