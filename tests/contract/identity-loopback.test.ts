/**
 * Issue 12: localhost redirect URIs match whatever their port (Entra's "Localhost exceptions",
 * learn.microsoft.com/entra/identity-platform/reply-url). Proof with the real client:
 * msal-node's `acquireTokenInteractive` listens on a random port and sends
 * `redirect_uri=http://localhost:{port}` against a registration of `http://localhost`.
 */
import { createHash } from "node:crypto";
import { PublicClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { DEMO } from "../../src/server/demo.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { PageSession } from "../helpers/page-session.ts";

const NATIVE_APP = "c0de0000-0000-4000-8000-00000012a001";
const WEB_APP = "c0de0000-0000-4000-8000-00000012a002";
const VERIFIER = "loopback-verifier-0123456789-0123456789-0123456789";
const CHALLENGE = createHash("sha256").update(VERIFIER).digest("base64url");

describe("localhost redirect URIs: the port is not compared", () => {
  const orgbox = useOrgbox();
  let webSecret = "";

  beforeAll(async () => {
    const { service } = orgbox().identity;
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: NATIVE_APP, displayName: "Loopback desktop app", publicClientRedirectUris: ["http://localhost", "http://[::1]/v6"] });
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: WEB_APP, displayName: "Loopback web app", webRedirectUris: ["http://127.0.0.1/signin-oidc"] });
    webSecret = (await service.addPassword({ appId: WEB_APP })).secretText;
    for (const appId of [NATIVE_APP, WEB_APP]) await service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: appId, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
  });

  it("msal-node acquireTokenInteractive (loopback listener on a random port) signs in through the pages", async () => {
    const pca = new PublicClientApplication({ auth: { clientId: NATIVE_APP, authority: orgbox().authority, knownAuthorities: [new URL(orgbox().url).host] } });
    let sentRedirectUri = "";
    const result = await pca.acquireTokenInteractive({
      scopes: [`${orgbox().orgUrl}/user_impersonation`],
      openBrowser: async (url) => {
        sentRedirectUri = new URL(url).searchParams.get("redirect_uri") ?? "";
        // The "browser": sign-in page → form_post page → its form posted to msal-node's listener.
        const browser = new PageSession();
        const signIn = await browser.open(url);
        expect(signIn.status).toBe(200);
        const formPost = await browser.signIn(signIn, DEMO.admin.username, DEMO.admin.password);
        expect(formPost.status).toBe(200);
        expect(formPost.html).toContain(`action="${sentRedirectUri}"`);
        const delivered = await browser.submit(formPost, {});
        expect(delivered.status).toBe(200);
      },
    });
    expect(sentRedirectUri).toMatch(/^http:\/\/localhost:\d+$/);
    expect(sentRedirectUri).not.toBe("http://localhost");
    expect(result.account?.username).toBe(DEMO.admin.username);
    expect(decodeJwt(result.accessToken)).toMatchObject({ aud: orgbox().orgUrl, appid: NATIVE_APP, scp: "user_impersonation", upn: DEMO.admin.username });
  });

  const authorize = async (clientId: string, redirectUri: string) =>
    fetch(
      `${orgbox().authority}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: clientId, redirect_uri: redirectUri, response_type: "code", scope: `${orgbox().orgUrl}/user_impersonation`, code_challenge: CHALLENGE, code_challenge_method: "S256" }).toString()}`,
      { redirect: "manual" },
    );

  it("accepts any port on a registered localhost / 127.0.0.1 URI; scheme, host and path still compared", async () => {
    const accepted: [string, string][] = [
      [NATIVE_APP, "http://localhost"],
      [NATIVE_APP, "http://localhost:5555"],
      [NATIVE_APP, "http://localhost:5555/"],
      [NATIVE_APP, "http://localhost:65535"],
      [WEB_APP, "http://127.0.0.1/signin-oidc"],
      [WEB_APP, "http://127.0.0.1:8443/signin-oidc"],
      [NATIVE_APP, "http://[::1]/v6"],
    ];
    for (const [clientId, uri] of accepted) {
      const res = await authorize(clientId, uri);
      expect(res.status, uri).toBe(200);
      expect(await res.text(), uri).toContain("Sign in");
    }
    const refused: [string, string][] = [
      [NATIVE_APP, "https://localhost:5555"], // scheme
      [NATIVE_APP, "http://127.0.0.1:5555"], // registered as localhost, not 127.0.0.1
      [NATIVE_APP, "http://localhost:5555/other"], // path
      [NATIVE_APP, "http://localhost.evil.example:5555"],
      [NATIVE_APP, "http://localhost:5555@evil.example"],
      [NATIVE_APP, "http://localhost:5555#frag"],
      [NATIVE_APP, "http://[::1]:5555/v6"], // Entra does not support [::1]: compared exactly
      [WEB_APP, "http://127.0.0.1:8443/SIGNIN-OIDC"], // paths are case-sensitive
      [WEB_APP, "http://127.0.0.1:8443/signin-oidc/more"],
      [WEB_APP, "http://localhost:8443/signin-oidc"],
    ];
    for (const [clientId, uri] of refused) {
      const res = await authorize(clientId, uri);
      expect(res.status, uri).toBe(400);
      expect(res.headers.get("location"), uri).toBeNull();
      expect(await res.text(), uri).toContain("AADSTS50011");
    }
  });

  it("the token endpoint still wants the very redirect_uri of /authorize, port included (AADSTS500112)", async () => {
    const browser = new PageSession();
    const redirectUri = "http://127.0.0.1:7001/signin-oidc";
    const page = await browser.open(
      `${orgbox().authority}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: WEB_APP, redirect_uri: redirectUri, response_type: "code", scope: `${orgbox().orgUrl}/user_impersonation`, code_challenge: CHALLENGE, code_challenge_method: "S256" }).toString()}`,
    );
    const back = await browser.signIn(page, DEMO.admin.username, DEMO.admin.password);
    expect(back.status).toBe(302);
    const location = new URL(back.location as string);
    expect(`${location.origin}${location.pathname}`).toBe(redirectUri);
    const code = location.searchParams.get("code") as string;
    const redeem = (uri: string) =>
      fetch(`${orgbox().authority}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "authorization_code", client_id: WEB_APP, client_secret: webSecret, code, redirect_uri: uri, code_verifier: VERIFIER }) });
    const otherPort = await redeem("http://127.0.0.1:7002/signin-oidc");
    expect(otherPort.status).toBe(400);
    expect(((await otherPort.json()) as { error_codes: number[] }).error_codes).toEqual([500112]);
    expect((await redeem(redirectUri)).status).toBe(200);
  });

  it("logout returns to a localhost post_logout_redirect_uri on any port, not to another path", async () => {
    const out = await fetch(`${orgbox().authority}/oauth2/v2.0/logout?${new URLSearchParams({ client_id: NATIVE_APP, post_logout_redirect_uri: "http://localhost:4321/", state: "bye" }).toString()}`, { redirect: "manual" });
    expect(out.status).toBe(302);
    expect(out.headers.get("location")).toBe("http://localhost:4321/?state=bye");
    const elsewhere = await fetch(`${orgbox().authority}/oauth2/v2.0/logout?${new URLSearchParams({ client_id: NATIVE_APP, post_logout_redirect_uri: "http://localhost:4321/elsewhere" }).toString()}`, { redirect: "manual" });
    expect(elsewhere.status).toBe(200);
  });
});
