import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DYNAMICS_CRM_APP_ID, GLOBAL_ADMINISTRATOR_ROLE } from "../../src/identity/index.ts";
import { DEMO } from "../../src/server/demo.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { PageSession, type PageResponse } from "../helpers/page-session.ts";

const FABRIKAM = "fab00000-0000-4000-8000-000000000001";
const FAB_ADMIN = { username: "admin@fabrikam.onmicrosoft.com", password: "fabrikam-Admin-1" };
const FAB_USER = { username: "user@fabrikam.onmicrosoft.com", password: "fabrikam-User-1" };
const API_APP = "c0de0000-0000-4000-8000-0000000c0a01";
const API_URI = "api://orgbox-consent-api";
const API_ROLE = "c0de0000-0000-4000-8000-0000000c0a0e";
const SINGLE_APP = "c0de0000-0000-4000-8000-0000000c0a02";
const MULTI_APP = "c0de0000-0000-4000-8000-0000000c0a03";
const MULTI_NEEDS_API = "c0de0000-0000-4000-8000-0000000c0a04";
const REDIRECT = "https://app.example/consent-callback";
const USER_IMPERSONATION = "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4";

describe("admin consent, multi-tenant apps, logout and userinfo (plain fetch)", () => {
  const orgbox = useOrgbox();
  const secrets: Record<string, string> = {};

  beforeAll(async () => {
    const { service } = orgbox().identity;
    await service.createTenant({ id: FABRIKAM, displayName: "Fabrikam", defaultDomain: "fabrikam.onmicrosoft.com" });
    await service.createUser({ tenantId: FABRIKAM, userPrincipalName: FAB_ADMIN.username, displayName: "Fabrikam Admin", password: FAB_ADMIN.password, directoryRoles: [GLOBAL_ADMINISTRATOR_ROLE] });
    await service.createUser({ tenantId: FABRIKAM, userPrincipalName: FAB_USER.username, displayName: "Fabrikam User", givenName: "Fab", surname: "User", password: FAB_USER.password });
    await service.registerApplication({
      tenantId: DEMO.tenantId,
      appId: API_APP,
      displayName: "Consent test API",
      identifierUris: [API_URI],
      appRoles: [{ id: API_ROLE, value: "Records.Read.All", displayName: "Read all records", description: "Allows the app to read all records without a signed-in user.", allowedMemberTypes: ["Application"] }],
    });
    const crm = { resourceAppId: DYNAMICS_CRM_APP_ID, resourceAccess: [{ id: USER_IMPERSONATION, type: "Scope" as const }] };
    const api = { resourceAppId: API_APP, resourceAccess: [{ id: API_ROLE, type: "Role" as const }] };
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: SINGLE_APP, displayName: "Single-tenant consent app", webRedirectUris: [REDIRECT], requiredResourceAccess: [api, crm] });
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: MULTI_APP, displayName: "Multi-tenant consent app", signInAudience: "AzureADMultipleOrgs", webRedirectUris: [REDIRECT], requiredResourceAccess: [crm] });
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: MULTI_NEEDS_API, displayName: "Multi-tenant app needing the API", signInAudience: "AzureADMultipleOrgs", webRedirectUris: [REDIRECT], requiredResourceAccess: [api] });
    for (const appId of [SINGLE_APP, MULTI_APP, MULTI_NEEDS_API]) secrets[appId] = (await service.addPassword({ appId })).secretText;
  });

  const token = async (tenant: string, form: Record<string, string>) => {
    const res = await fetch(`${orgbox().url}/${tenant}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams(form) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const clientCredentials = (tenant: string, appId: string, scope: string) => token(tenant, { grant_type: "client_credentials", client_id: appId, client_secret: secrets[appId] as string, scope });
  const adminConsentUrl = (path: string, params: Record<string, string>) => `${orgbox().url}/${path}?${new URLSearchParams(params).toString()}`;
  const redirectParams = (page: PageResponse) => {
    expect(page.status).toBe(302);
    expect(page.location?.startsWith(REDIRECT)).toBe(true);
    return new URL(page.location as string).searchParams;
  };
  const authorizeUrl = (tenant: string, params: Record<string, string>) =>
    `${orgbox().url}/${tenant}/oauth2/v2.0/authorize?${new URLSearchParams({ response_type: "code", redirect_uri: REDIRECT, ...params }).toString()}`;

  describe("admin consent endpoint", () => {
    it("v2 with /.default: sign-in, consent page, redirect; app roles then appear in client-credentials tokens and delegated grants cover everyone", async () => {
      const before = await clientCredentials(DEMO.tenantId, SINGLE_APP, `${API_URI}/.default`);
      expect(before.status).toBe(200);
      expect(decodeJwt(before.body.access_token as string).roles).toBeUndefined();
      const ropc = { grant_type: "password", client_id: SINGLE_APP, client_secret: secrets[SINGLE_APP] as string, username: DEMO.admin.username, password: DEMO.admin.password, scope: `${orgbox().orgUrl}/user_impersonation` };
      expect((await token(DEMO.tenantId, ropc)).body.error_codes).toEqual([65001]);

      const browser = new PageSession();
      const scope = `${API_URI}/.default`;
      const signIn = await browser.open(adminConsentUrl(`${DEMO.tenantId}/v2.0/adminconsent`, { client_id: SINGLE_APP, redirect_uri: REDIRECT, scope, state: "st-1" }));
      expect(signIn.status).toBe(200);
      expect(signIn.html).toContain("Sign in");
      const consent = await browser.signIn(signIn, DEMO.admin.username, DEMO.admin.password);
      expect(consent.status).toBe(200);
      expect(consent.html).toContain("Permissions requested");
      expect(consent.html).toContain("Read all records");
      expect(consent.html).toContain("Consent test API: Records.Read.All");
      expect(consent.html).toContain("Access Common Data Service as organization users");
      expect(consent.html).toContain(`all users in ${DEMO.tenantDisplayName}`);
      const back = redirectParams(await browser.submit(consent, { decision: "accept" }));
      expect(Object.fromEntries(back)).toEqual({ admin_consent: "True", tenant: DEMO.tenantId, scope, state: "st-1" });

      const after = await clientCredentials(DEMO.tenantId, SINGLE_APP, `${API_URI}/.default`);
      expect(decodeJwt(after.body.access_token as string)).toMatchObject({ roles: ["Records.Read.All"], aud: API_URI, idtyp: "app" });
      const v1 = await fetch(`${orgbox().url}/${DEMO.tenantId}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: SINGLE_APP, client_secret: secrets[SINGLE_APP] as string, resource: API_APP }) });
      expect(decodeJwt(((await v1.json()) as { access_token: string }).access_token).roles).toEqual(["Records.Read.All"]);
      // AllPrincipals grant for user_impersonation: a user who never consented gets a token
      const user = await token(DEMO.tenantId, ropc);
      expect(user.status).toBe(200);
      expect(decodeJwt(user.body.access_token as string).scp).toBe("user_impersonation");

      // consenting again is idempotent (the session is reused: straight to the consent page)
      const again = await browser.open(adminConsentUrl(`${DEMO.tenantId}/v2.0/adminconsent`, { client_id: SINGLE_APP, redirect_uri: REDIRECT, scope, state: "st-2" }));
      expect(again.html).toContain("Permissions requested");
      expect(redirectParams(await browser.submit(again, { decision: "accept" })).get("admin_consent")).toBe("True");
      const third = await clientCredentials(DEMO.tenantId, SINGLE_APP, `${API_URI}/.default`);
      expect(decodeJwt(third.body.access_token as string).roles).toEqual(["Records.Read.All"]);
    });

    it("v1 on /organizations: another tenant's admin consents a multi-tenant app, which creates its service principal there", async () => {
      const before = await clientCredentials(FABRIKAM, MULTI_APP, `${orgbox().orgUrl}/.default`);
      expect(before.status).toBe(400);
      expect(before.body.error_codes).toEqual([700016]);
      expect(before.body.error).toBe("unauthorized_client");
      expect(await orgbox().identity.service.findServicePrincipal(FABRIKAM, MULTI_APP)).toBeUndefined();

      const browser = new PageSession();
      const signIn = await browser.open(adminConsentUrl("organizations/adminconsent", { client_id: MULTI_APP, redirect_uri: REDIRECT, state: "v1" }));
      const consent = await browser.signIn(signIn, FAB_ADMIN.username, FAB_ADMIN.password);
      expect(consent.html).toContain("all users in Fabrikam");
      const back = redirectParams(await browser.submit(consent, { decision: "accept" }));
      expect(Object.fromEntries(back)).toEqual({ admin_consent: "True", tenant: FABRIKAM, state: "v1" });

      const sp = await orgbox().identity.service.findServicePrincipal(FABRIKAM, MULTI_APP);
      expect(sp).toMatchObject({ tenantId: FABRIKAM, appOwnerOrganizationId: DEMO.tenantId });
      const after = await clientCredentials(FABRIKAM, MULTI_APP, `${orgbox().orgUrl}/.default`);
      expect(after.status).toBe(200);
      expect(decodeJwt(after.body.access_token as string)).toMatchObject({ tid: FABRIKAM, oid: sp?.id, appid: MULTI_APP });
    });

    it("renders errors that cannot be redirected on its own page", async () => {
      const cases: [string, Record<string, string>, number][] = [
        [`${DEMO.tenantId}/v2.0/adminconsent`, { redirect_uri: REDIRECT, scope: `${API_URI}/.default` }, 900144],
        [`${DEMO.tenantId}/v2.0/adminconsent`, { client_id: "c0de0000-0000-4000-8000-0000000fffff", redirect_uri: REDIRECT }, 700016],
        [`${DEMO.tenantId}/v2.0/adminconsent`, { client_id: SINGLE_APP, redirect_uri: "https://evil.example/cb" }, 50011],
        [`${DEMO.tenantId}/adminconsent`, { client_id: SINGLE_APP }, 900144],
        ["common/v2.0/adminconsent", { client_id: SINGLE_APP, redirect_uri: REDIRECT, scope: `${API_URI}/.default` }, 50194],
        [`${FABRIKAM}/v2.0/adminconsent`, { client_id: SINGLE_APP, redirect_uri: REDIRECT, scope: `${API_URI}/.default` }, 700016],
        ["nosuchtenant.onmicrosoft.com/adminconsent", { client_id: MULTI_APP, redirect_uri: REDIRECT }, 90002],
      ];
      for (const [path, params, code] of cases) {
        const res = await fetch(adminConsentUrl(path, params), { redirect: "manual" });
        expect(res.status, `${path} ${code}`).toBe(400);
        expect(res.headers.get("content-type")).toContain("text/html");
        expect(await res.text()).toContain(`AADSTS${code}`);
      }
    });

    it("refuses a user who is not an administrator (AADSTS90094 page, no redirect)", async () => {
      const browser = new PageSession();
      const signIn = await browser.open(adminConsentUrl(`${FABRIKAM}/v2.0/adminconsent`, { client_id: MULTI_APP, redirect_uri: REDIRECT, scope: `${orgbox().orgUrl}/.default` }));
      const denied = await browser.signIn(signIn, FAB_USER.username, FAB_USER.password);
      expect(denied.status).toBe(403);
      expect(denied.location).toBeNull();
      expect(denied.html).toContain("AADSTS90094");
    });

    it("shows sign-in errors on the page: wrong password, user of another tenant", async () => {
      const browser = new PageSession();
      const signIn = await browser.open(adminConsentUrl(`${FABRIKAM}/v2.0/adminconsent`, { client_id: MULTI_APP, redirect_uri: REDIRECT, scope: `${orgbox().orgUrl}/.default` }));
      const wrong = await browser.signIn(signIn, FAB_ADMIN.username, "nope");
      expect(wrong.status).toBe(200);
      expect(wrong.html).toContain("Your account or password is incorrect");
      const other = await browser.signIn(wrong, DEMO.admin.username, DEMO.admin.password);
      expect(other.html).toContain("This username may be incorrect");
    });

    it("redirects protocol errors: declined (65004), missing v2 scope (900144), resource not in the tenant (650052)", async () => {
      const browser = new PageSession();
      const signIn = await browser.open(adminConsentUrl(`${FABRIKAM}/v2.0/adminconsent`, { client_id: MULTI_APP, redirect_uri: REDIRECT, scope: `${orgbox().orgUrl}/.default`, state: "no" }));
      const consent = await browser.signIn(signIn, FAB_ADMIN.username, FAB_ADMIN.password);
      const declined = redirectParams(await browser.submit(consent, { decision: "cancel" }));
      expect(declined.get("error")).toBe("access_denied");
      expect(declined.get("error_subcode")).toBe("cancel");
      expect(declined.get("error_description")).toMatch(/^AADSTS65004: /);
      expect(declined.get("state")).toBe("no");

      const noScope = redirectParams(await browser.open(adminConsentUrl(`${FABRIKAM}/v2.0/adminconsent`, { client_id: MULTI_APP, redirect_uri: REDIRECT, state: "s" })));
      expect(noScope.get("error")).toBe("invalid_request");
      expect(noScope.get("error_description")).toMatch(/^AADSTS900144: .*'scope'/);

      // the API it needs is single-tenant and has no service principal in Fabrikam
      const missing = redirectParams(await browser.open(adminConsentUrl(`${FABRIKAM}/v2.0/adminconsent`, { client_id: MULTI_NEEDS_API, redirect_uri: REDIRECT, scope: `${API_URI}/.default` })));
      expect(missing.get("error")).toBe("invalid_client");
      expect(missing.get("error_description")).toMatch(/^AADSTS650052: .*Consent test API.*Fabrikam/);
      expect(await orgbox().identity.service.findServicePrincipal(FABRIKAM, MULTI_NEEDS_API)).toBeUndefined();
    });

    it("rejects a page post without the CSRF token (AADSTS90023)", async () => {
      const res = await fetch(`${orgbox().url}/${FABRIKAM}/v2.0/adminconsent`, { method: "POST", redirect: "manual", body: new URLSearchParams({ step: "consent", decision: "accept", ctx: "e30" }) });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain("AADSTS90023");
    });
  });

  describe("multi-tenant apps at /authorize", () => {
    it("a single-tenant app on /common or /organizations → AADSTS50194 page", async () => {
      for (const alias of ["common", "organizations"]) {
        const res = await fetch(authorizeUrl(alias, { client_id: SINGLE_APP, scope: "openid" }), { redirect: "manual" });
        expect(res.status).toBe(400);
        const text = await res.text();
        expect(text).toContain("AADSTS50194");
        expect(text).toContain("is not configured as a multi-tenant application");
      }
    });

    it("a single-tenant app on another tenant's endpoint → AADSTS700016 page", async () => {
      const res = await fetch(authorizeUrl(FABRIKAM, { client_id: SINGLE_APP, scope: "openid" }), { redirect: "manual" });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain("AADSTS700016");
    });

    it("user consent in another tenant creates the service principal there; declining redirects access_denied (65004)", async () => {
      const MULTI_USER_APP = "c0de0000-0000-4000-8000-0000000c0a05";
      const { service } = orgbox().identity;
      await service.registerApplication({ tenantId: DEMO.tenantId, appId: MULTI_USER_APP, displayName: "Multi-tenant user-consent app", signInAudience: "AzureADMultipleOrgs", webRedirectUris: [REDIRECT] });
      const secret = (await service.addPassword({ appId: MULTI_USER_APP })).secretText;
      const scope = `openid profile ${orgbox().orgUrl}/user_impersonation`;

      const browser = new PageSession();
      const signIn = await browser.open(authorizeUrl("organizations", { client_id: MULTI_USER_APP, scope, state: "d" }));
      const consent = await browser.signIn(signIn, FAB_USER.username, FAB_USER.password);
      expect(consent.html).toContain("Permissions requested");
      expect(consent.html).toContain("Multi-tenant user-consent app");
      const declined = redirectParams(await browser.submit(consent, { decision: "cancel" }));
      expect(declined.get("error")).toBe("access_denied");
      expect(declined.get("error_description")).toMatch(/^AADSTS65004: /);
      expect(declined.get("state")).toBe("d");
      expect(await service.findServicePrincipal(FABRIKAM, MULTI_USER_APP)).toBeUndefined();

      // signed in, but silent: the app is not in the tenant yet
      const silent = redirectParams(await browser.open(authorizeUrl("organizations", { client_id: MULTI_USER_APP, scope, prompt: "none" })));
      expect(silent.get("error")).toBe("interaction_required");

      const again = await browser.open(authorizeUrl(FABRIKAM, { client_id: MULTI_USER_APP, scope, state: "a" }));
      expect(again.html).toContain("Permissions requested");
      const back = redirectParams(await browser.submit(again, { decision: "accept" }));
      const code = back.get("code") as string;
      expect(code).toBeTruthy();
      const sp = await service.findServicePrincipal(FABRIKAM, MULTI_USER_APP);
      expect(sp).toMatchObject({ tenantId: FABRIKAM, appOwnerOrganizationId: DEMO.tenantId });

      const redeemed = await token("organizations", { grant_type: "authorization_code", client_id: MULTI_USER_APP, client_secret: secret, code, redirect_uri: REDIRECT, scope });
      expect(redeemed.status).toBe(200);
      expect(decodeJwt(redeemed.body.access_token as string)).toMatchObject({ tid: FABRIKAM, scp: "user_impersonation", appid: MULTI_USER_APP });
      expect(decodeJwt(redeemed.body.id_token as string)).toMatchObject({ tid: FABRIKAM, iss: `${orgbox().url}/${FABRIKAM}/v2.0`, aud: MULTI_USER_APP });
      // the app now exists in Fabrikam, so its client credentials work there too
      secrets[MULTI_USER_APP] = secret;
      expect((await clientCredentials(FABRIKAM, MULTI_USER_APP, `${orgbox().orgUrl}/.default`)).status).toBe(200);
    });
  });

  describe("logout", () => {
    const signedInBrowser = async () => {
      const browser = new PageSession();
      const signIn = await browser.open(authorizeUrl(DEMO.tenantId, { client_id: SINGLE_APP, scope: "openid profile", nonce: "n" }));
      const back = redirectParams(await browser.signIn(signIn, DEMO.admin.username, DEMO.admin.password));
      expect(back.get("code")).toBeTruthy();
      expect(browser.cookie("orgbox_session")).toBeTruthy();
      return { browser, code: back.get("code") as string };
    };
    const silentError = async (browser: PageSession) => redirectParams(await browser.open(authorizeUrl(DEMO.tenantId, { client_id: SINGLE_APP, scope: "openid", prompt: "none" }))).get("error");

    it("v2: clears the session and returns to a registered post_logout_redirect_uri with state", async () => {
      const { browser } = await signedInBrowser();
      expect(await silentError(browser)).toBeNull();
      const out = await browser.open(`${orgbox().url}/${DEMO.tenantId}/oauth2/v2.0/logout?${new URLSearchParams({ client_id: SINGLE_APP, post_logout_redirect_uri: REDIRECT, state: "bye" }).toString()}`);
      expect(out.status).toBe(302);
      expect(out.location).toBe(`${REDIRECT}?state=bye`);
      expect(out.headers.getSetCookie().some((c) => /^orgbox_session=;.*Max-Age=0/.test(c))).toBe(true);
      expect(browser.cookie("orgbox_session")).toBeUndefined();
      expect(await silentError(browser)).toBe("login_required");
    });

    it("revokes the session server-side (a kept cookie no longer signs in)", async () => {
      const { browser } = await signedInBrowser();
      const kept = browser.cookie("orgbox_session") as string;
      await browser.open(`${orgbox().url}/${DEMO.tenantId}/oauth2/v2.0/logout`);
      const replay = await fetch(authorizeUrl(DEMO.tenantId, { client_id: SINGLE_APP, scope: "openid", prompt: "none" }), { redirect: "manual", headers: { cookie: `orgbox_session=${kept}` } });
      expect(new URL(replay.headers.get("location") as string).searchParams.get("error")).toBe("login_required");
    });

    it("identifies the app from id_token_hint (v1 endpoint, POST)", async () => {
      const { browser, code } = await signedInBrowser();
      const tokens = await token(DEMO.tenantId, { grant_type: "authorization_code", client_id: SINGLE_APP, client_secret: secrets[SINGLE_APP] as string, code, redirect_uri: REDIRECT, scope: "openid profile" });
      const idToken = tokens.body.id_token as string;
      const out = await browser.open(`${orgbox().url}/${DEMO.tenantId}/oauth2/logout`, { id_token_hint: idToken, post_logout_redirect_uri: REDIRECT });
      expect(out.status).toBe(302);
      expect(out.location).toBe(REDIRECT);
      // a hint with a broken signature identifies nobody: signed-out page
      const [h, p] = idToken.split(".");
      const forged = await browser.open(`${orgbox().url}/${DEMO.tenantId}/oauth2/logout`, { id_token_hint: `${h}.${p}.AAAA`, post_logout_redirect_uri: REDIRECT });
      expect(forged.status).toBe(200);
      expect(forged.location).toBeNull();
      expect(forged.html).toContain("You signed out of your account");
    });

    it("shows the signed-out page for an unregistered post_logout_redirect_uri or none at all", async () => {
      const { browser } = await signedInBrowser();
      const out = await browser.open(`${orgbox().url}/${DEMO.tenantId}/oauth2/v2.0/logout?${new URLSearchParams({ client_id: SINGLE_APP, post_logout_redirect_uri: "https://evil.example/" }).toString()}`);
      expect(out.status).toBe(200);
      expect(out.location).toBeNull();
      expect(out.html).toContain("You signed out of your account");
      expect(await silentError(browser)).toBe("login_required");
      const plain = await browser.open(`${orgbox().url}/common/oauth2/v2.0/logout`);
      expect(plain.html).toContain("You signed out of your account");
    });

    it("unknown tenant → AADSTS90002 page", async () => {
      const res = await fetch(`${orgbox().url}/nosuchtenant.onmicrosoft.com/oauth2/v2.0/logout`, { redirect: "manual" });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain("AADSTS90002");
    });
  });

  describe("userinfo errors", () => {
    const userinfo = async (authorization?: string) => {
      const res = await fetch(`${orgbox().url}/oidc/userinfo`, { headers: authorization ? { authorization } : {} });
      return { status: res.status, challenge: res.headers.get("www-authenticate"), body: (await res.json()) as { error: { code: string; message: string } } };
    };

    it("no token, a malformed token, a Dataverse token and an app-only Graph token → 401 InvalidAuthenticationToken", async () => {
      const dataverse = (await clientCredentials(DEMO.tenantId, SINGLE_APP, `${orgbox().orgUrl}/.default`)).body.access_token as string;
      const appOnlyGraph = (await clientCredentials(DEMO.tenantId, SINGLE_APP, "https://graph.microsoft.com/.default")).body.access_token as string;
      const cases: [string | undefined, RegExp][] = [
        [undefined, /Access token is empty/],
        ["Bearer not-a-jwt", /malformed/],
        [`Bearer ${dataverse}`, /'aud' claim/],
        [`Bearer ${appOnlyGraph}`, /not issued to a user/],
      ];
      const v1 = await fetch(`${orgbox().url}/${DEMO.tenantId}/openid/userinfo`, { method: "POST" });
      expect(v1.status).toBe(401);
      for (const [authorization, message] of cases) {
        const res = await userinfo(authorization);
        expect(res.status).toBe(401);
        expect(res.challenge).toMatch(/^Bearer /);
        expect(res.body.error.code).toBe("InvalidAuthenticationToken");
        expect(res.body.error.message).toMatch(message);
      }
    });
  });
});
