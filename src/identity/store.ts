import type { StoredSigningKey } from "../common/keys.ts";
import type { AppRoleAssignment, Application, Group, KeyCredential, OAuth2PermissionGrant, PasswordCredential, ServicePrincipal, Tenant, User } from "./model.ts";

/** A stored password credential with its hash (never leaves identity/). */
export interface StoredPasswordCredential extends PasswordCredential {
  secretHash: string;
}

/** How a client proved itself when a code was issued: by redirect URI platform. */
export type ClientKind = "web" | "spa" | "public";

/** A stored authorization code (the value itself is never stored, only its SHA-256). Times in ms. */
export interface StoredAuthorizationCode {
  id: string;
  codeHash: string;
  tenantId: string;
  /** The client's app id. */
  clientId: string;
  userId: string;
  redirectUri: string;
  clientKind: ClientKind;
  /** Endpoint version the code was requested on. */
  version: 1 | 2;
  /** v2 `scope` as requested (space-separated). */
  scope: string | null;
  /** v1 `resource`, if given at /authorize. */
  resource: string | null;
  nonce: string | null;
  codeChallenge: string | null;
  codeChallengeMethod: "S256" | "plain" | null;
  authTime: number;
  issuedAt: number;
  expiresAt: number;
  redeemedAt: number | null;
}

/** A stored refresh token (hash only). Times in ms. */
export interface StoredRefreshToken {
  id: string;
  tokenHash: string;
  tenantId: string;
  clientId: string;
  userId: string;
  /** Issued to a public client (no client authentication on redemption). */
  publicClient: boolean;
  /** The scopes last requested (v2 form, space-separated), or the v1 permission names. */
  scope: string;
  /** The resource identifier last requested (default for a refresh without scope/resource). */
  resource: string;
  /** Authentication methods of the original sign-in, e.g. `["pwd"]`. */
  amr: string[];
  /** When the user originally authenticated; carried across rotations. */
  authTime: number;
  /** The authorization code this chain came from (revoked together on code replay). */
  codeId: string | null;
  /**
   * The family: every refresh token descended from one sign-in shares the id of the first
   * (revoked together when a rotated token is replayed in strict rotation, RFC 9700 §4.14.2).
   */
  familyId: string;
  /** Issued through an SPA redirect URI: `expiresAt` is fixed and carried to every descendant (AADSTS700084). */
  spa: boolean;
  issuedAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

/** A user's smart-lockout state (`users.failed_sign_ins`, `users.locked_until`). */
export interface SignInLockoutState {
  /** Consecutive wrong passwords since the last successful password sign-in. */
  failedSignIns: number;
  /** Locked until this time (ms since the epoch, UTC); null when never locked since the last success. */
  lockedUntil: number | null;
}

/** A browser sign-in session (hash of the cookie value only). Times in ms. */
export interface StoredSignInSession {
  id: string;
  tokenHash: string;
  tenantId: string;
  userId: string;
  authTime: number;
  expiresAt: number;
  revokedAt: number | null;
  /** When the session passed the (simulated) MFA step (migration 015), ms; null: password only. Optional for callers that never do. */
  mfaAt?: number | null;
}

/** Where a device code is in its life (RFC 8628 §3.5). */
export type DeviceCodeStatus = "pending" | "approved" | "declined" | "redeemed";

/** A stored device code (hashes of both codes only). Times in ms. */
export interface StoredDeviceCode {
  id: string;
  deviceCodeHash: string;
  userCodeHash: string;
  /** The tenant of the request, or null for `common`/`organizations` (the user's tenant decides). */
  tenantId: string | null;
  /** The client's app id. */
  clientId: string;
  /** Endpoint version of `/devicecode`. */
  version: 1 | 2;
  /** v2 `scope` as requested. */
  scope: string | null;
  /** v1 `resource`. */
  resource: string | null;
  status: DeviceCodeStatus;
  /** The user who approved or declined it. */
  userId: string | null;
  authTime: number | null;
  issuedAt: number;
  expiresAt: number;
}

/** Tenants and their verified domains. */
export interface TenantDirectory {
  createTenant(tenant: Tenant, now: number): Promise<void>;
  /** Finds a tenant by GUID or verified domain, case-insensitively. */
  findTenant(idOrDomain: string): Promise<Tenant | undefined>;
  listTenants(): Promise<Tenant[]>;
  /**
   * Deletes a tenant and everything in it in one transaction: its domains, users, service principals
   * and groups (foreign-key cascade), the apps registered in it (with their credentials, by cascade),
   * grants, assignments, codes, refresh tokens and sessions of the tenant.
   */
  deleteTenant(tenantId: string): Promise<void>;
}

/** Users (password hashes stay inside identity). */
export interface UserDirectory {
  createUser(user: User, passwordHash: string, now: number): Promise<void>;
  findUserByUpn(upn: string): Promise<(User & { passwordHash: string }) | undefined>;
  findUserById(id: string): Promise<User | undefined>;
  /** The users of a tenant, by user principal name (for `orgbox export`). */
  listUsers(tenantId: string): Promise<User[]>;
  /** Replaces a user's password hash and records when (revokes refresh tokens and sessions issued before). */
  setUserPassword(userId: string, passwordHash: string, changedAt: number): Promise<void>;
  setUserAccountEnabled(userId: string, enabled: boolean): Promise<void>;
  /** Deletes a user, the user's own consent grants, and revokes the user's refresh tokens and sessions. */
  deleteUser(userId: string, now: number): Promise<void>;
  /**
   * A page of a tenant's users (properties `id`, `userPrincipalName`, `displayName`, `givenName`,
   * `surname`, `accountEnabled`, `mailNickname`; sort by `displayName` or `userPrincipalName`;
   * {@link DirectoryQuery.memberOf} limits to a group's direct members).
   * @throws Error for a property the store does not map (the caller validates first).
   */
  queryUsers(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<User>>;
  /** Replaces a user's profile: `displayName`, `givenName`, `surname`, `accountEnabled`, `mailNickname`, `directoryRoles`. */
  updateUser(user: User): Promise<void>;
  /**
   * Sets the user's "TokensValidFrom" (`passwordChangedAt`, ms) without changing the password: refresh
   * tokens and sessions from before it stop working (AADSTS50173), as Graph `revokeSignInSessions`.
   */
  setTokensValidFrom(userId: string, at: number): Promise<void>;
}

/**
 * A predicate of a directory query, over Graph property names (`displayName`, `appId`…): what a
 * Graph `$filter` compiles to. Each store maps the names it supports to columns; the Graph surface
 * only sends properties the resource declares filterable. `any` is `collection/any(x: x eq value)`.
 * String comparisons are case-insensitive, as Graph's directory filters are.
 */
export type DirectoryFilter =
  | { op: "eq" | "ne"; property: string; value: string | boolean | null }
  | { op: "startsWith"; property: string; value: string }
  | { op: "in"; property: string; values: (string | boolean)[] }
  | { op: "any"; property: string; value: string }
  | { op: "and" | "or"; operands: DirectoryFilter[] }
  | { op: "not"; operand: DirectoryFilter };

/** Keyset position: the sort value of the last item of the previous page and its object id. */
export interface DirectoryCursor {
  sortValue: string | null;
  id: string;
}

/**
 * One page of a directory listing, compiled to SQL by the store: filter, one optional sort key
 * (object id breaks ties, and is the sort without one), `top` items after the cursor (keyset paging).
 */
export interface DirectoryQuery {
  filter?: DirectoryFilter;
  orderBy?: { property: string; descending: boolean };
  /** Page size, 1–999. */
  top: number;
  after?: DirectoryCursor;
  /** Also count every item matching the filter (`$count=true`), ignoring paging. */
  count: boolean;
  /** Only objects this user or service principal owns (`Application.ReadWrite.OwnedBy`). */
  ownedBy?: string;
  /** Users: only direct members of this group (Graph `groups/{id}/members`). */
  memberOf?: string;
  /** Users: only holders of this directory role template id, or of any directory role with `*` (Graph `roleAssignments`). */
  directoryRole?: string;
  /** Groups: only groups this user is a direct member of (Graph `users/{id}/memberOf`). */
  hasMember?: string;
}

/** A page of {@link DirectoryQuery}: the items, the total when asked, and where the next page starts (none on the last). */
export interface DirectoryPage<T> {
  items: T[];
  count?: number;
  next?: DirectoryCursor;
}

/** A directory object that owns another (Graph `owners`): a user or a service principal. */
export interface DirectoryObjectRef {
  id: string;
  type: "User" | "ServicePrincipal";
}

/** App registrations with their client secrets (hashes) and certificates. */
export interface ApplicationDirectory {
  /**
   * A page of the applications registered in `tenantId` (properties `id`, `appId`, `displayName`,
   * `signInAudience`, `publisherDomain`, `identifierUris` (`any`); sort by `displayName`).
   * @throws Error for a property the store does not map (the caller validates first).
   */
  queryApplications(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<Application>>;
  /** The public shapes of the client secrets and certificates of several applications, in two queries (a Graph page). */
  listApplicationCredentials(applicationIds: string[]): Promise<{ passwords: PasswordCredential[]; keys: KeyCredential[] }>;
  /** Replaces an application's properties (all but `id`, `appId`, `tenantId`) and its identifier URI index. */
  updateApplication(app: Application): Promise<void>;
  /** Removes one certificate credential; false when there was none with that key id. */
  removeKeyCredential(applicationId: string, keyId: string): Promise<boolean>;
  /** An application's owners, by when they were added. */
  listApplicationOwners(applicationId: string): Promise<DirectoryObjectRef[]>;
  /** Adds an owner unless already one; false when it was one. */
  addApplicationOwner(applicationId: string, owner: DirectoryObjectRef, now: number): Promise<boolean>;
  /** Removes an owner; false when it was not one. */
  removeApplicationOwner(applicationId: string, ownerId: string): Promise<boolean>;
  createApplication(app: Application, now: number): Promise<void>;
  findApplicationByAppId(appId: string): Promise<Application | undefined>;
  listApplications(tenantId: string): Promise<Application[]>;
  /** Applications (first-party or registered) that list `uri` in `identifierUris` (exact, case-insensitive). */
  findApplicationByIdentifierUri(uri: string): Promise<Application | undefined>;
  addPasswordCredential(credential: StoredPasswordCredential, now: number): Promise<void>;
  listPasswordCredentials(applicationId: string): Promise<StoredPasswordCredential[]>;
  /** Removes one client secret of an application; false when there was none with that key id. */
  removePasswordCredential(applicationId: string, keyId: string): Promise<boolean>;
  addKeyCredential(credential: KeyCredential, now: number): Promise<void>;
  listKeyCredentials(applicationId: string): Promise<KeyCredential[]>;
  /**
   * Deletes an application (object id) with its credentials and identifier URIs, and its service
   * principals in every tenant with the grants and assignments that name them.
   */
  deleteApplication(applicationId: string): Promise<void>;
}

/** Service principals (enterprise applications), one per app and tenant. */
export interface ServicePrincipalDirectory {
  createServicePrincipal(sp: ServicePrincipal, now: number): Promise<void>;
  findServicePrincipal(tenantId: string, appId: string): Promise<ServicePrincipal | undefined>;
  /** A service principal by object id, in a tenant. */
  findServicePrincipalById(tenantId: string, id: string): Promise<ServicePrincipal | undefined>;
  /** The service principals in a tenant (first-party ones included), by creation time. */
  listServicePrincipals(tenantId: string): Promise<ServicePrincipal[]>;
  /** Sets a service principal's `appRoleAssignmentRequired`. */
  setAppRoleAssignmentRequired(servicePrincipalId: string, required: boolean): Promise<void>;
  /**
   * A page of the service principals in `tenantId` (properties `id`, `appId`, `displayName`,
   * `accountEnabled`, `appOwnerOrganizationId`; keyset by object id, no sort key).
   * @throws Error for a property the store does not map (the caller validates first).
   */
  queryServicePrincipals(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<ServicePrincipal>>;
  /** Sets a service principal's `accountEnabled` (false: AADSTS7000112 on every token request of the app in its tenant). */
  setServicePrincipalAccountEnabled(servicePrincipalId: string, enabled: boolean): Promise<void>;
  /**
   * Deletes a service principal with the delegated grants and app role assignments that name it (as
   * client, resource or principal), and revokes the refresh tokens of its app in its tenant, in one transaction.
   */
  deleteServicePrincipal(servicePrincipalId: string, now: number): Promise<void>;
}

/** Delegated permission grants (`oauth2PermissionGrants`, consent). */
export interface PermissionGrantDirectory {
  /** Delegated grants from client SP `clientId` to resource SP `resourceId` in a tenant. */
  listPermissionGrants(tenantId: string, clientId: string, resourceId: string): Promise<OAuth2PermissionGrant[]>;
  /** Inserts a grant, or replaces the scope of the grant with the same (client, consentType, principal, resource). */
  upsertPermissionGrant(grant: OAuth2PermissionGrant, now: number): Promise<void>;
  /** Every delegated grant in a tenant, by creation time. */
  listOAuth2PermissionGrants(tenantId: string): Promise<OAuth2PermissionGrant[]>;
  /** A delegated grant by id. */
  findPermissionGrant(id: string): Promise<OAuth2PermissionGrant | undefined>;
  /** Deletes a delegated grant by id. */
  deletePermissionGrant(id: string): Promise<void>;
  /**
   * A page of the delegated grants in `tenantId` (properties `id`, `clientId`, `resourceId`,
   * `consentType`, `principalId`; keyset by id).
   * @throws Error for a property the store does not map (the caller validates first).
   */
  queryPermissionGrants(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<OAuth2PermissionGrant>>;
  /** Replaces the `scope` of a grant; false when there is no grant with that id. */
  setPermissionGrantScope(id: string, scope: string): Promise<boolean>;
}

/** App role assignments: application permissions, and users and groups assigned to an app. */
export interface AppRoleAssignmentDirectory {
  /** Application permissions of client SP `principalId` on resource SP `resourceId`. */
  listAppRoleAssignments(principalId: string, resourceId: string): Promise<AppRoleAssignment[]>;
  /** Adds an assignment unless the same (principal, resource, appRoleId) exists. */
  addAppRoleAssignment(assignment: AppRoleAssignment, now: number): Promise<void>;
  /** User and group assignments to resource SP `resourceId` (Users and Groups), by creation time. */
  listAppRoleAssignedTo(resourceId: string): Promise<AppRoleAssignment[]>;
  /** Whether a user is assigned to resource SP `resourceId` directly or through a group it is a member of. */
  isUserAssigned(userId: string, resourceId: string): Promise<boolean>;
  /** An assignment by id. */
  findAppRoleAssignment(id: string): Promise<AppRoleAssignment | undefined>;
  /** Deletes an assignment by id; false when there was none. */
  deleteAppRoleAssignment(id: string): Promise<boolean>;
  /**
   * A page of the assignments in `tenantId` of every principal type (users, groups, service principals)
   * granted to `principalId` (Graph `…/appRoleAssignments`) or to resource SP `resourceId` (Graph
   * `servicePrincipals/{id}/appRoleAssignedTo`); keyset by id, no filter or sort key.
   */
  queryAppRoleAssignments(tenantId: string, by: { principalId: string } | { resourceId: string }, query: DirectoryQuery): Promise<DirectoryPage<AppRoleAssignment>>;
  /** The app role assignments granted to one principal (user, group or service principal) in a tenant, by creation time. */
  listAppRoleAssignmentsOfPrincipal(tenantId: string, principalId: string): Promise<AppRoleAssignment[]>;
  /** Deletes one assignment of a principal in a tenant; false when there was none. */
  deleteAppRoleAssignmentOfPrincipal(tenantId: string, principalId: string, assignmentId: string): Promise<boolean>;
}

/** Security groups and their direct members. */
export interface GroupDirectory {
  createGroup(group: Group, now: number): Promise<void>;
  findGroup(tenantId: string, idOrDisplayName: string): Promise<Group | undefined>;
  /** A tenant's groups with their members, by display name. */
  listGroups(tenantId: string): Promise<Group[]>;
  /** Adds a member unless already one. */
  addGroupMember(groupId: string, userId: string, now: number): Promise<void>;
  /** Removes a member; false when the user was not one. */
  removeGroupMember(groupId: string, userId: string): Promise<boolean>;
  /** Object ids of the groups a user is a direct member of, ordered. */
  listMemberGroupIds(userId: string): Promise<string[]>;
  /**
   * A page of a tenant's groups, without members (properties `id`, `displayName`, `mailNickname`;
   * sort by `displayName`; {@link DirectoryQuery.hasMember} limits to a user's groups).
   * @throws Error for a property the store does not map (the caller validates first).
   */
  queryGroups(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<Omit<Group, "members">>>;
  /** Replaces a group's `displayName` and `mailNickname`. */
  updateGroup(group: Omit<Group, "members">): Promise<void>;
  /** Deletes a group with its memberships and the app role assignments made to it. */
  deleteGroup(groupId: string): Promise<void>;
}

/** The token-signing keys (private keys stay inside identity). */
export interface SigningKeyStore {
  listSigningKeys(): Promise<StoredSigningKey[]>;
  addSigningKey(key: StoredSigningKey): Promise<void>;
  /** Sets when a signing key stops being published (ms). */
  retireSigningKey(kid: string, retiresAt: number): Promise<void>;
  /**
   * The secret stored under `name`, storing `create()`'s value first when there is none: every process
   * on the store gets the same value (the first writer's). Used for the sign-in pages' anti-forgery key.
   */
  sharedSecret(name: string, create: () => string): Promise<string>;
}

/** Authorization codes (hashes), single use. */
export interface AuthorizationCodeStore {
  createAuthorizationCode(code: StoredAuthorizationCode): Promise<void>;
  findAuthorizationCode(codeHash: string): Promise<StoredAuthorizationCode | undefined>;
  /** Marks a code redeemed if it is not yet; true only for the call that redeemed it. */
  redeemAuthorizationCode(id: string, now: number): Promise<boolean>;
}

/** Refresh tokens (hashes), their rotation and revocation. */
export interface RefreshTokenStore {
  createRefreshToken(token: StoredRefreshToken): Promise<void>;
  findRefreshToken(tokenHash: string): Promise<StoredRefreshToken | undefined>;
  /** Atomically revokes `oldId` (if still active) and stores `next`; false if `oldId` was already revoked. */
  rotateRefreshToken(oldId: string, next: StoredRefreshToken, now: number): Promise<boolean>;
  /** Revokes every refresh token descended from an authorization code; returns how many. */
  revokeRefreshTokensOfCode(codeId: string, now: number): Promise<number>;
  /** Revokes every active refresh token of a family ({@link StoredRefreshToken.familyId}); returns how many. */
  revokeRefreshTokenFamily(familyId: string, now: number): Promise<number>;
  /** Revokes the active refresh tokens in a tenant of the client whose service principal is given, of one user or all; returns how many. */
  revokeRefreshTokensOfClient(filter: { tenantId: string; clientServicePrincipalId: string; userId?: string }, now: number): Promise<number>;
}

/** Device codes (hashes of the device and user codes) of the device authorization grant. */
export interface DeviceCodeStore {
  createDeviceCode(code: StoredDeviceCode): Promise<void>;
  findDeviceCode(by: { deviceCodeHash: string } | { userCodeHash: string }): Promise<StoredDeviceCode | undefined>;
  /** Moves a code from `from` to `to` (with the deciding user); true only for the call that moved it. */
  transitionDeviceCode(id: string, from: DeviceCodeStatus, to: DeviceCodeStatus, user?: { userId: string; authTime: number }): Promise<boolean>;
}

/** Browser sign-in sessions (hash of the cookie value). */
export interface SignInSessionStore {
  createSignInSession(session: StoredSignInSession): Promise<void>;
  findSignInSession(tokenHash: string): Promise<StoredSignInSession | undefined>;
  revokeSignInSession(id: string, now: number): Promise<void>;
}

/** Client-assertion `jti`s seen (hashes), for replay refusal. */
export interface AssertionReplayStore {
  /**
   * Records a client-assertion `jti` (as a hash) until `expiresAt` (ms); false when it
   * was already recorded (a replay). Forgets recorded values that expired before `now`.
   */
  recordAssertionJti(jtiHash: string, expiresAt: number, now: number): Promise<boolean>;
}

/** Smart-lockout counters of password sign-ins. */
export interface SignInLockoutStore {
  /** A user's smart-lockout state; zero failures and unlocked for an unknown user. */
  findSignInLockout(userId: string): Promise<SignInLockoutState>;
  /**
   * Counts one wrong password, atomically: adds one to the failures and, when they reach
   * `threshold`, locks the user until `lockUntil` (ms). Returns the state after the update.
   */
  recordFailedSignIn(userId: string, threshold: number, lockUntil: number): Promise<SignInLockoutState>;
  /** Clears the failures and the lock (a successful password sign-in). */
  clearFailedSignIns(userId: string): Promise<void>;
}

/** What must happen interactively before a user's sign-ins count again: see `interaction.ts`. */
export type InteractionKind = "mfa" | "mfaRegistration";

/** One interaction requirement: on a user, or on a client app's service principal (every user of it). */
export interface InteractionRequirement {
  tenantId: string;
  subjectType: "user" | "servicePrincipal";
  /** The user's or the service principal's object id. */
  subjectId: string;
  kind: InteractionKind;
  /** Since when (ms, UTC): sign-ins authenticated before it must pass the sign-in page's step. */
  since: number;
}

/** The "require MFA" switches (uncached: one indexed read per refresh and sign-in). */
export interface InteractionRequirementStore {
  /** Sets (or re-sets, moving `since`) a requirement. */
  requireInteraction(requirement: InteractionRequirement): Promise<void>;
  /** Removes a requirement; false when there was none. */
  clearInteractionRequirement(subjectId: string, kind: InteractionKind): Promise<boolean>;
  /** The requirements on any of `subjectIds` (object ids, lower-case). */
  findInteractionRequirements(subjectIds: string[]): Promise<InteractionRequirement[]>;
}

/**
 * Directory objects: tenants, users, groups, applications, service principals, grants,
 * assignments and signing keys. Long-lived and read on every token request, so identity
 * caches reads of it in memory (see `CachedIdentityStore`), invalidated by its own writes.
 */
export interface DirectoryStore extends TenantDirectory, UserDirectory, ApplicationDirectory, ServicePrincipalDirectory, PermissionGrantDirectory, AppRoleAssignmentDirectory, GroupDirectory, SigningKeyStore {}

/**
 * Short-lived artifacts of sign-ins: authorization codes, refresh tokens, device codes,
 * browser sessions, assertion `jti`s and lockout counters. Each read must see the latest
 * write (single use, replay and lockout checks), so they are never cached.
 */
export interface ArtifactStore extends AuthorizationCodeStore, RefreshTokenStore, DeviceCodeStore, SignInSessionStore, AssertionReplayStore, SignInLockoutStore, InteractionRequirementStore {}

/** Identity's whole persistence port. `src/store/` implements it for each SQL dialect. */
export interface IdentityStore extends DirectoryStore, ArtifactStore {}
