/**
 * Issue 3: the device authorization grant (RFC 8628) — /devicecode (v1, v2),
 * the /devicelogin pages driven over plain HTTP, and every polling error.
 */
import { PublicClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO, ManualClock } from "../../src/index.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { apiGet, useOrgbox } from "../helpers/orgbox.ts";
import { PageSession, type PageResponse } from "../helpers/page-session.ts";

const DEVICE_APP = "c0de0000-0000-4000-8000-0000000de710";
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
type Body = Record<string, string | number | number[]>;

/** A browser without a browser: {@link PageSession} plus the last page. */
class FormDriver {
  private readonly session = new PageSession();
  private readonly base: string;
  private page: PageResponse | undefined;
  constructor(base: string) {
    this.base = base;
  }
  get html(): string {
    return this.page?.html ?? "";
  }
  get status(): number {
    return this.page?.status ?? 0;
  }
  async open(path: string): Promise<void> {
    this.page = await this.session.open(`${this.base}${path}`);
  }
  /** Posts the page's form: its hidden fields plus `fields` (csrf kept unless overridden). */
  async submit(fields: Record<string, string>): Promise<void> {
    this.page = await this.session.submit(this.page as PageResponse, fields);
  }
}

describe("device code flow", () => {
  const clock = new ManualClock();
  const orgbox = useOrgbox({}, { clock });

  beforeAll(async () => {
    const { service } = orgbox().identity;
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: DEVICE_APP, displayName: "Device CLI", isFallbackPublicClient: true, requiredResourceAccess: [{ resourceAppId: DYNAMICS_CRM_APP_ID, resourceAccess: [{ id: "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4", type: "Scope" }] }] });
  });

  const post = async (path: string, form: Record<string, string>): Promise<{ status: number; body: Body }> => {
    const res = await fetch(`${orgbox().url}${path}`, { method: "POST", body: new URLSearchParams(form) });
    return { status: res.status, body: (await res.json()) as Body };
  };
  const start = (scope = `${orgbox().orgUrl}/user_impersonation openid profile offline_access`) => post(`/${DEMO.tenantId}/oauth2/v2.0/devicecode`, { client_id: DEVICE_APP, scope });
  const poll = (deviceCode: string, version: 1 | 2 = 2) =>
    version === 2 ? post(`/${DEMO.tenantId}/oauth2/v2.0/token`, { grant_type: DEVICE_GRANT, client_id: DEVICE_APP, device_code: deviceCode }) : post(`/${DEMO.tenantId}/oauth2/token`, { grant_type: "device_code", client_id: DEVICE_APP, code: deviceCode, resource: orgbox().orgUrl });

  /** Enters the code, signs in (unless the session is there) and decides. */
  async function complete(userCode: string, decision: "accept" | "cancel", driver = new FormDriver(orgbox().url)): Promise<FormDriver> {
    await driver.open("/devicelogin");
    expect(driver.html).toContain("Enter code");
    await driver.submit({ otc: userCode.toLowerCase() });
    if (driver.html.includes('name="passwd"')) await driver.submit({ login: DEMO.admin.username, passwd: DEMO.admin.password });
    expect(driver.html).toMatch(/Permissions requested|Are you trying to sign in to Device CLI\?/);
    await driver.submit({ decision });
    return driver;
  }

  it("v2 /devicecode returns the RFC 8628 fields, Entra style (no verification_uri_complete)", async () => {
    const { status, body } = await start();
    expect(status).toBe(200);
    expect(body).toMatchObject({ verification_uri: `${orgbox().url}/devicelogin`, expires_in: 900, interval: 5 });
    expect(body.user_code).toMatch(/^[A-Z2-9]{9}$/);
    expect(typeof body.device_code).toBe("string");
    expect(body.message).toBe(`To sign in, use a web browser to open the page ${orgbox().url}/devicelogin and enter the code ${body.user_code} to authenticate.`);
    expect(body).not.toHaveProperty("verification_uri_complete");
  });

  it("pending → the user signs in and consents → tokens once, then AADSTS70000; the token reads Dataverse", async () => {
    const { body } = await start();
    const pending = await poll(body.device_code as string);
    expect(pending.status).toBe(400);
    expect(pending.body).toMatchObject({ error: "authorization_pending", error_codes: [70016] });
    const driver = await complete(body.user_code as string, "accept");
    expect(driver.html).toContain("You have signed in to the Device CLI application on your device. You may now close this window.");
    const tokens = await poll(body.device_code as string);
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ token_type: "Bearer", scope: `${orgbox().orgUrl}/user_impersonation` });
    expect(tokens.body.refresh_token).toBeTruthy();
    expect(decodeJwt(tokens.body.access_token as string)).toMatchObject({ appid: DEVICE_APP, appidacr: "0", oid: DEMO.admin.id, scp: "user_impersonation" });
    expect((await apiGet(orgbox(), tokens.body.access_token as string, "WhoAmI")).status).toBe(200);
    const again = await poll(body.device_code as string);
    expect(again.body).toMatchObject({ error: "invalid_grant", error_codes: [70000] });

    // A second code in the same browser: the session is reused, consent is remembered → "Are you trying to sign in".
    const second = await start();
    await driver.open("/devicelogin");
    await driver.submit({ otc: second.body.user_code as string });
    expect(driver.html).toContain("Are you trying to sign in to Device CLI?");
    await driver.submit({ decision: "accept" });
    expect((await poll(second.body.device_code as string)).status).toBe(200);
  });

  it("cancel → authorization_declined", async () => {
    const { body } = await start();
    const driver = await complete(body.user_code as string, "cancel");
    expect(driver.html).toContain("You cancelled the sign-in");
    expect((await poll(body.device_code as string)).body).toMatchObject({ error: "authorization_declined" });
  });

  it("unknown device_code → bad_verification_code; another client's → bad_verification_code; missing → 900144", async () => {
    expect((await poll("DAQABIQEAAABnot-a-code")).body).toMatchObject({ error: "bad_verification_code", error_codes: [70018] });
    const { body } = await start();
    const other = await post(`/${DEMO.tenantId}/oauth2/v2.0/token`, { grant_type: DEVICE_GRANT, client_id: DEMO.app.clientId, device_code: body.device_code as string });
    expect(other.body).toMatchObject({ error: "bad_verification_code" });
    expect((await post(`/${DEMO.tenantId}/oauth2/v2.0/token`, { grant_type: DEVICE_GRANT, client_id: DEVICE_APP })).body).toMatchObject({ error_codes: [900144] });
  });

  it("after expires_in → expired_token, and the page refuses the code", async () => {
    const { body } = await start();
    clock.advance(901_000);
    expect((await poll(body.device_code as string)).body).toMatchObject({ error: "expired_token", error_codes: [70019] });
    const driver = new FormDriver(orgbox().url);
    await driver.open("/devicelogin");
    await driver.submit({ otc: body.user_code as string });
    expect(driver.status).toBe(400);
    expect(driver.html).toContain("That code has expired");
  });

  it("the page: a wrong code, a wrong password, and a post without the CSRF token", async () => {
    const driver = new FormDriver(orgbox().url);
    await driver.open("/devicelogin");
    await driver.submit({ otc: "WRONGCODE" });
    expect(driver.status).toBe(400);
    expect(driver.html).toContain("That code didn&#39;t work");
    const { body } = await start();
    await driver.submit({ otc: body.user_code as string });
    await driver.submit({ login: DEMO.admin.username, passwd: "nope" });
    expect(driver.html).toContain("Your account or password is incorrect");
    await driver.submit({ csrf: "forged", login: DEMO.admin.username, passwd: DEMO.admin.password });
    expect(driver.html).toContain("AADSTS90023");
    expect((await poll(body.device_code as string)).body).toMatchObject({ error: "authorization_pending" });
  });

  it("v1 /oauth2/devicecode with resource, and ADAL-style polling (grant_type=device_code, code)", async () => {
    const { status, body } = await post(`/${DEMO.tenantId}/oauth2/devicecode`, { client_id: DEVICE_APP, resource: orgbox().orgUrl });
    expect(status).toBe(200);
    expect(body).toMatchObject({ verification_url: `${orgbox().url}/devicelogin`, expires_in: "900", interval: "5" });
    expect((await poll(body.device_code as string, 1)).body).toMatchObject({ error: "authorization_pending" });
    await complete(body.user_code as string, "accept");
    const tokens = await poll(body.device_code as string, 1);
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ resource: orgbox().orgUrl, expires_in: "3599" });
  });

  it("/devicecode errors: no client_id, resource on v2, unknown app, unknown resource", async () => {
    expect((await post(`/${DEMO.tenantId}/oauth2/v2.0/devicecode`, { scope: "openid" })).body).toMatchObject({ error_codes: [900144] });
    expect((await post(`/${DEMO.tenantId}/oauth2/v2.0/devicecode`, { client_id: DEVICE_APP, resource: orgbox().orgUrl })).body).toMatchObject({ error_codes: [901002] });
    expect((await post(`/${DEMO.tenantId}/oauth2/v2.0/devicecode`, { client_id: "11111111-2222-3333-4444-555555555555", scope: "openid" })).body).toMatchObject({ error_codes: [700016] });
    expect((await post(`/${DEMO.tenantId}/oauth2/v2.0/devicecode`, { client_id: DEVICE_APP, scope: `${orgbox().url}/org/nosuch/.default` })).body).toMatchObject({ error_codes: [500011] });
  });

  it("msal-node derives /devicecode from the token endpoint and completes", async () => {
    const pca = new PublicClientApplication({ auth: { clientId: DEVICE_APP, authority: orgbox().authority, knownAuthorities: [new URL(orgbox().url).host] } });
    let seen: { userCode: string; verificationUri: string } | undefined;
    const tokenPromise = pca.acquireTokenByDeviceCode({
      scopes: [`${orgbox().orgUrl}/user_impersonation`],
      deviceCodeCallback: (response) => {
        seen = response;
        void complete(response.userCode, "accept");
      },
    });
    const result = await tokenPromise;
    expect(seen?.verificationUri).toBe(`${orgbox().url}/devicelogin`);
    expect(result?.account?.username).toBe(DEMO.admin.username);
    expect((await apiGet(orgbox(), result!.accessToken, "WhoAmI")).status).toBe(200);
  });
});
