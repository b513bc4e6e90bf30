import { newGuid } from "../../common/ids.ts";
import { DIRECTORY_ROLE_TEMPLATES, type OAuth2PermissionGrant } from "../../identity/index.ts";
import type { GraphContext, GraphResult } from "../context.ts";
import { filled } from "../context.ts";
import { graphError } from "../errors.ts";
import type { QuerySupport } from "../odata.ts";
import { APP_ADMIN_ROLES } from "../policies.ts";
import type { GraphOperation, GraphResourceModule, PermissionPolicy } from "../registry.ts";
import { alreadyExists, guidProperty, objectBody, onlyProperties } from "./app-role-assignments.ts";

/**
 * The `oauth2PermissionGrants` resource (learn.microsoft.com/graph/api/resources/oauth2permissiongrant):
 * delegated consent of a client service principal to a resource service principal, for everyone
 * (`AllPrincipals`) or one user (`Principal`). List (`$filter` on `clientId`, `resourceId`,
 * `consentType`, `principalId`, compiled to SQL), get, create, update `scope`, delete. The grants are
 * the ones identity's consent check reads: a grant created here spares the next sign-in its consent
 * prompt; deleting one revokes the refresh tokens it covered (identity's `revokeConsent`).
 */

const TYPE = "microsoft.graph.oAuth2PermissionGrant";
const RESOURCE = "oAuth2PermissionGrant";
const PROPERTIES = ["id", "clientId", "consentType", "principalId", "resourceId", "scope"] as const;

const LIST_QUERY: QuerySupport = {
  typeName: TYPE,
  select: PROPERTIES,
  filter: { id: "guid", clientId: "guid", resourceId: "guid", principalId: "guid", consentType: "string" },
  collection: true,
};
const ENTITY_QUERY: QuerySupport = { typeName: TYPE, select: PROPERTIES };

/**
 * Reading grants (learn.microsoft.com/graph/api/oauth2permissiongrant-list, …-get, "Permissions"):
 * `Directory.Read.All` least, `DelegatedPermissionGrant.ReadWrite.All` or `Directory.ReadWrite.All`.
 */
export const READ_GRANTS: PermissionPolicy = {
  application: ["Directory.Read.All", "DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All"],
  delegated: ["Directory.Read.All", "DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
};

/**
 * Creating, updating and deleting grants (learn.microsoft.com/graph/api/oauth2permissiongrant-post,
 * …-update, …-delete): `DelegatedPermissionGrant.ReadWrite.All` least, `Directory.ReadWrite.All`;
 * delegated, with an app-admin role or Privileged Role Administrator.
 */
export const WRITE_GRANTS: PermissionPolicy = {
  application: ["DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All"],
  delegated: ["DelegatedPermissionGrant.ReadWrite.All", "Directory.ReadWrite.All"],
  directoryRoles: [...APP_ADMIN_ROLES, DIRECTORY_ROLE_TEMPLATES.privilegedRoleAdministrator],
};

/** The `oAuth2PermissionGrant` representation. */
export function grantJson(g: OAuth2PermissionGrant): Record<string, unknown> {
  return { id: g.id, clientId: g.clientId, consentType: g.consentType, principalId: g.principalId, resourceId: g.resourceId, scope: g.scope };
}

/** A grant by id in the caller's tenant. @throws GraphError 404. */
async function findGrant(x: GraphContext): Promise<OAuth2PermissionGrant> {
  const id = filled(x.params?.id, "id").value;
  const grant = /^[0-9a-f-]{36}$/i.test(id) ? await x.deps.directory.findPermissionGrant(id.toLowerCase()) : undefined;
  if (!grant || grant.tenantId !== filled(x.tenant, "tenant").id) throw graphError.notFound(id);
  return grant;
}

/** A `scope` value: space-separated permission names, normalised to single spaces. @throws GraphError 400. */
function scopeProperty(value: unknown): string {
  if (typeof value !== "string") throw graphError.badRequest(`Invalid value specified for property 'scope' of resource '${RESOURCE}'. A space-separated list of delegated permission values is expected.`);
  return value.split(/\s+/).filter((s) => s.length > 0).join(" ");
}

const list: GraphOperation = {
  name: "oauth2PermissionGrant: list",
  method: "GET",
  path: "oauth2PermissionGrants",
  policy: READ_GRANTS,
  query: LIST_QUERY,
  async handle(x): Promise<GraphResult> {
    const q = filled(x.query, "query");
    const page = await x.deps.directory.queryPermissionGrants(filled(x.tenant, "tenant").id, { ...(q.filter ? { filter: q.filter } : {}), ...(q.after ? { after: q.after } : {}), top: q.top, count: q.count });
    return { kind: "collection", context: "oauth2PermissionGrants", items: page.items.map(grantJson), ...(page.count !== undefined ? { count: page.count } : {}), ...(page.next ? { next: page.next } : {}) };
  },
};

const get: GraphOperation = {
  name: "oauth2PermissionGrant: get",
  method: "GET",
  path: "oauth2PermissionGrants/{id}",
  policy: READ_GRANTS,
  query: ENTITY_QUERY,
  async handle(x): Promise<GraphResult> {
    return { kind: "entity", context: "oauth2PermissionGrants/$entity", value: grantJson(await findGrant(x)) };
  },
};

const create: GraphOperation = {
  name: "oauth2PermissionGrant: create",
  method: "POST",
  path: "oauth2PermissionGrants",
  policy: WRITE_GRANTS,
  async handle(x): Promise<GraphResult> {
    const tenant = filled(x.tenant, "tenant");
    const body = objectBody(x, TYPE);
    onlyProperties(body, ["clientId", "consentType", "principalId", "resourceId", "scope", "id"], TYPE);
    if (body.id !== undefined && body.id !== null) throw graphError.badRequest("Property 'id' of oAuth2PermissionGrant is generated by the service and cannot be set.");
    const clientId = guidProperty(body.clientId, "clientId", RESOURCE);
    const resourceId = guidProperty(body.resourceId, "resourceId", RESOURCE);
    if (body.consentType !== "AllPrincipals" && body.consentType !== "Principal") throw graphError.badRequest(`Invalid value specified for property 'consentType' of resource '${RESOURCE}'. 'AllPrincipals' or 'Principal' is expected.`);
    const consentType = body.consentType;
    let principalId: string | null = null;
    if (consentType === "Principal") {
      principalId = guidProperty(body.principalId, "principalId", RESOURCE);
      const user = await x.deps.directory.findUserById(principalId);
      if (!user || user.tenantId !== tenant.id) throw graphError.badRequest(`Invalid value specified for property 'principalId' of resource '${RESOURCE}': no user '${principalId}' in this directory.`);
    } else if (body.principalId !== undefined && body.principalId !== null) {
      throw graphError.badRequest("'principalId' must be null when 'consentType' is 'AllPrincipals'.");
    }
    const scope = scopeProperty(body.scope ?? "");
    if (!(await x.deps.directory.findServicePrincipalById(tenant.id, clientId))) throw graphError.badRequest(`Invalid value specified for property 'clientId' of resource '${RESOURCE}': no service principal '${clientId}' in this directory.`);
    if (!(await x.deps.directory.findServicePrincipalById(tenant.id, resourceId))) throw graphError.badRequest(`Invalid value specified for property 'resourceId' of resource '${RESOURCE}': no service principal '${resourceId}' in this directory.`);
    const existing = (await x.deps.directory.listPermissionGrants(tenant.id, clientId, resourceId)).find((g) => g.consentType === consentType && g.principalId === principalId);
    if (existing) throw alreadyExists("Permission entry already exists.");
    const grant: OAuth2PermissionGrant = { id: newGuid(), tenantId: tenant.id, clientId, consentType, principalId, resourceId, scope };
    await x.deps.directory.upsertPermissionGrant(grant, x.deps.clock.now());
    x.reply.header("location", `${x.deps.urls.graphRoot}/${x.version}/oauth2PermissionGrants/${grant.id}`);
    return { kind: "entity", context: "oauth2PermissionGrants/$entity", value: grantJson(grant), status: 201 };
  },
};

const update: GraphOperation = {
  name: "oauth2PermissionGrant: update",
  method: "PATCH",
  path: "oauth2PermissionGrants/{id}",
  policy: WRITE_GRANTS,
  async handle(x): Promise<GraphResult> {
    const grant = await findGrant(x);
    const body = objectBody(x, TYPE);
    for (const key of Object.keys(body)) {
      if (key.startsWith("@odata.") || key === "scope") continue;
      if ((PROPERTIES as readonly string[]).includes(key)) throw graphError.badRequest(`Property '${key}' of oAuth2PermissionGrant cannot be updated: only 'scope' can.`);
      throw graphError.badRequest(`Property '${key}' does not exist as a declared property or extension property of '${TYPE}'.`);
    }
    if (body.scope === undefined) return { kind: "empty" };
    await x.deps.directory.setPermissionGrantScope(grant.id, scopeProperty(body.scope));
    return { kind: "empty" };
  },
};

const remove: GraphOperation = {
  name: "oauth2PermissionGrant: delete",
  method: "DELETE",
  path: "oauth2PermissionGrants/{id}",
  policy: WRITE_GRANTS,
  async handle(x): Promise<GraphResult> {
    const grant = await findGrant(x);
    // identity's revocation: deletes the grant and revokes the client's refresh tokens it covered.
    await x.deps.service.revokeConsent({ id: grant.id });
    return { kind: "empty" };
  },
};

/** The `oauth2PermissionGrants` resource module. */
export const oauth2PermissionGrantsModule: GraphResourceModule = {
  name: "oauth2PermissionGrants",
  operations: [list, get, create, update, remove],
};
