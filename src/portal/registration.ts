import { DYNAMICS_CRM_APP_ID, FIRST_PARTY_TENANT_ID, GRAPH_PERMISSIONS, MICROSOFT_GRAPH_APP_ID, type Application, type IdentityService } from "../identity/index.ts";

/** Client id of "orgbox portal", orgbox's own admin portal (a first-party app of orgbox, not of Microsoft). */
export const ORGBOX_PORTAL_APP_ID = "0b6f7e3c-5a1d-4c2e-9f80-00000090a1a1";

/** Dynamics CRM's delegated permission `user_impersonation` (its `oauth2PermissionScopes` id). */
const USER_IMPERSONATION_ID = "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4";

/**
 * The Microsoft Graph delegated permissions the portal asks for: what the Azure portal's Entra blades
 * need (apps, service principals, grants, assignments, users, groups, directory roles). The Graph API
 * still checks the signed-in user's directory role on every write, so a user without one sees Graph's
 * `Authorization_RequestDenied`.
 */
export const PORTAL_GRAPH_SCOPES: readonly string[] = [
  "User.Read",
  "Application.ReadWrite.All",
  "AppRoleAssignment.ReadWrite.All",
  "DelegatedPermissionGrant.ReadWrite.All",
  "Directory.ReadWrite.All",
  "Group.ReadWrite.All",
  "User.ReadWrite.All",
  "RoleManagement.ReadWrite.Directory",
  "Organization.Read.All",
  "Domain.Read.All",
];

/** Scope ids of {@link PORTAL_GRAPH_SCOPES} (User.Read is not in GRAPH_PERMISSIONS). */
function graphScopeIds(): string[] {
  const ids = PORTAL_GRAPH_SCOPES.map((value) => GRAPH_PERMISSIONS.find((p) => p.value === value)?.scopeId).filter((id): id is string => typeof id === "string");
  return ["e1fe6dd8-ba31-4d61-89e7-88639da4683d", ...ids];
}

/**
 * "orgbox portal": a multi-tenant public client (SPA) owned by the first-party tenant, as the Azure
 * portal is a first-party client of Entra. Its one SPA redirect URI is the portal's own root,
 * `{base}/`, so it follows the URL orgbox listens on.
 */
export function portalApplication(base: string): Application {
  return {
    id: "a3f5b0a6-6d1c-4d0c-9d0e-00000090a1a1",
    appId: ORGBOX_PORTAL_APP_ID,
    tenantId: FIRST_PARTY_TENANT_ID,
    displayName: "orgbox portal",
    signInAudience: "AzureADMultipleOrgs",
    identifierUris: [],
    publisherDomain: "orgbox.local",
    web: { redirectUris: [] },
    spa: { redirectUris: [`${base}/`] },
    publicClient: { redirectUris: [] },
    isFallbackPublicClient: false,
    requiredResourceAccess: [
      { resourceAppId: MICROSOFT_GRAPH_APP_ID, resourceAccess: graphScopeIds().map((id) => ({ id, type: "Scope" as const })) },
      { resourceAppId: DYNAMICS_CRM_APP_ID, resourceAccess: [{ id: USER_IMPERSONATION_ID, type: "Scope" }] },
    ],
    appRoles: [],
    api: { oauth2PermissionScopes: [] },
  };
}

/**
 * Keeps the portal's registration in step with the running orgbox: the app itself (its redirect URI
 * follows `base`), and in every tenant its service principal with an admin consent (`AllPrincipals`)
 * for the Graph scopes and Dynamics CRM `user_impersonation` — the Azure portal is pre-consented in
 * every tenant the same way. Idempotent; calls are serialised so two first requests do not race.
 */
export class PortalRegistration {
  private readonly service: IdentityService;
  private chain: Promise<void> = Promise.resolve();
  private registeredFor: string | undefined;

  constructor(service: IdentityService) {
    this.service = service;
  }

  /** Ensures the registration for `base` (`https://host:port`). @throws when the store fails. */
  ensure(base: string): Promise<void> {
    const run = this.chain.then(() => this.ensureNow(base));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async ensureNow(base: string): Promise<void> {
    // The stored app can be replaced behind our back (reset, snapshot restore): compare with the store each time.
    const stored = await this.service.findApplication(ORGBOX_PORTAL_APP_ID);
    if (!stored || this.registeredFor !== base || stored.spa.redirectUris[0] !== `${base}/`) {
      await this.service.ensureFirstPartyClient(portalApplication(base));
      this.registeredFor = base;
    }
    for (const tenant of await this.service.listTenants()) {
      if (await this.service.findServicePrincipal(tenant.id, ORGBOX_PORTAL_APP_ID)) continue;
      await this.service.createServicePrincipal(tenant.id, ORGBOX_PORTAL_APP_ID, FIRST_PARTY_TENANT_ID);
      await this.service.grantConsent({ tenantId: tenant.id, clientAppId: ORGBOX_PORTAL_APP_ID, resourceAppId: MICROSOFT_GRAPH_APP_ID, scopes: ["openid", "profile", "offline_access", "email", ...PORTAL_GRAPH_SCOPES] });
      await this.service.grantConsent({ tenantId: tenant.id, clientAppId: ORGBOX_PORTAL_APP_ID, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
    }
  }
}
