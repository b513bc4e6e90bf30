import { DeviceCodeCredential } from "@azure/identity";
import { PublicClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/server/demo.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { apiGet, useOrgbox } from "../helpers/orgbox.ts";

const DEVICE_APP = "c0de0000-0000-4000-8000-0000000e2e20";

describe("device code flow, the code entered in headless Chromium", () => {
  const orgbox = useOrgbox();
  let browser: Browser;

  beforeAll(async () => {
    await orgbox().identity.service.registerApplication({
      tenantId: DEMO.tenantId,
      appId: DEVICE_APP,
      displayName: "Device e2e CLI",
      isFallbackPublicClient: true,
      requiredResourceAccess: [{ resourceAppId: DYNAMICS_CRM_APP_ID, resourceAccess: [{ id: "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4", type: "Scope" }] }],
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  /** Opens the verification page, enters the code, signs in when asked, accepts consent or confirms. */
  async function completeInBrowser(verificationUri: string, userCode: string): Promise<string> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const page = await context.newPage();
      await page.goto(verificationUri);
      await page.getByLabel("Code").fill(userCode);
      await page.getByRole("button", { name: "Next" }).click();
      await page.getByLabel("Email, phone, or Skype").fill(DEMO.admin.username);
      await page.getByLabel("Password").fill(DEMO.admin.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      const heading = await page.getByRole("heading").first().textContent();
      if (heading === "Permissions requested") await page.getByRole("button", { name: "Accept" }).click();
      else await page.getByRole("button", { name: "Continue" }).click();
      return (await page.getByRole("status").textContent()) ?? "";
    } finally {
      await context.close();
    }
  }

  it("msal-node acquireTokenByDeviceCode: consent in the browser, then a Dataverse read as the user", async () => {
    const pca = new PublicClientApplication({ auth: { clientId: DEVICE_APP, authority: orgbox().authority, knownAuthorities: [new URL(orgbox().url).host] } });
    let done: Promise<string> | undefined;
    const result = await pca.acquireTokenByDeviceCode({
      scopes: [`${orgbox().orgUrl}/user_impersonation`],
      deviceCodeCallback: (response) => {
        expect(response.message).toContain(response.userCode);
        done = completeInBrowser(response.verificationUri, response.userCode);
      },
    });
    await expect(done).resolves.toContain("You have signed in to the Device e2e CLI application on your device.");
    expect(decodeJwt(result!.accessToken)).toMatchObject({ appid: DEVICE_APP, appidacr: "0", upn: DEMO.admin.username, scp: "user_impersonation" });
    const accounts = await apiGet(orgbox(), result!.accessToken, "accounts?$select=name&$top=3");
    expect(accounts.status).toBe(200);
    expect((accounts.body as { value: unknown[] }).value).toHaveLength(3);
  });

  it("@azure/identity DeviceCodeCredential: the prompt callback gets the code, the browser completes it", async () => {
    let done: Promise<string> | undefined;
    const credential = new DeviceCodeCredential({
      tenantId: DEMO.tenantId,
      clientId: DEVICE_APP,
      authorityHost: orgbox().url,
      disableInstanceDiscovery: true,
      userPromptCallback: (info) => {
        done = completeInBrowser(info.verificationUri, info.userCode);
      },
    });
    const { token } = await credential.getToken(`${orgbox().orgUrl}/user_impersonation`);
    await expect(done).resolves.toContain("You have signed in");
    const whoami = await apiGet(orgbox(), token, "WhoAmI");
    expect(whoami.status).toBe(200);
  });
});
