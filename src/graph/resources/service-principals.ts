import { newGuid } from "../../common/ids.ts";
import { FIRST_PARTY_TENANT_ID, type Application, type ServicePrincipal } from "../../identity/index.ts";
import type { GraphContext, GraphResult } from "../context.ts";
import { filled } from "../context.ts";
import { graphError } from "../errors.ts";
import type { QuerySupport } from "../odata.ts";
import { APP_ADMIN_ROLES } from "../policies.ts";
import type { GraphOperation, GraphResourceModule, PermissionPolicy } from "../registry.ts";
import { alreadyExists, ASSIGNMENTS_QUERY, createAssignment, deleteAssignment, findServicePrincipalByKey, listAssignmentsOf, objectBody, READ_ASSIGNMENTS, WRITE_ASSIGNMENTS, CREATE_ASSIGNMENTS } from "./app-role-assignments.ts";
import { grantJson, READ_GRANTS } from "./oauth2-permission-grants.ts";

/**
 * The `servicePrincipals` resource (learn.microsoft.com/graph/api/resources/serviceprincipal): list,
 * get (object id or `servicePrincipals(appId='…')`), create from an `appId` (an app of this tenant,
 * or a multi-tenant app of another), update (`accountEnabled`, `appRoleAssignmentRequired`), delete,
 * and the navigations `appRoleAssignedTo`, `appRoleAssignments` and `oauth2PermissionGrants`. Objects
 * are looked up in the caller's tenant only (another tenant's is 404). Writes go through identity's
 * cached directory: `accountEnabled: false` refuses the app's next token request (AADSTS7000112),
 * `appRoleAssignmentRequired` and assignments apply to the next sign-in.
 */

const TYPE = "microsoft.graph.servicePrincipal";

/** The properties of the representation, for `$select`. */
const PROPERTIES = [
  "id", "deletedDateTime", "accountEnabled", "addIns", "alternativeNames", "appDescription", "appDisplayName", "appId", "applicationTemplateId",
  "appOwnerOrganizationId", "appRoleAssignmentRequired", "appRoles", "description", "disabledByMicrosoftStatus", "displayName", "homepage", "info",
  "keyCredentials", "loginUrl", "logoutUrl", "notes", "notificationEmailAddresses", "oauth2PermissionScopes", "passwordCredentials",
  "preferredSingleSignOnMode", "preferredTokenSigningKeyThumbprint", "replyUrls", "resourceSpecificApplicationPermissions", "samlSingleSignOnSettings",
  "servicePrincipalNames", "servicePrincipalType", "signInAudience", "tags", "tokenEncryptionKeyId", "verifiedPublisher",
] as const;

const LIST_QUERY: QuerySupport = {
  typeName: TYPE,
  select: PROPERTIES,
  filter: { id: "guid", appId: "guid", displayName: "string", accountEnabled: "boolean", appOwnerOrganizationId: "guid" },
  collection: true,
};
const ENTITY_QUERY: QuerySupport = { typeName: TYPE, select: PROPERTIES };

/**
 * Reading service principals (learn.microsoft.com/graph/api/serviceprincipal-list, …/serviceprincipal-get,
 * "Permissions"): `Application.Read.All` and up; any member user may read them with a delegated permission.
 */
export const READ_SERVICE_PRINCIPALS: PermissionPolicy = {
  application: ["Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  delegated: ["Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
};

/**
 * Creating, updating and deleting service principals (learn.microsoft.com/graph/api/serviceprincipal-post-serviceprincipals,
 * …/serviceprincipal-update, …/serviceprincipal-delete): `Application.ReadWrite.All` (or `Directory.ReadWrite.All`);
 * delegated, with an app-admin directory role. (`Application.ReadWrite.OwnedBy` is not honoured here: orgbox does not
 * keep owners of service principals.)
 */
export const WRITE_SERVICE_PRINCIPALS: PermissionPolicy = {
  application: ["Application.ReadWrite.All", "Directory.ReadWrite.All"],
  delegated: ["Application.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
  directoryRoles: APP_ADMIN_ROLES,
};

/** The `servicePrincipal` representation, from the service principal and its application; Graph's defaults for what orgbox does not model. */
export function servicePrincipalJson(sp: ServicePrincipal, app: Application | undefined): Record<string, unknown> {
  return {
    id: sp.id,
    deletedDateTime: null,
    accountEnabled: sp.accountEnabled,
    addIns: [],
    alternativeNames: [],
    appDescription: null,
    appDisplayName: app?.displayName ?? sp.displayName,
    appId: sp.appId,
    applicationTemplateId: null,
    appOwnerOrganizationId: sp.appOwnerOrganizationId,
    appRoleAssignmentRequired: sp.appRoleAssignmentRequired,
    appRoles: (app?.appRoles ?? []).map((r) => ({ allowedMemberTypes: r.allowedMemberTypes, description: r.description, displayName: r.displayName, id: r.id, isEnabled: true, origin: "Application", value: r.value })),
    description: null,
    disabledByMicrosoftStatus: null,
    displayName: sp.displayName,
    homepage: null,
    info: { logoUrl: null, marketingUrl: null, privacyStatementUrl: null, supportUrl: null, termsOfServiceUrl: null },
    keyCredentials: [],
    loginUrl: null,
    logoutUrl: null,
    notes: null,
    notificationEmailAddresses: [],
    oauth2PermissionScopes: (app?.api.oauth2PermissionScopes ?? []).map((s) => ({
      adminConsentDescription: s.adminConsentDescription,
      adminConsentDisplayName: s.adminConsentDisplayName,
      id: s.id,
      isEnabled: true,
      type: s.type,
      userConsentDescription: null,
      userConsentDisplayName: null,
      value: s.value,
    })),
    passwordCredentials: [],
    preferredSingleSignOnMode: null,
    preferredTokenSigningKeyThumbprint: null,
    replyUrls: app ? [...app.web.redirectUris, ...app.spa.redirectUris, ...app.publicClient.redirectUris] : [],
    resourceSpecificApplicationPermissions: [],
    samlSingleSignOnSettings: null,
    servicePrincipalNames: [sp.appId, ...(app?.identifierUris ?? [])],
    servicePrincipalType: "Application",
    signInAudience: app?.signInAudience ?? "AzureADMyOrg",
    tags: [],
    tokenEncryptionKeyId: null,
    verifiedPublisher: { addedDateTime: null, displayName: null, verifiedPublisherId: null },
  };
}

async function render(x: GraphContext, sp: ServicePrincipal): Promise<Record<string, unknown>> {
  return servicePrincipalJson(sp, await x.deps.directory.findApplicationByAppId(sp.appId));
}

const find = (x: GraphContext): Promise<ServicePrincipal> => findServicePrincipalByKey(x, x.params?.id);

/** Sign-in audiences whose apps may have service principals in other tenants (learn.microsoft.com/entra/identity-platform/supported-accounts-validation). */
const MULTI_TENANT_AUDIENCES: ReadonlySet<string> = new Set(["AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount"]);

/** Writable properties of a create or update body orgbox models; other documented ones are refused by name. */
const WRITABLE = ["accountEnabled", "appRoleAssignmentRequired"] as const;
const DOCUMENTED_UNSUPPORTED = [
  "addIns", "alternativeNames", "appDescription", "appRoles", "description", "homepage", "info", "keyCredentials", "loginUrl", "logoutUrl", "notes",
  "notificationEmailAddresses", "oauth2PermissionScopes", "passwordCredentials", "preferredSingleSignOnMode", "preferredTokenSigningKeyThumbprint",
  "replyUrls", "samlSingleSignOnSettings", "servicePrincipalNames", "servicePrincipalType", "tags", "tokenEncryptionKeyId", "displayName",
];

/** The `accountEnabled` / `appRoleAssignmentRequired` of a body. @throws GraphError 400 for other properties or non-booleans. */
function writableProperties(body: Record<string, unknown>, also: readonly string[]): { accountEnabled?: boolean; appRoleAssignmentRequired?: boolean } {
  for (const key of Object.keys(body)) {
    if (key.startsWith("@odata.") || also.includes(key) || (WRITABLE as readonly string[]).includes(key)) continue;
    if (DOCUMENTED_UNSUPPORTED.includes(key)) throw graphError.badRequest(`Property '${key}' of servicePrincipal cannot be set in orgbox: it models 'accountEnabled' and 'appRoleAssignmentRequired' (other properties follow the application).`);
    throw graphError.badRequest(`Property '${key}' does not exist as a declared property or extension property of '${TYPE}'.`);
  }
  const out: { accountEnabled?: boolean; appRoleAssignmentRequired?: boolean } = {};
  for (const key of WRITABLE) {
    const value = body[key];
    if (value === undefined) continue;
    if (typeof value !== "boolean") throw graphError.badRequest(`Invalid value specified for property '${key}' of resource 'ServicePrincipal'. A boolean is expected.`);
    out[key] = value;
  }
  return out;
}

// ── Operations ───────────────────────────────────────────────────────────────

const list: GraphOperation = {
  name: "servicePrincipal: list",
  method: "GET",
  path: "servicePrincipals",
  policy: READ_SERVICE_PRINCIPALS,
  query: LIST_QUERY,
  async handle(x): Promise<GraphResult> {
    const q = filled(x.query, "query");
    const page = await x.deps.directory.queryServicePrincipals(filled(x.tenant, "tenant").id, { ...(q.filter ? { filter: q.filter } : {}), ...(q.after ? { after: q.after } : {}), top: q.top, count: q.count });
    const items = await Promise.all(page.items.map((sp) => render(x, sp)));
    return { kind: "collection", context: "servicePrincipals", items, ...(page.count !== undefined ? { count: page.count } : {}), ...(page.next ? { next: page.next } : {}) };
  },
};

const count: GraphOperation = {
  name: "servicePrincipal: count",
  method: "GET",
  path: "servicePrincipals/$count",
  policy: READ_SERVICE_PRINCIPALS,
  query: { typeName: TYPE, filter: LIST_QUERY.filter, collection: true },
  async handle(x): Promise<GraphResult> {
    const q = filled(x.query, "query");
    if (!q.eventual) throw graphError.badRequest("Count is not currently supported. Send the header 'ConsistencyLevel: eventual' with /$count.");
    const page = await x.deps.directory.queryServicePrincipals(filled(x.tenant, "tenant").id, { ...(q.filter ? { filter: q.filter } : {}), top: 1, count: true });
    return { kind: "count", count: page.count ?? 0 };
  },
};

const get: GraphOperation = {
  name: "servicePrincipal: get",
  method: "GET",
  path: "servicePrincipals/{id}",
  policy: READ_SERVICE_PRINCIPALS,
  query: ENTITY_QUERY,
  async handle(x): Promise<GraphResult> {
    return { kind: "entity", context: "servicePrincipals/$entity", value: await render(x, await find(x)) };
  },
};

const create: GraphOperation = {
  name: "servicePrincipal: create",
  method: "POST",
  path: "servicePrincipals",
  policy: WRITE_SERVICE_PRINCIPALS,
  async handle(x): Promise<GraphResult> {
    const tenant = filled(x.tenant, "tenant");
    const body = objectBody(x, TYPE);
    const props = writableProperties(body, ["appId"]);
    if (typeof body.appId !== "string" || body.appId === "") throw graphError.badRequest("Required property 'appId' is missing or not a string.");
    const appId = body.appId.toLowerCase();
    const app = /^[0-9a-f-]{36}$/.test(appId) ? await x.deps.directory.findApplicationByAppId(appId) : undefined;
    // An app registered in another tenant gets a service principal here only if it accepts other tenants.
    if (!app || (app.tenantId !== tenant.id && app.tenantId !== FIRST_PARTY_TENANT_ID && !MULTI_TENANT_AUDIENCES.has(app.signInAudience))) {
      throw graphError.badRequest(`The appId '${body.appId}' of the service principal does not reference a valid application object.`);
    }
    if (await x.deps.directory.findServicePrincipal(tenant.id, app.appId)) {
      throw alreadyExists(`The service principal cannot be created, updated, or restored because the service principal name ${app.appId} is already in use.`);
    }
    const sp: ServicePrincipal = {
      id: newGuid(),
      tenantId: tenant.id,
      appId: app.appId,
      appOwnerOrganizationId: app.tenantId,
      displayName: app.displayName,
      appRoleAssignmentRequired: props.appRoleAssignmentRequired ?? false,
      accountEnabled: props.accountEnabled ?? true,
    };
    await x.deps.directory.createServicePrincipal(sp, x.deps.clock.now());
    x.reply.header("location", `${x.deps.urls.graphRoot}/${x.version}/servicePrincipals/${sp.id}`);
    return { kind: "entity", context: "servicePrincipals/$entity", value: servicePrincipalJson(sp, app), status: 201 };
  },
};

const update: GraphOperation = {
  name: "servicePrincipal: update",
  method: "PATCH",
  path: "servicePrincipals/{id}",
  policy: WRITE_SERVICE_PRINCIPALS,
  async handle(x): Promise<GraphResult> {
    const sp = await find(x);
    const props = writableProperties(objectBody(x, TYPE), []);
    if (props.appRoleAssignmentRequired !== undefined && props.appRoleAssignmentRequired !== sp.appRoleAssignmentRequired) await x.deps.directory.setAppRoleAssignmentRequired(sp.id, props.appRoleAssignmentRequired);
    if (props.accountEnabled !== undefined && props.accountEnabled !== sp.accountEnabled) await x.deps.directory.setServicePrincipalAccountEnabled(sp.id, props.accountEnabled);
    return { kind: "empty" };
  },
};

const remove: GraphOperation = {
  name: "servicePrincipal: delete",
  method: "DELETE",
  path: "servicePrincipals/{id}",
  policy: WRITE_SERVICE_PRINCIPALS,
  async handle(x): Promise<GraphResult> {
    const sp = await find(x);
    if (sp.appOwnerOrganizationId === FIRST_PARTY_TENANT_ID) throw graphError.badRequest(`orgbox keeps the service principals of first-party applications ('${sp.displayName}'): disable it with accountEnabled instead.`);
    await x.deps.directory.deleteServicePrincipal(sp.id, x.deps.clock.now());
    return { kind: "empty" };
  },
};

const listAssignedTo: GraphOperation = {
  name: "servicePrincipal: list appRoleAssignedTo",
  method: "GET",
  path: "servicePrincipals/{id}/appRoleAssignedTo",
  policy: READ_ASSIGNMENTS,
  query: ASSIGNMENTS_QUERY,
  async handle(x): Promise<GraphResult> {
    return listAssignmentsOf(x, { resourceId: (await find(x)).id });
  },
};

const assignTo: GraphOperation = {
  name: "servicePrincipal: create appRoleAssignedTo",
  method: "POST",
  path: "servicePrincipals/{id}/appRoleAssignedTo",
  policy: CREATE_ASSIGNMENTS,
  async handle(x): Promise<GraphResult> {
    return createAssignment(x, { resourceId: (await find(x)).id });
  },
};

const unassignTo: GraphOperation = {
  name: "servicePrincipal: delete appRoleAssignedTo",
  method: "DELETE",
  path: "servicePrincipals/{id}/appRoleAssignedTo/{assignmentId}",
  policy: WRITE_ASSIGNMENTS,
  async handle(x): Promise<GraphResult> {
    return deleteAssignment(x, { resourceId: (await find(x)).id }, filled(x.params?.assignmentId, "assignmentId").value);
  },
};

const listAssignments: GraphOperation = {
  name: "servicePrincipal: list appRoleAssignments",
  method: "GET",
  path: "servicePrincipals/{id}/appRoleAssignments",
  policy: READ_ASSIGNMENTS,
  query: ASSIGNMENTS_QUERY,
  async handle(x): Promise<GraphResult> {
    return listAssignmentsOf(x, { principalId: (await find(x)).id });
  },
};

const assign: GraphOperation = {
  name: "servicePrincipal: create appRoleAssignments",
  method: "POST",
  path: "servicePrincipals/{id}/appRoleAssignments",
  policy: CREATE_ASSIGNMENTS,
  async handle(x): Promise<GraphResult> {
    return createAssignment(x, { principalId: (await find(x)).id });
  },
};

const unassign: GraphOperation = {
  name: "servicePrincipal: delete appRoleAssignments",
  method: "DELETE",
  path: "servicePrincipals/{id}/appRoleAssignments/{assignmentId}",
  policy: WRITE_ASSIGNMENTS,
  async handle(x): Promise<GraphResult> {
    return deleteAssignment(x, { principalId: (await find(x)).id }, filled(x.params?.assignmentId, "assignmentId").value);
  },
};

const listGrants: GraphOperation = {
  name: "servicePrincipal: list oauth2PermissionGrants",
  method: "GET",
  path: "servicePrincipals/{id}/oauth2PermissionGrants",
  policy: READ_GRANTS,
  query: { typeName: "microsoft.graph.oAuth2PermissionGrant", collection: true },
  async handle(x): Promise<GraphResult> {
    const sp = await find(x);
    const q = filled(x.query, "query");
    const page = await x.deps.directory.queryPermissionGrants(sp.tenantId, { filter: { op: "eq", property: "clientId", value: sp.id }, ...(q.after ? { after: q.after } : {}), top: q.top, count: q.count });
    return { kind: "collection", context: "oauth2PermissionGrants", items: page.items.map(grantJson), ...(page.count !== undefined ? { count: page.count } : {}), ...(page.next ? { next: page.next } : {}) };
  },
};

/** The `servicePrincipals` resource module. */
export const servicePrincipalsModule: GraphResourceModule = {
  name: "servicePrincipals",
  operations: [list, count, get, create, update, remove, listAssignedTo, assignTo, unassignTo, listAssignments, assign, unassign, listGrants],
};
