/**
 * Fuzzing the identity surface on the SQLite store (issue #11): the token endpoints (every grant type with
 * generated parameters, client authentication in the body or as HTTP Basic), the authorize endpoint, the
 * sign-in, consent, account-picker and device-login page posts (with a valid CSRF pair, generated `ctx`
 * and fields, and generated cookies), and the discovery endpoints. No answer may be a 5xx and orgbox must
 * still issue a client-credentials token after each target. Seeded and bounded (see fuzz.ts).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { demoToken } from "../helpers/orgbox.ts";
import { anyText, edgeNumber, enc, FuzzTally, fuzzTarget, soup, TARGET_TIMEOUT_MS, vocabOrText, type FuzzRequest } from "./fuzz.ts";

const GRANTS = ["client_credentials", "password", "authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:device_code", "device_code", "implicit", "urn:ietf:params:oauth:grant-type:saml1_1-bearer"] as const;
const PARAMS = ["grant_type", "client_id", "client_secret", "scope", "resource", "username", "password", "code", "redirect_uri", "code_verifier", "refresh_token", "assertion", "requested_token_use", "client_assertion", "client_assertion_type", "device_code", "claims", "client_info", "tenant", "x-client-SKU"] as const;
const HEADER = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9";
const PUBLIC_APP = "f0220000-0000-4000-8000-000000000001";

describe("fuzz: identity (SQLite)", () => {
  let o: OrgboxInstance;
  const tally = new FuzzTally("identity, SQLite");
  let csrf = { cookie: "", token: "", ctx: "" };

  beforeAll(async () => {
    o = await startOrgbox({ http: true });
    await o.identity.service.registerApplication({ tenantId: DEMO.tenantId, appId: PUBLIC_APP, displayName: "fuzz public client", publicClientRedirectUris: ["http://localhost"] });
    // A real sign-in page: its CSRF cookie and hidden fields, so generated posts get past the CSRF check.
    const url = new URL(`${o.authority}/oauth2/v2.0/authorize`);
    for (const [k, v] of Object.entries({ client_id: PUBLIC_APP, response_type: "code", scope: `${o.orgUrl}/.default`, redirect_uri: "http://localhost", state: "s", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256" })) url.searchParams.set(k, v);
    const page = await fetch(url, { redirect: "manual" });
    const html = await page.text();
    csrf = {
      cookie: page.headers.getSetCookie().map((c) => c.split(";")[0]).join("; "),
      token: /name="csrf" value="([^"]*)"/.exec(html)?.[1] ?? "",
      ctx: /name="ctx" value="([^"]*)"/.exec(html)?.[1] ?? "",
    };
  });
  afterAll(async () => {
    tally.print();
    await o?.close();
  });

  async function stillUp(): Promise<void> {
    expect(await demoToken(o)).toMatch(/^ey/);
    expect(csrf.token).not.toBe("");
  }
  const run = (name: string, arbitrary: () => fc.Arbitrary<FuzzRequest>) =>
    it(
      name,
      async () => {
        await fuzzTarget(tally, arbitrary());
        await stillUp();
      },
      TARGET_TIMEOUT_MS,
    );

  const tenant = () => vocabOrText([DEMO.tenantId, DEMO.tenantDomain, "common", "organizations", "consumers", "00000000-0000-0000-0000-000000000000", "contoso"]);
  const value = () =>
    fc.oneof(
      vocabOrText([DEMO.app.clientId, PUBLIC_APP, DEMO.app.clientSecret, DEMO.admin.username, DEMO.admin.password, "https://localhost/org/contoso/.default", "openid offline_access", "00000002-0000-0000-c000-000000000000", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "on_behalf_of", "http://localhost", `${HEADER}.e30.sig`, `${HEADER}..`, "a.b.c", "", "{\"access_token\":{}}"]),
      fc.constant(null).map(() => o.orgUrl),
      anyText(30),
      edgeNumber,
    );
  const form = (names: readonly string[]) => fc.dictionary(vocabOrText(names), value(), { maxKeys: 7 });

  run("token endpoint: grant types, parameters, client authentication", () =>
    fc
      .tuple(tenant(), fc.constantFrom("oauth2/token", "oauth2/v2.0/token", "oauth2/v2.0/devicecode", "oauth2/devicecode"), vocabOrText(GRANTS), form(PARAMS), fc.option(fc.tuple(value(), value())), fc.constantFrom("application/x-www-form-urlencoded", "application/json", "text/plain", "multipart/form-data"), fc.boolean())
      .map(([t, endpoint, grant, params, basic, contentType, raw]) => {
        const body = raw ? new URLSearchParams({ grant_type: grant, ...params }).toString() : Object.entries({ grant_type: grant, ...params }).map(([k, v]) => `${k}=${v}`).join("&");
        return {
          method: "POST",
          url: `${o.url}/${enc(t)}/${endpoint}`,
          headers: { "content-type": contentType, ...(basic ? { authorization: `Basic ${Buffer.from(`${basic[0]}:${basic[1]}`).toString("base64")}` } : {}) },
          body,
        };
      }),
  );
  run("authorize endpoint", () =>
    fc.tuple(tenant(), fc.constantFrom("oauth2/authorize", "oauth2/v2.0/authorize", "adminconsent", "v2.0/adminconsent", "oauth2/v2.0/logout"), form(["client_id", "response_type", "redirect_uri", "scope", "resource", "state", "nonce", "prompt", "login_hint", "domain_hint", "code_challenge", "code_challenge_method", "response_mode", "claims", "max_age", "post_logout_redirect_uri"])).map(([t, endpoint, params]) => ({
      method: "GET",
      url: `${o.url}/${enc(t)}/${endpoint}?${Object.entries(params).map(([k, v]) => `${enc(k)}=${enc(v)}`).join("&")}`,
      headers: { cookie: csrf.cookie },
    })),
  );
  run("sign-in, consent, account-picker and device-login posts; cookies", () =>
    fc
      .tuple(
        fc.constantFrom("login", "Consent/Set", "select_account", "devicelogin"),
        fc.oneof(fc.constant(csrf.ctx), fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v)).toString("base64url")), form(["client_id", "redirect_uri", "scope", "response_type", "state", "prompt", "code_challenge", "nonce", "response_mode"]).map((p) => Buffer.from(JSON.stringify(p)).toString("base64url")), anyText(20)),
        form(["login", "passwd", "decision", "admin_consent", "choice", "v", "otc", "code", "csrf"]),
        fc.constantFrom("valid", "none", "garbage"),
        fc.option(soup(["orgbox_session=", "orgbox_csrf=", ";", "=", "%", "\"", "x", "orgbox_session=abc"])),
      )
      .map(([action, ctx, fields, pair, extraCookie]) => {
        const cookie = [pair === "valid" ? csrf.cookie : pair === "garbage" ? "orgbox_csrf=%zz" : "", extraCookie ?? ""].filter(Boolean).join("; ");
        const body = new URLSearchParams({ csrf: csrf.token, ctx, v: "2", ...fields }).toString();
        return { method: "POST", url: action === "devicelogin" ? `${o.url}/devicelogin` : `${o.url}/${DEMO.tenantId}/${action}`, headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) }, body };
      }),
  );
  run("discovery and metadata endpoints", () =>
    fc.tuple(tenant(), fc.constantFrom(".well-known/openid-configuration", "v2.0/.well-known/openid-configuration", "discovery/keys", "discovery/v2.0/keys", "discovery/instance", "userrealm"), anyText(20), form(["api-version", "authorization_endpoint", "appid", "user"])).map(([t, endpoint, user, params]) => ({
      method: "GET",
      url: endpoint === "userrealm" ? `${o.url}/common/userrealm/${enc(user)}?${new URLSearchParams(params)}` : `${o.url}/${enc(t)}/${endpoint}?${new URLSearchParams(params)}`,
    })),
  );
});
