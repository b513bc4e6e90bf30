import type { Clock } from "../common/clock.ts";
import { newGuid } from "../common/ids.ts";
import { BARE_SCOPE_RESOURCE, OIDC_SCOPES, resolveTarget } from "./delegated.ts";
import { aad } from "./errors.ts";
import type { GrantContext } from "./grants/grant.ts";
import type { Application, AppRole, PermissionScope, ServicePrincipal, Tenant } from "./model.ts";
import { newServicePrincipal, recordConsent } from "./service.ts";
import type { AppRoleAssignmentDirectory, IdentityStore, ServicePrincipalDirectory } from "./store.ts";

/** What an admin consent grants on one resource: delegated permissions and application permissions. */
export interface ResourceConsent {
  resourceApp: Application;
  /** The resource's service principal in the consenting tenant. */
  resourceSp: ServicePrincipal;
  /** Delegated permissions → one `AllPrincipals` oauth2PermissionGrant. */
  scopes: PermissionScope[];
  /** Application permissions → one appRoleAssignment each. */
  roles: AppRole[];
}

/**
 * Works out what an admin consent for `clientApp` in `tenant` grants. A
 * `/.default` item (or no `scope`, as on the v1 endpoint) stands for everything
 * statically configured in the app's `requiredResourceAccess` (delegated `Scope`
 * and application `Role` entries); other items name delegated permissions of one
 * resource each. Source: learn.microsoft.com/entra/identity-platform/v2-admin-consent,
 * …/permissions-consent-overview ("the /.default scope").
 * @throws AadError 650052 when a configured resource has no service principal in the tenant,
 *   500011 / 650053 for an unknown resource or permission named in `scope`.
 */
export async function planAdminConsent(ctx: GrantContext, tenant: Tenant, clientApp: Application, scope: string | undefined): Promise<ResourceConsent[]> {
  const items = (scope ?? "/.default").split(/\s+/).filter((s) => s.length > 0 && !OIDC_SCOPES.has(s.toLowerCase()));
  const plan = new Map<string, ResourceConsent>();
  const entry = (resourceApp: Application, resourceSp: ServicePrincipal): ResourceConsent => {
    let found = plan.get(resourceApp.appId);
    if (!found) plan.set(resourceApp.appId, (found = { resourceApp, resourceSp, scopes: [], roles: [] }));
    return found;
  };
  const addUnique = <T extends { id: string }>(list: T[], more: T[]) => {
    for (const item of more) if (!list.some((x) => x.id === item.id)) list.push(item);
  };
  if (items.length === 0 || items.some((s) => s.endsWith("/.default"))) {
    for (const required of clientApp.requiredResourceAccess) {
      const resourceApp = await ctx.store.findApplicationByAppId(required.resourceAppId);
      const resourceSp = resourceApp ? await ctx.store.findServicePrincipal(tenant.id, resourceApp.appId) : undefined;
      if (!resourceApp || !resourceSp) throw aad.serviceNotSubscribed(resourceApp?.displayName ?? required.resourceAppId, tenant.displayName);
      const scopeIds = new Set(required.resourceAccess.filter((a) => a.type === "Scope").map((a) => a.id));
      const roleIds = new Set(required.resourceAccess.filter((a) => a.type === "Role").map((a) => a.id));
      const target = entry(resourceApp, resourceSp);
      addUnique(target.scopes, resourceApp.api.oauth2PermissionScopes.filter((s) => scopeIds.has(s.id)));
      addUnique(target.roles, resourceApp.appRoles.filter((r) => roleIds.has(r.id) && r.allowedMemberTypes.includes("Application")));
    }
  }
  for (const item of items.filter((s) => !s.endsWith("/.default"))) {
    const slash = item.lastIndexOf("/");
    const resolved = await resolveTarget(ctx, tenant, clientApp, slash >= 0 ? item.slice(0, slash) : BARE_SCOPE_RESOURCE, [slash >= 0 ? item.slice(slash + 1) : item]);
    const declared = resolved.resource.app.api.oauth2PermissionScopes.filter((s) => resolved.requested.includes(s.value));
    addUnique(entry(resolved.resource.app, resolved.resourceSp).scopes, declared);
  }
  return [...plan.values()];
}

/**
 * Creates the service principal of `app` in `tenantId` if it has none yet (what
 * consent does for a multi-tenant app: the app appears under Enterprise
 * applications of the consenting tenant). `appOwnerOrganizationId` is the home tenant.
 */
export async function provisionServicePrincipal(store: ServicePrincipalDirectory, clock: Clock, tenantId: string, app: Application): Promise<ServicePrincipal> {
  const existing = await store.findServicePrincipal(tenantId, app.appId);
  if (existing) return existing;
  const sp = newServicePrincipal(app, tenantId);
  await store.createServicePrincipal(sp, clock.now());
  return sp;
}

/**
 * Applies an admin consent: provisions the client's service principal in the
 * tenant, then adds an `AllPrincipals` oauth2PermissionGrant per resource with
 * delegated permissions and an appRoleAssignment per application permission.
 * Idempotent: consenting again merges scopes and skips existing assignments.
 * @returns the client's service principal in the tenant.
 */
export async function applyAdminConsent(store: IdentityStore, clock: Clock, tenantId: string, clientApp: Application, plan: ResourceConsent[]): Promise<ServicePrincipal> {
  const clientSp = await provisionServicePrincipal(store, clock, tenantId, clientApp);
  const now = clock.now();
  for (const part of plan) {
    if (part.scopes.length > 0) await recordConsent(store, now, tenantId, clientSp.id, part.resourceSp.id, part.scopes.map((s) => s.value), null);
    for (const role of part.roles) {
      await store.addAppRoleAssignment({ id: newGuid(), tenantId: tenantId.toLowerCase(), principalId: clientSp.id, resourceId: part.resourceSp.id, appRoleId: role.id }, now);
    }
  }
  return clientSp;
}

/**
 * The `roles` claim of an app-only token: values of the resource's app roles
 * assigned to the client's service principal, in the resource's declaration order.
 * Source: learn.microsoft.com/entra/identity-platform/access-token-claims-reference (`roles`).
 */
export async function assignedAppRoles(store: AppRoleAssignmentDirectory, clientSpId: string, resourceSpId: string, resourceApp: Application): Promise<string[]> {
  const assigned = new Set((await store.listAppRoleAssignments(clientSpId, resourceSpId)).map((a) => a.appRoleId.toLowerCase()));
  return resourceApp.appRoles.filter((r) => assigned.has(r.id.toLowerCase())).map((r) => r.value);
}
