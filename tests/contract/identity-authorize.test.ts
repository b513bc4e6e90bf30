import { createHash } from "node:crypto";
import { ConfidentialClientApplication, CryptoProvider } from "@azure/msal-node";
import { beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/index.ts";
import { DEMO } from "../../src/server/demo.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const WEB_APP = "c0de0000-0000-4000-8000-0000000e2e20";
const PUBLIC_APP = "c0de0000-0000-4000-8000-0000000e2e21";
const WEB_REDIRECT = "https://app.example/callback";
const PUBLIC_REDIRECT = "http://localhost";
const VERIFIER = "verifier-0123456789-0123456789-0123456789-abcdef";
const CHALLENGE = createHash("sha256").update(VERIFIER).digest("base64url");

type Json = Record<string, unknown>;

const hiddenFields = (html: string): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) out[m[1] as string] = (m[2] as string).replace(/&quot;/g, '"').replace(/&amp;/g, "&");
  return out;
};

function setup(clock?: ManualClock) {
  const orgbox = useOrgbox({}, clock ? { clock } : {});
  let secret = "";
  beforeAll(async () => {
    const { service } = orgbox().identity;
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: WEB_APP, displayName: "Authorize web app", webRedirectUris: [WEB_REDIRECT] });
    secret = (await service.addPassword({ appId: WEB_APP })).secretText;
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: PUBLIC_APP, displayName: "Authorize public app", publicClientRedirectUris: [PUBLIC_REDIRECT] });
    for (const appId of [WEB_APP, PUBLIC_APP]) await service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: appId, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
  });
  const authorizeUrl = (params: Record<string, string>) => {
    const url = new URL(`${orgbox().authority}/oauth2/v2.0/authorize`);
    const defaults = { client_id: WEB_APP, redirect_uri: WEB_REDIRECT, response_type: "code", scope: `${orgbox().orgUrl}/user_impersonation openid offline_access`, state: "st", code_challenge: CHALLENGE, code_challenge_method: "S256" };
    for (const [k, v] of Object.entries({ ...defaults, ...params })) if (v !== "") url.searchParams.set(k, v);
    return url.toString();
  };
  /** Drives the sign-in page with fetch; returns the final redirect URL. */
  const signIn = async (params: Record<string, string> = {}, password: string = DEMO.admin.password): Promise<{ status: number; location: string | null; html: string }> => {
    const page = await fetch(authorizeUrl(params), { redirect: "manual" });
    const html = await page.text();
    const cookie = page.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const fields = hiddenFields(html);
    const res = await fetch(`${orgbox().url}/${DEMO.tenantId}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ ...fields, login: DEMO.admin.username, passwd: password }),
    });
    return { status: res.status, location: res.headers.get("location"), html: await res.text() };
  };
  const token = async (form: Record<string, string>): Promise<{ status: number; body: Json }> => {
    const res = await fetch(`${orgbox().authority}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams(form) });
    return { status: res.status, body: (await res.json()) as Json };
  };
  const redeem = (code: string, extra: Record<string, string> = {}) =>
    token({ grant_type: "authorization_code", client_id: WEB_APP, client_secret: secret, code, redirect_uri: WEB_REDIRECT, code_verifier: VERIFIER, scope: `${orgbox().orgUrl}/user_impersonation openid offline_access`, ...extra });
  const codeOf = (location: string | null) => new URL(location ?? "").searchParams.get("code") as string;
  return { orgbox, authorizeUrl, signIn, token, redeem, codeOf, secret: () => secret };
}

describe("authorize endpoint errors", () => {
  const t = setup();

  it("unregistered redirect_uri → AADSTS50011 on orgbox's error page, never a redirect", async () => {
    const res = await fetch(t.authorizeUrl({ redirect_uri: "https://evil.example/cb" }), { redirect: "manual" });
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain("AADSTS50011: The redirect URI &#39;https://evil.example/cb&#39; specified in the request does not match");
  });
  it("unknown client → AADSTS700016 error page", async () => {
    const res = await fetch(t.authorizeUrl({ client_id: "c0de0000-0000-4000-8000-0000000eeeee" }), { redirect: "manual" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("AADSTS700016");
  });
  it("public client without PKCE → invalid_request back at the redirect URI", async () => {
    const res = await fetch(t.authorizeUrl({ client_id: PUBLIC_APP, redirect_uri: PUBLIC_REDIRECT, code_challenge: "", code_challenge_method: "" }), { redirect: "manual" });
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get("location") as string);
    expect(back.origin + back.pathname).toBe("http://localhost/");
    expect(back.searchParams.get("error")).toBe("invalid_request");
    expect(back.searchParams.get("error_description")).toMatch(/^AADSTS9002325: /);
    expect(back.searchParams.get("state")).toBe("st");
  });
  it("plain PKCE on v2 → AADSTS50149; response_type=token → unsupported_response_type", async () => {
    const plain = await fetch(t.authorizeUrl({ code_challenge_method: "plain" }), { redirect: "manual" });
    expect(new URL(plain.headers.get("location") as string).searchParams.get("error_description")).toMatch(/^AADSTS50149: /);
    const tokenType = await fetch(t.authorizeUrl({ response_type: "token" }), { redirect: "manual" });
    expect(new URL(tokenType.headers.get("location") as string).searchParams.get("error")).toBe("unsupported_response_type");
  });
  it("prompt=none without a session → login_required (AADSTS50058); fragment mode puts it in the fragment", async () => {
    const res = await fetch(t.authorizeUrl({ prompt: "none", response_mode: "fragment" }), { redirect: "manual" });
    const location = res.headers.get("location") as string;
    expect(location.startsWith(`${WEB_REDIRECT}#`)).toBe(true);
    const fragment = new URLSearchParams(location.split("#")[1]);
    expect(fragment.get("error")).toBe("login_required");
    expect(fragment.get("error_description")).toMatch(/^AADSTS50058: /);
  });
  it("a sign-in post without the CSRF cookie is refused", async () => {
    const page = await fetch(t.authorizeUrl({}), { redirect: "manual" });
    const fields = hiddenFields(await page.text());
    const res = await fetch(`${t.orgbox().url}/${DEMO.tenantId}/login`, { method: "POST", redirect: "manual", body: new URLSearchParams({ ...fields, login: DEMO.admin.username, passwd: DEMO.admin.password }) });
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
  });
  it("sign-in page: wrong password shows an error; session cookie is HttpOnly, Secure, SameSite=Lax", async () => {
    const bad = await t.signIn({}, "wrong");
    expect(bad.status).toBe(200);
    expect(bad.html).toContain("Your account or password is incorrect");
    const page = await fetch(t.authorizeUrl({}), { redirect: "manual" });
    const cookie = page.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const res = await fetch(`${t.orgbox().url}/${DEMO.tenantId}/login`, { method: "POST", redirect: "manual", headers: { cookie }, body: new URLSearchParams({ ...hiddenFields(await page.text()), login: DEMO.admin.username, passwd: DEMO.admin.password }) });
    expect(res.status).toBe(302);
    const session = res.headers.getSetCookie().find((c) => c.startsWith("orgbox_session="));
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/Secure/);
    expect(session).toMatch(/SameSite=Lax/);
  });
  it("form_post mode returns an auto-submitting form to the redirect URI", async () => {
    const res = await t.signIn({ response_mode: "form_post" });
    expect(res.status).toBe(200);
    expect(res.html).toContain(`action="${WEB_REDIRECT}"`);
    expect(res.html).toMatch(/name="code" value="1\.A/);
  });
});

describe("token endpoint: authorization_code errors", () => {
  const t = setup();
  it("PKCE mismatch → 501481; redirect_uri mismatch → 500112; replay → 54005; confidential without secret → 7000218", async () => {
    const first = await t.signIn();
    expect(first.status).toBe(302);
    const code = t.codeOf(first.location);
    expect((await t.redeem(code, { code_verifier: "x".repeat(43) })).body.error_codes).toEqual([501481]);
    expect((await t.redeem(code, { redirect_uri: "https://app.example/other" })).body.error_codes).toEqual([500112]);
    expect((await t.redeem(code, { client_secret: "" })).body.error_codes).toEqual([7000218]);
    const ok = await t.redeem(code);
    expect(ok.status).toBe(200);
    expect(ok.body.refresh_token).toBeDefined();
    const replay = await t.redeem(code);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe("invalid_grant");
    expect(replay.body.error_codes).toEqual([54005]);
    const rt = await t.token({ grant_type: "refresh_token", client_id: WEB_APP, client_secret: t.secret(), refresh_token: ok.body.refresh_token as string });
    expect(rt.body.error_codes).toEqual([70000]);
  });
  it("PKCE downgrade (RFC 9700 §2.1.1): a code issued without code_challenge, redeemed with a code_verifier → 501481 (msal-node); without one it redeems", async () => {
    const first = await t.signIn({ code_challenge: "", code_challenge_method: "" });
    expect(first.status).toBe(302);
    const code = t.codeOf(first.location);
    const msal = new ConfidentialClientApplication({ auth: { clientId: WEB_APP, clientSecret: t.secret(), authority: t.orgbox().authority, knownAuthorities: [new URL(t.orgbox().url).host] } });
    const scopes = [`${t.orgbox().orgUrl}/user_impersonation`];
    const downgrade = msal.acquireTokenByCode({ code, scopes, redirectUri: WEB_REDIRECT, codeVerifier: new CryptoProvider().createNewGuid() + "-any-verifier-at-all" });
    await expect(downgrade).rejects.toMatchObject({ errorCode: "invalid_grant", errorMessage: expect.stringContaining("AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request.") });
    const withoutVerifier = await t.token({ grant_type: "authorization_code", client_id: WEB_APP, client_secret: t.secret(), code, redirect_uri: WEB_REDIRECT, scope: scopes[0] as string });
    expect(withoutVerifier.status).toBe(200);
    expect(withoutVerifier.body.access_token).toBeDefined();
  });
  it("public client redeems with PKCE and no secret; a secret from it → 700025", async () => {
    const first = await t.signIn({ client_id: PUBLIC_APP, redirect_uri: PUBLIC_REDIRECT });
    const code = t.codeOf(first.location);
    const base = { grant_type: "authorization_code", client_id: PUBLIC_APP, code, redirect_uri: PUBLIC_REDIRECT, code_verifier: VERIFIER, scope: `${t.orgbox().orgUrl}/user_impersonation` };
    expect((await t.token({ ...base, client_secret: "nope" })).body.error_codes).toEqual([700025]);
    const ok = await t.token(base);
    expect(ok.status).toBe(200);
  });
});

describe("expiry with a manual clock", () => {
  const clock = new ManualClock();
  const t = setup(clock);
  it("codes expire after 10 minutes (70008); refresh tokens after 90 days of inactivity (700082)", async () => {
    const late = await t.signIn();
    clock.advance(11 * 60_000);
    expect((await t.redeem(t.codeOf(late.location))).body.error_codes).toEqual([70008]);

    const fresh = await t.signIn({ prompt: "login" });
    const ok = await t.redeem(t.codeOf(fresh.location));
    expect(ok.status).toBe(200);
    clock.advance(91 * 24 * 3600_000);
    const expired = await t.token({ grant_type: "refresh_token", client_id: WEB_APP, client_secret: t.secret(), refresh_token: ok.body.refresh_token as string });
    expect(expired.body.error_codes).toEqual([700082]);
    expect(expired.body.error_description).toMatch(/^AADSTS700082: The refresh token has expired due to inactivity\. The token was issued on .* and was inactive for 91\.00:00:00\./);
  });
});
