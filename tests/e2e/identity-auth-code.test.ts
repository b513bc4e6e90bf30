import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ConfidentialClientApplication, CryptoProvider } from "@azure/msal-node";
import { decodeJwt } from "jose";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/server/demo.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { apiGet, useOrgbox } from "../helpers/orgbox.ts";

const WEB_APP = "c0de0000-0000-4000-8000-0000000e2e10";

describe("authorization code + PKCE with msal-node, driven in headless Chromium", () => {
  const orgbox = useOrgbox();
  let browser: Browser;
  let callback: Server;
  let redirectUri = "";
  let secret = "";

  beforeAll(async () => {
    callback = createServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("signed in"));
    await new Promise<void>((resolve) => callback.listen(0, "127.0.0.1", resolve));
    redirectUri = `http://localhost:${(callback.address() as AddressInfo).port}/callback`;
    const { service } = orgbox().identity;
    await service.registerApplication({
      tenantId: DEMO.tenantId,
      appId: WEB_APP,
      displayName: "Auth code e2e web app",
      webRedirectUris: [redirectUri],
      requiredResourceAccess: [{ resourceAppId: DYNAMICS_CRM_APP_ID, resourceAccess: [{ id: "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4", type: "Scope" }] }],
    });
    secret = (await service.addPassword({ appId: WEB_APP })).secretText;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => callback?.close(resolve));
  });

  it("signs in, consents, redeems the code, refreshes silently and reads Dataverse as the user", async () => {
    const cca = new ConfidentialClientApplication({ auth: { clientId: WEB_APP, clientSecret: secret, authority: orgbox().authority, knownAuthorities: [new URL(orgbox().url).host] } });
    const scopes = [`${orgbox().orgUrl}/user_impersonation`];
    const pkce = await new CryptoProvider().generatePkceCodes();
    const state = "state-123";
    const url = await cca.getAuthCodeUrl({ scopes, redirectUri, codeChallenge: pkce.challenge, codeChallengeMethod: "S256", state, nonce: "nonce-456" });

    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(url);
    await expect(page.getByRole("heading", { name: "Sign in" }).isVisible()).resolves.toBe(true);
    // wrong password: error shown on the page
    await page.getByLabel("Email, phone, or Skype").fill(DEMO.admin.username);
    await page.getByLabel("Password").fill("wrong-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toContain("Your account or password is incorrect");
    await page.getByLabel("Password").fill(DEMO.admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    // consent page
    await expect(page.getByRole("heading", { name: "Permissions requested" }).isVisible()).resolves.toBe(true);
    const consentText = (await page.textContent("main")) ?? "";
    expect(consentText).toContain("Auth code e2e web app");
    expect(consentText).toContain("Access Common Data Service as organization users");
    expect(consentText).toContain(`Publisher: ${DEMO.tenantDomain}`);
    expect(await page.getByLabel("Consent on behalf of your organization").count()).toBe(1);
    await Promise.all([page.waitForURL((u) => u.toString().startsWith(redirectUri)), page.getByRole("button", { name: "Accept" }).click()]);

    const cookies = await context.cookies(orgbox().url);
    const session = cookies.find((c) => c.name === "orgbox_session");
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: "Lax" });

    const returned = new URL(page.url());
    expect(returned.searchParams.get("state")).toBe(state);
    expect(returned.searchParams.get("session_state")).toBeTruthy();
    const code = returned.searchParams.get("code") as string;
    expect(code).toBeTruthy();

    const result = await cca.acquireTokenByCode({ code, scopes, redirectUri, codeVerifier: pkce.verifier, state, nonce: "nonce-456" }, { code, state });
    expect(decodeJwt(result.accessToken)).toMatchObject({ aud: orgbox().orgUrl, scp: "user_impersonation", appid: WEB_APP, appidacr: "1", oid: DEMO.admin.id, amr: ["pwd"] });
    expect(result.idTokenClaims).toMatchObject({ nonce: "nonce-456", aud: WEB_APP, preferred_username: DEMO.admin.username });
    expect(result.account?.homeAccountId).toBe(`${DEMO.admin.id}.${DEMO.tenantId}`);

    const silent = await cca.acquireTokenSilent({ account: result.account!, scopes, forceRefresh: true });
    expect(silent.accessToken).not.toBe(result.accessToken);
    const whoAmI = await apiGet(orgbox(), silent.accessToken, "WhoAmI");
    expect(whoAmI.status).toBe(200);
    expect((whoAmI.body as Record<string, unknown>).UserId).toBe(DEMO.org.adminSystemUserId);
    const accounts = await apiGet(orgbox(), silent.accessToken, "accounts?$select=name&$top=1");
    expect(accounts.status).toBe(200);

    // replaying the code fails with 54005 and revokes the refresh tokens issued from it
    const cache = JSON.parse(cca.getTokenCache().serialize()) as { RefreshToken: Record<string, { secret: string }> };
    const rt = Object.values(cache.RefreshToken)[0]?.secret as string;
    const token = (form: Record<string, string>) => fetch(`${orgbox().authority}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ client_id: WEB_APP, client_secret: secret, ...form }) }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
    const replay = await token({ grant_type: "authorization_code", code, redirect_uri: redirectUri, code_verifier: pkce.verifier, scope: scopes[0] as string });
    expect(replay.status).toBe(400);
    expect(replay.body.error_codes).toEqual([54005]);
    const afterReplay = await token({ grant_type: "refresh_token", refresh_token: rt, scope: scopes[0] as string });
    expect(afterReplay.body.error_codes).toEqual([70000]);

    // single sign-on: a second authorize goes straight back with a code (session + stored consent)
    const again = await cca.getAuthCodeUrl({ scopes, redirectUri, state: "s2" });
    await page.goto(again);
    expect(page.url().startsWith(redirectUri)).toBe(true);
    expect(new URL(page.url()).searchParams.get("code")).toBeTruthy();
    await context.close();

    // a fresh browser with prompt=none gets login_required back at the redirect URI
    const fresh = await browser.newContext({ ignoreHTTPSErrors: true });
    const p2 = await fresh.newPage();
    await p2.goto(await cca.getAuthCodeUrl({ scopes, redirectUri, prompt: "none", state: "s3" }));
    const back = new URL(p2.url());
    expect(back.searchParams.get("error")).toBe("login_required");
    expect(back.searchParams.get("error_description")).toMatch(/^AADSTS50058: /);
    expect(back.searchParams.get("state")).toBe("s3");
    await fresh.close();
  });
});
