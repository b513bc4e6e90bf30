import { DIRECTORY_ROLE_TEMPLATES, type Group } from "../../identity/index.ts";
import type { GraphContext, GraphResult } from "../context.ts";
import { filled } from "../context.ts";
import { graphError } from "../errors.ts";
import type { QuerySupport } from "../odata.ts";
import type { ExpandNavigation, GraphOperation, GraphResourceModule, PermissionPolicy } from "../registry.ts";
import { findUser, GUID, isObject, pageQuery, referencedId, type Json } from "./directory-common.ts";
import { userJson } from "./users.ts";

/**
 * The `groups` resource (learn.microsoft.com/graph/api/resources/group): security groups only
 * (`mailEnabled: false`, `securityEnabled: true`, no `groupTypes`), list, get, create, rename, delete,
 * and direct user `members` (list, `$ref` add and remove). Membership changes count at once: group
 * claims and group app-role assignments are read live on the next token request.
 */

const TYPE = "microsoft.graph.group";
const R = DIRECTORY_ROLE_TEMPLATES;

const PROPERTIES = ["id", "deletedDateTime", "classification", "createdDateTime", "description", "displayName", "expirationDateTime", "groupTypes", "isAssignableToRole", "mail", "mailEnabled", "mailNickname", "membershipRule", "membershipRuleProcessingState", "onPremisesSyncEnabled", "proxyAddresses", "renewedDateTime", "securityEnabled", "securityIdentifier", "visibility"] as const;

const LIST_QUERY: QuerySupport = { typeName: TYPE, select: PROPERTIES, filter: { id: "guid", displayName: "string", mailNickname: "string" }, orderBy: ["displayName"], collection: true };
const ENTITY_QUERY: QuerySupport = { typeName: TYPE, select: PROPERTIES };
const MEMBERS_QUERY: QuerySupport = { typeName: "microsoft.graph.directoryObject", select: ["id", "displayName", "userPrincipalName", "givenName", "surname", "accountEnabled", "mailNickname"], filter: { id: "guid", displayName: "string", userPrincipalName: "string" }, collection: true };

/** Reading groups (group-list, group-get "Permissions"). */
const READ_GROUPS: PermissionPolicy = {
  application: ["GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  delegated: ["GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
};

/** Directory roles that manage groups. */
const GROUP_ADMIN_ROLES = [R.groupsAdministrator, R.userAdministrator, R.globalAdministrator];

/** Creating, renaming and deleting groups (group-post-groups, group-update, group-delete). */
const WRITE_GROUPS: PermissionPolicy = {
  application: ["Group.Create", "Group.ReadWrite.All", "Directory.ReadWrite.All"],
  delegated: ["Group.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
  directoryRoles: GROUP_ADMIN_ROLES,
};

/** Reading members (group-list-members). */
const READ_MEMBERS: PermissionPolicy = {
  application: ["GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  delegated: ["GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
};

/** Adding and removing members (group-post-members, group-delete-members). */
const WRITE_MEMBERS: PermissionPolicy = {
  application: ["GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"],
  delegated: ["GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
  directoryRoles: GROUP_ADMIN_ROLES,
};

/** The `group` representation of a security group; Graph's defaults for what orgbox does not model. */
function groupJson(g: Omit<Group, "members">): Json {
  return {
    id: g.id,
    deletedDateTime: null,
    classification: null,
    createdDateTime: null,
    description: null,
    displayName: g.displayName,
    expirationDateTime: null,
    groupTypes: [],
    isAssignableToRole: null,
    mail: null,
    mailEnabled: false,
    mailNickname: g.mailNickname ?? null,
    membershipRule: null,
    membershipRuleProcessingState: null,
    onPremisesSyncEnabled: null,
    proxyAddresses: [],
    renewedDateTime: null,
    securityEnabled: true,
    securityIdentifier: null,
    visibility: null,
  };
}

/** The group a path key names in the caller's tenant. @throws GraphError 404 otherwise. */
async function findGroup(x: GraphContext): Promise<Omit<Group, "members">> {
  const id = filled(x.params?.id, "id").value;
  if (!GUID.test(id)) throw graphError.notFound(id);
  const page = await x.deps.directory.queryGroups(filled(x.tenant, "tenant").id, { filter: { op: "eq", property: "id", value: id }, top: 1, count: false });
  const group = page.items[0];
  if (!group) throw graphError.notFound(id);
  return group;
}

function invalid(property: string, why: string): never {
  throw graphError.badRequest(`Invalid value specified for property '${property}' of resource 'Group'. ${why}`);
}

const NOT_SUPPORTED = new Set(["description", "groupTypes", "visibility", "membershipRule", "membershipRuleProcessingState", "isAssignableToRole", "classification", "preferredDataLocation", "resourceBehaviorOptions", "resourceProvisioningOptions", "theme", "owners@odata.bind", "members@odata.bind", "preferredLanguage"]);

function checkKeys(body: Json, writable: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (writable.includes(key) || key === "@odata.type") continue;
    if (NOT_SUPPORTED.has(key)) throw graphError.badRequest(`Property '${key}' of ${TYPE} is not supported by orgbox.`);
    throw graphError.badRequest(`Property '${key}' does not exist as a declared property or extension property.`);
  }
}

function displayName(value: unknown): string {
  if (typeof value !== "string" || value.trim() === "" || value.length > 256) invalid("displayName", "A non-empty string of at most 256 characters is expected.");
  return value;
}

function mailNickname(value: unknown): string {
  if (typeof value !== "string" || !/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]{1,64}$/.test(value)) invalid("mailNickname", "1 to 64 ASCII letters, digits or !#$%&'*+-/=?^_`{|}~. are expected.");
  return value;
}

/** `$expand=members` on groups (direct members). */
const EXPAND_MEMBERS: Readonly<Record<string, ExpandNavigation>> = {
  members: {
    select: MEMBERS_QUERY.select ?? [],
    typeName: "microsoft.graph.directoryObject",
    async load(x, item, limit) {
      const page = await x.deps.directory.queryUsers(filled(x.tenant, "tenant").id, { memberOf: String(item.id), top: limit, count: false });
      return page.items.map((u) => ({ "@odata.type": "#microsoft.graph.user", ...userJson(u) }));
    },
  },
};

const list: GraphOperation = {
  name: "group: list",
  method: "GET",
  path: "groups",
  policy: READ_GROUPS,
  query: LIST_QUERY,
  expand: EXPAND_MEMBERS,
  async handle(x): Promise<GraphResult> {
    const page = await x.deps.directory.queryGroups(filled(x.tenant, "tenant").id, pageQuery(x));
    return { kind: "collection", context: "groups", items: page.items.map(groupJson), ...(page.count !== undefined ? { count: page.count } : {}), ...(page.next ? { next: page.next } : {}) };
  },
};

const get: GraphOperation = {
  name: "group: get",
  method: "GET",
  path: "groups/{id}",
  policy: READ_GROUPS,
  query: ENTITY_QUERY,
  expand: EXPAND_MEMBERS,
  async handle(x): Promise<GraphResult> {
    return { kind: "entity", context: "groups/$entity", value: groupJson(await findGroup(x)) };
  },
};

const create: GraphOperation = {
  name: "group: create",
  method: "POST",
  path: "groups",
  policy: WRITE_GROUPS,
  async handle(x): Promise<GraphResult> {
    const tenant = filled(x.tenant, "tenant");
    const body = x.http.body;
    if (!isObject(body)) throw graphError.badRequest("A JSON object is expected as the request body.");
    checkKeys(body, ["displayName", "mailEnabled", "mailNickname", "securityEnabled"]);
    for (const required of ["displayName", "mailEnabled", "mailNickname", "securityEnabled"]) if (body[required] === undefined || body[required] === null) invalid(required, "The property is required.");
    const name = displayName(body.displayName);
    const nickname = mailNickname(body.mailNickname);
    if (body.mailEnabled !== false || body.securityEnabled !== true) throw graphError.badRequest("orgbox supports security groups only: 'mailEnabled': false and 'securityEnabled': true (Microsoft 365 groups and distribution lists are not modelled).");
    const group = await x.deps.service.createGroup({ tenantId: tenant.id, displayName: name, mailNickname: nickname });
    return { kind: "entity", context: "groups/$entity", value: groupJson(group), status: 201 };
  },
};

const update: GraphOperation = {
  name: "group: update",
  method: "PATCH",
  path: "groups/{id}",
  policy: WRITE_GROUPS,
  async handle(x): Promise<GraphResult> {
    const group = await findGroup(x);
    const body = x.http.body;
    if (!isObject(body)) throw graphError.badRequest("A JSON object is expected as the request body.");
    checkKeys(body, ["displayName", "mailNickname", "mailEnabled", "securityEnabled"]);
    if ((body.mailEnabled !== undefined && body.mailEnabled !== false) || (body.securityEnabled !== undefined && body.securityEnabled !== true)) throw graphError.badRequest("orgbox supports security groups only: 'mailEnabled': false and 'securityEnabled': true.");
    const next = { ...group };
    if (body.displayName !== undefined) next.displayName = displayName(body.displayName);
    if (body.mailNickname !== undefined) next.mailNickname = mailNickname(body.mailNickname);
    await x.deps.directory.updateGroup(next);
    return { kind: "empty" };
  },
};

const remove: GraphOperation = {
  name: "group: delete",
  method: "DELETE",
  path: "groups/{id}",
  policy: WRITE_GROUPS,
  async handle(x): Promise<GraphResult> {
    const group = await findGroup(x);
    await x.deps.directory.deleteGroup(group.id);
    return { kind: "empty" };
  },
};

const listMembers: GraphOperation = {
  name: "group: list members",
  method: "GET",
  path: "groups/{id}/members",
  policy: READ_MEMBERS,
  query: MEMBERS_QUERY,
  async handle(x): Promise<GraphResult> {
    const group = await findGroup(x);
    const page = await x.deps.directory.queryUsers(filled(x.tenant, "tenant").id, pageQuery(x, { memberOf: group.id }));
    const items = page.items.map((u) => ({ "@odata.type": "#microsoft.graph.user", ...userJson(u) }));
    return { kind: "collection", context: "directoryObjects", items, ...(page.count !== undefined ? { count: page.count } : {}), ...(page.next ? { next: page.next } : {}) };
  },
};

const addMember: GraphOperation = {
  name: "group: add member",
  method: "POST",
  path: "groups/{id}/members/$ref",
  policy: WRITE_MEMBERS,
  async handle(x): Promise<GraphResult> {
    const group = await findGroup(x);
    const id = referencedId(x.http.body);
    const user = await findUser(x, id).catch(() => {
      throw graphError.notFound(id);
    });
    const members = await x.deps.directory.queryUsers(filled(x.tenant, "tenant").id, { memberOf: group.id, filter: { op: "eq", property: "id", value: user.id }, top: 1, count: false });
    if (members.items.length > 0) throw graphError.badRequest("One or more added object references already exist for the following modified properties: 'members'.");
    await x.deps.directory.addGroupMember(group.id, user.id, x.deps.clock.now());
    return { kind: "empty" };
  },
};

const removeMember: GraphOperation = {
  name: "group: remove member",
  method: "DELETE",
  path: "groups/{id}/members/{memberId}/$ref",
  policy: WRITE_MEMBERS,
  async handle(x): Promise<GraphResult> {
    const group = await findGroup(x);
    const memberId = filled(x.params?.memberId, "memberId").value.toLowerCase();
    if (!GUID.test(memberId) || !(await x.deps.directory.removeGroupMember(group.id, memberId))) throw graphError.notFound(memberId);
    return { kind: "empty" };
  },
};

/** The `groups` resource module. */
export const groupsModule: GraphResourceModule = {
  name: "groups",
  operations: [list, get, create, update, remove, listMembers, addMember, removeMember],
};
