import type { Kysely } from "kysely";

/**
 * Application permissions granted by admin consent (`appRoleAssignments`,
 * Microsoft Graph naming): which app roles of a resource service principal a
 * client service principal holds in a tenant. They become `roles` in app-only tokens.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("app_role_assignments")
    .addColumn("id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("tenant_id", "varchar(36)", (c) => c.notNull())
    .addColumn("principal_id", "varchar(36)", (c) => c.notNull())
    .addColumn("resource_id", "varchar(36)", (c) => c.notNull())
    .addColumn("app_role_id", "varchar(36)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("app_role_assignments_unique", ["principal_id", "resource_id", "app_role_id"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("app_role_assignments").execute();
}
