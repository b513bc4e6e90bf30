import { newGuid } from "../common/ids.ts";
import { clientCredentialsGrant } from "./grants/client-credentials.ts";
import type { GrantContext } from "./grants/grant.ts";
import { assignedAppRoles } from "./consent.ts";
import type { Application, AppRoleAssignment } from "./model.ts";
import { DirectoryError } from "./service.ts";
import { FIRST_PARTY_TENANT_ID, MICROSOFT_GRAPH_APP_ID } from "./well-known.ts";

/** Client id of orgbox's own management app, "orgbox CLI" (a first-party app of orgbox, not of Microsoft). */
export const ORGBOX_CLI_APP_ID = "0b6f7e3c-5a1d-4c2e-9f80-0000000c11a0";

/** The Graph resource a management token is for (`aud`). */
const GRAPH_RESOURCE = "https://graph.microsoft.com";

/**
 * "orgbox CLI": a multi-tenant app owned by the first-party tenant, so it cannot be deleted from a
 * tenant's directory; it has no credentials (its tokens are minted only through {@link managementToken},
 * behind the admin key) and gets a service principal in a tenant on first use.
 */
const ORGBOX_CLI_APP: Application = {
  id: "a3f5b0a6-6d1c-4d0c-9d0e-0000000c11a0",
  appId: ORGBOX_CLI_APP_ID,
  tenantId: FIRST_PARTY_TENANT_ID,
  displayName: "orgbox CLI",
  signInAudience: "AzureADMultipleOrgs",
  identifierUris: [],
  publisherDomain: "orgbox.local",
  web: { redirectUris: [] },
  spa: { redirectUris: [] },
  publicClient: { redirectUris: [] },
  isFallbackPublicClient: false,
  requiredResourceAccess: [],
  appRoles: [],
  api: { oauth2PermissionScopes: [] },
};

/** An access token of the management principal (shape of the v2 token endpoint's answer). */
export interface ManagementToken {
  accessToken: string;
  /** Lifetime, seconds. */
  expiresIn: number;
  tenantId: string;
}

/**
 * A Microsoft Graph access token for the "orgbox CLI" service principal of a tenant, for the admin
 * endpoint `POST /_orgbox/graph-token`. Idempotently ensures (in the store, so the same on SQLite and
 * PostgreSQL) the app, its service principal in the tenant, and app role assignments of every Microsoft
 * Graph application permission orgbox knows except `Application.ReadWrite.OwnedBy`; then issues the token
 * with the client-credentials grant's own `issue` (same claims, signer and lifetime as
 * `grant_type=client_credentials` with `scope=https://graph.microsoft.com/.default`, `appidacr` "1").
 * @param tenantIdOrDomain the tenant's id or one of its domains.
 * @param resource the token's resource (default Microsoft Graph); an org URL gives a Web API token of the
 *   principal (the org must have an application user for {@link ORGBOX_CLI_APP_ID}, which the server ensures).
 * @throws DirectoryError 404 when there is no such tenant, 403 when the tenant's orgbox CLI service principal
 *   is disabled; AadError when the resource is unknown in it.
 */
export async function managementToken(ctx: GrantContext, tenantIdOrDomain: string, resource: string = GRAPH_RESOURCE): Promise<ManagementToken> {
  const { store, clock } = ctx;
  const tenant = await store.findTenant(tenantIdOrDomain);
  if (!tenant) throw new DirectoryError(`tenant '${tenantIdOrDomain}' does not exist`, 404);
  let app = await store.findApplicationByAppId(ORGBOX_CLI_APP_ID);
  if (!app) {
    await store.createApplication(ORGBOX_CLI_APP, clock.now());
    app = ORGBOX_CLI_APP;
  }
  let sp = await store.findServicePrincipal(tenant.id, ORGBOX_CLI_APP_ID);
  if (!sp) {
    sp = { id: newGuid(), tenantId: tenant.id, appId: app.appId, displayName: app.displayName, appOwnerOrganizationId: FIRST_PARTY_TENANT_ID, appRoleAssignmentRequired: false, accountEnabled: true };
    await store.createServicePrincipal(sp, clock.now());
  }
  // An admin who disabled the principal (Enterprise applications › Properties, or Graph PATCH accountEnabled) turned the CLI off for this tenant.
  if (sp.accountEnabled === false) throw new DirectoryError(`the orgbox CLI service principal of tenant '${tenant.defaultDomain}' is disabled (accountEnabled false): enable it with PATCH servicePrincipals(appId='${ORGBOX_CLI_APP_ID}') {"accountEnabled": true}`, 403);
  const graph = await store.findApplicationByAppId(MICROSOFT_GRAPH_APP_ID);
  const graphSp = await store.findServicePrincipal(tenant.id, MICROSOFT_GRAPH_APP_ID);
  if (!graph || !graphSp) throw new DirectoryError(`tenant '${tenant.defaultDomain}' has no Microsoft Graph service principal`, 404);
  const held = new Set(await assignedAppRoles(store, sp.id, graphSp.id, graph));
  for (const role of graph.appRoles) {
    if (held.has(role.value) || role.value === "Application.ReadWrite.OwnedBy" || !role.allowedMemberTypes.includes("Application")) continue;
    const assignment: AppRoleAssignment = { id: newGuid(), tenantId: tenant.id, principalId: sp.id, resourceId: graphSp.id, appRoleId: role.id, principalType: "ServicePrincipal" };
    await store.addAppRoleAssignment(assignment, clock.now());
  }
  const body = await clientCredentialsGrant.issue(
    { version: 2, tenant: { kind: "tenant", tenant, segment: tenant.id }, form: { scope: `${resource}/.default` }, authorization: undefined },
    ctx,
    { tenant, state: { requested: resource } },
    { app, servicePrincipal: sp, clientAuth: "1", publicClient: false },
  );
  return { accessToken: String(body.access_token), expiresIn: Number(body.expires_in), tenantId: tenant.id };
}
