/**
 * An org's cloud host name is part of its definition: `{name}.crm.dynamics.com` by default, another (a regional
 * `crm4` host) when the environment file says `hostName`. Through the proxy the org answers there (and at the `api`
 * form), tokens for that URL are issued and accepted, and the default host of a renamed org is not its.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { OrgboxEnvironment } from "../../src/index.ts";
import { environmentProblems } from "../helpers/environment.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { proxiedEnv } from "../helpers/proxy.ts";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
const TENANT = "22220000-0000-4000-8000-000000000001";
const APP = "22220000-0000-4000-8000-00000000a001";
const SECRET = "fabrikam-secret-value";

const ENV: OrgboxEnvironment = {
  tenants: [{ id: TENANT, displayName: "Fabrikam", domains: ["fabrikam.onmicrosoft.com"] }],
  apps: [{ appId: APP, displayName: "Fabrikam Integration", tenant: "fabrikam.onmicrosoft.com", secrets: [{ value: SECRET }] }],
  orgs: [
    { name: "fabrikam", tenant: "fabrikam.onmicrosoft.com", hostName: "fabrikam-emea.crm4.dynamics.com", applicationUsers: [{ app: APP, roles: ["System Administrator"] }] },
    { name: "second", tenant: "fabrikam.onmicrosoft.com", applicationUsers: [{ app: APP, roles: ["System Administrator"] }] },
  ],
};

describe("org host names through the proxy", () => {
  const orgbox = useOrgbox({ proxy: true, proxyPort: 0, environment: ENV });

  const curl = async (...args: string[]) => {
    const o = orgbox();
    const { stdout } = await run("curl", ["-sS", "-w", "\n%{http_code}", ...args], { env: await proxiedEnv(o) });
    const cut = stdout.lastIndexOf("\n");
    return { status: Number(stdout.slice(cut + 1)), json: JSON.parse(stdout.slice(0, cut) || "{}") as Record<string, unknown> };
  };
  const token = async (resource: string) => {
    const r = await curl("-d", new URLSearchParams({ grant_type: "client_credentials", client_id: APP, client_secret: SECRET, scope: `${resource}/.default` }).toString(), `https://login.microsoftonline.com/${TENANT}/oauth2/v2.0/token`);
    return r;
  };

  it("instance URLs name each org's cloud URL", () => {
    expect(orgbox().cloudOrgUrlOf("fabrikam")).toBe("https://fabrikam-emea.crm4.dynamics.com");
    expect(orgbox().cloudOrgUrlOf("second")).toBe("https://second.crm.dynamics.com");
  });

  it("the org answers at its hostName and the api form; its default host is not its", async () => {
    const ok = await token("https://fabrikam-emea.crm4.dynamics.com");
    expect(ok.status).toBe(200);
    const access = ok.json.access_token as string;
    const who = await curl("-H", `authorization: Bearer ${access}`, "https://fabrikam-emea.crm4.dynamics.com/api/data/v9.2/WhoAmI");
    expect(who).toMatchObject({ status: 200, json: { "@odata.context": "https://fabrikam-emea.crm4.dynamics.com/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse" } });
    const api = await curl("-H", `authorization: Bearer ${access}`, "https://fabrikam-emea.api.crm4.dynamics.com/api/data/v9.2/WhoAmI");
    expect(api.status).toBe(200);
    const fallback = await curl("-H", `authorization: Bearer ${access}`, "https://fabrikam.crm.dynamics.com/api/data/v9.2/WhoAmI");
    expect(fallback.status).toBe(404);
    const unknownResource = await token("https://fabrikam.crm.dynamics.com");
    expect(unknownResource.json).toMatchObject({ error: "invalid_resource", error_codes: [500011] });
  });

  it("a token for one org is refused at another (401)", async () => {
    const forFirst = (await token("https://fabrikam-emea.crm4.dynamics.com")).json.access_token as string;
    const atSecond = await curl("-H", `authorization: Bearer ${forFirst}`, "https://second.crm.dynamics.com/api/data/v9.2/WhoAmI");
    expect(atSecond.status).toBe(401);
  });
});

describe("hostName validation", () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-hosts-"));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const base = `tenants:\n  - id: ${TENANT}\n    displayName: Fabrikam\n    domains: [fabrikam.onmicrosoft.com]\norgs:\n`;

  it("refuses a host that is not a Dataverse org host, and two orgs on one host", () => {
    const bad = file("bad.yaml", `${base}  - name: one\n    tenant: fabrikam.onmicrosoft.com\n    hostName: one.example.com\n`);
    expect(environmentProblems(bad)).toEqual([expect.stringMatching(/orgs\[0\]\.hostName: must be a Dataverse org host/)]);
    const clash = file("clash.yaml", `${base}  - name: one\n    tenant: fabrikam.onmicrosoft.com\n  - name: two\n    tenant: fabrikam.onmicrosoft.com\n    hostName: one.crm.dynamics.com\n`);
    expect(environmentProblems(clash)).toEqual([`${clash}: orgs[1].hostName: host name 'one.crm.dynamics.com' is also the host of the org at orgs[0]`]);
  });
});
