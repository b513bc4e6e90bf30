import type { Kysely } from "kysely";

/**
 * Interaction requirements (orgbox's "require MFA" switch, `identity/interaction.ts`): per user or per
 * client service principal, a kind (`mfa`: AADSTS50076, `mfaRegistration`: AADSTS50079) and since
 * when (ms). Sign-ins and refresh-token chains authenticated before `since` must pass the sign-in
 * page's extra step. Keyed by the subject's object id and the kind. And `sign_in_sessions.mfa_at`: when a
 * browser session passed that step.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("interaction_requirements")
    .addColumn("subject_id", "varchar(36)", (c) => c.notNull())
    .addColumn("kind", "varchar(32)", (c) => c.notNull())
    .addColumn("tenant_id", "varchar(36)", (c) => c.notNull())
    .addColumn("subject_type", "varchar(32)", (c) => c.notNull())
    .addColumn("since", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("interaction_requirements_pk", ["subject_id", "kind"])
    .execute();
  // When a browser session passed the simulated MFA step (null: password only).
  await db.schema.alterTable("sign_in_sessions").addColumn("mfa_at", "bigint").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("sign_in_sessions").dropColumn("mfa_at").execute();
  await db.schema.dropTable("interaction_requirements").execute();
}
