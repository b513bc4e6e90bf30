import type { Kysely } from "kysely";

/**
 * Deleted records of change-tracked tables (Web API change tracking, `Prefer: odata.track-changes`):
 * the id and the `versionnumber` of the deletion, so a delta read reports it as `$deletedEntity`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("record_deletions")
    .addColumn("org_id", "varchar(36)", (c) => c.notNull().references("orgs.id").onDelete("cascade"))
    .addColumn("entity", "varchar(128)", (c) => c.notNull())
    .addColumn("record_id", "varchar(36)", (c) => c.notNull())
    .addColumn("version_number", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("record_deletions_pk", ["org_id", "entity", "version_number", "record_id"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("record_deletions").execute();
}
