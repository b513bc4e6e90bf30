import type { Kysely } from "kysely";

/**
 * Service principals managed through Microsoft Graph: `accountEnabled` (1 = the app may get tokens in
 * the tenant), and the indexes the Graph surface's keyset pages read: assignments by resource
 * (`servicePrincipals/{id}/appRoleAssignedTo`) and by principal (`…/appRoleAssignments`), grants by tenant.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("service_principals").addColumn("account_enabled", "integer", (c) => c.notNull().defaultTo(1)).execute();
  await db.schema.createIndex("app_role_assignments_resource").on("app_role_assignments").columns(["resource_id", "id"]).execute();
  await db.schema.createIndex("app_role_assignments_principal").on("app_role_assignments").columns(["principal_id", "id"]).execute();
  await db.schema.createIndex("oauth2_permission_grants_tenant").on("oauth2_permission_grants").columns(["tenant_id", "id"]).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("oauth2_permission_grants_tenant").execute();
  await db.schema.dropIndex("app_role_assignments_principal").execute();
  await db.schema.dropIndex("app_role_assignments_resource").execute();
  await db.schema.alterTable("service_principals").dropColumn("account_enabled").execute();
}
