import { sql, type Expression, type ExpressionBuilder, type Kysely, type RawBuilder, type Selectable, type SqlBool } from "kysely";
import type { StoredSigningKey } from "../common/keys.ts";
import type { AppRoleAssignment, Application, Group, KeyCredential, OAuth2PermissionGrant, PasswordCredential, ServicePrincipal, Tenant, User } from "../identity/model.ts";
import type { ClientKind, DeviceCodeStatus, DirectoryCursor, DirectoryFilter, DirectoryObjectRef, DirectoryPage, DirectoryQuery, IdentityStore, InteractionKind, InteractionRequirement, StoredAuthorizationCode, StoredDeviceCode, StoredPasswordCredential, SignInLockoutState, StoredRefreshToken, StoredSignInSession } from "../identity/store.ts";
import type { Schema } from "./schema.ts";

const json = (value: unknown): string => JSON.stringify(value);
const parse = <T>(text: string): T => JSON.parse(text) as T;

/** Kysely implementation of the identity port; dialect-neutral SQL only. */
export class SqlIdentityStore implements IdentityStore {
  private readonly db: Kysely<Schema>;

  constructor(db: Kysely<Schema>) {
    this.db = db;
}

  async createTenant(tenant: Tenant, now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto("tenants").values({ id: tenant.id.toLowerCase(), display_name: tenant.displayName, default_domain: tenant.defaultDomain.toLowerCase(), created_at: now }).execute();
      const domains = [tenant.defaultDomain, ...tenant.domains].map((d) => d.toLowerCase());
      for (const domain of new Set(domains)) {
        await trx.insertInto("tenant_domains").values({ domain, tenant_id: tenant.id.toLowerCase(), is_default: domain === tenant.defaultDomain.toLowerCase() ? 1 : 0 }).execute();
      }
    });
  }

  async findTenant(idOrDomain: string): Promise<Tenant | undefined> {
    const key = idOrDomain.toLowerCase();
    const row = await this.db
      .selectFrom("tenants")
      .selectAll()
      .where((eb) => eb.or([eb("id", "=", key), eb("id", "in", eb.selectFrom("tenant_domains").select("tenant_id").where("domain", "=", key))]))
      .executeTakeFirst();
    return row ? this.toTenant(row) : undefined;
  }

  async listTenants(): Promise<Tenant[]> {
    const rows = await this.db.selectFrom("tenants").selectAll().orderBy("created_at").execute();
    return Promise.all(rows.map((r) => this.toTenant(r)));
  }

  private async toTenant(row: Selectable<Schema["tenants"]>): Promise<Tenant> {
    const domains = await this.db.selectFrom("tenant_domains").select("domain").where("tenant_id", "=", row.id).orderBy("is_default", "desc").orderBy("domain").execute();
    return { id: row.id, displayName: row.display_name, defaultDomain: row.default_domain, domains: domains.map((d) => d.domain) };
  }

  async createUser(user: User, passwordHash: string, now: number): Promise<void> {
    await this.db
      .insertInto("users")
      .values({
        id: user.id,
        tenant_id: user.tenantId,
        upn: user.userPrincipalName.toLowerCase(),
        display_name: user.displayName,
        given_name: user.givenName,
        surname: user.surname,
        password_hash: passwordHash,
        enabled: user.accountEnabled ? 1 : 0,
        directory_roles: json(user.directoryRoles),
        password_changed_at: user.passwordChangedAt,
        created_at: now,
        ...(user.mailNickname ? { mail_nickname: user.mailNickname } : {}),
      })
      .execute();
  }

  async findUserByUpn(upn: string): Promise<(User & { passwordHash: string }) | undefined> {
    const row = await this.db.selectFrom("users").selectAll().where("upn", "=", upn.toLowerCase()).executeTakeFirst();
    return row ? { ...toUser(row), passwordHash: row.password_hash } : undefined;
  }

  async findUserById(id: string): Promise<User | undefined> {
    const row = await this.db.selectFrom("users").selectAll().where("id", "=", id.toLowerCase()).executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async createApplication(app: Application, now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
    await trx
      .insertInto("applications")
      .values({
        id: app.id,
        app_id: app.appId,
        tenant_id: app.tenantId,
        display_name: app.displayName,
        sign_in_audience: app.signInAudience,
        identifier_uris: json(app.identifierUris),
        web_redirect_uris: json(app.web.redirectUris),
        spa_redirect_uris: json(app.spa.redirectUris),
        public_client_redirect_uris: json(app.publicClient.redirectUris),
        is_fallback_public_client: app.isFallbackPublicClient ? 1 : 0,
        required_resource_access: json(app.requiredResourceAccess),
        app_roles: json(app.appRoles),
        oauth2_permission_scopes: json(app.api.oauth2PermissionScopes),
        publisher_domain: app.publisherDomain,
        group_membership_claims: app.groupMembershipClaims ?? null,
        requested_access_token_version: app.api.requestedAccessTokenVersion ?? null,
        web_implicit_grant_settings: app.web.implicitGrantSettings ? json(app.web.implicitGrantSettings) : null,
        web_logout_url: app.web.logoutUrl ?? null,
        created_at: now,
      })
      .execute();
    for (const uri of new Set(app.identifierUris.map((u) => u.toLowerCase()))) {
      await trx.insertInto("identifier_uris").values({ uri, application_id: app.id }).execute();
    }
    });
  }

  async findApplicationByAppId(appId: string): Promise<Application | undefined> {
    const row = await this.db.selectFrom("applications").selectAll().where("app_id", "=", appId.toLowerCase()).executeTakeFirst();
    return row ? toApplication(row) : undefined;
  }

  async listApplications(tenantId: string): Promise<Application[]> {
    const rows = await this.db.selectFrom("applications").selectAll().where("tenant_id", "=", tenantId).orderBy("created_at").execute();
    return rows.map(toApplication);
  }

  async findApplicationByIdentifierUri(uri: string): Promise<Application | undefined> {
    const row = await this.db
      .selectFrom("applications")
      .innerJoin("identifier_uris", "identifier_uris.application_id", "applications.id")
      .selectAll("applications")
      .where("identifier_uris.uri", "=", uri.toLowerCase())
      .executeTakeFirst();
    return row ? toApplication(row) : undefined;
  }

  async addPasswordCredential(c: StoredPasswordCredential, now: number): Promise<void> {
    await this.db
      .insertInto("password_credentials")
      .values({ key_id: c.keyId, application_id: c.applicationId, display_name: c.displayName, hint: c.hint, secret_hash: c.secretHash, start_at: c.startDateTime, end_at: c.endDateTime, created_at: now })
      .execute();
  }

  async listPasswordCredentials(applicationId: string): Promise<StoredPasswordCredential[]> {
    const rows = await this.db.selectFrom("password_credentials").selectAll().where("application_id", "=", applicationId).execute();
    return rows.map((r) => ({
      keyId: r.key_id,
      applicationId: r.application_id,
      displayName: r.display_name,
      hint: r.hint,
      secretHash: r.secret_hash,
      startDateTime: Number(r.start_at),
      endDateTime: Number(r.end_at),
    }));
  }

  async addKeyCredential(c: KeyCredential, now: number): Promise<void> {
    await this.db
      .insertInto("key_credentials")
      .values({
        key_id: c.keyId,
        application_id: c.applicationId,
        display_name: c.displayName,
        custom_key_identifier: c.customKeyIdentifier,
        thumbprint_sha256: c.thumbprintSha256,
        certificate_b64: c.certificateB64,
        start_at: c.startDateTime,
        end_at: c.endDateTime,
        created_at: now,
      })
      .execute();
  }

  async listKeyCredentials(applicationId: string): Promise<KeyCredential[]> {
    const rows = await this.db.selectFrom("key_credentials").selectAll().where("application_id", "=", applicationId).orderBy("created_at").execute();
    return rows.map((r) => ({
      keyId: r.key_id,
      applicationId: r.application_id,
      displayName: r.display_name,
      customKeyIdentifier: r.custom_key_identifier,
      thumbprintSha256: r.thumbprint_sha256,
      certificateB64: r.certificate_b64,
      type: "AsymmetricX509Cert",
      usage: "Verify",
      startDateTime: Number(r.start_at),
      endDateTime: Number(r.end_at),
    }));
  }

  async recordAssertionJti(jtiHash: string, expiresAt: number, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("client_assertion_jtis").where("expires_at", "<", now).execute();
      const result = await trx.insertInto("client_assertion_jtis").values({ jti_hash: jtiHash, expires_at: expiresAt }).onConflict((oc) => oc.column("jti_hash").doNothing()).executeTakeFirst();
      return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
    });
  }

  async createDeviceCode(c: StoredDeviceCode): Promise<void> {
    await this.db
      .insertInto("device_codes")
      .values({
        id: c.id,
        device_code_hash: c.deviceCodeHash,
        user_code_hash: c.userCodeHash,
        tenant_id: c.tenantId,
        client_id: c.clientId,
        version: c.version,
        scope: c.scope,
        resource: c.resource,
        status: c.status,
        user_id: c.userId,
        auth_time: c.authTime,
        issued_at: c.issuedAt,
        expires_at: c.expiresAt,
      })
      .execute();
  }

  async findDeviceCode(by: { deviceCodeHash: string } | { userCodeHash: string }): Promise<StoredDeviceCode | undefined> {
    const query = this.db.selectFrom("device_codes").selectAll();
    const r = await ("deviceCodeHash" in by ? query.where("device_code_hash", "=", by.deviceCodeHash) : query.where("user_code_hash", "=", by.userCodeHash)).executeTakeFirst();
    if (!r) return undefined;
    return {
      id: r.id,
      deviceCodeHash: r.device_code_hash,
      userCodeHash: r.user_code_hash,
      tenantId: r.tenant_id,
      clientId: r.client_id,
      version: Number(r.version) === 1 ? 1 : 2,
      scope: r.scope,
      resource: r.resource,
      status: r.status as DeviceCodeStatus,
      userId: r.user_id,
      authTime: r.auth_time === null ? null : Number(r.auth_time),
      issuedAt: Number(r.issued_at),
      expiresAt: Number(r.expires_at),
    };
  }

  async transitionDeviceCode(id: string, from: DeviceCodeStatus, to: DeviceCodeStatus, user?: { userId: string; authTime: number }): Promise<boolean> {
    const result = await this.db
      .updateTable("device_codes")
      .set(user ? { status: to, user_id: user.userId, auth_time: user.authTime } : { status: to })
      .where("id", "=", id)
      .where("status", "=", from)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async createServicePrincipal(sp: ServicePrincipal, now: number): Promise<void> {
    await this.db
      .insertInto("service_principals")
      .values({ id: sp.id, tenant_id: sp.tenantId, app_id: sp.appId, app_owner_tenant_id: sp.appOwnerOrganizationId, display_name: sp.displayName, app_role_assignment_required: sp.appRoleAssignmentRequired ? 1 : 0, account_enabled: sp.accountEnabled ? 1 : 0, created_at: now })
      .execute();
  }

  async findServicePrincipal(tenantId: string, appId: string): Promise<ServicePrincipal | undefined> {
    const r = await this.db.selectFrom("service_principals").selectAll().where("tenant_id", "=", tenantId.toLowerCase()).where("app_id", "=", appId.toLowerCase()).executeTakeFirst();
    return r ? toServicePrincipal(r) : undefined;
  }

  async findServicePrincipalById(tenantId: string, id: string): Promise<ServicePrincipal | undefined> {
    const r = await this.db.selectFrom("service_principals").selectAll().where("tenant_id", "=", tenantId.toLowerCase()).where("id", "=", id.toLowerCase()).executeTakeFirst();
    return r ? toServicePrincipal(r) : undefined;
  }

  async setUserPassword(userId: string, passwordHash: string, changedAt: number): Promise<void> {
    await this.db.updateTable("users").set({ password_hash: passwordHash, password_changed_at: changedAt }).where("id", "=", userId.toLowerCase()).execute();
  }

  async setUserAccountEnabled(userId: string, enabled: boolean): Promise<void> {
    await this.db.updateTable("users").set({ enabled: enabled ? 1 : 0 }).where("id", "=", userId.toLowerCase()).execute();
  }

  async createAuthorizationCode(c: StoredAuthorizationCode): Promise<void> {
    await this.db
      .insertInto("authorization_codes")
      .values({
        id: c.id,
        code_hash: c.codeHash,
        tenant_id: c.tenantId,
        client_id: c.clientId,
        user_id: c.userId,
        redirect_uri: c.redirectUri,
        client_kind: c.clientKind,
        version: c.version,
        scope: c.scope,
        resource: c.resource,
        nonce: c.nonce,
        code_challenge: c.codeChallenge,
        code_challenge_method: c.codeChallengeMethod,
        auth_time: c.authTime,
        issued_at: c.issuedAt,
        expires_at: c.expiresAt,
        redeemed_at: c.redeemedAt,
      })
      .execute();
  }

  async findAuthorizationCode(codeHash: string): Promise<StoredAuthorizationCode | undefined> {
    const r = await this.db.selectFrom("authorization_codes").selectAll().where("code_hash", "=", codeHash).executeTakeFirst();
    if (!r) return undefined;
    return {
      id: r.id,
      codeHash: r.code_hash,
      tenantId: r.tenant_id,
      clientId: r.client_id,
      userId: r.user_id,
      redirectUri: r.redirect_uri,
      clientKind: r.client_kind as ClientKind,
      version: Number(r.version) === 1 ? 1 : 2,
      scope: r.scope,
      resource: r.resource,
      nonce: r.nonce,
      codeChallenge: r.code_challenge,
      codeChallengeMethod: r.code_challenge_method as StoredAuthorizationCode["codeChallengeMethod"],
      authTime: Number(r.auth_time),
      issuedAt: Number(r.issued_at),
      expiresAt: Number(r.expires_at),
      redeemedAt: r.redeemed_at === null ? null : Number(r.redeemed_at),
    };
  }

  async redeemAuthorizationCode(id: string, now: number): Promise<boolean> {
    const result = await this.db.updateTable("authorization_codes").set({ redeemed_at: now }).where("id", "=", id).where("redeemed_at", "is", null).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async createRefreshToken(t: StoredRefreshToken): Promise<void> {
    await this.db.insertInto("refresh_tokens").values(refreshTokenRow(t)).execute();
  }

  async findRefreshToken(tokenHash: string): Promise<StoredRefreshToken | undefined> {
    const r = await this.db.selectFrom("refresh_tokens").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst();
    if (!r) return undefined;
    return {
      id: r.id,
      tokenHash: r.token_hash,
      tenantId: r.tenant_id,
      clientId: r.client_id,
      userId: r.user_id,
      publicClient: r.public_client === 1,
      scope: r.scope,
      resource: r.resource,
      amr: parse<string[]>(r.amr),
      authTime: Number(r.auth_time),
      codeId: r.code_id,
      familyId: r.family_id ?? r.id,
      spa: Number(r.spa) === 1,
      issuedAt: Number(r.issued_at),
      expiresAt: Number(r.expires_at),
      revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    };
  }

  async rotateRefreshToken(oldId: string, next: StoredRefreshToken, now: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const result = await trx.updateTable("refresh_tokens").set({ revoked_at: now }).where("id", "=", oldId).where("revoked_at", "is", null).executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await trx.insertInto("refresh_tokens").values(refreshTokenRow(next)).execute();
      return true;
    });
  }

  async revokeRefreshTokensOfCode(codeId: string, now: number): Promise<number> {
    const result = await this.db.updateTable("refresh_tokens").set({ revoked_at: now }).where("code_id", "=", codeId).where("revoked_at", "is", null).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async revokeRefreshTokenFamily(familyId: string, now: number): Promise<number> {
    const result = await this.db.updateTable("refresh_tokens").set({ revoked_at: now }).where("family_id", "=", familyId).where("revoked_at", "is", null).executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async findSignInLockout(userId: string): Promise<SignInLockoutState> {
    const row = await this.db.selectFrom("users").select(["failed_sign_ins", "locked_until"]).where("id", "=", userId.toLowerCase()).executeTakeFirst();
    return { failedSignIns: Number(row?.failed_sign_ins ?? 0), lockedUntil: row?.locked_until == null ? null : Number(row.locked_until) };
  }

  async recordFailedSignIn(userId: string, threshold: number, lockUntil: number): Promise<SignInLockoutState> {
    const id = userId.toLowerCase();
    // One statement: concurrent failures each count, and the lock is set by whichever reaches the threshold.
    await this.db
      .updateTable("users")
      .set((eb) => ({
        failed_sign_ins: eb("failed_sign_ins", "+", 1),
        locked_until: sql<number | null>`CASE WHEN failed_sign_ins + 1 >= ${threshold} THEN CAST(${lockUntil} AS BIGINT) ELSE locked_until END`,
      }))
      .where("id", "=", id)
      .execute();
    return this.findSignInLockout(id);
  }

  async requireInteraction(r: InteractionRequirement): Promise<void> {
    const subject = r.subjectId.toLowerCase();
    await this.db
      .insertInto("interaction_requirements")
      .values({ subject_id: subject, kind: r.kind, tenant_id: r.tenantId, subject_type: r.subjectType, since: r.since })
      .onConflict((oc) => oc.columns(["subject_id", "kind"]).doUpdateSet({ since: r.since }))
      .execute();
  }

  async clearInteractionRequirement(subjectId: string, kind: InteractionKind): Promise<boolean> {
    const result = await this.db.deleteFrom("interaction_requirements").where("subject_id", "=", subjectId.toLowerCase()).where("kind", "=", kind).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async findInteractionRequirements(subjectIds: string[]): Promise<InteractionRequirement[]> {
    if (subjectIds.length === 0) return [];
    const rows = await this.db.selectFrom("interaction_requirements").selectAll().where("subject_id", "in", subjectIds.map((id) => id.toLowerCase())).execute();
    return rows.map((row) => ({ tenantId: row.tenant_id, subjectType: row.subject_type as InteractionRequirement["subjectType"], subjectId: row.subject_id, kind: row.kind as InteractionKind, since: Number(row.since) }));
  }

  async clearFailedSignIns(userId: string): Promise<void> {
    await this.db.updateTable("users").set({ failed_sign_ins: 0, locked_until: null }).where("id", "=", userId.toLowerCase()).execute();
  }

  async createSignInSession(s: StoredSignInSession): Promise<void> {
    await this.db
      .insertInto("sign_in_sessions")
      .values({ id: s.id, token_hash: s.tokenHash, tenant_id: s.tenantId, user_id: s.userId, auth_time: s.authTime, expires_at: s.expiresAt, revoked_at: s.revokedAt, mfa_at: s.mfaAt ?? null })
      .execute();
  }

  async findSignInSession(tokenHash: string): Promise<StoredSignInSession | undefined> {
    const r = await this.db.selectFrom("sign_in_sessions").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst();
    return r
      ? { id: r.id, tokenHash: r.token_hash, tenantId: r.tenant_id, userId: r.user_id, authTime: Number(r.auth_time), expiresAt: Number(r.expires_at), revokedAt: r.revoked_at === null ? null : Number(r.revoked_at), mfaAt: r.mfa_at === null ? null : Number(r.mfa_at) }
      : undefined;
  }

  async revokeSignInSession(id: string, now: number): Promise<void> {
    await this.db.updateTable("sign_in_sessions").set({ revoked_at: now }).where("id", "=", id).execute();
  }

  async listPermissionGrants(tenantId: string, clientId: string, resourceId: string): Promise<OAuth2PermissionGrant[]> {
    const rows = await this.db
      .selectFrom("oauth2_permission_grants")
      .selectAll()
      .where("tenant_id", "=", tenantId.toLowerCase())
      .where("client_id", "=", clientId.toLowerCase())
      .where("resource_id", "=", resourceId.toLowerCase())
      .orderBy("created_at")
      .execute();
    return rows.map(toGrant);
  }

  async upsertPermissionGrant(g: OAuth2PermissionGrant, now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      let query = trx.selectFrom("oauth2_permission_grants").select("id").where("tenant_id", "=", g.tenantId).where("client_id", "=", g.clientId).where("resource_id", "=", g.resourceId).where("consent_type", "=", g.consentType);
      query = g.principalId === null ? query.where("principal_id", "is", null) : query.where("principal_id", "=", g.principalId);
      const existing = await query.executeTakeFirst();
      if (existing) {
        await trx.updateTable("oauth2_permission_grants").set({ scope: g.scope }).where("id", "=", existing.id).execute();
      } else {
        await trx
          .insertInto("oauth2_permission_grants")
          .values({ id: g.id, tenant_id: g.tenantId, client_id: g.clientId, consent_type: g.consentType, principal_id: g.principalId, resource_id: g.resourceId, scope: g.scope, created_at: now })
          .execute();
      }
    });
  }

  async listAppRoleAssignments(principalId: string, resourceId: string): Promise<AppRoleAssignment[]> {
    const rows = await this.db
      .selectFrom("app_role_assignments")
      .selectAll()
      .where("principal_id", "=", principalId.toLowerCase())
      .where("resource_id", "=", resourceId.toLowerCase())
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(toAssignment);
  }

  async addAppRoleAssignment(a: AppRoleAssignment, now: number): Promise<void> {
    await this.db
      .insertInto("app_role_assignments")
      .values({
        id: a.id,
        tenant_id: a.tenantId.toLowerCase(),
        principal_id: a.principalId.toLowerCase(),
        resource_id: a.resourceId.toLowerCase(),
        app_role_id: a.appRoleId.toLowerCase(),
        principal_type: a.principalType ?? "ServicePrincipal",
        created_at: now,
      })
      .onConflict((oc) => oc.columns(["principal_id", "resource_id", "app_role_id"]).doNothing())
      .execute();
  }

  async listAppRoleAssignmentsOfPrincipal(tenantId: string, principalId: string): Promise<AppRoleAssignment[]> {
    const rows = await this.db.selectFrom("app_role_assignments").selectAll().where("tenant_id", "=", tenantId.toLowerCase()).where("principal_id", "=", principalId.toLowerCase()).orderBy("created_at").orderBy("id").execute();
    return rows.map(toAssignment);
  }

  async deleteAppRoleAssignmentOfPrincipal(tenantId: string, principalId: string, assignmentId: string): Promise<boolean> {
    const result = await this.db.deleteFrom("app_role_assignments").where("tenant_id", "=", tenantId.toLowerCase()).where("principal_id", "=", principalId.toLowerCase()).where("id", "=", assignmentId.toLowerCase()).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async listAppRoleAssignedTo(resourceId: string): Promise<AppRoleAssignment[]> {
    const rows = await this.db
      .selectFrom("app_role_assignments")
      .selectAll()
      .where("resource_id", "=", resourceId.toLowerCase())
      .where("principal_type", "in", ["User", "Group"])
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map(toAssignment);
  }

  async isUserAssigned(userId: string, resourceId: string): Promise<boolean> {
    const id = userId.toLowerCase();
    const row = await this.db
      .selectFrom("app_role_assignments")
      .select("id")
      .where("resource_id", "=", resourceId.toLowerCase())
      .where((eb) =>
        eb.or([
          eb.and([eb("principal_type", "=", "User"), eb("principal_id", "=", id)]),
          eb.and([eb("principal_type", "=", "Group"), eb("principal_id", "in", eb.selectFrom("group_members").select("group_id").where("user_id", "=", id))]),
        ]),
      )
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async setAppRoleAssignmentRequired(servicePrincipalId: string, required: boolean): Promise<void> {
    await this.db.updateTable("service_principals").set({ app_role_assignment_required: required ? 1 : 0 }).where("id", "=", servicePrincipalId.toLowerCase()).execute();
  }

  async createGroup(group: Group, now: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto("groups").values({ id: group.id, tenant_id: group.tenantId.toLowerCase(), display_name: group.displayName, created_at: now, ...(group.mailNickname ? { mail_nickname: group.mailNickname } : {}) }).execute();
      for (const userId of new Set(group.members.map((m) => m.toLowerCase()))) {
        await trx.insertInto("group_members").values({ group_id: group.id, user_id: userId, created_at: now }).execute();
      }
    });
  }

  async findGroup(tenantId: string, idOrDisplayName: string): Promise<Group | undefined> {
    const row = await this.db
      .selectFrom("groups")
      .selectAll()
      .where("tenant_id", "=", tenantId.toLowerCase())
      .where((eb) => eb.or([eb("id", "=", idOrDisplayName.toLowerCase()), eb("display_name", "=", idOrDisplayName)]))
      .orderBy("created_at")
      .executeTakeFirst();
    return row ? { ...toGroup(row), members: await this.groupMembers([row.id]).then((m) => m.get(row.id) ?? []) } : undefined;
  }

  async listGroups(tenantId: string): Promise<Group[]> {
    const rows = await this.db.selectFrom("groups").selectAll().where("tenant_id", "=", tenantId.toLowerCase()).orderBy("display_name").orderBy("id").execute();
    const members = await this.groupMembers(rows.map((r) => r.id));
    return rows.map((r) => ({ ...toGroup(r), members: members.get(r.id) ?? [] }));
  }

  private async groupMembers(groupIds: string[]): Promise<Map<string, string[]>> {
    const members = new Map<string, string[]>();
    if (groupIds.length === 0) return members;
    const rows = await this.db.selectFrom("group_members").select(["group_id", "user_id"]).where("group_id", "in", groupIds).orderBy("group_id").orderBy("created_at").orderBy("user_id").execute();
    for (const r of rows) members.set(r.group_id, [...(members.get(r.group_id) ?? []), r.user_id]);
    return members;
  }

  async addGroupMember(groupId: string, userId: string, now: number): Promise<void> {
    await this.db
      .insertInto("group_members")
      .values({ group_id: groupId.toLowerCase(), user_id: userId.toLowerCase(), created_at: now })
      .onConflict((oc) => oc.columns(["group_id", "user_id"]).doNothing())
      .execute();
  }

  async removeGroupMember(groupId: string, userId: string): Promise<boolean> {
    const result = await this.db.deleteFrom("group_members").where("group_id", "=", groupId.toLowerCase()).where("user_id", "=", userId.toLowerCase()).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async listMemberGroupIds(userId: string): Promise<string[]> {
    const rows = await this.db.selectFrom("group_members").select("group_id").where("user_id", "=", userId.toLowerCase()).orderBy("group_id").execute();
    return rows.map((r) => r.group_id);
  }

  async listSigningKeys(): Promise<StoredSigningKey[]> {
    const rows = await this.db.selectFrom("signing_keys").selectAll().orderBy("activates_at").execute();
    return rows.map((r) => ({ kid: r.kid, privateKeyPem: r.private_key_pem, certificateB64: r.certificate_b64, createdAt: Number(r.created_at), activatesAt: Number(r.activates_at), retiresAt: r.retires_at === null ? null : Number(r.retires_at) }));
  }

  async addSigningKey(k: StoredSigningKey): Promise<void> {
    await this.db.insertInto("signing_keys").values({ kid: k.kid, private_key_pem: k.privateKeyPem, certificate_b64: k.certificateB64, created_at: k.createdAt, activates_at: k.activatesAt, retires_at: k.retiresAt }).execute();
  }

  async retireSigningKey(kid: string, retiresAt: number): Promise<void> {
    await this.db.updateTable("signing_keys").set({ retires_at: retiresAt }).where("kid", "=", kid).execute();
  }
  async sharedSecret(name: string, create: () => string): Promise<string> {
    const found = await this.db.selectFrom("store_secrets").select("value").where("name", "=", name).executeTakeFirst();
    if (found) return found.value;
    // Two processes starting together: the first insert wins, and both read it back.
    await this.db.insertInto("store_secrets").values({ name, value: create() }).onConflict((oc) => oc.column("name").doNothing()).execute();
    const stored = await this.db.selectFrom("store_secrets").select("value").where("name", "=", name).executeTakeFirstOrThrow();
    return stored.value;
  }


  async listUsers(tenantId: string): Promise<User[]> {
    const rows = await this.db.selectFrom("users").selectAll().where("tenant_id", "=", tenantId.toLowerCase()).orderBy("upn").execute();
    return rows.map(toUser);
  }

  async listServicePrincipals(tenantId: string): Promise<ServicePrincipal[]> {
    const rows = await this.db.selectFrom("service_principals").selectAll().where("tenant_id", "=", tenantId.toLowerCase()).orderBy("created_at").orderBy("id").execute();
    return rows.map(toServicePrincipal);
  }

  async listOAuth2PermissionGrants(tenantId: string): Promise<OAuth2PermissionGrant[]> {
    const rows = await this.db.selectFrom("oauth2_permission_grants").selectAll().where("tenant_id", "=", tenantId.toLowerCase()).orderBy("created_at").orderBy("id").execute();
    return rows.map(toGrant);
  }

  async deleteTenant(tenantId: string): Promise<void> {
    const id = tenantId.toLowerCase();
    await this.db.transaction().execute(async (trx) => {
      // Tables without a foreign key to tenants; the rest (domains, users, service principals, groups) cascade.
      await trx.deleteFrom("applications").where("tenant_id", "=", id).execute();
      await trx.deleteFrom("oauth2_permission_grants").where("tenant_id", "=", id).execute();
      await trx.deleteFrom("app_role_assignments").where("tenant_id", "=", id).execute();
      await trx.deleteFrom("authorization_codes").where("tenant_id", "=", id).execute();
      await trx.deleteFrom("refresh_tokens").where("tenant_id", "=", id).execute();
      await trx.deleteFrom("sign_in_sessions").where("tenant_id", "=", id).execute();
      await trx.deleteFrom("device_codes").where("tenant_id", "=", id).execute();
      await trx.deleteFrom("tenants").where("id", "=", id).execute();
    });
  }

  async deleteUser(userId: string, now: number): Promise<void> {
    const id = userId.toLowerCase();
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("oauth2_permission_grants").where("principal_id", "=", id).execute();
      await trx.deleteFrom("app_role_assignments").where("principal_id", "=", id).execute();
      await trx.updateTable("refresh_tokens").set({ revoked_at: now }).where("user_id", "=", id).where("revoked_at", "is", null).execute();
      await trx.updateTable("sign_in_sessions").set({ revoked_at: now }).where("user_id", "=", id).where("revoked_at", "is", null).execute();
      await trx.deleteFrom("application_owners").where("owner_id", "=", id).execute();
      await trx.deleteFrom("interaction_requirements").where("subject_id", "=", id).execute();
      await trx.deleteFrom("users").where("id", "=", id).execute();
    });
  }

  async deleteApplication(applicationId: string): Promise<void> {
    const id = applicationId.toLowerCase();
    await this.db.transaction().execute(async (trx) => {
      const appIdOf = trx.selectFrom("applications").select("app_id").where("id", "=", id);
      const sps = trx.selectFrom("service_principals").select("id").where("app_id", "in", appIdOf);
      await trx.deleteFrom("oauth2_permission_grants").where((eb) => eb.or([eb("client_id", "in", sps), eb("resource_id", "in", sps)])).execute();
      await trx.deleteFrom("app_role_assignments").where((eb) => eb.or([eb("principal_id", "in", sps), eb("resource_id", "in", sps)])).execute();
      await trx.deleteFrom("application_owners").where("owner_id", "in", sps).execute();
      await trx.deleteFrom("interaction_requirements").where("subject_id", "in", sps).execute();
      await trx.deleteFrom("service_principals").where("app_id", "in", appIdOf).execute();
      await trx.deleteFrom("applications").where("id", "=", id).execute();
    });
  }

  async queryApplications(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<Application>> {
    const tenant = tenantId.toLowerCase();
    const where = (eb: ExpressionBuilder<Schema, "applications">) => {
      const parts: Expression<SqlBool>[] = [eb("applications.tenant_id", "=", tenant)];
      if (query.filter) parts.push(compileFilter(eb, query.filter, APPLICATION_FILTERS));
      if (query.ownedBy !== undefined) parts.push(eb("applications.id", "in", eb.selectFrom("application_owners").select("application_owners.application_id").where("application_owners.owner_id", "=", query.ownedBy.toLowerCase())));
      return eb.and(parts);
    };
    // Graph sorts strings case-insensitively: the sort key is lower(column), indexed (migration 011).
    const sortColumn = query.orderBy ? sortColumnOf(APPLICATION_SORTS, query.orderBy.property) : undefined;
    const sortKey = sortColumn ? sql<string>`lower(${sql.ref(sortColumn)})` : undefined;
    const descending = query.orderBy?.descending === true;
    let select = this.db.selectFrom("applications").selectAll("applications").where(where);
    if (sortKey) select = select.select(sortKey.as("sort_key"));
    if (query.after) select = select.where(keysetAfter(sortKey, "applications.id", query.after, descending));
    if (sortKey) select = select.orderBy(sortKey, descending ? "desc" : "asc");
    const rows = await select.orderBy("applications.id", descending ? "desc" : "asc").limit(query.top + 1).execute();
    const page: DirectoryPage<Application> = keysetPage(rows, query.top, sortKey !== undefined, toApplication);
    if (query.count) {
      const counted = await this.db.selectFrom("applications").select((eb) => eb.fn.countAll<number | string | bigint>().as("n")).where(where).executeTakeFirstOrThrow();
      page.count = Number(counted.n);
    }
    return page;
  }

  async queryUsers(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<User>> {
    const tenant = tenantId.toLowerCase();
    const where = (eb: ExpressionBuilder<Schema, "users">) => {
      const parts: Expression<SqlBool>[] = [eb("users.tenant_id", "=", tenant)];
      if (query.filter) parts.push(compileFilter(eb, query.filter, USER_FILTERS));
      if (query.memberOf !== undefined) parts.push(eb("users.id", "in", eb.selectFrom("group_members").select("group_members.user_id").where("group_members.group_id", "=", query.memberOf.toLowerCase())));
      // directory_roles is a JSON array of lower-case template ids: '[]' when none.
      if (query.directoryRole === "*") parts.push(eb("users.directory_roles", "<>", "[]"));
      else if (query.directoryRole !== undefined) parts.push(eb("users.directory_roles", "like", `%${JSON.stringify(query.directoryRole.toLowerCase().replace(/[^0-9a-f-]/g, ""))}%`));
      return eb.and(parts);
    };
    const sortColumn = query.orderBy ? sortColumnOf(USER_SORTS, query.orderBy.property) : undefined;
    const sortKey = sortColumn ? sql<string>`lower(${sql.ref(sortColumn)})` : undefined;
    const descending = query.orderBy?.descending === true;
    let select = this.db.selectFrom("users").selectAll("users").where(where);
    if (sortKey) select = select.select(sortKey.as("sort_key"));
    if (query.after) select = select.where(keysetAfter(sortKey, "users.id", query.after, descending));
    if (sortKey) select = select.orderBy(sortKey, descending ? "desc" : "asc");
    const rows = await select.orderBy("users.id", descending ? "desc" : "asc").limit(query.top + 1).execute();
    const page: DirectoryPage<User> = keysetPage(rows, query.top, sortKey !== undefined, toUser);
    if (query.count) {
      const counted = await this.db.selectFrom("users").select((eb) => eb.fn.countAll<number | string | bigint>().as("n")).where(where).executeTakeFirstOrThrow();
      page.count = Number(counted.n);
    }
    return page;
  }

  async updateUser(user: User): Promise<void> {
    await this.db
      .updateTable("users")
      .set({ display_name: user.displayName, given_name: user.givenName, surname: user.surname, enabled: user.accountEnabled ? 1 : 0, mail_nickname: user.mailNickname ?? null, directory_roles: json(user.directoryRoles) })
      .where("id", "=", user.id.toLowerCase())
      .execute();
  }

  async setTokensValidFrom(userId: string, at: number): Promise<void> {
    await this.db.updateTable("users").set({ password_changed_at: at }).where("id", "=", userId.toLowerCase()).execute();
  }

  async queryGroups(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<Omit<Group, "members">>> {
    const tenant = tenantId.toLowerCase();
    const where = (eb: ExpressionBuilder<Schema, "groups">) => {
      const parts: Expression<SqlBool>[] = [eb("groups.tenant_id", "=", tenant)];
      if (query.filter) parts.push(compileFilter(eb, query.filter, GROUP_FILTERS));
      if (query.hasMember !== undefined) parts.push(eb("groups.id", "in", eb.selectFrom("group_members").select("group_members.group_id").where("group_members.user_id", "=", query.hasMember.toLowerCase())));
      return eb.and(parts);
    };
    const sortColumn = query.orderBy ? sortColumnOf(GROUP_SORTS, query.orderBy.property) : undefined;
    const sortKey = sortColumn ? sql<string>`lower(${sql.ref(sortColumn)})` : undefined;
    const descending = query.orderBy?.descending === true;
    let select = this.db.selectFrom("groups").selectAll("groups").where(where);
    if (sortKey) select = select.select(sortKey.as("sort_key"));
    if (query.after) select = select.where(keysetAfter(sortKey, "groups.id", query.after, descending));
    if (sortKey) select = select.orderBy(sortKey, descending ? "desc" : "asc");
    const rows = await select.orderBy("groups.id", descending ? "desc" : "asc").limit(query.top + 1).execute();
    const page: DirectoryPage<Omit<Group, "members">> = keysetPage(rows, query.top, sortKey !== undefined, toGroup);
    if (query.count) {
      const counted = await this.db.selectFrom("groups").select((eb) => eb.fn.countAll<number | string | bigint>().as("n")).where(where).executeTakeFirstOrThrow();
      page.count = Number(counted.n);
    }
    return page;
  }

  async updateGroup(group: Omit<Group, "members">): Promise<void> {
    await this.db.updateTable("groups").set({ display_name: group.displayName, mail_nickname: group.mailNickname ?? null }).where("id", "=", group.id.toLowerCase()).execute();
  }

  async deleteGroup(groupId: string): Promise<void> {
    const id = groupId.toLowerCase();
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("app_role_assignments").where("principal_id", "=", id).execute();
      await trx.deleteFrom("group_members").where("group_id", "=", id).execute();
      await trx.deleteFrom("groups").where("id", "=", id).execute();
    });
  }

  async listApplicationCredentials(applicationIds: string[]): Promise<{ passwords: PasswordCredential[]; keys: KeyCredential[] }> {
    if (applicationIds.length === 0) return { passwords: [], keys: [] };
    const ids = applicationIds.map((id) => id.toLowerCase());
    const passwords = await this.db
      .selectFrom("password_credentials")
      .select(["key_id", "application_id", "display_name", "hint", "start_at", "end_at"])
      .where("application_id", "in", ids)
      .orderBy("created_at")
      .orderBy("key_id")
      .execute();
    const keys = await this.db.selectFrom("key_credentials").selectAll().where("application_id", "in", ids).orderBy("created_at").orderBy("key_id").execute();
    return {
      passwords: passwords.map((r) => ({ keyId: r.key_id, applicationId: r.application_id, displayName: r.display_name, hint: r.hint, startDateTime: Number(r.start_at), endDateTime: Number(r.end_at) })),
      keys: keys.map((r) => ({
        keyId: r.key_id,
        applicationId: r.application_id,
        displayName: r.display_name,
        customKeyIdentifier: r.custom_key_identifier,
        thumbprintSha256: r.thumbprint_sha256,
        certificateB64: r.certificate_b64,
        type: "AsymmetricX509Cert" as const,
        usage: "Verify" as const,
        startDateTime: Number(r.start_at),
        endDateTime: Number(r.end_at),
      })),
    };
  }

  async updateApplication(app: Application): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable("applications")
        .set({
          display_name: app.displayName,
          sign_in_audience: app.signInAudience,
          identifier_uris: json(app.identifierUris),
          web_redirect_uris: json(app.web.redirectUris),
          spa_redirect_uris: json(app.spa.redirectUris),
          public_client_redirect_uris: json(app.publicClient.redirectUris),
          is_fallback_public_client: app.isFallbackPublicClient ? 1 : 0,
          required_resource_access: json(app.requiredResourceAccess),
          app_roles: json(app.appRoles),
          oauth2_permission_scopes: json(app.api.oauth2PermissionScopes),
          publisher_domain: app.publisherDomain,
          group_membership_claims: app.groupMembershipClaims ?? null,
          requested_access_token_version: app.api.requestedAccessTokenVersion ?? null,
          web_implicit_grant_settings: app.web.implicitGrantSettings ? json(app.web.implicitGrantSettings) : null,
        web_logout_url: app.web.logoutUrl ?? null,
        })
        .where("id", "=", app.id.toLowerCase())
        .execute();
      await trx.deleteFrom("identifier_uris").where("application_id", "=", app.id.toLowerCase()).execute();
      for (const uri of new Set(app.identifierUris.map((u) => u.toLowerCase()))) {
        await trx.insertInto("identifier_uris").values({ uri, application_id: app.id.toLowerCase() }).execute();
      }
    });
  }

  async removeKeyCredential(applicationId: string, keyId: string): Promise<boolean> {
    const result = await this.db.deleteFrom("key_credentials").where("application_id", "=", applicationId.toLowerCase()).where("key_id", "=", keyId.toLowerCase()).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async listApplicationOwners(applicationId: string): Promise<DirectoryObjectRef[]> {
    const rows = await this.db.selectFrom("application_owners").select(["owner_id", "owner_type"]).where("application_id", "=", applicationId.toLowerCase()).orderBy("created_at").orderBy("owner_id").execute();
    return rows.map((r) => ({ id: r.owner_id, type: r.owner_type as DirectoryObjectRef["type"] }));
  }

  async addApplicationOwner(applicationId: string, owner: DirectoryObjectRef, now: number): Promise<boolean> {
    const result = await this.db
      .insertInto("application_owners")
      .values({ application_id: applicationId.toLowerCase(), owner_id: owner.id.toLowerCase(), owner_type: owner.type, created_at: now })
      .onConflict((oc) => oc.columns(["application_id", "owner_id"]).doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
  }

  async removeApplicationOwner(applicationId: string, ownerId: string): Promise<boolean> {
    const result = await this.db.deleteFrom("application_owners").where("application_id", "=", applicationId.toLowerCase()).where("owner_id", "=", ownerId.toLowerCase()).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async removePasswordCredential(applicationId: string, keyId: string): Promise<boolean> {
    const result = await this.db.deleteFrom("password_credentials").where("application_id", "=", applicationId.toLowerCase()).where("key_id", "=", keyId.toLowerCase()).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async findPermissionGrant(id: string): Promise<OAuth2PermissionGrant | undefined> {
    const row = await this.db.selectFrom("oauth2_permission_grants").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toGrant(row) : undefined;
  }

  async deletePermissionGrant(id: string): Promise<void> {
    await this.db.deleteFrom("oauth2_permission_grants").where("id", "=", id).execute();
  }

  async queryServicePrincipals(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<ServicePrincipal>> {
    const tenant = tenantId.toLowerCase();
    const where = (eb: ExpressionBuilder<Schema, "service_principals">) => eb.and([eb("service_principals.tenant_id", "=", tenant), ...(query.filter ? [compileFilter(eb, query.filter, SERVICE_PRINCIPAL_FILTERS)] : [])]);
    let select = this.db.selectFrom("service_principals").selectAll().where(where);
    if (query.after) select = select.where("service_principals.id", ">", query.after.id);
    const rows = await select.orderBy("service_principals.id").limit(query.top + 1).execute();
    const page: DirectoryPage<ServicePrincipal> = { items: rows.slice(0, query.top).map(toServicePrincipal) };
    const last = rows.length > query.top ? rows[query.top - 1] : undefined;
    if (last) page.next = { sortValue: null, id: last.id };
    if (query.count) page.count = Number((await this.db.selectFrom("service_principals").select((eb) => eb.fn.countAll<number | string | bigint>().as("n")).where(where).executeTakeFirstOrThrow()).n);
    return page;
  }

  async setServicePrincipalAccountEnabled(servicePrincipalId: string, enabled: boolean): Promise<void> {
    await this.db.updateTable("service_principals").set({ account_enabled: enabled ? 1 : 0 }).where("id", "=", servicePrincipalId.toLowerCase()).execute();
  }

  async deleteServicePrincipal(servicePrincipalId: string, now: number): Promise<void> {
    const id = servicePrincipalId.toLowerCase();
    await this.db.transaction().execute(async (trx) => {
      const sp = await trx.selectFrom("service_principals").select(["tenant_id", "app_id"]).where("id", "=", id).executeTakeFirst();
      if (!sp) return;
      await trx.deleteFrom("oauth2_permission_grants").where((eb) => eb.or([eb("client_id", "=", id), eb("resource_id", "=", id)])).execute();
      await trx.deleteFrom("app_role_assignments").where((eb) => eb.or([eb("principal_id", "=", id), eb("resource_id", "=", id)])).execute();
      await trx.updateTable("refresh_tokens").set({ revoked_at: now }).where("tenant_id", "=", sp.tenant_id).where("client_id", "=", sp.app_id).where("revoked_at", "is", null).execute();
      await trx.deleteFrom("service_principals").where("id", "=", id).execute();
    });
  }

  async queryPermissionGrants(tenantId: string, query: DirectoryQuery): Promise<DirectoryPage<OAuth2PermissionGrant>> {
    const tenant = tenantId.toLowerCase();
    const where = (eb: ExpressionBuilder<Schema, "oauth2_permission_grants">) => eb.and([eb("oauth2_permission_grants.tenant_id", "=", tenant), ...(query.filter ? [compileFilter(eb, query.filter, GRANT_FILTERS)] : [])]);
    let select = this.db.selectFrom("oauth2_permission_grants").selectAll().where(where);
    if (query.after) select = select.where("oauth2_permission_grants.id", ">", query.after.id);
    const rows = await select.orderBy("oauth2_permission_grants.id").limit(query.top + 1).execute();
    const page: DirectoryPage<OAuth2PermissionGrant> = { items: rows.slice(0, query.top).map(toGrant) };
    const last = rows.length > query.top ? rows[query.top - 1] : undefined;
    if (last) page.next = { sortValue: null, id: last.id };
    if (query.count) page.count = Number((await this.db.selectFrom("oauth2_permission_grants").select((eb) => eb.fn.countAll<number | string | bigint>().as("n")).where(where).executeTakeFirstOrThrow()).n);
    return page;
  }

  async setPermissionGrantScope(id: string, scope: string): Promise<boolean> {
    const result = await this.db.updateTable("oauth2_permission_grants").set({ scope }).where("id", "=", id.toLowerCase()).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async findAppRoleAssignment(id: string): Promise<AppRoleAssignment | undefined> {
    const r = await this.db.selectFrom("app_role_assignments").selectAll().where("id", "=", id.toLowerCase()).executeTakeFirst();
    return r ? toAssignment(r) : undefined;
  }

  async deleteAppRoleAssignment(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom("app_role_assignments").where("id", "=", id.toLowerCase()).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async queryAppRoleAssignments(tenantId: string, by: { principalId: string } | { resourceId: string }, query: DirectoryQuery): Promise<DirectoryPage<AppRoleAssignment>> {
    const tenant = tenantId.toLowerCase();
    const where = (eb: ExpressionBuilder<Schema, "app_role_assignments">) =>
      eb.and([eb("tenant_id", "=", tenant), "principalId" in by ? eb("principal_id", "=", by.principalId.toLowerCase()) : eb("resource_id", "=", by.resourceId.toLowerCase())]);
    let select = this.db.selectFrom("app_role_assignments").selectAll().where(where);
    if (query.after) select = select.where("id", ">", query.after.id);
    const rows = await select.orderBy("id").limit(query.top + 1).execute();
    const page: DirectoryPage<AppRoleAssignment> = { items: rows.slice(0, query.top).map(toAssignment) };
    const last = rows.length > query.top ? rows[query.top - 1] : undefined;
    if (last) page.next = { sortValue: null, id: last.id };
    if (query.count) page.count = Number((await this.db.selectFrom("app_role_assignments").select((eb) => eb.fn.countAll<number | string | bigint>().as("n")).where(where).executeTakeFirstOrThrow()).n);
    return page;
  }

  async revokeRefreshTokensOfClient(filter: { tenantId: string; clientServicePrincipalId: string; userId?: string }, now: number): Promise<number> {
    const clientAppId = this.db.selectFrom("service_principals").select("app_id").where("id", "=", filter.clientServicePrincipalId.toLowerCase());
    let query = this.db.updateTable("refresh_tokens").set({ revoked_at: now }).where("tenant_id", "=", filter.tenantId.toLowerCase()).where("client_id", "in", clientAppId).where("revoked_at", "is", null);
    if (filter.userId !== undefined) query = query.where("user_id", "=", filter.userId.toLowerCase());
    return Number((await query.executeTakeFirst()).numUpdatedRows);
  }
}

/** How a filterable Graph property of a directory table compiles: a column (GUIDs lower-case, strings case-insensitive, booleans 0/1), or a collection index for `any`. */
type FilterColumn = { kind: "guid" | "string" | "boolean"; column: string } | { kind: "collection"; table: "identifier_uris"; valueColumn: "uri"; ownerColumn: "application_id"; ownerOf: string };

const APPLICATION_FILTERS: Record<string, FilterColumn> = {
  id: { kind: "guid", column: "applications.id" },
  appId: { kind: "guid", column: "applications.app_id" },
  displayName: { kind: "string", column: "applications.display_name" },
  signInAudience: { kind: "string", column: "applications.sign_in_audience" },
  publisherDomain: { kind: "string", column: "applications.publisher_domain" },
  identifierUris: { kind: "collection", table: "identifier_uris", valueColumn: "uri", ownerColumn: "application_id", ownerOf: "applications.id" },
};

const SERVICE_PRINCIPAL_FILTERS: Record<string, FilterColumn> = {
  id: { kind: "guid", column: "service_principals.id" },
  appId: { kind: "guid", column: "service_principals.app_id" },
  displayName: { kind: "string", column: "service_principals.display_name" },
  accountEnabled: { kind: "boolean", column: "service_principals.account_enabled" },
  appOwnerOrganizationId: { kind: "guid", column: "service_principals.app_owner_tenant_id" },
};

const GRANT_FILTERS: Record<string, FilterColumn> = {
  id: { kind: "guid", column: "oauth2_permission_grants.id" },
  clientId: { kind: "guid", column: "oauth2_permission_grants.client_id" },
  resourceId: { kind: "guid", column: "oauth2_permission_grants.resource_id" },
  principalId: { kind: "guid", column: "oauth2_permission_grants.principal_id" },
  consentType: { kind: "string", column: "oauth2_permission_grants.consent_type" },
};

const USER_FILTERS: Record<string, FilterColumn> = {
  id: { kind: "guid", column: "users.id" },
  userPrincipalName: { kind: "string", column: "users.upn" },
  displayName: { kind: "string", column: "users.display_name" },
  givenName: { kind: "string", column: "users.given_name" },
  surname: { kind: "string", column: "users.surname" },
  accountEnabled: { kind: "boolean", column: "users.enabled" },
  mailNickname: { kind: "string", column: "users.mail_nickname" },
};

const USER_SORTS: Record<string, "users.display_name" | "users.upn"> = { displayName: "users.display_name", userPrincipalName: "users.upn" };

const GROUP_FILTERS: Record<string, FilterColumn> = {
  id: { kind: "guid", column: "groups.id" },
  displayName: { kind: "string", column: "groups.display_name" },
  mailNickname: { kind: "string", column: "groups.mail_nickname" },
};

const GROUP_SORTS: Record<string, "groups.display_name"> = { displayName: "groups.display_name" };

const APPLICATION_SORTS: Record<string, "applications.display_name"> = { displayName: "applications.display_name" };

/**
 * The keyset predicate of a directory page after `after`: `(sortKey, id) > (after.sortValue, after.id)`
 * (`<` when descending), or `id > after.id` without a sort key. Table-agnostic: `idColumn` names the key.
 */
function keysetAfter(sortKey: RawBuilder<string> | undefined, idColumn: string, after: DirectoryCursor, descending: boolean): RawBuilder<SqlBool> {
  const cmp = sql.raw(descending ? "<" : ">");
  const id = sql.ref(idColumn);
  if (!sortKey) return sql<SqlBool>`${id} ${cmp} ${after.id}`;
  const value = after.sortValue ?? "";
  return sql<SqlBool>`(${sortKey} ${cmp} ${value} or (${sortKey} = ${value} and ${id} ${cmp} ${after.id}))`;
}

/**
 * A directory page from `top + 1` rows read: the first `top` mapped, and the cursor of the last one
 * returned when a further row exists (its `sort_key` column when the query sorted by one).
 */
function keysetPage<R extends { id: string }, T>(rows: R[], top: number, sorted: boolean, map: (row: R) => T): DirectoryPage<T> {
  const page: DirectoryPage<T> = { items: rows.slice(0, top).map(map) };
  const last = rows.length > top ? rows[top - 1] : undefined;
  if (last) page.next = { sortValue: sorted ? String((last as { sort_key?: unknown }).sort_key ?? "") : null, id: last.id };
  return page;
}

function sortColumnOf<C extends string>(sorts: Record<string, C>, property: string): C {
  const column = sorts[property];
  if (!column) throw new Error(`the store cannot sort by '${property}'`);
  return column;
}

/** `\`, `%` and `_` escaped for a `LIKE … ESCAPE '\'` pattern. */
const likeEscape = (value: string): string => value.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Compiles a {@link DirectoryFilter} to a parameterised Kysely predicate over `columns`.
 * @throws Error for a property `columns` does not map (the Graph surface validates first).
 */
function compileFilter<DB, TB extends keyof DB>(eb: ExpressionBuilder<DB, TB>, filter: DirectoryFilter, columns: Record<string, FilterColumn>): Expression<SqlBool> {
  if ("operands" in filter) {
    const parts = filter.operands.map((f) => compileFilter(eb, f, columns));
    return filter.op === "and" ? eb.and(parts) : eb.or(parts);
  }
  if ("operand" in filter) return eb.not(compileFilter(eb, filter.operand, columns));
  const mapped = columns[filter.property];
  if (!mapped) throw new Error(`the store cannot filter by '${filter.property}'`);
  if (mapped.kind === "collection") {
    if (filter.op !== "any") throw new Error(`'${filter.property}' is a collection: only any() applies`);
    return sql<SqlBool>`exists (select 1 from ${sql.table(mapped.table)} c where c.${sql.ref(mapped.ownerColumn)} = ${sql.ref(mapped.ownerOf)} and c.${sql.ref(mapped.valueColumn)} = ${filter.value.toLowerCase()})`;
  }
  const column = sql.ref(mapped.column);
  const operand = (value: string | boolean | null): unknown => (value === null ? null : mapped.kind === "boolean" ? (value === true ? 1 : 0) : mapped.kind === "guid" ? String(value).toLowerCase() : String(value).toLowerCase());
  const lhs = mapped.kind === "string" ? sql`lower(${column})` : column;
  switch (filter.op) {
    case "eq":
      return filter.value === null ? sql<SqlBool>`${column} is null` : sql<SqlBool>`${lhs} = ${operand(filter.value)}`;
    case "ne":
      return filter.value === null ? sql<SqlBool>`${column} is not null` : sql<SqlBool>`(${column} is null or ${lhs} <> ${operand(filter.value)})`;
    case "startsWith":
      return sql<SqlBool>`${lhs} like ${`${likeEscape(filter.value.toLowerCase())}%`} escape '\\'`;
    case "in":
      return filter.values.length === 0 ? sql<SqlBool>`1 = 0` : sql<SqlBool>`${lhs} in (${sql.join(filter.values.map(operand))})`;
    case "any":
      throw new Error(`'${filter.property}' is not a collection`);
  }
}

function refreshTokenRow(t: StoredRefreshToken): Schema["refresh_tokens"] {
  return {
    id: t.id,
    token_hash: t.tokenHash,
    tenant_id: t.tenantId,
    client_id: t.clientId,
    user_id: t.userId,
    public_client: t.publicClient ? 1 : 0,
    scope: t.scope,
    resource: t.resource,
    amr: json(t.amr),
    auth_time: t.authTime,
    code_id: t.codeId,
    family_id: t.familyId,
    spa: t.spa ? 1 : 0,
    issued_at: t.issuedAt,
    expires_at: t.expiresAt,
    revoked_at: t.revokedAt,
  };
}

function toUser(row: Selectable<Schema["users"]>): User {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userPrincipalName: row.upn,
    displayName: row.display_name,
    givenName: row.given_name,
    surname: row.surname,
    accountEnabled: row.enabled === 1,
    directoryRoles: parse<string[]>(row.directory_roles),
    passwordChangedAt: Number(row.password_changed_at),
    ...(row.mail_nickname !== null && row.mail_nickname !== undefined ? { mailNickname: row.mail_nickname } : {}),
  };
}

function toGroup(row: Selectable<Schema["groups"]>): Omit<Group, "members"> {
  return { id: row.id, tenantId: row.tenant_id, displayName: row.display_name, ...(row.mail_nickname !== null && row.mail_nickname !== undefined ? { mailNickname: row.mail_nickname } : {}) };
}

function toApplication(row: Selectable<Schema["applications"]>): Application {
  return {
    id: row.id,
    appId: row.app_id,
    tenantId: row.tenant_id,
    displayName: row.display_name,
    signInAudience: row.sign_in_audience as Application["signInAudience"],
    identifierUris: parse(row.identifier_uris),
    web: {
      redirectUris: parse(row.web_redirect_uris),
      ...(row.web_implicit_grant_settings ? { implicitGrantSettings: parse<NonNullable<Application["web"]["implicitGrantSettings"]>>(row.web_implicit_grant_settings) } : {}),
      ...(row.web_logout_url ? { logoutUrl: row.web_logout_url } : {}),
    },
    spa: { redirectUris: parse(row.spa_redirect_uris) },
    publicClient: { redirectUris: parse(row.public_client_redirect_uris) },
    isFallbackPublicClient: row.is_fallback_public_client === 1,
    requiredResourceAccess: parse(row.required_resource_access),
    appRoles: parse(row.app_roles),
    api: { oauth2PermissionScopes: parse(row.oauth2_permission_scopes), requestedAccessTokenVersion: tokenVersion(row.requested_access_token_version) },
    publisherDomain: row.publisher_domain,
    groupMembershipClaims: row.group_membership_claims as Application["groupMembershipClaims"],
    createdDateTime: Number(row.created_at),
  };
}

function toAssignment(r: Selectable<Schema["app_role_assignments"]>): AppRoleAssignment {
  return { id: r.id, tenantId: r.tenant_id, principalId: r.principal_id, resourceId: r.resource_id, appRoleId: r.app_role_id, principalType: r.principal_type as AppRoleAssignment["principalType"] };
}

function tokenVersion(v: number | null): 1 | 2 | null {
  return v === null ? null : Number(v) === 2 ? 2 : 1;
}

function toServicePrincipal(r: Selectable<Schema["service_principals"]>): ServicePrincipal {
  return { id: r.id, tenantId: r.tenant_id, appId: r.app_id, appOwnerOrganizationId: r.app_owner_tenant_id, displayName: r.display_name, appRoleAssignmentRequired: r.app_role_assignment_required === 1, accountEnabled: Number(r.account_enabled) === 1 };
}

function toGrant(r: Selectable<Schema["oauth2_permission_grants"]>): OAuth2PermissionGrant {
  return { id: r.id, tenantId: r.tenant_id, clientId: r.client_id, consentType: r.consent_type as OAuth2PermissionGrant["consentType"], principalId: r.principal_id, resourceId: r.resource_id, scope: r.scope };
}
