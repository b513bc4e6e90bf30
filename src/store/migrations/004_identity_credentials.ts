import type { Kysely } from "kysely";

/**
 * Certificate credentials of applications (`keyCredentials`, Microsoft Graph
 * naming), the `jti` values of client assertions already used (replay refusal),
 * and device-code flow state (RFC 8628; codes stored as SHA-256 hashes).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("key_credentials")
    .addColumn("key_id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("application_id", "varchar(36)", (c) => c.notNull().references("applications.id").onDelete("cascade"))
    .addColumn("display_name", "varchar(256)")
    .addColumn("custom_key_identifier", "varchar(40)", (c) => c.notNull())
    .addColumn("thumbprint_sha256", "varchar(64)", (c) => c.notNull())
    .addColumn("certificate_b64", "text", (c) => c.notNull())
    .addColumn("start_at", "bigint", (c) => c.notNull())
    .addColumn("end_at", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("key_credentials_app").on("key_credentials").column("application_id").execute();
  await db.schema
    .createTable("client_assertion_jtis")
    .addColumn("jti_hash", "varchar(64)", (c) => c.primaryKey())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("device_codes")
    .addColumn("id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("device_code_hash", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("user_code_hash", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("tenant_id", "varchar(36)")
    .addColumn("client_id", "varchar(36)", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("scope", "text")
    .addColumn("resource", "text")
    .addColumn("status", "varchar(16)", (c) => c.notNull())
    .addColumn("user_id", "varchar(36)")
    .addColumn("auth_time", "bigint")
    .addColumn("issued_at", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ["device_codes", "client_assertion_jtis", "key_credentials"]) await db.schema.dropTable(t).execute();
}
