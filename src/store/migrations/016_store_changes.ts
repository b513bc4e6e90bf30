import type { Kysely } from "kysely";

/**
 * What several orgbox processes on one store share beyond the directory and the orgs
 * (`server/store-sync.ts`, README "Several orgbox processes on one store"):
 * - `store_changes`: one row (`id` = 'store') whose `version` every process bumps after a write that
 *   another process may hold in a cache (directory, security state, metadata, signing keys), and reads
 *   on every request (PostgreSQL). It only moves forward: snapshots neither copy nor restore it.
 * - `store_secrets`: secrets every process must agree on, by name (the key of the sign-in pages'
 *   anti-forgery tokens, `csrf`: 32 random bytes, base64url), created once by the first process.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("store_changes")
    .addColumn("id", "varchar(16)", (c) => c.primaryKey())
    .addColumn("version", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("store_secrets")
    .addColumn("name", "varchar(64)", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("store_secrets").execute();
  await db.schema.dropTable("store_changes").execute();
}
