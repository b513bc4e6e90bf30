import { newGuid } from "../../common/ids.ts";
import { DIRECTORY_ROLE_TEMPLATES, type AppRoleAssignment, type ServicePrincipal } from "../../identity/index.ts";
import type { GraphContext, GraphResult } from "../context.ts";
import { filled } from "../context.ts";
import { GraphError, graphError } from "../errors.ts";
import { APP_ADMIN_ROLES } from "../policies.ts";
import type { QuerySupport } from "../odata.ts";
import type { PermissionPolicy } from "../registry.ts";

/**
 * App role assignments (learn.microsoft.com/graph/api/resources/approleassignment) as the Graph
 * surface reads and writes them: the representation, and create/list/delete for a resource service
 * principal (`servicePrincipals/{id}/appRoleAssignedTo`), a client service principal
 * (`servicePrincipals/{id}/appRoleAssignments`) and — for the users module — a user
 * (`users/{id}/appRoleAssignments`: {@link listAssignmentsOf}, {@link createAssignment},
 * {@link deleteAssignment} with `{ principalId: userId }`). Every write goes through identity's
 * cached directory, so the next token request sees it (`roles` claims, `appRoleAssignmentRequired`).
 */

/** A JSON object body. */
export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A GUID property of a body, lower-case. @throws GraphError 400 naming the property and resource. */
export function guidProperty(value: unknown, property: string, resource: string): string {
  if (typeof value !== "string" || !GUID.test(value)) throw graphError.badRequest(`Invalid value specified for property '${property}' of resource '${resource}'. A GUID is expected.`);
  return value.toLowerCase();
}

/** Refuses body properties other than `allowed` (`@odata.*` annotations pass). @throws GraphError 400 naming the first. */
export function onlyProperties(body: Json, allowed: readonly string[], resource: string): void {
  for (const key of Object.keys(body)) {
    if (key.startsWith("@odata.")) continue;
    if (!allowed.includes(key)) throw graphError.badRequest(`Property '${key}' does not exist as a declared property or extension property of '${resource}', or is not supported by orgbox.`);
  }
}

/** A JSON object body. @throws GraphError 400 otherwise. */
export function objectBody(x: GraphContext, resource: string): Json {
  const body = x.http.body;
  if (!isObject(body)) throw graphError.badRequest(`A JSON object (${resource}) is expected as the request body.`);
  return body;
}

/**
 * Reading assignments (learn.microsoft.com/graph/api/serviceprincipal-list-approleassignedto,
 * …/serviceprincipal-list-approleassignments, "Permissions").
 */
export const READ_ASSIGNMENTS: PermissionPolicy = {
  application: ["Application.Read.All", "Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  delegated: ["Application.Read.All", "Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
};

/**
 * Granting and removing assignments (learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto,
 * …/serviceprincipal-delete-approleassignedto): `AppRoleAssignment.ReadWrite.All`; delegated, with an
 * app-admin role or Privileged Role Administrator.
 */
export const WRITE_ASSIGNMENTS: PermissionPolicy = {
  application: ["AppRoleAssignment.ReadWrite.All"],
  delegated: ["AppRoleAssignment.ReadWrite.All", "Directory.AccessAsUser.All"],
  directoryRoles: [...APP_ADMIN_ROLES, DIRECTORY_ROLE_TEMPLATES.privilegedRoleAdministrator],
};

/**
 * Granting an assignment (learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto,
 * …/serviceprincipal-post-approleassignments, "Permissions"): Graph's least privileged entry is
 * "AppRoleAssignment.ReadWrite.All and Application.Read.All" (or "… and Directory.Read.All"), so
 * `AppRoleAssignment.ReadWrite.All` alone is refused.
 */
export const CREATE_ASSIGNMENTS: PermissionPolicy = {
  ...WRITE_ASSIGNMENTS,
  alsoRequired: [["Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"]],
};

/** The default app role id ("assigned, with no particular role"). */
const DEFAULT_APP_ROLE_ID = "00000000-0000-0000-0000-000000000000";

const RESOURCE = "microsoft.graph.appRoleAssignment";
const ASSIGNMENT_PROPERTIES = ["id", "deletedDateTime", "appRoleId", "createdDateTime", "principalDisplayName", "principalId", "principalType", "resourceDisplayName", "resourceId"] as const;

/** Display name of an assignment's principal (user, group or service principal) in the caller's tenant; null when it is gone. */
async function principalDisplayName(x: GraphContext, a: AppRoleAssignment): Promise<string | null> {
  const tenant = filled(x.tenant, "tenant");
  if (a.principalType === "User") {
    const user = await x.deps.directory.findUserById(a.principalId);
    return user && user.tenantId === tenant.id ? user.displayName : null;
  }
  if (a.principalType === "Group") return (await x.deps.directory.findGroup(tenant.id, a.principalId))?.displayName ?? null;
  return (await x.deps.directory.findServicePrincipalById(tenant.id, a.principalId))?.displayName ?? null;
}

/** The `appRoleAssignment` representation. */
export async function assignmentJson(x: GraphContext, a: AppRoleAssignment): Promise<Record<string, unknown>> {
  const tenant = filled(x.tenant, "tenant");
  const resource = await x.deps.directory.findServicePrincipalById(tenant.id, a.resourceId);
  return {
    id: a.id,
    deletedDateTime: null,
    appRoleId: a.appRoleId,
    createdDateTime: null,
    principalDisplayName: await principalDisplayName(x, a),
    principalId: a.principalId,
    principalType: a.principalType ?? "ServicePrincipal",
    resourceDisplayName: resource?.displayName ?? null,
    resourceId: a.resourceId,
  };
}

/** Which side of the assignment the path names: the principal (`…/appRoleAssignments`) or the resource (`…/appRoleAssignedTo`). */
export type AssignmentSide = { principalId: string } | { resourceId: string };

/** `$top`, `$skiptoken` and `$count` on assignment collections (no `$filter`/`$orderby` here). */
export const ASSIGNMENTS_QUERY: QuerySupport = { typeName: RESOURCE, select: ASSIGNMENT_PROPERTIES, collection: true };

/** A keyset page of the assignments of one side in the caller's tenant, as a Graph collection (declare {@link ASSIGNMENTS_QUERY} on the operation). */
export async function listAssignmentsOf(x: GraphContext, side: AssignmentSide): Promise<GraphResult> {
  const q = filled(x.query, "query");
  const page = await x.deps.directory.queryAppRoleAssignments(filled(x.tenant, "tenant").id, side, { ...(q.after ? { after: q.after } : {}), top: q.top, count: q.count });
  const items = await Promise.all(page.items.map((a) => assignmentJson(x, a)));
  return { kind: "collection", context: "appRoleAssignments", items, ...(page.count !== undefined ? { count: page.count } : {}), ...(page.next ? { next: page.next } : {}) };
}

/** What the principal of a new assignment is, in the caller's tenant. @throws GraphError 404 when it is not there. */
async function principalTypeOf(x: GraphContext, principalId: string): Promise<"User" | "Group" | "ServicePrincipal"> {
  const tenant = filled(x.tenant, "tenant");
  const user = await x.deps.directory.findUserById(principalId);
  if (user && user.tenantId === tenant.id) return "User";
  const group = await x.deps.directory.findGroup(tenant.id, principalId);
  if (group && group.id === principalId) return "Group";
  if (await x.deps.directory.findServicePrincipalById(tenant.id, principalId)) return "ServicePrincipal";
  throw graphError.notFound(principalId);
}

/**
 * Creates an assignment from a Graph body `{principalId, resourceId, appRoleId}`; `side` is what the
 * path fixes (the body must agree). The role must be one of the resource app's `appRoles` allowing
 * the principal's kind (`Application` for service principals, `User` for users and groups), or the
 * default role id for users and groups.
 * @throws GraphError 400 for a malformed body, an unknown role or a duplicate; 404 for an unknown principal or resource.
 */
export async function createAssignment(x: GraphContext, side: AssignmentSide): Promise<GraphResult> {
  const tenant = filled(x.tenant, "tenant");
  const body = objectBody(x, RESOURCE);
  onlyProperties(body, ["principalId", "resourceId", "appRoleId", "principalType", "principalDisplayName", "resourceDisplayName", "id", "createdDateTime", "deletedDateTime"], RESOURCE);
  const principalId = guidProperty(body.principalId, "principalId", "appRoleAssignment");
  const resourceId = guidProperty(body.resourceId, "resourceId", "appRoleAssignment");
  const appRoleId = guidProperty(body.appRoleId, "appRoleId", "appRoleAssignment");
  if ("principalId" in side && side.principalId !== principalId) throw graphError.badRequest("'principalId' must be the id of the object in the request path.");
  if ("resourceId" in side && side.resourceId !== resourceId) throw graphError.badRequest("'resourceId' must be the id of the service principal in the request path.");
  const resource = await x.deps.directory.findServicePrincipalById(tenant.id, resourceId);
  if (!resource) throw graphError.notFound(resourceId);
  const principalType = await principalTypeOf(x, principalId);
  const resourceApp = await x.deps.directory.findApplicationByAppId(resource.appId);
  const memberType = principalType === "ServicePrincipal" ? "Application" : "User";
  const role = resourceApp?.appRoles.find((r) => r.id.toLowerCase() === appRoleId);
  const defaultRole = appRoleId === DEFAULT_APP_ROLE_ID && principalType !== "ServicePrincipal";
  if (!defaultRole && (!role || !role.allowedMemberTypes.includes(memberType))) {
    throw graphError.badRequest(`Permission being assigned was not found on application '${resource.displayName}': appRoleId '${appRoleId}' is not an app role of the resource that allows member type '${memberType}'.`);
  }
  if ((await x.deps.directory.listAppRoleAssignments(principalId, resourceId)).some((a) => a.appRoleId.toLowerCase() === appRoleId)) {
    throw graphError.badRequest("Permission being assigned already exists on the object");
  }
  const assignment: AppRoleAssignment = { id: newGuid(), tenantId: tenant.id, principalId, resourceId, appRoleId, principalType };
  await x.deps.directory.addAppRoleAssignment(assignment, x.deps.clock.now());
  return { kind: "entity", context: "appRoleAssignments/$entity", value: await assignmentJson(x, assignment), status: 201 };
}

/**
 * Deletes the assignment `assignmentId` if it belongs to `side` in the caller's tenant.
 * @throws GraphError 404 otherwise.
 */
export async function deleteAssignment(x: GraphContext, side: AssignmentSide, assignmentId: string): Promise<GraphResult> {
  const tenant = filled(x.tenant, "tenant");
  const found = await x.deps.directory.findAppRoleAssignment(assignmentId);
  const matches = found && found.tenantId === tenant.id && ("principalId" in side ? found.principalId === side.principalId : found.resourceId === side.resourceId);
  if (!found || !matches) throw graphError.notFound(assignmentId);
  await x.deps.directory.deleteAppRoleAssignment(found.id);
  return { kind: "empty" };
}

/** A service principal a path key names in the caller's tenant: object id or `servicePrincipals(appId='…')`. @throws GraphError 404 / 400. */
export async function findServicePrincipalByKey(x: GraphContext, key: { kind: "id"; value: string } | { kind: "alternate"; property: string; value: string } | undefined): Promise<ServicePrincipal> {
  const k = filled(key, "id");
  const tenant = filled(x.tenant, "tenant");
  let sp: ServicePrincipal | undefined;
  if (k.kind === "id") sp = GUID.test(k.value) ? await x.deps.directory.findServicePrincipalById(tenant.id, k.value) : undefined;
  else if (k.property.toLowerCase() === "appid") sp = GUID.test(k.value) ? await x.deps.directory.findServicePrincipal(tenant.id, k.value.toLowerCase()) : undefined;
  else throw graphError.badRequest(`'${k.property}' is not an alternate key of microsoft.graph.servicePrincipal: use the object id or appId='{appId}'.`);
  if (!sp) throw graphError.notFound(k.value);
  return sp;
}

/** A 409 with Graph's code for an object whose key is taken. */
export const alreadyExists = (message: string): GraphError => new GraphError(409, "Request_MultipleObjectsWithSameKeyValue", message);
