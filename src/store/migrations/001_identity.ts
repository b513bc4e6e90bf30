import type { Kysely } from "kysely";

/** Directory tables: tenants, users, app registrations, secrets, service principals, signing keys. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("tenants")
    .addColumn("id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("display_name", "varchar(256)", (c) => c.notNull())
    .addColumn("default_domain", "varchar(256)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("tenant_domains")
    .addColumn("domain", "varchar(256)", (c) => c.primaryKey())
    .addColumn("tenant_id", "varchar(36)", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("is_default", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable("users")
    .addColumn("id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("tenant_id", "varchar(36)", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("upn", "varchar(256)", (c) => c.notNull().unique())
    .addColumn("display_name", "varchar(256)", (c) => c.notNull())
    .addColumn("given_name", "varchar(256)")
    .addColumn("surname", "varchar(256)")
    .addColumn("password_hash", "text", (c) => c.notNull())
    .addColumn("enabled", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("directory_roles", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("password_changed_at", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("users_tenant").on("users").column("tenant_id").execute();
  await db.schema
    .createTable("applications")
    .addColumn("id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("app_id", "varchar(36)", (c) => c.notNull().unique())
    .addColumn("tenant_id", "varchar(36)", (c) => c.notNull())
    .addColumn("display_name", "varchar(256)", (c) => c.notNull())
    .addColumn("sign_in_audience", "varchar(64)", (c) => c.notNull())
    .addColumn("identifier_uris", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("web_redirect_uris", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("spa_redirect_uris", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("public_client_redirect_uris", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("is_fallback_public_client", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("required_resource_access", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("app_roles", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("oauth2_permission_scopes", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("publisher_domain", "varchar(256)")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("applications_tenant").on("applications").column("tenant_id").execute();
  await db.schema
    .createTable("identifier_uris")
    .addColumn("uri", "varchar(512)", (c) => c.primaryKey())
    .addColumn("application_id", "varchar(36)", (c) => c.notNull().references("applications.id").onDelete("cascade"))
    .execute();
  await db.schema
    .createTable("password_credentials")
    .addColumn("key_id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("application_id", "varchar(36)", (c) => c.notNull().references("applications.id").onDelete("cascade"))
    .addColumn("display_name", "varchar(256)")
    .addColumn("hint", "varchar(8)", (c) => c.notNull())
    .addColumn("secret_hash", "varchar(128)", (c) => c.notNull())
    .addColumn("start_at", "bigint", (c) => c.notNull())
    .addColumn("end_at", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("password_credentials_app").on("password_credentials").column("application_id").execute();
  await db.schema
    .createTable("service_principals")
    .addColumn("id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("tenant_id", "varchar(36)", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("app_id", "varchar(36)", (c) => c.notNull())
    .addColumn("app_owner_tenant_id", "varchar(36)", (c) => c.notNull())
    .addColumn("display_name", "varchar(256)", (c) => c.notNull())
    .addColumn("app_role_assignment_required", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("service_principals_tenant_app", ["tenant_id", "app_id"])
    .execute();
  await db.schema
    .createTable("signing_keys")
    .addColumn("kid", "varchar(64)", (c) => c.primaryKey())
    .addColumn("private_key_pem", "text", (c) => c.notNull())
    .addColumn("certificate_b64", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("activates_at", "bigint", (c) => c.notNull())
    .addColumn("retires_at", "bigint")
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ["signing_keys", "service_principals", "password_credentials", "identifier_uris", "applications", "users", "tenant_domains", "tenants"]) {
    await db.schema.dropTable(t).execute();
  }
}
