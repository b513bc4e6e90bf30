import { sql, type Kysely } from "kysely";

/**
 * Refresh-token families and smart lockout.
 * - `refresh_tokens.family_id`: the id of the first refresh token of a sign-in, shared by every
 *   token redeemed from it (strict rotation revokes a family on replay, RFC 9700 §4.14.2). Existing
 *   tokens become families of their own. Indexed: the family is revoked by it.
 * - `refresh_tokens.spa`: issued through an SPA redirect URI (fixed 24-hour lifetime, carried over).
 * - `users.failed_sign_ins`, `users.locked_until` (ms): Entra smart lockout (AADSTS50053).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("refresh_tokens").addColumn("family_id", "varchar(36)").execute();
  await sql`UPDATE refresh_tokens SET family_id = id`.execute(db);
  await db.schema.alterTable("refresh_tokens").addColumn("spa", "integer", (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.createIndex("refresh_tokens_family").on("refresh_tokens").column("family_id").execute();
  await db.schema.alterTable("users").addColumn("failed_sign_ins", "integer", (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable("users").addColumn("locked_until", "bigint").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("users").dropColumn("locked_until").execute();
  await db.schema.alterTable("users").dropColumn("failed_sign_ins").execute();
  await db.schema.dropIndex("refresh_tokens_family").execute();
  await db.schema.alterTable("refresh_tokens").dropColumn("spa").execute();
  await db.schema.alterTable("refresh_tokens").dropColumn("family_id").execute();
}
