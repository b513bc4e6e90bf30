import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/server/demo.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { expectAccessible, portalSignIn, shot } from "../helpers/portal.ts";

const MEMBER = { username: "member@contoso.onmicrosoft.com", password: "member-Pass-1" };

/**
 * The Entra pages besides app registrations (Enterprise applications, Users, Groups), the Tools, and a
 * member without a directory role: the portal shows Graph's own denial on the page, not a broken page.
 */
describe("portal: enterprise applications, users, groups, tools, and a user without an admin role", () => {
  const orgbox = useOrgbox();
  let browser: Browser;

  beforeAll(async () => {
    await orgbox().identity.service.createUser({ tenantId: DEMO.tenantId, userPrincipalName: MEMBER.username, displayName: "Contoso Member", password: MEMBER.password });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function signedIn(username: string, password: string): Promise<Page> {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await portalSignIn(page, orgbox().url, DEMO.tenantDisplayName, username, password);
    return page;
  }

  it("a member without Global Administrator sees Graph's Authorization_RequestDenied on the page", { timeout: 120_000 }, async () => {
    const page = await signedIn(MEMBER.username, MEMBER.password);
    // Reading is allowed to members.
    await page.getByRole("link", { name: "Users" }).click();
    await page.getByRole("table", { name: "Users" }).getByText(DEMO.admin.username).waitFor();
    // Creating a user needs an admin role: the API's denial is shown as it came.
    await page.getByRole("button", { name: "New user" }).click();
    await page.getByLabel("User principal name", { exact: true }).fill("newbie");
    await page.getByLabel("Display name", { exact: true }).fill("Newbie");
    await page.getByLabel("Password", { exact: true }).fill("newbie-Pass-1");
    await page.getByRole("button", { name: "Create" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toContain("403 Authorization_RequestDenied");
    await expectAccessible(page, "users denied");
    await shot(page, "denied");
    // Changing an app the member does not own: denied too, and the page still works.
    await page.getByRole("link", { name: "App registrations" }).click();
    await page.getByRole("link", { name: DEMO.app.displayName }).click();
    await page.getByRole("navigation", { name: "Manage" }).getByRole("link", { name: "Authentication" }).click();
    await page.getByRole("switch", { name: /Allow public client flows/ }).check();
    await page.getByRole("button", { name: "Save" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toContain("403 Authorization_RequestDenied");
    const app = await orgbox().identity.service.findApplication(DEMO.app.clientId);
    expect(app?.isFallbackPublicClient).toBe(false);
    // Recent denials are for directory readers: the member sees that refusal, too.
    await page.getByRole("link", { name: "Recent denials" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toContain("403 forbidden");
    await page.context().close();
  });

  it("Enterprise applications: Properties (Assignment required), Users and groups → Add assignment, Permissions with revoke", { timeout: 150_000 }, async () => {
    const page = await signedIn(DEMO.admin.username, DEMO.admin.password);
    await page.getByRole("link", { name: "Enterprise applications" }).click();
    await page.getByRole("link", { name: DEMO.app.displayName }).click();
    await page.getByRole("switch", { name: /Assignment required\?/ }).check();
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByText(`Successfully updated ${DEMO.app.displayName} properties.`).waitFor();
    expect((await orgbox().identity.service.findServicePrincipal(DEMO.tenantId, DEMO.app.clientId))?.appRoleAssignmentRequired).toBe(true);
    await expectAccessible(page, "enterprise app properties");

    await page.getByRole("navigation", { name: "Manage" }).getByRole("link", { name: "Users and groups" }).click();
    await page.getByRole("button", { name: "Add user/group" }).click();
    await page.getByRole("dialog", { name: "Add Assignment" }).getByLabel("Users and groups").selectOption({ label: `${DEMO.admin.displayName} (${DEMO.admin.username}) · User` });
    await page.getByRole("button", { name: "Assign" }).click();
    await page.getByRole("table", { name: "Users and groups" }).getByText(DEMO.admin.displayName).waitFor();
    await expectAccessible(page, "users and groups");
    await shot(page, "users-and-groups");

    // Permissions of the Graph admin app: its application permissions, each revocable.
    await page.getByRole("navigation", { name: "Portal navigation" }).getByRole("link", { name: "Enterprise applications" }).click();
    await page.getByRole("link", { name: "orgbox Graph admin" }).click();
    await page.getByRole("navigation", { name: "Manage" }).getByRole("link", { name: "Permissions" }).click();
    const table = page.getByRole("table", { name: "Permissions" });
    await table.getByText("Group.ReadWrite.All", { exact: true }).waitFor();
    await expectAccessible(page, "enterprise app permissions");
    await page.getByRole("button", { name: "Revoke Group.ReadWrite.All" }).click();
    await page.getByRole("button", { name: "Revoke Group.ReadWrite.All" }).waitFor({ state: "detached" });
    await expect(table.textContent()).resolves.toContain("Group.Read.All");
    await page.context().close();
  });

  it("Groups (New group) and Tools (Get a token → Token decoder)", { timeout: 120_000 }, async () => {
    const page = await signedIn(DEMO.admin.username, DEMO.admin.password);
    await page.getByRole("link", { name: "Groups" }).click();
    await page.getByLabel("Group name", { exact: true }).fill("Portal testers");
    await page.getByRole("button", { name: "New group" }).click();
    await page.getByRole("table", { name: "Groups" }).getByText("Portal testers").waitFor();
    await expectAccessible(page, "groups");

    await page.getByRole("link", { name: "Get a token" }).click();
    await page.getByLabel("Application (client) ID", { exact: true }).fill(DEMO.app.clientId);
    await page.getByLabel("Client secret", { exact: true }).fill(DEMO.app.clientSecret);
    await page.getByRole("button", { name: "Get token" }).click();
    const token = await page.getByRole("textbox", { name: "Access token", exact: true }).inputValue();
    expect(token.split(".")).toHaveLength(3);
    await expect(page.getByLabel("Client secret", { exact: true }).inputValue()).resolves.toBe("");
    await expect(page.getByRole("textbox", { name: "curl", exact: true }).inputValue()).resolves.not.toContain(DEMO.app.clientSecret);
    await expectAccessible(page, "get a token");
    await page.getByRole("button", { name: "Open in the token decoder" }).click();
    await page.getByRole("button", { name: "Decode" }).click();
    const checks = page.getByRole("table", { name: "Checks" });
    await checks.waitFor();
    const rows = await checks.getByRole("row").allTextContents();
    expect(rows.find((r) => r.startsWith("Signature"))).toContain("Pass");
    expect(rows.find((r) => r.startsWith("Lifetime"))).toContain("Pass");
    expect(rows.find((r) => r.startsWith("Accepted by"))).toContain(`${orgbox().orgUrl}/api/data/v9.2`);
    await expectAccessible(page, "token decoder");
    await shot(page, "token-decoder");
    // A tampered token fails the signature check.
    const [h, p, s] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    await page.getByLabel("Token (JWT)").fill(`${h}.${Buffer.from(JSON.stringify({ ...claims, roles: ["x"] })).toString("base64url")}.${s}`);
    await page.getByRole("button", { name: "Decode" }).click();
    await expect(checks.getByRole("row").filter({ hasText: "Signature" }).textContent()).resolves.toContain("Fail");

    // Recent denials: the member's refused writes of the first test, with the caller and Graph's reason.
    await page.getByRole("link", { name: "Recent denials" }).click();
    const denials = page.getByRole("table", { name: "Recent denials" });
    await denials.waitFor();
    const row = denials.getByRole("row").filter({ hasText: "POST /graph/v1.0/users" });
    await expect(row.textContent()).resolves.toContain("Authorization_RequestDenied");
    await expect(row.textContent()).resolves.toContain(MEMBER.username);
    await expectAccessible(page, "recent denials");
    await shot(page, "recent-denials");
    await page.context().close();
  });
  /** Presses Tab until the focused element's accessible name is `name` (at most `max` presses). */
  async function tabTo(page: Page, name: string, max = 60): Promise<void> {
    for (let i = 0; i < max; i++) {
      await page.keyboard.press("Tab");
      // Evaluated in the page (a string: the test code has no DOM types): the focused element's label.
      const focused = String(await page.evaluate("(() => { const el = document.activeElement; return (el && (el.getAttribute('aria-label') || (el.labels && el.labels[0] ? el.labels[0].textContent : el.textContent))) || ''; })()"));
      if (focused?.replace(/\s*\*\s*$/, "").trim() === name) return; // a required field's label ends in "*"
    }
    throw new Error(`'${name}' is not reachable with Tab`);
  }

  it("the landing page, the navigation and New registration work with the keyboard alone", { timeout: 120_000 }, async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${orgbox().url}/`);
    await page.getByRole("heading", { name: "Tenants" }).waitFor();
    await tabTo(page, `Sign in to ${DEMO.tenantDisplayName}`);
    await page.keyboard.press("Enter");
    await page.getByLabel("Email, phone, or Skype").fill(DEMO.admin.username);
    await page.getByLabel("Password").fill(DEMO.admin.password);
    await page.keyboard.press("Enter");
    await page.getByRole("navigation", { name: "Portal navigation" }).waitFor();
    await tabTo(page, "App registrations");
    await page.keyboard.press("Enter");
    await page.getByRole("table", { name: "All applications" }).waitFor();
    await tabTo(page, "New registration");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Register an application" }).waitFor();
    await tabTo(page, "Name");
    await page.keyboard.type("Keyboard app");
    await page.keyboard.press("Tab");
    await page.keyboard.press("ArrowDown");
    await expect(page.getByRole("radio", { name: /Accounts in any organizational directory/ }).isChecked()).resolves.toBe(true);
    await tabTo(page, "Register");
    await page.keyboard.press("Enter");
    await page.getByRole("textbox", { name: "Application (client) ID" }).waitFor();
    const apps = await orgbox().identity.service.listApplications(DEMO.tenantId);
    expect(apps.find((a) => a.displayName === "Keyboard app")?.signInAudience).toBe("AzureADMultipleOrgs");
    await context.close();
  });
  it("Power Platform admin: Users, Business units, Teams, Tables (columns, rows with a filter, the Web API's error for a bad one)", { timeout: 120_000 }, async () => {
    const page = await signedIn(DEMO.admin.username, DEMO.admin.password);
    await page.getByRole("navigation", { name: "Portal navigation" }).getByRole("link", { name: "Contoso" }).click();
    await page.getByRole("link", { name: "Users", exact: true }).last().click();
    await page.getByRole("table", { name: "Users" }).getByText(DEMO.admin.username).waitFor();
    await expectAccessible(page, "ppac users");
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByRole("link", { name: "Business units" }).click();
    await page.getByRole("table", { name: "Business units" }).getByText(DEMO.org.rootBusinessUnitId).waitFor();
    await expectAccessible(page, "business units");
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByRole("link", { name: "Teams" }).click();
    const teams = page.getByRole("table", { name: "Teams" });
    await teams.getByText("(default)").first().waitFor();
    expect(await teams.getByRole("row").filter({ hasText: "(default)" }).first().textContent()).toContain("Owner");
    await expectAccessible(page, "teams");
    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByRole("link", { name: "Tables" }).click();
    await page.getByRole("table", { name: "Tables" }).getByRole("link", { name: "Lead", exact: true }).click();
    const rows = page.getByRole("table", { name: "Rows" });
    await rows.waitFor();
    expect(await rows.getByRole("row").count()).toBe(25);
    await page.getByLabel("Filter ($filter)").fill("contains(subject,'(12)')");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => rows.getByRole("row").count()).toBe(2);
    await expectAccessible(page, "table rows");
    await shot(page, "table-rows");
    await page.getByLabel("Filter ($filter)").fill("nosuchcolumn eq 1");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toMatch(/400 0x/);
    await page.context().close();
  });
});
