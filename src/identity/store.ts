import type { StoredSigningKey } from "../common/keys.ts";
import type { Application, PasswordCredential, ServicePrincipal, Tenant, User } from "./model.ts";

/** A stored password credential with its hash (never leaves identity/). */
export interface StoredPasswordCredential extends PasswordCredential {
  secretHash: string;
}

/** The directory's persistence port. `src/store/` implements it for each SQL dialect. */
export interface IdentityStore {
  createTenant(tenant: Tenant, now: number): Promise<void>;
  /** Finds a tenant by GUID or verified domain, case-insensitively. */
  findTenant(idOrDomain: string): Promise<Tenant | undefined>;
  listTenants(): Promise<Tenant[]>;

  createUser(user: User, passwordHash: string, now: number): Promise<void>;
  findUserByUpn(upn: string): Promise<(User & { passwordHash: string }) | undefined>;
  findUserById(id: string): Promise<User | undefined>;

  createApplication(app: Application, now: number): Promise<void>;
  findApplicationByAppId(appId: string): Promise<Application | undefined>;
  listApplications(tenantId: string): Promise<Application[]>;
  /** Applications (first-party or registered) that list `uri` in `identifierUris` (exact, case-insensitive). */
  findApplicationByIdentifierUri(uri: string): Promise<Application | undefined>;

  addPasswordCredential(credential: StoredPasswordCredential, now: number): Promise<void>;
  listPasswordCredentials(applicationId: string): Promise<StoredPasswordCredential[]>;

  createServicePrincipal(sp: ServicePrincipal, now: number): Promise<void>;
  findServicePrincipal(tenantId: string, appId: string): Promise<ServicePrincipal | undefined>;

  listSigningKeys(): Promise<StoredSigningKey[]>;
  addSigningKey(key: StoredSigningKey): Promise<void>;
}
