import { sql, type Kysely } from "kysely";

/**
 * Owners of app registrations (Microsoft Graph `application` → `owners`: users and service
 * principals), and the index the Graph surface's keyset paging of applications sorted by
 * `displayName` uses (tenant, lower-case display name, id: Graph sorts strings case-insensitively), and `web.implicitGrantSettings` (JSON, null = both off).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("application_owners")
    .addColumn("application_id", "varchar(36)", (c) => c.notNull().references("applications.id").onDelete("cascade"))
    .addColumn("owner_id", "varchar(36)", (c) => c.notNull())
    .addColumn("owner_type", "varchar(32)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("application_owners_pk", ["application_id", "owner_id"])
    .execute();
  await db.schema.createIndex("application_owners_owner").on("application_owners").column("owner_id").execute();
  await db.schema.alterTable("applications").addColumn("web_implicit_grant_settings", "text").execute();
  await db.schema.createIndex("applications_tenant_name").on("applications").expression(sql`tenant_id, lower(display_name), id`).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("applications_tenant_name").execute();
  await db.schema.alterTable("applications").dropColumn("web_implicit_grant_settings").execute();
  await db.schema.dropTable("application_owners").execute();
}
