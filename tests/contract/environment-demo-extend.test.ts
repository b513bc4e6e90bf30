/**
 * Issue 12: an environment file with `seedDemo: true` extends the demo. It references the demo's
 * tenant (`contoso.onmicrosoft.com`), adds users to it (a `tenants` entry with its domain), adds an
 * app there, and extends the demo org `contoso` (its roles, including `orgbox Demo Integration`,
 * application users, users and rows). Without `seedDemo: true` the same file is refused as before.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamicsWebApi } from "dynamics-web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, loadEnvironmentFile, startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { environmentProblems } from "../helpers/environment.ts";
import { apiGet, demoToken } from "../helpers/orgbox.ts";

const APP = "5eed0000-0000-4000-8000-00000000a001";
const SECRET = "extends-the-demo-secret";
const USER = "5eed0000-0000-4000-8000-000000000101";
const SYSTEMUSER = "5eed0000-0000-4000-8000-00000000d101";

const body = (seedDemo: boolean) => `
seedDemo: ${seedDemo}
tenants:
  - displayName: Contoso
    domains: [contoso.onmicrosoft.com]
    users:
      - id: ${USER}
        userPrincipalName: alex@contoso.onmicrosoft.com
        password: Alex-password-1
apps:
  - appId: ${APP}
    displayName: Extra integration
    tenant: contoso.onmicrosoft.com
    secrets: [{ value: ${SECRET} }]
orgs:
  - name: contoso
    tenant: contoso.onmicrosoft.com
    roles:
      - name: Lead reader
        privileges: { prvReadLead: Global }
    applicationUsers:
      - app: ${APP}
        roles: [orgbox Demo Integration, Lead reader]
    users:
      - user: alex@contoso.onmicrosoft.com
        id: ${SYSTEMUSER}
        roles: [Basic User]
    defaultOwner: ${APP}
    data:
      account:
        - { name: Added by the file, revenue: 5 }
`;

describe("seedDemo: true extends the demo", () => {
  let dir: string;
  let orgbox: OrgboxInstance;
  let token: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "orgbox-extend-demo-"));
    writeFileSync(join(dir, "extend.yaml"), body(true));
    const appOnly = (seedDemo: boolean) => `seedDemo: ${seedDemo}\napps:\n  - { displayName: Only an app, tenant: contoso.onmicrosoft.com }\n`;
    writeFileSync(join(dir, "app-only.yaml"), appOnly(true));
    writeFileSync(join(dir, "standalone.yaml"), appOnly(false));
    writeFileSync(join(dir, "standalone-org.yaml"), body(false));
    writeFileSync(join(dir, "moved.yaml"), body(true).replace("  - name: contoso\n", "  - name: contoso\n    id: 5eed0000-0000-4000-8000-00000000d001\n"));
    orgbox = await startOrgbox({ config: join(dir, "extend.yaml") });
    const res = await fetch(`${orgbox.url}/${DEMO.tenantId}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: APP, client_secret: SECRET, resource: orgbox.orgUrl }) });
    token = ((await res.json()) as { access_token: string }).access_token;
  });
  afterAll(async () => {
    await orgbox?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the file's app signs in to the demo tenant and works in the demo org with the demo role and its own", async () => {
    expect(token).toBeTruthy();
    const api = new DynamicsWebApi({ serverUrl: orgbox.orgUrl, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    const who = await api.callFunction<{ OrganizationId: string; BusinessUnitId: string }>({ name: "WhoAmI" });
    expect(who).toMatchObject({ OrganizationId: DEMO.org.id, BusinessUnitId: DEMO.org.rootBusinessUnitId });
    const accounts = await api.retrieveMultiple<{ name: string }>({ collection: "accounts", select: ["name"] });
    expect(accounts.value).toHaveLength(21); // the 20 demo accounts and the file's
    expect(accounts.value.map((a) => a.name)).toContain("Added by the file");
  });

  it("the demo is intact, and the file's user is a systemuser of the demo org", async () => {
    const demo = await demoToken(orgbox);
    expect((await apiGet(orgbox, demo, "WhoAmI")).body).toMatchObject({ UserId: DEMO.org.applicationUserId });
    expect((await orgbox.identity.service.findUser("alex@contoso.onmicrosoft.com"))?.tenantId).toBe(DEMO.tenantId);
    const admin = await orgbox.identity.service.findUser(DEMO.admin.username);
    expect(admin?.id).toBe(DEMO.admin.id);
    const org = await orgbox.dataverse.service.findOrg("contoso");
    const rows = await orgbox.dataverse.service.listRows(org as NonNullable<typeof org>, "systemuser", { limit: 100 });
    expect(rows.find((r) => r.systemuserid === SYSTEMUSER)).toMatchObject({ azureactivedirectoryobjectid: USER, domainname: "alex@contoso.onmicrosoft.com" });
  });

  it("an app alone may name the demo tenant; without seedDemo: true the demo's tenant and role are unknown; the demo org cannot be moved", () => {
    expect(loadEnvironmentFile(join(dir, "app-only.yaml")).apps[0]?.tenantId).toBe(DEMO.tenantId);
    expect(environmentProblems(join(dir, "standalone.yaml"))).toContainEqual(expect.stringContaining("apps[0].tenant: no tenant 'contoso.onmicrosoft.com' in tenants"));
    expect(environmentProblems(join(dir, "standalone-org.yaml"))).toContainEqual(expect.stringContaining("no role 'orgbox Demo Integration' in this org"));
    expect(environmentProblems(join(dir, "moved.yaml"))).toContainEqual(expect.stringContaining("the demo org (seedDemo: true) has id c0de0000-0000-4000-8000-00000000d001"));
  });
});
