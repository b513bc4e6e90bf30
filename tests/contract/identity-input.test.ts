/**
 * Issue 11: hostile or malformed input on the identity surface is a 4xx in the surface's own
 * format, never a 500: foreign cookies on localhost, bad percent-encoding in `Authorization: Basic`,
 * and a tampered `ctx` on the sign-in, consent and account-picker posts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { DEMO } from "../../src/server/demo.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { PageSession, type PageResponse } from "../helpers/page-session.ts";

const WEB_APP = "c0de0000-0000-4000-8000-00000011a001";
const DEVICE_APP = "c0de0000-0000-4000-8000-00000011a002";
const REDIRECT = "https://app.example/input-callback";
const CHALLENGE = "a".repeat(43);
/** What another dev app on another localhost port may set: not percent-encoding. */
const FOREIGN_COOKIE: [string, string] = ["other_app", "100%"];

describe("identity input robustness", () => {
  const orgbox = useOrgbox();
  let secret = "";

  beforeAll(async () => {
    const { service } = orgbox().identity;
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: WEB_APP, displayName: "Input web app", webRedirectUris: [REDIRECT] });
    secret = (await service.addPassword({ appId: WEB_APP })).secretText;
    await service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: WEB_APP, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: DEVICE_APP, displayName: "Input device app", isFallbackPublicClient: true });
  });

  const authorizeUrl = (params: Record<string, string> = {}) =>
    `${orgbox().authority}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: WEB_APP, redirect_uri: REDIRECT, response_type: "code", scope: `${orgbox().orgUrl}/user_impersonation openid`, state: "st", code_challenge: CHALLENGE, code_challenge_method: "S256", ...params }).toString()}`;
  const browserWithForeignCookie = () => {
    const browser = new PageSession();
    browser.setCookie(...FOREIGN_COOKIE);
    return browser;
  };

  describe("a foreign cookie that is not percent-encoding (other_app=100%)", () => {
    it("authorize: sign-in page, sign-in, code; the session survives the foreign cookie", async () => {
      const browser = browserWithForeignCookie();
      const page = await browser.open(authorizeUrl());
      expect(page.status).toBe(200);
      expect(page.html).toContain("Sign in");
      const done = await browser.signIn(page, DEMO.admin.username, DEMO.admin.password);
      expect(done.status).toBe(302);
      expect(new URL(done.location as string).searchParams.get("code")).toBeTruthy();
      // the session cookie is read past the foreign one: no sign-in page the second time
      const again = await browser.open(authorizeUrl({ state: "again" }));
      expect(again.status).toBe(302);
      expect(new URL(again.location as string).searchParams.get("state")).toBe("again");
    });

    it("logout: signed-out page (200), and the session is revoked", async () => {
      const browser = browserWithForeignCookie();
      const signedIn = await browser.signIn(await browser.open(authorizeUrl()), DEMO.admin.username, DEMO.admin.password);
      expect(signedIn.status).toBe(302);
      const out = await browser.open(`${orgbox().authority}/oauth2/v2.0/logout`);
      expect(out.status).toBe(200);
      const after = await browser.open(authorizeUrl());
      expect(after.status).toBe(200);
      expect(after.html).toContain("Sign in");
    });

    it("devicelogin: code page, then the sign-in page after a valid code", async () => {
      const started = await fetch(`${orgbox().authority}/oauth2/v2.0/devicecode`, { method: "POST", body: new URLSearchParams({ client_id: DEVICE_APP, scope: `${orgbox().orgUrl}/user_impersonation` }) });
      const { user_code } = (await started.json()) as { user_code: string };
      const browser = browserWithForeignCookie();
      const page = await browser.open(`${orgbox().url}/devicelogin`);
      expect(page.status).toBe(200);
      expect(page.html).toContain("Enter code");
      const next = await browser.submit(page, { otc: user_code });
      expect(next.status).toBe(200);
      expect(next.html).toContain("Sign in");
    });

    it("adminconsent: sign-in page", async () => {
      const browser = browserWithForeignCookie();
      const page = await browser.open(`${orgbox().authority}/v2.0/adminconsent?${new URLSearchParams({ client_id: WEB_APP, redirect_uri: REDIRECT, scope: `${orgbox().orgUrl}/.default` }).toString()}`);
      expect(page.status).toBe(200);
      expect(page.html).toContain("Sign in");
    });

    it("a malformed value of orgbox's own session cookie is no session (sign-in page), not an error", async () => {
      for (const value of ["%zz", "100%", "a%E0%A4%A", "x".repeat(4000)]) {
        const browser = new PageSession();
        browser.setCookie("orgbox_session", value);
        browser.setCookie("orgbox_csrf", value);
        const page = await browser.open(authorizeUrl());
        expect(page.status, value).toBe(200);
        expect(page.html).toContain("Sign in");
      }
    });
  });

  describe("Authorization: Basic with bad percent-encoding", () => {
    const basic = (id: string, pass: string) => `Basic ${Buffer.from(`${id}:${pass}`).toString("base64")}`;
    const token = (authorization: string) =>
      fetch(`${orgbox().authority}/oauth2/v2.0/token`, { method: "POST", headers: { authorization }, body: new URLSearchParams({ grant_type: "client_credentials", scope: `${orgbox().orgUrl}/.default` }) });

    it("user part %zz → 401 invalid_client with the AADSTS body", async () => {
      for (const [id, pass] of [["%zz", "secret"], [WEB_APP, "%E0%A4%A"]] as const) {
        const res = await token(basic(id, pass));
        expect(res.status, `${id}:${pass}`).toBe(401);
        const body = (await res.json()) as Record<string, unknown>;
        expect(body).toMatchObject({ error: "invalid_client", error_codes: [70002] });
        expect(body.error_description).toMatch(/^AADSTS70002: /);
        expect(Object.keys(body)).toEqual(expect.arrayContaining(["timestamp", "trace_id", "correlation_id", "error_uri"]));
      }
    });

    it("well-formed Basic credentials (form-urlencoded) still authenticate", async () => {
      const res = await token(basic(encodeURIComponent(WEB_APP), encodeURIComponent(secret)));
      expect(res.status).toBe(200);
    });
  });

  describe("a tampered ctx on the page posts (valid CSRF pair)", () => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
    const bad: [string, string][] = [
      ["null", b64(null)],
      ["a string", b64("x")],
      ["a number", b64(42)],
      ["an array", b64(["a"])],
      ["an object scope", b64({ client_id: WEB_APP, redirect_uri: REDIRECT, response_type: "code", scope: { a: 1 } })],
      ["not JSON", Buffer.from("{", "utf8").toString("base64url")],
      ["missing", ""],
    ];

    /** A page with a form and a CSRF cookie: the sign-in page, or the consent / picker page when signed in. */
    const expectBadContext = async (browser: PageSession, page: PageResponse, fields: Record<string, string>) => {
      expect(page.status).toBe(200);
      for (const [label, ctx] of bad) {
        const res = await browser.submit(page, { ...fields, ctx });
        expect(res.status, label).toBe(400);
        expect(res.headers.get("content-type"), label).toContain("text/html");
        expect(res.html, label).toContain("AADSTS90023");
        expect(res.location, label).toBeNull();
      }
    };

    it("sign-in post (/login)", async () => {
      const browser = new PageSession();
      await expectBadContext(browser, await browser.open(authorizeUrl()), { login: DEMO.admin.username, passwd: DEMO.admin.password });
    });

    it("consent post (/Consent/Set) and account-picker post (/select_account)", async () => {
      const browser = new PageSession();
      const signedIn = await browser.signIn(await browser.open(authorizeUrl()), DEMO.admin.username, DEMO.admin.password);
      expect(signedIn.status).toBe(302);
      const consent = await browser.open(authorizeUrl({ prompt: "consent" }));
      expect(consent.html).toContain("Consent/Set");
      await expectBadContext(browser, consent, { decision: "accept" });
      const picker = await browser.open(authorizeUrl({ prompt: "select_account" }));
      expect(picker.html).toContain("select_account");
      await expectBadContext(browser, picker, { choice: "current" });
      await expectBadContext(browser, picker, { choice: "other" });
    });

    it("admin consent posts (sign-in and consent steps)", async () => {
      const browser = new PageSession();
      const url = `${orgbox().authority}/v2.0/adminconsent?${new URLSearchParams({ client_id: WEB_APP, redirect_uri: REDIRECT, scope: `${orgbox().orgUrl}/.default` }).toString()}`;
      await expectBadContext(browser, await browser.open(url), { login: DEMO.admin.username, passwd: DEMO.admin.password });
      const consent = await browser.signIn(await browser.open(url), DEMO.admin.username, DEMO.admin.password);
      expect(consent.html).toContain("Permissions requested");
      await expectBadContext(browser, consent, { decision: "accept" });
    });
  });
});
