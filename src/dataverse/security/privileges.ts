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

/**
 * The name used in privilege names: the schema name, except `systemuser` → `User`, every
 * activity table (`task`, `email`, `phonecall`, custom activities) → `Activity` and `annotation`
 * → `Note`. Activity tables have no privileges of their own: they share `prvCreateActivity`,
 * `prvReadActivity`, …; notes use `prvCreateNote`, `prvReadNote`, …
 * (learn.microsoft.com/power-platform/admin/security-roles-privileges,
 * learn.microsoft.com/power-apps/developer/data-platform/activity-entities).
 */
function privilegeEntityName(entity: EntityMetadata): string {
  if (entity.logicalName === "systemuser") return "User";
  if (entity.isActivity === true) return "Activity";
  if (entity.logicalName === "annotation") return "Note";
  return entity.schemaName;
}

/** `prv{Verb}{Entity}`, e.g. `prvReadAccount`, `prvReadActivity` (task, email, …), `prvReadNote` (annotation). */
export function privilegeName(verb: PrivilegeVerb, entity: EntityMetadata): string {
  return `prv${verb}${privilegeEntityName(entity)}`;
}

/** A stable GUID for a privilege name, so every org and every run agree. */
export function privilegeId(name: string): string {
  const h = createHash("sha1").update(`orgbox:privilege:${name}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Privilege definition rows for a table: the verbs its ownership allows (for an activity table, the
 * shared `…Activity` privileges; for `annotation`, the `…Note` ones). `basic` is true when the
 * privilege may be granted below Global (user- and business-owned tables); organization-owned
 * tables allow only None or Global (learn.microsoft.com/power-platform/admin/security-roles-privileges).
 */
export function privilegesFor(entity: EntityMetadata): PrivilegeDefinition[] {
  if (entity.isIntersect || entity.ownershipType === "None") return [];
  const userOwned = entity.ownershipType === "UserOwned";
  const verbs: PrivilegeVerb[] = userOwned ? ["Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"] : ["Create", "Read", "Write", "Delete", "Append", "AppendTo"];
  const scoped = entity.ownershipType !== "OrganizationOwned";
  return verbs.map((verb) => ({ name: privilegeName(verb, entity), verb, accessRight: ACCESS_RIGHTS[verb], basic: scoped }));
}

/** A table privilege: its name, verb, `AccessRights` value, and whether depths below Global are allowed. */
export interface PrivilegeDefinition {
  name: string;
  verb: PrivilegeVerb;
  accessRight: number;
  basic: boolean;
}

/**
 * The table privileges of `entities`, each once: the activity tables share the `…Activity`
 * privileges, so they appear once however many activity tables there are.
 */
export function privilegeDefinitions(entities: readonly EntityMetadata[]): PrivilegeDefinition[] {
  const byName = new Map<string, PrivilegeDefinition>();
  for (const entity of entities) for (const p of privilegesFor(entity)) if (!byName.has(p.name)) byName.set(p.name, p);
  return [...byName.values()];
}

/**
 * Misc privileges that are not per table. `prvReadEntity`, `prvCreateEntity` and `prvCreateAttribute`
 * guard table definitions (reading them, `POST EntityDefinitions`, `POST …/Attributes`);
 * `prvImportCustomization` / `prvExportCustomization` guard `ImportSolution` / `ExportSolution`.
 */
export const MISC_PRIVILEGES = ["prvActOnBehalfOfAnotherUser", "prvBulkDelete", "prvReadEntity", "prvCreateEntity", "prvCreateAttribute", "prvDeleteEntity", "prvDeleteAttribute", "prvImportCustomization", "prvExportCustomization"] as const;

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
