/**
 * Every way a refresh fails, with Entra's answer, triggered only through orgbox's HTTP surfaces
 * (Graph, `/_orgbox/clock`, `/_orgbox/interaction-requirements`), and checked on the v1 and v2 token
 * endpoints with plain fetch and through msal-node (`acquireTokenByRefreshToken`), which throws
 * `InteractionRequiredAuthError` exactly where Entra's answer makes it (`interaction_required`, or a
 * `suberror` such as `consent_required` / `basic_action`) and a `ServerError` elsewhere.
 * Each case signs a fresh user in on the sign-in page (auth code + PKCE) to get its refresh token.
 */
import { ConfidentialClientApplication, InteractionRequiredAuthError, ServerError } from "@azure/msal-node";
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEMO, type OrgboxInstance } from "../../src/index.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { orgboxCli } from "../helpers/cli.ts";
import { graph, graphToken } from "../helpers/graph.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { PageSession, type PageResponse } from "../helpers/page-session.ts";

const ADMIN_KEY = "refresh-failures-admin-key";
const PASSWORD = "Str0ng!Passw0rd";
const REDIRECT = "https://connector.example/callback";
const DAY = 86_400;

interface Connection {
  appId: string;
  appObjectId: string;
  spId: string;
  secret: string;
  secretKeyId: string;
  user: { id: string; upn: string };
  refreshToken: string;
}

interface Failure {
  status: number;
  error: string;
  code: number;
  suberror: string | undefined;
  description: string;
}

describe("every way a refresh fails (v1, v2, msal-node)", () => {
  const orgbox = useOrgbox({ adminKey: ADMIN_KEY });
  /** A Graph token of the demo Graph admin app, fresh each time: the clock moves in these tests. */
  const tok = () => graphToken(orgbox());

  const admincall = async (path: string, body: unknown) => {
    const res = await fetch(`${orgbox().url}/_orgbox/${path}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  };

  /** Signs in on the sign-in page (passing the MFA step when it shows) and redeems the code at v2. */
  const signIn = async (o: OrgboxInstance, c: Pick<Connection, "appId" | "secret">, upn: string, password = PASSWORD): Promise<{ refreshToken: string; sawMfa: boolean }> => {
    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const url = `${o.url}/${o.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: c.appId, response_type: "code", redirect_uri: REDIRECT, scope: `${o.orgUrl}/user_impersonation offline_access`, code_challenge: challenge, code_challenge_method: "S256" })}`;
    const session = new PageSession();
    let page: PageResponse = await session.signIn(await session.open(url), upn, password);
    let sawMfa = false;
    if (page.status === 200 && page.html.includes("Approve sign in request")) {
      sawMfa = true;
      page = await session.submit(page, { decision: "approve" });
    }
    expect(page.status, page.html.slice(0, 300)).toBe(302);
    const code = new URL(page.location as string).searchParams.get("code") as string;
    const res = await fetch(`${o.url}/${o.tenantId}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "authorization_code", client_id: c.appId, client_secret: c.secret, code, redirect_uri: REDIRECT, code_verifier: verifier, scope: `${o.orgUrl}/user_impersonation offline_access` }) });
    const body = (await res.json()) as { refresh_token?: string };
    expect(body.refresh_token, JSON.stringify(body)).toBeTruthy();
    return { refreshToken: body.refresh_token as string, sawMfa };
  };

  /** A new app (secret, service principal, admin consent to Dataverse) and a new user, connected: the user signed in once. */
  const connect = async (alias: string): Promise<Connection> => {
    const o = orgbox();
    const app = await graph(o, await tok(), "POST", "applications", { displayName: `Connector ${alias}`, web: { redirectUris: [REDIRECT] } });
    expect(app.status, JSON.stringify(app.body)).toBe(201);
    const appId = app.body.appId as string;
    const sp = await graph(o, await tok(), "POST", "servicePrincipals", { appId });
    const secret = await graph(o, await tok(), "POST", `applications/${app.body.id as string}/addPassword`, { passwordCredential: { displayName: "connector" } });
    await o.identity.service.grantConsent({ tenantId: o.tenantId, clientAppId: appId, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
    const user = await graph(o, await tok(), "POST", "users", { accountEnabled: true, displayName: alias, mailNickname: alias, userPrincipalName: `${alias}@${DEMO.tenantDomain}`, passwordProfile: { password: PASSWORD, forceChangePasswordNextSignIn: false } });
    expect(user.status, JSON.stringify(user.body)).toBe(201);
    const c = { appId, appObjectId: app.body.id as string, spId: sp.body.id as string, secret: secret.body.secretText as string, secretKeyId: secret.body.keyId as string, user: { id: user.body.id as string, upn: user.body.userPrincipalName as string } };
    return { ...c, refreshToken: (await signIn(o, c, c.user.upn)).refreshToken };
  };

  const failure = async (res: Response): Promise<Failure> => {
    const body = (await res.json()) as { error?: string; error_codes?: number[]; suberror?: string; error_description?: string };
    return { status: res.status, error: body.error ?? "", code: body.error_codes?.[0] ?? 0, suberror: body.suberror, description: body.error_description ?? "" };
  };
  /** The refresh at the v1 endpoint (`resource`) and at v2 (`scope`), plain fetch. */
  const refreshBoth = async (c: Connection): Promise<[Failure, Failure]> => {
    const o = orgbox();
    const v1 = await fetch(`${o.url}/${o.tenantId}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "refresh_token", client_id: c.appId, client_secret: c.secret, refresh_token: c.refreshToken, resource: o.orgUrl }) });
    const v2 = await fetch(`${o.url}/${o.tenantId}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "refresh_token", client_id: c.appId, client_secret: c.secret, refresh_token: c.refreshToken, scope: `${o.orgUrl}/user_impersonation offline_access` }) });
    return [await failure(v1), await failure(v2)];
  };
  /** What msal-node throws for the refresh. */
  const msalRefresh = async (c: Connection): Promise<unknown> => {
    const o = orgbox();
    const msal = new ConfidentialClientApplication({ auth: { clientId: c.appId, clientSecret: c.secret, authority: o.authority, knownAuthorities: [new URL(o.url).host] } });
    try {
      await msal.acquireTokenByRefreshToken({ refreshToken: c.refreshToken, scopes: [`${o.orgUrl}/user_impersonation`], forceCache: true });
    } catch (error) {
      return error;
    }
    throw new Error("msal-node refreshed");
  };

  /** Both endpoints answer `expected`; msal-node throws InteractionRequiredAuthError or ServerError as `interactive` says. */
  const expectFailure = async (c: Connection, expected: { status?: number; error: string; code: number; suberror?: string; message?: RegExp }, interactive: boolean) => {
    for (const [version, got] of (await refreshBoth(c)).entries()) {
      const where = `v${version + 1}`;
      expect({ status: got.status, error: got.error, code: got.code, suberror: got.suberror }, where).toEqual({ status: expected.status ?? 400, error: expected.error, code: expected.code, suberror: expected.suberror });
      expect(got.description, where).toMatch(new RegExp(`^AADSTS${expected.code}: `));
      if (expected.message) expect(got.description, where).toMatch(expected.message);
    }
    const thrown = await msalRefresh(c);
    expect(thrown, String(thrown)).toBeInstanceOf(interactive ? InteractionRequiredAuthError : ServerError);
    if (!interactive) expect(thrown).not.toBeInstanceOf(InteractionRequiredAuthError);
    expect((thrown as { errorCode: string }).errorCode).toBe(expected.error);
    expect((thrown as { subError?: string }).subError || undefined).toBe(expected.suberror);
  };

  it("inactivity: 90 days without a refresh (AADSTS700082)", async () => {
    const c = await connect("inactive");
    await admincall("clock", { advanceSeconds: 91 * DAY });
    await expectFailure(c, { error: "invalid_grant", code: 700082, message: /expired due to inactivity/ }, false);
  });

  it("password reset by an administrator, and revokeSignInSessions (AADSTS50173)", async () => {
    const o = orgbox();
    const reset = await connect("pwreset");
    expect((await graph(o, await tok(), "PATCH", `users/${reset.user.id}`, { passwordProfile: { password: "N3w!Passw0rd", forceChangePasswordNextSignIn: false } })).status).toBe(204);
    await expectFailure(reset, { error: "invalid_grant", code: 50173, message: /TokensValidFrom/ }, false);
    const revoked = await connect("revoked");
    await new Promise((r) => setImmediate(r));
    expect((await graph(o, await tok(), "POST", `users/${revoked.user.id}/revokeSignInSessions`)).status).toBe(200);
    await expectFailure(revoked, { error: "invalid_grant", code: 50173 }, false);
  });

  it("consent revoked: the oauth2PermissionGrant deleted (AADSTS65001, suberror consent_required)", async () => {
    const o = orgbox();
    const c = await connect("consent");
    const grants = await graph(o, await tok(), "GET", `oauth2PermissionGrants?$filter=clientId eq '${c.spId}'`);
    expect(grants.body.value?.length).toBe(1);
    expect((await graph(o, await tok(), "DELETE", `oauth2PermissionGrants/${grants.body.value?.[0]?.id as string}`)).status).toBe(204);
    await expectFailure(c, { error: "invalid_grant", code: 65001, suberror: "consent_required" }, true);
  });

  it("user disabled (AADSTS50057) and deleted (AADSTS50034)", async () => {
    const o = orgbox();
    const disabled = await connect("disabled");
    expect((await graph(o, await tok(), "PATCH", `users/${disabled.user.id}`, { accountEnabled: false })).status).toBe(204);
    await expectFailure(disabled, { error: "invalid_grant", code: 50057, message: /The user account is disabled/ }, false);
    const deleted = await connect("deleted");
    expect((await graph(o, await tok(), "DELETE", `users/${deleted.user.id}`)).status).toBe(204);
    await expectFailure(deleted, { error: "invalid_grant", code: 50034, message: /does not exist in the .* directory/ }, false);
  });

  it("the app's service principal disabled (AADSTS7000112) and the app deleted (AADSTS700016)", async () => {
    const o = orgbox();
    const disabled = await connect("spdisabled");
    expect((await graph(o, await tok(), "PATCH", `servicePrincipals/${disabled.spId}`, { accountEnabled: false })).status).toBe(204);
    await expectFailure(disabled, { error: "unauthorized_client", code: 7000112, message: /is disabled/ }, false);
    const deleted = await connect("appdeleted");
    expect((await graph(o, await tok(), "DELETE", `applications/${deleted.appObjectId}`)).status).toBe(204);
    await expectFailure(deleted, { error: "unauthorized_client", code: 700016 }, false);
  });

  it("the client secret expired (AADSTS7000222) or removed (AADSTS7000215)", async () => {
    const o = orgbox();
    const removed = await connect("secretgone");
    expect((await graph(o, await tok(), "POST", `applications/${removed.appObjectId}/removePassword`, { keyId: removed.secretKeyId })).status).toBe(204);
    await expectFailure(removed, { status: 401, error: "invalid_client", code: 7000215 }, false);
    const expiring = await connect("secretold");
    // Graph's default secret lifetime is 2 years.
    await admincall("clock", { advanceSeconds: 731 * DAY });
    await expectFailure(expiring, { status: 401, error: "invalid_client", code: 7000222, message: /are expired/ }, false);
  });

  it("MFA required for the user (Graph perUserMfaState): AADSTS50076 interaction_required until a sign-in passes the MFA step", async () => {
    const o = orgbox();
    const c = await connect("mfauser");
    expect((await graph(o, await tok(), "GET", `users/${c.user.id}/authentication/requirements`)).body).toMatchObject({ perUserMfaState: "disabled" });
    expect((await graph(o, await tok(), "PATCH", `users/${c.user.id}/authentication/requirements`, { perUserMfaState: "enforced" })).status).toBe(204);
    expect((await graph(o, await tok(), "GET", `users/${c.user.id}/authentication/requirements`)).body).toMatchObject({ perUserMfaState: "enforced" });
    await expectFailure(c, { error: "interaction_required", code: 50076, suberror: "basic_action", message: /must use multi-factor authentication to access '00000007-0000-0000-c000-000000000000'/ }, true);
    const again = await signIn(o, c, c.user.upn);
    expect(again.sawMfa).toBe(true);
    const renewed = await refreshBoth({ ...c, refreshToken: again.refreshToken });
    expect(renewed.map((r) => r.status)).toEqual([200, 200]);
    // The old chain stays refused; each new browser session passes the step again (the switch stays on).
    expect((await refreshBoth(c))[1].code).toBe(50076);
    expect((await signIn(o, c, c.user.upn)).sawMfa).toBe(true);
    // ROPC cannot pass the step.
    const ropc = await fetch(`${o.url}/${o.tenantId}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "password", client_id: c.appId, client_secret: c.secret, username: c.user.upn, password: PASSWORD, scope: `${o.orgUrl}/user_impersonation` }) });
    expect((await failure(ropc)).code).toBe(50076);
    // Cancelling the MFA step sends access_denied (AADSTS50074) back to the app.
    const session = new PageSession();
    const url = `${o.url}/${o.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: c.appId, response_type: "code", redirect_uri: REDIRECT, scope: `${o.orgUrl}/user_impersonation` })}`;
    const mfaPage = await session.signIn(await session.open(url), c.user.upn, PASSWORD);
    expect(mfaPage.html).toContain("Approve sign in request");
    const cancelled = new URL((await session.submit(mfaPage, { decision: "cancel" })).location as string);
    expect(cancelled.searchParams.get("error")).toBe("access_denied");
    expect(cancelled.searchParams.get("error_description")).toMatch(/^AADSTS50074: /);
    // A silent request (prompt=none) from that password-only session cannot pass it either.
    const silent = new URL((await session.open(`${url}&prompt=none`)).location as string);
    expect(silent.searchParams.get("error")).toBe("interaction_required");
    expect(silent.searchParams.get("error_description")).toMatch(/^AADSTS50076: /);
    // An app without a directory write permission may not flip it.
    const unprivileged = await graphToken(o, c.appId, c.secret);
    const denied = await graph(o, unprivileged, "PATCH", `users/${c.user.id}/authentication/requirements`, { perUserMfaState: "disabled" });
    expect(denied.status).toBe(403);
    expect(denied.body.error?.code).toBe("Authorization_RequestDenied");
    const bad = await graph(o, await tok(), "PATCH", `users/${c.user.id}/authentication/requirements`, { perUserMfaState: "sometimes" });
    expect(bad.status).toBe(400);
    expect(bad.body.error?.message).toMatch(/perUserMfaState/);
  });

  it("MFA registration required for every user of an app (/_orgbox/interaction-requirements): AADSTS50079 invalid_grant, suberror basic_action", async () => {
    const o = orgbox();
    const c = await connect("mfaapp");
    const set = await admincall("interaction-requirements", { tenant: DEMO.tenantDomain, app: c.appId, kind: "mfaRegistration" });
    expect(set).toMatchObject({ subjectId: c.spId, requirements: [{ kind: "mfaRegistration" }] });
    await expectFailure(c, { error: "invalid_grant", code: 50079, suberror: "basic_action", message: /must enroll in multi-factor authentication/ }, true);
    await admincall("interaction-requirements", { tenant: DEMO.tenantDomain, app: c.appId, kind: "mfaRegistration", required: false });
    expect((await refreshBoth(c)).map((r) => r.status)).toEqual([200, 200]);
    for (const [body, status] of [[{ tenant: DEMO.tenantDomain }, 400], [{ tenant: DEMO.tenantDomain, app: c.appId, kind: "sms" }, 400], [{ tenant: "nope.example", app: c.appId }, 404], [{ tenant: DEMO.tenantDomain, user: "nobody@nowhere.example" }, 404]] as const) {
      const res = await fetch(`${o.url}/_orgbox/interaction-requirements`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" }, body: JSON.stringify(body) });
      expect(res.status, JSON.stringify(body)).toBe(status);
    }
  });

  it("the CLI flips the switch on a running orgbox: orgbox app require-mfa --url, orgbox user require-mfa --off", async () => {
    const o = orgbox();
    const c = await connect("mfacli");
    const remote = ["--url", o.url, "--admin-key", ADMIN_KEY, "--json"];
    const on = await orgboxCli(["app", "require-mfa", c.appId, "--tenant", DEMO.tenantDomain, ...remote]);
    expect(on.code, on.stderr).toBe(0);
    expect(JSON.parse(on.stdout)).toMatchObject({ subjectId: c.spId, requirements: [{ kind: "mfa" }] });
    expect((await refreshBoth(c))[1]).toMatchObject({ error: "interaction_required", code: 50076 });
    const missing = await orgboxCli(["app", "require-mfa", c.appId, ...remote]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--tenant/);
    const unknown = await orgboxCli(["user", "require-mfa", "nobody@" + DEMO.tenantDomain, "--off", ...remote]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no user/);
  });
});
