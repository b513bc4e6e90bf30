import AxeBuilder from "@axe-core/playwright";
import type { Page } from "playwright-core";
import { expect } from "vitest";

/**
 * Signs in to the portal from its landing page: "Sign in" of the tenant row, then orgbox's own sign-in
 * page; waits for the shell's navigation.
 */
export async function portalSignIn(page: Page, url: string, tenantName: string, username: string, password: string): Promise<void> {
  await page.goto(`${url}/`);
  await page.getByRole("button", { name: `Sign in to ${tenantName}` }).click();
  await page.getByLabel("Email, phone, or Skype").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Portal navigation" }).waitFor();
}

/**
 * Runs axe-core on the page; fails on any serious or critical violation (named with its nodes).
 * Excluded: Fluent UI's Tabster focus sentinels (`<i tabindex="0" aria-hidden data-tabster-dummy>`), which
 * exist only to catch Tab at a focus group's edge and hand focus on at once (tabster's documented design);
 * axe's aria-hidden-focus rule cannot know that.
 */
export async function expectAccessible(page: Page, name: string): Promise<void> {
  // A dialog that just closed: Fluent takes aria-hidden off #root a moment after it leaves; check the settled page.
  if ((await page.getByRole("dialog").count()) === 0) await page.locator("#root[aria-hidden]").waitFor({ state: "detached" });
  // Fluent fades dialogs and panels in and out: colours measured mid-transition fail color-contrast. Let them finish.
  await page.evaluate("Promise.all(document.getAnimations().map((a) => a.finished.catch(() => undefined)))");
  const results = await new AxeBuilder({ page }).exclude("[data-tabster-dummy]").analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(bad.map((v) => `${name}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`)).toEqual([]);
}

/** A screenshot to /tmp/portal-{name}.png (looked at by hand; not compared). */
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `/tmp/portal-${name}.png`, fullPage: true });
}
