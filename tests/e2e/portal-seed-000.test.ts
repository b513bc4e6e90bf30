import { ConfidentialClientApplication, PublicClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/server/demo.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { expectAccessible, portalSignIn, shot } from "../helpers/portal.ts";

/**
 * Seed 000 ("Register a Dynamics 365 app with Azure Active Directory") clicked through the portal in
 * headless Chromium: New registration → Authentication (redirect URI, Allow public client flows) →
 * API permissions (Dynamics CRM user_impersonation, Grant admin consent) → Certificates & secrets
 * (New client secret). Then msal-node uses the client id and secret read off the pages.
 */
describe("portal: seed 000 in the browser", () => {
  const orgbox = useOrgbox();
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium();
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"]).catch(() => undefined);
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("serves the landing page anonymously with the running services' facts and the security headers", async () => {
    const response = await page.goto(`${orgbox().url}/`);
    expect(response?.status()).toBe(200);
    const headers = response?.headers() ?? {};
    expect(headers["x-frame-options"]).toBe("DENY");
    expect(headers["content-security-policy"]).toContain("script-src 'self'");
    expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    await page.getByRole("heading", { name: "Tenants" }).waitFor();
    const tenants = page.getByRole("table", { name: "Tenants" });
    await expect(tenants.textContent()).resolves.toContain(DEMO.tenantDomain);
    await expect(page.getByRole("table", { name: "Environments" }).textContent()).resolves.toContain(`${orgbox().orgUrl}/api/data/v9.2`);
    await expect(page.getByLabel("Admin password", { exact: true }).inputValue()).resolves.toBe(DEMO.admin.password);
    await expect(page.getByLabel("CA certificate path", { exact: true }).inputValue()).resolves.toBe(orgbox().caCertPath);
    await shot(page, "landing");
    await expectAccessible(page, "landing");
  });

  it("walks seed 000 and msal-node reads leads with the copied client id and secret", { timeout: 180_000 }, async () => {
    await portalSignIn(page, orgbox().url, DEMO.tenantDisplayName, DEMO.admin.username, DEMO.admin.password);
    await page.getByRole("link", { name: "App registrations" }).click();
    await page.getByRole("table", { name: "All applications" }).waitFor();
    await expectAccessible(page, "app registrations");
    await page.getByRole("button", { name: "New registration" }).click();

    // Register an application
    await page.getByRole("heading", { name: "Register an application" }).waitFor();
    await page.getByRole("textbox", { name: /^Name/ }).fill("Seed 000 client");
    await page.getByRole("radio", { name: /Accounts in any organizational directory/ }).check();
    await expectAccessible(page, "new registration");
    await shot(page, "new-registration");
    await page.getByRole("button", { name: "Register" }).click();

    // Overview: copy the Application (client) ID
    const clientIdField = page.getByRole("textbox", { name: "Application (client) ID" });
    await clientIdField.waitFor();
    const clientId = await clientIdField.inputValue();
    expect(clientId).toMatch(/^[0-9a-f-]{36}$/);
    await expect(page.getByRole("textbox", { name: "Directory (tenant) ID" }).inputValue()).resolves.toBe(DEMO.tenantId);
    await page.getByRole("button", { name: "Endpoints" }).click();
    await expect(page.getByRole("textbox", { name: "OAuth 2.0 token endpoint (v1)" }).inputValue()).resolves.toBe(`${orgbox().url}/${DEMO.tenantId}/oauth2/token`);
    await expect(page.getByRole("textbox", { name: "OAuth 2.0 authorization endpoint (v2)" }).inputValue()).resolves.toBe(`${orgbox().url}/${DEMO.tenantId}/oauth2/v2.0/authorize`);
    await expectAccessible(page, "endpoints");
    await shot(page, "overview-endpoints");
    await page.getByRole("button", { name: "Close" }).click();
    await page.getByRole("dialog").waitFor({ state: "detached" });
    await expectAccessible(page, "overview");

    // Authentication: a redirect URI, Allow public client flows
    await page.getByRole("navigation", { name: "Manage" }).getByRole("link", { name: "Authentication" }).click();
    await page.getByRole("heading", { name: "Platform configurations" }).waitFor();
    await page.getByLabel("Platform", { exact: true }).selectOption({ label: "Public client/native (mobile & desktop)" });
    await page.getByLabel("Add URI", { exact: true }).fill("http://localhost/seed000");
    await page.getByRole("button", { name: "Configure" }).click();
    await page.getByRole("switch", { name: /Allow public client flows/ }).check();
    await page.getByLabel("Front-channel logout URL").fill("https://localhost:44300/signout-oidc");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Successfully updated the application's authentication settings.").waitFor();
    // Saved through Graph: the registration holds it.
    expect((await orgbox().identity.directory.findApplicationByAppId(clientId))?.web.logoutUrl).toBe("https://localhost:44300/signout-oidc");
    await expectAccessible(page, "authentication");
    await shot(page, "authentication");

    // API permissions: Add a permission → Dynamics CRM → Delegated permissions → user_impersonation
    await page.getByRole("navigation", { name: "Manage" }).getByRole("link", { name: "API permissions" }).click();
    await page.getByRole("button", { name: "Add a permission" }).click();
    await page.getByRole("dialog", { name: "Request API permissions" }).getByRole("button", { name: "Dynamics CRM" }).click();
    await page.getByRole("button", { name: "Delegated permissions" }).click();
    await page.getByRole("checkbox", { name: /user_impersonation/ }).check();
    await expectAccessible(page, "request api permissions");
    await shot(page, "request-api-permissions");
    await page.getByRole("button", { name: "Add permissions" }).click();
    await page.getByRole("dialog").waitFor({ state: "detached" });
    const permissions = page.getByRole("table", { name: "Configured permissions" });
    await permissions.getByText("Not granted for Contoso").waitFor();
    await page.getByRole("button", { name: "Grant admin consent for Contoso" }).click();
    await permissions.getByText("Granted for Contoso").waitFor();
    await expect(permissions.getByRole("row").filter({ hasText: "user_impersonation" }).textContent()).resolves.toContain("Delegated");
    await expectAccessible(page, "api permissions");
    await shot(page, "api-permissions");

    // Certificates & secrets: New client secret; the value is shown once
    await page.getByRole("navigation", { name: "Manage" }).getByRole("link", { name: "Certificates & secrets" }).click();
    await page.getByRole("button", { name: "New client secret" }).click();
    await page.getByRole("dialog", { name: "Add a client secret" }).getByLabel("Description").fill("seed 000");
    await page.getByLabel("Expires", { exact: true }).selectOption({ label: "90 days (3 months)" });
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await page.getByRole("dialog").waitFor({ state: "detached" });
    const secret = await page.getByRole("textbox", { name: "Value", exact: true }).inputValue();
    expect(secret.length).toBeGreaterThan(30);
    await expect(page.getByRole("table", { name: "Client secrets" }).textContent()).resolves.toContain("seed 000");
    await expectAccessible(page, "certificates and secrets");
    await shot(page, "secrets");

    // Leaving the page forgets the value: the list shows the hint only.
    await page.getByRole("navigation", { name: "Manage" }).getByRole("link", { name: "Overview" }).click();
    await page.getByRole("navigation", { name: "Manage" }).getByRole("link", { name: "Certificates & secrets" }).click();
    await page.getByRole("table", { name: "Client secrets" }).waitFor();
    await expect(page.getByRole("table", { name: "Client secrets" }).textContent()).resolves.not.toContain(secret);
    await expect(page.getByRole("table", { name: "Client secrets" }).textContent()).resolves.toContain(`${secret.slice(0, 3)}*********`);

    // msal-node with the copied values. The secret: a client-credentials token for the org. With "Allow public client
    // flows" on, Entra refuses a secret on the password grant (AADSTS700025), so the user's token comes from the public
    // client flow the seed enables, and reads leads as the admin through the consented user_impersonation.
    const authority = `${orgbox().url}/${DEMO.tenantId}`;
    const knownAuthorities = [new URL(orgbox().url).host];
    const cca = new ConfidentialClientApplication({ auth: { clientId, clientSecret: secret, authority, knownAuthorities } });
    const appOnly = await cca.acquireTokenByClientCredential({ scopes: [`${orgbox().orgUrl}/.default`] });
    expect(decodeJwt(appOnly!.accessToken)).toMatchObject({ appid: clientId, appidacr: "1", aud: orgbox().orgUrl, tid: DEMO.tenantId });
    const pca = new PublicClientApplication({ auth: { clientId, authority, knownAuthorities } });
    const user = await pca.acquireTokenByUsernamePassword({ scopes: [`${orgbox().orgUrl}/user_impersonation`], username: DEMO.admin.username, password: DEMO.admin.password });
    expect(decodeJwt(user!.accessToken)).toMatchObject({ appid: clientId, scp: "user_impersonation", upn: DEMO.admin.username });
    const leads = await fetch(`${orgbox().apiUrl}/leads?$select=subject&$top=3`, { headers: { authorization: `Bearer ${user!.accessToken}`, accept: "application/json" } });
    expect(leads.status).toBe(200);
    expect(((await leads.json()) as { value: unknown[] }).value).toHaveLength(3);

    // Manifest (the seed's other way to allow public client flows): the JSON editor saves through Graph.
    await page.getByRole("navigation", { name: "Manage" }).getByRole("link", { name: "Manifest" }).click();
    const editor = page.getByLabel("Manifest (JSON)");
    const manifest = JSON.parse(await editor.inputValue()) as Record<string, unknown>;
    expect(manifest).toMatchObject({ appId: clientId, isFallbackPublicClient: true });
    await editor.fill("{ not json");
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toContain("The manifest is not valid JSON");
    await editor.fill(JSON.stringify({ ...manifest, isFallbackPublicClient: false }, null, 2));
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Successfully updated Seed 000 client (isFallbackPublicClient).").waitFor();
    expect((await orgbox().identity.service.findApplication(clientId))?.isFallbackPublicClient).toBe(false);
    await expectAccessible(page, "manifest");
    await shot(page, "manifest");
  });
});
