import type { Kysely } from "kysely";

/**
 * orgbox's clock offset (time travel, `server/time-travel.ts`): one row, `id` = 'clock', with how far
 * orgbox's clock runs ahead of the wall clock (ms) and when it was last moved (ms, orgbox's clock).
 * In the store so that every process on it (a server, offline `orgbox clock` commands, a restart)
 * sees the same time.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("orgbox_clock")
    .addColumn("id", "varchar(16)", (c) => c.primaryKey())
    .addColumn("offset_ms", "bigint", (c) => c.notNull())
    .addColumn("moved_at", "bigint", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("orgbox_clock").execute();
}
