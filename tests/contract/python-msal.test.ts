/**
 * Python msal (Debian's python3-msal, unmodified) against orgbox: seed 004's
 * client-credentials flow, then a Web API read. `.ci/run` installs python3-msal.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { DEMO, startOrgbox } from "../../src/index.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const run = promisify(execFile);
const SCRIPT = resolve(import.meta.dirname, "python/s2s.py");
const ROPC_SCRIPT = resolve(import.meta.dirname, "python/ropc.py");
const PYTHON = "/usr/bin/python3";
/** As the README says: requests lets REQUESTS_CA_BUNDLE override a session's `verify=`, so set it. */
const pythonEnv = (ca: string) => ({ env: { ...process.env, REQUESTS_CA_BUNDLE: ca } });

describe("Python msal", () => {
  const orgbox = useOrgbox();

  it("is installed (python3-msal from Debian)", async () => {
    expect(existsSync(PYTHON), "install with: apt-get install -y python3-msal").toBe(true);
    const { stdout } = await run(PYTHON, ["-c", "import msal; print(msal.__version__)"]);
    expect(stdout.trim()).toMatch(/^\d+\.\d+/);
  });

  it("acquire_token_for_client with instance_discovery=False, then reads leads", async () => {
    const o = orgbox();
    const { stdout } = await run(PYTHON, [SCRIPT, o.authority, o.demo.clientId, o.demo.clientSecret, o.orgUrl, o.caCertPath as string], pythonEnv(o.caCertPath as string));
    expect(JSON.parse(stdout)).toEqual({ token_type: "Bearer", error: null, error_codes: null, status: 200, rows: 24 });
  });

  it("reports the AADSTS code of a wrong secret", async () => {
    const o = orgbox();
    const { stdout } = await run(PYTHON, [SCRIPT, o.authority, o.demo.clientId, "wrong", o.orgUrl, o.caCertPath as string], pythonEnv(o.caCertPath as string));
    expect(JSON.parse(stdout)).toMatchObject({ error: "invalid_client", error_codes: [7000215] });
  });

  // msal asks user realm discovery on port 443 whatever the authority's port, so this runs where an
  // orgbox can listen on 443 (CI runs as root), and is skipped where it cannot.
  it("acquire_token_by_username_password against orgbox on port 443: user realm says Managed, the token reads WhoAmI as the user", async (ctx) => {
    let o;
    try {
      o = await startOrgbox({ port: 443 });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "EACCES" || code === "EADDRINUSE") return ctx.skip();
      throw error;
    }
    try {
      const app = "c0de0000-0000-4000-8000-0000000e2e31";
      await o.identity.service.registerApplication({ tenantId: DEMO.tenantId, appId: app, displayName: "Python ROPC client", isFallbackPublicClient: true, publicClientRedirectUris: ["http://localhost"] });
      await o.identity.service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: app, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
      const args = (password: string) => [ROPC_SCRIPT, o.authority, app, DEMO.admin.username, password, o.orgUrl, o.caCertPath as string];
      const signedIn = await run(PYTHON, args(DEMO.admin.password), pythonEnv(o.caCertPath as string));
      expect(JSON.parse(signedIn.stdout)).toEqual({ token_type: "Bearer", error: null, error_codes: null, status: 200, userId: DEMO.org.adminSystemUserId });
      const wrong = await run(PYTHON, args("wrong"), pythonEnv(o.caCertPath as string));
      expect(JSON.parse(wrong.stdout)).toMatchObject({ error: "invalid_grant", error_codes: [50126] });
    } finally {
      await o.close();
    }
  });
});
