import { DIRECTORY_ROLE_TEMPLATES, type User } from "../../identity/index.ts";
import type { GraphContext, GraphResult } from "../context.ts";
import { filled } from "../context.ts";
import { GraphError, graphError } from "../errors.ts";
import type { QuerySupport } from "../odata.ts";
import type { ExpandNavigation, GraphOperation, GraphResourceModule, PermissionPolicy } from "../registry.ts";
import { DIRECTORY_ROLES, findUser, isObject, pageQuery, type Json } from "./directory-common.ts";

/**
 * The `users` resource (learn.microsoft.com/graph/api/resources/user) and `me`: list, get (object id
 * or user principal name), create, update (profile, `accountEnabled`, password reset), delete,
 * `revokeSignInSessions` and `memberOf`. Every change is live: users are never cached, so a disabled
 * user's next token request fails (AADSTS50057), a reset password works at once, and a revocation or a
 * reset makes the next refresh fail (AADSTS50173); a deleted user's refresh tokens are revoked.
 */

const TYPE = "microsoft.graph.user";
const R = DIRECTORY_ROLE_TEMPLATES;

/** Graph's default properties of a user (returned without `$select`, learn.microsoft.com/graph/api/user-get). */
const DEFAULT_PROPERTIES = ["businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"] as const;
/** Everything `$select` may name. */
const PROPERTIES = [...DEFAULT_PROPERTIES, "accountEnabled", "mailNickname", "userType", "passwordProfile"] as const;

/** Filterable properties (learn.microsoft.com/graph/aad-advanced-queries, "user properties"). */
const LIST_QUERY: QuerySupport = {
  typeName: TYPE,
  select: PROPERTIES,
  filter: { id: "guid", userPrincipalName: "string", displayName: "string", givenName: "string", surname: "string", accountEnabled: "boolean", mailNickname: "string" },
  orderBy: ["displayName", "userPrincipalName"],
  collection: true,
};
const ENTITY_QUERY: QuerySupport = { typeName: TYPE, select: PROPERTIES };
const MEMBER_OF_QUERY: QuerySupport = { typeName: "microsoft.graph.directoryObject" };

/** Reading users (learn.microsoft.com/graph/api/user-list, user-get "Permissions"): any member user may read them. */
export const READ_USERS: PermissionPolicy = {
  application: ["User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  delegated: ["User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
};

/** Creating, changing and deleting users (user-post-users, user-update, user-delete): delegated callers need User Administrator or Global Administrator. */
export const WRITE_USERS: PermissionPolicy = {
  application: ["User.ReadWrite.All", "Directory.ReadWrite.All"],
  delegated: ["User.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
  directoryRoles: [R.userAdministrator, R.globalAdministrator],
};

/** `revokeSignInSessions` (user-revokesigninsessions). */
const REVOKE_SESSIONS: PermissionPolicy = {
  application: ["User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"],
  delegated: ["User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
  directoryRoles: [R.userAdministrator, R.globalAdministrator],
};

/** `memberOf` (user-list-memberof). */
const READ_MEMBER_OF: PermissionPolicy = {
  application: ["GroupMember.Read.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  delegated: ["User.Read", "GroupMember.Read.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
};

/** `me` (user-get with /me): delegated only; application permissions pass here so the handler can answer Graph's 400. */
const READ_ME: PermissionPolicy = {
  application: [...READ_USERS.application, ...READ_MEMBER_OF.application],
  delegated: ["User.Read", "User.ReadWrite", ...READ_USERS.delegated],
};

/** The full `user` representation; Graph's defaults for what orgbox does not model. */
export function userJson(u: User): Json {
  return {
    id: u.id,
    businessPhones: [],
    displayName: u.displayName,
    givenName: u.givenName,
    jobTitle: null,
    mail: null,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: u.surname,
    userPrincipalName: u.userPrincipalName,
    accountEnabled: u.accountEnabled,
    mailNickname: u.mailNickname ?? null,
    userType: "Member",
    passwordProfile: null,
  };
}

/** The representation the request asks for: Graph's default properties without `$select`, else everything (the render step projects). */
function shaped(x: GraphContext, u: User): Json {
  const all = userJson(u);
  if (filled(x.query, "query").select) return all;
  return Object.fromEntries(DEFAULT_PROPERTIES.map((p) => [p, all[p]]));
}

// ── Bodies ───────────────────────────────────────────────────────────────────

/** Properties of `user` Graph has that orgbox does not store: refused by name rather than dropped. */
const NOT_SUPPORTED = new Set(["jobTitle", "mail", "mobilePhone", "businessPhones", "officeLocation", "preferredLanguage", "department", "companyName", "employeeId", "usageLocation", "city", "country", "state", "streetAddress", "postalCode", "otherMails", "passwordPolicies", "userType", "onPremisesImmutableId", "identities", "ageGroup", "birthday", "employeeType", "faxNumber", "proxyAddresses", "showInAddressList", "aboutMe", "interests", "mySite", "pastProjects", "preferredName", "responsibilities", "schools", "skills", "employeeHireDate", "employeeOrgData", "consentProvidedForMinor", "creationType", "externalUserState", "imAddresses"]);
const READ_ONLY = new Set(["id", "createdDateTime", "deletedDateTime", "assignedLicenses", "assignedPlans", "provisionedPlans", "signInSessionsValidFromDateTime", "lastPasswordChangeDateTime"]);

function invalid(property: string, why = ""): never {
  throw graphError.badRequest(`Invalid value specified for property '${property}' of resource 'User'.${why ? ` ${why}` : ""}`);
}

/**
 * Entra's password rules for cloud users (learn.microsoft.com/entra/identity/authentication/concept-password-ban-bad-combined-policy):
 * 8–256 characters, three of lower case, upper case, digits and symbols.
 * @throws GraphError 400 with Graph's message.
 */
function checkPassword(password: string): void {
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(password)).length;
  if (password.length < 8 || password.length > 256 || classes < 3) throw graphError.badRequest("The specified password does not comply with password complexity requirements. Please provide a different password.");
}

/** `passwordProfile` of a body: the new password (forceChangePasswordNextSignIn is accepted and not enforced). */
function passwordOf(value: unknown): string {
  if (!isObject(value)) invalid("passwordProfile", "An object with 'password' is expected.");
  for (const key of Object.keys(value)) if (!["password", "forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa"].includes(key)) invalid("passwordProfile", `'${key}' is not a property of passwordProfile.`);
  for (const key of ["forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa"]) if (value[key] !== undefined && typeof value[key] !== "boolean") invalid(`passwordProfile.${key}`, "true or false is expected.");
  if (typeof value.password !== "string" || value.password === "") invalid("passwordProfile", "'password' is required.");
  checkPassword(value.password);
  return value.password;
}

function text(value: unknown, property: string, max: number, nullable: boolean): string | null {
  if (value === null && nullable) return null;
  if (typeof value !== "string" || value.trim() === "" || value.length > max) invalid(property, `A non-empty string of at most ${max} characters is expected.`);
  return value;
}

/** A mail alias: 1–64 of the characters Graph allows (ASCII letters, digits and ``!#$%&'*+-/=?^_`{|}~.``). */
function mailNickname(value: unknown): string {
  if (typeof value !== "string" || !/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]{1,64}$/.test(value)) invalid("mailNickname", "1 to 64 ASCII letters, digits or !#$%&'*+-/=?^_`{|}~. are expected.");
  return value;
}

function checkKeys(body: Json, writable: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (key.startsWith("@odata.") || writable.includes(key)) continue;
    if (READ_ONLY.has(key)) throw graphError.badRequest(`Property '${key}' is read-only and cannot be set.`);
    if (NOT_SUPPORTED.has(key)) throw graphError.badRequest(`Property '${key}' of ${TYPE} is not supported by orgbox.`);
    throw graphError.badRequest(`Property '${key}' does not exist as a declared property or extension property.`);
  }
}

/** A delegated caller changing a user who holds a directory role must be a Global Administrator (Graph: only privileged admins can change other admins). */
function assertMayManage(x: GraphContext, target: User): void {
  const caller = filled(x.caller, "caller");
  if (caller.kind === "user" && target.directoryRoles.length > 0 && !caller.directoryRoles.has(R.globalAdministrator) && caller.user.id !== target.id) {
    throw graphError.denied("Only a Global Administrator can change or delete a user who holds a directory role.");
  }
}

const keyOf = (x: GraphContext): string => filled(x.params?.id, "id").value;

// ── Operations ───────────────────────────────────────────────────────────────

/** `$expand=memberOf` on users (direct groups and directory roles). */
const EXPAND_MEMBER_OF: Readonly<Record<string, ExpandNavigation>> = {
  memberOf: {
    select: ["id", "displayName", "description", "roleTemplateId", "mailNickname", "mailEnabled", "securityEnabled", "groupTypes"],
    typeName: "microsoft.graph.directoryObject",
    async load(x, item, limit) {
      const result = await memberOf(x, await findUser(x, String(item.id)));
      return result.kind === "collection" ? result.items.slice(0, limit) : [];
    },
  },
};

const list: GraphOperation = {
  name: "user: list",
  method: "GET",
  path: "users",
  policy: READ_USERS,
  query: LIST_QUERY,
  expand: EXPAND_MEMBER_OF,
  async handle(x): Promise<GraphResult> {
    const page = await x.deps.directory.queryUsers(filled(x.tenant, "tenant").id, pageQuery(x));
    return { kind: "collection", context: "users", items: page.items.map((u) => shaped(x, u)), ...(page.count !== undefined ? { count: page.count } : {}), ...(page.next ? { next: page.next } : {}) };
  },
};

const count: GraphOperation = {
  name: "user: count",
  method: "GET",
  path: "users/$count",
  policy: READ_USERS,
  query: { typeName: TYPE, filter: LIST_QUERY.filter, collection: true },
  async handle(x): Promise<GraphResult> {
    const q = filled(x.query, "query");
    if (!q.eventual) throw graphError.badRequest("Count is not currently supported. Send the header 'ConsistencyLevel: eventual' with /$count.");
    const page = await x.deps.directory.queryUsers(filled(x.tenant, "tenant").id, { ...(q.filter ? { filter: q.filter } : {}), top: 1, count: true });
    return { kind: "count", count: page.count ?? 0 };
  },
};

const get: GraphOperation = {
  name: "user: get",
  method: "GET",
  path: "users/{id}",
  policy: READ_USERS,
  query: ENTITY_QUERY,
  expand: EXPAND_MEMBER_OF,
  async handle(x): Promise<GraphResult> {
    return { kind: "entity", context: "users/$entity", value: shaped(x, await findUser(x, keyOf(x))) };
  },
};

/** The signed-in user of a delegated token. @throws GraphError 400 `BadRequest` for an app-only token, as Graph. */
function signedIn(x: GraphContext): User {
  const caller = filled(x.caller, "caller");
  if (caller.kind !== "user") throw new GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.");
  return caller.user;
}

const me: GraphOperation = {
  name: "me: get",
  method: "GET",
  path: "me",
  policy: READ_ME,
  query: ENTITY_QUERY,
  async handle(x): Promise<GraphResult> {
    const user = signedIn(x);
    return { kind: "entity", context: "users/$entity", value: shaped(x, await findUser(x, user.id)) };
  },
};

const create: GraphOperation = {
  name: "user: create",
  method: "POST",
  path: "users",
  policy: WRITE_USERS,
  async handle(x): Promise<GraphResult> {
    const tenant = filled(x.tenant, "tenant");
    const body = x.http.body;
    if (!isObject(body)) throw graphError.badRequest("A JSON object is expected as the request body.");
    checkKeys(body, ["accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile", "givenName", "surname"]);
    for (const required of ["accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile"]) if (body[required] === undefined || body[required] === null) invalid(required, "The property is required.");
    if (typeof body.accountEnabled !== "boolean") invalid("accountEnabled", "true or false is expected.");
    const displayName = text(body.displayName, "displayName", 256, false) as string;
    const nickname = mailNickname(body.mailNickname);
    const upn = body.userPrincipalName;
    const at = typeof upn === "string" ? upn.lastIndexOf("@") : -1;
    if (typeof upn !== "string" || at < 1 || upn.length > 113 || !/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]+$/.test(upn.slice(0, at))) invalid("userPrincipalName", "An alias@domain of at most 113 characters is expected.");
    if (!tenant.domains.includes(upn.slice(at + 1).toLowerCase())) {
      throw graphError.badRequest("The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.");
    }
    const password = passwordOf(body.passwordProfile);
    const givenName = body.givenName === undefined ? undefined : text(body.givenName, "givenName", 64, true);
    const surname = body.surname === undefined ? undefined : text(body.surname, "surname", 64, true);
    if (await x.deps.directory.findUserByUpn(upn)) throw graphError.conflict("Another object with the same value for property userPrincipalName already exists.");
    const user = await x.deps.service.createUser({
      tenantId: tenant.id,
      userPrincipalName: upn,
      displayName,
      password,
      accountEnabled: body.accountEnabled,
      mailNickname: nickname,
      ...(givenName ? { givenName } : {}),
      ...(surname ? { surname } : {}),
    });
    return { kind: "entity", context: "users/$entity", value: shaped(x, user), status: 201 };
  },
};

const update: GraphOperation = {
  name: "user: update",
  method: "PATCH",
  path: "users/{id}",
  policy: WRITE_USERS,
  async handle(x): Promise<GraphResult> {
    const user = await findUser(x, keyOf(x));
    assertMayManage(x, user);
    const body = x.http.body;
    if (!isObject(body)) throw graphError.badRequest("A JSON object is expected as the request body.");
    checkKeys(body, ["accountEnabled", "displayName", "mailNickname", "passwordProfile", "givenName", "surname", "userPrincipalName"]);
    if (body.userPrincipalName !== undefined && String(body.userPrincipalName).toLowerCase() !== user.userPrincipalName) throw graphError.badRequest("Changing 'userPrincipalName' is not supported by orgbox.");
    const next: User = { ...user, directoryRoles: [...user.directoryRoles] };
    if (body.displayName !== undefined) next.displayName = text(body.displayName, "displayName", 256, false) as string;
    if (body.givenName !== undefined) next.givenName = text(body.givenName, "givenName", 64, true);
    if (body.surname !== undefined) next.surname = text(body.surname, "surname", 64, true);
    if (body.mailNickname !== undefined) next.mailNickname = mailNickname(body.mailNickname);
    if (body.accountEnabled !== undefined) {
      if (typeof body.accountEnabled !== "boolean") invalid("accountEnabled", "true or false is expected.");
      next.accountEnabled = body.accountEnabled;
    }
    const password = body.passwordProfile === undefined ? undefined : passwordOf(body.passwordProfile);
    // Everything is validated: write the profile, then the password (which revokes earlier refresh tokens and sessions).
    await x.deps.directory.updateUser(next);
    if (password !== undefined) await x.deps.service.resetPassword(user.id, password);
    return { kind: "empty" };
  },
};

const remove: GraphOperation = {
  name: "user: delete",
  method: "DELETE",
  path: "users/{id}",
  policy: WRITE_USERS,
  async handle(x): Promise<GraphResult> {
    const user = await findUser(x, keyOf(x));
    assertMayManage(x, user);
    await x.deps.service.deleteUser(user.id);
    return { kind: "empty" };
  },
};

const revokeSignInSessions: GraphOperation = {
  name: "user: revokeSignInSessions",
  method: "POST",
  path: "users/{id}/revokeSignInSessions",
  policy: REVOKE_SESSIONS,
  async handle(x): Promise<GraphResult> {
    const user = await findUser(x, keyOf(x));
    assertMayManage(x, user);
    await x.deps.directory.setTokensValidFrom(user.id, x.deps.clock.now());
    return { kind: "entity", context: "Edm.Boolean", value: { value: true } };
  },
};

/** A user's groups (direct) and directory roles, as `directoryObjects`; at most 999 groups (orgbox does not page memberOf). */
async function memberOf(x: GraphContext, user: User): Promise<GraphResult> {
  const roles = DIRECTORY_ROLES.filter((r) => user.directoryRoles.some((d) => d.toLowerCase() === r.id)).map((r) => ({
    "@odata.type": "#microsoft.graph.directoryRole",
    id: r.id,
    deletedDateTime: null,
    description: r.description,
    displayName: r.displayName,
    roleTemplateId: r.id,
  }));
  const groups = await x.deps.directory.queryGroups(filled(x.tenant, "tenant").id, { hasMember: user.id, top: 999, count: false });
  const items = groups.items.map((g) => ({ "@odata.type": "#microsoft.graph.group", id: g.id, displayName: g.displayName, mailNickname: g.mailNickname ?? null, mailEnabled: false, securityEnabled: true, groupTypes: [] }));
  return { kind: "collection", context: "directoryObjects", items: [...roles, ...items] };
}

const listMemberOf: GraphOperation = {
  name: "user: memberOf",
  method: "GET",
  path: "users/{id}/memberOf",
  policy: READ_MEMBER_OF,
  query: MEMBER_OF_QUERY,
  async handle(x): Promise<GraphResult> {
    return memberOf(x, await findUser(x, keyOf(x)));
  },
};

const meMemberOf: GraphOperation = {
  name: "me: memberOf",
  method: "GET",
  path: "me/memberOf",
  policy: { application: READ_ME.application, delegated: READ_MEMBER_OF.delegated },
  query: MEMBER_OF_QUERY,
  async handle(x): Promise<GraphResult> {
    return memberOf(x, await findUser(x, signedIn(x).id));
  },
};

/** The `users` and `me` resource module. */
export const usersModule: GraphResourceModule = {
  name: "users",
  operations: [list, count, get, me, create, update, remove, revokeSignInSessions, listMemberOf, meMemberOf],
};
