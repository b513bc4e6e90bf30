/**
 * Python msal (Debian's python3-msal, unmodified) against orgbox: seed 004's
 * client-credentials flow, then a Web API read. `.ci/run` installs python3-msal.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { useOrgbox } from "../helpers/orgbox.ts";

const run = promisify(execFile);
const SCRIPT = resolve(import.meta.dirname, "python/s2s.py");
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
});
