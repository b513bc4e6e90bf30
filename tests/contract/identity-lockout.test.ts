/**
 * Smart lockout (learn.microsoft.com/entra/identity/authentication/howto-password-smart-lockout):
 * 10 wrong passwords in a row lock the user for 60 seconds (AADSTS50053) on every password entry
 * point (ROPC and the sign-in page), the right password included; afterwards the right password
 * works and clears the count, a wrong one locks again. Configurable (lockoutThreshold,
 * lockoutDurationSeconds). On SQLite and PostgreSQL; time moved with a ManualClock.
 */
import { PublicClientApplication } from "@azure/msal-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, ManualClock, startOrgbox, type OrgboxInstance, type StartOptions } from "../../src/index.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { PageSession } from "../helpers/page-session.ts";
import { createTestDatabase } from "../helpers/postgres.ts";

const PUBLIC_APP = "c0de0000-0000-4000-8000-00000010c401";
const WEB_APP = "c0de0000-0000-4000-8000-00000010c402";
const WEB_REDIRECT = "https://app.example/callback";
const PASSWORD = "Right-pass-1";

type Body = { error?: string; error_codes?: number[]; error_description?: string; access_token?: string };

/** Starts orgbox on a backend with a ManualClock and registers the apps the tests sign in to. */
function useLockoutOrgbox(backend: "sqlite" | "postgres", options: StartOptions = {}) {
  const clock = new ManualClock();
  let instance: OrgboxInstance | undefined;
  let drop: (() => Promise<void>) | undefined;
  let users = 0;
  beforeAll(async () => {
    let storeUrl: string | undefined;
    if (backend === "postgres") {
      const database = await createTestDatabase();
      storeUrl = database.url;
      drop = () => database.drop();
    }
    instance = await startOrgbox({ ...options, ...(storeUrl ? { storeUrl } : {}) }, { clock });
    const { service } = instance.identity;
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: PUBLIC_APP, displayName: "Lockout ROPC client", isFallbackPublicClient: true });
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: WEB_APP, displayName: "Lockout web app", webRedirectUris: [WEB_REDIRECT] });
    for (const appId of [PUBLIC_APP, WEB_APP]) await service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: appId, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
  });
  afterAll(async () => {
    await instance?.close();
    await drop?.();
  });
  const o = () => {
    if (!instance) throw new Error("orgbox is not started yet");
    return instance;
  };
  /** A new user of the demo tenant (each test its own, so their counts do not mix). */
  const newUser = async (): Promise<string> => {
    const upn = `locked${++users}@${DEMO.tenantDomain}`;
    await o().identity.service.createUser({ tenantId: DEMO.tenantId, userPrincipalName: upn, displayName: `Locked ${users}`, password: PASSWORD });
    return upn;
  };
  /** ROPC with plain fetch on the v2 token endpoint. */
  const ropc = async (username: string, password: string): Promise<{ status: number; body: Body }> => {
    const res = await fetch(`${o().authority}/oauth2/v2.0/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", client_id: PUBLIC_APP, username, password, scope: `${o().orgUrl}/user_impersonation` }),
    });
    return { status: res.status, body: (await res.json()) as Body };
  };
  const codeOf = async (username: string, password: string) => (await ropc(username, password)).body.error_codes?.[0] ?? 0;
  /** A sign-in page post (authorization code flow, no browser): 302 on success, else the page with its message. */
  const pageSignIn = async (username: string, password: string) => {
    const url = new URL(`${o().authority}/oauth2/v2.0/authorize`);
    for (const [k, v] of Object.entries({ client_id: WEB_APP, redirect_uri: WEB_REDIRECT, response_type: "code", scope: `${o().orgUrl}/user_impersonation openid`, prompt: "login" })) url.searchParams.set(k, v);
    const session = new PageSession();
    return session.signIn(await session.open(url.toString()), username, password);
  };
  return { clock, o, newUser, ropc, codeOf, pageSignIn };
}

describe.each(["sqlite", "postgres"] as const)("smart lockout, Entra's defaults (%s)", (backend) => {
  const t = useLockoutOrgbox(backend);

  it("ROPC: 30 wrong passwords lock the user; the right one fails with AADSTS50053 until 60 s have passed, then works (msal-node)", async () => {
    const upn = await t.newUser();
    for (let i = 0; i < 30; i++) expect(await t.codeOf(upn, `wrong-${i}`)).toBe(i < 10 ? 50126 : 50053);
    const locked = await t.ropc(upn, PASSWORD);
    expect(locked.status).toBe(400);
    expect(locked.body.error).toBe("invalid_grant");
    expect(locked.body.error_codes).toEqual([50053]);
    expect(locked.body.error_description).toMatch(/^AADSTS50053: The account is locked, you've tried to sign in too many times with an incorrect user ID or password\. orgbox locks a user for 60 seconds after 10 wrong passwords in a row/);
    expect(locked.body.error_description).toContain("lockoutThreshold (ORGBOX_LOCKOUT_THRESHOLD");
    expect(locked.body.error_description).toContain("lockoutDurationSeconds (ORGBOX_LOCKOUT_DURATION");

    const pca = new PublicClientApplication({ auth: { clientId: PUBLIC_APP, authority: t.o().authority, knownAuthorities: [new URL(t.o().url).host] } });
    const request = { scopes: [`${t.o().orgUrl}/user_impersonation`], username: upn, password: PASSWORD };
    t.clock.advance(59_000);
    await expect(pca.acquireTokenByUsernamePassword(request)).rejects.toMatchObject({ errorCode: "invalid_grant", errorMessage: expect.stringContaining("AADSTS50053") });
    t.clock.advance(2_000);
    expect((await pca.acquireTokenByUsernamePassword(request))?.accessToken).toBeTruthy();
    // The success cleared the count: 9 more wrong passwords do not lock.
    for (let i = 0; i < 9; i++) expect(await t.codeOf(upn, "wrong")).toBe(50126);
    expect(await t.codeOf(upn, PASSWORD)).toBe(0);
  });

  it("after a lock has passed, the next wrong password locks again at once (as Entra)", async () => {
    const upn = await t.newUser();
    for (let i = 0; i < 10; i++) await t.ropc(upn, "wrong");
    t.clock.advance(61_000);
    expect(await t.codeOf(upn, "wrong")).toBe(50126);
    expect(await t.codeOf(upn, PASSWORD)).toBe(50053);
    t.clock.advance(61_000);
    expect(await t.codeOf(upn, PASSWORD)).toBe(0);
  });

  it("the sign-in page counts too, shares the count with ROPC, and shows the lock", async () => {
    const upn = await t.newUser();
    for (let i = 0; i < 5; i++) expect(await t.codeOf(upn, "wrong")).toBe(50126);
    for (let i = 0; i < 5; i++) {
      const page = await t.pageSignIn(upn, "wrong");
      expect(page.status).toBe(200);
      expect(page.html).toContain("Your account or password is incorrect");
    }
    const locked = await t.pageSignIn(upn, PASSWORD);
    expect(locked.status).toBe(200);
    expect(locked.location).toBeNull();
    expect(locked.html).toContain("Your account is temporarily locked to prevent unauthorized use.");
    expect(locked.html).toContain("AADSTS50053");
    expect(locked.html).toContain("lockoutDurationSeconds");
    expect(await t.codeOf(upn, PASSWORD)).toBe(50053);
    t.clock.advance(60_001);
    const ok = await t.pageSignIn(upn, PASSWORD);
    expect(ok.status).toBe(302);
    expect(new URL(ok.location as string).searchParams.get("code")).toBeTruthy();
  });

  it("one user's lock leaves other users alone", async () => {
    const locked = await t.newUser();
    const other = await t.newUser();
    for (let i = 0; i < 10; i++) await t.ropc(locked, "wrong");
    expect(await t.codeOf(locked, PASSWORD)).toBe(50053);
    expect(await t.codeOf(other, PASSWORD)).toBe(0);
  });
});

describe("smart lockout, configured", () => {
  describe("lockoutThreshold 3, lockoutDurationSeconds 300", () => {
    const t = useLockoutOrgbox("sqlite", { lockoutThreshold: 3, lockoutDurationSeconds: 300 });
    it("locks after 3 wrong passwords for 300 s, and says so", async () => {
      const upn = await t.newUser();
      for (let i = 0; i < 3; i++) expect(await t.codeOf(upn, "wrong")).toBe(50126);
      const locked = await t.ropc(upn, PASSWORD);
      expect(locked.body.error_description).toContain("orgbox locks a user for 300 seconds after 3 wrong passwords in a row");
      t.clock.advance(299_000);
      expect(await t.codeOf(upn, PASSWORD)).toBe(50053);
      t.clock.advance(2_000);
      expect(await t.codeOf(upn, PASSWORD)).toBe(0);
    });
  });
  describe("lockoutThreshold 0", () => {
    const t = useLockoutOrgbox("sqlite", { lockoutThreshold: 0 });
    it("turns lockout off: 12 wrong passwords (more than the default 10), then the right one works", async () => {
      const upn = await t.newUser();
      for (let i = 0; i < 12; i++) expect(await t.codeOf(upn, "wrong")).toBe(50126);
      expect(await t.codeOf(upn, PASSWORD)).toBe(0);
    });
  });
});
