import type { Kysely } from "kysely";

/**
 * An app registration's front-channel logout URL (Microsoft Graph `application.web.logoutUrl`, the Azure
 * portal's Authentication › "Front-channel logout URL"); null when none.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("applications").addColumn("web_logout_url", "text").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("applications").dropColumn("web_logout_url").execute();
}
