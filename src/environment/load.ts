import { readFileSync } from "node:fs";
import { dirname, extname, relative, resolve } from "node:path";
import type { z } from "zod";
import { newGuid } from "../common/ids.ts";
import { unknownKeysMessage } from "../common/suggest.ts";
import { defaultRoles, isLookupType, MISC_PRIVILEGES, parseEntityKey, parseSolutionZip, privilegeDefinitions, privilegesFor, STANDARD_TABLES, type AttributeMetadata, type Depth, type EntityMetadata, type GlobalOptionSetMetadata } from "../dataverse/index.ts";
import { DYNAMICS_CRM_APP_ID, FIRST_PARTY_APPS, GLOBAL_ADMINISTRATOR_ROLE, MICROSOFT_GRAPH_APP_ID } from "../identity/index.ts";
import { CONFIG_KEYS } from "../config/config.ts";
import { parseCertificateCredential } from "../identity/index.ts";
import { parseCsv } from "./csv.ts";
import { resolveManyToMany, resolveOptionSets, resolveTables, type ResolvedTables } from "./tables.ts";
import { EnvironmentError, readDocument } from "./read.ts";
import { ENVIRONMENT_KEYS, EnvironmentSchema, type BusinessUnitInput, type Cell, type OrgboxEnvironment } from "./schema.ts";
import { DEMO } from "../server/demo.ts";

/** Prefix of a role reference resolved at apply time: a predefined role createOrg makes (`builtin:System Administrator`). */
export const BUILTIN_ROLE = "builtin:";
/** The demo org's custom role (src/server/seed.ts), which an environment extending the demo may name. */
const DEMO_ROLE_NAME = "orgbox Demo Integration";
/** Names of the predefined roles every org has. */
export const BUILTIN_ROLE_NAMES: readonly string[] = defaultRoles(STANDARD_TABLES).map((r) => r.name);

/** A directory user, ready to create. */
export interface ResolvedUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  givenName: string | undefined;
  surname: string | undefined;
  password: string;
  directoryRoles: string[];
}

export interface ResolvedTenant {
  /** True for the demo tenant (`seedDemo: true`): it exists already; only its users and groups are added. */
  existing?: boolean;
  id: string;
  displayName: string;
  defaultDomain: string;
  /** Further verified domains. */
  domains: string[];
  users: ResolvedUser[];
  groups: ResolvedGroup[];
}

/** A group, with member user object ids. */
export interface ResolvedGroup {
  id: string;
  displayName: string;
  memberIds: string[];
}

export interface ResolvedConsent {
  tenantId: string;
  how: "admin" | "user";
  /** Object id of the consenting user (`how: user`). */
  userId: string | undefined;
  servicePrincipalId: string | undefined;
}

export interface ResolvedApp {
  appId: string;
  objectId: string | undefined;
  servicePrincipalId: string | undefined;
  displayName: string;
  tenantId: string;
  signInAudience: "AzureADMyOrg" | "AzureADMultipleOrgs";
  identifierUris: string[];
  webRedirectUris: string[];
  spaRedirectUris: string[];
  publicClientRedirectUris: string[];
  publicClient: boolean;
  secrets: { value: string; keyId: string | undefined; displayName: string | undefined; starts: number | undefined; expires: number | undefined }[];
  /** Certificate credentials: PEM text of public certificates. */
  certificates: { pem: string; keyId: string | undefined; displayName: string | undefined }[];
  /** Delegated permissions by resource app id (canonical values). */
  permissions: { resourceAppId: string; scopes: { id: string; value: string }[] }[];
  consents: ResolvedConsent[];
  assignmentRequired: boolean;
  /** Users and groups (object ids) assigned to the home-tenant service principal. */
  assignments: { principalType: "User" | "Group"; id: string }[];
  groupMembershipClaims: "None" | "SecurityGroup" | "All" | undefined;
  requestedAccessTokenVersion: 1 | 2 | undefined;
}

/** A data row, with references resolved and values typed. */
export interface ResolvedRow {
  table: string;
  values: Record<string, unknown>;
  /** systemuserid of the owner (user-owned tables). */
  ownerId: string | undefined;
}

export interface ResolvedOrg {
  /** True for the demo org (`seedDemo: true`): it exists already; what the file lists is added to it. */
  existing?: boolean;
  name: string;
  id: string;
  tenantId: string;
  displayName: string;
  /** The org's cloud host name (lower-case), when the file names one (default `{name}.crm.dynamics.com`). */
  hostName?: string;
  rootBusinessUnitId: string;
  baseCurrencyId: string;
  /** Global option sets (applied before tables). */
  optionSets: GlobalOptionSetMetadata[];
  /** Custom tables, the columns and keys added to standard tables, and the one-to-many relationships of Lookup columns (applied before roles). */
  tables: Pick<ResolvedTables, "custom" | "extensions" | "relationships" | "manyToMany">;
  /** N:N links: rows of intersect tables (`associations`), inserted after the data rows. */
  associations: { intersect: string; values: Record<string, string> }[];
  /** Solution zips to import (after tables and relationships, before roles), in file order. */
  solutions: { file: string; bytes: Uint8Array }[];
  /** Parents before children. */
  businessUnits: { id: string; name: string; parentId: string }[];
  roles: { id: string; name: string; businessUnitId: string; privileges: { name: string; depth: Depth }[] }[];
  /** Role ids, or `builtin:{name}` for a predefined role ({@link BUILTIN_ROLE}). */
  applicationUsers: { id: string; appId: string; businessUnitId: string; fullName: string | undefined; roleIds: string[] }[];
  users: { id: string; directoryUserId: string; userPrincipalName: string; firstname: string | undefined; lastname: string | undefined; businessUnitId: string; roleIds: string[] }[];
  /** Owner teams: member systemuser ids and role ids (or `builtin:{name}`). */
  teams: { id: string; name: string; businessUnitId: string; memberIds: string[]; roleIds: string[] }[];
  rows: ResolvedRow[];
}

/** A validated environment with every id known and every reference resolved. */
export interface LoadedEnvironment {
  /** The file it came from, or `(inline)`. */
  source: string;
  seedDemo: boolean;
  /** Server settings found in the file. */
  server: Record<string, unknown>;
  tenants: ResolvedTenant[];
  apps: ResolvedApp[];
  orgs: ResolvedOrg[];
}

/** True when a parsed config document describes an environment (tenants, apps or orgs). */
export function isEnvironmentDocument(data: unknown): boolean {
  return typeof data === "object" && data !== null && !Array.isArray(data) && ENVIRONMENT_KEYS.some((k) => k in data);
}

/**
 * Reads and validates an environment file (`.json`, `.yaml`/`.yml`, `.ts`/`.js`):
 * shape, then every cross reference (tenants, users, apps, roles, privileges,
 * tables, columns, ids, `@ref` lookups), then the data files it names.
 * Nothing is applied.
 * @throws EnvironmentError listing every problem as `file: path: problem`.
 */
export function loadEnvironmentFile(path: string): LoadedEnvironment {
  return validateEnvironment(readDocument(path), path, dirname(resolve(path)));
}

/**
 * Validates an environment given as data (see {@link loadEnvironmentFile}).
 * @param source name used in error messages.
 * @param baseDir folder that `file:` data references are relative to.
 */
export function validateEnvironment(data: unknown, source = "(inline)", baseDir = process.cwd()): LoadedEnvironment {
  let document = data;
  let server: Record<string, unknown> = {};
  if (typeof data === "object" && data !== null && !Array.isArray(data)) {
    const record = { ...(data as Record<string, unknown>) };
    // Server keys may sit at the top level (plain config files) instead of under `server`.
    for (const key of Object.keys(CONFIG_KEYS)) {
      if (key in record && key !== "seedDemo") {
        server[key] = record[key];
        delete record[key];
      }
    }
    if (typeof record.server === "object" && record.server !== null) server = { ...server, ...(record.server as Record<string, unknown>) };
    document = record;
  }
  const parsed = EnvironmentSchema.safeParse(document);
  if (!parsed.success) throw new EnvironmentError(parsed.error.issues.map((issue) => `${source}: ${formatPath(issue.path)}: ${issueMessage(issue)}`));
  const seedDemo = parsed.data.seedDemo ?? (typeof server.seedDemo === "boolean" ? server.seedDemo : false);
  const resolver = new Resolver(source, baseDir, seedDemo);
  const loaded = resolver.resolve(parsed.data as OrgboxEnvironment);
  if (resolver.problems.length > 0) throw new EnvironmentError(resolver.problems);
  return { source, seedDemo, server, ...loaded };
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") return unknownKeysMessage(issue.keys, objectKeysAt(EnvironmentSchema, issue.path));
  if (issue.code === "invalid_union") return "expected a list of rows, or { file: \"rows.csv\" }";
  return issue.message;
}

/** What {@link objectKeysAt} reads of a zod schema: its definition (zod 4's `_zod.def`). */
interface SchemaDef {
  type: string;
  innerType?: SchemaNode;
  element?: SchemaNode;
  valueType?: SchemaNode;
  shape?: Record<string, SchemaNode>;
  options?: SchemaNode[];
  items?: SchemaNode[];
  in?: SchemaNode;
  getter?: () => SchemaNode;
}
interface SchemaNode {
  _zod: { def: SchemaDef };
}

/**
 * The keys the object schema(s) at `path` inside `schema` accept (through optional, default, arrays, records,
 * tuples, unions, pipes and lazy schemas), for the "did you mean" of an unknown key; empty when the path leads
 * to no object.
 */
export function objectKeysAt(schema: unknown, path: ReadonlyArray<PropertyKey>): string[] {
  const keys = new Set<string>();
  const walk = (node: SchemaNode | undefined, rest: ReadonlyArray<PropertyKey>, depth: number): void => {
    if (node === undefined || depth > 64) return;
    const def = node._zod.def;
    if (["optional", "nullable", "default", "prefault", "readonly", "nonoptional", "catch"].includes(def.type)) return walk(def.innerType, rest, depth + 1);
    if (def.type === "pipe") return walk(def.in, rest, depth + 1);
    if (def.type === "lazy") return walk(def.getter?.(), rest, depth + 1);
    if (def.type === "union") return def.options?.forEach((o) => walk(o, rest, depth + 1));
    if (rest.length === 0) {
      if (def.type === "object") for (const k of Object.keys(def.shape ?? {})) keys.add(k);
      return;
    }
    const [head, ...tail] = rest;
    if (def.type === "array") return walk(def.element, tail, depth + 1);
    if (def.type === "tuple" && typeof head === "number") return walk(def.items?.[head], tail, depth + 1);
    if (def.type === "record") return walk(def.valueType, tail, depth + 1);
    if (def.type === "object" && typeof head === "string") return walk(def.shape?.[head], tail, depth + 1);
  };
  walk(schema as SchemaNode, path, 0);
  return [...keys];
}

/** `orgs[0].roles[1].privileges.prvReadAccount` */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (typeof part === "string" && /^[A-Za-z_$@][\w$@]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out || "(top level)";
}

const PRIVILEGES = new Set<string>([...privilegeDefinitions(STANDARD_TABLES).map((p) => p.name), ...MISC_PRIVILEGES]);
/** Names accepted for the first-party resources (lower-case) → app id. */
export const RESOURCE_ALIASES: Record<string, string> = { dynamics: DYNAMICS_CRM_APP_ID, "dynamics crm": DYNAMICS_CRM_APP_ID, "common data service": DYNAMICS_CRM_APP_ID, dataverse: DYNAMICS_CRM_APP_ID, graph: MICROSOFT_GRAPH_APP_ID, "microsoft graph": MICROSOFT_GRAPH_APP_ID };
const REF_PREFIX = "@ref:";
/** `@ref:account(accountnumber='A-100')`: a row by an alternate key of its table. */
const ALTERNATE_REF_RE = /^([a-z][a-z0-9_]*)\((.+)\)$/s;

type Where = (string | number)[];

/** One pass over the parsed document, collecting problems instead of stopping at the first. */
class Resolver {
  readonly problems: string[] = [];
  private readonly source: string;
  private readonly baseDir: string;
  private readonly tenantsByKey = new Map<string, ResolvedTenant>();
  private readonly usersByUpn = new Map<string, { user: ResolvedUser; tenant: ResolvedTenant }>();
  private readonly directoryIds = new Map<string, string>();
  private demoExtended = false;

  /** The demo tenant when the file extends the demo (`seedDemo: true`). */
  private readonly demoTenant: ResolvedTenant | undefined;

  /**
   * @param extendsDemo `seedDemo: true`: the demo ({@link DEMO}) exists when the file is applied, so
   *   the file may reference its tenant (`contoso.onmicrosoft.com`), its admin user, and extend its
   *   tenant (a `tenants` entry with its id or domain adds users and groups) and its org (an `orgs`
   *   entry named `contoso` adds roles, users, application users, teams, tables and rows, and may name
   *   the role `orgbox Demo Integration`).
   */
  constructor(source: string, baseDir: string, extendsDemo = false) {
    this.source = source;
    this.baseDir = baseDir;
    if (extendsDemo) {
      const tenant: ResolvedTenant = { existing: true, id: DEMO.tenantId, displayName: DEMO.tenantDisplayName, defaultDomain: DEMO.tenantDomain, domains: [], users: [], groups: [] };
      this.demoTenant = tenant;
      this.tenantsByKey.set(DEMO.tenantId, tenant);
      this.tenantsByKey.set(DEMO.tenantDomain, tenant);
      const admin: ResolvedUser = { id: DEMO.admin.id, userPrincipalName: DEMO.admin.username, displayName: DEMO.admin.displayName, givenName: "Contoso", surname: "Admin", password: DEMO.admin.password, directoryRoles: [GLOBAL_ADMINISTRATOR_ROLE] };
      this.usersByUpn.set(DEMO.admin.username, { user: admin, tenant });
      for (const [id, label] of [[DEMO.tenantId, "the demo tenant"], [DEMO.admin.id, "the demo admin"], [DEMO.app.objectId, "the demo app"], [DEMO.app.servicePrincipalId, "the demo app's service principal"]] as const) this.directoryIds.set(id, label);
    }
  }

  private fail(where: Where | string, problem: string, file = this.source): void {
    this.problems.push(`${file}: ${typeof where === "string" ? where : formatPath(where)}: ${problem}`);
  }

  /** Records a directory object id; reports a duplicate. */
  private claimDirectoryId(id: string, where: Where): void {
    const first = this.directoryIds.get(id);
    if (first) this.fail(where, `duplicate id '${id}' (also used at ${first})`);
    else this.directoryIds.set(id, formatPath(where));
  }

  resolve(env: OrgboxEnvironment): Pick<LoadedEnvironment, "tenants" | "apps" | "orgs"> {
    const tenants = (env.tenants ?? []).map((t, i) => this.tenant(t, ["tenants", i]));
    const apps: ResolvedApp[] = [];
    const appIds = new Map<string, string>();
    (env.apps ?? []).forEach((a, i) => {
      const app = this.app(a, ["apps", i]);
      if (!app) return;
      const first = appIds.get(app.appId);
      if (first) this.fail(["apps", i, "appId"], `duplicate id '${app.appId}' (also used at ${first})`);
      appIds.set(app.appId, formatPath(["apps", i]));
      apps.push(app);
    });
    const orgNames = new Map<string, string>();
    const orgs: ResolvedOrg[] = [];
    (env.orgs ?? []).forEach((o, i) => {
      const first = orgNames.get(o.name);
      if (first) this.fail(["orgs", i, "name"], `duplicate org name '${o.name}' (also used at ${first})`);
      orgNames.set(o.name, formatPath(["orgs", i]));
      const org = this.org(o, ["orgs", i], apps);
      if (org) orgs.push(org);
    });
    // One org per cloud host name (an org without `hostName` has `{name}.crm.dynamics.com`).
    const hosts = new Map<string, string>();
    const named = new Set<string>();
    (env.orgs ?? []).forEach((o, i) => {
      const host = (o.hostName ?? `${o.name}.crm.dynamics.com`).toLowerCase();
      const first = hosts.get(host);
      const duplicateName = named.has(o.name);
      named.add(o.name);
      // A duplicate name is reported above.
      if (first && !duplicateName) this.fail(["orgs", i, o.hostName !== undefined ? "hostName" : "name"], `host name '${host}' is also the host of the org at ${first}`);
      if (!first) hosts.set(host, formatPath(["orgs", i]));
    });
    return { tenants, apps, orgs };
  }

  private tenantRef(key: string, where: Where): ResolvedTenant | undefined {
    const tenant = this.tenantsByKey.get(key.toLowerCase());
    if (!tenant) this.fail(where, `no tenant '${key}' in tenants (give its id or one of its domains)`);
    return tenant;
  }

  private tenant(t: NonNullable<OrgboxEnvironment["tenants"]>[number], where: Where): ResolvedTenant {
    const domains = t.domains.map((d) => d.toLowerCase());
    const demo = this.demoTenant;
    const extendsDemo = demo !== undefined && [t.id?.toLowerCase(), ...domains].some((key) => key === demo.id || key === demo.defaultDomain);
    let tenant: ResolvedTenant;
    if (demo && extendsDemo) {
      // The demo tenant, extended: same id and domain, only users and groups are added.
      if ((t.id !== undefined && t.id.toLowerCase() !== demo.id) || domains.some((d) => d !== demo.defaultDomain)) this.fail(where, `the demo tenant (seedDemo: true) is ${demo.defaultDomain} (${demo.id}); an entry extending it cannot change its id or domains`);
      if (demo.users.length + demo.groups.length > 0 || this.demoExtended) this.fail(where, "the demo tenant is extended twice");
      this.demoExtended = true;
      tenant = demo;
    } else {
      const id = (t.id ?? newGuid()).toLowerCase();
      this.claimDirectoryId(id, [...where, "id"]);
      tenant = { id, displayName: t.displayName, defaultDomain: domains[0] as string, domains: domains.slice(1), users: [], groups: [] };
      for (const [i, key] of [id, ...domains].entries()) {
        if (this.tenantsByKey.has(key)) this.fail(i === 0 ? [...where, "id"] : [...where, "domains", i - 1], `'${key}' already names another tenant`);
        else this.tenantsByKey.set(key, tenant);
      }
    }
    (t.users ?? []).forEach((u, i) => {
      const userWhere = [...where, "users", i];
      const userId = (u.id ?? newGuid()).toLowerCase();
      this.claimDirectoryId(userId, [...userWhere, "id"]);
      const name = u.userPrincipalName.toLowerCase();
      const userDomain = name.slice(name.indexOf("@") + 1);
      if (!domains.includes(userDomain)) this.fail([...userWhere, "userPrincipalName"], `the domain '${userDomain}' is not one of the tenant's domains (${domains.join(", ")})`);
      if (this.usersByUpn.has(name)) this.fail([...userWhere, "userPrincipalName"], `duplicate user '${name}'`);
      const roles = [...(u.globalAdministrator ? [GLOBAL_ADMINISTRATOR_ROLE] : []), ...(u.directoryRoles ?? []).map((r) => r.toLowerCase())];
      const user: ResolvedUser = { id: userId, userPrincipalName: name, displayName: u.displayName ?? name.slice(0, name.indexOf("@")), givenName: u.givenName, surname: u.surname, password: u.password, directoryRoles: [...new Set(roles)] };
      this.usersByUpn.set(name, { user, tenant });
      tenant.users.push(user);
    });
    (t.groups ?? []).forEach((g, i) => {
      const groupWhere = [...where, "groups", i];
      const groupId = (g.id ?? newGuid()).toLowerCase();
      this.claimDirectoryId(groupId, [...groupWhere, "id"]);
      if (tenant.groups.some((x) => x.displayName.toLowerCase() === g.displayName.toLowerCase())) this.fail([...groupWhere, "displayName"], `duplicate group '${g.displayName}' in this tenant`);
      const memberIds: string[] = [];
      (g.members ?? []).forEach((m, j) => {
        const found = this.usersByUpn.get(m.toLowerCase());
        if (!found || found.tenant !== tenant) this.fail([...groupWhere, "members", j], `no user '${m}' in this tenant`);
        else if (!memberIds.includes(found.user.id)) memberIds.push(found.user.id);
      });
      tenant.groups.push({ id: groupId, displayName: g.displayName, memberIds });
    });
    return tenant;
  }

  private app(a: NonNullable<OrgboxEnvironment["apps"]>[number], where: Where): ResolvedApp | undefined {
    const home = this.tenantRef(a.tenant, [...where, "tenant"]);
    const appId = (a.appId ?? newGuid()).toLowerCase();
    if (FIRST_PARTY_APPS.some((f) => f.appId === appId)) this.fail([...where, "appId"], `'${appId}' is the app id of a first-party app`);
    for (const key of ["objectId", "servicePrincipalId"] as const) {
      const value = a[key];
      if (value) this.claimDirectoryId(value.toLowerCase(), [...where, key]);
    }
    const permissions: ResolvedApp["permissions"] = [];
    (a.apiPermissions ?? []).forEach((p, i) => {
      const resourceAppId = RESOURCE_ALIASES[p.resource.toLowerCase()] ?? p.resource.toLowerCase();
      const resource = FIRST_PARTY_APPS.find((f) => f.appId === resourceAppId);
      if (!resource) {
        this.fail([...where, "apiPermissions", i, "resource"], `unknown resource '${p.resource}' (use 'Dynamics CRM' or 'Microsoft Graph')`);
        return;
      }
      const scopes: { id: string; value: string }[] = [];
      (p.scopes ?? []).forEach((s, j) => {
        const scope = resource.api.oauth2PermissionScopes.find((x) => x.value.toLowerCase() === s.toLowerCase());
        if (!scope) this.fail([...where, "apiPermissions", i, "scopes", j], `${resource.displayName} has no delegated permission '${s}' (it has ${resource.api.oauth2PermissionScopes.map((x) => x.value).join(", ")})`);
        else scopes.push({ id: scope.id, value: scope.value });
      });
      permissions.push({ resourceAppId, scopes });
    });
    const consents: ResolvedConsent[] = [];
    (a.consentedTenants ?? []).forEach((c, i) => {
      const cWhere = [...where, "consentedTenants", i];
      const tenant = this.tenantRef(c.tenant, [...cWhere, "tenant"]);
      if (!tenant) return;
      if (home && tenant.id !== home.id && (a.signInAudience ?? "AzureADMyOrg") === "AzureADMyOrg") this.fail([...cWhere, "tenant"], `the app is single-tenant (signInAudience AzureADMyOrg); only its home tenant can consent. Use signInAudience: AzureADMultipleOrgs`);
      if (consents.some((x) => x.tenantId === tenant.id)) this.fail([...cWhere, "tenant"], `tenant '${c.tenant}' is listed twice`);
      const how = c.how ?? "admin";
      let userId: string | undefined;
      if (how === "user") {
        if (!c.user) this.fail([...cWhere, "user"], "how: user needs the user who consented");
        else {
          const found = this.usersByUpn.get(c.user.toLowerCase());
          if (!found || found.tenant.id !== tenant.id) this.fail([...cWhere, "user"], `no user '${c.user}' in tenant '${c.tenant}'`);
          else userId = found.user.id;
        }
      } else if (c.user) this.fail([...cWhere, "user"], "user is only for how: user");
      if (c.servicePrincipalId) {
        this.claimDirectoryId(c.servicePrincipalId.toLowerCase(), [...cWhere, "servicePrincipalId"]);
        if (home && tenant.id === home.id) this.fail([...cWhere, "servicePrincipalId"], "the home tenant's service principal id is the app's servicePrincipalId");
      }
      consents.push({ tenantId: tenant.id, how, userId, servicePrincipalId: c.servicePrincipalId?.toLowerCase() });
    });
    const assignments: ResolvedApp["assignments"] = [];
    (a.assignments ?? []).forEach((name, i) => {
      if (!home) return;
      const user = name.includes("@") ? this.usersByUpn.get(name.toLowerCase()) : undefined;
      const group = name.includes("@") ? undefined : home.groups.find((g) => g.displayName.toLowerCase() === name.toLowerCase());
      if (user && user.tenant === home) assignments.push({ principalType: "User", id: user.user.id });
      else if (group) assignments.push({ principalType: "Group", id: group.id });
      else this.fail([...where, "assignments", i], `no user or group '${name}' in the app's home tenant (give a user principal name or a group display name)`);
    });
    if (!home) return undefined;
    const date = (value: string | undefined) => (value === undefined ? undefined : Date.parse(value.length === 10 ? `${value}T23:59:59Z` : value));
    return {
      appId,
      objectId: a.objectId?.toLowerCase(),
      servicePrincipalId: a.servicePrincipalId?.toLowerCase(),
      displayName: a.displayName,
      tenantId: home.id,
      signInAudience: a.signInAudience ?? "AzureADMyOrg",
      identifierUris: a.identifierUris ?? [],
      webRedirectUris: a.redirectUris?.web ?? [],
      spaRedirectUris: a.redirectUris?.spa ?? [],
      publicClientRedirectUris: a.redirectUris?.publicClient ?? [],
      publicClient: a.publicClient ?? false,
      secrets: (a.secrets ?? []).map((s) => ({ value: s.value, keyId: s.keyId?.toLowerCase(), displayName: s.displayName, starts: s.starts === undefined ? undefined : Date.parse(s.starts), expires: date(s.expires) })),
      certificates: this.certificates(a.certificates ?? [], [...where, "certificates"]),
      permissions,
      consents,
      assignmentRequired: a.assignmentRequired ?? false,
      assignments,
      groupMembershipClaims: a.groupMembershipClaims,
      requestedAccessTokenVersion: a.accessTokenAcceptedVersion,
    };
  }

  private org(o: NonNullable<OrgboxEnvironment["orgs"]>[number], where: Where, apps: ResolvedApp[]): ResolvedOrg | undefined {
    const tenant = this.tenantRef(o.tenant, [...where, "tenant"]);
    if (!tenant) return undefined;
    // `seedDemo: true` and the demo org's name: the entry extends the demo org (DEMO.org).
    const demo = this.demoTenant !== undefined && o.name.toLowerCase() === DEMO.org.name;
    if (demo) {
      if (tenant !== this.demoTenant) this.fail([...where, "tenant"], `the demo org '${DEMO.org.name}' (seedDemo: true) belongs to ${DEMO.tenantDomain}`);
      for (const [key, value] of [["id", DEMO.org.id], ["rootBusinessUnitId", DEMO.org.rootBusinessUnitId], ["baseCurrencyId", DEMO.org.baseCurrencyId]] as const) {
        if (o[key] !== undefined && o[key].toLowerCase() !== value) this.fail([...where, key], `the demo org (seedDemo: true) has ${key} ${value}; an entry extending it cannot change it`);
      }
    }
    const org: ResolvedOrg = {
      ...(demo ? { existing: true } : {}),
      name: o.name,
      id: (demo ? DEMO.org.id : (o.id ?? newGuid())).toLowerCase(),
      tenantId: tenant.id,
      displayName: o.displayName ?? o.name,
      ...(o.hostName !== undefined ? { hostName: o.hostName.toLowerCase() } : {}),
      rootBusinessUnitId: (demo ? DEMO.org.rootBusinessUnitId : (o.rootBusinessUnitId ?? newGuid())).toLowerCase(),
      baseCurrencyId: (demo ? DEMO.org.baseCurrencyId : (o.baseCurrencyId ?? newGuid())).toLowerCase(),
      optionSets: [],
      tables: { custom: [], extensions: [], relationships: [], manyToMany: [] },
      associations: [],
      solutions: [],
      businessUnits: [],
      roles: [],
      applicationUsers: [],
      teams: [],
      users: [],
      rows: [],
    };
    /** Known primary ids per table (rows the org will have), for duplicate and lookup checks. */
    const ids = new Map<string, Map<string, string>>();
    const claim = (table: string, id: string, at: Where | string, file?: string): void => {
      let byId = ids.get(table);
      if (!byId) ids.set(table, (byId = new Map()));
      const label = typeof at === "string" ? at : formatPath(at);
      const first = byId.get(id);
      if (first) this.fail(at, `duplicate id '${id}' in table ${table} (also used at ${first})`, file);
      else byId.set(id, file && file !== this.source ? `${file} ${label}` : label);
    };
    const report = (at: Where, problem: string) => this.fail(at, problem);
    org.optionSets = resolveOptionSets(o.optionSets, [...where, "optionSets"], report);
    const tables = resolveTables(o.tables, [...where, "tables"], report, org.optionSets);
    resolveManyToMany(o.manyToMany, [...where, "manyToMany"], report, tables, org.optionSets);
    org.tables = { custom: tables.custom, extensions: tables.extensions, relationships: tables.relationships, manyToMany: tables.manyToMany };
    const customPrivileges = new Set(tables.custom.flatMap((t) => privilegesFor(t).map((p) => p.name)));
    claim("organization", org.id, [...where, "id"]);
    claim("businessunit", org.rootBusinessUnitId, [...where, "rootBusinessUnitId"]);
    claim("transactioncurrency", org.baseCurrencyId, [...where, "baseCurrencyId"]);
    if (demo) {
      claim("systemuser", DEMO.org.adminSystemUserId, "the demo admin's systemuser");
      claim("systemuser", DEMO.org.applicationUserId, "the demo app's application user");
      claim("role", DEMO.org.integrationRoleId, "the demo role orgbox Demo Integration");
    }

    const buByName = new Map<string, string>([[o.name.toLowerCase(), org.rootBusinessUnitId]]);
    const walk = (units: BusinessUnitInput[], parentId: string, at: Where): void => {
      units.forEach((unit, i) => {
        const id = (unit.id ?? newGuid()).toLowerCase();
        claim("businessunit", id, [...at, i, "id"]);
        if (buByName.has(unit.name.toLowerCase())) this.fail([...at, i, "name"], `duplicate business unit name '${unit.name}'`);
        buByName.set(unit.name.toLowerCase(), id);
        org.businessUnits.push({ id, name: unit.name, parentId });
        walk(unit.children ?? [], id, [...at, i, "children"]);
      });
    };
    walk(o.businessUnits ?? [], org.rootBusinessUnitId, [...where, "businessUnits"]);
    const bu = (name: string | undefined, at: Where): string => {
      if (name === undefined) return org.rootBusinessUnitId;
      const id = buByName.get(name.toLowerCase()) ?? (ids.get("businessunit")?.has(name.toLowerCase()) ? name.toLowerCase() : undefined);
      if (!id) this.fail(at, `no business unit '${name}' in this org`);
      return id ?? org.rootBusinessUnitId;
    };

    const roleByName = new Map<string, string>(BUILTIN_ROLE_NAMES.map((n) => [n.toLowerCase(), `${BUILTIN_ROLE}${n}`]));
    if (demo) roleByName.set(DEMO_ROLE_NAME.toLowerCase(), DEMO.org.integrationRoleId).set(DEMO.org.integrationRoleId, DEMO.org.integrationRoleId);
    (o.roles ?? []).forEach((r, i) => {
      const at = [...where, "roles", i];
      const id = (r.id ?? newGuid()).toLowerCase();
      claim("role", id, [...at, "id"]);
      if (roleByName.has(r.name.toLowerCase())) this.fail([...at, "name"], `duplicate role name '${r.name}'`);
      roleByName.set(r.name.toLowerCase(), id);
      roleByName.set(id, id);
      const privileges: { name: string; depth: Depth }[] = [];
      for (const [name, depth] of Object.entries(r.privileges)) {
        if (!PRIVILEGES.has(name) && !customPrivileges.has(name)) this.fail([...at, "privileges", name], `the privilege '${name}' does not exist${suggestPrivilege(name, customPrivileges)}`);
        else privileges.push({ name, depth });
      }
      org.roles.push({ id, name: r.name, businessUnitId: bu(r.businessUnit, [...at, "businessUnit"]), privileges });
    });
    // Solutions: read now (a missing or unreadable file fails the load); their roles can be named below.
    (o.solutions ?? []).forEach((file, i) => {
      const at = [...where, "solutions", i];
      const path = resolve(this.baseDir, file);
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(readFileSync(path));
      } catch (error) {
        this.fail(at, `cannot read the solution file ${file}: ${(error as Error).message}`);
        return;
      }
      try {
        for (const role of parseSolutionZip(bytes).roles) {
          roleByName.set(role.name.toLowerCase(), role.id);
          roleByName.set(role.id, role.id);
        }
      } catch (error) {
        this.fail(at, `${file}: ${(error as Error).message}`);
        return;
      }
      org.solutions.push({ file, bytes });
    });
    const roles = (names: string[] | undefined, at: Where): string[] =>
      (names ?? []).flatMap((name, i) => {
        const id = roleByName.get(name.toLowerCase());
        if (!id) this.fail([...at, i], `no role '${name}' in this org (known: ${[...BUILTIN_ROLE_NAMES, ...(demo ? [DEMO_ROLE_NAME] : []), ...org.roles.map((r) => r.name)].join(", ")})`);
        return id ? [id] : [];
      });

    /** Owners by user principal name or client id. */
    const owners = new Map<string, { id: string; businessUnitId: string }>();
    (o.applicationUsers ?? []).forEach((u, i) => {
      const at = [...where, "applicationUsers", i];
      const app = apps.find((a) => a.appId === u.app.toLowerCase() || a.displayName.toLowerCase() === u.app.toLowerCase());
      if (!app) {
        this.fail([...at, "app"], `no app '${u.app}' in apps`);
        return;
      }
      if (app.tenantId !== tenant.id && !app.consents.some((c) => c.tenantId === tenant.id)) {
        this.fail([...at, "app"], `the app '${app.displayName}' has no service principal in the org's tenant: add { tenant: ${tenant.defaultDomain} } to its consentedTenants`);
      }
      const id = (u.id ?? newGuid()).toLowerCase();
      claim("systemuser", id, [...at, "id"]);
      const businessUnitId = bu(u.businessUnit, [...at, "businessUnit"]);
      if (org.applicationUsers.some((x) => x.appId === app.appId)) this.fail([...at, "app"], `the app '${app.displayName}' already has an application user in this org`);
      org.applicationUsers.push({ id, appId: app.appId, businessUnitId, fullName: u.fullName, roleIds: roles(u.roles, [...at, "roles"]) });
      owners.set(app.appId, { id, businessUnitId });
    });
    (o.users ?? []).forEach((u, i) => {
      const at = [...where, "users", i];
      const found = this.usersByUpn.get(u.user.toLowerCase());
      if (!found || found.tenant.id !== tenant.id) {
        this.fail([...at, "user"], `no user '${u.user}' in the org's tenant (${tenant.defaultDomain})`);
        return;
      }
      const id = (u.id ?? newGuid()).toLowerCase();
      claim("systemuser", id, [...at, "id"]);
      if (org.users.some((x) => x.directoryUserId === found.user.id)) this.fail([...at, "user"], `'${u.user}' is listed twice`);
      const businessUnitId = bu(u.businessUnit, [...at, "businessUnit"]);
      org.users.push({
        id,
        directoryUserId: found.user.id,
        userPrincipalName: found.user.userPrincipalName,
        firstname: u.firstname ?? found.user.givenName,
        lastname: u.lastname ?? found.user.surname ?? found.user.displayName,
        businessUnitId,
        roleIds: roles(u.roles, [...at, "roles"]),
      });
      owners.set(found.user.userPrincipalName, { id, businessUnitId });
    });
    (o.teams ?? []).forEach((t, i) => {
      const at = [...where, "teams", i];
      const id = (t.id ?? newGuid()).toLowerCase();
      claim("team", id, [...at, "id"]);
      if (org.teams.some((x) => x.name.toLowerCase() === t.name.toLowerCase())) this.fail([...at, "name"], `duplicate team name '${t.name}'`);
      const memberIds = (t.members ?? []).flatMap((m, j) => {
        const member = owners.get(m.toLowerCase());
        if (!member) this.fail([...at, "members", j], `'${m}' is neither a user principal name in users nor a client id in applicationUsers`);
        return member ? [member.id] : [];
      });
      org.teams.push({ id, name: t.name, businessUnitId: bu(t.businessUnit, [...at, "businessUnit"]), memberIds, roleIds: roles(t.roles, [...at, "roles"]) });
    });
    let defaultOwner = org.users[0] ? { id: org.users[0].id, businessUnitId: org.users[0].businessUnitId } : undefined;
    if (o.defaultOwner !== undefined) {
      defaultOwner = owners.get(o.defaultOwner.toLowerCase());
      if (!defaultOwner) this.fail([...where, "defaultOwner"], `'${o.defaultOwner}' is neither a user principal name in users nor a client id in applicationUsers`);
    }
    this.data(o, where, org, tables, claim, ids, owners, defaultOwner);
    return org;
  }

  /** Reads data rows (inline and files), then resolves `@ref` lookups and types values. */
  private data(
    o: NonNullable<OrgboxEnvironment["orgs"]>[number],
    where: Where,
    org: ResolvedOrg,
    resolved: ResolvedTables,
    claim: (table: string, id: string, at: Where | string, file?: string) => void,
    ids: Map<string, Map<string, string>>,
    owners: Map<string, { id: string; businessUnitId: string }>,
    defaultOwner: { id: string; businessUnitId: string } | undefined,
  ): void {
    interface Pending {
      entity: EntityMetadata;
      cells: Record<string, Cell>;
      file: string;
      at: (column?: string) => string;
      row: ResolvedRow;
    }
    const tables: ReadonlyMap<string, EntityMetadata> = resolved.byName;
    const pending: Pending[] = [];
    const keys = new Map<string, { table: string; id: string; at: string }>();
    for (const [table, spec] of Object.entries(o.data ?? {})) {
      const tableWhere = [...where, "data", table];
      const entity = tables.get(table);
      if (!entity) {
        const bySet = [...tables.values()].find((t) => t.entitySetName === table);
        this.fail(tableWhere, `unknown table '${table}'${bySet ? ` (did you mean '${bySet.logicalName}'? data is keyed by logical name)` : ""}`);
        continue;
      }
      if (entity.isIntersect) {
        const relationship = [...resolved.parsed.values()].find((r) => r.kind === "ManyToMany" && r.intersectEntityName === entity.logicalName);
        this.fail(tableWhere, `${table} is the intersect table of an N:N relationship: link rows under associations.${relationship?.schemaName ?? table}`);
        continue;
      }
      let rows: { cells: Record<string, Cell>; file: string; at: (column?: string) => string }[];
      if (Array.isArray(spec)) {
        rows = spec.map((cells, i) => ({ cells, file: this.source, at: (column?: string) => formatPath(column === undefined ? [...tableWhere, i] : [...tableWhere, i, column]) }));
      } else {
        const loaded = this.readDataFile(spec.file, [...tableWhere, "file"]);
        if (!loaded) continue;
        rows = loaded;
      }
      for (const { cells, file, at } of rows) {
        const row: ResolvedRow = { table, values: {}, ownerId: undefined };
        const pk = entity.primaryIdAttribute;
        const given = cells[pk];
        let id: string;
        if (given === undefined || given === null || given === "") id = newGuid();
        else if (typeof given !== "string" || !/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(given)) {
          this.fail(at(pk), "must be a GUID", file);
          id = newGuid();
        } else id = given.toLowerCase();
        claim(table, id, at(pk), file);
        row.values[pk] = id;
        const key = cells["@key"];
        if (key !== undefined && key !== null && key !== "") {
          const name = String(key);
          const first = keys.get(name);
          if (first) this.fail(at("@key"), `duplicate key '${name}' (also used at ${first.at})`, file);
          else keys.set(name, { table, id, at: file === this.source ? at() : `${file} ${at()}` });
        }
        const owner = cells["@owner"];
        if (owner !== undefined && owner !== null && owner !== "") {
          const found = owners.get(String(owner).toLowerCase());
          if (!found) this.fail(at("@owner"), `'${String(owner)}' is neither a user principal name in users nor a client id in applicationUsers`, file);
          else row.ownerId = found.id;
          if (entity.ownershipType !== "UserOwned") this.fail(at("@owner"), `table ${table} is not user-owned`, file);
        } else if (entity.ownershipType === "UserOwned" && cells.ownerid === undefined) row.ownerId = defaultOwner?.id;
        org.rows.push(row);
        pending.push({ entity, cells, file, at, row });
      }
    }
    const byAlternateKey = this.alternateKeyIndex(pending);
    const tableOfId = (id: string): string | undefined => {
      for (const [table, byId] of ids) if (byId.has(id)) return table;
      return undefined;
    };
    for (const { entity, cells, file, at, row } of pending) {
      for (const [column, cell] of Object.entries(cells)) {
        if (column === "@key" || column === "@owner" || column === entity.primaryIdAttribute) continue;
        const attribute = entity.attributes.find((a) => a.logicalName === column);
        if (!attribute) {
          this.fail(at(column), `table ${entity.logicalName} has no column '${column}'${column.startsWith("_") && column.endsWith("_value") ? ` (write the lookup as '${column.slice(1, -6)}')` : ""}`, file);
          continue;
        }
        if (cell === null || cell === "") continue;
        if (typeof cell === "string" && cell.startsWith(REF_PREFIX)) {
          const name = cell.slice(REF_PREFIX.length);
          if (!isLookupType(attribute.type)) {
            this.fail(at(column), `'${cell}': only lookup columns take @ref values (${column} is ${attribute.type})`, file);
            continue;
          }
          const byKey = keys.has(name) ? null : ALTERNATE_REF_RE.exec(name);
          const target = byKey ? this.findByAlternateKey(tables, byAlternateKey, byKey[1] as string, byKey[2] as string, (problem) => this.fail(at(column), problem, file)) : keys.get(name);
          if (!target) {
            if (!byKey) this.fail(at(column), `lookup to a missing row: no row has @key '${name}'`, file);
            continue;
          }
          if (!(attribute.targets ?? []).includes(target.table)) {
            this.fail(at(column), `'${cell}' is a ${target.table} row; ${column} points to ${(attribute.targets ?? []).join(" or ")}`, file);
            continue;
          }
          row.values[column] = target.id;
          this.setLookupType(entity, attribute, target.table, cells, row);
          continue;
        }
        const value = this.typed(attribute, cell, at(column), file);
        if (value === undefined) continue;
        if (isLookupType(attribute.type) && typeof value === "string") {
          const table = tableOfId(value);
          const targets = attribute.targets ?? [];
          if (!table || !targets.includes(table)) {
            this.fail(at(column), `lookup to a missing row: no ${targets.join(" or ")} row with id '${value}' in this org`, file);
            continue;
          }
          this.setLookupType(entity, attribute, table, cells, row);
        }
        row.values[column] = value;
      }
    }

    // N:N links: each side a row of the file (by @key, alternate key or id) or of the org (by id).
    const rowRef = (cell: string, at: string, file: string): { table: string; id: string } | undefined => {
      if (cell.startsWith(REF_PREFIX)) {
        const name = cell.slice(REF_PREFIX.length);
        const byKey = keys.has(name) ? null : ALTERNATE_REF_RE.exec(name);
        const target = byKey ? this.findByAlternateKey(tables, byAlternateKey, byKey[1] as string, byKey[2] as string, (problem) => this.fail(at, problem, file)) : keys.get(name);
        if (!target && !byKey) this.fail(at, `link to a missing row: no row has @key '${name}'`, file);
        return target;
      }
      const id = cell.toLowerCase();
      const table = tableOfId(id);
      if (!table) this.fail(at, `link to a missing row: no row with id '${cell}' in this org`, file);
      return table ? { table, id } : undefined;
    };
    for (const [schemaName, pairs] of Object.entries(o.associations ?? {})) {
      const at = [...where, "associations", schemaName];
      const relationship = resolved.parsed.get(schemaName.toLowerCase());
      if (!relationship || relationship.kind !== "ManyToMany") {
        this.fail(at, `'${schemaName}' is not an N:N relationship of manyToMany`);
        continue;
      }
      const seen = new Map<string, string>();
      pairs.forEach((pair, i) => {
        const ends = [relationship.entity1LogicalName, relationship.entity2LogicalName];
        const ids: string[] = [];
        pair.forEach((cell, side) => {
          const place = formatPath([...at, i, side]);
          const target = rowRef(cell, place, this.source);
          if (!target) return;
          if (target.table !== ends[side]) this.fail(place, `'${cell}' is a ${target.table} row; side ${side + 1} of ${relationship.schemaName} is ${ends[side] as string}`);
          else ids.push(target.id);
        });
        if (ids.length !== 2) return;
        const [one, two] = ids as [string, string];
        // A self-referential relationship with one navigation property links both ways: (a, b) is (b, a).
        const symmetric = ends[0] === ends[1] && relationship.entity1NavigationPropertyName === relationship.entity2NavigationPropertyName;
        const pairKey = !symmetric || one < two ? `${one}|${two}` : `${two}|${one}`;
        const first = seen.get(pairKey);
        if (first) {
          this.fail([...at, i], `the same two rows are linked twice (also at ${first})`);
          return;
        }
        seen.set(pairKey, formatPath([...at, i]));
        org.associations.push({ intersect: relationship.intersectEntityName, values: { [relationship.entity1IntersectAttribute]: one, [relationship.entity2IntersectAttribute]: two } });
      });
    }
  }

  /**
   * Rows by the values of their tables' alternate keys: table → key name → normalized values
   * (`a-100` for `'A-100'`; text compares case-insensitively, as Dataverse's keys do). Reports two rows
   * sharing a key's values, which the key's unique index would refuse.
   */
  private alternateKeyIndex(rows: { entity: EntityMetadata; cells: Record<string, Cell>; row: ResolvedRow; file: string; at: (column?: string) => string }[]): Map<string, Map<string, Map<string, { id: string }>>> {
    const index = new Map<string, Map<string, Map<string, { id: string; at: string }>>>();
    for (const { entity, cells, row, file, at } of rows) {
      for (const key of entity.keys ?? []) {
        const values = key.keyAttributes.map((column) => cells[column]);
        if (values.some((v) => v === undefined || v === null || v === "")) continue;
        const tuple = values.map((v) => String(v).toLowerCase()).join("\u0000");
        let byKey = index.get(entity.logicalName);
        if (!byKey) index.set(entity.logicalName, (byKey = new Map()));
        let byValues = byKey.get(key.logicalName);
        if (!byValues) byKey.set(key.logicalName, (byValues = new Map()));
        const first = byValues.get(tuple);
        const text = key.keyAttributes.map((column, i) => `${column}=${JSON.stringify(values[i])}`).join(", ");
        if (first) this.fail(at(), `duplicate values (${text}) of alternate key ${key.logicalName} of table ${entity.logicalName} (also used at ${first.at})`, file);
        else byValues.set(tuple, { id: row.values[entity.primaryIdAttribute] as string, at: file === this.source ? at() : `${file} ${at()}` });
      }
    }
    return index;
  }

  /** The row `table(key='value',…)` names through one of the table's alternate keys; reports why when there is none. */
  private findByAlternateKey(tables: ReadonlyMap<string, EntityMetadata>, index: Map<string, Map<string, Map<string, { id: string }>>>, table: string, keyText: string, fail: (problem: string) => void): { table: string; id: string } | undefined {
    const entity = tables.get(table);
    if (!entity) {
      fail(`unknown table '${table}' in an alternate-key reference (write the table's logical name)`);
      return undefined;
    }
    let parsed: ReturnType<typeof parseEntityKey>;
    try {
      parsed = parseEntityKey(keyText);
    } catch {
      parsed = { kind: "alternate", values: [] };
    }
    if (parsed.kind === "id" || parsed.values.length === 0) {
      fail(`'${keyText}' is not an alternate key reference: write ${table}(column='value') or, for a key of several columns, ${table}(a='x',b=2)`);
      return undefined;
    }
    const given = new Map(parsed.values.map((v) => [/^_(.+)_value$/.exec(v.name)?.[1] ?? v.name, v.value]));
    const key = (entity.keys ?? []).find((k) => k.keyAttributes.length === given.size && k.keyAttributes.every((c) => given.has(c)));
    if (!key) {
      const defined = (entity.keys ?? []).map((k) => `(${k.keyAttributes.join(", ")})`).join(", ") || "none; define one under tables." + table + ".keys";
      fail(`(${[...given.keys()].join(", ")}) is not an alternate key of table ${table}; its keys: ${defined}`);
      return undefined;
    }
    const tuple = key.keyAttributes.map((c) => String(given.get(c)).toLowerCase()).join("\u0000");
    const found = index.get(table)?.get(key.logicalName)?.get(tuple);
    if (!found) {
      fail(`lookup to a missing row: no ${table} row has ${key.keyAttributes.map((c) => `${c}=${JSON.stringify(given.get(c))}`).join(", ")}`);
      return undefined;
    }
    return { table, id: found.id };
  }

  private setLookupType(entity: EntityMetadata, attribute: AttributeMetadata, table: string, cells: Record<string, Cell>, row: ResolvedRow): void {
    const typeColumn = `${attribute.logicalName}type`;
    if ((attribute.targets ?? []).length > 1 && entity.attributes.some((a) => a.logicalName === typeColumn) && (cells[typeColumn] === undefined || cells[typeColumn] === "")) row.values[typeColumn] = table;
  }

  /** A cell converted to the column's type; undefined (after a reported problem) when it does not fit. */
  private typed(attribute: AttributeMetadata, cell: Exclude<Cell, null>, at: string, file: string): unknown {
    const bad = (expected: string): undefined => {
      this.fail(at, `expected ${expected}, got ${JSON.stringify(cell)}`, file);
      return undefined;
    };
    switch (attribute.type) {
      case "Integer":
      case "BigInt":
      case "Picklist":
      case "State":
      case "Status": {
        const n = typeof cell === "string" ? Number(cell.trim()) : cell;
        if (typeof n !== "number" || !Number.isInteger(n)) return bad("an integer");
        if (attribute.options && !attribute.options.some((opt) => opt.value === n)) {
          this.fail(at, `${n} is not an option of ${attribute.logicalName} (${attribute.options.map((opt) => `${opt.value} ${opt.label}`).join(", ")})`, file);
          return undefined;
        }
        return n;
      }
      case "MultiSelectPicklist": {
        const values = String(cell).split(",").map((v) => v.trim()).filter((v) => v !== "").map(Number);
        if (values.some((n) => !Number.isInteger(n))) return bad("option values separated by commas (\"1,3\")");
        const unknown = values.filter((n) => !(attribute.options ?? []).some((opt) => opt.value === n));
        if (unknown.length > 0) {
          this.fail(at, `${unknown.join(", ")} ${unknown.length === 1 ? "is not an option" : "are not options"} of ${attribute.logicalName} (${(attribute.options ?? []).map((opt) => `${opt.value} ${opt.label}`).join(", ")})`, file);
          return undefined;
        }
        return [...new Set(values)].sort((a, b) => a - b).join(",");
      }
      case "Decimal":
      case "Double":
      case "Money": {
        const n = typeof cell === "string" ? Number(cell.trim()) : cell;
        return typeof n === "number" && Number.isFinite(n) ? n : bad("a number");
      }
      case "Boolean": {
        if (typeof cell === "boolean") return cell;
        const s = String(cell).trim().toLowerCase();
        if (["true", "1", "yes"].includes(s)) return true;
        if (["false", "0", "no"].includes(s)) return false;
        return bad("true or false");
      }
      case "Uniqueidentifier":
      case "Lookup":
      case "Customer":
      case "Owner":
        return typeof cell === "string" && /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(cell) ? cell.toLowerCase() : bad(`a GUID or ${REF_PREFIX}KEY`);
      case "DateTime":
        return typeof cell === "string" && !Number.isNaN(Date.parse(cell)) ? cell : bad("an ISO 8601 date or date-time");
      default: {
        const s = typeof cell === "string" ? cell : String(cell);
        if (attribute.maxLength !== undefined && s.length > attribute.maxLength) {
          this.fail(at, `${s.length} characters; ${attribute.logicalName} takes at most ${attribute.maxLength}`, file);
          return undefined;
        }
        return s;
      }
    }
  }

  /** Reads certificate credentials: a PEM file (relative to the environment file) or inline PEM; private keys are refused. */
  private certificates(list: NonNullable<NonNullable<OrgboxEnvironment["apps"]>[number]["certificates"]>, where: Where): ResolvedApp["certificates"] {
    const out: ResolvedApp["certificates"] = [];
    list.forEach((c, i) => {
      const at = [...where, i];
      if ((c.path === undefined) === (c.pem === undefined)) {
        this.fail(at, "give either path (a PEM file) or pem (inline PEM text)");
        return;
      }
      let pem = c.pem ?? "";
      let label = "pem";
      if (c.path !== undefined) {
        const path = resolve(this.baseDir, c.path);
        label = `certificate file '${relative(process.cwd(), path) || c.path}'`;
        try {
          pem = readFileSync(path, "utf8");
        } catch (error) {
          this.fail([...at, "path"], `cannot read certificate file '${c.path}': ${(error as Error).message}`);
          return;
        }
      }
      const field = c.path !== undefined ? "path" : "pem";
      if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
        this.fail([...at, field], `${label} contains a private key; give only the public certificate (-----BEGIN CERTIFICATE-----) and keep the key with the client`);
        return;
      }
      const parsed = parseCertificateCredential(pem);
      if (typeof parsed === "string") {
        this.fail([...at, field], `${label}: ${parsed}`);
        return;
      }
      out.push({ pem, keyId: c.keyId?.toLowerCase(), displayName: c.displayName });
    });
    return out;
  }

  /** Rows of a `file:` reference: CSV (header line) or a JSON array of objects. */
  private readDataFile(name: string, where: Where): { cells: Record<string, Cell>; file: string; at: (column?: string) => string }[] | undefined {
    const path = resolve(this.baseDir, name);
    const label = relative(process.cwd(), path) || name;
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (error) {
      this.fail(where, `cannot read data file '${name}': ${(error as Error).message}`);
      return undefined;
    }
    const ext = extname(path).toLowerCase();
    if (ext === ".csv") {
      try {
        return parseCsv(text).map((r) => ({ cells: r.values, file: label, at: (column?: string) => `line ${r.line}${column === undefined ? "" : `, column ${column}`}` }));
      } catch (error) {
        this.fail("(csv)", (error as Error).message, label);
        return undefined;
      }
    }
    if (ext === ".json") {
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch (error) {
        this.fail("(top level)", `not valid JSON: ${(error as Error).message}`, label);
        return undefined;
      }
      if (!Array.isArray(data)) {
        this.fail("(top level)", "must be an array of row objects", label);
        return undefined;
      }
      const rows: { cells: Record<string, Cell>; file: string; at: (column?: string) => string }[] = [];
      data.forEach((item: unknown, i) => {
        if (typeof item !== "object" || item === null || Array.isArray(item)) {
          this.fail(`[${i}]`, "must be an object", label);
          return;
        }
        const cells: Record<string, Cell> = {};
        for (const [k, v] of Object.entries(item)) {
          if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") cells[k] = v;
          else this.fail(`[${i}].${k}`, "must be a string, number, boolean or null", label);
        }
        rows.push({ cells, file: label, at: (column?: string) => (column === undefined ? `[${i}]` : `[${i}].${column}`) });
      });
      return rows;
    }
    this.fail(where, `data file '${name}' must be .csv or .json`);
    return undefined;
  }
}

/** A hint for an unknown privilege name: a case slip, or a per-table name of a table that shares privileges (`prvReadTask` → `prvReadActivity`). */
function suggestPrivilege(name: string, custom: ReadonlySet<string>): string {
  const lower = name.toLowerCase();
  const shared = STANDARD_TABLES.flatMap((t) => privilegesFor(t).map((p) => ({ perTable: `prv${p.verb}${t.schemaName}`.toLowerCase(), name: p.name })));
  const close = [...PRIVILEGES, ...custom].find((p) => p.toLowerCase() === lower) ?? shared.find((s) => s.perTable === lower)?.name;
  return close ? ` (did you mean '${close}'?)` : "";
}
