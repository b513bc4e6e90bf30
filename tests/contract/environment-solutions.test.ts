/**
 * Environment files may list solution zips: `orgs[].solutions` are imported at start (after the
 * file's tables, before its roles), and application users may hold the solutions' roles.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { zipSync } from "fflate";
import { afterAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { validateEnvironment } from "../../src/environment/load.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/solutions/ContosoProjects");
const TENANT = "5e1f0000-0000-4000-8000-000000000001";
const APP = { appId: "5e1f0000-0000-4000-8000-0000000a0001", secret: "solution-env-secret-1" };

function environment(solutions: string[]): string {
  return `tenants:
  - id: ${TENANT}
    displayName: Solution Tenant
    domains: [solutiontenant.onmicrosoft.com]
apps:
  - appId: ${APP.appId}
    displayName: Project reader
    tenant: solutiontenant.onmicrosoft.com
    secrets:
      - value: ${APP.secret}
orgs:
  - name: projects
    tenant: solutiontenant.onmicrosoft.com
    solutions: [${solutions.join(", ")}]
    applicationUsers:
      - app: Project reader
        roles: [Contoso Project Reader]
`;
}

describe("environment files with solutions", () => {
  const folder = mkdtempSync(join(tmpdir(), "orgbox-env-solutions-"));
  let o: OrgboxInstance | undefined;
  afterAll(async () => {
    await o?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it("imports the listed solution zips at start; the app user holds the solution's role", async () => {
    const files: Record<string, Uint8Array> = {};
    for (const name of readdirSync(FIXTURE)) files[name] = new Uint8Array(readFileSync(join(FIXTURE, name)));
    writeFileSync(join(folder, "ContosoProjects_managed.zip"), zipSync(files));
    writeFileSync(join(folder, "env.orgbox.yaml"), environment(["ContosoProjects_managed.zip"]));
    o = await startOrgbox({ config: join(folder, "env.orgbox.yaml") });
    const res = await fetch(`${o.url}/${TENANT}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: APP.appId, client_secret: APP.secret, scope: `${o.orgUrlOf("projects")}/.default` }) });
    const token = ((await res.json()) as { access_token: string }).access_token;
    const get = (path: string) => fetch(`${o?.orgUrlOf("projects")}/api/data/v9.2/${path}`, { headers: { authorization: `Bearer ${token}`, accept: "application/json" } });
    expect((await get("cts_projects?$select=cts_name")).status).toBe(200);
    expect((await get("contacts")).status).toBe(403);
  });

  it("fails the load naming a missing or unreadable solution file", () => {
    writeFileSync(join(folder, "broken.zip"), "not a zip");
    expect(() => validateEnvironment(parseYaml(environment(["missing.zip"])), "env", folder)).toThrow(/solutions\[0\].*cannot read the solution file missing\.zip/s);
    expect(() => validateEnvironment(parseYaml(environment(["broken.zip"])), "env", folder)).toThrow(/broken\.zip: The import file is invalid/);
  });
});

