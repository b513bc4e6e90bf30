/**
 * Provisioning an application user over the Web API (reference §3, seed 003) with the real
 * dynamics-web-api client and a System Administrator's delegated (ROPC) token: root business
 * unit, POST systemusers with applicationid (directory columns filled by the server), N:N role
 * association; a custom role built with roleprivileges_association and AddPrivilegesRole.
 */
import { DynamicsWebApi } from "dynamics-web-api";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { api, clientToken } from "../helpers/security.ts";

const ADMIN_CLIENT = "c0de0000-0000-4000-8000-0000000e5e01";
const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Rows = { value: Record<string, unknown>[] };

describe("application user provisioning over the Web API", () => {
  const orgbox = useOrgbox();
  let adminToken = "";
  let dwa: DynamicsWebApi;
  let rootBu = "";

  beforeAll(async () => {
    const o = orgbox();
    await o.identity.service.registerApplication({ tenantId: DEMO.tenantId, appId: ADMIN_CLIENT, displayName: "Provisioning script", isFallbackPublicClient: true, publicClientRedirectUris: ["http://localhost"] });
    await o.identity.service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: ADMIN_CLIENT, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
    const res = await fetch(`${o.authority}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "password", client_id: ADMIN_CLIENT, username: DEMO.admin.username, password: DEMO.admin.password, scope: `${o.orgUrl}/user_impersonation` }) });
    adminToken = ((await res.json()) as { access_token: string }).access_token;
    dwa = new DynamicsWebApi({ serverUrl: `${o.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => adminToken });
    // (a) the root business unit
    const units = await dwa.retrieveMultiple<{ businessunitid: string }>({ collection: "businessunits", select: ["businessunitid"], filter: "_parentbusinessunitid_value eq null" });
    expect(units.value).toHaveLength(1);
    rootBu = units.value[0]?.businessunitid as string;
    expect(rootBu).toBe(DEMO.org.rootBusinessUnitId);
  });

  async function newApp(name: string): Promise<{ appId: string; secret: string; spId: string }> {
    const o = orgbox();
    const { application, servicePrincipal } = await o.identity.service.registerApplication({ tenantId: DEMO.tenantId, displayName: name });
    const secret = await o.identity.service.addPassword({ appId: application.appId });
    return { appId: application.appId, secret: secret.secretText, spId: servicePrincipal.id };
  }

  async function createAppUser(appId: string): Promise<string> {
    return dwa.create<Record<string, unknown>, string>({ collection: "systemusers", data: { accessmode: 4, "businessunitid@odata.bind": `/businessunits(${rootBu})`, applicationid: appId, isdisabled: false } });
  }

  it("(b) POST systemusers fills applicationiduri and azureactivedirectoryobjectid; (c) the role association lets the app in; disassociating locks it out", async () => {
    const o = orgbox();
    const app = await newApp("Provisioned integration");
    const userId = await createAppUser(app.appId);
    expect(userId).toMatch(GUID_RE);
    const user = await dwa.retrieve<Record<string, unknown>>({ collection: "systemusers", key: userId, select: ["applicationid", "applicationiduri", "azureactivedirectoryobjectid", "accessmode", "isdisabled", "fullname", "_businessunitid_value"] });
    expect(user).toMatchObject({ applicationid: app.appId, azureactivedirectoryobjectid: app.spId, accessmode: 4, isdisabled: false, fullname: "# Provisioned integration", _businessunitid_value: rootBu });
    expect(user).toHaveProperty("applicationiduri");

    // Without a role the app's token is refused.
    const appToken = await clientToken(o, app.appId, app.secret);
    const noRole = await api(o, appToken, "GET", "accounts?$top=1");
    expect(noRole.status).toBe(403);
    expect(noRole.body.error?.code).toBe("0x80042f09");

    await dwa.associate({ collection: "systemusers", primaryKey: userId, relationshipName: "systemuserroles_association", relatedCollection: "roles", relatedKey: DEMO.org.integrationRoleId });
    const roles = await api(o, adminToken, "GET", `systemusers(${userId})/systemuserroles_association?$select=name`);
    expect(roles.status).toBe(200);
    expect((roles.body as unknown as Rows).value.map((r) => r.name)).toEqual(["orgbox Demo Integration"]);
    const accounts = await api(o, appToken, "GET", "accounts?$select=name&$count=true");
    expect(accounts.status).toBe(200);
    expect(accounts.body["@odata.count"]).toBeGreaterThanOrEqual(20);

    // The same association twice is refused.
    const again = await api(o, adminToken, "POST", `systemusers(${userId})/systemuserroles_association/$ref`, { "@odata.id": `${o.apiUrl}/roles(${DEMO.org.integrationRoleId})` });
    expect(again.status).toBe(412);
    expect(again.body.error?.code).toBe("0x80040237");

    await dwa.disassociate({ collection: "systemusers", primaryKey: userId, relationshipName: "systemuserroles_association", relatedKey: DEMO.org.integrationRoleId });
    const after = await api(o, appToken, "GET", "accounts?$top=1");
    expect(after.status).toBe(403);
    expect(after.body.error?.code).toBe("0x80042f09");
  });

  it("refuses an app without a service principal in the org's tenant, a second user for one app, and read-only columns", async () => {
    const o = orgbox();
    const other = await o.identity.service.createTenant({ displayName: "Fabrikam", defaultDomain: "fabrikam-prov.onmicrosoft.com" });
    const { application } = await o.identity.service.registerApplication({ tenantId: other.id, displayName: "Foreign app" });
    const foreign = await api(o, adminToken, "POST", "systemusers", { accessmode: 4, "businessunitid@odata.bind": `/businessunits(${rootBu})`, applicationid: application.appId, isdisabled: false });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error?.code).toBe("0x80040203");
    expect(foreign.body.error?.message).toContain(`The application '${application.appId}' has no service principal in the tenant of this organization`);

    const app = await newApp("Only once");
    await createAppUser(app.appId);
    const twice = await api(o, adminToken, "POST", "systemusers", { accessmode: 4, "businessunitid@odata.bind": `/businessunits(${rootBu})`, applicationid: app.appId });
    expect(twice.status).toBe(412);
    expect(twice.body.error?.message).toContain("already has an application user");

    const readOnly = await api(o, adminToken, "POST", "systemusers", { "businessunitid@odata.bind": `/businessunits(${rootBu})`, applicationid: (await newApp("Read-only")).appId, azureactivedirectoryobjectid: "00000000-0000-0000-0000-000000000001" });
    expect(readOnly.status).toBe(400);
    expect(readOnly.body.error?.message).toContain("azureactivedirectoryobjectid");
  });

  it("the demo app (no prvCreateUser / prvAppendUser) cannot provision users or assign roles", async () => {
    const o = orgbox();
    const demo = await clientToken(o, DEMO.app.clientId, DEMO.app.clientSecret);
    const create = await api(o, demo, "POST", "systemusers", { "businessunitid@odata.bind": `/businessunits(${rootBu})`, applicationid: (await newApp("Refused")).appId });
    expect(create.status).toBe(403);
    expect(create.body.error?.message).toContain("is missing prvCreateUser privilege");
    const assign = await api(o, demo, "POST", `systemusers(${DEMO.org.applicationUserId})/systemuserroles_association/$ref`, { "@odata.id": `${o.apiUrl}/roles(${DEMO.org.integrationRoleId})` });
    expect(assign.status).toBe(403);
    expect(assign.body.error?.code).toBe("0x80040220");
  });

  it("N:N $ref errors: unknown role (404), wrong type (400), unknown relationship segment (404), method (405)", async () => {
    const o = orgbox();
    const base = `systemusers(${DEMO.org.applicationUserId})/systemuserroles_association`;
    const missing = await api(o, adminToken, "POST", `${base}/$ref`, { "@odata.id": `${o.apiUrl}/roles(00000000-0000-4000-8000-000000000999)` });
    expect(missing.status).toBe(404);
    expect(missing.body.error?.code).toBe("0x80040217");
    const wrongType = await api(o, adminToken, "POST", `${base}/$ref`, { "@odata.id": `${o.apiUrl}/accounts(c0de0001-0000-4000-8000-000000000001)` });
    expect(wrongType.status).toBe(400);
    expect((await api(o, adminToken, "POST", `${base}/$ref`, {})).status).toBe(400);
    expect((await api(o, adminToken, "DELETE", `${base}/$ref`)).status).toBe(400);
    expect((await api(o, adminToken, "PATCH", `${base}/$ref`, {})).status).toBe(405);
    expect((await api(o, adminToken, "GET", `systemusers(${DEMO.org.applicationUserId})/nosuch_association`)).status).toBe(404);
  });

  it("custom roles: POST roles, roleprivileges_association (Basic), AddPrivilegesRole (Global), RetrieveUserPrivileges", async () => {
    const o = orgbox();
    const roleId = await dwa.create<Record<string, unknown>, string>({ collection: "roles", data: { name: "Web API account reader", "businessunitid@odata.bind": `/businessunits(${rootBu})` } });
    const [privilege] = (await dwa.retrieveMultiple<{ privilegeid: string }>({ collection: "privileges", select: ["privilegeid"], filter: "name eq 'prvReadAccount'" })).value;
    await dwa.associate({ collection: "roles", primaryKey: roleId, relationshipName: "roleprivileges_association", relatedCollection: "privileges", relatedKey: privilege?.privilegeid as string });

    const app = await newApp("Custom role app");
    const userId = await createAppUser(app.appId);
    await dwa.associate({ collection: "systemusers", primaryKey: userId, relationshipName: "systemuserroles_association", relatedCollection: "roles", relatedKey: roleId });
    const token = await clientToken(o, app.appId, app.secret);
    // Basic: the app owns no account.
    expect((await api(o, token, "GET", "accounts?$select=name")).body.value).toEqual([]);
    const basic = await dwa.callFunction<{ RolePrivileges: Record<string, unknown>[] }>({ name: "Microsoft.Dynamics.CRM.RetrieveUserPrivileges", collection: "systemusers", key: userId });
    expect(basic.RolePrivileges).toEqual([{ Depth: "Basic", PrivilegeId: privilege?.privilegeid, BusinessUnitId: rootBu, PrivilegeName: "prvReadAccount" }]);

    await dwa.callAction({ actionName: "Microsoft.Dynamics.CRM.AddPrivilegesRole", collection: "roles", key: roleId, action: { Privileges: [{ PrivilegeId: privilege?.privilegeid, Depth: "Global", BusinessUnitId: rootBu }] } });
    expect(((await api(o, token, "GET", "accounts?$select=name")).body.value as unknown[]).length).toBeGreaterThanOrEqual(20);
    const global = await api(o, adminToken, "GET", `systemusers(${userId})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`);
    expect(global.body.RolePrivileges).toEqual([{ Depth: "Global", PrivilegeId: privilege?.privilegeid, BusinessUnitId: rootBu, PrivilegeName: "prvReadAccount" }]);

    const bad = await api(o, adminToken, "POST", `roles(${roleId})/Microsoft.Dynamics.CRM.AddPrivilegesRole`, { Privileges: [{ PrivilegeId: privilege?.privilegeid, Depth: "Everywhere" }] });
    expect(bad.status).toBe(400);
    const orgOwned = (await api(o, adminToken, "GET", "privileges?$select=privilegeid&$filter=name eq 'prvReadTransactionCurrency'")).body.value as { privilegeid: string }[];
    const notBasic = await api(o, adminToken, "POST", `roles(${roleId})/Microsoft.Dynamics.CRM.AddPrivilegesRole`, { Privileges: [{ PrivilegeId: orgOwned[0]?.privilegeid, Depth: "Basic" }] });
    expect(notBasic.status).toBe(400);
    expect(notBasic.body.error?.message).toContain("cannot be given at Basic depth");
    expect((await api(o, adminToken, "GET", `roles(${roleId})/Microsoft.Dynamics.CRM.AddPrivilegesRole`)).status).toBe(405);
    expect((await api(o, token, "POST", `roles(${roleId})/Microsoft.Dynamics.CRM.AddPrivilegesRole`, { Privileges: [] })).status).toBe(400);
  });
});
