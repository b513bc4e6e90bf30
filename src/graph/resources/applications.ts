import { importX509, jwtVerify } from "jose";
import { newGuid } from "../../common/ids.ts";
import type { Application, AppRole, DirectoryObjectRef, KeyCredential, PasswordCredential, PermissionScope, RequiredResourceAccess } from "../../identity/index.ts";
import type { GraphContext, GraphResult } from "../context.ts";
import { filled } from "../context.ts";
import { graphError } from "../errors.ts";
import type { QuerySupport } from "../odata.ts";
import { CREATE_APPLICATIONS, READ_APPLICATIONS, roleNames, WRITE_APPLICATIONS } from "../policies.ts";
import type { ExpandNavigation, GraphOperation, GraphResourceModule, KeyValue } from "../registry.ts";

/**
 * The `applications` resource (learn.microsoft.com/graph/api/resources/application): list, get (by
 * object id or `applications(appId='…')`), create, update, delete, `addPassword`, `removePassword`,
 * `addKey`, `removeKey` and `owners`. Every object is looked up in the caller's tenant only (another
 * tenant's object is 404). Writes go through identity's cached directory, so they take effect on the
 * next token request.
 */

const TYPE = "microsoft.graph.application";

/** The properties of the representation, for `$select`. */
const PROPERTIES = [
  "id", "deletedDateTime", "appId", "applicationTemplateId", "createdDateTime", "displayName", "description", "groupMembershipClaims", "identifierUris",
  "isDeviceOnlyAuthSupported", "isFallbackPublicClient", "notes", "publisherDomain", "signInAudience", "tags", "tokenEncryptionKeyId", "defaultRedirectUri",
  "api", "appRoles", "info", "keyCredentials", "optionalClaims", "parentalControlSettings", "passwordCredentials", "publicClient", "requiredResourceAccess",
  "spa", "verifiedPublisher", "web",
] as const;

const LIST_QUERY: QuerySupport = {
  typeName: TYPE,
  select: PROPERTIES,
  filter: { id: "guid", appId: "guid", displayName: "string", signInAudience: "string", publisherDomain: "string", identifierUris: "collection" },
  orderBy: ["displayName"],
  collection: true,
};
const ENTITY_QUERY: QuerySupport = { typeName: TYPE, select: PROPERTIES };
const OWNERS_QUERY: QuerySupport = { typeName: "microsoft.graph.directoryObject", collection: false };

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * `web.logoutUrl` (the front-channel logout URL): null clears it; otherwise an absolute https URL, or http
 * on localhost, of at most 256 characters, as the Azure portal validates it
 * (learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#single-sign-out).
 * @throws GraphError 400 naming the property.
 */
function logoutUrl(value: unknown): string | undefined {
  if (value === null || value === "") return undefined;
  if (typeof value !== "string" || value.length > 256) throw graphError.badRequest("Invalid value specified for property 'logoutUrl' of resource 'Application': a URL of at most 256 characters is expected.");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw graphError.badRequest(`Invalid value specified for property 'logoutUrl' of resource 'Application': '${value}' is not an absolute URL.`);
  }
  const local = url.hostname === "localhost" || url.hostname === "127.0.0.1";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && local)) throw graphError.badRequest("Invalid value specified for property 'logoutUrl' of resource 'Application': it must use https (http only on localhost).");
  return value;
}

/** `web` with `logoutUrl` set, or without it. */
function withLogoutUrl(web: Application["web"], url: string | undefined): Application["web"] {
  const { logoutUrl: _previous, ...rest } = web;
  return url === undefined ? rest : { ...rest, logoutUrl: url };
}

/** A certificate's SHA-1 thumbprint (hex) as Graph's `customKeyIdentifier` (Edm.Binary, base64). */
const thumbprintBinary = (hex: string): string => Buffer.from(hex, "hex").toString("base64");

/** Graph's `passwordCredential` (`secretText` only in the answer of `addPassword`). */
function passwordJson(c: PasswordCredential, secretText: string | null = null): Record<string, unknown> {
  return { customKeyIdentifier: null, displayName: c.displayName, endDateTime: iso(c.endDateTime), hint: c.hint, keyId: c.keyId, secretText, startDateTime: iso(c.startDateTime) };
}

/** Graph's `keyCredential` (the public key itself is never returned: `key` null, as Graph). */
function keyJson(c: KeyCredential): Record<string, unknown> {
  return { customKeyIdentifier: thumbprintBinary(c.customKeyIdentifier), displayName: c.displayName, endDateTime: iso(c.endDateTime), key: null, keyId: c.keyId, startDateTime: iso(c.startDateTime), type: c.type, usage: c.usage };
}

function scopeJson(s: PermissionScope): Record<string, unknown> {
  return { adminConsentDescription: s.adminConsentDescription, adminConsentDisplayName: s.adminConsentDisplayName, id: s.id, isEnabled: true, type: s.type, userConsentDescription: null, userConsentDisplayName: null, value: s.value };
}

function roleJson(r: AppRole): Record<string, unknown> {
  return { allowedMemberTypes: r.allowedMemberTypes, description: r.description, displayName: r.displayName, id: r.id, isEnabled: true, origin: "Application", value: r.value };
}

/** The `application` representation, with Graph's defaults for what orgbox does not model. */
export function applicationJson(app: Application, passwords: PasswordCredential[], keys: KeyCredential[]): Record<string, unknown> {
  return {
    id: app.id,
    deletedDateTime: null,
    appId: app.appId,
    applicationTemplateId: null,
    createdDateTime: app.createdDateTime === undefined ? null : iso(app.createdDateTime),
    displayName: app.displayName,
    description: null,
    groupMembershipClaims: app.groupMembershipClaims ?? null,
    identifierUris: app.identifierUris,
    isDeviceOnlyAuthSupported: null,
    isFallbackPublicClient: app.isFallbackPublicClient,
    notes: null,
    publisherDomain: app.publisherDomain,
    signInAudience: app.signInAudience,
    tags: [],
    tokenEncryptionKeyId: null,
    defaultRedirectUri: null,
    api: {
      acceptMappedClaims: null,
      knownClientApplications: [],
      requestedAccessTokenVersion: app.api.requestedAccessTokenVersion ?? null,
      oauth2PermissionScopes: app.api.oauth2PermissionScopes.map(scopeJson),
      preAuthorizedApplications: [],
    },
    appRoles: app.appRoles.map(roleJson),
    info: { logoUrl: null, marketingUrl: null, privacyStatementUrl: null, supportUrl: null, termsOfServiceUrl: null },
    keyCredentials: keys.map(keyJson),
    optionalClaims: null,
    parentalControlSettings: { countriesBlockedForMinors: [], legalAgeGroupRule: "Allow" },
    passwordCredentials: passwords.map((p) => passwordJson(p)),
    publicClient: { redirectUris: app.publicClient.redirectUris },
    requiredResourceAccess: app.requiredResourceAccess,
    spa: { redirectUris: app.spa.redirectUris },
    verifiedPublisher: { displayName: null, verifiedPublisherId: null, addedDateTime: null },
    web: {
      homePageUrl: null,
      logoutUrl: app.web.logoutUrl ?? null,
      redirectUris: app.web.redirectUris,
      implicitGrantSettings: { enableAccessTokenIssuance: app.web.implicitGrantSettings?.enableAccessTokenIssuance ?? false, enableIdTokenIssuance: app.web.implicitGrantSettings?.enableIdTokenIssuance ?? false },
      redirectUriSettings: app.web.redirectUris.map((uri, index) => ({ uri, index })),
    },
  };
}

/** Loads the credentials of one application and renders it. */
async function render(x: GraphContext, app: Application): Promise<Record<string, unknown>> {
  const { passwords, keys } = await x.deps.directory.listApplicationCredentials([app.id]);
  return applicationJson(app, passwords, keys);
}

/**
 * The application a path key names, in the caller's tenant (object id, or `appId='…'`), checking
 * ownership when the caller's access reaches owned objects only.
 * @throws GraphError 404 when there is none in the tenant, 403 when the caller may only reach apps it owns and does not own it.
 */
async function findApplication(x: GraphContext, key: KeyValue | undefined): Promise<Application> {
  const k = filled(key, "id");
  let property: "id" | "appId";
  if (k.kind === "id") {
    if (!GUID.test(k.value)) throw graphError.badRequest(`Invalid object identifier '${k.value}'.`);
    property = "id";
  }
  else if (k.property.toLowerCase() === "appid") property = "appId";
  else throw graphError.badRequest(`'${k.property}' is not an alternate key of ${TYPE}: use the object id or appId='{appId}'.`);
  const tenant = filled(x.tenant, "tenant");
  const page = await x.deps.directory.queryApplications(tenant.id, { filter: { op: "eq", property, value: k.value }, top: 1, count: false });
  const app = page.items[0];
  if (!app) throw graphError.notFound(k.value);
  const access = filled(x.access, "access");
  if (access.scope === "owned" && !(await x.deps.directory.listApplicationOwners(app.id)).some((o) => o.id === access.ownerId.toLowerCase())) {
    const policy = filled(x.operation, "operation").policy;
    const needed = filled(x.caller, "caller").kind === "user" ? `one of the directory roles ${roleNames(policy.directoryRoles ?? []).join(", ")}` : `one of the application permissions ${policy.application.join(", ")}`;
    throw graphError.denied(`The caller is not an owner of application '${app.id}'; acting on any application of the tenant needs ${needed}.`);
  }
  return app;
}

// ── Request bodies ──────────────────────────────────────────────────────────

/** Properties of `application` that are read-only (Graph refuses them in a write). */
const READ_ONLY = new Set(["id", "appId", "publisherDomain", "createdDateTime", "deletedDateTime", "passwordCredentials", "keyCredentials"]);

/** Properties of `application` Graph has that orgbox does not store: refused by name rather than dropped. */
const NOT_SUPPORTED = new Set(["description", "notes", "tags", "info", "optionalClaims", "parentalControlSettings", "addIns", "applicationTemplateId", "isDeviceOnlyAuthSupported", "serviceManagementReference", "tokenEncryptionKeyId", "uniqueName", "verifiedPublisher", "defaultRedirectUri", "certification", "samlMetadataUrl", "servicePrincipalLockConfiguration", "requestSignatureVerification", "nativeAuthenticationApisEnabled", "authenticationBehaviors", "logo", "disabledByMicrosoftStatus"]);

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function invalid(property: string, why: string): never {
  throw graphError.badRequest(`Invalid value specified for property '${property}' of resource 'Application'. ${why}`);
}

/** Only `allowed` keys (plus `@odata.type`) in a nested object; names the first other one. */
function onlyKeys(value: Json, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (key.startsWith("@odata.")) continue;
    if (!allowed.includes(key)) throw graphError.badRequest(`Property '${key}' does not exist as a declared property or extension property of '${where}', or is not supported by orgbox.`);
  }
}

function stringArray(value: unknown, property: string, check?: (s: string) => string | undefined): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) invalid(property, "A list of strings is expected.");
  const list = value as string[];
  for (const item of list) {
    const problem = check?.(item);
    if (problem) invalid(property, problem);
  }
  if (new Set(list).size !== list.length) invalid(property, "The list has duplicate values.");
  return list;
}

/** Redirect URI rules of Entra (learn.microsoft.com/entra/identity-platform/reply-url): absolute, at most 256 characters, no fragment; web and SPA need https or localhost. */
function redirectUri(kind: "web" | "spa" | "publicClient") {
  return (uri: string): string | undefined => {
    if (uri.length > 256) return `'${uri.slice(0, 40)}…' is longer than 256 characters.`;
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch {
      return `'${uri}' is not an absolute URI.`;
    }
    if (parsed.hash) return `'${uri}' has a fragment.`;
    if (kind !== "publicClient" && parsed.protocol !== "https:" && !(parsed.protocol === "http:" && ["localhost", "127.0.0.1"].includes(parsed.hostname))) return `'${uri}' must use https (or http://localhost).`;
    return undefined;
  };
}

function guid(value: unknown, property: string): string {
  if (typeof value !== "string" || !GUID.test(value)) invalid(property, "A GUID is expected.");
  return (value as string).toLowerCase();
}

function requiredResourceAccess(value: unknown): RequiredResourceAccess[] {
  if (!Array.isArray(value)) invalid("requiredResourceAccess", "A list is expected.");
  return (value as unknown[]).map((entry) => {
    if (!isObject(entry)) invalid("requiredResourceAccess", "Each entry is an object.");
    onlyKeys(entry, ["resourceAppId", "resourceAccess"], "microsoft.graph.requiredResourceAccess");
    if (!Array.isArray(entry.resourceAccess)) invalid("requiredResourceAccess", "resourceAccess is a list.");
    return {
      resourceAppId: guid(entry.resourceAppId, "requiredResourceAccess.resourceAppId"),
      resourceAccess: (entry.resourceAccess as unknown[]).map((a) => {
        if (!isObject(a)) invalid("requiredResourceAccess", "Each resourceAccess is an object.");
        onlyKeys(a, ["id", "type"], "microsoft.graph.resourceAccess");
        if (a.type !== "Scope" && a.type !== "Role") invalid("requiredResourceAccess.resourceAccess.type", "'Scope' or 'Role' is expected.");
        return { id: guid(a.id, "requiredResourceAccess.resourceAccess.id"), type: a.type };
      }),
    };
  });
}

function permissionScopes(value: unknown): PermissionScope[] {
  if (!Array.isArray(value)) invalid("api.oauth2PermissionScopes", "A list is expected.");
  const scopes = (value as unknown[]).map((s) => {
    if (!isObject(s)) invalid("api.oauth2PermissionScopes", "Each entry is an object.");
    onlyKeys(s, ["id", "value", "type", "adminConsentDisplayName", "adminConsentDescription", "userConsentDisplayName", "userConsentDescription", "isEnabled", "origin"], "microsoft.graph.permissionScope");
    if (typeof s.value !== "string" || !/^[^\s]{1,120}$/.test(s.value) || s.value.startsWith(".")) invalid("api.oauth2PermissionScopes.value", "A value without spaces, not starting with '.', is expected.");
    if (s.type !== undefined && s.type !== "User" && s.type !== "Admin") invalid("api.oauth2PermissionScopes.type", "'User' or 'Admin' is expected.");
    return {
      id: guid(s.id, "api.oauth2PermissionScopes.id"),
      value: s.value as string,
      type: (s.type ?? "User") as "User" | "Admin",
      adminConsentDisplayName: typeof s.adminConsentDisplayName === "string" ? s.adminConsentDisplayName : (s.value as string),
      adminConsentDescription: typeof s.adminConsentDescription === "string" ? s.adminConsentDescription : "",
    };
  });
  uniqueIdsAndValues(scopes, "api.oauth2PermissionScopes");
  return scopes;
}

function appRoles(value: unknown): AppRole[] {
  if (!Array.isArray(value)) invalid("appRoles", "A list is expected.");
  const roles = (value as unknown[]).map((r) => {
    if (!isObject(r)) invalid("appRoles", "Each entry is an object.");
    onlyKeys(r, ["id", "value", "displayName", "description", "allowedMemberTypes", "isEnabled", "origin"], "microsoft.graph.appRole");
    if (typeof r.value !== "string" || !/^[^\s]{1,120}$/.test(r.value)) invalid("appRoles.value", "A value without spaces is expected.");
    const members = stringArray(r.allowedMemberTypes ?? [], "appRoles.allowedMemberTypes");
    if (members.length === 0 || members.some((m) => m !== "User" && m !== "Application")) invalid("appRoles.allowedMemberTypes", "'User' and/or 'Application' is expected.");
    return { id: guid(r.id, "appRoles.id"), value: r.value as string, displayName: typeof r.displayName === "string" ? r.displayName : (r.value as string), description: typeof r.description === "string" ? r.description : "", allowedMemberTypes: members as ("User" | "Application")[] };
  });
  uniqueIdsAndValues(roles, "appRoles");
  return roles;
}

function uniqueIdsAndValues(list: { id: string; value: string }[], property: string): void {
  if (new Set(list.map((i) => i.id)).size !== list.length) invalid(property, "Two entries have the same id.");
  if (new Set(list.map((i) => i.value.toLowerCase())).size !== list.length) invalid(property, "Two entries have the same value.");
}

/**
 * Applies a create or PATCH body to `app` (a copy is returned): the writable properties of the
 * `application` resource that orgbox models; complex properties (`web`, `spa`, `publicClient`, `api`)
 * merge one level deep, collections are replaced, as Graph does.
 * @throws GraphError 400 `Request_BadRequest` naming an unknown, read-only or unsupported property, or an invalid value.
 */
function applyBody(app: Application, body: unknown): Application {
  if (!isObject(body)) throw graphError.badRequest("A JSON object is expected as the request body.");
  const next: Application = structuredClone(app) as Application;
  for (const [key, value] of Object.entries(body)) {
    if (key.startsWith("@odata.")) continue;
    if (READ_ONLY.has(key)) throw graphError.badRequest(`Property '${key}' is read-only and cannot be set.${key === "passwordCredentials" ? " Use addPassword." : key === "keyCredentials" ? " Use addKey." : ""}`);
    if (NOT_SUPPORTED.has(key)) throw graphError.badRequest(`Property '${key}' of ${TYPE} is not supported by orgbox.`);
    switch (key) {
      case "displayName":
        if (typeof value !== "string" || value.trim() === "" || value.length > 256) invalid(key, "A non-empty string of at most 256 characters is expected.");
        next.displayName = value;
        break;
      case "signInAudience":
        if (value !== "AzureADMyOrg" && value !== "AzureADMultipleOrgs") invalid(key, `orgbox supports 'AzureADMyOrg' and 'AzureADMultipleOrgs' (personal Microsoft accounts do not exist in orgbox).`);
        next.signInAudience = value;
        break;
      case "identifierUris":
        next.identifierUris = stringArray(value, key, (u) => (/^[a-z][a-z0-9+.-]*:\/\/?[^\s]+$/i.test(u) && !u.includes("#") ? undefined : `'${u}' is not a valid identifier URI.`));
        break;
      case "isFallbackPublicClient":
        if (typeof value !== "boolean" && value !== null) invalid(key, "true, false or null is expected.");
        next.isFallbackPublicClient = value === true;
        break;
      case "groupMembershipClaims":
        if (value !== null && value !== "None" && value !== "SecurityGroup" && value !== "All") invalid(key, "orgbox supports null, 'None', 'SecurityGroup' and 'All'.");
        next.groupMembershipClaims = value;
        break;
      case "requiredResourceAccess":
        next.requiredResourceAccess = requiredResourceAccess(value);
        break;
      case "appRoles":
        next.appRoles = appRoles(value);
        break;
      case "web": {
        if (!isObject(value)) invalid(key, "An object is expected.");
        onlyKeys(value, ["redirectUris", "implicitGrantSettings", "homePageUrl", "logoutUrl", "redirectUriSettings"], "microsoft.graph.webApplication");
        for (const k of ["homePageUrl", "redirectUriSettings"]) if (value[k] !== undefined && value[k] !== null) throw graphError.badRequest(`Property 'web.${k}' is not supported by orgbox.`);
        if (value.logoutUrl !== undefined) next.web = withLogoutUrl(next.web, logoutUrl(value.logoutUrl));
        if (value.redirectUris !== undefined) next.web.redirectUris = stringArray(value.redirectUris, "web.redirectUris", redirectUri("web"));
        if (value.implicitGrantSettings !== undefined) {
          const g = value.implicitGrantSettings;
          if (!isObject(g)) invalid("web.implicitGrantSettings", "An object is expected.");
          onlyKeys(g, ["enableAccessTokenIssuance", "enableIdTokenIssuance"], "microsoft.graph.implicitGrantSettings");
          for (const k of ["enableAccessTokenIssuance", "enableIdTokenIssuance"]) if (g[k] !== undefined && typeof g[k] !== "boolean") invalid(`web.implicitGrantSettings.${k}`, "true or false is expected.");
          const current = next.web.implicitGrantSettings ?? { enableAccessTokenIssuance: false, enableIdTokenIssuance: false };
          next.web.implicitGrantSettings = { enableAccessTokenIssuance: (g.enableAccessTokenIssuance as boolean | undefined) ?? current.enableAccessTokenIssuance, enableIdTokenIssuance: (g.enableIdTokenIssuance as boolean | undefined) ?? current.enableIdTokenIssuance };
        }
        break;
      }
      case "spa":
      case "publicClient": {
        if (!isObject(value)) invalid(key, "An object is expected.");
        onlyKeys(value, ["redirectUris"], key === "spa" ? "microsoft.graph.spaApplication" : "microsoft.graph.publicClientApplication");
        if (value.redirectUris !== undefined) next[key] = { redirectUris: stringArray(value.redirectUris, `${key}.redirectUris`, redirectUri(key)) };
        break;
      }
      case "api": {
        if (!isObject(value)) invalid(key, "An object is expected.");
        onlyKeys(value, ["oauth2PermissionScopes", "requestedAccessTokenVersion", "acceptMappedClaims", "knownClientApplications", "preAuthorizedApplications"], "microsoft.graph.apiApplication");
        if (value.acceptMappedClaims !== undefined && value.acceptMappedClaims !== null) throw graphError.badRequest("Property 'api.acceptMappedClaims' is not supported by orgbox.");
        for (const k of ["knownClientApplications", "preAuthorizedApplications"]) if (value[k] !== undefined && !(Array.isArray(value[k]) && (value[k] as unknown[]).length === 0)) throw graphError.badRequest(`Property 'api.${k}' is not supported by orgbox.`);
        if (value.oauth2PermissionScopes !== undefined) next.api.oauth2PermissionScopes = permissionScopes(value.oauth2PermissionScopes);
        if (value.requestedAccessTokenVersion !== undefined) {
          const v = value.requestedAccessTokenVersion;
          if (v !== null && v !== 1 && v !== 2) invalid("api.requestedAccessTokenVersion", "null, 1 or 2 is expected.");
          next.api.requestedAccessTokenVersion = v;
        }
        break;
      }
      default:
        throw graphError.badRequest(`Property '${key}' does not exist as a declared property or extension property.`);
    }
  }
  return next;
}

/** Refuses identifier URIs another application already uses (Graph: "Another object with the same value for property identifierUris already exists."). */
async function assertIdentifierUrisFree(x: GraphContext, app: Application, before: readonly string[]): Promise<void> {
  for (const uri of app.identifierUris) {
    if (before.some((b) => b.toLowerCase() === uri.toLowerCase())) continue;
    const other = await x.deps.directory.findApplicationByIdentifierUri(uri);
    if (other && other.id !== app.id) throw graphError.conflict("Another object with the same value for property identifierUris already exists.");
  }
}

// ── Operations ───────────────────────────────────────────────────────────────

/** `$expand=owners` on applications (users and service principals that own the app). */
const EXPAND_OWNERS: Readonly<Record<string, ExpandNavigation>> = {
  owners: {
    select: ["id", "displayName", "userPrincipalName", "givenName", "surname", "accountEnabled", "appId", "appOwnerOrganizationId"],
    typeName: "microsoft.graph.directoryObject",
    async load(x, item, limit) {
      const refs = await x.deps.directory.listApplicationOwners(String(item.id));
      const owners = await Promise.all(refs.slice(0, limit).map((r) => ownerJson(x, r)));
      return owners.filter((o): o is Record<string, unknown> => o !== undefined);
    },
  },
};

const list: GraphOperation = {
  name: "application: list",
  method: "GET",
  path: "applications",
  policy: READ_APPLICATIONS,
  query: LIST_QUERY,
  expand: EXPAND_OWNERS,
  async handle(x): Promise<GraphResult> {
    const q = filled(x.query, "query");
    const access = filled(x.access, "access");
    const page = await x.deps.directory.queryApplications(filled(x.tenant, "tenant").id, {
      ...(q.filter ? { filter: q.filter } : {}),
      ...(q.orderBy ? { orderBy: q.orderBy } : {}),
      ...(q.after ? { after: q.after } : {}),
      ...(access.scope === "owned" ? { ownedBy: access.ownerId } : {}),
      top: q.top,
      count: q.count,
    });
    const { passwords, keys } = await x.deps.directory.listApplicationCredentials(page.items.map((a) => a.id));
    const byApp = <T extends { applicationId: string }>(list: T[]) => {
      const map = new Map<string, T[]>();
      for (const item of list) map.set(item.applicationId, [...(map.get(item.applicationId) ?? []), item]);
      return map;
    };
    const passwordsOf = byApp(passwords);
    const keysOf = byApp(keys);
    const items = page.items.map((a) => applicationJson(a, passwordsOf.get(a.id) ?? [], keysOf.get(a.id) ?? []));
    return { kind: "collection", context: "applications", items, ...(page.count !== undefined ? { count: page.count } : {}), ...(page.next ? { next: page.next } : {}) };
  },
};

const count: GraphOperation = {
  name: "application: count",
  method: "GET",
  path: "applications/$count",
  policy: READ_APPLICATIONS,
  query: { typeName: TYPE, filter: LIST_QUERY.filter, collection: true },
  async handle(x): Promise<GraphResult> {
    const q = filled(x.query, "query");
    if (!q.eventual) throw graphError.badRequest("Count is not currently supported. Send the header 'ConsistencyLevel: eventual' with /$count.");
    const access = filled(x.access, "access");
    const page = await x.deps.directory.queryApplications(filled(x.tenant, "tenant").id, { ...(q.filter ? { filter: q.filter } : {}), ...(access.scope === "owned" ? { ownedBy: access.ownerId } : {}), top: 1, count: true });
    return { kind: "count", count: page.count ?? 0 };
  },
};

const get: GraphOperation = {
  name: "application: get",
  method: "GET",
  path: "applications/{id}",
  policy: READ_APPLICATIONS,
  query: ENTITY_QUERY,
  expand: EXPAND_OWNERS,
  async handle(x): Promise<GraphResult> {
    const app = await findApplication(x, x.params?.id);
    return { kind: "entity", context: "applications/$entity", value: await render(x, app) };
  },
};

const create: GraphOperation = {
  name: "application: create",
  method: "POST",
  path: "applications",
  policy: CREATE_APPLICATIONS,
  async handle(x): Promise<GraphResult> {
    const tenant = filled(x.tenant, "tenant");
    const body = x.http.body;
    if (!isObject(body) || typeof body.displayName !== "string") throw graphError.badRequest("Required property 'displayName' is missing or not a string.");
    const blank: Application = {
      id: newGuid(),
      appId: newGuid(),
      tenantId: tenant.id,
      displayName: body.displayName,
      signInAudience: "AzureADMyOrg",
      identifierUris: [],
      web: { redirectUris: [] },
      spa: { redirectUris: [] },
      publicClient: { redirectUris: [] },
      isFallbackPublicClient: false,
      requiredResourceAccess: [],
      appRoles: [],
      api: { oauth2PermissionScopes: [], requestedAccessTokenVersion: null },
      publisherDomain: tenant.defaultDomain,
      groupMembershipClaims: null,
    };
    const app = applyBody(blank, body);
    await assertIdentifierUrisFree(x, app, []);
    const now = x.deps.clock.now();
    await x.deps.directory.createApplication(app, now);
    // Graph makes the signed-in user (or an app acting with …OwnedBy) an owner of what it creates.
    const caller = filled(x.caller, "caller");
    const access = filled(x.access, "access");
    if (caller.kind === "user") await x.deps.directory.addApplicationOwner(app.id, { id: caller.user.id, type: "User" }, now);
    else if (access.scope === "owned") await x.deps.directory.addApplicationOwner(app.id, { id: caller.servicePrincipalId, type: "ServicePrincipal" }, now);
    const stored = (await x.deps.directory.queryApplications(tenant.id, { filter: { op: "eq", property: "id", value: app.id }, top: 1, count: false })).items[0] ?? app;
    x.reply.header("location", `${x.deps.urls.graphRoot}/${x.version}/applications/${app.id}`);
    return { kind: "entity", context: "applications/$entity", value: applicationJson(stored, [], []), status: 201 };
  },
};

const update: GraphOperation = {
  name: "application: update",
  method: "PATCH",
  path: "applications/{id}",
  policy: WRITE_APPLICATIONS,
  async handle(x): Promise<GraphResult> {
    const app = await findApplication(x, x.params?.id);
    const next = applyBody(app, x.http.body);
    await assertIdentifierUrisFree(x, next, app.identifierUris);
    await x.deps.directory.updateApplication(next);
    return { kind: "empty" };
  },
};

const remove: GraphOperation = {
  name: "application: delete",
  method: "DELETE",
  path: "applications/{id}",
  policy: WRITE_APPLICATIONS,
  async handle(x): Promise<GraphResult> {
    const app = await findApplication(x, x.params?.id);
    await x.deps.directory.deleteApplication(app.id);
    return { kind: "empty" };
  },
};

/** A date-time property of an action body (ISO 8601), in ms; undefined when absent or null. */
function dateTime(value: unknown, property: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = typeof value === "string" ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw graphError.badRequest(`Invalid value specified for property '${property}': an ISO 8601 date-time is expected.`);
  return ms;
}

/** Graph's default lifetime of a secret added without `endDateTime`: two years (learn.microsoft.com/graph/api/application-addpassword). */
const DEFAULT_SECRET_LIFETIME_MS = 2 * 365 * 24 * 3600_000;

const addPassword: GraphOperation = {
  name: "application: addPassword",
  method: "POST",
  path: "applications/{id}/addPassword",
  policy: WRITE_APPLICATIONS,
  async handle(x): Promise<GraphResult> {
    const app = await findApplication(x, x.params?.id);
    const body = x.http.body ?? {};
    if (!isObject(body)) throw graphError.badRequest("A JSON object is expected as the request body.");
    onlyKeys(body, ["passwordCredential"], "addPassword");
    const input = body.passwordCredential ?? {};
    if (!isObject(input)) throw graphError.badRequest("'passwordCredential' must be an object.");
    onlyKeys(input, ["displayName", "endDateTime", "startDateTime", "customKeyIdentifier", "hint", "keyId", "secretText"], "microsoft.graph.passwordCredential");
    for (const k of ["customKeyIdentifier", "hint", "keyId", "secretText"]) if (input[k] !== undefined && input[k] !== null) throw graphError.badRequest(`Property '${k}' of passwordCredential is generated by the service and cannot be set.`);
    if (input.displayName !== undefined && input.displayName !== null && typeof input.displayName !== "string") throw graphError.badRequest("'displayName' must be a string.");
    const now = x.deps.clock.now();
    const start = dateTime(input.startDateTime, "startDateTime") ?? now;
    const end = dateTime(input.endDateTime, "endDateTime") ?? start + DEFAULT_SECRET_LIFETIME_MS;
    if (end <= start) throw graphError.badRequest("'endDateTime' must be after 'startDateTime'.");
    const added = await x.deps.service.addPassword({ appId: app.appId, startDateTime: start, endDateTime: end, ...(typeof input.displayName === "string" ? { displayName: input.displayName } : {}) });
    return { kind: "entity", context: "microsoft.graph.passwordCredential", value: passwordJson(added, added.secretText) };
  },
};

const removePassword: GraphOperation = {
  name: "application: removePassword",
  method: "POST",
  path: "applications/{id}/removePassword",
  policy: WRITE_APPLICATIONS,
  async handle(x): Promise<GraphResult> {
    const app = await findApplication(x, x.params?.id);
    const body = x.http.body;
    if (!isObject(body)) throw graphError.badRequest("A JSON object with 'keyId' is expected as the request body.");
    onlyKeys(body, ["keyId"], "removePassword");
    const keyId = guid(body.keyId, "keyId");
    if (!(await x.deps.directory.removePasswordCredential(app.id, keyId))) throw graphError.badRequest(`No password credential with keyId '${keyId}' was found on application '${app.id}'.`);
    return { kind: "empty" };
  },
};

/** Audience of `addKey`/`removeKey` proofs: Azure AD Graph's app id (learn.microsoft.com/graph/application-rollkey-prooftoken). */
const PROOF_AUDIENCE = "00000002-0000-0000-c000-000000000000";

/**
 * Checks the `proof` of `addKey`/`removeKey`: a JWT signed with the private key of one of the app's
 * current certificates, `aud` 00000002-0000-0000-c000-000000000000, `iss` the application's object id,
 * within its `nbf`/`exp` (learn.microsoft.com/graph/application-rollkey-prooftoken).
 * @throws GraphError 400 when it is missing or does not verify with any current certificate.
 */
async function verifyProof(x: GraphContext, app: Application, keys: KeyCredential[], proof: unknown): Promise<void> {
  if (typeof proof !== "string" || proof === "") throw graphError.badRequest("'proof' is required: a JWT signed with the private key of one of the application's current certificates.");
  const now = x.deps.clock.now();
  for (const key of keys.filter((k) => k.startDateTime <= now && k.endDateTime > now)) {
    try {
      const pem = `-----BEGIN CERTIFICATE-----\n${key.certificateB64.match(/.{1,64}/g)?.join("\n") ?? ""}\n-----END CERTIFICATE-----`;
      await jwtVerify(proof, await importX509(pem, "RS256"), { audience: PROOF_AUDIENCE, issuer: app.id, currentDate: new Date(now), algorithms: ["RS256"] });
      return;
    } catch {
      // try the next certificate
    }
  }
  throw graphError.badRequest("The proof is not valid: it must be signed by a current certificate of the application, with aud '00000002-0000-0000-c000-000000000000' and iss the application's object id.");
}

const addKey: GraphOperation = {
  name: "application: addKey",
  method: "POST",
  path: "applications/{id}/addKey",
  policy: WRITE_APPLICATIONS,
  async handle(x): Promise<GraphResult> {
    const app = await findApplication(x, x.params?.id);
    const body = x.http.body;
    if (!isObject(body) || !isObject(body.keyCredential)) throw graphError.badRequest("A JSON object with 'keyCredential' and 'proof' is expected as the request body.");
    onlyKeys(body, ["keyCredential", "passwordCredential", "proof"], "addKey");
    if (body.passwordCredential !== undefined && body.passwordCredential !== null) throw graphError.badRequest("orgbox's addKey adds certificates only: send 'passwordCredential': null and use addPassword for secrets.");
    const input = body.keyCredential;
    onlyKeys(input, ["type", "usage", "key", "displayName", "startDateTime", "endDateTime", "customKeyIdentifier", "keyId"], "microsoft.graph.keyCredential");
    if (input.type !== "AsymmetricX509Cert" || input.usage !== "Verify") throw graphError.badRequest("orgbox supports keyCredential type 'AsymmetricX509Cert' with usage 'Verify'.");
    if (typeof input.key !== "string" || input.key === "") throw graphError.badRequest("'keyCredential.key' (the base64 DER certificate) is required.");
    const { keys } = await x.deps.directory.listApplicationCredentials([app.id]);
    // Graph needs a proof signed by a current certificate; an app without one adds its first certificate without a proof.
    const current = keys.filter((k) => k.endDateTime > x.deps.clock.now());
    if (current.length > 0) await verifyProof(x, app, current, body.proof);
    const start = dateTime(input.startDateTime, "startDateTime");
    const end = dateTime(input.endDateTime, "endDateTime");
    const added = await x.deps.service.addKeyCredential({
      appId: app.appId,
      certificatePem: input.key,
      ...(typeof input.displayName === "string" ? { displayName: input.displayName } : {}),
      ...(start !== undefined ? { startDateTime: start } : {}),
      ...(end !== undefined ? { endDateTime: end } : {}),
    });
    return { kind: "entity", context: "microsoft.graph.keyCredential", value: keyJson(added) };
  },
};

const removeKey: GraphOperation = {
  name: "application: removeKey",
  method: "POST",
  path: "applications/{id}/removeKey",
  policy: WRITE_APPLICATIONS,
  async handle(x): Promise<GraphResult> {
    const app = await findApplication(x, x.params?.id);
    const body = x.http.body;
    if (!isObject(body)) throw graphError.badRequest("A JSON object with 'keyId' and 'proof' is expected as the request body.");
    onlyKeys(body, ["keyId", "proof"], "removeKey");
    const keyId = guid(body.keyId, "keyId");
    const { keys } = await x.deps.directory.listApplicationCredentials([app.id]);
    if (!keys.some((k) => k.keyId === keyId)) throw graphError.badRequest(`No key credential with keyId '${keyId}' was found on application '${app.id}'.`);
    await verifyProof(x, app, keys, body.proof);
    await x.deps.directory.removeKeyCredential(app.id, keyId);
    return { kind: "empty" };
  },
};

/** A directory object as `owners` lists it (`@odata.type` user or servicePrincipal), or undefined when it no longer exists. */
async function ownerJson(x: GraphContext, ref: DirectoryObjectRef): Promise<Record<string, unknown> | undefined> {
  const tenant = filled(x.tenant, "tenant");
  if (ref.type === "User") {
    const user = await x.deps.directory.findUserById(ref.id);
    if (!user || user.tenantId !== tenant.id) return undefined;
    return { "@odata.type": "#microsoft.graph.user", id: user.id, displayName: user.displayName, userPrincipalName: user.userPrincipalName, givenName: user.givenName, surname: user.surname, accountEnabled: user.accountEnabled };
  }
  const sp = await x.deps.directory.findServicePrincipalById(tenant.id, ref.id);
  return sp ? { "@odata.type": "#microsoft.graph.servicePrincipal", id: sp.id, appId: sp.appId, displayName: sp.displayName, appOwnerOrganizationId: sp.appOwnerOrganizationId } : undefined;
}

const listOwners: GraphOperation = {
  name: "application: list owners",
  method: "GET",
  path: "applications/{id}/owners",
  policy: READ_APPLICATIONS,
  query: OWNERS_QUERY,
  async handle(x): Promise<GraphResult> {
    const app = await findApplication(x, x.params?.id);
    const refs = await x.deps.directory.listApplicationOwners(app.id);
    const items = (await Promise.all(refs.map((r) => ownerJson(x, r)))).filter((o): o is Record<string, unknown> => o !== undefined);
    return { kind: "collection", context: "directoryObjects", items };
  },
};

/** `…/directoryObjects/{id}`, `…/users/{id}` or `…/servicePrincipals/{id}` of an `@odata.id`. */
const REFERENCE = /\/(directoryObjects|users|servicePrincipals)(?:\/|\(')([0-9a-f-]{36})(?:'\))?\/?$/i;

const addOwner: GraphOperation = {
  name: "application: add owner",
  method: "POST",
  path: "applications/{id}/owners/$ref",
  policy: WRITE_APPLICATIONS,
  async handle(x): Promise<GraphResult> {
    const app = await findApplication(x, x.params?.id);
    const body = x.http.body;
    const ref = isObject(body) && typeof body["@odata.id"] === "string" ? REFERENCE.exec(body["@odata.id"]) : null;
    if (!ref) throw graphError.badRequest("A JSON object with '@odata.id': 'https://graph.microsoft.com/v1.0/directoryObjects/{id}' is expected.");
    const id = (ref[2] as string).toLowerCase();
    const tenant = filled(x.tenant, "tenant");
    const user = await x.deps.directory.findUserById(id);
    const owner: DirectoryObjectRef | undefined = user && user.tenantId === tenant.id ? { id, type: "User" } : (await x.deps.directory.findServicePrincipalById(tenant.id, id)) ? { id, type: "ServicePrincipal" } : undefined;
    if (!owner) throw graphError.notFound(id);
    if (!(await x.deps.directory.addApplicationOwner(app.id, owner, x.deps.clock.now()))) {
      throw graphError.badRequest("One or more added object references already exist for the following modified properties: 'owners'.");
    }
    return { kind: "empty" };
  },
};

const removeOwner: GraphOperation = {
  name: "application: remove owner",
  method: "DELETE",
  path: "applications/{id}/owners/{ownerId}/$ref",
  policy: WRITE_APPLICATIONS,
  async handle(x): Promise<GraphResult> {
    const app = await findApplication(x, x.params?.id);
    const ownerId = filled(x.params?.ownerId, "ownerId").value.toLowerCase();
    if (!(await x.deps.directory.removeApplicationOwner(app.id, ownerId))) throw graphError.notFound(ownerId);
    return { kind: "empty" };
  },
};

/** The `applications` resource module. */
export const applicationsModule: GraphResourceModule = {
  name: "applications",
  operations: [list, count, get, create, update, remove, addPassword, removePassword, addKey, removeKey, listOwners, addOwner, removeOwner],
};
