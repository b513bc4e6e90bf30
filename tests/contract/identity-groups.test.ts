/**
 * Issue 3 / 6: groups (`groups` claim by `groupMembershipClaims`), "assignment
 * required" enterprise apps (AADSTS50105 for users assigned neither directly
 * nor through a group), and access-token version by resource
 * (`api.requestedAccessTokenVersion`). Driven with @azure/msal-node and plain fetch.
 */
import { createHash } from "node:crypto";
import { ConfidentialClientApplication, PublicClientApplication } from "@azure/msal-node";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/server/demo.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { demoToken, useOrgbox } from "../helpers/orgbox.ts";
import { PageSession } from "../helpers/page-session.ts";

const ALICE = { username: "alice@contoso.onmicrosoft.com", password: "orgbox-Alice-1" };
const BOB = { username: "bob@contoso.onmicrosoft.com", password: "orgbox-Bob-1" };
const CAROL = { username: "carol@contoso.onmicrosoft.com", password: "orgbox-Carol-1" };
const SALES = "c0de0000-0000-4000-8000-0000000b0001";
const ENGINEERING = "c0de0000-0000-4000-8000-0000000b0002";
const API_APP = "c0de0000-0000-4000-8000-0000000b0a01";
const API_URI = "api://orgbox-groups-api";
const API_SCOPE = "c0de0000-0000-4000-8000-0000000b0a0a";
const API_ROLE = "c0de0000-0000-4000-8000-0000000b0a0b";
const GROUPS_APP = "c0de0000-0000-4000-8000-0000000b0a02";
const PLAIN_APP = "c0de0000-0000-4000-8000-0000000b0a03";
const GATED_APP = "c0de0000-0000-4000-8000-0000000b0a04";
const DAEMON_APP = "c0de0000-0000-4000-8000-0000000b0a05";
const REDIRECT = "http://localhost";
const DAEMON_REDIRECT = "https://daemon.example/callback";
const VERIFIER = "verifier-0123456789-0123456789-0123456789-groups";
const CHALLENGE = createHash("sha256").update(VERIFIER).digest("base64url");
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

type Json = Record<string, unknown>;

describe("groups, assignment required, token version by resource", () => {
  const orgbox = useOrgbox();
  let daemonSecret = "";

  beforeAll(async () => {
    const { service } = orgbox().identity;
    for (const [u, name] of [[ALICE, "Alice"], [BOB, "Bob"], [CAROL, "Carol"]] as const) {
      await service.createUser({ tenantId: DEMO.tenantId, userPrincipalName: u.username, displayName: name, password: u.password });
    }
    await service.createGroup({ tenantId: DEMO.tenantId, id: SALES, displayName: "Sales", members: [BOB.username] });
    await service.createGroup({ tenantId: DEMO.tenantId, id: ENGINEERING, displayName: "Engineering", members: [ALICE.username] });
    await service.addGroupMember(DEMO.tenantId, "Engineering", BOB.username);
    await service.registerApplication({
      tenantId: DEMO.tenantId,
      appId: API_APP,
      displayName: "Groups test API (v2 tokens)",
      identifierUris: [API_URI],
      requestedAccessTokenVersion: 2,
      oauth2PermissionScopes: [{ id: API_SCOPE, value: "Data.Read", adminConsentDisplayName: "Read data", adminConsentDescription: "Read data as the user.", type: "User" }],
      appRoles: [{ id: API_ROLE, value: "Data.Read.All", displayName: "Read all data", description: "Read all data without a user.", allowedMemberTypes: ["Application"] }],
    });
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: GROUPS_APP, displayName: "Groups claim client", isFallbackPublicClient: true, publicClientRedirectUris: [REDIRECT], groupMembershipClaims: "SecurityGroup" });
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: PLAIN_APP, displayName: "No groups client", isFallbackPublicClient: true });
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: GATED_APP, displayName: "Gated app", isFallbackPublicClient: true, publicClientRedirectUris: [REDIRECT] });
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: DAEMON_APP, displayName: "Groups daemon", webRedirectUris: [DAEMON_REDIRECT], requiredResourceAccess: [{ resourceAppId: API_APP, resourceAccess: [{ id: API_ROLE, type: "Role" }] }] });
    daemonSecret = (await service.addPassword({ appId: DAEMON_APP })).secretText;
    for (const appId of [GROUPS_APP, PLAIN_APP, GATED_APP]) {
      await service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: appId, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
    }
    await service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: GROUPS_APP, resourceAppId: API_APP, scopes: ["Data.Read"] });
    await service.setAppRoleAssignmentRequired(DEMO.tenantId, GATED_APP, true);
    await service.assignUser(DEMO.tenantId, GATED_APP, ALICE.username);
    await service.assignGroup(DEMO.tenantId, GATED_APP, "Sales");
  });

  const token = async (form: Record<string, string>, path = "oauth2/v2.0/token"): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${orgbox().authority}/${path}`, { method: "POST", body: new URLSearchParams(form) });
    return { status: res.status, body: (await res.json()) as Json };
  };
  const ropc = (clientId: string, user: { username: string; password: string }, scope = `${orgbox().orgUrl}/user_impersonation openid profile`) =>
    token({ grant_type: "password", client_id: clientId, username: user.username, password: user.password, scope });
  const pca = (clientId: string) => new PublicClientApplication({ auth: { clientId, authority: orgbox().authority, knownAuthorities: [new URL(orgbox().url).host] } });

  describe("groups", () => {
    it("groupMembershipClaims SecurityGroup: msal-node ROPC tokens carry the user's group object ids", async () => {
      const result = await pca(GROUPS_APP).acquireTokenByUsernamePassword({ scopes: [`${orgbox().orgUrl}/user_impersonation`], username: BOB.username, password: BOB.password });
      expect(decodeJwt(result!.accessToken).groups).toEqual([SALES, ENGINEERING].sort());
      expect(result!.idTokenClaims).toMatchObject({ groups: [SALES, ENGINEERING].sort() });
      const alice = await pca(GROUPS_APP).acquireTokenByUsernamePassword({ scopes: [`${orgbox().orgUrl}/user_impersonation`], username: ALICE.username, password: ALICE.password });
      expect(decodeJwt(alice!.accessToken).groups).toEqual([ENGINEERING]);
      // a user in no group gets an empty list, not a missing claim
      const carol = await ropc(GROUPS_APP, CAROL);
      expect(decodeJwt(carol.body.access_token as string).groups).toEqual([]);
    });

    it("no groupMembershipClaims (default null) → no groups claim in either token", async () => {
      const result = await pca(PLAIN_APP).acquireTokenByUsernamePassword({ scopes: [`${orgbox().orgUrl}/user_impersonation`], username: BOB.username, password: BOB.password });
      expect(decodeJwt(result!.accessToken).groups).toBeUndefined();
      expect((result!.idTokenClaims as Json).groups).toBeUndefined();
    });

    it("listGroups returns members; removing a non-member or an unknown group fails with 404", async () => {
      const { service } = orgbox().identity;
      const groups = await service.listGroups(DEMO.tenantId);
      expect(groups.map((g) => g.displayName)).toEqual(["Engineering", "Sales"]);
      expect(groups.find((g) => g.id === SALES)?.members).toHaveLength(1);
      await expect(service.removeGroupMember(DEMO.tenantId, "Sales", CAROL.username)).rejects.toMatchObject({ status: 404 });
      await expect(service.addGroupMember(DEMO.tenantId, "No such group", CAROL.username)).rejects.toMatchObject({ status: 404 });
      await expect(service.createGroup({ tenantId: DEMO.tenantId, displayName: "Ghosts", members: ["ghost@contoso.onmicrosoft.com"] })).rejects.toMatchObject({ status: 404 });
      await expect(service.createGroup({ tenantId: DEMO.tenantId, id: SALES, displayName: "Sales again" })).rejects.toMatchObject({ status: 409 });
      await expect(service.assignUser(DEMO.tenantId, "c0de0000-0000-4000-8000-0000000fffff", ALICE.username)).rejects.toMatchObject({ status: 404 });
      await expect(service.assignGroup(DEMO.tenantId, GATED_APP, "No such group")).rejects.toMatchObject({ status: 404 });
    });
  });

  describe("assignment required", () => {
    it("ROPC: an unassigned user gets AADSTS50105; a directly assigned user and a member of an assigned group get tokens", async () => {
      const carol = await ropc(GATED_APP, CAROL);
      expect(carol.status).toBe(400);
      expect(carol.body.error).toBe("invalid_grant");
      expect(carol.body.error_codes).toEqual([50105]);
      expect(carol.body.error_description).toContain(
        `AADSTS50105: Your administrator has configured the application Gated app ('${GATED_APP}') to block users unless they are specifically granted ('assigned') access to the application. The signed in user '${CAROL.username}' is blocked because they are not a direct member of a group with access, nor had access directly assigned by an administrator.`,
      );
      await expect(pca(GATED_APP).acquireTokenByUsernamePassword({ scopes: [`${orgbox().orgUrl}/user_impersonation`], username: CAROL.username, password: CAROL.password })).rejects.toMatchObject({ errorCode: "invalid_grant" });
      expect((await ropc(GATED_APP, ALICE)).status).toBe(200);
      const bob = await pca(GATED_APP).acquireTokenByUsernamePassword({ scopes: [`${orgbox().orgUrl}/user_impersonation`], username: BOB.username, password: BOB.password });
      expect(decodeJwt(bob!.accessToken)).toMatchObject({ appid: GATED_APP, upn: BOB.username });
      // not required on other apps
      expect((await ropc(PLAIN_APP, CAROL)).status).toBe(200);
    });

    it("leaving the assigned group blocks the user again; joining lets them in", async () => {
      const { service } = orgbox().identity;
      await service.removeGroupMember(DEMO.tenantId, SALES, BOB.username);
      expect((await ropc(GATED_APP, BOB)).body.error_codes).toEqual([50105]);
      await service.addGroupMember(DEMO.tenantId, SALES, BOB.username);
      expect((await ropc(GATED_APP, BOB)).status).toBe(200);
    });

    it("authorize: the unassigned user sees AADSTS50105 on the error page (no redirect); an assigned user gets a code", async () => {
      const url = `${orgbox().authority}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: GATED_APP, redirect_uri: REDIRECT, response_type: "code", scope: `${orgbox().orgUrl}/user_impersonation openid`, state: "s", code_challenge: CHALLENGE, code_challenge_method: "S256" }).toString()}`;
      const blocked = new PageSession();
      const page = await blocked.signIn(await blocked.open(url), CAROL.username, CAROL.password);
      expect(page.status).toBe(400);
      expect(page.location).toBeNull();
      expect(page.html).toContain("AADSTS50105");
      expect(page.html).toContain(CAROL.username);

      const allowed = new PageSession();
      const ok = await allowed.signIn(await allowed.open(url), ALICE.username, ALICE.password);
      expect(ok.status).toBe(302);
      const code = new URL(ok.location as string).searchParams.get("code") as string;
      const redeemed = await token({ grant_type: "authorization_code", client_id: GATED_APP, code, redirect_uri: REDIRECT, code_verifier: VERIFIER, scope: `${orgbox().orgUrl}/user_impersonation openid` });
      expect(redeemed.status).toBe(200);
    });

    it("device code: the unassigned user's approval ends in AADSTS50105 in the token response", async () => {
      const start = await token({ client_id: GATED_APP, scope: `${orgbox().orgUrl}/user_impersonation openid` }, "oauth2/v2.0/devicecode");
      expect(start.status).toBe(200);
      const browser = new PageSession();
      let page = await browser.open(`${orgbox().url}/devicelogin`);
      page = await browser.submit(page, { otc: start.body.user_code as string });
      if (page.html.includes('name="passwd"')) page = await browser.signIn(page, CAROL.username, CAROL.password);
      await browser.submit(page, { decision: "accept" });
      const polled = await token({ grant_type: DEVICE_GRANT, client_id: GATED_APP, device_code: start.body.device_code as string });
      expect(polled.status).toBe(400);
      expect(polled.body.error_codes).toEqual([50105]);
    });
  });

  describe("access token version by resource", () => {
    it("client credentials for an API with requestedAccessTokenVersion 2 → v2.0 app-only token (v2 and v1 endpoints)", async () => {
      // Grant the app role through the admin consent endpoint, as an admin would.
      const browser = new PageSession();
      const consentUrl = `${orgbox().url}/${DEMO.tenantId}/v2.0/adminconsent?${new URLSearchParams({ client_id: DAEMON_APP, redirect_uri: DAEMON_REDIRECT, scope: `${API_URI}/.default`, state: "c" }).toString()}`;
      const consent = await browser.signIn(await browser.open(consentUrl), DEMO.admin.username, DEMO.admin.password);
      expect((await browser.submit(consent, { decision: "accept" })).status).toBe(302);

      const cca = new ConfidentialClientApplication({ auth: { clientId: DAEMON_APP, clientSecret: daemonSecret, authority: orgbox().authority, knownAuthorities: [new URL(orgbox().url).host] } });
      const result = await cca.acquireTokenByClientCredential({ scopes: [`${API_URI}/.default`] });
      const header = decodeProtectedHeader(result!.accessToken);
      expect(header.x5t).toBeUndefined();
      expect(typeof header.kid).toBe("string");
      const claims = decodeJwt(result!.accessToken);
      expect(claims).toMatchObject({ aud: API_APP, iss: `${orgbox().url}/${DEMO.tenantId}/v2.0`, azp: DAEMON_APP, azpacr: "1", roles: ["Data.Read.All"], idtyp: "app", ver: "2.0", tid: DEMO.tenantId });
      expect(claims.appid).toBeUndefined();
      expect(claims.appidacr).toBeUndefined();

      const v1 = await token({ grant_type: "client_credentials", client_id: DAEMON_APP, client_secret: daemonSecret, resource: API_URI }, "oauth2/token");
      expect(v1.status).toBe(200);
      expect(decodeJwt(v1.body.access_token as string)).toMatchObject({ aud: API_APP, ver: "2.0", azp: DAEMON_APP });
    });

    it("Dataverse stays v1.0 (aud as requested, appid, x5t header)", async () => {
      const dataverse = await demoToken(orgbox());
      expect(decodeProtectedHeader(dataverse).x5t).toBeDefined();
      expect(decodeJwt(dataverse)).toMatchObject({ aud: orgbox().orgUrl, ver: "1.0", appid: DEMO.app.clientId, iss: `${orgbox().url}/sts/${DEMO.tenantId}/` });
    });

    it("msal-node ROPC for the API's scope → delegated v2.0 token: azp/azpacr, preferred_username, no upn/unique_name/appid, no x5t", async () => {
      const result = await pca(GROUPS_APP).acquireTokenByUsernamePassword({ scopes: [`${API_URI}/Data.Read`], username: ALICE.username, password: ALICE.password });
      expect(decodeProtectedHeader(result!.accessToken).x5t).toBeUndefined();
      const claims = decodeJwt(result!.accessToken);
      expect(claims).toMatchObject({ aud: API_APP, iss: `${orgbox().url}/${DEMO.tenantId}/v2.0`, azp: GROUPS_APP, azpacr: "0", preferred_username: ALICE.username, scp: "Data.Read", ver: "2.0", groups: [ENGINEERING], name: "Alice" });
      for (const v1Only of ["upn", "unique_name", "appid", "appidacr", "puid", "acr"]) expect(claims[v1Only]).toBeUndefined();
      // the same client's Dataverse token is v1.0
      const crm = await pca(GROUPS_APP).acquireTokenByUsernamePassword({ scopes: [`${orgbox().orgUrl}/user_impersonation`], username: ALICE.username, password: ALICE.password });
      expect(decodeJwt(crm!.accessToken)).toMatchObject({ ver: "1.0", upn: ALICE.username, appid: GROUPS_APP });
    });
  });
});
