import type { EntityMetadata } from "./metadata/types.ts";
import type { Org } from "./model.ts";
import { DEPTH, MISC_PRIVILEGES, SYSTEM_ADMINISTRATOR_TEMPLATE_ID, privilegeDefinitions } from "./security/privileges.ts";
import { miscPrivilegeRow, privilegeRow } from "./org/provisioning.ts";
import type { DataverseService } from "./service.ts";
import type { DataverseStore, Expr } from "./store.ts";

/**
 * Brings an org written by an older orgbox build up to this build's standard tables: creates the
 * record tables added since (with their indexes), the primary-name sort index of older tables, adds the standard columns added since (existing
 * rows get NULL), inserts the privileges added since, and grants those new privileges at Global depth
 * to every System Administrator role, as Dataverse does when a solution adds a table, and adds the
 * standard publishers and solutions (`OrgSolutions.ensureBaseline`). Idempotent: nothing changes when the org is current.
 * @returns what was added, for the start-up log (`{ tables: ["annotation"], columns: ["lead.x"], privileges: 8 }`).
 */
export async function upgradeOrg(service: DataverseService, outer: DataverseStore, org: Org): Promise<{ tables: string[]; columns: string[]; privileges: number }> {
  const md = await service.loadMetadata(org, outer);
  const existing = await outer.recordTableColumns(org);
  const result = { tables: [] as string[], columns: [] as string[], privileges: 0 };
  const privilege = md.entity("privilege") as EntityMetadata;
  const rolePrivileges = md.entity("roleprivileges") as EntityMetadata;
  const wanted = [
    ...privilegeDefinitions(md.entities()).map((p) => privilegeRow(p)),
    ...MISC_PRIVILEGES.map(miscPrivilegeRow),
  ];
  await outer.transaction(async (store) => {
    for (const entity of md.entities()) {
      const columns = existing.get(entity.logicalName);
      if (!columns) {
        await store.createRecordTable(org, entity);
        result.tables.push(entity.logicalName);
        continue;
      }
      await store.ensureNameIndex(org, entity);
      for (const attribute of entity.attributes) {
        if (columns.has(attribute.logicalName)) continue;
        await store.addColumn(org, entity, attribute);
        result.columns.push(`${entity.logicalName}.${attribute.logicalName}`);
      }
    }
    const ids = wanted.map((p) => String(p.privilegeid));
    const present = new Set((await store.selectRows(org, { entity: privilege, columns: ["privilegeid"], where: { kind: "in", column: "privilegeid", values: ids }, orderBy: [] })).map((r) => String(r.privilegeid)));
    const missing = wanted.filter((p) => !present.has(String(p.privilegeid)));
    if (missing.length === 0) return;
    const isAdmin: Expr = { kind: "compare", op: "eq", left: { kind: "column", name: "roletemplateid" }, right: { kind: "value", value: SYSTEM_ADMINISTRATOR_TEMPLATE_ID } };
    const admins = await store.selectRows(org, { entity: md.entity("role") as EntityMetadata, columns: ["roleid"], where: isAdmin, orderBy: [] });
    for (const p of missing) {
      await store.insertRow(org, privilege, service.stampNew(privilege, p));
      for (const admin of admins) await store.insertRow(org, rolePrivileges, service.stampNew(rolePrivileges, { roleid: admin.roleid, privilegeid: p.privilegeid, privilegedepthmask: DEPTH.Global }));
    }
    result.privileges = missing.length;
  });
  // The publishers and solutions every org has (orgs created before solutions existed get them now).
  await service.solutions.ensureBaseline(org, outer);
  return result;
}
