import { createHash } from "node:crypto";
import type { EntityMetadata } from "../metadata/types.ts";
import { DEPTHS, MISC_PRIVILEGES, SYSTEM_ADMINISTRATOR_TEMPLATE_ID, privilegeDefinitions, privilegeName, privilegesFor, type Depth, type PrivilegeVerb } from "./privileges.ts";

/** A predefined security role: what every new environment has (learn.microsoft.com/power-platform/admin/database-security#predefined-security-roles). */
export interface DefaultRole {
  name: string;
  /** `roletemplateid`: marks the role as a predefined ("default") one. */
  templateId: string;
  privileges: { name: string; depth: Depth }[];
}

/**
 * A stable role template id for a predefined role orgbox models. System Administrator's is
 * Dataverse's real one; the others are orgbox's own (deterministic, not Microsoft's values).
 */
export function roleTemplateId(name: string): string {
  if (name === "System Administrator") return SYSTEM_ADMINISTRATOR_TEMPLATE_ID;
  const h = createHash("sha1").update(`orgbox:roletemplate:${name}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const READ_EVERYWHERE = ["organization", "businessunit", "systemuser", "team", "transactioncurrency"];

/**
 * The predefined roles of a new environment, approximating the documented ones
 * (learn.microsoft.com/power-platform/admin/database-security):
 *
 * - **System Administrator**: every privilege at Global depth.
 *
 * Activity tables share the `…Activity` privileges and notes use `…Note`, so a role that covers
 * user-owned tables covers them through those (each privilege once per role).
 * - **System Customizer**: reads every table (Global); full rights on its own records (Basic) of user-owned tables;
 *   imports and exports solutions (`prvImportCustomization`, `prvExportCustomization`).
 * - **Basic User**: own records (Basic) of user-owned tables, reads them at business-unit depth (Local);
 *   reads users, teams, business units, currencies and the organization (Global), roles (Local).
 * - **Delegate**: `prvActOnBehalfOfAnotherUser` only (impersonation).
 * - **Environment Maker**: reads the organization, business units, users, teams and currencies.
 */
export function defaultRoles(entities: readonly EntityMetadata[]): DefaultRole[] {
  const withPrivileges = entities.filter((e) => privilegesFor(e).length > 0);
  const userOwned = withPrivileges.filter((e) => e.ownershipType === "UserOwned");
  const byName = new Map(entities.map((e) => [e.logicalName, e]));
  const read = (names: string[], depth: Depth) => names.flatMap((n) => (byName.get(n) ? [{ name: privilegeName("Read", byName.get(n) as EntityMetadata), depth }] : []));
  const own = (verbs: PrivilegeVerb[], depth: Depth) => userOwned.flatMap((e) => verbs.map((v) => ({ name: privilegeName(v, e), depth })));
  const roles: DefaultRole[] = [
    {
      name: "System Administrator",
      templateId: "",
      privileges: [...privilegeDefinitions(entities).map((p) => ({ name: p.name, depth: "Global" as const })), ...MISC_PRIVILEGES.map((p) => ({ name: p, depth: "Global" as const }))],
    },
    {
      name: "System Customizer",
      templateId: "",
      privileges: [
        ...withPrivileges.map((e) => ({ name: privilegeName("Read", e), depth: "Global" as const })),
        ...own(["Create", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"], "Basic"),
        // Customizers move solutions between environments (learn.microsoft.com/power-platform/admin/database-security).
        { name: "prvImportCustomization", depth: "Global" as const },
        { name: "prvExportCustomization", depth: "Global" as const },
      ],
    },
    {
      name: "Basic User",
      templateId: "",
      privileges: [...own(["Create", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"], "Basic"), ...own(["Read"], "Local"), ...read(READ_EVERYWHERE, "Global"), ...read(["role"], "Local")],
    },
    { name: "Delegate", templateId: "", privileges: [{ name: "prvActOnBehalfOfAnotherUser", depth: "Global" }] },
    { name: "Environment Maker", templateId: "", privileges: read(READ_EVERYWHERE, "Global") },
  ];
  return roles.map((r) => ({ ...r, templateId: roleTemplateId(r.name), privileges: oncePerName(r.privileges) }));
}

/**
 * Each privilege once, at the widest depth asked for: tables that share privileges (the activity
 * tables' `…Activity`) ask for the same one several times.
 */
function oncePerName(privileges: { name: string; depth: Depth }[]): { name: string; depth: Depth }[] {
  const byName = new Map<string, Depth>();
  for (const p of privileges) {
    const held = byName.get(p.name);
    if (held === undefined || DEPTHS.indexOf(p.depth) > DEPTHS.indexOf(held)) byName.set(p.name, p.depth);
  }
  return [...byName].map(([name, depth]) => ({ name, depth }));
}
