/**
 * `orgbox export`: the current state of a store written back as an environment
 * file (see `schema.ts`) that validates against the schema and, applied to an
 * empty store, reproduces tenants, users, apps with their secrets' key ids and
 * expiry, consent, orgs, business units, roles with privileges and depths,
 * application and interactive users with their roles, and the rows of data tables.
 *
 * Two things cannot be read back, because orgbox stores them as hashes: user
 * passwords (scrypt) and client secret values (SHA-256). They are written as
 * {@link PASSWORD_PLACEHOLDER} and {@link SECRET_PLACEHOLDER}, with a comment in
 * YAML and a warning; put the real values in before loading the file if clients
 * need them. Whatever the environment format cannot express (certificate
 * credentials, teams, sharing, custom tables, disabled accounts, …) is left out
 * with a warning naming it, so the written file always loads.
 */
import { Document, isScalar } from "yaml";
import { isLookupType, STANDARD_TABLES, widestDepth, type DataverseService, type Depth, type EntityMetadata, type Org, type OrgMetadata, type Row } from "../dataverse/index.ts";
import { FIRST_PARTY_APPS, FIRST_PARTY_TENANT_ID, GLOBAL_ADMINISTRATOR_ROLE, type IdentityService } from "../identity/index.ts";
import { DEFAULT_APP_ROLE_ID, type Application, type Group, type ServicePrincipal, type Tenant, type User } from "../identity/index.ts";
import { BUILTIN_ROLE_NAMES } from "./load.ts";
import { manyToManyToEnvironment, optionSetsToEnvironment, tablesToEnvironment } from "./tables.ts";
import type { AppInput, BusinessUnitInput, OrgboxEnvironment, OrgInput, RowInput, TenantInput } from "./schema.ts";

/** Written instead of a user's password (stored as an scrypt hash, so it cannot be exported). */
export const PASSWORD_PLACEHOLDER = "orgbox-export:password-not-exported";
/** Written instead of a client secret's value (stored as a SHA-256 hash, so it cannot be exported). */
export const SECRET_PLACEHOLDER = "orgbox-export:secret-not-exported";

/** The result of {@link exportEnvironment}. */
export interface ExportedEnvironment {
  /** The environment document (plain data, ready for YAML or JSON). */
  environment: OrgboxEnvironment;
  /** What was left out or changed, one sentence each. */
  warnings: string[];
  /** Paths inside {@link environment} of placeholder values, each with the comment written beside it in YAML. */
  placeholders: { path: (string | number)[]; comment: string }[];
}

/** Options of {@link exportEnvironment}. */
export interface ExportOptions {
  /** Rows read per SQL statement when scanning a table (default 500). */
  batchSize?: number;
}

/**
 * Tables of the org model itself: exported through the org's own keys, never as data rows. Solutions
 * (publisher, solution, solutioncomponent, importjob) are not exported: a solution zip carries them.
 */
const SYSTEM_TABLES = new Set(["organization", "transactioncurrency", "businessunit", "team", "systemuser", "role", "privilege", "roleprivileges", "systemuserroles", "teammembership", "teamroles", "principalobjectaccess", "publisher", "solution", "solutioncomponent", "importjob", "asyncoperation"]);
const STANDARD_NAMES = new Set(STANDARD_TABLES.map((t) => t.logicalName));
/** Platform columns kept on export (the loader writes them as given); `versionnumber` is always new. */
const KEPT_PLATFORM_COLUMNS = new Set(["createdon", "modifiedon", "createdby", "modifiedby"]);
const OWNER_COLUMNS = ["ownerid", "owneridtype", "owninguser", "owningteam", "owningbusinessunit"];

/**
 * Reads the whole state through the services' list methods and builds an
 * environment document. Reads only; tables are scanned in primary-key order in
 * SQL batches of `batchSize` rows.
 */
export async function exportEnvironment(identity: IdentityService, dataverse: DataverseService, options: ExportOptions = {}): Promise<ExportedEnvironment> {
  const exporter = new Exporter(identity, dataverse, options.batchSize ?? 500);
  return exporter.run();
}

/**
 * Serializes an export as YAML (a header listing the warnings, a comment beside
 * every placeholder) or as JSON (two-space indent; warnings are the caller's to print).
 */
export function formatEnvironment(exported: ExportedEnvironment, format: "yaml" | "json"): string {
  if (format === "json") return `${JSON.stringify(exported.environment, null, 2)}\n`;
  const doc = new Document(exported.environment);
  const header = [
    " yaml-language-server: $schema=https://github.com/orgbox/orgbox/schema/orgbox-environment.schema.json",
    "",
    " Written by `orgbox export`. Load it with `orgbox start --config FILE`.",
    ` Passwords and client secrets are stored as hashes and cannot be exported: they read`,
    ` '${PASSWORD_PLACEHOLDER}' and '${SECRET_PLACEHOLDER}'. Replace them before use.`,
  ];
  if (exported.warnings.length > 0) header.push("", " Not exported:", ...exported.warnings.map((w) => `   - ${w}`));
  doc.commentBefore = header.join("\n");
  for (const { path, comment } of exported.placeholders) {
    const node = doc.getIn(path, true);
    if (isScalar(node)) node.comment = ` ${comment}`;
  }
  return doc.toString({ lineWidth: 0 });
}

const isoDate = (ms: number): string => new Date(ms).toISOString().replace(/\.000Z$/, "Z");
const str = (value: unknown): string => String(value);

class Exporter {
  private readonly identity: IdentityService;
  private readonly dataverse: DataverseService;
  private readonly batchSize: number;
  private readonly warnings: string[] = [];
  private readonly placeholders: ExportedEnvironment["placeholders"] = [];
  /** Directory users by object id, across exported tenants. */
  private readonly users = new Map<string, User>();
  /** Groups by object id, across exported tenants. */
  private readonly groups = new Map<string, Group>();
  /** App ids of exported apps, with the tenants where they have a service principal. */
  private readonly exportedApps = new Map<string, Set<string>>();

  constructor(identity: IdentityService, dataverse: DataverseService, batchSize: number) {
    this.identity = identity;
    this.dataverse = dataverse;
    this.batchSize = batchSize;
  }

  private warn(message: string): void {
    this.warnings.push(message);
  }

  async run(): Promise<ExportedEnvironment> {
    const allTenants = (await this.identity.listTenants()).filter((t) => t.id !== FIRST_PARTY_TENANT_ID);
    const tenants: TenantInput[] = [];
    for (const [i, tenant] of allTenants.entries()) tenants.push(await this.tenant(tenant, i));
    const apps: AppInput[] = [];
    for (const tenant of allTenants) {
      for (const app of await this.identity.listApplications(tenant.id)) {
        if (FIRST_PARTY_APPS.some((f) => f.appId === app.appId)) continue;
        apps.push(await this.app(app, tenant, allTenants, apps.length));
      }
    }
    const orgs: OrgInput[] = [];
    for (const org of await this.dataverse.listOrgs()) {
      const tenant = allTenants.find((t) => t.id === org.tenantId);
      if (!tenant) {
        this.warn(`org '${org.name}': its tenant ${org.tenantId} does not exist; the org was left out`);
        continue;
      }
      orgs.push(await this.org(org, tenant));
    }
    const environment: OrgboxEnvironment = { seedDemo: false, tenants, apps, orgs };
    return { environment, warnings: this.warnings, placeholders: this.placeholders };
  }

  private async tenant(tenant: Tenant, index: number): Promise<TenantInput> {
    const users: NonNullable<TenantInput["users"]> = [];
    for (const user of await this.identity.listUsers(tenant.id)) {
      this.users.set(user.id, user);
      if (!user.accountEnabled) this.warn(`user ${user.userPrincipalName}: sign-in is blocked (accountEnabled false); the environment format has no such setting, so it loads enabled`);
      const directoryRoles = user.directoryRoles.filter((r) => r !== GLOBAL_ADMINISTRATOR_ROLE);
      this.placeholders.push({ path: ["tenants", index, "users", users.length, "password"], comment: "not exported (stored as a hash): replace with the password" });
      users.push({
        id: user.id,
        userPrincipalName: user.userPrincipalName,
        displayName: user.displayName,
        ...(user.givenName !== null ? { givenName: user.givenName } : {}),
        ...(user.surname !== null ? { surname: user.surname } : {}),
        password: PASSWORD_PLACEHOLDER,
        ...(user.directoryRoles.includes(GLOBAL_ADMINISTRATOR_ROLE) ? { globalAdministrator: true } : {}),
        ...(directoryRoles.length > 0 ? { directoryRoles } : {}),
      });
    }
    const groups: NonNullable<TenantInput["groups"]> = [];
    for (const group of await this.identity.listGroups(tenant.id)) {
      this.groups.set(group.id, group);
      const members = group.members.map((id) => this.users.get(id)?.userPrincipalName).filter((upn) => upn !== undefined).sort();
      groups.push({ id: group.id, displayName: group.displayName, ...(members.length > 0 ? { members } : {}) });
    }
    const domains = [tenant.defaultDomain, ...tenant.domains.filter((d) => d !== tenant.defaultDomain)];
    return { id: tenant.id, displayName: tenant.displayName, domains, ...(users.length > 0 ? { users } : {}), ...(groups.length > 0 ? { groups } : {}) };
  }

  private async app(app: Application, home: Tenant, tenants: Tenant[], index: number): Promise<AppInput> {
    const where = `app '${app.displayName}' (${app.appId})`;
    const secrets: NonNullable<AppInput["secrets"]> = [];
    for (const credential of await this.identity.listPasswordCredentials(app.id)) {
      this.placeholders.push({ path: ["apps", index, "secrets", secrets.length, "value"], comment: `not exported (stored as a hash; it starts with '${credential.hint}'): replace with the secret` });
      secrets.push({ value: SECRET_PLACEHOLDER, keyId: credential.keyId, ...(credential.displayName !== null ? { displayName: credential.displayName } : {}), starts: isoDate(credential.startDateTime), expires: isoDate(credential.endDateTime) });
    }
    // Certificates are public: written inline as PEM so the file loads without the original .pem files.
    const certificates: NonNullable<AppInput["certificates"]> = (await this.identity.listKeyCredentials(app.appId)).map((c) => ({
      pem: `-----BEGIN CERTIFICATE-----\n${(c.certificateB64.match(/.{1,64}/g) ?? []).join("\n")}\n-----END CERTIFICATE-----\n`,
      keyId: c.keyId,
      ...(c.displayName !== null ? { displayName: c.displayName } : {}),
    }));

    /** Delegated scope values asked of each first-party resource. */
    const asked = new Map<string, Set<string>>();
    const apiPermissions: NonNullable<AppInput["apiPermissions"]> = [];
    for (const access of app.requiredResourceAccess) {
      const resource = FIRST_PARTY_APPS.find((f) => f.appId === access.resourceAppId);
      if (!resource) {
        this.warn(`${where}: permissions on resource ${access.resourceAppId} (only first-party resources can be written)`);
        continue;
      }
      const scopes: string[] = [];
      for (const item of access.resourceAccess) {
        const scope = item.type === "Scope" ? resource.api.oauth2PermissionScopes.find((s) => s.id === item.id) : undefined;
        if (scope) scopes.push(scope.value);
        else this.warn(`${where}: ${item.type === "Role" ? "application permission" : "permission"} ${item.id} of ${resource.displayName} (only delegated permissions can be written)`);
      }
      asked.set(resource.appId, new Set(scopes));
      apiPermissions.push({ resource: resource.displayName, scopes });
    }

    const consentedTenants: NonNullable<AppInput["consentedTenants"]> = [];
    let homeSp: ServicePrincipal | undefined;
    const present = new Set<string>();
    for (const tenant of tenants) {
      const principals = await this.identity.listServicePrincipals(tenant.id);
      const sp = principals.find((p) => p.appId === app.appId);
      if (!sp) continue;
      present.add(tenant.id);
      const isHome = tenant.id === home.id;
      if (isHome) homeSp = sp;
      else if (sp.appRoleAssignmentRequired) this.warn(`${where}: in tenant ${tenant.defaultDomain} assignment is required; the environment format holds it for the home tenant only`);
      const grants = (await this.identity.listPermissionGrants(tenant.id)).filter((g) => g.clientId === sp.id);
      for (const grant of grants) {
        const resourceAppId = principals.find((p) => p.id === grant.resourceId)?.appId ?? grant.resourceId;
        const granted = grant.scope.split(/\s+/).filter(Boolean).sort().join(" ");
        const expected = [...(asked.get(resourceAppId) ?? [])].sort().join(" ");
        if (granted !== expected) this.warn(`${where}: in tenant ${tenant.defaultDomain} the grant on ${resourceAppId} is '${granted}', the app asks '${expected}'; loading grants what the app asks`);
      }
      if (isHome && grants.length === 0) continue;
      const consent: NonNullable<AppInput["consentedTenants"]>[number] = { tenant: tenant.defaultDomain };
      const principalGrants = grants.filter((g) => g.consentType === "Principal");
      if (grants.some((g) => g.consentType === "AllPrincipals")) {
        consent.how = "admin";
        if (principalGrants.length > 0) this.warn(`${where}: in tenant ${tenant.defaultDomain}, ${principalGrants.length} per-user grant(s) beside the admin consent were left out`);
      } else if (principalGrants.length > 0) {
        const users = [...new Set(principalGrants.map((g) => g.principalId ?? ""))].map((id) => this.users.get(id));
        const first = users[0];
        if (first) {
          consent.how = "user";
          consent.user = first.userPrincipalName;
        }
        if (users.length > 1) this.warn(`${where}: in tenant ${tenant.defaultDomain}, consent of ${users.length} users; the environment format holds one, ${first?.userPrincipalName ?? "?"} was kept`);
      } else {
        consent.how = "admin";
        if (apiPermissions.some((p) => (p.scopes ?? []).length > 0)) this.warn(`${where}: tenant ${tenant.defaultDomain} has the app's service principal but no delegated grant; loading grants the app's delegated permissions there`);
      }
      if (!isHome) consent.servicePrincipalId = sp.id;
      consentedTenants.push(consent);
    }
    this.exportedApps.set(app.appId, present);
    const assignments = homeSp ? await this.assignments(homeSp, where) : [];

    const redirectUris = {
      ...(app.web.redirectUris.length > 0 ? { web: app.web.redirectUris } : {}),
      ...(app.spa.redirectUris.length > 0 ? { spa: app.spa.redirectUris } : {}),
      ...(app.publicClient.redirectUris.length > 0 ? { publicClient: app.publicClient.redirectUris } : {}),
    };
    return {
      appId: app.appId,
      objectId: app.id,
      ...(homeSp ? { servicePrincipalId: homeSp.id } : {}),
      displayName: app.displayName,
      tenant: home.defaultDomain,
      signInAudience: app.signInAudience,
      ...(app.identifierUris.length > 0 ? { identifierUris: app.identifierUris } : {}),
      ...(Object.keys(redirectUris).length > 0 ? { redirectUris } : {}),
      ...(app.isFallbackPublicClient ? { publicClient: true } : {}),
      ...(secrets.length > 0 ? { secrets } : {}),
      ...(certificates.length > 0 ? { certificates } : {}),
      ...(apiPermissions.length > 0 ? { apiPermissions } : {}),
      ...(consentedTenants.length > 0 ? { consentedTenants } : {}),
      ...(homeSp?.appRoleAssignmentRequired ? { assignmentRequired: true } : {}),
      ...(assignments.length > 0 ? { assignments } : {}),
      ...(app.groupMembershipClaims ? { groupMembershipClaims: app.groupMembershipClaims } : {}),
      ...(app.api.requestedAccessTokenVersion ? { accessTokenAcceptedVersion: app.api.requestedAccessTokenVersion } : {}),
    };
  }

  /** User (by user principal name) and group (by display name) assignments of a home-tenant service principal. */
  private async assignments(sp: ServicePrincipal, where: string): Promise<string[]> {
    const out: string[] = [];
    for (const a of await this.identity.listAssignments(sp.tenantId, sp.appId)) {
      const name = a.principalType === "Group" ? this.groups.get(a.principalId)?.displayName : this.users.get(a.principalId)?.userPrincipalName;
      if (name === undefined) this.warn(`${where}: assignment of ${a.principalType ?? "principal"} ${a.principalId} (not an exported user or group) was left out`);
      else if (a.appRoleId !== DEFAULT_APP_ROLE_ID) this.warn(`${where}: ${name} is assigned app role ${a.appRoleId}; the environment format holds the default role only`);
      if (name !== undefined && !out.includes(name)) out.push(name);
    }
    // Assignment ids are random: sort so two exports of the same state are equal.
    return out.sort((a, b) => a.localeCompare(b, "en"));
  }

  /** Every row of a table, in primary-key order, read in SQL batches. */
  private async scan(org: Org, table: string): Promise<Row[]> {
    const pk = this.dataverse.metadataFor(org).entity(table)?.primaryIdAttribute ?? `${table}id`;
    const rows: Row[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.dataverse.listRows(org, table, { ...(after !== undefined ? { after } : {}), limit: this.batchSize });
      rows.push(...page);
      if (page.length < this.batchSize) return rows;
      after = str(page[page.length - 1]?.[pk]);
    }
  }

  private async org(org: Org, tenant: Tenant): Promise<OrgInput> {
    const where = `org '${org.name}'`;
    const [organization] = (await this.scan(org, "organization")).filter((r) => r.organizationid === org.id);
    const units = await this.scan(org, "businessunit");
    const root = units.find((u) => u.parentbusinessunitid === null || u.parentbusinessunitid === undefined);
    const rootId = root ? str(root.businessunitid) : undefined;
    /** Known primary ids per table: a lookup to anything else would not load. */
    const known = new Map<string, Set<string>>([
      ["organization", new Set([org.id])],
      ["businessunit", new Set(units.map((u) => str(u.businessunitid)))],
      ["transactioncurrency", new Set(organization?.basecurrencyid ? [str(organization.basecurrencyid)] : [])],
    ]);

    // Business units: a tree under the root; referred to by name when the name is unique.
    const nameCount = new Map<string, number>();
    for (const u of units) nameCount.set(str(u.name).toLowerCase(), (nameCount.get(str(u.name).toLowerCase()) ?? 0) + 1);
    nameCount.set(org.name, (nameCount.get(org.name) ?? 0) + 1);
    const buRef = (id: unknown): string | undefined => {
      if (id === rootId) return undefined;
      const unit = units.find((u) => u.businessunitid === id);
      return unit && nameCount.get(str(unit.name).toLowerCase()) === 1 ? str(unit.name) : str(id);
    };
    const children = (parentId: string): BusinessUnitInput[] =>
      units
        .filter((u) => u.parentbusinessunitid === parentId)
        .map((u) => {
          if (u.isdisabled === 1 || u.isdisabled === true) this.warn(`${where}: business unit '${str(u.name)}' is disabled; it loads enabled`);
          const below = children(str(u.businessunitid));
          return { name: str(u.name), id: str(u.businessunitid), ...(below.length > 0 ? { children: below } : {}) };
        });
    const businessUnits = rootId ? children(rootId) : [];

    // Roles: the predefined ones exist in every org; custom ones with their privileges.
    const privilegeNames = new Map((await this.scan(org, "privilege")).map((p) => [str(p.privilegeid), str(p.name)]));
    const rolePrivileges = await this.scan(org, "roleprivileges");
    const allRoles = await this.scan(org, "role");
    const builtin = new Set(BUILTIN_ROLE_NAMES.map((n) => n.toLowerCase()));
    const roleNames = new Map<string, number>();
    for (const r of allRoles) roleNames.set(str(r.name).toLowerCase(), (roleNames.get(str(r.name).toLowerCase()) ?? 0) + 1);
    const roleRef = new Map<string, string>();
    const roles: NonNullable<OrgInput["roles"]> = [];
    for (const r of allRoles) {
      const id = str(r.roleid);
      const name = str(r.name);
      if (builtin.has(name.toLowerCase()) && r.businessunitid === rootId) {
        roleRef.set(id, name);
        continue;
      }
      roleRef.set(id, roleNames.get(name.toLowerCase()) === 1 ? name : id);
      const granted: [string, Depth][] = rolePrivileges.filter((p) => p.roleid === id).flatMap((rp) => {
        const privilege = privilegeNames.get(str(rp.privilegeid));
        const depth = widestDepth(Number(rp.privilegedepthmask));
        return privilege && depth ? [[privilege, depth] as [string, Depth]] : [];
      });
      const privileges = Object.fromEntries(granted.sort(([a], [b]) => a.localeCompare(b)));
      const bu = buRef(r.businessunitid);
      roles.push({ id, name, ...(bu !== undefined ? { businessUnit: bu } : {}), privileges });
    }

    // Users: application users by client id, interactive users by their directory user.
    const userRoles = await this.scan(org, "systemuserroles");
    const rolesOf = (systemUserId: string): string[] => userRoles.filter((ur) => ur.systemuserid === systemUserId).flatMap((ur) => roleRef.get(str(ur.roleid)) ?? []);
    const applicationUsers: NonNullable<OrgInput["applicationUsers"]> = [];
    const users: NonNullable<OrgInput["users"]> = [];
    /** systemuserid → the `@owner` key and the business unit `@owner` would give a row. */
    const ownerKeys = new Map<string, { key: string; businessUnitId: string }>();
    const exportedUsers = new Set<string>();
    for (const u of await this.scan(org, "systemuser")) {
      const id = str(u.systemuserid);
      const bu = buRef(u.businessunitid);
      const roleList = rolesOf(id);
      const placement = { ...(bu !== undefined ? { businessUnit: bu } : {}), ...(roleList.length > 0 ? { roles: roleList } : {}) };
      if (u.isdisabled === 1 || u.isdisabled === true) this.warn(`${where}: user ${str(u.domainname ?? id)} is disabled; it loads enabled`);
      if (u.applicationid) {
        const appId = str(u.applicationid);
        if (!this.exportedApps.get(appId)?.has(tenant.id)) {
          this.warn(`${where}: the application user of ${appId} was left out (the app is not exported, or has no service principal in the org's tenant)`);
          continue;
        }
        applicationUsers.push({ id, app: appId, ...(u.fullname ? { fullName: str(u.fullname) } : {}), ...placement });
        ownerKeys.set(id, { key: appId, businessUnitId: str(u.businessunitid) });
      } else {
        const directoryUser = u.azureactivedirectoryobjectid ? this.users.get(str(u.azureactivedirectoryobjectid)) : undefined;
        if (!directoryUser || directoryUser.tenantId !== tenant.id) {
          this.warn(`${where}: user ${str(u.fullname ?? id)} is not linked to a user of the org's tenant and was left out`);
          continue;
        }
        users.push({ id, user: directoryUser.userPrincipalName, ...(u.firstname ? { firstname: str(u.firstname) } : {}), ...(u.lastname ? { lastname: str(u.lastname) } : {}), ...placement });
        ownerKeys.set(id, { key: directoryUser.userPrincipalName, businessUnitId: str(u.businessunitid) });
      }
      exportedUsers.add(id);
    }
    known.set("systemuser", exportedUsers);
    // Roles are only exported by id when custom; lookups to roles stay loadable only then.
    known.set("role", new Set(roles.map((r) => r.id as string)));

    // Owner teams (not the business units' default teams) with members and roles.
    const memberships = await this.scan(org, "teammembership");
    const teamRoles = await this.scan(org, "teamroles");
    const teams: NonNullable<OrgInput["teams"]> = [];
    for (const t of await this.scan(org, "team")) {
      if (t.isdefault === 1 || t.isdefault === true) continue;
      const id = str(t.teamid);
      if (Number(t.teamtype ?? 0) !== 0) this.warn(`${where}: team '${str(t.name)}' is not an owner team (teamtype ${str(t.teamtype)}); it loads as an owner team`);
      const members = memberships.filter((m) => m.teamid === id).flatMap((m) => ownerKeys.get(str(m.systemuserid))?.key ?? []);
      const teamRoleList = teamRoles.filter((r) => r.teamid === id).flatMap((r) => roleRef.get(str(r.roleid)) ?? []);
      const bu = buRef(t.businessunitid);
      teams.push({ id, name: str(t.name), ...(bu !== undefined ? { businessUnit: bu } : {}), ...(members.length > 0 ? { members } : {}), ...(teamRoleList.length > 0 ? { roles: teamRoleList } : {}) });
    }
    const shares = await this.scan(org, "principalobjectaccess");
    if (shares.length > 0) this.warn(`${where}: ${shares.length} share(s) (principalobjectaccess)`);

    const data = await this.data(org, where, known, ownerKeys);
    const md = await this.dataverse.loadMetadata(org);
    const optionSets = optionSetsToEnvironment(md.optionSets());
    const tables = tablesToEnvironment(md, (message) => this.warn(`${where}: ${message}`));
    const manyToMany = manyToManyToEnvironment(md);
    const associations = await this.associations(org, where, md, known);
    return {
      name: org.name,
      id: org.id,
      tenant: tenant.defaultDomain,
      displayName: org.displayName,
      ...(rootId ? { rootBusinessUnitId: rootId } : {}),
      ...(organization?.basecurrencyid ? { baseCurrencyId: str(organization.basecurrencyid) } : {}),
      ...(businessUnits.length > 0 ? { businessUnits } : {}),
      ...(roles.length > 0 ? { roles } : {}),
      ...(users.length > 0 ? { users } : {}),
      ...(applicationUsers.length > 0 ? { applicationUsers } : {}),
      ...(teams.length > 0 ? { teams } : {}),
      ...(Object.keys(optionSets).length > 0 ? { optionSets } : {}),
      ...(Object.keys(tables).length > 0 ? { tables } : {}),
      ...(Object.keys(manyToMany).length > 0 ? { manyToMany } : {}),
      ...(Object.keys(data).length > 0 ? { data } : {}),
      ...(Object.keys(associations).length > 0 ? { associations } : {}),
    };
  }

  /** The links of the custom N:N relationships, as [Entity1 id, Entity2 id] pairs between exported rows. */
  private async associations(org: Org, where: string, md: OrgMetadata, known: Map<string, Set<string>>): Promise<Record<string, [string, string][]>> {
    const out: Record<string, [string, string][]> = {};
    for (const relationship of md.manyToManyRelationships().filter((r) => r.isCustomRelationship)) {
      const pairs: [string, string][] = [];
      let dropped = 0;
      for (const row of await this.scan(org, relationship.intersectEntityName)) {
        const one = str(row[relationship.entity1IntersectAttribute]);
        const two = str(row[relationship.entity2IntersectAttribute]);
        if (known.get(relationship.entity1LogicalName)?.has(one) && known.get(relationship.entity2LogicalName)?.has(two)) pairs.push([one, two]);
        else dropped++;
      }
      if (dropped > 0) this.warn(`${where}: ${dropped} link(s) of ${relationship.schemaName} to rows the file does not hold were left out`);
      if (pairs.length > 0) out[relationship.schemaName] = pairs;
    }
    return out;
  }

  /** Rows of the data tables (every standard table that is not part of the org model). */
  private async data(org: Org, where: string, known: Map<string, Set<string>>, ownerKeys: Map<string, { key: string; businessUnitId: string }>): Promise<Record<string, RowInput[]>> {
    const tables: { entity: EntityMetadata; rows: Row[] }[] = [];
    for (const entity of (await this.dataverse.loadMetadata(org)).entities()) {
      if (SYSTEM_TABLES.has(entity.logicalName)) continue;
      const rows = await this.scan(org, entity.logicalName);
      if (!STANDARD_NAMES.has(entity.logicalName) && (!entity.isCustomEntity || entity.isIntersect)) {
        // Links of custom N:N relationships are written as associations.
        if (rows.length > 0 && !(entity.isIntersect && entity.isCustomEntity)) this.warn(`${where}: table ${entity.logicalName} (${rows.length} rows) was left out: the environment format cannot define it`);
        continue;
      }
      known.set(entity.logicalName, new Set(rows.map((r) => str(r[entity.primaryIdAttribute]))));
      tables.push({ entity, rows });
    }
    const data: Record<string, RowInput[]> = {};
    let dangling = 0;
    let ownersDropped = 0;
    for (const { entity, rows } of tables) {
      if (rows.length === 0) continue;
      data[entity.logicalName] = rows.map((row) => {
        const cells: RowInput = { [entity.primaryIdAttribute]: str(row[entity.primaryIdAttribute]) };
        if (entity.ownershipType === "UserOwned") {
          const ownerId = row.ownerid === null || row.ownerid === undefined ? undefined : str(row.ownerid);
          const owner = ownerId ? ownerKeys.get(ownerId) : undefined;
          if (owner && row.owneridtype === "systemuser" && row.owningbusinessunit === owner.businessUnitId) cells["@owner"] = owner.key;
          else if (ownerId && row.owneridtype === "systemuser" && known.get("systemuser")?.has(ownerId)) {
            for (const column of OWNER_COLUMNS) if (row[column] !== null && row[column] !== undefined && column !== "owningteam") cells[column] = str(row[column]);
          } else if (ownerId) ownersDropped++;
        }
        const dropped = new Set<string>();
        for (const attribute of entity.attributes) {
          const name = attribute.logicalName;
          const value = row[name];
          if (value === null || value === undefined || name === entity.primaryIdAttribute || OWNER_COLUMNS.includes(name)) continue;
          if (!attribute.isValidForCreate && !KEPT_PLATFORM_COLUMNS.has(name)) continue;
          if (isLookupType(attribute.type)) {
            const target = str(value);
            if (!(attribute.targets ?? []).some((t) => known.get(t)?.has(target))) {
              dangling++;
              dropped.add(name);
              continue;
            }
          }
          cells[name] = attribute.type === "Boolean" ? value === 1 || value === true : typeof value === "bigint" ? Number(value) : (value as string | number | boolean);
        }
        for (const name of dropped) delete cells[`${name}type`];
        return cells;
      });
    }
    if (dangling > 0) this.warn(`${where}: ${dangling} lookup value(s) pointing at rows that are not exported (teams, unlinked users, missing rows) were left out`);
    if (ownersDropped > 0) this.warn(`${where}: ${ownersDropped} row(s) owned by a team or an unexported user get the org's default owner`);
    return data;
  }
}
