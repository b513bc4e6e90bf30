/**
 * Refresh tokens as Entra issues them (learn.microsoft.com/entra/identity-platform/refresh-tokens):
 * a redeemed refresh token stays valid and the response carries a new one; 90 days of inactivity
 * (AADSTS700082); SPA redirect URIs get a fixed 24-hour chain (AADSTS700084). With
 * `refreshTokenRotation: "strict"` a replayed token revokes its family (RFC 9700 §4.14.2).
 * Driven with openid-client v6 and msal-node; the sign-in page with plain fetch (PageSession).
 */
import { ConfidentialClientApplication } from "@azure/msal-node";
import * as client from "openid-client";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO, ManualClock, type StartOptions } from "../../src/index.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { PageSession } from "../helpers/page-session.ts";

const WEB_APP = "c0de0000-0000-4000-8000-0000000f7e01";
const SPA_APP = "c0de0000-0000-4000-8000-0000000f7e02";
const WEB_REDIRECT = "https://app.example/callback";
const SPA_REDIRECT = "https://spa.example/";
const DAY = 24 * 3600_000;

/** A fresh orgbox (own clock) with a confidential web app and an SPA app, both consented for Dataverse. */
function setup(options: StartOptions = {}) {
  const clock = new ManualClock();
  const orgbox = useOrgbox(options, { clock });
  let web: client.Configuration;
  let spa: client.Configuration;
  let secret = "";
  beforeAll(async () => {
    const { service } = orgbox().identity;
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: WEB_APP, displayName: "Refresh web app", webRedirectUris: [WEB_REDIRECT] });
    secret = (await service.addPassword({ appId: WEB_APP })).secretText;
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: SPA_APP, displayName: "Refresh SPA", spaRedirectUris: [SPA_REDIRECT] });
    for (const appId of [WEB_APP, SPA_APP]) await service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: appId, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
    const issuer = new URL(`${orgbox().url}/${DEMO.tenantId}/v2.0`);
    web = await client.discovery(issuer, WEB_APP, secret);
    spa = await client.discovery(issuer, SPA_APP, undefined, client.None());
  });
  /** Signs the demo admin in on the sign-in page and redeems the code with openid-client (PKCE S256). */
  const signIn = async (which: "web" | "spa"): Promise<client.TokenEndpointResponse> => {
    const config = which === "web" ? web : spa;
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: which === "web" ? WEB_REDIRECT : SPA_REDIRECT,
      scope: `${orgbox().orgUrl}/user_impersonation openid offline_access`,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
    });
    const session = new PageSession();
    const done = await session.signIn(await session.open(url.toString()), DEMO.admin.username, DEMO.admin.password);
    expect(done.status).toBe(302);
    const tokens = await client.authorizationCodeGrant(config, new URL(done.location as string), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.refresh_token).toMatch(/^1\.A/);
    return tokens;
  };
  /** Redeems a refresh token with openid-client (no `openid`: no id_token to check against the wall clock). */
  const refresh = (which: "web" | "spa", refreshToken: string) => client.refreshTokenGrant(which === "web" ? web : spa, refreshToken, { scope: `${orgbox().orgUrl}/user_impersonation offline_access` });
  return { clock, orgbox, signIn, refresh, secret: () => secret };
}

/** The AADSTS code and description of an openid-client token-endpoint error. */
async function aadError(promise: Promise<unknown>): Promise<{ error: string; code: number; description: string }> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof client.ResponseBodyError) {
      const body = e.cause as { error_codes?: number[]; error_description?: string };
      return { error: e.error, code: body.error_codes?.[0] ?? 0, description: body.error_description ?? "" };
    }
    throw e;
  }
  throw new Error("the token request succeeded");
}

describe("refresh tokens, Entra's behaviour (default)", () => {
  const t = setup();

  it("a redeemed refresh token stays valid and each redemption returns a new one (openid-client and msal-node)", async () => {
    const first = (await t.signIn("web")).refresh_token as string;
    const second = await t.refresh("web", first);
    expect(second.refresh_token).toMatch(/^1\.A/);
    expect(second.refresh_token).not.toBe(first);
    const again = await t.refresh("web", first);
    expect(again.access_token).toBeTruthy();
    expect(again.refresh_token).not.toBe(second.refresh_token);
    expect((await t.refresh("web", second.refresh_token as string)).access_token).toBeTruthy();

    const msal = new ConfidentialClientApplication({ auth: { clientId: WEB_APP, clientSecret: t.secret(), authority: t.orgbox().authority, knownAuthorities: [new URL(t.orgbox().url).host] } });
    for (let i = 0; i < 2; i++) {
      const result = await msal.acquireTokenByRefreshToken({ refreshToken: first, scopes: [`${t.orgbox().orgUrl}/user_impersonation`], forceCache: false });
      expect(result?.accessToken).toBeTruthy();
    }
  });

  it("a refresh token not redeemed for 90 days fails with AADSTS700082; the ones redeemed meanwhile carry on", async () => {
    const first = (await t.signIn("web")).refresh_token as string;
    t.clock.advance(89 * DAY);
    const renewed = (await t.refresh("web", first)).refresh_token as string;
    t.clock.advance(2 * DAY);
    const expired = await aadError(t.refresh("web", first));
    expect(expired).toMatchObject({ error: "invalid_grant", code: 700082 });
    expect(expired.description).toMatch(/^AADSTS700082: The refresh token has expired due to inactivity\. The token was issued on .* and was inactive for 91\.00:00:00\./);
    expect((await t.refresh("web", renewed)).access_token).toBeTruthy();
  });

});

describe("refresh tokens of SPA redirect URIs", () => {
  // Own orgbox: sign-ins must happen before the clock moves (openid-client checks the id_token's nbf).
  const t = setup();

  it("an SPA redirect URI gets a fixed 24-hour chain: refreshes work inside it, then AADSTS700084 for every token of it", async () => {
    const first = (await t.signIn("spa")).refresh_token as string;
    t.clock.advance(23 * 3600_000);
    const renewed = (await t.refresh("spa", first)).refresh_token as string;
    expect(renewed).not.toBe(first);
    t.clock.advance(3600_000);
    for (const token of [first, renewed]) {
      const expired = await aadError(t.refresh("spa", token));
      expect(expired).toMatchObject({ error: "invalid_grant", code: 700084 });
      expect(expired.description).toMatch(/^AADSTS700084: The refresh token was issued to a single page app \(SPA\), and therefore has a fixed, limited lifetime of 1\.00:00:00, which can't be extended\./);
    }
  });
});

describe("refresh tokens with configured lifetimes", () => {
  const t = setup({ refreshTokenLifetimeSeconds: 3600, spaRefreshTokenLifetimeSeconds: 600 });

  it("refreshTokenLifetimeSeconds and spaRefreshTokenLifetimeSeconds set the inactivity and SPA lifetimes", async () => {
    const web = (await t.signIn("web")).refresh_token as string;
    const spa = (await t.signIn("spa")).refresh_token as string;
    t.clock.advance(601_000);
    expect((await aadError(t.refresh("spa", spa))).code).toBe(700084);
    expect((await t.refresh("web", web)).access_token).toBeTruthy();
    t.clock.advance(3000_000);
    const expired = await aadError(t.refresh("web", web));
    expect(expired.code).toBe(700082);
    expect(expired.description).toContain("was inactive for 0.01:00:01.");
  });
});

describe("refresh tokens with strict rotation (refreshTokenRotation: strict)", () => {
  const t = setup({ refreshTokenRotation: "strict" });

  it("a redeemed refresh token stops working, and replaying it revokes its successor too (the whole family); other sign-ins are unaffected", async () => {
    const other = (await t.signIn("web")).refresh_token as string;
    const first = (await t.signIn("web")).refresh_token as string;
    const second = (await t.refresh("web", first)).refresh_token as string;
    const third = (await t.refresh("web", second)).refresh_token as string;

    const replay = await aadError(t.refresh("web", first));
    expect(replay).toMatchObject({ error: "invalid_grant", code: 70000 });
    expect((await aadError(t.refresh("web", third))).code).toBe(70000);

    // msal-node sees the same: the family is gone, another sign-in's token still works.
    const msal = new ConfidentialClientApplication({ auth: { clientId: WEB_APP, clientSecret: t.secret(), authority: t.orgbox().authority, knownAuthorities: [new URL(t.orgbox().url).host] } });
    await expect(msal.acquireTokenByRefreshToken({ refreshToken: third, scopes: [`${t.orgbox().orgUrl}/user_impersonation`] })).rejects.toMatchObject({ errorCode: "invalid_grant" });
    expect((await msal.acquireTokenByRefreshToken({ refreshToken: other, scopes: [`${t.orgbox().orgUrl}/user_impersonation`] }))?.accessToken).toBeTruthy();
  });
});
