import type { DirectoryQuery, User } from "../../identity/index.ts";
import { DIRECTORY_ROLE_TEMPLATES } from "../../identity/index.ts";
import type { GraphContext } from "../context.ts";
import { filled } from "../context.ts";
import { graphError } from "../errors.ts";

/**
 * Helpers shared by the directory resources (`users`, `groups`, `organization`, `domains`,
 * `roleManagement/directory`): body checks and the users and groups a path names in the caller's tenant.
 */

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The list query of the operation's page: filter, order, cursor, `$top`, `$count`. */
export function pageQuery(x: GraphContext, extra: Partial<DirectoryQuery> = {}): DirectoryQuery {
  const q = filled(x.query, "query");
  return { ...(q.filter ? { filter: q.filter } : {}), ...(q.orderBy ? { orderBy: q.orderBy } : {}), ...(q.after ? { after: q.after } : {}), top: q.top, count: q.count, ...extra };
}

/**
 * The user a path key names in the caller's tenant: object id or user principal name (`users/{id | userPrincipalName}`).
 * @throws GraphError 404 `Request_ResourceNotFound` when the tenant has no such user (another tenant's user included).
 */
export async function findUser(x: GraphContext, key: string): Promise<User> {
  const tenant = filled(x.tenant, "tenant");
  const property = key.includes("@") ? "userPrincipalName" : "id";
  if (property === "id" && !GUID.test(key)) throw graphError.notFound(key);
  const page = await x.deps.directory.queryUsers(tenant.id, { filter: { op: "eq", property, value: key }, top: 1, count: false });
  const user = page.items[0];
  if (!user) throw graphError.notFound(key);
  return user;
}

/** The id in a `{"@odata.id": "…/directoryObjects/{id}"}` body (Graph's base URL or orgbox's own). @throws GraphError 400 otherwise. */
export function referencedId(body: unknown): string {
  const ref = isObject(body) && typeof body["@odata.id"] === "string" ? /\/(?:directoryObjects|users|groups|servicePrincipals)(?:\/|\(')([0-9a-f-]{36})(?:'\))?\/?$/i.exec(body["@odata.id"]) : null;
  if (!ref) throw graphError.badRequest("A JSON object with '@odata.id': 'https://graph.microsoft.com/v1.0/directoryObjects/{id}' is expected.");
  return (ref[1] as string).toLowerCase();
}

const R = DIRECTORY_ROLE_TEMPLATES;

/** The built-in directory roles orgbox models: template id, display name, description (learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference). */
export const DIRECTORY_ROLES: readonly { id: string; displayName: string; description: string }[] = [
  { id: R.globalAdministrator, displayName: "Global Administrator", description: "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities." },
  { id: R.applicationAdministrator, displayName: "Application Administrator", description: "Can create and manage all aspects of app registrations and enterprise apps." },
  { id: R.cloudApplicationAdministrator, displayName: "Cloud Application Administrator", description: "Can create and manage all aspects of app registrations and enterprise apps except App Proxy." },
  { id: R.privilegedRoleAdministrator, displayName: "Privileged Role Administrator", description: "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management." },
  { id: R.userAdministrator, displayName: "User Administrator", description: "Can manage all aspects of users and groups, including resetting passwords for limited admins." },
  { id: R.groupsAdministrator, displayName: "Groups Administrator", description: "Members of this role can create/manage groups, create/manage groups settings like naming and expiration policies, and view groups activity and audit reports." },
  { id: R.globalReader, displayName: "Global Reader", description: "Can read everything that a Global Administrator can, but not update anything." },
  { id: R.directoryReaders, displayName: "Directory Readers", description: "Can read basic directory information. Commonly used to grant directory read access to applications and guests." },
];
