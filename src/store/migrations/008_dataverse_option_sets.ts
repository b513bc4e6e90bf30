import type { Kysely } from "kysely";

/**
 * Global option sets (choices) created through `POST GlobalOptionSetDefinitions` or an environment
 * file: one JSON definition per org and name. Columns that use one carry its options too.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("option_set_definitions")
    .addColumn("org_id", "varchar(36)", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("name", "varchar(128)", (c) => c.notNull())
    .addColumn("definition", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("option_set_definitions_pk", ["org_id", "name"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("option_set_definitions").execute();
}
