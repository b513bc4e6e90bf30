import { sql, type Kysely } from "kysely";

/**
 * What the Graph surface's `users` and `groups` need (Microsoft Graph `user.mailNickname`,
 * `group.mailNickname`, learn.microsoft.com/graph/api/resources/user and …/group): the mail alias
 * of users and groups (null: not set, e.g. users created before this migration), and the indexes
 * the keyset paging of both sorted by `displayName` uses (tenant, lower-case display name, id:
 * Graph sorts strings case-insensitively), plus (tenant, id) for the default order.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("users").addColumn("mail_nickname", "varchar(64)").execute();
  await db.schema.alterTable("groups").addColumn("mail_nickname", "varchar(64)").execute();
  await db.schema.createIndex("users_tenant_name").on("users").expression(sql`tenant_id, lower(display_name), id`).execute();
  await db.schema.createIndex("users_tenant_id").on("users").columns(["tenant_id", "id"]).execute();
  await db.schema.createIndex("groups_tenant_name").on("groups").expression(sql`tenant_id, lower(display_name), id`).execute();
  await db.schema.createIndex("groups_tenant_id").on("groups").columns(["tenant_id", "id"]).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("groups_tenant_id").execute();
  await db.schema.dropIndex("groups_tenant_name").execute();
  await db.schema.dropIndex("users_tenant_id").execute();
  await db.schema.dropIndex("users_tenant_name").execute();
  await db.schema.alterTable("groups").dropColumn("mail_nickname").execute();
  await db.schema.alterTable("users").dropColumn("mail_nickname").execute();
}
