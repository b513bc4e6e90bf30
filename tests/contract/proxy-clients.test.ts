/**
 * Unmodified apps written for the cloud reach orgbox through its proxy, configured by their environment only
 * (the lines `orgbox env` prints): the default authority `https://login.microsoftonline.com/{tenant}`, the org URL
 * `https://contoso.crm.dynamics.com`. Each client runs in a child process with that environment (Node 24 honours
 * HTTPS_PROXY with NODE_USE_ENV_PROXY=1).
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { useOrgbox } from "../helpers/orgbox.ts";
import { proxiedEnv } from "../helpers/proxy.ts";

const run = promisify(execFile);
const dir = resolve(import.meta.dirname, "proxy");
const PYTHON = "/usr/bin/python3";

async function runJson(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const { stdout } = await run(command, args, { env, timeout: 60_000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe("unmodified clients through orgbox's proxy", () => {
  const orgbox = useOrgbox({ proxy: true, proxyPort: 0 });

  it("prints the proxy URL and the cloud org URL", () => {
    const o = orgbox();
    expect(o.proxyUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(o.cloudOrgUrl).toBe("https://contoso.crm.dynamics.com");
  });

  it("msal-node with its default authority, then fetch() to https://contoso.crm.dynamics.com", async () => {
    const o = orgbox();
    const out = await runJson(process.execPath, [resolve(dir, "msal-node.mjs")], await proxiedEnv(o));
    expect(out).toMatchObject({ iss: `https://sts.windows.net/${o.tenantId}/`, aud: "https://contoso.crm.dynamics.com", status: 200 });
    const body = out.body as { "@odata.context": string; value: { subject: string }[] };
    expect(body["@odata.context"]).toBe("https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#leads(subject)");
    expect(body.value.length).toBeGreaterThan(0);
  });

  it("@azure/identity ClientSecretCredential with its defaults", async () => {
    const o = orgbox();
    const out = await runJson(process.execPath, [resolve(dir, "azure-identity.mjs")], await proxiedEnv(o));
    expect(out).toMatchObject({ iss: `https://sts.windows.net/${o.tenantId}/`, aud: "https://contoso.crm.dynamics.com", status: 200 });
    expect((out.body as Record<string, unknown>)["@odata.context"]).toBe("https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse");
  });

  it("adal-node with authority validation on, resource = the cloud org URL", async () => {
    const o = orgbox();
    const out = await runJson(process.execPath, [resolve(dir, "adal-node.mjs")], await proxiedEnv(o));
    expect(out).toMatchObject({ iss: `https://sts.windows.net/${o.tenantId}/`, aud: "https://contoso.crm.dynamics.com", resource: "https://contoso.crm.dynamics.com", status: 200 });
  });

  it("Python msal with default settings, then requests", async () => {
    const o = orgbox();
    const out = await runJson(PYTHON, [resolve(dir, "msal_app.py")], await proxiedEnv(o));
    expect(out).toMatchObject({ iss: `https://sts.windows.net/${o.tenantId}/`, aud: "https://contoso.crm.dynamics.com", status: 200 });
    expect((out.body as Record<string, unknown>)["@odata.context"]).toBe("https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#leads(subject)");
  });

  it("a wrong secret is AADSTS7000215 through the proxy too (Python msal)", async () => {
    const o = orgbox();
    const { stdout } = await run(PYTHON, [resolve(dir, "msal_app.py")], { env: await proxiedEnv(o, { CLIENT_SECRET: "wrong" }) }).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
    expect(JSON.parse(stdout)).toMatchObject({ error: { error: "invalid_client", error_codes: [7000215] } });
  });
});
