/**
 * Issue 17: the `error_uri` of every AADSTS error body resolves to a page explaining the code (it was a 404):
 * the code, Entra's meaning and orgbox's hint, with the sign-in pages' security headers. Every code orgbox raises
 * has an entry.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { describe, expect, it } from "vitest";
import { AADSTS_CODES } from "../../src/identity/error-codes.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const IDENTITY = resolve(import.meta.dirname, "../../src/identity");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [join(dir, e.name)] : []));
}

describe("error_uri pages", () => {
  const orgbox = useOrgbox();

  it("a real client's error names a page that explains the code, with the pages' security headers", async () => {
    const client = new ConfidentialClientApplication({ auth: { clientId: orgbox().demo.clientId, clientSecret: "not-the-secret", authority: orgbox().authority, knownAuthorities: [new URL(orgbox().url).host] } });
    const error = await client.acquireTokenByClientCredential({ scopes: [`${orgbox().orgUrl}/.default`] }).then(
      () => undefined,
      (e: unknown) => e as { errorCode?: string; errorMessage?: string },
    );
    expect(error?.errorMessage).toContain("AADSTS7000215");
    // MSAL keeps only the message; the raw body carries error_uri.
    const raw = await fetch(`${orgbox().authority}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: orgbox().demo.clientId, client_secret: "not-the-secret", scope: `${orgbox().orgUrl}/.default` }) });
    const body = (await raw.json()) as { error_uri: string };
    expect(body.error_uri).toBe(`${orgbox().url}/error?code=7000215`);

    const page = await fetch(body.error_uri);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    const html = await page.text();
    expect(html).toContain("AADSTS7000215");
    expect(html).toContain("The client secret is not valid.");
    expect(html).toContain("orgbox secret add --app");
  });

  it("accepts AADSTS-prefixed codes; an unknown, missing or hostile code is a 404 page that escapes what it shows", async () => {
    expect((await fetch(`${orgbox().url}/error?code=AADSTS50126`)).status).toBe(200);
    for (const code of ["1", "", "<script>alert(1)</script>"]) {
      const page = await fetch(`${orgbox().url}/error?code=${encodeURIComponent(code)}`);
      expect(page.status).toBe(404);
      expect(page.headers.get("content-security-policy")).toContain("script-src 'none'");
      expect(await page.text()).not.toContain("<script>");
    }
  });

  it("every AADSTS code raised in src/identity has an entry", () => {
    const raised = new Set<number>();
    for (const file of sources(IDENTITY)) {
      for (const m of readFileSync(file, "utf8").matchAll(/new AadError\(\s*(\d+)/g)) raised.add(Number(m[1]));
    }
    expect(raised.size).toBeGreaterThan(40);
    expect([...raised].filter((c) => !AADSTS_CODES.has(c))).toEqual([]);
  });
});
