import { ConfidentialClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import type { Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { GLOBAL_ADMINISTRATOR_ROLE } from "../../src/identity/index.ts";
import { DEMO } from "../../src/server/demo.ts";
import { useChromium } from "../helpers/chromium.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { expectAccessible, portalSignIn, shot } from "../helpers/portal.ts";

const FABRIKAM = { id: "fab00000-0000-4000-8000-0000000000f3", domain: "fabrikam.onmicrosoft.com", displayName: "Fabrikam" };
const FAB_ADMIN = { username: "admin@fabrikam.onmicrosoft.com", password: "fabrikam-Admin-1" };

/**
 * Seed 003 ("Use Multi-Tenant Server-to-server authentication") clicked through the portal: a
 * multi-tenant app registered in Contoso (tenant A) with an Application ID URI and a secret;
 * Fabrikam's (tenant B) administrator consents; in Fabrikam's org, a custom security role built in
 * the role editor and New app user with it; then client credentials read what the role allows and
 * nothing else.
 */
describe("portal: seed 003 (multi-tenant S2S) in the browser", () => {
  const orgbox = useOrgbox();
  const chromium = useChromium("/consented");

  beforeAll(async () => {
    const { service } = orgbox().identity;
    await service.createTenant({ id: FABRIKAM.id, displayName: FABRIKAM.displayName, defaultDomain: FABRIKAM.domain });
    const admin = await service.createUser({ tenantId: FABRIKAM.id, userPrincipalName: FAB_ADMIN.username, displayName: "Fabrikam Admin", password: FAB_ADMIN.password, directoryRoles: [GLOBAL_ADMINISTRATOR_ROLE] });
    const dataverse = orgbox().dataverse.service;
    const created = await dataverse.createOrg({ name: "fabrikam", tenantId: FABRIKAM.id, displayName: "Fabrikam" });
    await dataverse.createInteractiveUser(created.org, { objectId: admin.id, businessUnitId: created.rootBusinessUnitId, roleIds: [created.systemAdministratorRoleId] });
  });

  const fabrikamOrgUrl = () => `${orgbox().url}/org/fabrikam`;

  async function newPage(): Promise<Page> {
    const context = await chromium().browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 } });
    return context.newPage();
  }

  it("registers in tenant A, consents in B, builds a role and an app user in B's org; client credentials read only what the role allows", { timeout: 240_000 }, async () => {
    // Tenant A (Contoso): New registration, multi-tenant, with a web redirect URI, an Application ID URI and a secret.
    const a = await newPage();
    await portalSignIn(a, orgbox().url, DEMO.tenantDisplayName, DEMO.admin.username, DEMO.admin.password);
    await a.getByRole("link", { name: "App registrations" }).click();
    await a.getByRole("button", { name: "New registration" }).click();
    await a.getByRole("textbox", { name: /^Name/ }).fill("Contoso ISV connector");
    await a.getByRole("radio", { name: /Accounts in any organizational directory/ }).check();
    await a.getByLabel("Select a platform", { exact: true }).selectOption({ label: "Web" });
    await a.getByLabel("Redirect URI", { exact: true }).fill(chromium().redirectUri);
    await a.getByRole("button", { name: "Register" }).click();
    const clientId = await a.getByRole("textbox", { name: "Application (client) ID" }).inputValue();
    await a.getByRole("navigation", { name: "Manage" }).getByRole("link", { name: "Expose an API" }).click();
    await expect(a.getByLabel("Application ID URI", { exact: true }).inputValue()).resolves.toBe(`api://${clientId}`);
    await a.getByRole("button", { name: "Save", exact: true }).click();
    await a.getByText("Application ID URI saved.").waitFor();
    await expectAccessible(a, "expose an api");
    await a.getByRole("navigation", { name: "Manage" }).getByRole("link", { name: "Certificates & secrets" }).click();
    await a.getByRole("button", { name: "New client secret" }).click();
    await a.getByRole("dialog", { name: "Add a client secret" }).getByLabel("Description").fill("fabrikam");
    await a.getByRole("button", { name: "Add", exact: true }).click();
    const secret = await a.getByRole("textbox", { name: "Value", exact: true }).inputValue();
    await a.context().close();

    // Tenant B's administrator consents (Entra's admin consent page, as in the seed).
    const consent = await newPage();
    const scope = `${fabrikamOrgUrl()}/.default`;
    await consent.goto(`${orgbox().url}/${FABRIKAM.domain}/v2.0/adminconsent?${new URLSearchParams({ client_id: clientId, redirect_uri: chromium().redirectUri, scope, state: "s003" })}`);
    await consent.getByLabel("Email, phone, or Skype").fill(FAB_ADMIN.username);
    await consent.getByLabel("Password").fill(FAB_ADMIN.password);
    await consent.getByRole("button", { name: "Sign in" }).click();
    await Promise.all([consent.waitForURL((u) => u.toString().startsWith(chromium().redirectUri)), consent.getByRole("button", { name: "Accept" }).click()]);
    expect(new URL(consent.url()).searchParams.get("admin_consent")).toBe("True");
    await consent.context().close();

    // Tenant B in the portal: the app is an enterprise application now.
    const b = await newPage();
    await portalSignIn(b, orgbox().url, FABRIKAM.displayName, FAB_ADMIN.username, FAB_ADMIN.password);
    await b.getByRole("navigation", { name: "Portal navigation" }).getByRole("link", { name: "Fabrikam" }).click();
    await b.getByRole("link", { name: "Security roles" }).click();
    await b.getByRole("table", { name: "Security roles" }).waitFor();
    await expectAccessible(b, "security roles");
    await b.getByRole("button", { name: "New role" }).click();
    await b.getByLabel("Role name", { exact: true }).fill("ISV lead reader");
    await b.getByRole("dialog").getByRole("button", { name: "Save" }).click();

    // The role editor: Read on Lead at Organization level.
    await b.getByRole("table", { name: "Privileges" }).waitFor();
    await b.getByLabel("Search tables", { exact: true }).fill("Lead");
    await b.getByLabel("Lead Read", { exact: true }).selectOption({ label: "Organization" });
    await b.getByLabel("Lead Write", { exact: true }).selectOption({ label: "User" });
    await expectAccessible(b, "role editor");
    await b.getByRole("button", { name: "Save", exact: true }).click();
    await b.getByText("Saved 2 change(s).").waitFor();
    await shot(b, "role-editor");
    // Round trip: RetrieveRolePrivilegesRole returns the depths set in the grid, and the reloaded grid shows them.
    const [retrieved] = await Promise.all([b.waitForResponse((r) => r.url().includes("RetrieveRolePrivilegesRole")), b.reload()]);
    const held = ((await retrieved.json()) as { RolePrivileges: { PrivilegeName: string; Depth: string }[] }).RolePrivileges.map((p) => `${p.PrivilegeName}:${p.Depth}`);
    expect(held).toEqual(["prvReadLead:Global", "prvWriteLead:Basic"]);
    await b.getByLabel("Search tables", { exact: true }).fill("Lead");
    await expect(b.getByLabel("Lead Read", { exact: true }).inputValue()).resolves.toBe("4");
    await expect(b.getByLabel("Lead Write", { exact: true }).inputValue()).resolves.toBe("1");
    await b.getByLabel("Lead Write", { exact: true }).selectOption({ label: "None" });
    await b.getByRole("button", { name: "Save", exact: true }).click();
    await b.getByText("Saved 1 change(s).").waitFor();

    // Application users → New app user → the app → Business unit → the custom role.
    await b.getByRole("link", { name: "Settings" }).click();
    await b.getByRole("link", { name: "Application users" }).click();
    await b.getByRole("button", { name: "New app user" }).click();
    const dialog = b.getByRole("dialog", { name: "Create a new app user" });
    await dialog.getByLabel("App", { exact: true }).selectOption({ value: clientId });
    await dialog.getByRole("checkbox", { name: "ISV lead reader" }).check();
    await expectAccessible(b, "new app user");
    await shot(b, "new-app-user");
    await dialog.getByRole("button", { name: "Create" }).click();
    await b.getByRole("dialog").waitFor({ state: "detached" });
    const row = b.getByRole("table", { name: "Application users" }).getByRole("row").filter({ hasText: clientId });
    const sp = await orgbox().identity.service.findServicePrincipal(FABRIKAM.id, clientId);
    await expect(row.textContent()).resolves.toContain(`api://${clientId}`);
    await expect(row.textContent()).resolves.toContain(sp!.id);
    await expectAccessible(b, "application users");
    await shot(b, "application-users");

    // Client credentials into B's org with the values from tenant A's pages: leads yes, accounts no, no writes.
    const cca = new ConfidentialClientApplication({ auth: { clientId, clientSecret: secret, authority: `${orgbox().url}/${FABRIKAM.id}`, knownAuthorities: [new URL(orgbox().url).host] } });
    const result = await cca.acquireTokenByClientCredential({ scopes: [scope] });
    expect(decodeJwt(result!.accessToken)).toMatchObject({ tid: FABRIKAM.id, appid: clientId, oid: sp!.id });
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${fabrikamOrgUrl()}/api/data/v9.2/${path}`, { method, headers: { authorization: `Bearer ${result!.accessToken}`, accept: "application/json", "content-type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
    expect((await call("GET", "leads?$select=subject")).status).toBe(200);
    const accounts = await call("GET", "accounts?$select=name");
    expect(accounts.status).toBe(403);
    expect(((await accounts.json()) as { error: { code: string } }).error.code).toBe("0x80040220");
    expect((await call("POST", "leads", { subject: "written by the ISV" })).status).toBe(403);
  });
});
