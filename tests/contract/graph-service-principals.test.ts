/**
 * Microsoft Graph `servicePrincipals`, `oauth2PermissionGrants` and app role assignments, driven by the
 * real `@microsoft/microsoft-graph-client` and plain fetch, and proven live on identity's token path:
 * seed 003 as Graph calls (a multi-tenant app from Contoso gets a service principal in Fabrikam, an
 * application user in Fabrikam's org over the Web API, then client credentials against that org),
 * `accountEnabled: false` → AADSTS7000112 at once, admin consent through `oauth2PermissionGrants`
 * followed by an msal-node auth-code sign-in without a consent prompt, revocation by delete (the
 * refresh fails), `appRoleAssignmentRequired` with `appRoleAssignedTo`, application permissions through
 * `appRoleAssignments`; and the negative paths (403 by permission and by directory role, tenant
 * isolation 404, bad bodies 400).
 */
import { Client, HTTPMessageHandler, type Context, type Middleware } from "@microsoft/microsoft-graph-client";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO, type OrgboxInstance } from "../../src/index.ts";
import { DYNAMICS_CRM_APP_ID, GLOBAL_ADMINISTRATOR_ROLE, GRAPH_PERMISSIONS, MICROSOFT_GRAPH_APP_ID } from "../../src/identity/index.ts";
import { graph, graphToken, type GraphBody } from "../helpers/graph.ts";
import { useOrgbox } from "../helpers/orgbox.ts";
import { PageSession } from "../helpers/page-session.ts";

const FABRIKAM = "fab00000-0000-4000-8000-0000000005e1";
const FAB_ADMIN = { username: "admin@fabrikam-sp.onmicrosoft.com", password: "fabrikam-Admin-1" };
const FAB_USER = { username: "user@fabrikam-sp.onmicrosoft.com", password: "fabrikam-User-1" };
const FAB_GRAPH_ADMIN = "fab00000-0000-4000-8000-0000000005a1";
const FAB_READER = "fab00000-0000-4000-8000-0000000005a2";
const FAB_DELEGATED = "fab00000-0000-4000-8000-0000000005a3";
const FAB_ASSIGNER = "fab00000-0000-4000-8000-0000000005a4";
const MULTI = "c0de0000-0000-4000-8000-0000000005b1";
const MULTI_WEB = "c0de0000-0000-4000-8000-0000000005b2";
const SINGLE = "c0de0000-0000-4000-8000-0000000005b3";
const REDIRECT = "https://app.example/sp-callback";
const DEFAULT_ROLE = "00000000-0000-0000-0000-000000000000";
const roleId = (value: string): string => GRAPH_PERMISSIONS.find((p) => p.value === value)?.roleId as string;

/** Sets the bearer token (the client's own auth handler only sends tokens to https Graph hosts; orgbox's tests run on http). */
class Bearer implements Middleware {
  private next: Middleware | undefined;
  private readonly token: string;
  constructor(token: string) {
    this.token = token;
  }
  async execute(context: Context): Promise<void> {
    const options = (context.options ??= {});
    const headers = new Headers(options.headers as ConstructorParameters<typeof Headers>[0]);
    headers.set("authorization", `Bearer ${this.token}`);
    options.headers = Object.fromEntries(headers);
    await (this.next as Middleware).execute(context);
  }
  setNext(next: Middleware): void {
    this.next = next;
  }
}

/** The real Microsoft Graph JavaScript client against orgbox's `/graph/v1.0`. */
function graphClient(o: OrgboxInstance, token: string): Client {
  const bearer = new Bearer(token);
  bearer.setNext(new HTTPMessageHandler());
  return Client.initWithMiddleware({ baseUrl: `${o.url}/graph/`, defaultVersion: "v1.0", middleware: bearer });
}

/** A client-credentials token (v2) in `tenant` for `scope`: status and body. */
async function clientCredentials(o: OrgboxInstance, tenant: string, clientId: string, secret: string, scope: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${o.url}/${tenant}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret, scope }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A Web API call to Fabrikam's org. */
async function fabApi(o: OrgboxInstance, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${o.url}/org/fabrikamsp/api/data/v9.2/${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text && (res.headers.get("content-type") ?? "").includes("json") ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** The Graph error of a rejected client call. */
async function graphFailure(call: Promise<unknown>): Promise<{ statusCode: number; code: string; message: string }> {
  try {
    await call;
  } catch (error) {
    const e = error as { statusCode: number; code: string; message: string };
    return { statusCode: e.statusCode, code: e.code, message: e.message };
  }
  throw new Error("the Graph call succeeded");
}

describe("Graph servicePrincipals, oauth2PermissionGrants and appRoleAssignments", () => {
  const orgbox = useOrgbox();
  const secrets: Record<string, string> = {};
  let fabToken = "";
  let orgAdminToken = "";
  let fabUserId = "";
  let fabAdminId = "";

  beforeAll(async () => {
    const o = orgbox();
    const { service } = o.identity;
    await service.createTenant({ id: FABRIKAM, displayName: "Fabrikam", defaultDomain: "fabrikam-sp.onmicrosoft.com" });
    fabAdminId = (await service.createUser({ tenantId: FABRIKAM, userPrincipalName: FAB_ADMIN.username, displayName: "Fabrikam Admin", password: FAB_ADMIN.password, directoryRoles: [GLOBAL_ADMINISTRATOR_ROLE] })).id;
    fabUserId = (await service.createUser({ tenantId: FABRIKAM, userPrincipalName: FAB_USER.username, displayName: "Fabrikam User", password: FAB_USER.password })).id;
    // Fabrikam's Graph admin app (what an admin registers once in the portal), and a reader with Application.Read.All only.
    const graphRoles = ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All", "Directory.Read.All"];
    await service.registerApplication({ tenantId: FABRIKAM, appId: FAB_GRAPH_ADMIN, displayName: "Fabrikam Graph admin" });
    await service.grantApplicationPermissions({ tenantId: FABRIKAM, clientAppId: FAB_GRAPH_ADMIN, resourceAppId: MICROSOFT_GRAPH_APP_ID, roles: graphRoles });
    await service.registerApplication({ tenantId: FABRIKAM, appId: FAB_READER, displayName: "Fabrikam Graph reader" });
    await service.grantApplicationPermissions({ tenantId: FABRIKAM, clientAppId: FAB_READER, resourceAppId: MICROSOFT_GRAPH_APP_ID, roles: ["Application.Read.All"] });
    // An app with AppRoleAssignment.ReadWrite.All but without Application.Read.All (Graph wants both to grant).
    await service.registerApplication({ tenantId: FABRIKAM, appId: FAB_ASSIGNER, displayName: "Fabrikam assigner" });
    await service.grantApplicationPermissions({ tenantId: FABRIKAM, clientAppId: FAB_ASSIGNER, resourceAppId: MICROSOFT_GRAPH_APP_ID, roles: ["AppRoleAssignment.ReadWrite.All"] });
    // A public client with delegated Graph permissions consented for everyone (for delegated callers).
    await service.registerApplication({ tenantId: FABRIKAM, appId: FAB_DELEGATED, displayName: "Fabrikam Graph script", isFallbackPublicClient: true, publicClientRedirectUris: ["http://localhost"] });
    await service.grantConsent({ tenantId: FABRIKAM, clientAppId: FAB_DELEGATED, resourceAppId: MICROSOFT_GRAPH_APP_ID, scopes: ["Application.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All"] });
    // Contoso's apps: two multi-tenant ones and a single-tenant one.
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: MULTI, displayName: "Contoso multi-tenant integration", signInAudience: "AzureADMultipleOrgs" });
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: MULTI_WEB, displayName: "Contoso multi-tenant web app", signInAudience: "AzureADMultipleOrgs", webRedirectUris: [REDIRECT] });
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: SINGLE, displayName: "Contoso single-tenant app" });
    for (const appId of [FAB_GRAPH_ADMIN, FAB_READER, FAB_ASSIGNER, MULTI, MULTI_WEB, SINGLE]) secrets[appId] = (await service.addPassword({ appId })).secretText;
    fabToken = await graphToken(o, FAB_GRAPH_ADMIN, secrets[FAB_GRAPH_ADMIN] as string, FABRIKAM);
    // Fabrikam's org, with the Graph admin app as its bootstrap System Administrator.
    const { org, rootBusinessUnitId, systemAdministratorRoleId } = await o.dataverse.service.createOrg({ name: "fabrikamsp", tenantId: FABRIKAM });
    await o.dataverse.service.createApplicationUser(org, { applicationId: FAB_GRAPH_ADMIN, businessUnitId: rootBusinessUnitId, roleIds: [systemAdministratorRoleId] });
    const admin = await clientCredentials(o, FABRIKAM, FAB_GRAPH_ADMIN, secrets[FAB_GRAPH_ADMIN] as string, `${o.url}/org/fabrikamsp/.default`);
    orgAdminToken = admin.body.access_token as string;
    expect(orgAdminToken).toBeTruthy();
  });

  it("seed 003 as Graph calls: a multi-tenant app from Contoso gets a service principal in Fabrikam, an application user in Fabrikam's org, then client credentials work", async () => {
    const o = orgbox();
    const client = graphClient(o, fabToken);
    const orgScope = `${o.url}/org/fabrikamsp/.default`;
    const before = await clientCredentials(o, FABRIKAM, MULTI, secrets[MULTI] as string, orgScope);
    expect(before.status).toBe(400);
    expect(before.body.error_codes).toEqual([700016]);

    const sp = (await client.api("/servicePrincipals").post({ appId: MULTI })) as Record<string, unknown>;
    expect(sp).toMatchObject({ appId: MULTI, appOwnerOrganizationId: DEMO.tenantId, accountEnabled: true, appRoleAssignmentRequired: false, displayName: "Contoso multi-tenant integration", servicePrincipalType: "Application", signInAudience: "AzureADMultipleOrgs" });
    expect(sp["@odata.context"]).toBe(`${o.url}/graph/v1.0/$metadata#servicePrincipals/$entity`);
    expect((await client.api(`/servicePrincipals(appId='${MULTI}')`).get()).id).toBe(sp.id);
    expect((await client.api(`/servicePrincipals/${sp.id as string}`).select(["id", "accountEnabled"]).get())).toEqual({ "@odata.context": `${o.url}/graph/v1.0/$metadata#servicePrincipals(id,accountEnabled)/$entity`, id: sp.id, accountEnabled: true });
    const listed = (await client.api("/servicePrincipals").filter(`appId eq '${MULTI}'`).get()) as { value: Record<string, unknown>[] };
    expect(listed.value.map((s) => s.id)).toEqual([sp.id]);

    // The application user, over the Web API, with the System Administrator role.
    const user = await fabApi(o, orgAdminToken, "POST", "systemusers", { accessmode: 4, "businessunitid@odata.bind": `/businessunits(${await rootBusinessUnit(o, orgAdminToken)})`, applicationid: MULTI, isdisabled: false });
    expect(user.status).toBe(204);
    const created = await fabApi(o, orgAdminToken, "GET", `systemusers?$filter=applicationid eq ${MULTI}&$select=systemuserid,azureactivedirectoryobjectid`);
    const row = (created.body.value as Record<string, unknown>[])[0] as Record<string, unknown>;
    expect(row.azureactivedirectoryobjectid).toBe(sp.id);
    const roles = await fabApi(o, orgAdminToken, "GET", "roles?$filter=name eq 'System Administrator'&$select=roleid");
    const roleIdValue = ((roles.body.value as Record<string, unknown>[])[0] as Record<string, unknown>).roleid as string;
    expect((await fabApi(o, orgAdminToken, "POST", `systemusers(${row.systemuserid as string})/systemuserroles_association/$ref`, { "@odata.id": `${o.url}/org/fabrikamsp/api/data/v9.2/roles(${roleIdValue})` })).status).toBe(204);

    const after = await clientCredentials(o, FABRIKAM, MULTI, secrets[MULTI] as string, orgScope);
    expect(after.status).toBe(200);
    expect(decodeJwt(after.body.access_token as string)).toMatchObject({ tid: FABRIKAM, appid: MULTI, oid: sp.id });
    const whoAmI = await fabApi(o, after.body.access_token as string, "GET", "WhoAmI");
    expect(whoAmI.status).toBe(200);
    expect(whoAmI.body.UserId).toBe(row.systemuserid);

    // accountEnabled false refuses the next token at once (AADSTS7000112); true lets it in again.
    await client.api(`/servicePrincipals/${sp.id as string}`).patch({ accountEnabled: false });
    const disabled = await clientCredentials(o, FABRIKAM, MULTI, secrets[MULTI] as string, orgScope);
    expect(disabled.status).toBe(400);
    expect(disabled.body).toMatchObject({ error: "unauthorized_client", error_codes: [7000112] });
    expect(disabled.body.error_description).toMatch(/^AADSTS7000112: Application 'c0de0000-0000-4000-8000-0000000005b1'\(Contoso multi-tenant integration\) is disabled\./);
    // Only in Fabrikam: the app's home tenant is unaffected.
    expect((await clientCredentials(o, DEMO.tenantId, MULTI, secrets[MULTI] as string, `${o.orgUrl}/.default`)).status).toBe(200);
    await client.api(`/servicePrincipals(appId='${MULTI}')`).patch({ accountEnabled: true });
    expect((await clientCredentials(o, FABRIKAM, MULTI, secrets[MULTI] as string, orgScope)).status).toBe(200);

    // A second service principal for the same app, a single-tenant app of another tenant and an unknown app are refused.
    expect(await graphFailure(client.api("/servicePrincipals").post({ appId: MULTI }))).toMatchObject({ statusCode: 409, code: "Request_MultipleObjectsWithSameKeyValue" });
    expect(await graphFailure(client.api("/servicePrincipals").post({ appId: SINGLE }))).toMatchObject({ statusCode: 400, code: "Request_BadRequest", message: `The appId '${SINGLE}' of the service principal does not reference a valid application object.` });
    expect(await graphFailure(client.api("/servicePrincipals").post({ appId: "c0de0000-0000-4000-8000-0000000005ff" }))).toMatchObject({ statusCode: 400, code: "Request_BadRequest" });

    // Deleting the service principal takes the app out of Fabrikam at once.
    await client.api(`/servicePrincipals/${sp.id as string}`).delete();
    expect((await clientCredentials(o, FABRIKAM, MULTI, secrets[MULTI] as string, orgScope)).body.error_codes).toEqual([700016]);
    expect(await graphFailure(client.api(`/servicePrincipals/${sp.id as string}`).get())).toMatchObject({ statusCode: 404, code: "Request_ResourceNotFound" });
  });

  it("admin consent through oauth2PermissionGrants: the next msal-node auth-code sign-in has no consent prompt; deleting the grant makes the refresh fail", async () => {
    const o = orgbox();
    const client = graphClient(o, fabToken);
    const sp = (await client.api("/servicePrincipals").post({ appId: MULTI_WEB })) as Record<string, unknown>;
    const crm = (await client.api(`/servicePrincipals(appId='${DYNAMICS_CRM_APP_ID}')`).get()) as Record<string, unknown>;
    const scopes = [`${o.orgUrl}/user_impersonation`];
    const msal = new ConfidentialClientApplication({ auth: { clientId: MULTI_WEB, clientSecret: secrets[MULTI_WEB] as string, authority: `${o.url}/${FABRIKAM}`, knownAuthorities: [new URL(o.url).host] } });

    // Without consent the sign-in stops at the consent page.
    const prompted = new PageSession();
    const consentPage = await prompted.signIn(await prompted.open(await msal.getAuthCodeUrl({ scopes, redirectUri: REDIRECT })), FAB_USER.username, FAB_USER.password);
    expect(consentPage.html).toContain("Permissions requested");

    const grant = (await client.api("/oauth2PermissionGrants").post({ clientId: sp.id, consentType: "AllPrincipals", resourceId: crm.id, scope: "user_impersonation" })) as Record<string, unknown>;
    expect(grant).toMatchObject({ clientId: sp.id, consentType: "AllPrincipals", principalId: null, resourceId: crm.id, scope: "user_impersonation" });
    expect(grant["@odata.context"]).toBe(`${o.url}/graph/v1.0/$metadata#oauth2PermissionGrants/$entity`);
    const filtered = (await client.api("/oauth2PermissionGrants").filter(`clientId eq '${sp.id as string}' and consentType eq 'AllPrincipals'`).get()) as { value: Record<string, unknown>[] };
    expect(filtered.value.map((g) => g.id)).toEqual([grant.id]);
    expect(((await client.api("/oauth2PermissionGrants").filter(`resourceId eq '${crm.id as string}' and principalId eq '${fabUserId}'`).get()) as { value: unknown[] }).value).toEqual([]);
    expect(((await client.api(`/servicePrincipals/${sp.id as string}/oauth2PermissionGrants`).get()) as { value: Record<string, unknown>[] }).value.map((g) => g.id)).toEqual([grant.id]);
    expect(await graphFailure(client.api("/oauth2PermissionGrants").post({ clientId: sp.id, consentType: "AllPrincipals", resourceId: crm.id, scope: "user_impersonation" }))).toMatchObject({ statusCode: 409, code: "Request_MultipleObjectsWithSameKeyValue" });

    // Now the same sign-in goes straight back to the app with a code.
    const browser = new PageSession();
    const back = await browser.signIn(await browser.open(await msal.getAuthCodeUrl({ scopes, redirectUri: REDIRECT, state: "g" })), FAB_USER.username, FAB_USER.password);
    expect(back.status).toBe(302);
    const code = new URL(back.location as string).searchParams.get("code") as string;
    expect(code).toBeTruthy();
    const result = await msal.acquireTokenByCode({ code, scopes, redirectUri: REDIRECT });
    expect(decodeJwt(result.accessToken)).toMatchObject({ tid: FABRIKAM, appid: MULTI_WEB, scp: "user_impersonation", oid: fabUserId });
    const cache = JSON.parse(msal.getTokenCache().serialize()) as { RefreshToken: Record<string, { secret: string }> };
    const refreshToken = (Object.values(cache.RefreshToken)[0] as { secret: string }).secret;
    expect((await msal.acquireTokenByRefreshToken({ refreshToken, scopes }))?.accessToken).toBeTruthy();

    // PATCH scope is stored as sent.
    await client.api(`/oauth2PermissionGrants/${grant.id as string}`).patch({ scope: "user_impersonation  openid" });
    expect((await client.api(`/oauth2PermissionGrants/${grant.id as string}`).get()).scope).toBe("user_impersonation openid");

    // Revoke: the refresh tokens the grant covered stop working.
    await client.api(`/oauth2PermissionGrants/${grant.id as string}`).delete();
    const latest = (Object.values((JSON.parse(msal.getTokenCache().serialize()) as { RefreshToken: Record<string, { secret: string }> }).RefreshToken)[0] as { secret: string }).secret;
    await expect(msal.acquireTokenByRefreshToken({ refreshToken: latest, scopes })).rejects.toMatchObject({ errorCode: "invalid_grant" });
    expect(await graphFailure(client.api(`/oauth2PermissionGrants/${grant.id as string}`).get())).toMatchObject({ statusCode: 404 });
  });

  it("appRoleAssignmentRequired and appRoleAssignedTo apply to the next sign-in; appRoleAssignments become roles in the next app-only token", async () => {
    const o = orgbox();
    const client = graphClient(o, fabToken);
    // The app's service principal in Fabrikam (the previous test may have made it), with consent for everyone.
    const existing = ((await client.api("/servicePrincipals").filter(`appId eq '${MULTI_WEB}'`).get()) as { value: Record<string, unknown>[] }).value[0];
    const sp = existing ?? ((await client.api("/servicePrincipals").post({ appId: MULTI_WEB })) as Record<string, unknown>);
    const crm = (await client.api(`/servicePrincipals(appId='${DYNAMICS_CRM_APP_ID}')`).get()) as Record<string, unknown>;
    await client.api("/oauth2PermissionGrants").post({ clientId: sp.id, consentType: "AllPrincipals", resourceId: crm.id, scope: "user_impersonation" });
    const ropc = () =>
      fetch(`${o.url}/${FABRIKAM}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "password", client_id: MULTI_WEB, client_secret: secrets[MULTI_WEB] as string, username: FAB_USER.username, password: FAB_USER.password, scope: `${o.orgUrl}/user_impersonation` }) }).then(
        async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }),
      );
    expect((await ropc()).status).toBe(200);
    await client.api(`/servicePrincipals/${sp.id as string}`).patch({ appRoleAssignmentRequired: true });
    expect((await ropc()).body.error_codes).toEqual([50105]);

    const assignment = (await client.api(`/servicePrincipals/${sp.id as string}/appRoleAssignedTo`).post({ principalId: fabUserId, resourceId: sp.id, appRoleId: DEFAULT_ROLE })) as Record<string, unknown>;
    expect(assignment).toMatchObject({ principalId: fabUserId, principalType: "User", principalDisplayName: "Fabrikam User", resourceId: sp.id, resourceDisplayName: "Contoso multi-tenant web app", appRoleId: DEFAULT_ROLE });
    expect((await ropc()).status).toBe(200);
    const adminAssignment = (await client.api(`/servicePrincipals/${sp.id as string}/appRoleAssignedTo`).post({ principalId: fabAdminId, resourceId: sp.id, appRoleId: DEFAULT_ROLE })) as Record<string, unknown>;
    // Keyset pages: $top=1 and the @odata.nextLink reach both assignments once.
    const firstPage = await graph(o, fabToken, "GET", `servicePrincipals/${sp.id as string}/appRoleAssignedTo?$top=1&$select=id,principalId`);
    expect(firstPage.body.value).toHaveLength(1);
    const secondPage = await graph(o, fabToken, "GET", firstPage.body["@odata.nextLink"] as string);
    expect([...(firstPage.body.value ?? []), ...(secondPage.body.value ?? [])].map((a) => a.id).sort()).toEqual([assignment.id, adminAssignment.id].sort());
    expect(secondPage.body["@odata.nextLink"]).toBeUndefined();
    await client.api(`/servicePrincipals/${sp.id as string}/appRoleAssignedTo/${adminAssignment.id as string}`).delete();
    const assigned = (await client.api(`/servicePrincipals/${sp.id as string}/appRoleAssignedTo`).get()) as { value: Record<string, unknown>[] };
    expect(assigned.value.map((a) => a.id)).toEqual([assignment.id]);
    expect(await graphFailure(client.api(`/servicePrincipals/${sp.id as string}/appRoleAssignedTo`).post({ principalId: fabUserId, resourceId: sp.id, appRoleId: DEFAULT_ROLE }))).toMatchObject({ statusCode: 400, code: "Request_BadRequest" });
    await client.api(`/servicePrincipals/${sp.id as string}/appRoleAssignedTo/${assignment.id as string}`).delete();
    expect((await ropc()).body.error_codes).toEqual([50105]);
    await client.api(`/servicePrincipals/${sp.id as string}`).patch({ appRoleAssignmentRequired: false });

    // An application permission: Graph's User.Read.All role for the app's service principal in Fabrikam.
    const msGraph = (await client.api(`/servicePrincipals(appId='${MICROSOFT_GRAPH_APP_ID}')`).get()) as Record<string, unknown>;
    const graphScope = "https://graph.microsoft.com/.default";
    const rolesOf = async () => decodeJwt((await clientCredentials(o, FABRIKAM, MULTI_WEB, secrets[MULTI_WEB] as string, graphScope)).body.access_token as string).roles;
    expect(await rolesOf()).toBeUndefined();
    const permission = (await client.api(`/servicePrincipals/${sp.id as string}/appRoleAssignments`).post({ principalId: sp.id, resourceId: msGraph.id, appRoleId: roleId("User.Read.All") })) as Record<string, unknown>;
    expect(permission).toMatchObject({ principalType: "ServicePrincipal", resourceDisplayName: "Microsoft Graph" });
    expect(await rolesOf()).toEqual(["User.Read.All"]);
    expect(((await client.api(`/servicePrincipals/${sp.id as string}/appRoleAssignments`).get()) as { value: Record<string, unknown>[] }).value.map((a) => a.appRoleId)).toEqual([roleId("User.Read.All")]);
    // A delegated-only value or a user role on an app principal is refused.
    expect(await graphFailure(client.api(`/servicePrincipals/${sp.id as string}/appRoleAssignments`).post({ principalId: sp.id, resourceId: msGraph.id, appRoleId: DEFAULT_ROLE }))).toMatchObject({ statusCode: 400 });
    await client.api(`/servicePrincipals/${sp.id as string}/appRoleAssignments/${permission.id as string}`).delete();
    expect(await rolesOf()).toBeUndefined();

    // A disabled app cannot sign users in either: ROPC and the /authorize page answer AADSTS7000112.
    await client.api(`/servicePrincipals/${sp.id as string}`).patch({ accountEnabled: false });
    expect((await ropc()).body.error_codes).toEqual([7000112]);
    const browser = new PageSession();
    const page = await browser.signIn(await browser.open(`${o.url}/${FABRIKAM}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: MULTI_WEB, response_type: "code", redirect_uri: REDIRECT, scope: `${o.orgUrl}/user_impersonation` }).toString()}`), FAB_USER.username, FAB_USER.password);
    expect(page.status).toBe(302);
    const denied = new URL(page.location as string).searchParams;
    expect(page.location?.startsWith(REDIRECT), page.location ?? "").toBe(true);
    expect(denied.get("error")).toBe("unauthorized_client");
    expect(denied.get("error_description")).toMatch(/^AADSTS7000112: /);
    await client.api(`/servicePrincipals/${sp.id as string}`).patch({ accountEnabled: true });
    expect((await ropc()).status).toBe(200);
  });

  it("403 Authorization_RequestDenied: an app without the permission, a delegated user without a directory role", async () => {
    const o = orgbox();
    const reader = await graphToken(o, FAB_READER, secrets[FAB_READER] as string, FABRIKAM);
    expect((await graph(o, reader, "GET", "servicePrincipals")).status).toBe(200);
    const create = await graph(o, reader, "POST", "servicePrincipals", { appId: MULTI });
    expect(create.status).toBe(403);
    expect(create.body.error?.code).toBe("Authorization_RequestDenied");
    expect(create.body.error?.message).toContain("Application.ReadWrite.All");
    const grants = await graph(o, reader, "GET", "oauth2PermissionGrants");
    expect(grants.status).toBe(403);
    expect(grants.body.error?.message).toContain("DelegatedPermissionGrant.ReadWrite.All");
    // Granting an app role needs AppRoleAssignment.ReadWrite.All *and* Application.Read.All (or Directory.Read.All).
    const assigner = await graphToken(o, FAB_ASSIGNER, secrets[FAB_ASSIGNER] as string, FABRIKAM);
    const graphSp = await graph(o, fabToken, "GET", `servicePrincipals(appId='${MICROSOFT_GRAPH_APP_ID}')`);
    const readerSp = await graph(o, fabToken, "GET", `servicePrincipals(appId='${FAB_READER}')`);
    const assign = await graph(o, assigner, "POST", `servicePrincipals/${graphSp.body.id as string}/appRoleAssignedTo`, { principalId: readerSp.body.id, resourceId: graphSp.body.id, appRoleId: roleId("User.Read.All") });
    expect(assign.status).toBe(403);
    expect(assign.body.error?.code).toBe("Authorization_RequestDenied");
    expect(assign.body.error?.message).toContain("also needs one of the Microsoft Graph application permissions Application.Read.All");
    const assigned = await graph(o, fabToken, "POST", `servicePrincipals/${graphSp.body.id as string}/appRoleAssignedTo`, { principalId: readerSp.body.id, resourceId: graphSp.body.id, appRoleId: roleId("User.Read.All") });
    expect(assigned.status).toBe(201);
    expect((await graph(o, assigner, "DELETE", `servicePrincipals/${graphSp.body.id as string}/appRoleAssignedTo/${assigned.body.id as string}`)).status).toBe(204);
    const demoApp = await graphToken(o, DEMO.app.clientId, DEMO.app.clientSecret);
    expect((await graph(o, demoApp, "GET", "servicePrincipals")).body.error?.message).toContain("Application.Read.All");

    const delegated = async (username: string, password: string) => {
      const res = await fetch(`${o.url}/${FABRIKAM}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "password", client_id: FAB_DELEGATED, username, password, scope: "https://graph.microsoft.com/.default" }) });
      return ((await res.json()) as { access_token: string }).access_token;
    };
    const userToken = await delegated(FAB_USER.username, FAB_USER.password);
    const sp = await graph(o, userToken, "GET", `servicePrincipals(appId='${FAB_DELEGATED}')`);
    expect(sp.status).toBe(200);
    const patch = await graph(o, userToken, "PATCH", `servicePrincipals/${sp.body.id as string}`, { appRoleAssignmentRequired: true });
    expect(patch.status).toBe(403);
    expect(patch.body.error?.message).toContain("Cloud Application Administrator");
    const grant = await graph(o, userToken, "POST", "oauth2PermissionGrants", { clientId: sp.body.id, consentType: "AllPrincipals", resourceId: sp.body.id, scope: "x" });
    expect(grant.status).toBe(403);
    expect(grant.body.error?.message).toContain("Privileged Role Administrator");
    const adminToken = await delegated(FAB_ADMIN.username, FAB_ADMIN.password);
    expect((await graph(o, adminToken, "PATCH", `servicePrincipals/${sp.body.id as string}`, { appRoleAssignmentRequired: false })).status).toBe(204);
  });

  it("another tenant's service principals, grants and assignments are 404 / invisible", async () => {
    const o = orgbox();
    const contoso = await graphToken(o);
    const fab = graphClient(o, fabToken);
    const fabSp = (await fab.api(`/servicePrincipals(appId='${FAB_GRAPH_ADMIN}')`).get()) as Record<string, unknown>;
    const crm = (await fab.api(`/servicePrincipals(appId='${DYNAMICS_CRM_APP_ID}')`).get()) as Record<string, unknown>;
    const grant = (await fab.api("/oauth2PermissionGrants").post({ clientId: fabSp.id, consentType: "Principal", principalId: fabUserId, resourceId: crm.id, scope: "user_impersonation" })) as Record<string, unknown>;
    expect(grant).toMatchObject({ consentType: "Principal", principalId: fabUserId });
    for (const path of [`servicePrincipals/${fabSp.id as string}`, `servicePrincipals(appId='${FAB_GRAPH_ADMIN}')`, `oauth2PermissionGrants/${grant.id as string}`, `servicePrincipals/${fabSp.id as string}/appRoleAssignments`]) {
      const res = await graph(o, contoso, "GET", path);
      expect(res.status, path).toBe(404);
      expect(res.body.error?.code, path).toBe("Request_ResourceNotFound");
    }
    expect((await graph(o, contoso, "DELETE", `oauth2PermissionGrants/${grant.id as string}`)).status).toBe(404);
    expect((await graph(o, contoso, "PATCH", `servicePrincipals/${fabSp.id as string}`, { accountEnabled: false })).status).toBe(404);
    expect((await graph(o, contoso, "GET", `servicePrincipals?$filter=id eq '${fabSp.id as string}'`)).body.value).toEqual([]);
    expect((await graph(o, contoso, "GET", `oauth2PermissionGrants?$filter=clientId eq '${fabSp.id as string}'`)).body.value).toEqual([]);
    // Contoso cannot name Fabrikam's objects in its own writes either.
    const contosoDemo = await graph(o, contoso, "GET", `servicePrincipals(appId='${DEMO.app.clientId}')`);
    expect((await graph(o, contoso, "POST", "oauth2PermissionGrants", { clientId: contosoDemo.body.id, consentType: "AllPrincipals", resourceId: crm.id, scope: "x" })).status).toBe(400);
    expect((await graph(o, contoso, "POST", `servicePrincipals/${contosoDemo.body.id as string}/appRoleAssignedTo`, { principalId: fabUserId, resourceId: contosoDemo.body.id, appRoleId: DEFAULT_ROLE })).status).toBe(404);
    await fab.api(`/oauth2PermissionGrants/${grant.id as string}`).delete();
  });

  it("400 Request_BadRequest for bad bodies and keys", async () => {
    const o = orgbox();
    const spId = ((await graph(o, fabToken, "GET", `servicePrincipals(appId='${FAB_GRAPH_ADMIN}')`)).body.id as string);
    const crmId = ((await graph(o, fabToken, "GET", `servicePrincipals(appId='${DYNAMICS_CRM_APP_ID}')`)).body.id as string);
    const bad: [string, string, unknown][] = [
      ["POST", "servicePrincipals", {}],
      ["POST", "servicePrincipals", { appId: 42 }],
      ["POST", "servicePrincipals", { appId: MULTI, tags: ["x"] }],
      ["POST", "servicePrincipals", { appId: MULTI, nonsense: true }],
      ["POST", "servicePrincipals", [1, 2]],
      ["PATCH", `servicePrincipals/${spId}`, { accountEnabled: "no" }],
      ["PATCH", `servicePrincipals/${spId}`, { displayName: "renamed" }],
      ["POST", "oauth2PermissionGrants", { clientId: spId, consentType: "Everyone", resourceId: crmId, scope: "x" }],
      ["POST", "oauth2PermissionGrants", { consentType: "AllPrincipals", resourceId: crmId, scope: "x" }],
      ["POST", "oauth2PermissionGrants", { clientId: "not-a-guid", consentType: "AllPrincipals", resourceId: crmId, scope: "x" }],
      ["POST", "oauth2PermissionGrants", { clientId: spId, consentType: "Principal", resourceId: crmId, scope: "x" }],
      ["POST", "oauth2PermissionGrants", { clientId: spId, consentType: "AllPrincipals", principalId: fabUserId, resourceId: crmId, scope: "x" }],
      ["POST", "oauth2PermissionGrants", { clientId: spId, consentType: "AllPrincipals", resourceId: crmId, scope: 7 }],
      ["POST", "oauth2PermissionGrants", { clientId: spId, consentType: "AllPrincipals", resourceId: "c0de0000-0000-4000-8000-0000000005fe", scope: "x" }],
      ["POST", `servicePrincipals/${spId}/appRoleAssignedTo`, { principalId: fabUserId, resourceId: spId, appRoleId: "c0de0000-0000-4000-8000-0000000005fd" }],
      ["POST", `servicePrincipals/${spId}/appRoleAssignedTo`, { principalId: fabUserId, resourceId: crmId, appRoleId: DEFAULT_ROLE }],
      ["POST", `servicePrincipals/${spId}/appRoleAssignments`, { principalId: spId }],
      ["GET", "servicePrincipals(displayName='x')", undefined],
    ];
    for (const [method, path, body] of bad) {
      const res = await graph(o, fabToken, method, path, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(res.body.error?.code, `${method} ${path}`).toBe("Request_BadRequest");
    }
    const update = await graph(o, fabToken, "PATCH", "oauth2PermissionGrants/c0de0000-0000-4000-8000-0000000005fc", { scope: "x" });
    expect(update.status).toBe(404);
    expect((await graph(o, fabToken, "GET", "servicePrincipals?$filter=tags/any(t:t eq 'x')")).status).toBe(400);
    const unsupported: GraphBody = (await graph(o, fabToken, "GET", "oauth2PermissionGrants?$filter=scope eq 'x'")).body;
    expect(unsupported.error?.code).toBe("Request_UnsupportedQuery");
  });
});

/** The root business unit of Fabrikam's org (over the Web API). */
async function rootBusinessUnit(o: OrgboxInstance, token: string): Promise<string> {
  const units = await fabApi(o, token, "GET", "businessunits?$select=businessunitid&$filter=_parentbusinessunitid_value eq null");
  return ((units.body.value as Record<string, unknown>[])[0] as Record<string, unknown>).businessunitid as string;
}
