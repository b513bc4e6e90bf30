import { ConfidentialClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/server/demo.ts";
import { GLOBAL_ADMINISTRATOR_ROLE } from "../../src/identity/index.ts";
import { createTestCertificate } from "../helpers/certificates.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { expectAccessible, portalSignIn } from "../helpers/portal.ts";

/**
 * The App registrations pages seed 000 does not walk: a redirect URI added and removed again
 * (Authentication), a certificate uploaded (Certificates & secrets) and then used by msal-node's
 * certificate credential, the Owned applications tab, Switch directory (a new sign-in to another
 * tenant), and Sign out (orgbox's end-session endpoint, back to the anonymous landing page).
 */
describe("portal: app credentials, redirect URIs, owned applications, sign out", () => {
  const orgbox = useOrgbox();
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium();
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 } });
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("removes a redirect URI, uploads a certificate msal-node then signs with, lists the app under Owned applications, switches directory, signs out", { timeout: 180_000 }, async () => {
    const o = orgbox();
    // A second directory with its own Global Administrator, for Switch directory.
    const other = await o.identity.service.createTenant({ displayName: "Woodgrove", defaultDomain: "woodgrove.onmicrosoft.com" });
    await o.identity.service.createUser({ tenantId: other.id, userPrincipalName: "admin@woodgrove.onmicrosoft.com", displayName: "Woodgrove Admin", password: "Woodgrove-Admin-1", directoryRoles: [GLOBAL_ADMINISTRATOR_ROLE] });
    await portalSignIn(page, o.url, DEMO.tenantDisplayName, DEMO.admin.username, DEMO.admin.password);
    await page.getByRole("link", { name: "App registrations" }).click();
    await page.getByRole("button", { name: "New registration" }).click();
    await page.getByRole("textbox", { name: /^Name/ }).fill("Certificate daemon");
    await page.getByRole("button", { name: "Register" }).click();
    const clientIdField = page.getByRole("textbox", { name: "Application (client) ID" });
    await clientIdField.waitFor();
    const clientId = await clientIdField.inputValue();
    const registration = async () => o.identity.directory.findApplicationByAppId(clientId);

    // Authentication: two web redirect URIs saved, then one deleted and saved again.
    await page.getByRole("navigation", { name: "Manage" }).getByRole("link", { name: "Authentication" }).click();
    await page.getByRole("heading", { name: "Platform configurations" }).waitFor();
    for (const uri of ["https://daemon.example/keep", "https://daemon.example/drop"]) {
      await page.getByLabel("Platform", { exact: true }).selectOption({ label: "Web" });
      await page.getByLabel("Add URI", { exact: true }).fill(uri);
      await page.getByRole("button", { name: "Configure" }).click();
    }
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText("Successfully updated the application's authentication settings.").waitFor();
    expect((await registration())?.web.redirectUris).toEqual(["https://daemon.example/keep", "https://daemon.example/drop"]);
    await page.getByRole("button", { name: "Delete https://daemon.example/drop" }).click();
    await page.getByRole("button", { name: "Save" }).click();
    await expect.poll(async () => (await registration())?.web.redirectUris).toEqual(["https://daemon.example/keep"]);
    await expectAccessible(page, "authentication after a removal");

    // Certificates & secrets → Certificates: upload the public certificate.
    const certificate = await createTestCertificate("CN=portal certificate daemon");
    await page.getByRole("navigation", { name: "Manage" }).getByRole("link", { name: "Certificates & secrets" }).click();
    await page.getByRole("tab", { name: /Certificates/ }).click();
    await page.getByLabel("Upload certificate (PEM, .cer or .crt content)").fill(certificate.certificatePem);
    await page.getByLabel("Description").fill("ci certificate");
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await page.getByRole("table", { name: "Certificates" }).getByText("ci certificate").waitFor();
    await expectAccessible(page, "certificates");
    // msal-node's certificate credential (a signed client assertion) gets a token with it at once.
    const cca = new ConfidentialClientApplication({
      auth: { clientId, authority: `${o.url}/${DEMO.tenantId}`, knownAuthorities: [new URL(o.url).host], clientCertificate: { thumbprintSha256: certificate.sha256, privateKey: certificate.privateKeyPem } },
    });
    const result = await cca.acquireTokenByClientCredential({ scopes: [`${o.orgUrl}/.default`], skipCache: true });
    expect(decodeJwt(result?.accessToken ?? "")).toMatchObject({ appid: clientId, aud: o.orgUrl, tid: DEMO.tenantId });

    // App registrations → Owned applications: the signed-in admin registered it, so owns it.
    await page.getByRole("navigation", { name: "Portal navigation" }).getByRole("link", { name: "App registrations" }).click();
    await page.getByRole("tab", { name: "Owned applications" }).click();
    await page.getByRole("table", { name: "Owned applications" }).getByText("Certificate daemon").waitFor();
    await expectAccessible(page, "owned applications");

    // Switch directory: signs in again to the chosen tenant (orgbox has no guest accounts), then lists that tenant's apps.
    await page.getByRole("button", { name: "Switch directory" }).click();
    await page.getByRole("menuitemradio", { name: /^Woodgrove/ }).click();
    await page.getByLabel("Email, phone, or Skype").fill("admin@woodgrove.onmicrosoft.com");
    await page.getByLabel("Password").fill("Woodgrove-Admin-1");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("navigation", { name: "Portal navigation" }).waitFor();
    await page.getByText("admin@woodgrove.onmicrosoft.com").first().waitFor();
    await page.getByRole("navigation", { name: "Portal navigation" }).getByRole("link", { name: "App registrations" }).click();
    const all = page.getByRole("table", { name: "All applications" });
    await all.waitFor();
    expect(await all.getByText("Certificate daemon").count()).toBe(0);

    // Sign out: orgbox's end-session endpoint, then the anonymous landing page again.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("button", { name: `Sign in to ${DEMO.tenantDisplayName}` }).waitFor();
    expect(await page.getByRole("navigation", { name: "Portal navigation" }).count()).toBe(0);
  });
});
