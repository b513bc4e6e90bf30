/**
 * The reference connection store (examples/connection-store) against orgbox: each way a refresh fails
 * is made to happen through orgbox's HTTP surfaces (Graph, `/_orgbox/clock`), the next use of the
 * connection flags it "needs re-authentication" with Entra's code, and a new sign-in in Chromium
 * (the store's `reconnect` link, loopback redirect) repairs it. One Chromium launch for all cases.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectionStore, type ConnectionRecord, type PendingSignIn } from "../../examples/connection-store/connection-store.ts";
import { DEMO, type OrgboxInstance } from "../../src/index.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import type { Org } from "../../src/dataverse/index.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { graph, graphToken } from "../helpers/graph.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const ADMIN_KEY = "connection-store-admin-key";
const PASSWORD = "Str0ng!Passw0rd";
const HOUR = 3600;
const DAY = 86_400;

describe("the reference connection store flags each failed refresh and recovers after a new sign-in (Chromium)", () => {
  const orgbox = useOrgbox({ adminKey: ADMIN_KEY });
  let browser: Browser;
  let directory = "";
  let store: ConnectionStore;
  /** An app registered with admin consent to Dataverse (the store's app) and one without (users consent themselves). */
  const apps: Record<"admin" | "user", { appId: string; objectId: string; spId: string; secret: string }> = {} as never;

  const tok = () => graphToken(orgbox());
  const moveClock = async (seconds: number) => {
    const res = await fetch(`${orgbox().url}/_orgbox/clock`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" }, body: JSON.stringify({ advanceSeconds: seconds }) });
    expect(res.status).toBe(200);
  };
  const newStore = (which: "admin" | "user") => new ConnectionStore({ authorityHost: orgbox().url, clientId: apps[which].appId, clientSecret: apps[which].secret, directory: join(directory, which) });

  const registerApp = async (o: OrgboxInstance, name: string) => {
    const token = await tok();
    const app = await graph(o, token, "POST", "applications", { displayName: name, web: { redirectUris: ["http://localhost/callback"] } });
    const sp = await graph(o, token, "POST", "servicePrincipals", { appId: app.body.appId });
    const secret = await graph(o, token, "POST", `applications/${app.body.id as string}/addPassword`, { passwordCredential: { displayName: "store" } });
    return { appId: app.body.appId as string, objectId: app.body.id as string, spId: sp.body.id as string, secret: secret.body.secretText as string };
  };
  /** A new directory user (Graph), added to the org as an interactive user with the Basic User role (setup, in process). */
  const newUser = async (alias: string) => {
    const o = orgbox();
    const res = await graph(o, await tok(), "POST", "users", { accountEnabled: true, displayName: alias, mailNickname: alias, userPrincipalName: `${alias}@${DEMO.tenantDomain}`, passwordProfile: { password: PASSWORD, forceChangePasswordNextSignIn: false } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const dataverse = o.dataverse.service;
    const org = (await dataverse.findOrg(DEMO.org.name)) as Org;
    const basic = (await dataverse.listRoles(org)).find((r) => r.name === "Basic User");
    await dataverse.createInteractiveUser(org, { objectId: res.body.id as string, businessUnitId: await dataverse.rootBusinessUnitId(org), roleIds: [basic?.id as string] });
    return { id: res.body.id as string, upn: res.body.userPrincipalName as string };
  };

  beforeAll(async () => {
    const o = orgbox();
    directory = mkdtempSync(join(tmpdir(), "orgbox-connections-"));
    apps.admin = await registerApp(o, "Integration platform");
    apps.user = await registerApp(o, "Integration platform (user consent)");
    await o.identity.service.grantConsent({ tenantId: o.tenantId, clientAppId: apps.admin.appId, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
    store = newStore("admin");
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    if (directory) rmSync(directory, { recursive: true, force: true });
  });

  /** Follows a sign-in link in a fresh browser context: password, the MFA step and the consent page when they show; ends on the loopback page. */
  const signInInBrowser = async (pending: PendingSignIn, upn: string, password = PASSWORD): Promise<{ record: ConnectionRecord; steps: string[] }> => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const steps: string[] = [];
    try {
      const page = await context.newPage();
      await page.goto(pending.url);
      await page.getByLabel("Email, phone, or Skype").fill(upn);
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Sign in" }).click();
      for (let i = 0; i < 3 && !page.url().startsWith("http://localhost:"); i++) {
        await page.waitForLoadState();
        if (await page.getByRole("button", { name: "Approve" }).isVisible()) {
          steps.push("mfa");
          await page.getByRole("button", { name: "Approve" }).click();
        } else if (await page.getByRole("button", { name: "Accept" }).isVisible()) {
          steps.push("consent");
          await page.getByRole("button", { name: "Accept" }).click();
        }
      }
      await page.waitForURL((u) => u.toString().startsWith("http://localhost:"));
      expect(await page.textContent("body")).toContain("Connected.");
      return { record: await pending.done, steps };
    } finally {
      await context.close();
    }
  };

  /** Connects `name` as `upn` through the browser and checks the connection reads Dataverse (WhoAmI). */
  const connect = async (s: ConnectionStore, name: string, upn: string) => {
    const { record } = await signInInBrowser(await s.connect(name, DEMO.tenantDomain, orgbox().orgUrl), upn);
    expect(record).toMatchObject({ name, status: "connected", username: upn });
    expect((await s.call(name, "WhoAmI"))?.status).toBe(200);
  };

  /** The next use of the connection (after the access token's hour) fails for good: flagged with `aadsts`. */
  const expectFlagged = async (s: ConnectionStore, name: string, aadsts: number, error: string) => {
    await moveClock(2 * HOUR);
    expect(await s.call(name, "WhoAmI")).toBeUndefined();
    expect(s.record(name)).toMatchObject({ status: "needs-reauthentication", problem: { error, aadsts } });
    expect(await s.accessToken(name)).toBeUndefined();
  };

  /** The sign-in link repairs it: the connection reads Dataverse again. */
  const expectRecovers = async (s: ConnectionStore, name: string, upn: string, password = PASSWORD) => {
    const { record, steps } = await signInInBrowser(await s.reconnect(name), upn, password);
    expect(record.status).toBe("connected");
    expect(s.record(name).problem).toBeUndefined();
    expect((await s.call(name, "WhoAmI"))?.status).toBe(200);
    return steps;
  };

  it("keeps tokens in a 0600 file per connection and refreshes silently while nothing is wrong", async () => {
    const user = await newUser("steady");
    await connect(store, "steady", user.upn);
    expect(statSync(join(directory, "admin", "steady.tokens.json")).mode & 0o777).toBe(0o600);
    // A week later, long past the access token: the refresh token carries on.
    await moveClock(7 * DAY);
    expect((await store.call("steady", "WhoAmI"))?.status).toBe(200);
    // A new store over the same folder (a restart) finds the connection in the cache file.
    expect((await newStore("admin").call("steady", "WhoAmI"))?.status).toBe(200);
  });

  it("90 days unused (AADSTS700082)", async () => {
    const user = await newUser("idle");
    await connect(store, "idle", user.upn);
    await moveClock(91 * DAY);
    await expectFlagged(store, "idle", 700082, "invalid_grant");
    await expectRecovers(store, "idle", user.upn);
  });

  it("password reset, and revokeSignInSessions (AADSTS50173)", async () => {
    const o = orgbox();
    const user = await newUser("reset");
    await connect(store, "reset", user.upn);
    expect((await graph(o, await tok(), "PATCH", `users/${user.id}`, { passwordProfile: { password: "N3w!Passw0rd", forceChangePasswordNextSignIn: false } })).status).toBe(204);
    await expectFlagged(store, "reset", 50173, "invalid_grant");
    await expectRecovers(store, "reset", user.upn, "N3w!Passw0rd");
    await new Promise((r) => setImmediate(r));
    expect((await graph(o, await tok(), "POST", `users/${user.id}/revokeSignInSessions`)).status).toBe(200);
    await expectFlagged(store, "reset", 50173, "invalid_grant");
    await expectRecovers(store, "reset", user.upn, "N3w!Passw0rd");
  });

  it("user disabled (AADSTS50057), recovered once enabled again", async () => {
    const o = orgbox();
    const user = await newUser("paused");
    await connect(store, "paused", user.upn);
    expect((await graph(o, await tok(), "PATCH", `users/${user.id}`, { accountEnabled: false })).status).toBe(204);
    await expectFlagged(store, "paused", 50057, "invalid_grant");
    expect((await graph(o, await tok(), "PATCH", `users/${user.id}`, { accountEnabled: true })).status).toBe(204);
    await expectRecovers(store, "paused", user.upn);
  });

  it("MFA now required (AADSTS50076 interaction_required): the new sign-in passes the MFA step", async () => {
    const o = orgbox();
    const user = await newUser("mfa");
    await connect(store, "mfa", user.upn);
    expect((await graph(o, await tok(), "PATCH", `users/${user.id}/authentication/requirements`, { perUserMfaState: "enforced" })).status).toBe(204);
    await expectFlagged(store, "mfa", 50076, "interaction_required");
    expect(await expectRecovers(store, "mfa", user.upn)).toContain("mfa");
  });

  it("consent revoked (AADSTS65001 consent_required): the user consents again", async () => {
    const o = orgbox();
    const own = newStore("user");
    const user = await newUser("consenter");
    const first = await signInInBrowser(await own.connect("own", DEMO.tenantId, o.orgUrl), user.upn);
    expect(first.steps).toContain("consent");
    const grants = await graph(o, await tok(), "GET", `oauth2PermissionGrants?$filter=clientId eq '${apps.user.spId}'`);
    const grant = grants.body.value?.find((g) => g.principalId === user.id);
    expect((await graph(o, await tok(), "DELETE", `oauth2PermissionGrants/${grant?.id as string}`)).status).toBe(204);
    await expectFlagged(own, "own", 65001, "invalid_grant");
    expect(await expectRecovers(own, "own", user.upn)).toContain("consent");
  });

  it("the app disabled in the tenant (AADSTS7000112), then its client secret expired (AADSTS7000222): fixed by the admin, then a new sign-in", async () => {
    const o = orgbox();
    const user = await newUser("appside");
    await connect(store, "appside", user.upn);
    expect((await graph(o, await tok(), "PATCH", `servicePrincipals/${apps.admin.spId}`, { accountEnabled: false })).status).toBe(204);
    await expectFlagged(store, "appside", 7000112, "unauthorized_client");
    expect((await graph(o, await tok(), "PATCH", `servicePrincipals/${apps.admin.spId}`, { accountEnabled: true })).status).toBe(204);
    await expectRecovers(store, "appside", user.upn);
    // Graph's default secret lifetime is 2 years.
    await moveClock(731 * DAY);
    await expectFlagged(store, "appside", 7000222, "invalid_client");
    const added = await graph(o, await tok(), "POST", `applications/${apps.admin.objectId}/addPassword`, { passwordCredential: { displayName: "renewed" } });
    apps.admin.secret = added.body.secretText as string;
    await expectRecovers(newStore("admin"), "appside", user.upn);
  });
});
