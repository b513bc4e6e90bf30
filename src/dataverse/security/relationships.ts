import type { Org, Row } from "../model.ts";
import type { DataverseService } from "../service.ts";
import type { DataverseStore } from "../store.ts";
import { DEPTH } from "./privileges.ts";

/** One side of a many-to-many relationship: the table and its column in the intersect table. */
export interface ManyToManySide {
  entity: string;
  /** Column of the intersect table pointing at this side's primary key. */
  intersectColumn: string;
}

/**
 * A many-to-many (N:N) relationship stored in an intersect table. Its schema name is also the
 * collection-valued navigation property on both sides (`systemusers(id)/systemuserroles_association`)
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api).
 */
export interface ManyToMany {
  schemaName: string;
  intersect: string;
  sides: readonly [ManyToManySide, ManyToManySide];
  /** Columns a new intersect row gets besides the two keys (may depend on the rows being linked); reads through `store`. */
  extraColumns?(service: DataverseService, org: Org, store: DataverseStore, ids: Record<string, string>): Promise<Row>;
  /** Refuses an association the org refuses (throws); runs before the row is written; reads through `store`. */
  beforeAssociate?(service: DataverseService, org: Org, store: DataverseStore, ids: Record<string, string>): Promise<void>;
}

/**
 * The N:N relationships of the security model. `roleprivileges_association` adds the privilege at
 * the narrowest depth the privilege allows (Basic for user-owned tables, Global otherwise): orgbox's
 * choice for an association, which carries no depth; `AddPrivilegesRole` sets one explicitly.
 */
export const MANY_TO_MANY: readonly ManyToMany[] = [
  {
    schemaName: "systemuserroles_association",
    intersect: "systemuserroles",
    sides: [
      { entity: "systemuser", intersectColumn: "systemuserid" },
      { entity: "role", intersectColumn: "roleid" },
    ],
    beforeAssociate: (service, org, store, ids) => service.assertRoleAssignable(org, ids.systemuser as string, ids.role as string, store),
  },
  {
    schemaName: "teamroles_association",
    intersect: "teamroles",
    sides: [
      { entity: "team", intersectColumn: "teamid" },
      { entity: "role", intersectColumn: "roleid" },
    ],
  },
  {
    schemaName: "teammembership_association",
    intersect: "teammembership",
    sides: [
      { entity: "systemuser", intersectColumn: "systemuserid" },
      { entity: "team", intersectColumn: "teamid" },
    ],
  },
  {
    schemaName: "roleprivileges_association",
    intersect: "roleprivileges",
    sides: [
      { entity: "role", intersectColumn: "roleid" },
      { entity: "privilege", intersectColumn: "privilegeid" },
    ],
    async extraColumns(service, org, store, ids) {
      const privilege = await service.findPrivilege(org, ids.privilege as string, store);
      return { privilegedepthmask: privilege?.canBeBasic ? DEPTH.Basic : DEPTH.Global };
    },
  },
];

/** The N:N relationship `navigation` of table `entity`, with this side first. */
export function manyToMany(entity: string, navigation: string): { relationship: ManyToMany; self: ManyToManySide; other: ManyToManySide } | undefined {
  const relationship = MANY_TO_MANY.find((r) => r.schemaName === navigation && r.sides.some((s) => s.entity === entity));
  if (!relationship) return undefined;
  const [a, b] = relationship.sides;
  return a.entity === entity ? { relationship, self: a, other: b } : { relationship, self: b, other: a };
}
