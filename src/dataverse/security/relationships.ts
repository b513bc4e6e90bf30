import type { Org, Row } from "../model.ts";
import type { DataverseService } from "../service.ts";
import type { DataverseStore } from "../store.ts";
import { DEPTH } from "./privileges.ts";
import { solutionErrors } from "../solutions/service.ts";

/**
 * What the security model adds to an association of one of its N:N relationships. `ids` holds
 * the linked records' ids by intersect column (`systemuserid`, `roleid`, …); reads go through `store`.
 */
export interface ManyToManyHooks {
  /** Columns a new intersect row gets besides the two keys (may depend on the rows being linked). */
  extraColumns?(service: DataverseService, org: Org, store: DataverseStore, ids: Record<string, string>): Promise<Row>;
  /** Refuses an association the org refuses (throws); runs before the row is written. */
  beforeAssociate?(service: DataverseService, org: Org, store: DataverseStore, ids: Record<string, string>): Promise<void>;
}

/**
 * The hooks of the security model's N:N relationships, by schema name (the relationships themselves
 * are `STANDARD_MANY_TO_MANY`). `roleprivileges_association` adds the privilege at the narrowest
 * depth the privilege allows (Basic for user-owned tables, Global otherwise): orgbox's choice for an
 * association, which carries no depth; `AddPrivilegesRole` sets one explicitly.
 */
export const MANY_TO_MANY_HOOKS: Readonly<Record<string, ManyToManyHooks>> = {
  systemuserroles_association: {
    beforeAssociate: (service, org, store, ids) => service.assertRoleAssignable(org, ids.systemuserid as string, ids.roleid as string, store),
  },
  roleprivileges_association: {
    // A managed role's privileges change only with its solution (see solutionErrors.managed).
    async beforeAssociate(service, org, store, ids) {
      const roles = service.metadataFor(org).entity("role");
      const [role] = roles ? await store.selectRows(org, { entity: roles, columns: ["ismanaged", "name"], where: { kind: "compare", op: "eq", left: { kind: "column", name: "roleid" }, right: { kind: "value", value: ids.roleid as string } }, orderBy: [], limit: 1 }) : [];
      if (role && (role.ismanaged === true || role.ismanaged === 1)) throw solutionErrors.managed("Update", "Role", String(role.name), ids.roleid as string);
    },
    async extraColumns(service, org, store, ids) {
      const privilege = await service.findPrivilege(org, ids.privilegeid as string, store);
      return { privilegedepthmask: privilege?.canBeBasic ? DEPTH.Basic : DEPTH.Global };
    },
  },
};
