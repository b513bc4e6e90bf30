import type { StoredSigningKey } from "../common/keys.ts";
import type { AppRoleAssignment, Application, Group, KeyCredential, OAuth2PermissionGrant, PasswordCredential, ServicePrincipal, Tenant, User } from "./model.ts";
import type {
  ArtifactStore,
  DeviceCodeStatus,
  DirectoryObjectRef,
  DirectoryPage,
  DirectoryQuery,
  DirectoryStore,
  IdentityStore,
  InteractionKind,
  InteractionRequirement,
  SignInLockoutState,
  StoredAuthorizationCode,
  StoredDeviceCode,
  StoredPasswordCredential,
  StoredRefreshToken,
  StoredSignInSession,
} from "./store.ts";

/** Freezes `value` and everything it holds (plain directory objects and arrays). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Entries kept before the cache starts over (each is one small directory object). */
const MAX_ENTRIES = 10_000;

/**
 * A {@link DirectoryStore} that answers the lookups every token request makes (tenant by id or
 * domain, app by appId or identifier URI, service principal, password and key credentials, app
 * role assignments) from memory after the first time, and passes everything else to `inner`.
 *
 * Invalidation, not expiry: each write that may change a cached answer (tenants, applications and
 * their credentials, service principals, grants, assignments, deletions) empties the whole cache,
 * before it starts and again when it ends, and a read that was in flight across a write does not
 * store its (possibly stale) answer. Writes to users, groups and signing keys keep it (no cached read
 * looks at them). Writes that bypass the store (a snapshot restore) must call {@link invalidateCaches}.
 * After each such write, and after a signing-key write, `onChange` is awaited before the write returns:
 * it tells other processes on the store to drop theirs (see `Database.announceChange`).
 * Answers are deep-frozen and shared: a caller that tries to alter one gets a `TypeError`
 * (ES modules are strict) instead of silently changing what the next request sees.
 * Every method is written out, so the compiler makes a method added to the port choose its caching.
 */
class CachedDirectoryStore implements DirectoryStore {
  private readonly entries = new Map<string, unknown>();
  private generation = 0;
  private readonly inner: DirectoryStore;
  private readonly onChange: () => Promise<void>;

  /** @param onChange awaited after each write other processes may cache (default: nothing). */
  constructor(inner: DirectoryStore, onChange: () => Promise<void> = async () => undefined) {
    this.inner = inner;
    this.onChange = onChange;
  }

  /** Forgets every cached answer: call after the database changed behind the store's back (snapshot restore). */
  invalidateCaches(): void {
    this.generation++;
    this.entries.clear();
  }

  /** A cached read: the remembered answer for `key`, else `read`'s (frozen; kept unless a write ran meanwhile). */
  private async cached<T>(key: string, read: () => Promise<T>): Promise<T> {
    if (this.entries.has(key)) return this.entries.get(key) as T;
    const started = this.generation;
    const result = deepFreeze(await read());
    if (started === this.generation) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(key, result);
    }
    return result;
  }

  /** A write that may change a cached answer: empties the cache before and after it, then tells the other processes. */
  private async write<T>(run: () => Promise<T>): Promise<T> {
    this.invalidateCaches();
    try {
      return await run();
    } finally {
      this.invalidateCaches();
      // Also after a failed write: part of it may have committed.
      await this.onChange();
    }
  }

  /** A write no cached read looks at but another process may hold (signing keys): tells the other processes. */
  private async announced<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } finally {
      await this.onChange();
    }
  }

  // ── TenantDirectory ──

  createTenant(tenant: Tenant, now: number): Promise<void> {
    return this.write(() => this.inner.createTenant(tenant, now));
  }

  findTenant(idOrDomain: string): Promise<Tenant | undefined> {
    return this.cached(`findTenant\u0000${JSON.stringify([idOrDomain])}`, () => this.inner.findTenant(idOrDomain));
  }

  listTenants(): Promise<Tenant[]> {
    return this.inner.listTenants();
  }

  deleteTenant(tenantId: string): Promise<void> {
    return this.write(() => this.inner.deleteTenant(tenantId));
  }

  // ── UserDirectory ──

  createUser(user: User, passwordHash: string, now: number): Promise<void> {
    return this.inner.createUser(user, passwordHash, now);
  }

  findUserByUpn(upn: string): Promise<(User & { passwordHash: string }) | undefined> {
    return this.inner.findUserByUpn(upn);
  }

  findUserById(id: string): Promise<User | undefined> {
    return this.inner.findUserById(id);
  }

  listUsers(tenantId: string): Promise<User[]> {
    return this.inner.listUsers(tenantId);
  }

  setUserPassword(userId: string, passwordHash: string, changedAt: number): Promise<void> {
    return this.inner.setUserPassword(userId, passwordHash, changedAt);
  }

  setUserAccountEnabled(userId: string, enabled: boolean): Promise<void> {
    return this.inner.setUserAccountEnabled(userId, enabled);
  }

  deleteUser(userId: string, now: number): Promise<void> {
    return this.write(() => this.inner.deleteUser(userId, now));
  }

  queryUsers(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<User>> {
    return this.inner.queryUsers(tenantId, query);
  }

  updateUser(user: User): Promise<void> {
    return this.inner.updateUser(user);
  }

  setTokensValidFrom(userId: string, at: number): Promise<void> {
    return this.inner.setTokensValidFrom(userId, at);
  }

  // ── ApplicationDirectory ──

  createApplication(app: Application, now: number): Promise<void> {
    return this.write(() => this.inner.createApplication(app, now));
  }

  findApplicationByAppId(appId: string): Promise<Application | undefined> {
    return this.cached(`findApplicationByAppId\u0000${JSON.stringify([appId])}`, () => this.inner.findApplicationByAppId(appId));
  }

  listApplications(tenantId: string): Promise<Application[]> {
    return this.inner.listApplications(tenantId);
  }

  findApplicationByIdentifierUri(uri: string): Promise<Application | undefined> {
    return this.cached(`findApplicationByIdentifierUri\u0000${JSON.stringify([uri])}`, () => this.inner.findApplicationByIdentifierUri(uri));
  }

  addPasswordCredential(credential: StoredPasswordCredential, now: number): Promise<void> {
    return this.write(() => this.inner.addPasswordCredential(credential, now));
  }

  listPasswordCredentials(applicationId: string): Promise<StoredPasswordCredential[]> {
    return this.cached(`listPasswordCredentials\u0000${JSON.stringify([applicationId])}`, () => this.inner.listPasswordCredentials(applicationId));
  }

  removePasswordCredential(applicationId: string, keyId: string): Promise<boolean> {
    return this.write(() => this.inner.removePasswordCredential(applicationId, keyId));
  }

  addKeyCredential(credential: KeyCredential, now: number): Promise<void> {
    return this.write(() => this.inner.addKeyCredential(credential, now));
  }

  listKeyCredentials(applicationId: string): Promise<KeyCredential[]> {
    return this.cached(`listKeyCredentials\u0000${JSON.stringify([applicationId])}`, () => this.inner.listKeyCredentials(applicationId));
  }

  deleteApplication(applicationId: string): Promise<void> {
    return this.write(() => this.inner.deleteApplication(applicationId));
  }

  queryApplications(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<Application>> {
    return this.inner.queryApplications(tenantId, query);
  }

  listApplicationCredentials(applicationIds: string[]): Promise<{ passwords: PasswordCredential[]; keys: KeyCredential[] }> {
    return this.inner.listApplicationCredentials(applicationIds);
  }

  updateApplication(app: Application): Promise<void> {
    return this.write(() => this.inner.updateApplication(app));
  }

  removeKeyCredential(applicationId: string, keyId: string): Promise<boolean> {
    return this.write(() => this.inner.removeKeyCredential(applicationId, keyId));
  }

  listApplicationOwners(applicationId: string): Promise<DirectoryObjectRef[]> {
    return this.inner.listApplicationOwners(applicationId);
  }

  addApplicationOwner(applicationId: string, owner: DirectoryObjectRef, now: number): Promise<boolean> {
    return this.inner.addApplicationOwner(applicationId, owner, now);
  }

  removeApplicationOwner(applicationId: string, ownerId: string): Promise<boolean> {
    return this.inner.removeApplicationOwner(applicationId, ownerId);
  }

  // ── ServicePrincipalDirectory ──

  createServicePrincipal(sp: ServicePrincipal, now: number): Promise<void> {
    return this.write(() => this.inner.createServicePrincipal(sp, now));
  }

  findServicePrincipal(tenantId: string, appId: string): Promise<ServicePrincipal | undefined> {
    return this.cached(`findServicePrincipal\u0000${JSON.stringify([tenantId, appId])}`, () => this.inner.findServicePrincipal(tenantId, appId));
  }

  findServicePrincipalById(tenantId: string, id: string): Promise<ServicePrincipal | undefined> {
    return this.inner.findServicePrincipalById(tenantId, id);
  }

  queryServicePrincipals(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<ServicePrincipal>> {
    return this.inner.queryServicePrincipals(tenantId, query);
  }

  setServicePrincipalAccountEnabled(servicePrincipalId: string, enabled: boolean): Promise<void> {
    return this.write(() => this.inner.setServicePrincipalAccountEnabled(servicePrincipalId, enabled));
  }

  deleteServicePrincipal(servicePrincipalId: string, now: number): Promise<void> {
    return this.write(() => this.inner.deleteServicePrincipal(servicePrincipalId, now));
  }

  listServicePrincipals(tenantId: string): Promise<ServicePrincipal[]> {
    return this.inner.listServicePrincipals(tenantId);
  }

  setAppRoleAssignmentRequired(servicePrincipalId: string, required: boolean): Promise<void> {
    return this.write(() => this.inner.setAppRoleAssignmentRequired(servicePrincipalId, required));
  }

  // ── PermissionGrantDirectory ──

  listPermissionGrants(tenantId: string, clientId: string, resourceId: string): Promise<OAuth2PermissionGrant[]> {
    return this.inner.listPermissionGrants(tenantId, clientId, resourceId);
  }

  upsertPermissionGrant(grant: OAuth2PermissionGrant, now: number): Promise<void> {
    return this.write(() => this.inner.upsertPermissionGrant(grant, now));
  }

  listOAuth2PermissionGrants(tenantId: string): Promise<OAuth2PermissionGrant[]> {
    return this.inner.listOAuth2PermissionGrants(tenantId);
  }

  findPermissionGrant(id: string): Promise<OAuth2PermissionGrant | undefined> {
    return this.inner.findPermissionGrant(id);
  }

  deletePermissionGrant(id: string): Promise<void> {
    return this.write(() => this.inner.deletePermissionGrant(id));
  }

  queryPermissionGrants(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<OAuth2PermissionGrant>> {
    return this.inner.queryPermissionGrants(tenantId, query);
  }

  setPermissionGrantScope(id: string, scope: string): Promise<boolean> {
    return this.write(() => this.inner.setPermissionGrantScope(id, scope));
  }

  // ── AppRoleAssignmentDirectory ──

  listAppRoleAssignments(principalId: string, resourceId: string): Promise<AppRoleAssignment[]> {
    return this.cached(`listAppRoleAssignments\u0000${JSON.stringify([principalId, resourceId])}`, () => this.inner.listAppRoleAssignments(principalId, resourceId));
  }

  addAppRoleAssignment(assignment: AppRoleAssignment, now: number): Promise<void> {
    return this.write(() => this.inner.addAppRoleAssignment(assignment, now));
  }

  listAppRoleAssignedTo(resourceId: string): Promise<AppRoleAssignment[]> {
    return this.inner.listAppRoleAssignedTo(resourceId);
  }

  isUserAssigned(userId: string, resourceId: string): Promise<boolean> {
    return this.inner.isUserAssigned(userId, resourceId);
  }

  findAppRoleAssignment(id: string): Promise<AppRoleAssignment | undefined> {
    return this.inner.findAppRoleAssignment(id);
  }

  deleteAppRoleAssignment(id: string): Promise<boolean> {
    return this.write(() => this.inner.deleteAppRoleAssignment(id));
  }

  queryAppRoleAssignments(tenantId: string, by: { principalId: string } | { resourceId: string }, query: DirectoryQuery): Promise<DirectoryPage<AppRoleAssignment>> {
    return this.inner.queryAppRoleAssignments(tenantId, by, query);
  }

  listAppRoleAssignmentsOfPrincipal(tenantId: string, principalId: string): Promise<AppRoleAssignment[]> {
    return this.inner.listAppRoleAssignmentsOfPrincipal(tenantId, principalId);
  }

  deleteAppRoleAssignmentOfPrincipal(tenantId: string, principalId: string, assignmentId: string): Promise<boolean> {
    return this.write(() => this.inner.deleteAppRoleAssignmentOfPrincipal(tenantId, principalId, assignmentId));
  }

  // ── GroupDirectory ──

  createGroup(group: Group, now: number): Promise<void> {
    return this.inner.createGroup(group, now);
  }

  findGroup(tenantId: string, idOrDisplayName: string): Promise<Group | undefined> {
    return this.inner.findGroup(tenantId, idOrDisplayName);
  }

  listGroups(tenantId: string): Promise<Group[]> {
    return this.inner.listGroups(tenantId);
  }

  addGroupMember(groupId: string, userId: string, now: number): Promise<void> {
    return this.inner.addGroupMember(groupId, userId, now);
  }

  removeGroupMember(groupId: string, userId: string): Promise<boolean> {
    return this.inner.removeGroupMember(groupId, userId);
  }

  listMemberGroupIds(userId: string): Promise<string[]> {
    return this.inner.listMemberGroupIds(userId);
  }

  queryGroups(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<Omit<Group, "members">>> {
    return this.inner.queryGroups(tenantId, query);
  }

  updateGroup(group: Omit<Group, "members">): Promise<void> {
    return this.inner.updateGroup(group);
  }

  deleteGroup(groupId: string): Promise<void> {
    // Removes the group's app role assignments, which the token path caches.
    return this.write(() => this.inner.deleteGroup(groupId));
  }

  // ── SigningKeyStore ──

  listSigningKeys(): Promise<StoredSigningKey[]> {
    return this.inner.listSigningKeys();
  }

  addSigningKey(key: StoredSigningKey): Promise<void> {
    return this.announced(() => this.inner.addSigningKey(key));
  }

  retireSigningKey(kid: string, retiresAt: number): Promise<void> {
    return this.announced(() => this.inner.retireSigningKey(kid, retiresAt));
  }

  sharedSecret(name: string, create: () => string): Promise<string> {
    return this.inner.sharedSecret(name, create);
  }
}

/**
 * The identity store identity runs on: directory objects through {@link CachedDirectoryStore},
 * short-lived artifacts (codes, refresh tokens, device codes, sessions, assertion `jti`s, lockout
 * counters) straight to the database, never cached: each read must see the latest write.
 */
export class CachedIdentityStore extends CachedDirectoryStore implements IdentityStore {
  private readonly artifacts: ArtifactStore;

  /** @param onChange see {@link CachedDirectoryStore}. */
  constructor(inner: IdentityStore, onChange?: () => Promise<void>) {
    super(inner, onChange);
    this.artifacts = inner;
  }

  // ── AuthorizationCodeStore ──

  createAuthorizationCode(code: StoredAuthorizationCode): Promise<void> {
    return this.artifacts.createAuthorizationCode(code);
  }

  findAuthorizationCode(codeHash: string): Promise<StoredAuthorizationCode | undefined> {
    return this.artifacts.findAuthorizationCode(codeHash);
  }

  redeemAuthorizationCode(id: string, now: number): Promise<boolean> {
    return this.artifacts.redeemAuthorizationCode(id, now);
  }

  // ── RefreshTokenStore ──

  createRefreshToken(token: StoredRefreshToken): Promise<void> {
    return this.artifacts.createRefreshToken(token);
  }

  findRefreshToken(tokenHash: string): Promise<StoredRefreshToken | undefined> {
    return this.artifacts.findRefreshToken(tokenHash);
  }

  rotateRefreshToken(oldId: string, next: StoredRefreshToken, now: number): Promise<boolean> {
    return this.artifacts.rotateRefreshToken(oldId, next, now);
  }

  revokeRefreshTokensOfCode(codeId: string, now: number): Promise<number> {
    return this.artifacts.revokeRefreshTokensOfCode(codeId, now);
  }

  revokeRefreshTokenFamily(familyId: string, now: number): Promise<number> {
    return this.artifacts.revokeRefreshTokenFamily(familyId, now);
  }

  revokeRefreshTokensOfClient(filter: { tenantId: string; clientServicePrincipalId: string; userId?: string }, now: number): Promise<number> {
    return this.artifacts.revokeRefreshTokensOfClient(filter, now);
  }

  // ── DeviceCodeStore ──

  createDeviceCode(code: StoredDeviceCode): Promise<void> {
    return this.artifacts.createDeviceCode(code);
  }

  findDeviceCode(by: { deviceCodeHash: string } | { userCodeHash: string }): Promise<StoredDeviceCode | undefined> {
    return this.artifacts.findDeviceCode(by);
  }

  transitionDeviceCode(id: string, from: DeviceCodeStatus, to: DeviceCodeStatus, user?: { userId: string; authTime: number }): Promise<boolean> {
    return this.artifacts.transitionDeviceCode(id, from, to, user);
  }

  // ── SignInSessionStore ──

  createSignInSession(session: StoredSignInSession): Promise<void> {
    return this.artifacts.createSignInSession(session);
  }

  findSignInSession(tokenHash: string): Promise<StoredSignInSession | undefined> {
    return this.artifacts.findSignInSession(tokenHash);
  }

  revokeSignInSession(id: string, now: number): Promise<void> {
    return this.artifacts.revokeSignInSession(id, now);
  }

  // ── AssertionReplayStore ──

  recordAssertionJti(jtiHash: string, expiresAt: number, now: number): Promise<boolean> {
    return this.artifacts.recordAssertionJti(jtiHash, expiresAt, now);
  }

  // ── SignInLockoutStore ──

  findSignInLockout(userId: string): Promise<SignInLockoutState> {
    return this.artifacts.findSignInLockout(userId);
  }

  recordFailedSignIn(userId: string, threshold: number, lockUntil: number): Promise<SignInLockoutState> {
    return this.artifacts.recordFailedSignIn(userId, threshold, lockUntil);
  }

  clearFailedSignIns(userId: string): Promise<void> {
    return this.artifacts.clearFailedSignIns(userId);
  }

  // ── InteractionRequirementStore ──

  requireInteraction(requirement: InteractionRequirement): Promise<void> {
    return this.artifacts.requireInteraction(requirement);
  }

  clearInteractionRequirement(subjectId: string, kind: InteractionKind): Promise<boolean> {
    return this.artifacts.clearInteractionRequirement(subjectId, kind);
  }

  findInteractionRequirements(subjectIds: string[]): Promise<InteractionRequirement[]> {
    return this.artifacts.findInteractionRequirements(subjectIds);
  }
}
