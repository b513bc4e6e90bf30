import { newGuid } from "../common/ids.ts";
import type { Clock } from "../common/clock.ts";
import { OrgModelError } from "./model-error.ts";
import { formatDateTime } from "./format.ts";
import { OrgMetadata } from "./metadata/registry.ts";
import { columnsAdded, definitionErrors } from "./metadata/custom.ts";
import { validateKey } from "./metadata/keys.ts";
import type { ManyToManyPlan, OneToManyPlan } from "./metadata/relationships.ts";
import { STANDARD_MANY_TO_MANY, STANDARD_TABLES } from "./metadata/standard.ts";
import type { AttributeMetadata, EntityKeyMetadata, EntityMetadata, GlobalOptionSetMetadata, RelationshipMetadata } from "./metadata/types.ts";
import type { Org, Row } from "./model.ts";
import { DEPTH, MISC_PRIVILEGES, SYSTEM_ADMINISTRATOR_TEMPLATE_ID, privilegeDefinitions, privilegeId, privilegesFor, type Depth, type PrivilegeDefinition } from "./security/privileges.ts";
import { defaultRoles } from "./security/default-roles.ts";
import { SecurityStateCache } from "./security/cache.ts";
import { navigationFor } from "./navigation.ts";
import type { Expr } from "./store.ts";
import type { DataverseStore } from "./store.ts";
import { currencyColumns } from "./currency.ts";

/** What Dataverse needs to know of the directory: it asks, as the real service asks Entra. */
export interface DirectoryLookup {
  /** The service principal of `appId` in `tenantId`, if someone consented there. */
  servicePrincipal(tenantId: string, appId: string): Promise<{ objectId: string; applicationIdUri: string | null; displayName: string } | undefined>;
  /** The user with object id `objectId` in `tenantId` (undefined when unknown or in another tenant). */
  user(tenantId: string, objectId: string): Promise<DirectoryUser | undefined>;
}

/** What Dataverse copies of a directory user into its `systemuser` (Entra's user object, Graph names). */
export interface DirectoryUser {
  objectId: string;
  userPrincipalName: string;
  displayName: string;
  givenName: string | null;
  surname: string | null;
}

export { OrgModelError } from "./model-error.ts";

/** Input for {@link DataverseService.createOrg}. */
export interface CreateOrgInput {
  name: string;
  tenantId: string;
  displayName?: string;
  id?: string;
  /** Fixed ids for the root business unit and the System Administrator role (seeds). */
  rootBusinessUnitId?: string;
  baseCurrencyId?: string;
}

/** Behaviour switches of {@link DataverseService}. */
export interface DataverseServiceOptions {
  /**
   * The legacy rule of the 2019 server-to-server documentation: "The application user cannot be
   * associated with one of the default Dataverse security roles. You must create a custom security
   * role." (learn.microsoft.com/power-apps/developer/data-platform/use-multi-tenant-server-server-authentication).
   * Off by default: current tooling routinely gives application users System Administrator.
   */
  forbidDefaultRolesForApplicationUsers?: boolean;
}

const ORG_NAME_RE = /^[a-z][a-z0-9]{0,31}$/;

/** Metadata of an org without custom tables (shared: it never changes). */
const STANDARD_METADATA = new OrgMetadata(STANDARD_TABLES);

/**
 * Org administration: what the Power Platform admin center and the Dataverse
 * settings pages do. Used by the seed, the CLI and the `startOrgbox` handle.
 */
export class DataverseService {
  private readonly metadata = new Map<string, OrgMetadata>();
  /** Bumped whenever cached metadata is dropped, so a load racing with a change is not cached. */
  private metadataGeneration = 0;
  private version = 0;

  /**
   * The store every Dataverse read and write goes through (the Web API's too): the one given,
   * reporting security-relevant writes to {@link securityState}.
   */
  readonly store: DataverseStore;
  /** The per-caller security state of every org, kept across requests (see {@link SecurityStateCache}). */
  readonly securityState = new SecurityStateCache();
  private readonly clock: Clock;
  private readonly directory: DirectoryLookup;

  private readonly options: DataverseServiceOptions;

  constructor(store: DataverseStore, clock: Clock, directory: DirectoryLookup, options: DataverseServiceOptions = {}) {
    this.store = this.securityState.track(store);
    this.clock = clock;
    this.directory = directory;
    this.options = options;
  }

  /** Monotonic row version (`versionnumber`). */
  nextVersion(): number {
    this.version = Math.max(this.version + 1, this.clock.now());
    return this.version;
  }

  /**
   * The org's metadata as last loaded by {@link loadMetadata}: the standard tables plus its custom
   * ones. Before the org's custom definitions were loaded (and after {@link invalidateCaches}) it is
   * the standard tables only, so a custom table is then unknown (a 404 or an error naming it, never
   * a wrong table). Orgs handed out by {@link findOrg} and {@link listOrgs} are loaded already.
   */
  metadataFor(org: Org): OrgMetadata {
    return this.metadata.get(org.id) ?? STANDARD_METADATA;
  }

  /**
   * The org's metadata, loading its custom table and relationship definitions (`entity_definitions`,
   * `relationship_definitions`) once and
   * caching the result until a definition changes or {@link invalidateCaches} runs. `store` is the
   * one to read through (a `$batch` change set's transaction).
   */
  async loadMetadata(org: Org, store: DataverseStore = this.store): Promise<OrgMetadata> {
    const cached = this.metadata.get(org.id);
    if (cached) return cached;
    const generation = this.metadataGeneration;
    const custom = await store.listEntityDefinitions(org);
    const relationships = await store.listRelationshipDefinitions(org);
    const optionSets = await store.listOptionSetDefinitions(org);
    // A stored definition of a standard table (one that got custom columns) replaces the built-in one.
    const stored = new Map(custom.map((e) => [e.logicalName, e]));
    const md =
      custom.length === 0 && relationships.length === 0 && optionSets.length === 0
        ? STANDARD_METADATA
        : new OrgMetadata([...STANDARD_TABLES.map((e) => extendStandard(e, stored.get(e.logicalName))), ...custom.filter((e) => e.isCustomEntity)], [...STANDARD_MANY_TO_MANY, ...relationships], optionSets);
    // A definition change or a snapshot restore while loading makes this result stale: do not cache it.
    if (generation === this.metadataGeneration) this.metadata.set(org.id, md);
    return md;
  }

  /** Now on the service's clock (ms since the epoch, UTC): what `$filter` date functions and record stamps read. */
  now(): number {
    return this.clock.now();
  }

  /**
   * Forgets in-memory state that mirrors the store (per-org metadata, org lookups and the
   * cached security state of callers), after the store was restored from a snapshot. The
   * `versionnumber` counter is kept: it only moves forward, so restored rows never share a
   * version with later writes.
   */
  invalidateCaches(): void {
    this.metadata.clear();
    this.metadataGeneration++;
    this.securityState.invalidateAll();
  }

  async findOrg(name: string): Promise<Org | undefined> {
    const org = await this.store.findOrg(name);
    if (org) await this.loadMetadata(org);
    return org;
  }

  async listOrgs(): Promise<Org[]> {
    const orgs = await this.store.listOrgs();
    for (const org of orgs) await this.loadMetadata(org);
    return orgs;
  }

  /**
   * Creates an org bound to a tenant: its SQL tables, root business unit and
   * default team, the organization row, the base currency (USD), the privileges
   * and the System Administrator role.
   * @throws OrgModelError for a bad or taken name.
   */
  async createOrg(input: CreateOrgInput): Promise<{ org: Org; rootBusinessUnitId: string; systemAdministratorRoleId: string; defaultRoleIds: Record<string, string> }> {
    const name = input.name.toLowerCase();
    if (!ORG_NAME_RE.test(name)) throw new OrgModelError(`org name '${input.name}' must be 1–32 lower-case letters and digits, starting with a letter`);
    if (await this.store.findOrg(name)) throw new OrgModelError(`an org named '${name}' already exists`, 409);
    const org: Org = { id: (input.id ?? newGuid()).toLowerCase(), name, tenantId: input.tenantId.toLowerCase(), displayName: input.displayName ?? name, tablePrefix: await this.store.nextTablePrefix() };
    await this.store.createOrg(org, this.clock.now());
    const md = this.metadataFor(org);
    for (const entity of md.entities()) await this.store.createRecordTable(org, entity);

    const rootBusinessUnitId = (input.rootBusinessUnitId ?? newGuid()).toLowerCase();
    const currencyId = (input.baseCurrencyId ?? newGuid()).toLowerCase();
    await this.insert(org, "transactioncurrency", { transactioncurrencyid: currencyId, currencyname: "US Dollar", isocurrencycode: "USD", currencysymbol: "$", exchangerate: 1, currencyprecision: 2, statecode: 0, statuscode: 1 });
    await this.insert(org, "organization", { organizationid: org.id, name: org.displayName, basecurrencyid: currencyId });
    await this.insert(org, "businessunit", { businessunitid: rootBusinessUnitId, name, parentbusinessunitid: null, isdisabled: false });
    await this.insert(org, "team", { teamid: newGuid(), name, businessunitid: rootBusinessUnitId, teamtype: 0, isdefault: true });
    for (const p of privilegeDefinitions(md.entities())) await this.insert(org, "privilege", privilegeRow(p));
    for (const misc of MISC_PRIVILEGES) {
      await this.insert(org, "privilege", miscPrivilegeRow(misc));
    }
    const defaultRoleIds: Record<string, string> = {};
    for (const role of defaultRoles(md.entities())) {
      defaultRoleIds[role.name] = await this.createRole(org, { name: role.name, businessUnitId: rootBusinessUnitId, roleTemplateId: role.templateId, privileges: role.privileges });
    }
    return { org, rootBusinessUnitId, systemAdministratorRoleId: defaultRoleIds["System Administrator"] as string, defaultRoleIds };
  }

  /**
   * Creates a security role with privileges at a depth.
   * @throws OrgModelError naming an unknown privilege, or a depth the privilege does not allow
   *   (organization-owned tables and misc privileges are None or Global only).
   */
  async createRole(org: Org, input: { name: string; businessUnitId: string; id?: string; roleTemplateId?: string; privileges: { name: string; depth: Depth }[] }): Promise<string> {
    const roleId = (input.id ?? newGuid()).toLowerCase();
    const md = this.metadataFor(org);
    const known = await this.store.selectRows(org, {
      entity: md.entity("privilege") as EntityMetadata,
      columns: ["privilegeid", "name", "canbebasic", "canbelocal", "canbedeep", "canbeglobal"],
      orderBy: [],
      where: { kind: "in", column: "name", values: input.privileges.map((p) => p.name) },
    });
    const byName = new Map(known.map((r) => [String(r.name), r]));
    const allowed = (row: Record<string, unknown>, depth: Depth) => {
      const flag = row[{ Basic: "canbebasic", Local: "canbelocal", Deep: "canbedeep", Global: "canbeglobal" }[depth]];
      return flag === true || flag === 1;
    };
    for (const p of input.privileges) {
      const row = byName.get(p.name);
      if (!row) throw new OrgModelError(`the privilege '${p.name}' does not exist`);
      if (!allowed(row, p.depth)) throw new OrgModelError(`the privilege '${p.name}' cannot be granted at ${p.depth} depth: organization-owned tables and misc privileges allow only None or Global (Organization).`);
    }
    await this.insert(org, "role", { roleid: roleId, name: input.name, businessunitid: input.businessUnitId, roletemplateid: input.roleTemplateId ?? null, parentrootroleid: roleId, ismanaged: false });
    for (const p of input.privileges) {
      await this.insert(org, "roleprivileges", { roleprivilegeid: newGuid(), roleid: roleId, privilegeid: String(byName.get(p.name)?.privilegeid), privilegedepthmask: DEPTH[p.depth] });
    }
    return roleId;
  }

  /**
   * Gives a user a role (`systemuserroles_association`).
   * @throws OrgModelError under the legacy application-user rule (see {@link assertRoleAssignable}).
   */
  async assignRole(org: Org, systemUserId: string, roleId: string): Promise<void> {
    await this.assertRoleAssignable(org, systemUserId, roleId);
    await this.insert(org, "systemuserroles", { systemuserroleid: newGuid(), systemuserid: systemUserId.toLowerCase(), roleid: roleId.toLowerCase() });
  }

  /**
   * Creates an application user for `applicationId` (the app's client id). Like
   * Dataverse, `applicationiduri` and `azureactivedirectoryobjectid` come from the
   * app's service principal in the org's tenant.
   * @throws OrgModelError when that tenant has no service principal for the app (nobody consented).
   */
  async createApplicationUser(org: Org, input: { applicationId: string; businessUnitId: string; id?: string; fullName?: string; roleIds?: string[] }): Promise<string> {
    const columns = await this.directoryColumns(org, input.applicationId);
    await this.assertApplicationUserFree(org, input.applicationId, this.store);
    const id = (input.id ?? newGuid()).toLowerCase();
    const name = input.fullName ?? String(columns.fullname);
    await this.insert(org, "systemuser", { ...columns, systemuserid: id, fullname: name, lastname: name, isdisabled: false, businessunitid: input.businessUnitId });
    for (const roleId of input.roleIds ?? []) await this.assignRole(org, id, roleId);
    return id;
  }

  /**
   * The columns the server fills for an application user of `applicationId`: read-only
   * `applicationiduri` and `azureactivedirectoryobjectid` from the app's service principal in the
   * org's tenant, a `# {app name}` full name, `accessmode` 4 (Non-interactive). Used by
   * {@link createApplicationUser} and by `POST systemusers` with `applicationid` (Web API), so both
   * agree. Asks the directory: call it outside a store transaction.
   * @throws OrgModelError (400) when the tenant has no service principal for the app (nobody consented).
   */
  async directoryColumns(org: Org, applicationId: string): Promise<Row> {
    const appId = applicationId.toLowerCase();
    const sp = await this.directory.servicePrincipal(org.tenantId, appId);
    if (!sp) throw new OrgModelError(`The application '${appId}' has no service principal in the tenant of this organization. An administrator of that tenant must consent to the application first.`);
    const name = `# ${sp.displayName}`;
    return { fullname: name, lastname: name, domainname: `${appId}@orgbox.local`, applicationid: appId, applicationiduri: sp.applicationIdUri, azureactivedirectoryobjectid: sp.objectId, accessmode: 4 };
  }

  /**
   * The columns the server fills for an interactive user created with `azureactivedirectoryobjectid`
   * (`POST systemusers`), looked up in the org's tenant as Dataverse syncs them from Entra:
   * `domainname` and `internalemailaddress` (the user principal name), `firstname`, `lastname`,
   * `fullname` (given name and surname, else the display name), `accessmode` 0 (Read-Write).
   * Asks the directory: call it outside a store transaction.
   * (learn.microsoft.com/power-platform/admin/create-users#add-users-to-dataverse)
   * @throws OrgModelError (400) when the org's tenant has no user with that object id.
   */
  async interactiveUserColumns(org: Org, objectId: string): Promise<Row> {
    const oid = objectId.toLowerCase();
    const user = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(oid) ? await this.directory.user(org.tenantId, oid) : undefined;
    if (!user) throw new OrgModelError(`The user with object id '${oid}' does not exist in the Microsoft Entra tenant of this organization.`);
    const full = [user.givenName, user.surname].filter((part) => part).join(" ") || user.displayName;
    return { azureactivedirectoryobjectid: user.objectId.toLowerCase(), domainname: user.userPrincipalName, internalemailaddress: user.userPrincipalName, firstname: user.givenName, lastname: user.surname ?? user.displayName, fullname: full, accessmode: 0 };
  }

  /**
   * An org has at most one systemuser per directory object.
   * @throws OrgModelError (412) when `store` already holds one for `objectId`.
   */
  async assertDirectoryUserFree(org: Org, objectId: string, store: DataverseStore): Promise<void> {
    const oid = objectId.toLowerCase();
    const taken = await store.countRows(org, { entity: this.metadataFor(org).entity("systemuser") as EntityMetadata, where: eqExpr("azureactivedirectoryobjectid", oid), limit: 1 });
    if (taken > 0) throw new OrgModelError(`The organization already has a user for the Microsoft Entra object '${oid}'.`, 412);
  }

  /**
   * An org has at most one application user per app.
   * @throws OrgModelError (412) when `store` already holds one for `applicationId`.
   */
  async assertApplicationUserFree(org: Org, applicationId: string, store: DataverseStore): Promise<void> {
    const appId = applicationId.toLowerCase();
    const taken = await store.countRows(org, { entity: this.metadataFor(org).entity("systemuser") as EntityMetadata, where: eqExpr("applicationid", appId), limit: 1 });
    if (taken > 0) throw new OrgModelError(`The organization already has an application user for the application '${appId}'.`, 412);
  }

  /** A privilege by id: its name and whether it allows Basic depth (user-owned tables). */
  async findPrivilege(org: Org, privilegeId: string, store: DataverseStore = this.store): Promise<{ id: string; name: string; canBeBasic: boolean } | undefined> {
    const [row] = await store.selectRows(org, { entity: this.metadataFor(org).entity("privilege") as EntityMetadata, columns: ["privilegeid", "name", "canbebasic"], where: eqExpr("privilegeid", privilegeId.toLowerCase()), orderBy: [], limit: 1 });
    return row ? { id: String(row.privilegeid), name: String(row.name), canBeBasic: row.canbebasic === 1 || row.canbebasic === true } : undefined;
  }

  /** The org's security roles (id, name, template id), by name. */
  async listRoles(org: Org): Promise<{ id: string; name: string; roleTemplateId: string | null; businessUnitId: string }[]> {
    const rows = await this.store.selectRows(org, { entity: this.metadataFor(org).entity("role") as EntityMetadata, columns: ["roleid", "name", "roletemplateid", "businessunitid"], orderBy: [{ column: "name", descending: false }] });
    return rows.map((r) => ({ id: String(r.roleid), name: String(r.name), roleTemplateId: r.roletemplateid ? String(r.roletemplateid) : null, businessUnitId: String(r.businessunitid) }));
  }

  /** The root business unit of an org (the one without a parent). */
  async rootBusinessUnitId(org: Org): Promise<string> {
    const [row] = await this.store.selectRows(org, { entity: this.metadataFor(org).entity("businessunit") as EntityMetadata, columns: ["businessunitid"], where: eqExpr("parentbusinessunitid", null), orderBy: [], limit: 1 });
    if (!row) throw new OrgModelError(`the org '${org.name}' has no root business unit`, 500);
    return String(row.businessunitid);
  }

  // ── Customization: custom tables and columns (EntityDefinitions) ──────────────

  /**
   * Creates a custom table, what `POST EntityDefinitions` does
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api):
   * its SQL table, its definition in `entity_definitions` (it survives restarts), its privileges
   * (`prvCreatenew_Project`, … from {@link privilegesFor}; none for a table sharing privileges the
   * org has) and those privileges at Global depth in every System Administrator role. One transaction: nothing is left behind on failure.
   * `build` receives the next free object type code (custom tables start at 10000); `outer` is the
   * store to work through (a `$batch` change set's transaction).
   * @throws OrgModelError 400 `duplicate` when the logical or entity set name is taken.
   */
  async createCustomTable(org: Org, build: (objectTypeCode: number) => EntityMetadata, outer: DataverseStore = this.store): Promise<EntityMetadata> {
    const md = await this.loadMetadata(org, outer);
    const entity = build(nextObjectTypeCode(md));
    if (md.entity(entity.logicalName)) throw definitionErrors.duplicate(`An entity with the specified name already exists: '${entity.logicalName}'. Specify a unique name.`);
    if (md.entityBySet(entity.entitySetName)) throw definitionErrors.duplicate(`The entity set name '${entity.entitySetName}' is already used by another table. Specify a unique EntitySetName.`);
    const privilegeTable = md.entity("privilege") as EntityMetadata;
    const rolePrivileges = md.entity("roleprivileges") as EntityMetadata;
    try {
      await outer.transaction(async (store) => {
        await store.createRecordTable(org, entity);
        await store.saveEntityDefinition(org, entity, this.clock.now());
        const admins = await store.selectRows(org, { entity: md.entity("role") as EntityMetadata, columns: ["roleid"], where: eqExpr("roletemplateid", SYSTEM_ADMINISTRATOR_TEMPLATE_ID), orderBy: [] });
        // A table sharing privileges (a custom activity table: `…Activity`) adds none the org does not have.
        const wanted = privilegesFor(entity);
        const existing = wanted.length === 0 ? [] : await store.selectRows(org, { entity: privilegeTable, columns: ["name"], where: { kind: "in", column: "name", values: wanted.map((p) => p.name) }, orderBy: [] });
        const known = new Set(existing.map((r) => String(r.name)));
        for (const p of wanted.filter((w) => !known.has(w.name))) {
          await store.insertRow(org, privilegeTable, this.stampNew(privilegeTable, privilegeRow(p)));
          for (const admin of admins) {
            await store.insertRow(org, rolePrivileges, this.stampNew(rolePrivileges, { roleid: admin.roleid, privilegeid: privilegeId(p.name), privilegedepthmask: DEPTH.Global }));
          }
        }
      });
    } finally {
      this.forgetMetadata(org);
    }
    return entity;
  }

  /**
   * Adds a column to a table, what `POST EntityDefinitions(…)/Attributes` does
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-column-definitions-using-web-api):
   * `ALTER TABLE … ADD COLUMN` and the table's updated definition in `entity_definitions`. A
   * money column on a table without a currency also adds `transactioncurrencyid`, as Dataverse does.
   * Standard tables may get custom columns too (their extended definition is stored).
   * @throws OrgModelError 404 for an unknown table, 400 `duplicate` for a taken column name.
   */
  async addCustomColumn(org: Org, entityLogicalName: string, attribute: AttributeMetadata, outer: DataverseStore = this.store): Promise<AttributeMetadata> {
    const md = await this.loadMetadata(org, outer);
    const entity = md.entity(entityLogicalName);
    if (!entity) throw definitionErrors.entityNotFound(entityLogicalName);
    if (md.attribute(entity, attribute.logicalName)) throw definitionErrors.duplicate(`An attribute with the specified name already exists: '${attribute.logicalName}' on entity '${entity.logicalName}'. Specify a unique name.`);
    const added = columnsAdded(entity, attribute);
    const updated: EntityMetadata = { ...entity, attributes: [...entity.attributes, ...added] };
    try {
      await outer.transaction(async (store) => {
        for (const a of added) await store.addColumn(org, entity, a);
        await store.saveEntityDefinition(org, updated, this.clock.now());
      });
    } finally {
      this.forgetMetadata(org);
    }
    return attribute;
  }

  /**
   * Deletes a custom table, what `DELETE EntityDefinitions(…)` does
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api):
   * its SQL table with every row, its definition, the one-to-many relationships of its own lookups,
   * and its privileges (with their grants in every role). One transaction.
   * @throws OrgModelError 404 for an unknown table; 400 `refused` for a standard table; 400
   *   `dependency` while other tables' lookups or N:N relationships refer to it (delete those first).
   */
  async deleteCustomTable(org: Org, entityLogicalName: string, outer: DataverseStore = this.store): Promise<void> {
    const md = await this.loadMetadata(org, outer);
    const entity = md.entity(entityLogicalName);
    if (!entity) throw definitionErrors.entityNotFound(entityLogicalName);
    if (!entity.isCustomEntity || entity.isIntersect) throw definitionErrors.notDeletable(`The table '${entity.logicalName}' cannot be deleted: only custom tables can be deleted${entity.isIntersect ? " (delete its N:N relationship instead)" : ""}.`);
    const nav = navigationFor(md);
    // `referencing(t)`: the one-to-many relationships whose rows point at t.
    const referencing = nav.referencing(entity).filter((r) => r.referencingEntity !== entity.logicalName);
    const manyToMany = md.manyToManyRelationships().filter((r) => r.entity1LogicalName === entity.logicalName || r.entity2LogicalName === entity.logicalName);
    const dependents = [...referencing.map((r) => `relationship ${r.schemaName}`), ...manyToMany.map((r) => `relationship ${r.schemaName}`)];
    if (dependents.length > 0) throw definitionErrors.dependency(`Entity(${entity.logicalName})`, dependents);
    const own = md
      .entities()
      .flatMap((e) => nav.referencing(e))
      .filter((r) => r.referencingEntity === entity.logicalName && md.oneToManyDefinition(entity.logicalName, r.referencingAttribute));
    const privileges = privilegesFor(entity).map((p) => privilegeId(p.name));
    try {
      await outer.transaction(async (store) => {
        await store.dropRecordTable(org, entity);
        await store.deleteEntityDefinition(org, entity.logicalName);
        for (const r of own) await store.deleteRelationshipDefinition(org, r.schemaName);
        if (privileges.length > 0 && !md.entities().some((e) => e !== entity && privilegesFor(e).some((p) => privileges.includes(privilegeId(p.name))))) {
          await store.deleteRows(org, md.entity("roleprivileges") as EntityMetadata, { kind: "in", column: "privilegeid", values: privileges });
          await store.deleteRows(org, md.entity("privilege") as EntityMetadata, { kind: "in", column: "privilegeid", values: privileges });
        }
      });
    } finally {
      this.forgetMetadata(org);
    }
  }

  /**
   * Deletes a custom column, what `DELETE EntityDefinitions(…)/Attributes(…)` does: its SQL column
   * with its values, and the column from the table's definition. One transaction.
   * @throws OrgModelError 404 for an unknown table or column; 400 `refused` for a column that is
   *   not custom, a lookup (delete its relationship instead) or the primary name; 400 `dependency`
   *   while an alternate key uses it.
   */
  async deleteCustomColumn(org: Org, entityLogicalName: string, attributeLogicalName: string, outer: DataverseStore = this.store): Promise<void> {
    const md = await this.loadMetadata(org, outer);
    const entity = md.entity(entityLogicalName);
    if (!entity) throw definitionErrors.entityNotFound(entityLogicalName);
    const attribute = md.attribute(entity, attributeLogicalName);
    if (!attribute) throw definitionErrors.attributeNotFound(entity.logicalName, attributeLogicalName);
    if (!attribute.isCustomAttribute || attribute.isPrimaryName || attribute.logicalName === entity.primaryIdAttribute) {
      throw definitionErrors.notDeletable(`The column '${attribute.logicalName}' of '${entity.logicalName}' cannot be deleted: only custom columns other than the primary name can be deleted.`);
    }
    if (md.oneToManyDefinition(entity.logicalName, attribute.logicalName)) {
      throw definitionErrors.notDeletable(`The lookup column '${attribute.logicalName}' belongs to a relationship: delete the relationship ${md.oneToManyDefinition(entity.logicalName, attribute.logicalName)?.schemaName ?? ""} instead.`);
    }
    const keys = (entity.keys ?? []).filter((k) => k.keyAttributes.includes(attribute.logicalName));
    if (keys.length > 0) throw definitionErrors.dependency(`Attribute(${attribute.logicalName})`, keys.map((k) => `alternate key ${k.logicalName}`));
    const updated: EntityMetadata = { ...entity, attributes: entity.attributes.filter((a) => a !== attribute) };
    try {
      await outer.transaction(async (store) => {
        await store.dropColumn(org, entity, attribute);
        await store.saveEntityDefinition(org, updated, this.clock.now());
      });
    } finally {
      this.forgetMetadata(org);
    }
  }

  /**
   * Deletes a custom relationship, what `DELETE RelationshipDefinitions(…)` does: an N:N one with its
   * intersect table and links, a one-to-many one with its lookup column (and the column's values).
   * One transaction.
   * @throws OrgModelError 404 for an unknown relationship; 400 `refused` for a standard one;
   *   400 `dependency` while an alternate key uses the lookup column.
   */
  async deleteRelationship(org: Org, schemaName: string, outer: DataverseStore = this.store): Promise<void> {
    const md = await this.loadMetadata(org, outer);
    const lower = schemaName.toLowerCase();
    const manyToMany = md.manyToManyRelationships().find((r) => r.schemaName.toLowerCase() === lower);
    const oneToMany = md
      .entities()
      .flatMap((e) => navigationFor(md).referencing(e))
      .find((r) => r.schemaName.toLowerCase() === lower);
    if (!manyToMany && !oneToMany) throw definitionErrors.relationshipNotFound(`SchemaName = ${schemaName}`);
    try {
      if (manyToMany) {
        if (!manyToMany.isCustomRelationship) throw definitionErrors.notDeletable(`The relationship '${manyToMany.schemaName}' cannot be deleted: only custom relationships can be deleted.`);
        const intersect = md.entity(manyToMany.intersectEntityName) as EntityMetadata;
        await outer.transaction(async (store) => {
          await store.dropRecordTable(org, intersect);
          await store.deleteEntityDefinition(org, intersect.logicalName);
          await store.deleteRelationshipDefinition(org, manyToMany.schemaName);
        });
        return;
      }
      const relationship = oneToMany as NonNullable<typeof oneToMany>;
      const definition = md.oneToManyDefinition(relationship.referencingEntity, relationship.referencingAttribute);
      if (!definition) throw definitionErrors.notDeletable(`The relationship '${relationship.schemaName}' cannot be deleted: only custom relationships can be deleted.`);
      const entity = md.entity(relationship.referencingEntity) as EntityMetadata;
      const lookup = md.attribute(entity, relationship.referencingAttribute) as AttributeMetadata;
      const keys = (entity.keys ?? []).filter((k) => k.keyAttributes.includes(lookup.logicalName));
      if (keys.length > 0) throw definitionErrors.dependency(`Attribute(${lookup.logicalName})`, keys.map((k) => `alternate key ${k.logicalName}`));
      await outer.transaction(async (store) => {
        await store.dropColumn(org, entity, lookup);
        await store.saveEntityDefinition(org, { ...entity, attributes: entity.attributes.filter((a) => a !== lookup) }, this.clock.now());
        await store.deleteRelationshipDefinition(org, definition.schemaName);
      });
    } finally {
      this.forgetMetadata(org);
    }
  }

  /**
   * Deletes a global option set, what `DELETE GlobalOptionSetDefinitions(…)` does.
   * @throws OrgModelError 404 for an unknown set; 400 `dependency` while columns use it.
   */
  async deleteGlobalOptionSet(org: Org, name: string, outer: DataverseStore = this.store): Promise<void> {
    const md = await this.loadMetadata(org, outer);
    const set = md.optionSet(name);
    if (!set) throw definitionErrors.optionSetNotFound(`Name = ${name}`);
    const users = md.entities().flatMap((e) => e.attributes.filter((a) => a.globalOptionSet === set.name).map((a) => `column ${e.logicalName}.${a.logicalName}`));
    if (users.length > 0) throw definitionErrors.dependency(`OptionSet(${set.name})`, users);
    try {
      await outer.deleteOptionSetDefinition(org, set.name);
    } finally {
      this.forgetMetadata(org);
    }
  }

  /**
   * Adds an alternate key to a table, what `POST EntityDefinitions(…)/Keys` does
   * (learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity): the key's
   * unique index and the table's updated definition in `entity_definitions`, in one transaction.
   * Dataverse builds the index in a system job and marks the key `Failed` when existing rows share
   * values; orgbox builds it at once and refuses the key instead.
   * @throws OrgModelError 404 for an unknown table, 400 for an invalid key (see {@link validateKey}),
   *   400 `duplicate` when existing rows already share the key's values.
   */
  async addAlternateKey(org: Org, entityLogicalName: string, build: (entity: EntityMetadata) => EntityKeyMetadata, outer: DataverseStore = this.store): Promise<{ entity: EntityMetadata; key: EntityKeyMetadata }> {
    const md = await this.loadMetadata(org, outer);
    const entity = md.entity(entityLogicalName);
    if (!entity) throw definitionErrors.entityNotFound(entityLogicalName);
    const key = build(entity);
    validateKey(entity, key);
    const updated: EntityMetadata = { ...entity, keys: [...(entity.keys ?? []), key] };
    try {
      await outer.transaction(async (store) => {
        await store.saveEntityDefinition(org, updated, this.clock.now());
        try {
          await store.createKeyIndex(org, entity, key);
        } catch {
          throw definitionErrors.duplicate(`The key '${key.logicalName}' cannot be created: records of table '${entity.logicalName}' already share values of (${key.keyAttributes.join(", ")}). Make the values unique and try again.`);
        }
      });
    } finally {
      this.forgetMetadata(org);
    }
    return { entity: updated, key };
  }

  /**
   * Removes an alternate key (`DELETE EntityDefinitions(…)/Keys(…)`): its index and its entry in the
   * table's stored definition.
   * @throws OrgModelError 404 for an unknown table or key.
   */
  async removeAlternateKey(org: Org, entityLogicalName: string, keyLogicalName: string, outer: DataverseStore = this.store): Promise<void> {
    const md = await this.loadMetadata(org, outer);
    const entity = md.entity(entityLogicalName);
    if (!entity) throw definitionErrors.entityNotFound(entityLogicalName);
    const key = (entity.keys ?? []).find((k) => k.logicalName === keyLogicalName);
    if (!key) throw definitionErrors.keyNotFound(entity.logicalName, keyLogicalName);
    const updated: EntityMetadata = { ...entity, keys: (entity.keys ?? []).filter((k) => k !== key) };
    try {
      await outer.transaction(async (store) => {
        await store.saveEntityDefinition(org, updated, this.clock.now());
        await store.dropKeyIndex(org, entity, key);
      });
    } finally {
      this.forgetMetadata(org);
    }
  }

  /**
   * Creates a relationship, what `POST RelationshipDefinitions` does
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-relationships-using-web-api):
   * for an N:N relationship its intersect table (SQL table with the pair's indexes, definition in
   * `entity_definitions`), for a one-to-many relationship its lookup column ({@link addCustomColumn});
   * then the relationship's definition in `relationship_definitions`. One transaction; the definitions
   * survive restarts. `build` gets the org's current metadata and the next free object type code.
   * @throws DataverseError from `build` (the definition parser: 404 unknown table, 400 invalid body or taken names).
   */
  async createRelationship(org: Org, build: (md: OrgMetadata, objectTypeCode: number) => ManyToManyPlan | OneToManyPlan, outer: DataverseStore = this.store): Promise<RelationshipMetadata> {
    const md = await this.loadMetadata(org, outer);
    const plan = build(md, nextObjectTypeCode(md));
    try {
      await outer.transaction(async (store) => {
        if ("intersect" in plan) {
          const { intersect, relationship } = plan;
          await store.createIntersectTable(org, intersect, [relationship.entity1IntersectAttribute, relationship.entity2IntersectAttribute]);
          await store.saveEntityDefinition(org, intersect, this.clock.now());
        } else {
          await this.addCustomColumn(org, plan.relationship.referencingEntity, plan.lookup, store);
        }
        await store.saveRelationshipDefinition(org, plan.relationship, this.clock.now());
      });
    } finally {
      this.forgetMetadata(org);
    }
    return plan.relationship;
  }

  /**
   * Creates a global option set, what `POST GlobalOptionSetDefinitions` does
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets): its
   * definition in `option_set_definitions`, which survives restarts. Choice columns then use it by
   * `GlobalOptionSet@odata.bind` and copy its options.
   * @throws OrgModelError 400 `duplicate` when the name is taken.
   */
  async createGlobalOptionSet(org: Org, optionSet: GlobalOptionSetMetadata, outer: DataverseStore = this.store): Promise<GlobalOptionSetMetadata> {
    const md = await this.loadMetadata(org, outer);
    if (md.optionSet(optionSet.name)) throw definitionErrors.duplicate(`An option set with the name '${optionSet.name}' already exists. Specify a unique name.`);
    try {
      await outer.saveOptionSetDefinition(org, optionSet, this.clock.now());
    } finally {
      this.forgetMetadata(org);
    }
    return optionSet;
  }

  /** Drops the org's cached metadata after a definition change. */
  private forgetMetadata(org: Org): void {
    this.metadata.delete(org.id);
    this.metadataGeneration++;
  }

  // ── Security model: business units, teams, users and role assignments ──────────

  /**
   * Refuses a role assignment the org would refuse: with
   * {@link DataverseServiceOptions.forbidDefaultRolesForApplicationUsers}, an application user
   * (a systemuser with `applicationid`) may not hold a predefined role (one with a `roletemplateid`).
   * Web API associations (`systemuserroles_association/$ref`) call this too, reading through their
   * transaction's `store`.
   * @throws OrgModelError (400) naming the rule; 404 for an unknown user or role.
   */
  async assertRoleAssignable(org: Org, systemUserId: string, roleId: string, store: DataverseStore = this.store): Promise<void> {
    const md = this.metadataFor(org);
    const [role] = await store.selectRows(org, { entity: md.entity("role") as EntityMetadata, columns: ["roleid", "name", "roletemplateid"], where: eqExpr("roleid", roleId.toLowerCase()), orderBy: [], limit: 1 });
    if (!role) throw new OrgModelError(`role With Id = ${roleId.toLowerCase()} Does Not Exist`, 404);
    if (!this.options.forbidDefaultRolesForApplicationUsers || !role.roletemplateid) return;
    const [user] = await store.selectRows(org, { entity: md.entity("systemuser") as EntityMetadata, columns: ["applicationid"], where: eqExpr("systemuserid", systemUserId.toLowerCase()), orderBy: [], limit: 1 });
    if (user?.applicationid) {
      throw new OrgModelError(`The application user ${systemUserId.toLowerCase()} cannot be associated with the default security role '${String(role.name)}'. You must create a custom security role.`);
    }
  }

  /** Takes a role from a user (deletes the `systemuserroles` row). Takes effect on the user's next request. */
  async removeRole(org: Org, systemUserId: string, roleId: string): Promise<boolean> {
    const where: Expr = { kind: "and", left: eqExpr("systemuserid", systemUserId.toLowerCase()), right: eqExpr("roleid", roleId.toLowerCase()) };
    return (await this.store.deleteRows(org, this.metadataFor(org).entity("systemuserroles") as EntityMetadata, where)) > 0;
  }

  /**
   * Creates a business unit under `parentBusinessUnitId`, with its default team (an owner
   * team named after the unit, `isdefault`), as Dataverse does
   * (learn.microsoft.com/power-platform/admin/create-edit-business-units).
   * @returns the business unit id and its default team id.
   */
  async createBusinessUnit(org: Org, input: { name: string; parentBusinessUnitId: string; id?: string; defaultTeamId?: string }): Promise<{ businessUnitId: string; defaultTeamId: string }> {
    const md = this.metadataFor(org);
    const parent = await this.store.countRows(org, { entity: md.entity("businessunit") as EntityMetadata, where: eqExpr("businessunitid", input.parentBusinessUnitId.toLowerCase()) });
    if (parent === 0) throw new OrgModelError(`businessunit With Id = ${input.parentBusinessUnitId.toLowerCase()} Does Not Exist`, 404);
    const businessUnitId = await this.insert(org, "businessunit", { businessunitid: input.id, name: input.name, parentbusinessunitid: input.parentBusinessUnitId.toLowerCase(), isdisabled: false });
    const defaultTeamId = await this.insert(org, "team", { teamid: input.defaultTeamId, name: input.name, businessunitid: businessUnitId, teamtype: 0, isdefault: true });
    return { businessUnitId, defaultTeamId };
  }

  /** Creates a team (owner team by default) in a business unit. */
  async createTeam(org: Org, input: { name: string; businessUnitId: string; id?: string; teamType?: 0 | 1 | 2 | 3 }): Promise<string> {
    return this.insert(org, "team", { teamid: input.id, name: input.name, businessunitid: input.businessUnitId.toLowerCase(), teamtype: input.teamType ?? 0, isdefault: false });
  }

  /** Adds users to a team (`teammembership`, what `AddMembersTeam` does). */
  async addTeamMembers(org: Org, teamId: string, systemUserIds: string[]): Promise<void> {
    for (const id of systemUserIds) await this.insert(org, "teammembership", { teammembershipid: newGuid(), teamid: teamId.toLowerCase(), systemuserid: id.toLowerCase() });
  }

  /** Removes a user from a team. */
  async removeTeamMember(org: Org, teamId: string, systemUserId: string): Promise<boolean> {
    const where: Expr = { kind: "and", left: eqExpr("teamid", teamId.toLowerCase()), right: eqExpr("systemuserid", systemUserId.toLowerCase()) };
    return (await this.store.deleteRows(org, this.metadataFor(org).entity("teammembership") as EntityMetadata, where)) > 0;
  }

  /** Gives a team a role (`teamroles_association`); every member gets its privileges. */
  async assignTeamRole(org: Org, teamId: string, roleId: string): Promise<void> {
    await this.insert(org, "teamroles", { teamroleid: newGuid(), teamid: teamId.toLowerCase(), roleid: roleId.toLowerCase() });
  }

  /** Creates an interactive (licensed) user, optionally linked to an Entra user by object id. */
  async createSystemUser(org: Org, input: { businessUnitId: string; firstName?: string; lastName: string; id?: string; domainName?: string; azureActiveDirectoryObjectId?: string; roleIds?: string[] }): Promise<string> {
    const id = await this.insert(org, "systemuser", {
      systemuserid: input.id,
      firstname: input.firstName ?? null,
      lastname: input.lastName,
      domainname: input.domainName ?? null,
      azureactivedirectoryobjectid: input.azureActiveDirectoryObjectId?.toLowerCase() ?? null,
      isdisabled: false,
      accessmode: 0,
      businessunitid: input.businessUnitId.toLowerCase(),
    });
    for (const roleId of input.roleIds ?? []) await this.assignRole(org, id, roleId);
    return id;
  }

  /**
   * Inserts a record with platform columns filled: id, created/modified on and
   * by, `versionnumber`, owner columns and computed `fullname`, and the currency columns of
   * tables with money columns (see {@link currencyColumns}).
   */
  async insert(org: Org, logicalName: string, values: Row, callerId?: string, owner?: { id: string; businessUnitId: string }): Promise<string> {
    const md = await this.loadMetadata(org);
    const entity = md.entity(logicalName);
    if (!entity) throw new OrgModelError(`table '${logicalName}' does not exist`);
    const row = this.stampNew(entity, { ...values, ...(await currencyColumns(this.store, org, md, entity, values)) }, callerId, owner);
    await this.store.insertRow(org, entity, row);
    return String(row[entity.primaryIdAttribute]);
  }

  /**
   * A new record's row with the platform columns Dataverse fills on Create: the
   * primary key (lower-case), `createdon`/`modifiedon` (second precision, `Z`),
   * `createdby`/`modifiedby`, `versionnumber`, the owner columns, the computed
   * `fullname` and the default `statecode`/`statuscode`
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api).
   * Values already in `values` win, except `versionnumber`.
   */
  stampNew(entity: EntityMetadata, values: Row, callerId?: string, owner?: { id: string; businessUnitId: string }): Row {
    const now = formatDateTime(this.clock.now());
    const row: Row = { ...values };
    row[entity.primaryIdAttribute] = String(row[entity.primaryIdAttribute] ?? newGuid()).toLowerCase();
    if (!entity.isIntersect) {
      row.createdon ??= now;
      row.modifiedon ??= now;
      row.createdby ??= callerId ?? null;
      row.modifiedby ??= callerId ?? null;
      row.versionnumber = this.nextVersion();
    }
    if (entity.ownershipType === "UserOwned" && owner) {
      row.ownerid ??= owner.id;
      row.owneridtype ??= "systemuser";
      if (row.owneridtype === "systemuser") row.owninguser ??= row.ownerid;
      row.owningbusinessunit ??= owner.businessUnitId;
    }
    if (entity.attributes.some((a) => a.logicalName === "fullname") && row.fullname === undefined) {
      const full = fullName(row);
      if (full) row.fullname = full;
    }
    if (entity.attributes.some((a) => a.logicalName === "statecode") && row.statecode === undefined) {
      row.statecode = 0;
      row.statuscode ??= 1;
    }
    return row;
  }

  /**
   * The columns an Update writes besides `changes`: `modifiedon`, `modifiedby`, a new
   * `versionnumber`, and `fullname` recomputed when the first or last name changed
   * (`existing` is the stored row, at least its `firstname`/`lastname`).
   */
  stampUpdate(entity: EntityMetadata, changes: Row, existing: Row, callerId: string): Row {
    const row: Row = { ...changes };
    if (!entity.isIntersect) {
      row.modifiedon = formatDateTime(this.clock.now());
      row.modifiedby = callerId;
      row.versionnumber = this.nextVersion();
    }
    const computesFullName = entity.attributes.some((a) => a.logicalName === "fullname" && !a.isValidForUpdate);
    if (computesFullName && ("firstname" in changes || "lastname" in changes)) {
      row.fullname = fullName({ ...existing, ...changes }) || null;
    }
    return row;
  }

  /**
   * One page of a table's rows in primary-key order, for full scans (`orgbox export`):
   * the rows whose primary key sorts after `after` (all rows when omitted), at most
   * `limit`, every stored column. One SQL statement; page on with the last row's key.
   * @throws OrgModelError for an unknown table.
   */
  async listRows(org: Org, logicalName: string, page: { after?: string; limit: number }): Promise<Row[]> {
    const entity = (await this.loadMetadata(org)).entity(logicalName);
    if (!entity) throw new OrgModelError(`table '${logicalName}' does not exist`);
    const pk = entity.primaryIdAttribute;
    const where: Expr | undefined = page.after === undefined ? undefined : { kind: "compare", op: "gt", left: { kind: "column", name: pk }, right: { kind: "value", value: page.after } };
    return this.store.selectRows(org, { entity, columns: entity.attributes.map((a) => a.logicalName), ...(where ? { where } : {}), orderBy: [{ column: pk, descending: false }], limit: page.limit });
  }
}

/** The object type code of the org's next custom table (custom tables start at 10000). */
function nextObjectTypeCode(md: OrgMetadata): number {
  const codes = md.entities().filter((e) => e.isCustomEntity).map((e) => e.objectTypeCode);
  return Math.max(9999, ...codes) + 1;
}

/** Dataverse's default full-name format: "First Last". */
function fullName(row: Row): string {
  return [row.firstname, row.lastname].filter((v) => typeof v === "string" && v.length > 0).join(" ");
}

/** The `privilege` row of a table privilege (Basic/Local/Deep only for user-owned tables). */
export function privilegeRow(p: PrivilegeDefinition): Row {
  return { privilegeid: privilegeId(p.name), name: p.name, accessright: p.accessRight, canbebasic: p.basic, canbelocal: p.basic, canbedeep: p.basic, canbeglobal: true };
}

/**
 * A standard table with what an org added to it (custom columns, alternate keys), from its stored
 * definition. The built-in columns come from this build, so a data folder written by an older build
 * gets the standard columns added since (see `upgradeOrg`).
 */
/** The `privilege` row of a misc privilege (`prvActOnBehalfOfAnotherUser`, …): Global depth only. */
export function miscPrivilegeRow(name: string): Row {
  return { privilegeid: privilegeId(name), name, accessright: 0, canbebasic: false, canbelocal: false, canbedeep: false, canbeglobal: true };
}

function extendStandard(builtin: EntityMetadata, stored: EntityMetadata | undefined): EntityMetadata {
  if (!stored) return builtin;
  const names = new Set(builtin.attributes.map((a) => a.logicalName));
  const added = stored.attributes.filter((a) => !names.has(a.logicalName));
  return { ...builtin, attributes: [...builtin.attributes, ...added], ...(stored.keys && stored.keys.length > 0 ? { keys: stored.keys } : {}) };
}

function eqExpr(column: string, value: string | null): Expr {
  return { kind: "compare", op: "eq", left: { kind: "column", name: column }, right: { kind: "value", value } };
}
