/**
 * Issue 3: `prompt=admin_consent` at /authorize. An administrator's consent is recorded
 * for the whole organization (AllPrincipals), so other users are not asked; a
 * non-administrator gets AADSTS90094 on orgbox's page.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { PageSession, type PageResponse } from "../helpers/page-session.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const REDIRECT = "http://localhost:3000/admin-prompt/callback";
const USER = { username: "pat@contoso.onmicrosoft.com", password: "Pat-Password-1" };

describe("prompt=admin_consent", () => {
  const orgbox = useOrgbox();
  let appId = "";

  beforeAll(async () => {
    const o = orgbox();
    const { application } = await o.identity.service.registerApplication({
      tenantId: o.tenantId,
      displayName: "Org-wide reporting",
      webRedirectUris: [REDIRECT],
      requiredResourceAccess: [{ resourceAppId: DYNAMICS_CRM_APP_ID, resourceAccess: [{ id: "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4", type: "Scope" }] }],
    });
    appId = application.appId;
    await o.identity.service.createUser({ tenantId: o.tenantId, userPrincipalName: USER.username, displayName: "Pat", password: USER.password });
  });

  const authorizeUrl = (loginHint: string) =>
    `${orgbox().authority}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: appId, response_type: "code", redirect_uri: REDIRECT, scope: `${orgbox().orgUrl}/user_impersonation openid`, prompt: "admin_consent", login_hint: loginHint, state: "s1" })}`;
  const codeOf = (page: PageResponse) => new URL(page.location ?? "about:blank").searchParams.get("code");

  it("a non-administrator gets AADSTS90094 on the error page, not a redirect", async () => {
    const browser = new PageSession();
    const signIn = await browser.open(authorizeUrl(USER.username));
    const denied = await browser.signIn(signIn, USER.username, USER.password);
    expect(denied.status).toBe(403);
    expect(denied.location).toBeNull();
    expect(denied.html).toContain("AADSTS90094");
  });

  it("an administrator's consent covers the organization: the next user is not asked", async () => {
    const admin = new PageSession();
    const consent = await admin.signIn(await admin.open(authorizeUrl(DEMO.admin.username)), DEMO.admin.username, DEMO.admin.password);
    expect(consent.html).toContain("user_impersonation");
    // Accepted without ticking "Consent on behalf of your organization": the prompt makes it org-wide.
    const done = await admin.submit(consent, { decision: "accept" });
    expect(done.status).toBe(302);
    expect(codeOf(done)).toBeTruthy();

    const user = new PageSession();
    const signIn = await user.open(`${orgbox().authority}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: appId, response_type: "code", redirect_uri: REDIRECT, scope: `${orgbox().orgUrl}/user_impersonation openid`, login_hint: USER.username })}`);
    const straight = await user.signIn(signIn, USER.username, USER.password);
    expect(straight.status).toBe(302);
    expect(codeOf(straight)).toBeTruthy();
  });
});
