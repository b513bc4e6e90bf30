/**
 * Headless Chromium through orgbox's proxy (`--proxy-server`), trusting orgbox's CA by its public-key hash
 * (`--ignore-certificate-errors-spki-list`, which Chromium matches against every certificate of the chain: the CA
 * signs each host's leaf, so no certificate error is ignored blindly): the authorization-code flow with PKCE on
 * login.microsoftonline.com's pages, then the code redeemed and the org read at https://contoso.crm.dynamics.com
 * (curl through the proxy).
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { CryptoProvider } from "@azure/msal-node";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { caSpkiHash } from "../../src/common/tls.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { DEMO } from "../../src/server/demo.ts";
import { CHROMIUM } from "../helpers/chromium.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const run = promisify(execFile);
const WEB_APP = "c0de0000-0000-4000-8000-0000000e2e18";
const CLEAN_ENV = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/_proxy$/i.test(key)));

describe("Chromium through orgbox's proxy: sign-in on login.microsoftonline.com", () => {
  const orgbox = useOrgbox({ proxy: true, proxyPort: 0 });
  let browser: Browser;
  let callback: Server;
  let redirectUri = "";
  let secret = "";

  beforeAll(async () => {
    callback = createServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("signed in"));
    await new Promise<void>((resolve) => callback.listen(0, "127.0.0.1", resolve));
    redirectUri = `http://localhost:${(callback.address() as AddressInfo).port}/callback`;
    const o = orgbox();
    await o.identity.service.registerApplication({
      tenantId: DEMO.tenantId,
      appId: WEB_APP,
      displayName: "Proxy e2e web app",
      webRedirectUris: [redirectUri],
      requiredResourceAccess: [{ resourceAppId: DYNAMICS_CRM_APP_ID, resourceAccess: [{ id: "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4", type: "Scope" }] }],
    });
    secret = (await o.identity.service.addPassword({ appId: WEB_APP })).secretText;
    const spki = await caSpkiHash(o.caCert as string);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", `--proxy-server=${o.proxyUrl as string}`, `--ignore-certificate-errors-spki-list=${spki}`],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => callback?.close(resolve));
  });

  it("refuses the pages without the CA's hash: the certificate is orgbox's, not a public one", async () => {
    const o = orgbox();
    const plain = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", `--proxy-server=${o.proxyUrl as string}`] });
    try {
      const page = await plain.newPage();
      await expect(page.goto(`https://login.microsoftonline.com/${DEMO.tenantId}/v2.0/.well-known/openid-configuration`)).rejects.toThrow(/ERR_CERT_AUTHORITY_INVALID/);
    } finally {
      await plain.close();
    }
  });

  it("signs in and consents on login.microsoftonline.com, redeems the code, reads https://contoso.crm.dynamics.com as the user", async () => {
    const o = orgbox();
    const pkce = await new CryptoProvider().generatePkceCodes();
    const scope = "https://contoso.crm.dynamics.com/user_impersonation openid profile offline_access";
    const authorize = new URL(`https://login.microsoftonline.com/${DEMO.tenantId}/oauth2/v2.0/authorize`);
    for (const [k, v] of Object.entries({ client_id: WEB_APP, response_type: "code", redirect_uri: redirectUri, scope, state: "s-1", code_challenge: pkce.challenge, code_challenge_method: "S256" })) authorize.searchParams.set(k, v);

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(authorize.toString());
    expect(new URL(page.url()).host).toBe("login.microsoftonline.com");
    await page.getByLabel("Email, phone, or Skype").fill(DEMO.admin.username);
    await page.getByLabel("Password").fill(DEMO.admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("heading", { name: "Permissions requested" }).isVisible()).resolves.toBe(true);
    await Promise.all([page.waitForURL((u) => u.toString().startsWith(redirectUri)), page.getByRole("button", { name: "Accept" }).click()]);
    const session = (await context.cookies("https://login.microsoftonline.com")).find((c) => c.name === "orgbox_session");
    expect(session).toMatchObject({ domain: "login.microsoftonline.com", secure: true, httpOnly: true });
    const returned = new URL(page.url());
    expect(returned.searchParams.get("state")).toBe("s-1");
    const code = returned.searchParams.get("code") as string;

    const curl = async (...args: string[]) => JSON.parse((await run("curl", ["-sS", "--proxy", o.proxyUrl as string, "--cacert", o.caCertPath as string, ...args], { env: CLEAN_ENV })).stdout) as Record<string, unknown>;
    const form = new URLSearchParams({ grant_type: "authorization_code", client_id: WEB_APP, client_secret: secret, code, redirect_uri: redirectUri, code_verifier: pkce.verifier, scope });
    const tokens = await curl("-d", form.toString(), `https://login.microsoftonline.com/${DEMO.tenantId}/oauth2/v2.0/token`);
    const access = tokens.access_token as string;
    expect(JSON.parse(Buffer.from(access.split(".")[1] as string, "base64url").toString())).toMatchObject({ iss: `https://sts.windows.net/${DEMO.tenantId}/`, aud: "https://contoso.crm.dynamics.com", scp: "user_impersonation", oid: DEMO.admin.id });
    const idToken = JSON.parse(Buffer.from((tokens.id_token as string).split(".")[1] as string, "base64url").toString()) as Record<string, unknown>;
    expect(idToken).toMatchObject({ iss: `https://login.microsoftonline.com/${DEMO.tenantId}/v2.0`, aud: WEB_APP });
    const who = await curl("-H", `authorization: Bearer ${access}`, "https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI");
    expect(who).toMatchObject({ UserId: DEMO.org.adminSystemUserId, "@odata.context": "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse" });
    await context.close();
  });
});
