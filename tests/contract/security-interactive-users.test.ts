/**
 * Provisioning an interactive user over the Web API with dynamics-web-api: `POST systemusers` with
 * `azureactivedirectoryobjectid` fills the user's names from the org's tenant (as Dataverse syncs them
 * from Entra); the user's own delegated token (msal-node ROPC) is then accepted as that systemuser.
 */
import { PublicClientApplication } from "@azure/msal-node";
import { DynamicsWebApi } from "dynamics-web-api";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { api } from "../helpers/security.ts";

const CLIENT = "c0de0000-0000-4000-8000-0000000e5e11";
const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("interactive user provisioning over the Web API", () => {
  const orgbox = useOrgbox();
  let pca: PublicClientApplication;
  let dwa: DynamicsWebApi;
  let rootBu = "";

  /** A delegated token for the org (msal-node, ROPC). */
  async function userToken(username: string, password: string): Promise<string> {
    const result = await pca.acquireTokenByUsernamePassword({ scopes: [`${orgbox().orgUrl}/user_impersonation`], username, password });
    return result?.accessToken as string;
  }

  beforeAll(async () => {
    const o = orgbox();
    await o.identity.service.registerApplication({ tenantId: DEMO.tenantId, appId: CLIENT, displayName: "User provisioning script", isFallbackPublicClient: true, publicClientRedirectUris: ["http://localhost"] });
    await o.identity.service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: CLIENT, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
    pca = new PublicClientApplication({ auth: { clientId: CLIENT, authority: o.authority, knownAuthorities: [new URL(o.url).host] } });
    const adminToken = await userToken(DEMO.admin.username, DEMO.admin.password);
    dwa = new DynamicsWebApi({ serverUrl: `${o.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => adminToken });
    const units = await dwa.retrieveMultiple<{ businessunitid: string }>({ collection: "businessunits", select: ["businessunitid"], filter: "_parentbusinessunitid_value eq null" });
    rootBu = units.value[0]?.businessunitid as string;
  });

  it("fills domainname, internalemailaddress, firstname, lastname and fullname from the directory; the user's token is then that systemuser", async () => {
    const o = orgbox();
    const password = "Interactive-Pass-1!";
    const user = await o.identity.service.createUser({ tenantId: DEMO.tenantId, userPrincipalName: `grace@${DEMO.tenantDomain}`, displayName: "Grace H.", givenName: "Grace", surname: "Hopper", password });
    const token = await userToken(user.userPrincipalName, password);
    const before = await api(o, token, "GET", "WhoAmI");
    expect(before.status).toBe(403);
    expect(before.body.error?.code).toBe("0x80072560");

    const id = await dwa.create<Record<string, unknown>, string>({ collection: "systemusers", data: { azureactivedirectoryobjectid: user.id.toUpperCase(), "businessunitid@odata.bind": `/businessunits(${rootBu})` } });
    expect(id).toMatch(GUID_RE);
    const row = await dwa.retrieve<Record<string, unknown>>({ collection: "systemusers", key: id, select: ["azureactivedirectoryobjectid", "domainname", "internalemailaddress", "firstname", "lastname", "fullname", "accessmode", "applicationid", "_businessunitid_value"] });
    expect(row).toMatchObject({ azureactivedirectoryobjectid: user.id, domainname: user.userPrincipalName, internalemailaddress: user.userPrincipalName, firstname: "Grace", lastname: "Hopper", fullname: "Grace Hopper", accessmode: 0, applicationid: null, _businessunitid_value: rootBu });

    // No role yet: a member without privileges.
    const noRole = await api(o, token, "GET", "accounts?$top=1");
    expect(noRole.status).toBe(403);
    expect(noRole.body.error?.code).toBe("0x80042f09");
    await dwa.associate({ collection: "systemusers", primaryKey: id, relationshipName: "systemuserroles_association", relatedCollection: "roles", relatedKey: DEMO.org.integrationRoleId });
    const who = new DynamicsWebApi({ serverUrl: `${o.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    expect((await who.callFunction<{ UserId: string }>("WhoAmI")).UserId).toBe(id);
  });

  it("refuses an unknown object id, a user of another tenant, a duplicate, and a change of the object id", async () => {
    const o = orgbox();
    const bind = { "businessunitid@odata.bind": `/businessunits(${rootBu})` };
    const unknown = await api(o, await adminToken(), "POST", "systemusers", { ...bind, azureactivedirectoryobjectid: "0b0e0000-0000-4000-8000-00000000dead" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error?.code).toBe("0x80040203");
    expect(unknown.body.error?.message).toContain("'0b0e0000-0000-4000-8000-00000000dead' does not exist in the Microsoft Entra tenant of this organization");

    const other = await o.identity.service.createTenant({ displayName: "Elsewhere", defaultDomain: "elsewhere-int.onmicrosoft.com" });
    const stranger = await o.identity.service.createUser({ tenantId: other.id, userPrincipalName: "stranger@elsewhere-int.onmicrosoft.com", displayName: "Stranger", password: "Stranger-Pass-1!" });
    const foreign = await api(o, await adminToken(), "POST", "systemusers", { ...bind, azureactivedirectoryobjectid: stranger.id });
    expect(foreign.status).toBe(400);
    expect(foreign.body.error?.code).toBe("0x80040203");

    const user = await o.identity.service.createUser({ tenantId: DEMO.tenantId, userPrincipalName: `ada@${DEMO.tenantDomain}`, displayName: "Ada", password: "Ada-Pass-1!" });
    const first = await api(o, await adminToken(), "POST", "systemusers", { ...bind, azureactivedirectoryobjectid: user.id });
    expect(first.status).toBe(204);
    const created = await dwa.retrieveMultiple<Record<string, unknown>>({ collection: "systemusers", select: ["systemuserid", "fullname", "firstname", "lastname"], filter: `azureactivedirectoryobjectid eq ${user.id}` });
    expect(created.value).toEqual([expect.objectContaining({ fullname: "Ada", firstname: null, lastname: "Ada" })]);
    const twice = await api(o, await adminToken(), "POST", "systemusers", { ...bind, azureactivedirectoryobjectid: user.id });
    expect(twice.status).toBe(412);
    expect(twice.body.error?.message).toContain(`already has a user for the Microsoft Entra object '${user.id}'`);

    const change = await api(o, await adminToken(), "PATCH", `systemusers(${created.value[0]?.systemuserid as string})`, { azureactivedirectoryobjectid: "0b0e0000-0000-4000-8000-00000000beef" });
    expect(change.status).toBe(400);
    expect(change.body.error?.message).toContain("cannot be set on Update");
  });

  async function adminToken(): Promise<string> {
    return userToken(DEMO.admin.username, DEMO.admin.password);
  }
});
