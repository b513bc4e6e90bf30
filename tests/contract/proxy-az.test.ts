/**
 * Debian's azure-cli 2.45 (`az`, unmodified), configured by `orgbox env`'s lines only: it validates its authority
 * against login.microsoftonline.com and has no switch to point it elsewhere (before 2.54), so only the proxy lets it
 * sign in to orgbox. Sign-in as a service principal (ARM's subscription list, answered empty), a token for the org's
 * cloud URL, `az rest` to the Web API, and `az ad app list` through Graph at graph.microsoft.com.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { MICROSOFT_GRAPH_APP_ID } from "../../src/identity/index.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { proxiedEnv } from "../helpers/proxy.ts";

const run = promisify(execFile);
const AZ = "/usr/bin/az";

describe("az through orgbox's proxy", () => {
  const orgbox = useOrgbox({ proxy: true, proxyPort: 0 });
  const configDir = mkdtempSync(join(tmpdir(), "orgbox-az-"));
  afterAll(() => rmSync(configDir, { recursive: true, force: true }));

  const az = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    const env = await proxiedEnv(orgbox(), { AZURE_CONFIG_DIR: configDir, AZURE_CORE_COLLECT_TELEMETRY: "false", AZURE_CORE_NO_COLOR: "true", AZURE_CORE_SURVEY_MESSAGE: "false" });
    try {
      const { stdout, stderr } = await run(AZ, args, { env, timeout: 120_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  };

  it("az login --service-principal … --allow-no-subscriptions: a tenant-level account", async () => {
    const o = orgbox();
    const login = await az("login", "--service-principal", "-u", o.demo.clientId, "-p", o.demo.clientSecret, "--tenant", o.tenantId, "--allow-no-subscriptions", "--output", "json");
    expect(login.stderr).not.toMatch(/ERROR/);
    expect(JSON.parse(login.stdout)).toMatchObject([{ tenantId: o.tenantId, name: "N/A(tenant level account)", user: { name: o.demo.clientId, type: "servicePrincipal" } }]);
  }, 180_000);

  it("az account get-access-token --resource https://contoso.crm.dynamics.com", async () => {
    const o = orgbox();
    const result = await az("account", "get-access-token", "--resource", "https://contoso.crm.dynamics.com", "--output", "json");
    expect(result.code, result.stderr).toBe(0);
    const token = (JSON.parse(result.stdout) as { accessToken: string }).accessToken;
    const claims = JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({ iss: `https://sts.windows.net/${o.tenantId}/`, aud: "https://contoso.crm.dynamics.com", appid: o.demo.clientId });
  }, 120_000);

  it("az rest to the Web API's WhoAmI", async () => {
    const result = await az("rest", "--method", "get", "--url", "https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI", "--resource", "https://contoso.crm.dynamics.com");
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ "@odata.context": "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse", UserId: expect.any(String) });
  }, 120_000);

  it("az ad app list: refused without a Graph permission, then lists the tenant's apps once granted", async () => {
    const o = orgbox();
    const refused = await az("ad", "app", "list", "--output", "json");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/Insufficient privileges/);
    await o.identity.service.grantApplicationPermissions({ tenantId: o.tenantId, clientAppId: o.demo.clientId, resourceAppId: MICROSOFT_GRAPH_APP_ID, roles: ["Application.Read.All"] });
    // az caches the Graph token it got before the grant: without it, az asks for a new one, which carries the role.
    rmSync(join(configDir, "msal_token_cache.json"), { force: true });
    const listed = await az("ad", "app", "list", "--output", "json");
    expect(listed.code, listed.stderr).toBe(0);
    const apps = JSON.parse(listed.stdout) as { appId: string }[];
    expect(apps.map((a) => a.appId)).toContain(o.demo.clientId);
  }, 240_000);
});
