import { newGuid } from "../../common/ids.ts";
import type { AppRoleAssignment, User } from "../../identity/index.ts";
import type { GraphContext, GraphResult } from "../context.ts";
import { filled } from "../context.ts";
import { graphError } from "../errors.ts";
import { APP_ADMIN_ROLES } from "../policies.ts";
import type { GraphOperation, GraphResourceModule, PermissionPolicy } from "../registry.ts";
import { findUser, GUID, isObject, type Json } from "./directory-common.ts";

/**
 * A user's app role assignments (learn.microsoft.com/graph/api/user-list-approleassignments,
 * …/user-post-approleassignments, …/user-delete-approleassignments): list, assign (the default
 * role `00000000-0000-0000-0000-000000000000` or an app role of the resource app that allows users),
 * remove. Live: "Assignment required?" sign-ins (AADSTS50105) read assignments on each token request.
 */

/** The default app role: "assigned, with no particular role". */
const DEFAULT_APP_ROLE_ID = "00000000-0000-0000-0000-000000000000";

const READ_ASSIGNMENTS: PermissionPolicy = {
  application: ["User.Read.All", "User.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  delegated: ["User.Read.All", "User.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
};

/** Assigning users to apps: `AppRoleAssignment.ReadWrite.All`; delegated, an app-admin role. */
const WRITE_ASSIGNMENTS: PermissionPolicy = {
  application: ["AppRoleAssignment.ReadWrite.All"],
  delegated: ["AppRoleAssignment.ReadWrite.All", "Directory.AccessAsUser.All"],
  directoryRoles: APP_ADMIN_ROLES,
};

async function assignmentJson(x: GraphContext, a: AppRoleAssignment, user: User): Promise<Json> {
  const sp = await x.deps.directory.findServicePrincipalById(filled(x.tenant, "tenant").id, a.resourceId);
  return { id: a.id, deletedDateTime: null, appRoleId: a.appRoleId, createdDateTime: null, principalDisplayName: user.displayName, principalId: user.id, principalType: "User", resourceDisplayName: sp?.displayName ?? null, resourceId: a.resourceId };
}

const list: GraphOperation = {
  name: "user: list appRoleAssignments",
  method: "GET",
  path: "users/{id}/appRoleAssignments",
  policy: READ_ASSIGNMENTS,
  async handle(x): Promise<GraphResult> {
    const user = await findUser(x, filled(x.params?.id, "id").value);
    const assignments = await x.deps.directory.listAppRoleAssignmentsOfPrincipal(filled(x.tenant, "tenant").id, user.id);
    return { kind: "collection", context: `users('${user.id}')/appRoleAssignments`, items: await Promise.all(assignments.map((a) => assignmentJson(x, a, user))) };
  },
};

const create: GraphOperation = {
  name: "user: assign app role",
  method: "POST",
  path: "users/{id}/appRoleAssignments",
  policy: WRITE_ASSIGNMENTS,
  async handle(x): Promise<GraphResult> {
    const tenant = filled(x.tenant, "tenant");
    const user = await findUser(x, filled(x.params?.id, "id").value);
    const body = x.http.body;
    if (!isObject(body)) throw graphError.badRequest("A JSON object with 'principalId', 'resourceId' and 'appRoleId' is expected.");
    for (const key of Object.keys(body)) if (!key.startsWith("@odata.") && !["principalId", "resourceId", "appRoleId"].includes(key)) throw graphError.badRequest(`Property '${key}' does not exist as a declared property or extension property.`);
    for (const key of ["principalId", "resourceId", "appRoleId"]) if (typeof body[key] !== "string" || !GUID.test(body[key])) throw graphError.badRequest(`Invalid value specified for property '${key}' of resource 'AppRoleAssignment'.`);
    if ((body.principalId as string).toLowerCase() !== user.id) throw graphError.badRequest("'principalId' must be the id of the user in the request URL.");
    const sp = await x.deps.directory.findServicePrincipalById(tenant.id, body.resourceId as string);
    if (!sp) throw graphError.notFound(body.resourceId as string);
    const appRoleId = (body.appRoleId as string).toLowerCase();
    if (appRoleId !== DEFAULT_APP_ROLE_ID) {
      const app = await x.deps.directory.findApplicationByAppId(sp.appId);
      if (!app?.appRoles.some((r) => r.id === appRoleId && r.allowedMemberTypes.includes("User"))) throw graphError.badRequest("Permission being assigned was not found on application");
    }
    const existing = await x.deps.directory.listAppRoleAssignmentsOfPrincipal(tenant.id, user.id);
    if (existing.some((a) => a.resourceId === sp.id && a.appRoleId === appRoleId)) throw graphError.badRequest("Permission being assigned already exists on the object");
    const assignment: AppRoleAssignment = { id: newGuid(), tenantId: tenant.id, principalId: user.id, resourceId: sp.id, appRoleId, principalType: "User" };
    await x.deps.directory.addAppRoleAssignment(assignment, x.deps.clock.now());
    return { kind: "entity", context: `users('${user.id}')/appRoleAssignments/$entity`, value: await assignmentJson(x, assignment, user), status: 201 };
  },
};

const remove: GraphOperation = {
  name: "user: remove app role assignment",
  method: "DELETE",
  path: "users/{id}/appRoleAssignments/{assignmentId}",
  policy: WRITE_ASSIGNMENTS,
  async handle(x): Promise<GraphResult> {
    const user = await findUser(x, filled(x.params?.id, "id").value);
    const assignmentId = filled(x.params?.assignmentId, "assignmentId").value;
    if (!(await x.deps.directory.deleteAppRoleAssignmentOfPrincipal(filled(x.tenant, "tenant").id, user.id, assignmentId))) throw graphError.notFound(assignmentId);
    return { kind: "empty" };
  },
};

/** The `users/{id}/appRoleAssignments` resource module (drop its registration if servicePrincipals' module registers the same paths). */
export const userAppRoleAssignmentsModule: GraphResourceModule = {
  name: "users/appRoleAssignments",
  operations: [list, create, remove],
};
