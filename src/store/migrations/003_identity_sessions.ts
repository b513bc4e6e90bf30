import type { Kysely } from "kysely";

/**
 * Delegated-flow state: authorization codes, refresh tokens and browser
 * sign-in sessions (all stored as SHA-256 hashes of the opaque values), and
 * delegated consent (`oauth2PermissionGrants`, Microsoft Graph naming).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("authorization_codes")
    .addColumn("id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("code_hash", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("tenant_id", "varchar(36)", (c) => c.notNull())
    .addColumn("client_id", "varchar(36)", (c) => c.notNull())
    .addColumn("user_id", "varchar(36)", (c) => c.notNull())
    .addColumn("redirect_uri", "text", (c) => c.notNull())
    .addColumn("client_kind", "varchar(16)", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("scope", "text")
    .addColumn("resource", "text")
    .addColumn("nonce", "text")
    .addColumn("code_challenge", "varchar(128)")
    .addColumn("code_challenge_method", "varchar(8)")
    .addColumn("auth_time", "bigint", (c) => c.notNull())
    .addColumn("issued_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("redeemed_at", "bigint")
    .execute();
  await db.schema
    .createTable("refresh_tokens")
    .addColumn("id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("token_hash", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("tenant_id", "varchar(36)", (c) => c.notNull())
    .addColumn("client_id", "varchar(36)", (c) => c.notNull())
    .addColumn("user_id", "varchar(36)", (c) => c.notNull())
    .addColumn("public_client", "integer", (c) => c.notNull())
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("resource", "text", (c) => c.notNull())
    .addColumn("amr", "varchar(64)", (c) => c.notNull())
    .addColumn("auth_time", "bigint", (c) => c.notNull())
    .addColumn("code_id", "varchar(36)")
    .addColumn("issued_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("revoked_at", "bigint")
    .execute();
  await db.schema.createIndex("refresh_tokens_code").on("refresh_tokens").column("code_id").execute();
  await db.schema.createIndex("refresh_tokens_user").on("refresh_tokens").column("user_id").execute();
  await db.schema
    .createTable("sign_in_sessions")
    .addColumn("id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("token_hash", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("tenant_id", "varchar(36)", (c) => c.notNull())
    .addColumn("user_id", "varchar(36)", (c) => c.notNull())
    .addColumn("auth_time", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("revoked_at", "bigint")
    .execute();
  await db.schema
    .createTable("oauth2_permission_grants")
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("tenant_id", "varchar(36)", (c) => c.notNull())
    .addColumn("client_id", "varchar(36)", (c) => c.notNull())
    .addColumn("consent_type", "varchar(16)", (c) => c.notNull())
    .addColumn("principal_id", "varchar(36)")
    .addColumn("resource_id", "varchar(36)", (c) => c.notNull())
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("oauth2_permission_grants_client").on("oauth2_permission_grants").columns(["client_id", "resource_id"]).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ["oauth2_permission_grants", "sign_in_sessions", "refresh_tokens", "authorization_codes"]) {
    await db.schema.dropTable(t).execute();
  }
}
