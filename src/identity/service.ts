import { newClientSecret, hashPassword, hashSecret } from "../common/secrets.ts";
import { newGuid } from "../common/ids.ts";
import type { Clock } from "../common/clock.ts";
import { OrgboxError } from "../common/errors.ts";
import { DEFAULT_APP_ROLE_ID, type AppRoleAssignment, type Application, type Group, type GroupMembershipClaims, type KeyCredential, type OAuth2PermissionGrant, type PasswordCredential, type RequiredResourceAccess, type ServicePrincipal, type SignInAudience, type Tenant, type User } from "./model.ts";
import { parseCertificateCredential } from "./client-assertion.ts";
import type { IdentityStore, InteractionKind, InteractionRequirement, PermissionGrantDirectory } from "./store.ts";
import { FIRST_PARTY_APPS, FIRST_PARTY_TENANT_ID } from "./well-known.ts";

/** A directory operation that cannot be done (duplicate, missing reference). */
export class DirectoryError extends OrgboxError {
  constructor(message: string, status = 400) {
    super(status, message);
  }
}

/** Input for {@link IdentityService.registerApplication}. */
export interface RegisterApplicationInput {
  tenantId: string;
  displayName: string;
  appId?: string;
  objectId?: string;
  /** Fixed object id of the home-tenant service principal (seeds). */
  servicePrincipalId?: string;
  signInAudience?: SignInAudience;
  identifierUris?: string[];
  webRedirectUris?: string[];
  spaRedirectUris?: string[];
  publicClientRedirectUris?: string[];
  isFallbackPublicClient?: boolean;
  requiredResourceAccess?: Application["requiredResourceAccess"];
  /** Application permissions the app exposes as a resource (`appRoles`). */
  appRoles?: Application["appRoles"];
  /** Delegated permissions the app exposes as a resource (`api.oauth2PermissionScopes`). */
  oauth2PermissionScopes?: Application["api"]["oauth2PermissionScopes"];
  /** `api.requestedAccessTokenVersion`: 2 for v2.0 access tokens; default null (v1.0). */
  requestedAccessTokenVersion?: 1 | 2 | null;
  /** Manifest `groupMembershipClaims`; default null (no `groups` claim). */
  groupMembershipClaims?: GroupMembershipClaims | null;
}

/**
 * What identity learns of Dataverse: which orgs are bound to a tenant (a tenant with orgs cannot be
 * deleted). Identity owns the port; the composition root (`src/server/create-orgbox.ts`) wires it to
 * Dataverse's org catalog, as Dataverse learns of the directory through its `DirectoryLookup`.
 */
export interface OrgBindings {
  /** Names of the Dataverse orgs bound to tenant `tenantId` (GUID), by name. */
  orgNamesOfTenant(tenantId: string): Promise<string[]>;
}

/**
 * The service principal `app` gets in `tenantId` (not stored): `appOwnerOrganizationId` is
 * `ownerTenantId`, by default the app's home tenant; `appRoleAssignmentRequired` off.
 */
export function newServicePrincipal(app: Application, tenantId: string, ownerTenantId?: string, id?: string): ServicePrincipal {
  return { id: (id ?? newGuid()).toLowerCase(), tenantId: tenantId.toLowerCase(), appId: app.appId, appOwnerOrganizationId: ownerTenantId ?? app.tenantId, displayName: app.displayName, appRoleAssignmentRequired: false, accountEnabled: true };
}

/**
 * Directory management: what the Azure portal, Graph and `orgbox` CLI do.
 * Used by the seed, the CLI, the portal and the `startOrgbox` handle.
 */
export class IdentityService {
  private readonly store: IdentityStore;
  private readonly clock: Clock;
  private readonly orgs: OrgBindings;

  constructor(store: IdentityStore, clock: Clock, orgs: OrgBindings) {
    this.store = store;
    this.clock = clock;
    this.orgs = orgs;
}

  /**
   * Registers the first-party apps (Dynamics CRM, Windows Azure Service Management API, Microsoft Graph) once, and
   * brings a store made by an older build up to this build: their permissions (Graph's app roles and scopes), and a
   * service principal in every tenant for an app the older build did not have.
   */
  async ensureFirstPartyApps(): Promise<void> {
    for (const app of FIRST_PARTY_APPS) {
      const existing = await this.store.findApplicationByAppId(app.appId);
      if (!existing) {
        await this.store.createApplication(app, this.clock.now());
        // A first-party app added by a newer build (a data folder from an older one): every tenant has its service principal.
        for (const tenant of await this.store.listTenants()) {
          if (!(await this.store.findServicePrincipal(tenant.id, app.appId))) await this.createServicePrincipal(tenant.id, app.appId, FIRST_PARTY_TENANT_ID);
        }
      } else if (JSON.stringify([existing.appRoles, existing.api.oauth2PermissionScopes]) !== JSON.stringify([app.appRoles, app.api.oauth2PermissionScopes])) await this.store.updateApplication(app);
    }
  }

  /**
   * Registers (or brings up to date) one of orgbox's own first-party client apps, such as the
   * "orgbox portal": an app owned by the first-party tenant, so no tenant can delete or change it.
   * Writes only when the stored registration differs from `app`.
   * @throws DirectoryError 400 when `app.tenantId` is not the first-party tenant.
   */
  async ensureFirstPartyClient(app: Application): Promise<Application> {
    if (app.tenantId !== FIRST_PARTY_TENANT_ID) throw new DirectoryError(`'${app.displayName}' is not owned by the first-party tenant`);
    const existing = await this.store.findApplicationByAppId(app.appId);
    if (!existing) await this.store.createApplication(app, this.clock.now());
    else if (JSON.stringify(existing) !== JSON.stringify({ ...existing, ...app })) await this.store.updateApplication({ ...existing, ...app });
    return app;
  }

  /**
   * Grants application permissions (app roles) of `resourceAppId` to `clientAppId`'s service
   * principal in a tenant, as admin consent does: one app role assignment per role, skipping
   * existing ones. Source: learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto.
   * @param input.roles app role values, e.g. `Application.ReadWrite.All`.
   * @throws DirectoryError 404 when either app has no service principal in the tenant, 400 for a role the resource does not expose to applications.
   */
  async grantApplicationPermissions(input: { tenantId: string; clientAppId: string; resourceAppId: string; roles: string[] }): Promise<AppRoleAssignment[]> {
    const client = await this.store.findServicePrincipal(input.tenantId, input.clientAppId);
    const resource = await this.store.findServicePrincipal(input.tenantId, input.resourceAppId);
    const resourceApp = await this.store.findApplicationByAppId(input.resourceAppId);
    if (!client || !resource || !resourceApp) throw new DirectoryError(`no service principal for '${client ? input.resourceAppId : input.clientAppId}' in tenant '${input.tenantId}'`, 404);
    const assignments: AppRoleAssignment[] = [];
    for (const value of input.roles) {
      const role = resourceApp.appRoles.find((r) => r.value.toLowerCase() === value.toLowerCase() && r.allowedMemberTypes.includes("Application"));
      if (!role) throw new DirectoryError(`'${resourceApp.displayName}' has no application permission '${value}'`);
      const assignment: AppRoleAssignment = { id: newGuid(), tenantId: client.tenantId, principalId: client.id, resourceId: resource.id, appRoleId: role.id, principalType: "ServicePrincipal" };
      await this.store.addAppRoleAssignment(assignment, this.clock.now());
      assignments.push(assignment);
    }
    return assignments;
  }

  /**
   * Creates a tenant with its `*.onmicrosoft.com` domain, and the first-party
   * service principals every tenant has.
   */
  async createTenant(input: { id?: string; displayName: string; defaultDomain: string; domains?: string[] }): Promise<Tenant> {
    const domain = input.defaultDomain.toLowerCase();
    if (await this.store.findTenant(domain)) throw new DirectoryError(`a tenant with the domain '${domain}' already exists`, 409);
    const tenant: Tenant = { id: (input.id ?? newGuid()).toLowerCase(), displayName: input.displayName, defaultDomain: domain, domains: [domain, ...(input.domains ?? []).map((d) => d.toLowerCase())] };
    await this.store.createTenant(tenant, this.clock.now());
    for (const app of FIRST_PARTY_APPS) await this.createServicePrincipal(tenant.id, app.appId, FIRST_PARTY_TENANT_ID);
    return tenant;
  }

  /** orgbox's now (ms since the epoch, UTC): its clock, which time travel moves. */
  now(): number {
    return this.clock.now();
  }

  async findTenant(idOrDomain: string): Promise<Tenant | undefined> {
    return this.store.findTenant(idOrDomain);
  }

  /** Creates a user; the password is stored as a scrypt hash. */
  async createUser(input: { tenantId: string; userPrincipalName: string; displayName: string; password: string; id?: string; givenName?: string; surname?: string; directoryRoles?: string[]; accountEnabled?: boolean; mailNickname?: string }): Promise<User> {
    if (await this.store.findUserByUpn(input.userPrincipalName)) throw new DirectoryError(`a user '${input.userPrincipalName}' already exists`, 409);
    const user: User = {
      id: (input.id ?? newGuid()).toLowerCase(),
      tenantId: input.tenantId,
      userPrincipalName: input.userPrincipalName.toLowerCase(),
      displayName: input.displayName,
      givenName: input.givenName ?? null,
      surname: input.surname ?? null,
      accountEnabled: input.accountEnabled ?? true,
      directoryRoles: input.directoryRoles ?? [],
      passwordChangedAt: this.clock.now(),
      ...(input.mailNickname !== undefined ? { mailNickname: input.mailNickname } : {}),
    };
    await this.store.createUser(user, await hashPassword(input.password), this.clock.now());
    return user;
  }

  /** Registers an application in its home tenant and creates its service principal there. */
  async registerApplication(input: RegisterApplicationInput): Promise<{ application: Application; servicePrincipal: ServicePrincipal }> {
    const tenant = await this.store.findTenant(input.tenantId);
    if (!tenant) throw new DirectoryError(`tenant '${input.tenantId}' does not exist`, 404);
    const application: Application = {
      id: (input.objectId ?? newGuid()).toLowerCase(),
      appId: (input.appId ?? newGuid()).toLowerCase(),
      tenantId: tenant.id,
      displayName: input.displayName,
      signInAudience: input.signInAudience ?? "AzureADMyOrg",
      identifierUris: input.identifierUris ?? [],
      web: { redirectUris: input.webRedirectUris ?? [] },
      spa: { redirectUris: input.spaRedirectUris ?? [] },
      publicClient: { redirectUris: input.publicClientRedirectUris ?? [] },
      isFallbackPublicClient: input.isFallbackPublicClient ?? false,
      requiredResourceAccess: input.requiredResourceAccess ?? [],
      appRoles: input.appRoles ?? [],
      api: { oauth2PermissionScopes: input.oauth2PermissionScopes ?? [], requestedAccessTokenVersion: input.requestedAccessTokenVersion ?? null },
      publisherDomain: tenant.defaultDomain,
      groupMembershipClaims: input.groupMembershipClaims ?? null,
    };
    if (await this.store.findApplicationByAppId(application.appId)) throw new DirectoryError(`an application with appId '${application.appId}' already exists`, 409);
    await this.store.createApplication(application, this.clock.now());
    const servicePrincipal = await this.createServicePrincipal(tenant.id, application.appId, tenant.id, input.servicePrincipalId);
    return { application, servicePrincipal };
  }

  /** Creates the service principal (enterprise application) of `appId` in `tenantId`. */
  async createServicePrincipal(tenantId: string, appId: string, ownerTenantId?: string, id?: string): Promise<ServicePrincipal> {
    const existing = await this.store.findServicePrincipal(tenantId, appId);
    if (existing) return existing;
    const app = await this.store.findApplicationByAppId(appId);
    if (!app) throw new DirectoryError(`application '${appId}' does not exist`, 404);
    const sp = newServicePrincipal(app, tenantId, ownerTenantId, id);
    await this.store.createServicePrincipal(sp, this.clock.now());
    return sp;
  }

  async findServicePrincipal(tenantId: string, appId: string): Promise<ServicePrincipal | undefined> {
    return this.store.findServicePrincipal(tenantId, appId);
  }

  /**
   * Adds a client secret. The value is returned once and stored as a hash.
   * @param input.endDateTime expiry, ms since epoch (UTC); default 180 days, as the portal suggests.
   * @param input.value a known value (seeds, tests); default a new random secret.
   */
  async addPassword(input: { appId: string; displayName?: string; endDateTime?: number; startDateTime?: number; value?: string; keyId?: string }): Promise<PasswordCredential & { secretText: string }> {
    const app = await this.store.findApplicationByAppId(input.appId);
    if (!app) throw new DirectoryError(`application '${input.appId}' does not exist`, 404);
    const now = this.clock.now();
    const secretText = input.value ?? newClientSecret();
    const credential = {
      keyId: (input.keyId ?? newGuid()).toLowerCase(),
      applicationId: app.id,
      displayName: input.displayName ?? null,
      hint: secretText.slice(0, 3),
      startDateTime: input.startDateTime ?? now,
      endDateTime: input.endDateTime ?? now + 180 * 24 * 3600_000,
    };
    await this.store.addPasswordCredential({ ...credential, secretHash: hashSecret(secretText) }, now);
    return { ...credential, secretText };
  }

  /**
   * Adds a certificate credential (`keyCredentials`, learn.microsoft.com/graph/api/application-addkey):
   * the public X.509 certificate whose key signs the app's client assertions
   * (learn.microsoft.com/entra/identity-platform/certificate-credentials).
   * @param input.certificatePem PEM (or base64 DER) of the certificate; a private key is refused.
   * @param input.startDateTime / input.endDateTime validity, ms since epoch; default the certificate's own.
   * @throws DirectoryError 404 for an unknown app, 400 for a certificate that cannot be read or is not RSA.
   */
  async addKeyCredential(input: { appId: string; certificatePem: string; displayName?: string; startDateTime?: number; endDateTime?: number; keyId?: string }): Promise<KeyCredential> {
    const app = await this.store.findApplicationByAppId(input.appId);
    if (!app) throw new DirectoryError(`application '${input.appId}' does not exist`, 404);
    const parsed = parseCertificateCredential(input.certificatePem);
    if (typeof parsed === "string") throw new DirectoryError(parsed);
    const credential: KeyCredential = {
      keyId: (input.keyId ?? newGuid()).toLowerCase(),
      applicationId: app.id,
      displayName: input.displayName ?? parsed.subject,
      customKeyIdentifier: parsed.sha1,
      thumbprintSha256: parsed.sha256,
      certificateB64: parsed.derB64,
      type: "AsymmetricX509Cert",
      usage: "Verify",
      startDateTime: input.startDateTime ?? parsed.notBefore,
      endDateTime: input.endDateTime ?? parsed.notAfter,
    };
    await this.store.addKeyCredential(credential, this.clock.now());
    return credential;
  }

  /** The certificate credentials of an app. @throws DirectoryError 404 for an unknown app. */
  async listKeyCredentials(appId: string): Promise<KeyCredential[]> {
    const app = await this.store.findApplicationByAppId(appId);
    if (!app) throw new DirectoryError(`application '${appId}' does not exist`, 404);
    return this.store.listKeyCredentials(app.id);
  }

  /**
   * Changes a user's password (what a reset in the portal does). Refresh tokens
   * and sign-in sessions from before now stop working (AADSTS50173).
   * @throws DirectoryError 404 for an unknown user.
   */
  async resetPassword(userId: string, password: string): Promise<void> {
    if (!(await this.store.findUserById(userId))) throw new DirectoryError(`user '${userId}' does not exist`, 404);
    await this.store.setUserPassword(userId, await hashPassword(password), this.clock.now());
  }

  /** Enables or blocks sign-in for a user (`accountEnabled`). @throws DirectoryError 404 for an unknown user. */
  async setAccountEnabled(userId: string, enabled: boolean): Promise<void> {
    if (!(await this.store.findUserById(userId))) throw new DirectoryError(`user '${userId}' does not exist`, 404);
    await this.store.setUserAccountEnabled(userId, enabled);
  }

  /**
   * Grants delegated permissions of `resourceAppId` to `clientAppId` in a tenant
   * (an `oauth2PermissionGrant`): for everyone (`AllPrincipals`, admin consent)
   * or, with `principalId`, for one user. Scopes merge with an existing grant.
   * @throws DirectoryError 404 when either app has no service principal in the tenant.
   */
  async grantConsent(input: { tenantId: string; clientAppId: string; resourceAppId: string; scopes: string[]; principalId?: string }): Promise<OAuth2PermissionGrant> {
    const client = await this.store.findServicePrincipal(input.tenantId, input.clientAppId);
    const resource = await this.store.findServicePrincipal(input.tenantId, input.resourceAppId);
    if (!client || !resource) throw new DirectoryError(`no service principal for '${client ? input.resourceAppId : input.clientAppId}' in tenant '${input.tenantId}'`, 404);
    return recordConsent(this.store, this.clock.now(), input.tenantId, client.id, resource.id, input.scopes, input.principalId ?? null);
  }

  async findApplication(appId: string): Promise<Application | undefined> {
    return this.store.findApplicationByAppId(appId);
  }

  // ── Groups and assignments (Users and Groups) ─────────────────────────────────

  /**
   * Creates a security group (learn.microsoft.com/graph/api/group-post-groups) with user members.
   * @throws DirectoryError 404 for an unknown tenant or member, 409 for a duplicate id.
   */
  async createGroup(input: { tenantId: string; displayName: string; id?: string; members?: string[]; mailNickname?: string }): Promise<Group> {
    const tenant = await this.store.findTenant(input.tenantId);
    if (!tenant) throw new DirectoryError(`tenant '${input.tenantId}' does not exist`, 404);
    const id = (input.id ?? newGuid()).toLowerCase();
    if (await this.store.findGroup(tenant.id, id)) throw new DirectoryError(`a group with id '${id}' already exists`, 409);
    const members: string[] = [];
    for (const m of input.members ?? []) members.push((await this.requireUserInTenant(tenant.id, m)).id);
    const group: Group = { id, tenantId: tenant.id, displayName: input.displayName, members: [...new Set(members)], ...(input.mailNickname !== undefined ? { mailNickname: input.mailNickname } : {}) };
    await this.store.createGroup(group, this.clock.now());
    return group;
  }

  /** Adds a user (object id or UPN) to a group (id or display name). @throws DirectoryError 404 for either unknown. */
  async addGroupMember(tenantId: string, group: string, user: string): Promise<void> {
    const g = await this.requireGroup(tenantId, group);
    const u = await this.requireUserInTenant(g.tenantId, user);
    await this.store.addGroupMember(g.id, u.id, this.clock.now());
  }

  /** Removes a user from a group. @throws DirectoryError 404 for an unknown group or user, or one not a member. */
  async removeGroupMember(tenantId: string, group: string, user: string): Promise<void> {
    const g = await this.requireGroup(tenantId, group);
    const u = await this.requireUserInTenant(g.tenantId, user);
    if (!(await this.store.removeGroupMember(g.id, u.id))) throw new DirectoryError(`user '${u.userPrincipalName}' is not a member of group '${g.displayName}'`, 404);
  }

  /**
   * Deletes a group (id or display name) with its memberships and app role assignments
   * (learn.microsoft.com/graph/api/group-delete). @throws DirectoryError 404 for an unknown group.
   */
  async deleteGroup(tenantId: string, group: string): Promise<Group> {
    const g = await this.requireGroup(tenantId, group);
    await this.store.deleteGroup(g.id);
    return g;
  }

  /** A tenant's groups with their member object ids, by display name. */
  async listGroups(tenantId: string): Promise<Group[]> {
    return this.store.listGroups(tenantId);
  }

  /**
   * Sets a service principal's `appRoleAssignmentRequired` ("Assignment required?" in Enterprise applications):
   * when true, only assigned users (directly or through a group) can sign in to the app (AADSTS50105).
   * @throws DirectoryError 404 for an unknown service principal.
   */
  async setAppRoleAssignmentRequired(tenantId: string, appId: string, required: boolean): Promise<void> {
    const sp = await this.requireServicePrincipal(tenantId, appId);
    await this.store.setAppRoleAssignmentRequired(sp.id, required);
  }

  /**
   * Assigns a user (object id or UPN) to the service principal of `appId` in a tenant with the
   * default role (learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto).
   * @throws DirectoryError 404 for an unknown service principal or user.
   */
  async assignUser(tenantId: string, appId: string, user: string): Promise<AppRoleAssignment> {
    const sp = await this.requireServicePrincipal(tenantId, appId);
    const u = await this.requireUserInTenant(sp.tenantId, user);
    return this.assign(sp, u.id, "User");
  }

  /** Assigns a group (id or display name), as {@link assignUser}. @throws DirectoryError 404 for an unknown service principal or group. */
  async assignGroup(tenantId: string, appId: string, group: string): Promise<AppRoleAssignment> {
    const sp = await this.requireServicePrincipal(tenantId, appId);
    const g = await this.requireGroup(sp.tenantId, group);
    return this.assign(sp, g.id, "Group");
  }

  /** The user and group assignments of the service principal of `appId` in a tenant. @throws DirectoryError 404. */
  async listAssignments(tenantId: string, appId: string): Promise<AppRoleAssignment[]> {
    const sp = await this.requireServicePrincipal(tenantId, appId);
    return this.store.listAppRoleAssignedTo(sp.id);
  }

  private async assign(sp: ServicePrincipal, principalId: string, principalType: "User" | "Group"): Promise<AppRoleAssignment> {
    const assignment: AppRoleAssignment = { id: newGuid(), tenantId: sp.tenantId, principalId, resourceId: sp.id, appRoleId: DEFAULT_APP_ROLE_ID, principalType };
    await this.store.addAppRoleAssignment(assignment, this.clock.now());
    return assignment;
  }

  private async requireServicePrincipal(tenantId: string, appId: string): Promise<ServicePrincipal> {
    const sp = await this.store.findServicePrincipal(tenantId, appId);
    if (!sp) throw new DirectoryError(`no service principal for '${appId}' in tenant '${tenantId}'`, 404);
    return sp;
  }

  private async requireGroup(tenantId: string, group: string): Promise<Group> {
    const g = await this.store.findGroup(tenantId, group);
    if (!g) throw new DirectoryError(`group '${group}' does not exist in tenant '${tenantId}'`, 404);
    return g;
  }

  private async requireUserInTenant(tenantId: string, user: string): Promise<User> {
    const u = user.includes("@") ? await this.store.findUserByUpn(user) : await this.store.findUserById(user);
    if (!u || u.tenantId !== tenantId.toLowerCase()) throw new DirectoryError(`user '${user}' does not exist in tenant '${tenantId}'`, 404);
    return u;
  }

  // ── Listing (orgbox export) ─────────────────────────────────────────────────────

  /** Every tenant, by creation time. */
  async listTenants(): Promise<Tenant[]> {
    return this.store.listTenants();
  }

  /** A tenant's users, by user principal name. */
  async listUsers(tenantId: string): Promise<User[]> {
    return this.store.listUsers(tenantId);
  }

  /** The apps registered in a tenant (their home tenant), by creation time. */
  async listApplications(tenantId: string): Promise<Application[]> {
    return this.store.listApplications(tenantId);
  }

  /** An app's client secrets: public shape only (the values are stored as hashes and cannot be read back). */
  async listPasswordCredentials(applicationObjectId: string): Promise<PasswordCredential[]> {
    return (await this.store.listPasswordCredentials(applicationObjectId)).map(({ secretHash: _hash, ...credential }) => credential);
  }

  /** The service principals in a tenant, first-party ones included, by creation time. */
  async listServicePrincipals(tenantId: string): Promise<ServicePrincipal[]> {
    return this.store.listServicePrincipals(tenantId);
  }

  /** Every delegated grant (`oauth2PermissionGrant`) in a tenant, by creation time. */
  async listPermissionGrants(tenantId: string): Promise<OAuth2PermissionGrant[]> {
    return this.store.listOAuth2PermissionGrants(tenantId);
  }

  // ── Management (`orgbox tenant|user|app|secret|consent`; Graph DELETE and removePassword) ──

  /**
   * Deletes a tenant and everything in it: domains, users, groups, service principals, the apps
   * registered in it with their credentials, grants, assignments, codes, refresh tokens and sessions.
   * Service principals that apps of this tenant have in other tenants stay (as in Entra).
   * @param idOrDomain tenant id or any verified domain.
   * @returns the deleted tenant.
   * @throws DirectoryError 404 for an unknown tenant; 409 while Dataverse orgs are bound to it.
   */
  async deleteTenant(idOrDomain: string): Promise<Tenant> {
    const tenant = await this.store.findTenant(idOrDomain);
    if (!tenant) throw new DirectoryError(`tenant '${idOrDomain}' does not exist`, 404);
    const orgs = await this.orgs.orgNamesOfTenant(tenant.id);
    if (orgs.length > 0) throw new DirectoryError(`tenant '${tenant.defaultDomain}' cannot be deleted: the org(s) ${orgs.map((o) => `'${o}'`).join(", ")} are bound to it`, 409);
    await this.store.deleteTenant(tenant.id);
    return tenant;
  }

  /** A user by user principal name or object id (case-insensitive). */
  async findUser(upnOrId: string): Promise<User | undefined> {
    const byUpn = await this.store.findUserByUpn(upnOrId);
    if (byUpn) {
      const { passwordHash: _hash, ...user } = byUpn;
      return user;
    }
    return this.store.findUserById(upnOrId);
  }

  /**
   * Deletes a user (learn.microsoft.com/graph/api/user-delete): the user's own consent grants and
   * app-role assignments go with it, and its refresh tokens and sign-in sessions are revoked.
   * @param upnOrId user principal name or object id.
   * @throws DirectoryError 404 for an unknown user.
   */
  /**
   * Sets or clears an interaction requirement ("require MFA", see `interaction.ts`) on a user (by UPN or
   * object id) or on a client app's service principal in a tenant. Setting it again moves its `since`
   * to now (every sign-in so far must pass the step again).
   * @returns the requirements on that subject afterwards.
   * @throws DirectoryError 404 for an unknown user, or an app without a service principal in the tenant.
   */
  async setInteractionRequirement(subject: { user: string } | { tenantId: string; appId: string }, kind: InteractionKind, required: boolean): Promise<{ subjectId: string; requirements: InteractionRequirement[] }> {
    let target: Omit<InteractionRequirement, "kind" | "since">;
    if ("user" in subject) {
      const user = await this.findUser(subject.user);
      if (!user) throw new DirectoryError(`user '${subject.user}' does not exist`, 404);
      target = { tenantId: user.tenantId, subjectType: "user", subjectId: user.id };
    } else {
      const sp = await this.store.findServicePrincipal(subject.tenantId, subject.appId);
      if (!sp) throw new DirectoryError(`app '${subject.appId}' has no service principal in tenant '${subject.tenantId}'`, 404);
      target = { tenantId: subject.tenantId, subjectType: "servicePrincipal", subjectId: sp.id };
    }
    if (required) await this.store.requireInteraction({ ...target, kind, since: this.clock.now() });
    else await this.store.clearInteractionRequirement(target.subjectId, kind);
    return { subjectId: target.subjectId, requirements: await this.store.findInteractionRequirements([target.subjectId]) };
  }

  /** The interaction requirements on a user or service principal (object id). */
  interactionRequirements(subjectId: string): Promise<InteractionRequirement[]> {
    return this.store.findInteractionRequirements([subjectId]);
  }

  async deleteUser(upnOrId: string): Promise<User> {
    const user = await this.findUser(upnOrId);
    if (!user) throw new DirectoryError(`user '${upnOrId}' does not exist`, 404);
    await this.store.deleteUser(user.id, this.clock.now());
    return user;
  }

  /**
   * Deletes an app registration (learn.microsoft.com/graph/api/application-delete) with its secrets,
   * certificates and identifier URIs, and its service principals in every tenant with the consent
   * grants and app-role assignments naming them. Tokens already issued stay valid until they expire;
   * refresh tokens and client credentials stop working at once (AADSTS700016).
   * @throws DirectoryError 404 for an unknown app; 400 for a first-party app.
   */
  async deleteApplication(appId: string): Promise<Application> {
    const app = await this.store.findApplicationByAppId(appId);
    if (!app) throw new DirectoryError(`application '${appId}' does not exist`, 404);
    if (app.tenantId === FIRST_PARTY_TENANT_ID) throw new DirectoryError(`'${app.displayName}' is a first-party application and cannot be deleted`);
    await this.store.deleteApplication(app.id);
    return app;
  }

  /** An app's client secrets by client id: public shape only (hint, key id, dates). @throws DirectoryError 404 for an unknown app. */
  /**
   * Changes an app registration's redirect URIs (each list replaced when given), public-client flag and
   * required resource access, as the Entra admin center's Authentication and API permissions pages do
   * (Graph: learn.microsoft.com/graph/api/application-update). Live: the token path sees it at once.
   * @throws DirectoryError 404 when there is no such app; 400 for a first-party app.
   */
  async updateApplication(appId: string, patch: { webRedirectUris?: string[]; spaRedirectUris?: string[]; publicClientRedirectUris?: string[]; isFallbackPublicClient?: boolean; requiredResourceAccess?: RequiredResourceAccess[] }): Promise<Application> {
    const app = await this.store.findApplicationByAppId(appId);
    if (!app) throw new DirectoryError(`application '${appId}' does not exist`, 404);
    if (app.tenantId === FIRST_PARTY_TENANT_ID) throw new DirectoryError(`'${app.displayName}' is a first-party application and cannot be changed`);
    const next: Application = {
      ...app,
      web: { ...app.web, redirectUris: patch.webRedirectUris ?? app.web.redirectUris },
      spa: { ...app.spa, redirectUris: patch.spaRedirectUris ?? app.spa.redirectUris },
      publicClient: { ...app.publicClient, redirectUris: patch.publicClientRedirectUris ?? app.publicClient.redirectUris },
      isFallbackPublicClient: patch.isFallbackPublicClient ?? app.isFallbackPublicClient,
      requiredResourceAccess: patch.requiredResourceAccess ?? app.requiredResourceAccess,
    };
    await this.store.updateApplication(next);
    return next;
  }

  async listAppPasswords(appId: string): Promise<PasswordCredential[]> {
    const app = await this.store.findApplicationByAppId(appId);
    if (!app) throw new DirectoryError(`application '${appId}' does not exist`, 404);
    return this.listPasswordCredentials(app.id);
  }

  /**
   * Removes a client secret (learn.microsoft.com/graph/api/application-removepassword); clients
   * sending it get AADSTS7000215 from then on.
   * @throws DirectoryError 404 for an unknown app or key id.
   */
  async removePassword(appId: string, keyId: string): Promise<void> {
    const app = await this.store.findApplicationByAppId(appId);
    if (!app) throw new DirectoryError(`application '${appId}' does not exist`, 404);
    if (!(await this.store.removePasswordCredential(app.id, keyId))) throw new DirectoryError(`application '${appId}' has no client secret with key id '${keyId}'`, 404);
  }

  /**
   * Removes a certificate credential (learn.microsoft.com/graph/api/application-removekey, without the proof an
   * administrator's offline command does not need); client assertions signed with its key get AADSTS700027.
   * @throws DirectoryError 404 for an unknown app or key id.
   */
  async removeKeyCredential(appId: string, keyId: string): Promise<void> {
    const app = await this.store.findApplicationByAppId(appId);
    if (!app) throw new DirectoryError(`application '${appId}' does not exist`, 404);
    if (!(await this.store.removeKeyCredential(app.id, keyId.toLowerCase()))) throw new DirectoryError(`application '${appId}' has no certificate with key id '${keyId}'`, 404);
  }

  /**
   * Revokes delegated consent (learn.microsoft.com/graph/api/oauth2permissiongrant-delete): deletes the
   * grant, by id or by (tenant, client app, resource app, user or — without `principalId` — everyone),
   * and revokes the client's refresh tokens in the tenant (of that user only, for a user's grant), so a
   * refresh answers invalid_grant and the user must sign in (and consent) again.
   * @returns the deleted grant and how many refresh tokens were revoked.
   * @throws DirectoryError 404 when no such grant exists.
   */
  async revokeConsent(input: { id: string } | { tenantId: string; clientAppId: string; resourceAppId: string; principalId?: string }): Promise<{ grant: OAuth2PermissionGrant; revokedRefreshTokens: number }> {
    let grant: OAuth2PermissionGrant | undefined;
    if ("id" in input) {
      grant = await this.store.findPermissionGrant(input.id);
    } else {
      const client = await this.store.findServicePrincipal(input.tenantId, input.clientAppId);
      const resource = await this.store.findServicePrincipal(input.tenantId, input.resourceAppId);
      const principalId = input.principalId?.toLowerCase() ?? null;
      if (client && resource) grant = (await this.store.listPermissionGrants(input.tenantId, client.id, resource.id)).find((g) => g.principalId === principalId);
    }
    if (!grant) throw new DirectoryError(`no such consent grant${"id" in input ? ` '${input.id}'` : ` of '${input.clientAppId}' on '${input.resourceAppId}' in tenant '${input.tenantId}'`}`, 404);
    await this.store.deletePermissionGrant(grant.id);
    const revokedRefreshTokens = await this.store.revokeRefreshTokensOfClient({ tenantId: grant.tenantId, clientServicePrincipalId: grant.clientId, ...(grant.principalId ? { userId: grant.principalId } : {}) }, this.clock.now());
    return { grant, revokedRefreshTokens };
  }
}

/**
 * Adds `scopes` to the grant of (client SP, resource SP, consent type, principal),
 * creating it if needed. Shared by {@link IdentityService.grantConsent} and the consent page.
 */
export async function recordConsent(store: PermissionGrantDirectory, now: number, tenantId: string, clientSpId: string, resourceSpId: string, scopes: string[], principalId: string | null): Promise<OAuth2PermissionGrant> {
  const consentType = principalId === null ? "AllPrincipals" : "Principal";
  const existing = (await store.listPermissionGrants(tenantId, clientSpId, resourceSpId)).find((g) => g.consentType === consentType && g.principalId === principalId);
  const merged = new Set([...(existing?.scope.split(/\s+/).filter(Boolean) ?? []), ...scopes]);
  const grant: OAuth2PermissionGrant = {
    id: existing?.id ?? newGuid(),
    tenantId: tenantId.toLowerCase(),
    clientId: clientSpId,
    consentType,
    principalId,
    resourceId: resourceSpId,
    scope: [...merged].join(" "),
  };
  await store.upsertPermissionGrant(grant, now);
  return grant;
}
