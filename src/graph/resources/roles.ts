import { DIRECTORY_ROLE_TEMPLATES, type DirectoryFilter, type User } from "../../identity/index.ts";
import type { GraphContext, GraphResult } from "../context.ts";
import { filled } from "../context.ts";
import { graphError } from "../errors.ts";
import type { QuerySupport } from "../odata.ts";
import type { GraphOperation, GraphResourceModule, PermissionPolicy } from "../registry.ts";
import { DIRECTORY_ROLES, findUser, GUID, isObject, type Json } from "./directory-common.ts";

/**
 * Directory roles through Graph's unified RBAC (learn.microsoft.com/graph/api/resources/rbacapplication):
 * `roleManagement/directory/roleDefinitions` (the built-in roles orgbox models, id = template id) and
 * `roleManagement/directory/roleAssignments` (users' directory roles at the tenant scope `/`). A user's
 * roles are read live on each Graph request and token, so an assignment counts on the user's next request.
 */

const R = DIRECTORY_ROLE_TEMPLATES;

/** Reading role definitions and assignments (rbacapplication-list-roledefinitions, …-roleassignments "Permissions"). */
const READ_ROLES: PermissionPolicy = {
  application: ["RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory", "Directory.Read.All", "Directory.ReadWrite.All"],
  delegated: ["RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
};

/** Assigning and removing roles (rbacapplication-post-roleassignments, unifiedroleassignment-delete): Privileged Role Administrator or Global Administrator. */
const WRITE_ROLES: PermissionPolicy = {
  application: ["RoleManagement.ReadWrite.Directory"],
  delegated: ["RoleManagement.ReadWrite.Directory"],
  directoryRoles: [R.privilegedRoleAdministrator, R.globalAdministrator],
};

const DEFINITION_PROPERTIES = ["id", "description", "displayName", "isBuiltIn", "isEnabled", "resourceScopes", "templateId", "version", "rolePermissions", "inheritsPermissionsFrom"] as const;
const ASSIGNMENT_PROPERTIES = ["id", "principalId", "roleDefinitionId", "directoryScopeId", "appScopeId", "condition"] as const;
const ASSIGNMENTS_QUERY: QuerySupport = { typeName: "microsoft.graph.unifiedRoleAssignment", select: ASSIGNMENT_PROPERTIES, filter: { principalId: "guid", roleDefinitionId: "guid" }, collection: true };

function definitionJson(role: (typeof DIRECTORY_ROLES)[number]): Json {
  return {
    id: role.id,
    description: role.description,
    displayName: role.displayName,
    isBuiltIn: true,
    isEnabled: true,
    resourceScopes: ["/"],
    templateId: role.id,
    version: "1",
    rolePermissions: [],
    inheritsPermissionsFrom: [],
  };
}

/** A GUID's 16 bytes in .NET order (first three fields little-endian), as Entra encodes object ids in keys. */
function guidBytes(guid: string): Buffer {
  const hex = guid.replaceAll("-", "");
  const b = Buffer.from(hex, "hex");
  return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
}

function guidOf(bytes: Buffer): string {
  const b = Buffer.concat([Buffer.from(bytes.subarray(0, 4)).reverse(), Buffer.from(bytes.subarray(4, 6)).reverse(), Buffer.from(bytes.subarray(6, 8)).reverse(), bytes.subarray(8)]).toString("hex");
  return `${b.slice(0, 8)}-${b.slice(8, 12)}-${b.slice(12, 16)}-${b.slice(16, 20)}-${b.slice(20)}`;
}

/** Entra's id of a tenant-wide directory role assignment: base64url(role template id) + base64url(principal id) + `-1`. */
export function assignmentId(roleId: string, principalId: string): string {
  return `${guidBytes(roleId).toString("base64url")}${guidBytes(principalId).toString("base64url")}-1`;
}

/** The role and principal of an {@link assignmentId}, or undefined for any other text. */
function parseAssignmentId(id: string): { roleId: string; principalId: string } | undefined {
  const m = /^([A-Za-z0-9_-]{22})([A-Za-z0-9_-]{22})-1$/.exec(id);
  if (!m) return undefined;
  return { roleId: guidOf(Buffer.from(m[1] as string, "base64url")), principalId: guidOf(Buffer.from(m[2] as string, "base64url")) };
}

function assignmentJson(roleId: string, principalId: string): Json {
  return { id: assignmentId(roleId, principalId), principalId, roleDefinitionId: roleId, directoryScopeId: "/", appScopeId: null, condition: null };
}

const knownRole = (id: string) => DIRECTORY_ROLES.find((r) => r.id === id.toLowerCase());

/** The user's assignments of roles orgbox models. */
const assignmentsOf = (u: User, roleId?: string): Json[] =>
  u.directoryRoles.map((r) => r.toLowerCase()).filter((r) => knownRole(r) && (roleId === undefined || r === roleId)).map((r) => assignmentJson(r, u.id));

/** `principalId eq '…'` and/or `roleDefinitionId eq '…'` (joined by `and`): what orgbox filters assignments by. @throws GraphError 400 Request_UnsupportedQuery otherwise. */
function assignmentFilter(filter: DirectoryFilter | undefined): { principalId?: string; roleDefinitionId?: string } {
  const out: { principalId?: string; roleDefinitionId?: string } = {};
  const visit = (f: DirectoryFilter): void => {
    if (f.op === "and") return f.operands.forEach(visit);
    if (f.op === "eq" && typeof f.value === "string" && (f.property === "principalId" || f.property === "roleDefinitionId") && out[f.property] === undefined) {
      out[f.property] = f.value.toLowerCase();
      return;
    }
    throw graphError.unsupportedQuery("Unsupported Query. orgbox filters role assignments by principalId eq '…' and roleDefinitionId eq '…' (joined by 'and').");
  };
  if (filter) visit(filter);
  return out;
}

const listDefinitions: GraphOperation = {
  name: "roleDefinition: list",
  method: "GET",
  path: "roleManagement/directory/roleDefinitions",
  policy: READ_ROLES,
  query: { typeName: "microsoft.graph.unifiedRoleDefinition", select: DEFINITION_PROPERTIES },
  async handle(): Promise<GraphResult> {
    return { kind: "collection", context: "roleManagement/directory/roleDefinitions", items: DIRECTORY_ROLES.map(definitionJson) };
  },
};

const getDefinition: GraphOperation = {
  name: "roleDefinition: get",
  method: "GET",
  path: "roleManagement/directory/roleDefinitions/{id}",
  policy: READ_ROLES,
  query: { typeName: "microsoft.graph.unifiedRoleDefinition", select: DEFINITION_PROPERTIES },
  async handle(x): Promise<GraphResult> {
    const id = filled(x.params?.id, "id").value;
    const role = knownRole(id);
    if (!role) throw graphError.notFound(id);
    return { kind: "entity", context: "roleManagement/directory/roleDefinitions/$entity", value: definitionJson(role) };
  },
};

const listAssignments: GraphOperation = {
  name: "roleAssignment: list",
  method: "GET",
  path: "roleManagement/directory/roleAssignments",
  policy: READ_ROLES,
  query: ASSIGNMENTS_QUERY,
  async handle(x): Promise<GraphResult> {
    const q = filled(x.query, "query");
    const tenant = filled(x.tenant, "tenant");
    if (q.count) throw graphError.unsupportedQuery("Unsupported Query. orgbox does not count role assignments ($count).");
    const by = assignmentFilter(q.filter);
    const context = "roleManagement/directory/roleAssignments";
    if (by.principalId !== undefined) {
      const user = GUID.test(by.principalId) ? await findUser(x, by.principalId).catch(() => undefined) : undefined;
      return { kind: "collection", context, items: user ? assignmentsOf(user, by.roleDefinitionId) : [] };
    }
    if (by.roleDefinitionId !== undefined && !knownRole(by.roleDefinitionId)) return { kind: "collection", context, items: [] };
    // Pages of role holders (keyset on the user's id): $top counts principals.
    const page = await x.deps.directory.queryUsers(tenant.id, { directoryRole: by.roleDefinitionId ?? "*", top: q.top, ...(q.after ? { after: q.after } : {}), count: false });
    return { kind: "collection", context, items: page.items.flatMap((u) => assignmentsOf(u, by.roleDefinitionId)), ...(page.next ? { next: page.next } : {}) };
  },
};

/** The assignment a path key names, in the caller's tenant. @throws GraphError 404 otherwise. */
async function findAssignment(x: GraphContext): Promise<{ roleId: string; user: User }> {
  const id = filled(x.params?.id, "id").value;
  const parsed = parseAssignmentId(id);
  const user = parsed ? await findUser(x, parsed.principalId).catch(() => undefined) : undefined;
  if (!parsed || !user || !user.directoryRoles.some((r) => r.toLowerCase() === parsed.roleId)) throw graphError.notFound(id);
  return { roleId: parsed.roleId, user };
}

const getAssignment: GraphOperation = {
  name: "roleAssignment: get",
  method: "GET",
  path: "roleManagement/directory/roleAssignments/{id}",
  policy: READ_ROLES,
  query: { typeName: "microsoft.graph.unifiedRoleAssignment", select: ASSIGNMENT_PROPERTIES },
  async handle(x): Promise<GraphResult> {
    const { roleId, user } = await findAssignment(x);
    return { kind: "entity", context: "roleManagement/directory/roleAssignments/$entity", value: assignmentJson(roleId, user.id) };
  },
};

const createAssignment: GraphOperation = {
  name: "roleAssignment: create",
  method: "POST",
  path: "roleManagement/directory/roleAssignments",
  policy: WRITE_ROLES,
  async handle(x): Promise<GraphResult> {
    const body = x.http.body;
    if (!isObject(body)) throw graphError.badRequest("A JSON object with 'principalId', 'roleDefinitionId' and 'directoryScopeId' is expected.");
    for (const key of Object.keys(body)) {
      if (key.startsWith("@odata.") || ["principalId", "roleDefinitionId", "directoryScopeId"].includes(key)) continue;
      if (key === "appScopeId" || key === "condition") throw graphError.badRequest(`Property '${key}' of microsoft.graph.unifiedRoleAssignment is not supported by orgbox.`);
      throw graphError.badRequest(`Property '${key}' does not exist as a declared property or extension property.`);
    }
    if (typeof body.principalId !== "string" || !GUID.test(body.principalId)) throw graphError.badRequest("Invalid value specified for property 'principalId' of resource 'UnifiedRoleAssignment'.");
    if (typeof body.roleDefinitionId !== "string" || !knownRole(body.roleDefinitionId)) throw graphError.badRequest(`The role definition '${String(body.roleDefinitionId)}' does not exist or is not one orgbox models (${DIRECTORY_ROLES.map((r) => r.displayName).join(", ")}).`);
    if (body.directoryScopeId !== "/") throw graphError.badRequest("orgbox supports directory role assignments at the tenant scope only: 'directoryScopeId': '/'.");
    const roleId = body.roleDefinitionId.toLowerCase();
    const principalId = body.principalId.toLowerCase();
    const user = await findUser(x, principalId).catch(() => {
      throw graphError.badRequest(`The principal '${principalId}' is not a user of this tenant (orgbox assigns directory roles to users only).`);
    });
    if (user.directoryRoles.some((r) => r.toLowerCase() === roleId)) throw graphError.conflict("A conflicting object with one or more of the specified property values is present in the directory.");
    await x.deps.directory.updateUser({ ...user, directoryRoles: [...user.directoryRoles, roleId] });
    return { kind: "entity", context: "roleManagement/directory/roleAssignments/$entity", value: assignmentJson(roleId, user.id), status: 201 };
  },
};

const deleteAssignment: GraphOperation = {
  name: "roleAssignment: delete",
  method: "DELETE",
  path: "roleManagement/directory/roleAssignments/{id}",
  policy: WRITE_ROLES,
  async handle(x): Promise<GraphResult> {
    const { roleId, user } = await findAssignment(x);
    await x.deps.directory.updateUser({ ...user, directoryRoles: user.directoryRoles.filter((r) => r.toLowerCase() !== roleId) });
    return { kind: "empty" };
  },
};

/** The `roleManagement/directory` resource module. */
export const rolesModule: GraphResourceModule = {
  name: "roleManagement/directory",
  operations: [listDefinitions, getDefinition, listAssignments, getAssignment, createAssignment, deleteAssignment],
};
