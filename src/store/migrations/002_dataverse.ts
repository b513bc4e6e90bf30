import type { Kysely } from "kysely";

/** Dataverse catalog: orgs and custom table definitions. Record tables are created per org from metadata. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("orgs")
    .addColumn("id", "varchar(36)", (c) => c.primaryKey())
    .addColumn("name", "varchar(64)", (c) => c.notNull().unique())
    .addColumn("tenant_id", "varchar(36)", (c) => c.notNull())
    .addColumn("display_name", "varchar(256)", (c) => c.notNull())
    .addColumn("table_prefix", "varchar(16)", (c) => c.notNull().unique())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("entity_definitions")
    .addColumn("org_id", "varchar(36)", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("logical_name", "varchar(128)", (c) => c.notNull())
    .addColumn("definition", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("entity_definitions_pk", ["org_id", "logical_name"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("entity_definitions").execute();
  await db.schema.dropTable("orgs").execute();
}
