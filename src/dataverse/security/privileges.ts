import { createHash } from "node:crypto";
import type { EntityMetadata } from "../metadata/types.ts";

/** Privilege verbs with their `AccessRights` values (learn.microsoft.com/dotnet/api/microsoft.crm.sdk.messages.accessrights). */
export const ACCESS_RIGHTS = {
  Read: 1,
  Write: 2,
  Append: 4,
  AppendTo: 16,
  Create: 32,
  Delete: 65536,
  Share: 262144,
  Assign: 524288,
} as const;

export type PrivilegeVerb = keyof typeof ACCESS_RIGHTS;

/** `privilegedepthmask` bits (`roleprivileges`): Basic/User 1, Local/BU 2, Deep/Parent:Child 4, Global/Org 8. */
export const DEPTH = { Basic: 1, Local: 2, Deep: 4, Global: 8 } as const;
export type Depth = keyof typeof DEPTH;

/** The name used in privilege names: the schema name, except `systemuser` → `User`. */
export function privilegeEntityName(entity: EntityMetadata): string {
  return entity.logicalName === "systemuser" ? "User" : entity.schemaName;
}

/** `prv{Verb}{Entity}`, e.g. `prvReadAccount`. */
export function privilegeName(verb: PrivilegeVerb, entity: EntityMetadata): string {
  return `prv${verb}${privilegeEntityName(entity)}`;
}

/** A stable GUID for a privilege name, so every org and every run agree. */
export function privilegeId(name: string): string {
  const h = createHash("sha1").update(`orgbox:privilege:${name}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Privilege definition rows for a table: the verbs its ownership allows. `basic` is true when the
 * privilege may be granted below Global (user- and business-owned tables); organization-owned
 * tables allow only None or Global (learn.microsoft.com/power-platform/admin/security-roles-privileges).
 */
export function privilegesFor(entity: EntityMetadata): { name: string; verb: PrivilegeVerb; accessRight: number; basic: boolean }[] {
  if (entity.isIntersect || entity.ownershipType === "None") return [];
  const userOwned = entity.ownershipType === "UserOwned";
  const verbs: PrivilegeVerb[] = userOwned ? ["Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"] : ["Create", "Read", "Write", "Delete", "Append", "AppendTo"];
  const scoped = entity.ownershipType !== "OrganizationOwned";
  return verbs.map((verb) => ({ name: privilegeName(verb, entity), verb, accessRight: ACCESS_RIGHTS[verb], basic: scoped }));
}

/**
 * Misc privileges that are not per table. `prvReadEntity`, `prvCreateEntity` and `prvCreateAttribute`
 * guard table definitions (reading them, `POST EntityDefinitions`, `POST …/Attributes`).
 */
export const MISC_PRIVILEGES = ["prvActOnBehalfOfAnotherUser", "prvBulkDelete", "prvReadEntity", "prvCreateEntity", "prvCreateAttribute"] as const;

/** Depths from narrowest to widest. */
export const DEPTHS: readonly Depth[] = ["Basic", "Local", "Deep", "Global"];

/** The widest depth set in a `privilegedepthmask` (roles are cumulative), or undefined for 0. */
export function widestDepth(mask: number): Depth | undefined {
  for (let i = DEPTHS.length - 1; i >= 0; i--) {
    const depth = DEPTHS[i] as Depth;
    if ((mask & DEPTH[depth]) !== 0) return depth;
  }
  return undefined;
}

/**
 * A mask that holds `depth` also holds every narrower depth: a role with Global
 * read reads what a Basic reader reads (learn.microsoft.com/power-platform/admin/security-roles-privileges).
 */
export function coversDepth(mask: number, depth: Depth): boolean {
  const widest = widestDepth(mask);
  return widest !== undefined && DEPTHS.indexOf(widest) >= DEPTHS.indexOf(depth);
}

/** The role template id of System Administrator (`roletemplateid`), the same in every environment. */
export const SYSTEM_ADMINISTRATOR_TEMPLATE_ID = "627090ff-40a3-4053-8790-584edc5be201";

/**
 * Tables without privileges of their own (ownership None: the role and membership
 * intersects) are guarded by the privilege of the table they describe. orgbox's
 * rule, after Dataverse's: reading a role's privileges needs `prvReadRole`, reading
 * user or team membership needs `prvReadUser` / `prvReadTeam`.
 */
export const PRIVILEGE_PROXY: Readonly<Record<string, string>> = {
  privilege: "role",
  roleprivileges: "role",
  teamroles: "role",
  systemuserroles: "systemuser",
  teammembership: "team",
};
