import type { Kysely, Selectable } from "kysely";
import type { StoredSigningKey } from "../common/keys.ts";
import type { Application, ServicePrincipal, Tenant, User } from "../identity/model.ts";
import type { IdentityStore, StoredPasswordCredential } from "../identity/store.ts";
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

  async createServicePrincipal(sp: ServicePrincipal, now: number): Promise<void> {
    await this.db
      .insertInto("service_principals")
      .values({ id: sp.id, tenant_id: sp.tenantId, app_id: sp.appId, app_owner_tenant_id: sp.appOwnerOrganizationId, display_name: sp.displayName, app_role_assignment_required: sp.appRoleAssignmentRequired ? 1 : 0, created_at: now })
      .execute();
  }

  async findServicePrincipal(tenantId: string, appId: string): Promise<ServicePrincipal | undefined> {
    const r = await this.db.selectFrom("service_principals").selectAll().where("tenant_id", "=", tenantId.toLowerCase()).where("app_id", "=", appId.toLowerCase()).executeTakeFirst();
    return r ? { id: r.id, tenantId: r.tenant_id, appId: r.app_id, appOwnerOrganizationId: r.app_owner_tenant_id, displayName: r.display_name, appRoleAssignmentRequired: r.app_role_assignment_required === 1 } : undefined;
  }

  async listSigningKeys(): Promise<StoredSigningKey[]> {
    const rows = await this.db.selectFrom("signing_keys").selectAll().orderBy("activates_at").execute();
    return rows.map((r) => ({ kid: r.kid, privateKeyPem: r.private_key_pem, certificateB64: r.certificate_b64, createdAt: Number(r.created_at), activatesAt: Number(r.activates_at), retiresAt: r.retires_at === null ? null : Number(r.retires_at) }));
  }

  async addSigningKey(k: StoredSigningKey): Promise<void> {
    await this.db.insertInto("signing_keys").values({ kid: k.kid, private_key_pem: k.privateKeyPem, certificate_b64: k.certificateB64, created_at: k.createdAt, activates_at: k.activatesAt, retires_at: k.retiresAt }).execute();
  }
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
  };
}

function toApplication(row: Selectable<Schema["applications"]>): Application {
  return {
    id: row.id,
    appId: row.app_id,
    tenantId: row.tenant_id,
    displayName: row.display_name,
    signInAudience: row.sign_in_audience as Application["signInAudience"],
    identifierUris: parse(row.identifier_uris),
    web: { redirectUris: parse(row.web_redirect_uris) },
    spa: { redirectUris: parse(row.spa_redirect_uris) },
    publicClient: { redirectUris: parse(row.public_client_redirect_uris) },
    isFallbackPublicClient: row.is_fallback_public_client === 1,
    requiredResourceAccess: parse(row.required_resource_access),
    appRoles: parse(row.app_roles),
    api: { oauth2PermissionScopes: parse(row.oauth2_permission_scopes) },
    publisherDomain: row.publisher_domain,
  };
}
