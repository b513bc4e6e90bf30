import { ConfidentialClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DYNAMICS_CRM_APP_ID, GLOBAL_ADMINISTRATOR_ROLE } from "../../src/identity/index.ts";
import { DEMO } from "../../src/server/demo.ts";
import { useChromium } from "../helpers/chromium.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const FABRIKAM = { id: "fab00000-0000-4000-8000-0000000000e2", domain: "fabrikam.onmicrosoft.com", displayName: "Fabrikam" };
const FAB_ADMIN = { username: "admin@fabrikam.onmicrosoft.com", password: "fabrikam-Admin-1" };
const ISV_APP = "c0de0000-0000-4000-8000-0000000e2e20";

/**
 * The multi-tenant server-to-server walkthrough (Dynamics 365 "Use Multi-Tenant
 * Server-to-server authentication"): an ISV app registered in Contoso's tenant
 * is consented by Fabrikam's administrator, gets an application user in
 * Fabrikam's org, and then reads Fabrikam's Web API with client credentials.
 */
describe("multi-tenant S2S: admin consent in a browser, then client credentials into another tenant's org", () => {
  const orgbox = useOrgbox();
  const chromium = useChromium("/consented");
  let redirectUri = "";
  let secret = "";
  let businessUnitId = "";

  beforeAll(async () => {
    redirectUri = chromium().redirectUri;
    const { service } = orgbox().identity;
    await service.createTenant({ id: FABRIKAM.id, displayName: FABRIKAM.displayName, defaultDomain: FABRIKAM.domain });
    await service.createUser({ tenantId: FABRIKAM.id, userPrincipalName: FAB_ADMIN.username, displayName: "Fabrikam Admin", password: FAB_ADMIN.password, directoryRoles: [GLOBAL_ADMINISTRATOR_ROLE] });
    businessUnitId = (await orgbox().dataverse.service.createOrg({ name: "fabrikam", tenantId: FABRIKAM.id, displayName: "Fabrikam" })).rootBusinessUnitId;
    await service.registerApplication({
      tenantId: DEMO.tenantId,
      appId: ISV_APP,
      displayName: "Contoso ISV connector",
      signInAudience: "AzureADMultipleOrgs",
      webRedirectUris: [redirectUri],
      requiredResourceAccess: [{ resourceAppId: DYNAMICS_CRM_APP_ID, resourceAccess: [{ id: "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4", type: "Scope" }] }],
    });
    secret = (await service.addPassword({ appId: ISV_APP })).secretText;
  });

  const fabrikamOrgUrl = () => `${orgbox().url}/org/fabrikam`;
  const cca = () =>
    new ConfidentialClientApplication({ auth: { clientId: ISV_APP, clientSecret: secret, authority: `${orgbox().url}/${FABRIKAM.id}`, knownAuthorities: [new URL(orgbox().url).host] } });

  it("before consent the app is unknown in Fabrikam (AADSTS700016) and cannot get an application user", async () => {
    await expect(cca().acquireTokenByClientCredential({ scopes: [`${fabrikamOrgUrl()}/.default`] })).rejects.toMatchObject({ errorCode: "unauthorized_client", errorMessage: expect.stringContaining("AADSTS700016") });
    const org = await orgbox().dataverse.service.findOrg("fabrikam");
    await expect(orgbox().dataverse.service.createApplicationUser(org!, { applicationId: ISV_APP, businessUnitId })).rejects.toThrow(/consent/);
  });

  it("Fabrikam's admin consents in the browser; an application user then reads Fabrikam's org with MSAL client credentials", async () => {
    const context = await chromium().browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const scope = `${fabrikamOrgUrl()}/.default`;
    await page.goto(`${orgbox().url}/${FABRIKAM.domain}/v2.0/adminconsent?${new URLSearchParams({ client_id: ISV_APP, redirect_uri: redirectUri, scope, state: "onboard-42" }).toString()}`);
    await page.getByLabel("Email, phone, or Skype").fill(FAB_ADMIN.username);
    await page.getByLabel("Password").fill(FAB_ADMIN.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("heading", { name: "Permissions requested" }).isVisible()).resolves.toBe(true);
    const text = (await page.textContent("main")) ?? "";
    expect(text).toContain("Contoso ISV connector");
    expect(text).toContain(`Publisher: ${DEMO.tenantDomain}`);
    expect(text).toContain("all users in Fabrikam");
    expect(text).toContain("Access Common Data Service as organization users");
    await Promise.all([page.waitForURL((u) => u.toString().startsWith(redirectUri)), page.getByRole("button", { name: "Accept" }).click()]);
    const back = Object.fromEntries(new URL(page.url()).searchParams);
    expect(back).toEqual({ admin_consent: "True", tenant: FABRIKAM.id, scope, state: "onboard-42" });
    await context.close();

    // the subscriber's admin creates the application user with a custom role (Dataverse side)
    const { service: dataverse } = orgbox().dataverse;
    const org = (await dataverse.findOrg("fabrikam"))!;
    const roleId = await dataverse.createRole(org, { name: "ISV connector", businessUnitId, privileges: [{ name: "prvReadAccount", depth: "Global" }] });
    const appUserId = await dataverse.createApplicationUser(org, { applicationId: ISV_APP, businessUnitId, roleIds: [roleId] });

    const result = await cca().acquireTokenByClientCredential({ scopes: [scope] });
    const sp = await orgbox().identity.service.findServicePrincipal(FABRIKAM.id, ISV_APP);
    expect(decodeJwt(result!.accessToken)).toMatchObject({ tid: FABRIKAM.id, aud: fabrikamOrgUrl(), appid: ISV_APP, oid: sp!.id, idtyp: "app", iss: `${orgbox().url}/sts/${FABRIKAM.id}/` });

    const get = (url: string) => fetch(url, { headers: { authorization: `Bearer ${result!.accessToken}`, accept: "application/json" } });
    const whoAmI = await get(`${fabrikamOrgUrl()}/api/data/v9.2/WhoAmI`);
    expect(whoAmI.status).toBe(200);
    expect(((await whoAmI.json()) as { UserId: string }).UserId).toBe(appUserId);
    const accounts = await get(`${fabrikamOrgUrl()}/api/data/v9.2/accounts?$select=name`);
    expect(accounts.status).toBe(200);
    expect(((await accounts.json()) as { value: unknown[] }).value).toEqual([]);
    // Fabrikam's token is no good in Contoso's org
    const contoso = await get(`${orgbox().apiUrl}/accounts?$select=name`);
    expect(contoso.status).toBe(401);
  });
});
