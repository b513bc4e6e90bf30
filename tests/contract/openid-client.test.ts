import { decodeJwt } from "jose";
import * as client from "openid-client";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { MICROSOFT_GRAPH_APP_ID } from "../../src/identity/index.ts";
import { DEMO } from "../../src/server/demo.ts";
import { useChromium } from "../helpers/chromium.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const OIDC_APP = "c0de0000-0000-4000-8000-0000000001dc";

describe("openid-client v6: discovery, authorization code + PKCE in headless Chromium, id_token validation, userinfo, end session", () => {
  const orgbox = useOrgbox();
  const chromium = useChromium();
  let redirectUri = "";
  let secret = "";

  beforeAll(async () => {
    redirectUri = chromium().redirectUri;
    const { service } = orgbox().identity;
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: OIDC_APP, displayName: "openid-client web app", webRedirectUris: [redirectUri] });
    secret = (await service.addPassword({ appId: OIDC_APP })).secretText;
  });

  const signIn = async (page: Page) => {
    await page.getByLabel("Email, phone, or Skype").fill(DEMO.admin.username);
    await page.getByLabel("Password").fill(DEMO.admin.password);
    await Promise.all([page.waitForURL((u) => u.toString().startsWith(redirectUri)), page.getByRole("button", { name: "Sign in" }).click()]);
  };

  it("discovers the tenant's v2 issuer byte-for-byte", async () => {
    const issuer = new URL(`${orgbox().url}/${DEMO.tenantId}/v2.0`);
    const config = await client.discovery(issuer, OIDC_APP, secret);
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(`${orgbox().url}/${DEMO.tenantId}/v2.0`);
    expect(meta.userinfo_endpoint).toBe(`${orgbox().url}/oidc/userinfo`);
    expect(meta.end_session_endpoint).toBe(`${orgbox().url}/${DEMO.tenantId}/oauth2/v2.0/logout`);
    expect(meta.jwks_uri).toBe(`${orgbox().url}/${DEMO.tenantId}/discovery/v2.0/keys`);
  });

  it("signs in with code + PKCE + nonce, validates the id_token, fetches userinfo, and signs out", async () => {
    const config = await client.discovery(new URL(`${orgbox().url}/${DEMO.tenantId}/v2.0`), OIDC_APP, secret);
    const codeVerifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: "openid profile",
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: "S256",
      nonce,
      state,
    });
    const context = await chromium().browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(url.toString());
    await signIn(page);

    const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: codeVerifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true });
    const claims = tokens.claims();
    expect(claims).toMatchObject({ iss: `${orgbox().url}/${DEMO.tenantId}/v2.0`, aud: OIDC_APP, nonce, tid: DEMO.tenantId, preferred_username: DEMO.admin.username, oid: DEMO.admin.id });
    // `openid profile` alone: the access token is for Microsoft Graph
    expect(decodeJwt(tokens.access_token)).toMatchObject({ aud: MICROSOFT_GRAPH_APP_ID, scp: "openid profile", appid: OIDC_APP });

    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims?.sub as string);
    expect(userinfo).toEqual({ sub: claims?.sub, name: DEMO.admin.displayName, given_name: "Contoso", family_name: "Admin", email: DEMO.admin.username });

    // a wrong expected subject is caught by openid-client
    await expect(client.fetchUserInfo(config, tokens.access_token, "someone-else")).rejects.toThrow();
    // a wrong nonce is caught too (with a second code)
    await page.goto(client.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: "openid", code_challenge: await client.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: "S256", nonce: "nonce-A", state }).toString());
    await expect(client.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: codeVerifier, expectedNonce: "nonce-B", expectedState: state })).rejects.toMatchObject({
      message: "unexpected JWT claim value encountered",
      cause: { cause: { claim: "nonce", expected: "nonce-B" } },
    });

    // RP-initiated logout back to the app, then the next sign-in asks for a password again
    const endSession = client.buildEndSessionUrl(config, { post_logout_redirect_uri: redirectUri, id_token_hint: tokens.id_token as string, state: "out" });
    await page.goto(endSession.toString());
    expect(page.url()).toBe(`${redirectUri}?state=out`);
    await page.goto(url.toString());
    await expect(page.getByRole("heading", { name: "Sign in" }).isVisible()).resolves.toBe(true);
    await context.close();
  });
});
