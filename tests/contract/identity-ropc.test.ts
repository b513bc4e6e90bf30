import { PublicClientApplication } from "@azure/msal-node";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/server/demo.ts";
import { DYNAMICS_CRM_APP_ID, GLOBAL_ADMINISTRATOR_ROLE } from "../../src/identity/index.ts";
import { apiGet, useOrgbox } from "../helpers/orgbox.ts";

const PUBLIC_APP = "c0de0000-0000-4000-8000-0000000e2e01";
const NO_CONSENT_APP = "c0de0000-0000-4000-8000-0000000e2e02";

type Json = Record<string, unknown>;

async function tokenRequest(url: string, form: Record<string, string>): Promise<{ status: number; body: Json }> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form) });
  return { status: response.status, body: (await response.json()) as Json };
}

describe("ROPC and refresh tokens (delegated)", () => {
  const orgbox = useOrgbox();
  const v2 = () => `${orgbox().authority}/oauth2/v2.0/token`;
  const v1 = () => `${orgbox().authority}/oauth2/token`;
  const scope = () => `${orgbox().orgUrl}/user_impersonation openid profile offline_access`;
  const ropc = (extra: Record<string, string> = {}) => ({ grant_type: "password", client_id: PUBLIC_APP, username: DEMO.admin.username, password: DEMO.admin.password, scope: scope(), client_info: "1", ...extra });

  beforeAll(async () => {
    const { service } = orgbox().identity;
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: PUBLIC_APP, displayName: "ROPC test client", isFallbackPublicClient: true, publicClientRedirectUris: ["http://localhost"] });
    await service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: PUBLIC_APP, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: NO_CONSENT_APP, displayName: "Unconsented client", isFallbackPublicClient: true });
  });

  it("user realm discovery (what MSAL Python, .NET and Go ask before ROPC): Managed for a tenant's domain, else Unknown; 1.0 and 2.x shapes", async () => {
    const o = orgbox();
    const managed = await fetch(`${o.url}/common/userrealm/${encodeURIComponent(DEMO.admin.username)}?api-version=1.0`);
    expect(managed.status).toBe(200);
    expect(await managed.json()).toEqual({ ver: "1.0", account_type: "Managed", domain_name: DEMO.tenantDomain, cloud_instance_name: "orgbox.local", cloud_audience_urn: "urn:federation:MicrosoftOnline" });
    const unknown = await fetch(`${o.url}/common/userrealm/someone@nowhere.example?api-version=1.0`);
    expect(await unknown.json()).toEqual({ ver: "1.0", account_type: "Unknown", cloud_instance_name: "orgbox.local" });
    const noDomain = await fetch(`${o.url}/common/userrealm/justaname`);
    expect(await noDomain.json()).toMatchObject({ account_type: "Unknown" });
    const v2 = await fetch(`${o.url}/common/userrealm/${encodeURIComponent(DEMO.admin.username.toUpperCase())}?api-version=2.1`);
    expect(await v2.json()).toMatchObject({ NameSpaceType: "Managed", Login: DEMO.admin.username.toUpperCase(), DomainName: DEMO.tenantDomain, FederationBrandName: DEMO.tenantDisplayName });
  });

  it("msal-node acquireTokenByUsernamePassword → delegated v1 token → Dataverse WhoAmI is the admin", async () => {
    const pca = new PublicClientApplication({ auth: { clientId: PUBLIC_APP, authority: orgbox().authority, knownAuthorities: [new URL(orgbox().url).host] } });
    const result = await pca.acquireTokenByUsernamePassword({ scopes: [`${orgbox().orgUrl}/user_impersonation`], username: DEMO.admin.username, password: DEMO.admin.password });
    expect(result).not.toBeNull();
    const claims = decodeJwt(result!.accessToken);
    expect(decodeProtectedHeader(result!.accessToken).x5t).toBeDefined();
    expect(claims).toMatchObject({
      aud: orgbox().orgUrl,
      iss: `${orgbox().url}/sts/${DEMO.tenantId}/`,
      scp: "user_impersonation",
      appid: PUBLIC_APP,
      appidacr: "0",
      oid: DEMO.admin.id,
      tid: DEMO.tenantId,
      upn: DEMO.admin.username,
      unique_name: DEMO.admin.username,
      name: DEMO.admin.displayName,
      given_name: "Contoso",
      family_name: "Admin",
      amr: ["pwd"],
      ver: "1.0",
    });
    expect(claims.idp).toBeUndefined();
    expect(claims.wids).toContain(GLOBAL_ADMINISTRATOR_ROLE);
    expect(typeof claims.sub).toBe("string");
    expect(claims.sub).not.toBe(DEMO.admin.id);
    expect(result!.account?.homeAccountId).toBe(`${DEMO.admin.id}.${DEMO.tenantId}`);
    expect(result!.account?.username).toBe(DEMO.admin.username);
    expect(result!.idTokenClaims).toMatchObject({ aud: PUBLIC_APP, ver: "2.0", iss: `${orgbox().url}/${DEMO.tenantId}/v2.0`, preferred_username: DEMO.admin.username, oid: DEMO.admin.id, sub: claims.sub });

    const whoAmI = await apiGet(orgbox(), result!.accessToken, "WhoAmI");
    expect(whoAmI.status).toBe(200);
    expect((whoAmI.body as Json).UserId).toBe(DEMO.org.adminSystemUserId);

    // acquireTokenSilent with forceRefresh redeems the cached refresh token
    const silent = await pca.acquireTokenSilent({ account: result!.account!, scopes: [`${orgbox().orgUrl}/user_impersonation`], forceRefresh: true });
    expect(silent.accessToken).not.toBe(result!.accessToken);
    expect(decodeJwt(silent.accessToken)).toMatchObject({ aud: orgbox().orgUrl, scp: "user_impersonation", oid: DEMO.admin.id });
    expect((await apiGet(orgbox(), silent.accessToken, "WhoAmI")).status).toBe(200);
  });

  it("v2 raw response has the documented shape", async () => {
    const { status, body } = await tokenRequest(v2(), ropc());
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: "Bearer", scope: `${orgbox().orgUrl}/user_impersonation` });
    expect(typeof body.expires_in).toBe("number");
    expect(typeof body.ext_expires_in).toBe("number");
    expect(typeof body.refresh_token).toBe("string");
    expect(typeof body.id_token).toBe("string");
    expect(JSON.parse(Buffer.from(body.client_info as string, "base64url").toString())).toEqual({ uid: DEMO.admin.id, utid: DEMO.tenantId });
    // without offline_access / openid: no refresh token, no id_token
    const bare = await tokenRequest(v2(), ropc({ scope: `${orgbox().orgUrl}/.default`, client_info: "0" }));
    expect(bare.status).toBe(200);
    expect(bare.body.refresh_token).toBeUndefined();
    expect(bare.body.id_token).toBeUndefined();
    expect(bare.body.client_info).toBeUndefined();
    expect(decodeJwt(bare.body.access_token as string).scp).toBe("user_impersonation");
  });

  it("v1 raw response has string expiry fields, resource, scope and a v1 id_token", async () => {
    const { status, body } = await tokenRequest(v1(), { grant_type: "password", client_id: PUBLIC_APP, username: DEMO.admin.username, password: DEMO.admin.password, resource: `${orgbox().orgUrl}/` });
    expect(status).toBe(200);
    expect(body).toMatchObject({ token_type: "Bearer", scope: "user_impersonation", resource: `${orgbox().orgUrl}/` });
    for (const k of ["expires_in", "ext_expires_in", "expires_on", "not_before"]) expect(typeof body[k]).toBe("string");
    expect(typeof body.refresh_token).toBe("string");
    expect(decodeJwt(body.access_token as string).aud).toBe(`${orgbox().orgUrl}/`);
    expect(decodeJwt(body.id_token as string)).toMatchObject({ ver: "1.0", aud: PUBLIC_APP, upn: DEMO.admin.username, unique_name: DEMO.admin.username, iss: `${orgbox().url}/sts/${DEMO.tenantId}/` });
    expect((await apiGet(orgbox(), body.access_token as string, "WhoAmI")).status).toBe(200);
  });

  describe("errors", () => {
    const expectAad = (res: { status: number; body: Json }, status: number, error: string, code: number) => {
      expect(res.status).toBe(status);
      expect(res.body.error).toBe(error);
      expect(res.body.error_codes).toEqual([code]);
      expect(String(res.body.error_description)).toMatch(new RegExp(`^AADSTS${code}: `));
    };

    it("wrong password → 50126", async () => {
      const res = await tokenRequest(v2(), ropc({ password: "nope" }));
      expectAad(res, 400, "invalid_grant", 50126);
      expect(res.body.error_description).toContain("Error validating credentials due to invalid username or password.");
    });
    it("unknown user → 50034", async () => {
      const res = await tokenRequest(v2(), ropc({ username: "ghost@contoso.onmicrosoft.com" }));
      expectAad(res, 400, "invalid_grant", 50034);
      expect(res.body.error_description).toContain("The user account {EmailHidden} does not exist in the contoso.onmicrosoft.com directory");
    });
    it("public client sending a secret → 700025", async () => {
      expectAad(await tokenRequest(v2(), ropc({ client_secret: "x" })), 401, "invalid_client", 700025);
    });
    it("confidential client without a secret → 7000218", async () => {
      expectAad(await tokenRequest(v2(), ropc({ client_id: DEMO.app.clientId })), 401, "invalid_client", 7000218);
    });
    it("no consent → 65001 with suberror consent_required", async () => {
      const res = await tokenRequest(v2(), ropc({ client_id: NO_CONSENT_APP }));
      expectAad(res, 400, "invalid_grant", 65001);
      expect(res.body.suberror).toBe("consent_required");
    });
    it("two resources in scope → 28000; unknown permission → 650053; resource= on v2 → 901002", async () => {
      expectAad(await tokenRequest(v2(), ropc({ scope: `${orgbox().orgUrl}/user_impersonation https://graph.microsoft.com/User.Read` })), 400, "invalid_scope", 28000);
      expectAad(await tokenRequest(v2(), ropc({ scope: `${orgbox().orgUrl}/nope` })), 401, "invalid_client", 650053);
      expectAad(await tokenRequest(v2(), ropc({ resource: orgbox().orgUrl })), 400, "invalid_request", 901002);
    });
    it("refresh: a new refresh token each time, the used one stays valid (Entra), other client → 70000, garbage → 70000", async () => {
      const first = await tokenRequest(v2(), ropc());
      const rt = first.body.refresh_token as string;
      const refreshed = await tokenRequest(v2(), { grant_type: "refresh_token", client_id: PUBLIC_APP, refresh_token: rt, scope: scope(), client_info: "1" });
      expect(refreshed.status).toBe(200);
      expect(refreshed.body.refresh_token).not.toBe(rt);
      expect(refreshed.body.client_info).toBeDefined();
      expect((await tokenRequest(v2(), { grant_type: "refresh_token", client_id: PUBLIC_APP, refresh_token: rt, scope: scope() })).status).toBe(200);
      expectAad(await tokenRequest(v2(), { grant_type: "refresh_token", client_id: NO_CONSENT_APP, refresh_token: refreshed.body.refresh_token as string, scope: scope() }), 400, "invalid_grant", 70000);
      expectAad(await tokenRequest(v2(), { grant_type: "refresh_token", client_id: PUBLIC_APP, refresh_token: "1.Anot-a-token", scope: scope() }), 400, "invalid_grant", 70000);
      // v1 refresh without resource falls back to the stored one
      const v1Refresh = await tokenRequest(v1(), { grant_type: "refresh_token", client_id: PUBLIC_APP, refresh_token: refreshed.body.refresh_token as string });
      expect(v1Refresh.status).toBe(200);
      expect(v1Refresh.body.resource).toBe(orgbox().orgUrl);
    });
  });
});

describe("refresh-token lifetime, password reset and disabled users", () => {
  const orgbox = useOrgbox({}, {});
  const USER_ID = "c0de0000-0000-4000-8000-0000000e2eaa";
  const upn = "pat@contoso.onmicrosoft.com";
  beforeAll(async () => {
    const { service } = orgbox().identity;
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: PUBLIC_APP, displayName: "ROPC test client", isFallbackPublicClient: true });
    await service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: PUBLIC_APP, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
    await service.createUser({ tenantId: DEMO.tenantId, id: USER_ID, userPrincipalName: upn, displayName: "Pat", password: "Old-pass-1" });
  });
  const v2 = () => `${orgbox().authority}/oauth2/v2.0/token`;
  const form = (password: string) => ({ grant_type: "password", client_id: PUBLIC_APP, username: upn, password, scope: `${orgbox().orgUrl}/user_impersonation offline_access` });

  it("a password reset revokes earlier refresh tokens (50173); a disabled user gets 50057", async () => {
    const first = await tokenRequest(v2(), form("Old-pass-1"));
    expect(first.status).toBe(200);
    await new Promise((r) => setTimeout(r, 5));
    await orgbox().identity.service.resetPassword(USER_ID, "New-pass-2");
    const refresh = await tokenRequest(v2(), { grant_type: "refresh_token", client_id: PUBLIC_APP, refresh_token: first.body.refresh_token as string });
    expect(refresh.status).toBe(400);
    expect(refresh.body.error_codes).toEqual([50173]);
    expect((await tokenRequest(v2(), form("Old-pass-1"))).body.error_codes).toEqual([50126]);
    const fresh = await tokenRequest(v2(), form("New-pass-2"));
    expect(fresh.status).toBe(200);
    await orgbox().identity.service.setAccountEnabled(USER_ID, false);
    expect((await tokenRequest(v2(), form("New-pass-2"))).body.error_codes).toEqual([50057]);
    expect((await tokenRequest(v2(), { grant_type: "refresh_token", client_id: PUBLIC_APP, refresh_token: fresh.body.refresh_token as string })).body.error_codes).toEqual([50057]);
  });
});
