import type { EntityMetadata } from "../metadata/types.ts";
import type { Row } from "../model.ts";
import { ReadScope, type Expr } from "../store.ts";
import { widestDepth, type Depth } from "./privileges.ts";

/**
 * Where a privilege comes from: the user's own roles (depth measured from the
 * user's business unit) or a role of one of the user's teams (depth measured
 * from the team's business unit).
 */
export interface PrivilegeSource {
  /** OR of the `privilegedepthmask` of every role of this source that holds the privilege. */
  mask: number;
  /** The business unit the depth is measured from. */
  businessUnitId: string;
  /** Set for team roles. */
  teamId?: string;
}

/** What the access check needs to know about the principal. */
export interface AccessPrincipal {
  systemUserId: string;
  businessUnitId: string;
  /** Privilege sources holding the privilege (empty: the privilege check fails first). */
  sources: PrivilegeSource[];
  /** A business unit and all its descendants (itself first). Only asked for Deep grants. */
  subtree(businessUnitId: string): string[];
  /** `teammembership`, for "owned by one of my teams". */
  teamMembership: EntityMetadata;
  /**
   * Sharing: `principalobjectaccess` and the `AccessRights` bit of the verb being checked.
   * A user-owned record shared with the user or one of the user's teams with that right is in reach.
   */
  sharing?: { table: EntityMetadata; right: number };
}

/** The business-unit column that scopes a business-owned table. */
function businessColumn(entity: EntityMetadata): string | undefined {
  if (entity.logicalName === "businessunit") return entity.primaryIdAttribute;
  return entity.attributes.some((a) => a.logicalName === "businessunitid") ? "businessunitid" : undefined;
}

/** Business units a set of sources reaches at Local or Deep depth (Basic adds none). */
function reachableBusinessUnits(principal: AccessPrincipal, basicCountsAsLocal: boolean): string[] {
  const units = new Set<string>();
  for (const source of principal.sources) {
    const depth: Depth | undefined = widestDepth(source.mask);
    if (depth === "Deep") for (const bu of principal.subtree(source.businessUnitId)) units.add(bu);
    else if (depth === "Local" || (depth === "Basic" && basicCountsAsLocal)) units.add(source.businessUnitId);
  }
  return [...units];
}

/** The access predicate's own subqueries (team membership, shares) read every row: they decide what the caller may see. */
const SCOPE_LOOKUPS = ReadScope.system("the access predicate reads team membership and shares to decide what the caller may see");

const or = (parts: Expr[]): Expr => parts.reduce((left, right) => ({ kind: "or", left, right }));
const eq = (column: string, value: string): Expr => ({ kind: "compare", op: "eq", left: { kind: "column", name: column }, right: { kind: "value", value } });

/**
 * The rows of `entity` a principal holding a privilege may see, as a predicate the
 * store compiles into the SQL of the read (so `$count` and paging agree); `undefined`
 * means every row. Rules (learn.microsoft.com/power-platform/admin/how-record-access-determined,
 * …/security-roles-privileges):
 *
 * - **User- or team-owned tables**: records the user owns or one of the user's teams owns
 *   (ownership grants access at any depth), plus `owningbusinessunit` in the user's business
 *   unit (Local) or its subtree (Deep); a team role's Local/Deep counts from the team's
 *   business unit. Global on any source: no filter.
 * - **Business-owned tables** (`businessunit`, `team`, `systemuser`, `role`): the record's
 *   business unit (`businessunitid`, or the unit itself) must be in reach; orgbox counts
 *   Basic as Local for them, since such records have no user owner.
 * - **Organization-owned tables and tables without ownership**: holding the privilege at
 *   any depth reads every row (organization-owned privileges are None or Global only).
 *
 * - **Sharing**: a user-owned record is also in reach when a `principalobjectaccess` row grants
 *   the verb's right on it to the user or to one of the user's teams (`GrantAccess`).
 *
 * Hierarchy security and access inherited through related records are not modelled.
 */
export function accessFilter(entity: EntityMetadata, principal: AccessPrincipal): Expr | undefined {
  if (principal.sources.some((s) => widestDepth(s.mask) === "Global")) return undefined;
  if (entity.ownershipType === "UserOwned") {
    const parts: Expr[] = [
      eq("owninguser", principal.systemUserId),
      {
        kind: "exists",
        entity: principal.teamMembership,
        innerColumn: "teamid",
        outerColumn: "owningteam",
        where: eq("systemuserid", principal.systemUserId),
        scope: SCOPE_LOOKUPS,
      },
    ];
    const units = reachableBusinessUnits(principal, false);
    if (units.length > 0) parts.push({ kind: "in", column: "owningbusinessunit", values: units });
    if (principal.sharing) parts.push(sharedWith(entity, principal, principal.sharing));
    return or(parts);
  }
  if (entity.ownershipType === "BusinessOwned") {
    const column = businessColumn(entity);
    if (!column) return undefined;
    const units = reachableBusinessUnits(principal, true);
    return units.length > 0 ? { kind: "in", column, values: units } : { kind: "false" };
  }
  return undefined;
}

/**
 * `EXISTS (SELECT 1 FROM principalobjectaccess p WHERE p.objectid = row.pk AND (p.accessrightsmask & right) <> 0
 * AND (p.principalid = me OR EXISTS (SELECT 1 FROM teammembership m WHERE m.teamid = p.principalid AND m.systemuserid = me)))`.
 */
function sharedWith(entity: EntityMetadata, principal: AccessPrincipal, sharing: { table: EntityMetadata; right: number }): Expr {
  const toMe = eq("principalid", principal.systemUserId);
  const toMyTeam: Expr = { kind: "exists", entity: principal.teamMembership, innerColumn: "teamid", outerColumn: "principalid", where: eq("systemuserid", principal.systemUserId), scope: SCOPE_LOOKUPS };
  return {
    kind: "exists",
    entity: sharing.table,
    innerColumn: "objectid",
    outerColumn: entity.primaryIdAttribute,
    where: { kind: "and", left: { kind: "bitand", column: "accessrightsmask", mask: sharing.right }, right: or([toMe, toMyTeam]) },
    scope: SCOPE_LOOKUPS,
  };
}

/**
 * The same rule as {@link accessFilter} for one record already in hand (a record
 * about to be created, or one whose ownership columns were read), for single-record
 * checks. `teamIds` are the teams the user is a member of.
 */
export function canAccessRow(entity: EntityMetadata, principal: AccessPrincipal, teamIds: readonly string[], row: Row): boolean {
  if (principal.sources.some((s) => widestDepth(s.mask) === "Global")) return true;
  const lower = (v: unknown) => (typeof v === "string" ? v.toLowerCase() : undefined);
  if (entity.ownershipType === "UserOwned") {
    if (lower(row.owninguser) === principal.systemUserId) return true;
    const team = lower(row.owningteam);
    if (team && teamIds.includes(team)) return true;
    const bu = lower(row.owningbusinessunit);
    return bu !== undefined && reachableBusinessUnits(principal, false).includes(bu);
  }
  if (entity.ownershipType === "BusinessOwned") {
    const column = businessColumn(entity);
    if (!column) return true;
    const bu = lower(row[column]);
    return bu !== undefined && reachableBusinessUnits(principal, true).includes(bu);
  }
  return true;
}

/** A business unit and its descendants, from `(id, parent)` pairs (cycles are ignored). */
export function businessUnitSubtree(units: readonly { id: string; parentId: string | null }[], root: string): string[] {
  const children = new Map<string, string[]>();
  for (const unit of units) {
    if (!unit.parentId) continue;
    const list = children.get(unit.parentId) ?? [];
    list.push(unit.id);
    children.set(unit.parentId, list);
  }
  const out: string[] = [];
  const seen = new Set<string>();
  const stack = [root];
  while (stack.length > 0) {
    const id = stack.pop() as string;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(id);
    for (const child of children.get(id) ?? []) stack.push(child);
  }
  return out;
}

/** ANDs the access filter of a read with its `$filter` predicate (either may be absent). */
export function withScope(scope: Expr | undefined, where: Expr | undefined): Expr | undefined {
  if (!scope) return where;
  if (!where) return scope;
  return { kind: "and", left: scope, right: where };
}
