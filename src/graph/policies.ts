import { DIRECTORY_ROLE_TEMPLATES } from "../identity/index.ts";
import type { PermissionPolicy } from "./registry.ts";

const R = DIRECTORY_ROLE_TEMPLATES;

/** Display names of the directory role templates (learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference). */
const ROLE_NAMES: Record<string, string> = {
  [R.globalAdministrator]: "Global Administrator",
  [R.applicationAdministrator]: "Application Administrator",
  [R.cloudApplicationAdministrator]: "Cloud Application Administrator",
  [R.privilegedRoleAdministrator]: "Privileged Role Administrator",
  [R.userAdministrator]: "User Administrator",
  [R.groupsAdministrator]: "Groups Administrator",
  [R.globalReader]: "Global Reader",
  [R.directoryReaders]: "Directory Readers",
};

/** Role template ids → display names (unknown ids as they are). */
export function roleNames(templateIds: readonly string[]): string[] {
  return templateIds.map((id) => ROLE_NAMES[id.toLowerCase()] ?? id);
}

/** Directory roles that manage app registrations and enterprise apps (least privileged first). */
export const APP_ADMIN_ROLES: readonly string[] = [R.cloudApplicationAdministrator, R.applicationAdministrator, R.globalAdministrator];

/**
 * Reading applications and service principals (learn.microsoft.com/graph/api/application-list,
 * …/application-get, "Permissions"): any member user may read them with a delegated permission.
 */
export const READ_APPLICATIONS: PermissionPolicy = {
  application: ["Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  ownedOnly: ["Application.ReadWrite.OwnedBy"],
  delegated: ["Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
};

/**
 * Changing applications (learn.microsoft.com/graph/api/application-update, …/application-addpassword, …):
 * `Application.ReadWrite.All` (or `Application.ReadWrite.OwnedBy` for owned apps) app-only; delegated,
 * an app-admin role or ownership of the app.
 */
export const WRITE_APPLICATIONS: PermissionPolicy = {
  application: ["Application.ReadWrite.All", "Directory.ReadWrite.All"],
  ownedOnly: ["Application.ReadWrite.OwnedBy"],
  delegated: ["Application.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
  directoryRoles: APP_ADMIN_ROLES,
  owners: true,
};

/**
 * Creating an application (learn.microsoft.com/graph/api/application-post-applications): app-only with
 * `Application.ReadWrite.All` or `…OwnedBy` (the caller becomes an owner); any member user may register
 * apps (the default "Users can register applications" setting) and becomes its owner.
 */
export const CREATE_APPLICATIONS: PermissionPolicy = {
  application: ["Application.ReadWrite.All", "Directory.ReadWrite.All"],
  ownedOnly: ["Application.ReadWrite.OwnedBy"],
  delegated: ["Application.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
};
