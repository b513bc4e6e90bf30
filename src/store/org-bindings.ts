import type { Kysely } from "kysely";
import type { OrgBindings } from "../identity/index.ts";
import type { Schema } from "./schema.ts";

/**
 * Identity's {@link OrgBindings} port over Dataverse's org catalog (the `orgs` table): the names of
 * the orgs bound to a tenant, by name, in one indexed query. The composition root wires it into
 * identity, so identity's own store never reads a Dataverse table.
 */
export class SqlOrgBindings implements OrgBindings {
  private readonly db: Kysely<Schema>;

  constructor(db: Kysely<Schema>) {
    this.db = db;
  }

  async orgNamesOfTenant(tenantId: string): Promise<string[]> {
    const rows = await this.db.selectFrom("orgs").select("name").where("tenant_id", "=", tenantId.toLowerCase()).orderBy("name").execute();
    return rows.map((r) => r.name);
  }
}
