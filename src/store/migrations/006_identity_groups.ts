import type { Kysely } from "kysely";

/**
 * Groups and their members (Microsoft Graph `group`), user/group app role
 * assignments (`appRoleAssignment.principalType`), and two manifest fields of
 * applications: `groupMembershipClaims` and `api.requestedAccessTokenVersion`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("groups")
    .addColumn("id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("tenant_id", "varchar(36)", (c) => c.notNull().references("tenants.id").onDelete("cascade"))
    .addColumn("display_name", "varchar(256)", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("groups_tenant").on("groups").column("tenant_id").execute();
  await db.schema
    .createTable("group_members")
    .addColumn("group_id", "varchar(36)", (c) => c.notNull().references("groups.id").onDelete("cascade"))
    .addColumn("user_id", "varchar(36)", (c) => c.notNull().references("users.id").onDelete("cascade"))
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("group_members_pk", ["group_id", "user_id"])
    .execute();
  await db.schema.createIndex("group_members_user").on("group_members").column("user_id").execute();
  await db.schema.alterTable("app_role_assignments").addColumn("principal_type", "varchar(32)", (c) => c.notNull().defaultTo("ServicePrincipal")).execute();
  await db.schema.alterTable("applications").addColumn("group_membership_claims", "varchar(32)").execute();
  await db.schema.alterTable("applications").addColumn("requested_access_token_version", "integer").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("applications").dropColumn("requested_access_token_version").execute();
  await db.schema.alterTable("applications").dropColumn("group_membership_claims").execute();
  await db.schema.alterTable("app_role_assignments").dropColumn("principal_type").execute();
  await db.schema.dropTable("group_members").execute();
  await db.schema.dropTable("groups").execute();
}
