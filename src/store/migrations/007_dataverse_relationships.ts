import type { Kysely } from "kysely";

/**
 * Relationship definitions created through `POST RelationshipDefinitions` (N:N and one-to-many):
 * one JSON definition per org and schema name. Their intersect tables and lookup columns are
 * table definitions of `entity_definitions`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("relationship_definitions")
    .addColumn("org_id", "varchar(36)", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("schema_name", "varchar(128)", (c) => c.notNull())
    .addColumn("definition", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("relationship_definitions_pk", ["org_id", "schema_name"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("relationship_definitions").execute();
}
