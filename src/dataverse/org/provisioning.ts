import { newGuid } from "../../common/ids.ts";
import type { Clock } from "../../common/clock.ts";
import type { EntityMetadata } from "../metadata/types.ts";
import { OrgModelError } from "../model-error.ts";
import type { Org, Row } from "../model.ts";
import { defaultRoles } from "../security/default-roles.ts";
import { DEPTH, MISC_PRIVILEGES, privilegeDefinitions, privilegeId, type Depth, type PrivilegeDefinition } from "../security/privileges.ts";
import type { DataverseStore, Expr } from "../store.ts";
import type { RecordStamping } from "./stamping.ts";
import type { OrgRuntime } from "./runtime.ts";

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

/** Input for {@link OrgProvisioning.createOrg}. */
export interface CreateOrgInput {
  name: string;
  tenantId: string;
  displayName?: string;
  id?: string;
  /** Fixed ids for the root business unit and the System Administrator role (seeds). */
  rootBusinessUnitId?: string;
  baseCurrencyId?: string;
}

/** Behaviour switches of org provisioning ({@link OrgProvisioning}). */
export interface DataverseServiceOptions {
  /**
   * The legacy rule of the 2019 server-to-server documentation: "The application user cannot be
   * associated with one of the default Dataverse security roles. You must create a custom security
   * role." (learn.microsoft.com/power-apps/developer/data-platform/use-multi-tenant-server-server-authentication).
   * Off by default: current tooling routinely gives application users System Administrator.
   */
  forbidDefaultRolesForApplicationUsers?: boolean;
  /**
   * Awaited after each write that other processes on the store may cache (security tables, orgs,
   * custom definitions and record tables), before the write returns: see `SecurityStateCache`.
   * Default: nothing (one process).
   */
  onChange?: () => Promise<void>;
}

const ORG_NAME_RE = /^[a-z][a-z0-9]{0,31}$/;

/**
 * Org provisioning: what the Power Platform admin center does — orgs, business units, teams,
 * security roles, users, application users and role assignments. Used by the seed, environments,
 * the CLI and the Web API's security associations.
 */
export class OrgProvisioning {
  private readonly runtime: OrgRuntime;
  private readonly records: RecordStamping;
  private readonly clock: Clock;
  private readonly directory: DirectoryLookup;
  private readonly options: DataverseServiceOptions;

  constructor(runtime: OrgRuntime, records: RecordStamping, clock: Clock, directory: DirectoryLookup, options: DataverseServiceOptions = {}) {
    this.runtime = runtime;
    this.records = records;
    this.clock = clock;
    this.directory = directory;
    this.options = options;
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
    if (await this.runtime.store.findOrg(name)) throw new OrgModelError(`an org named '${name}' already exists`, 409);
    const org: Org = { id: (input.id ?? newGuid()).toLowerCase(), name, tenantId: input.tenantId.toLowerCase(), displayName: input.displayName ?? name, tablePrefix: await this.runtime.store.nextTablePrefix() };
    await this.runtime.store.createOrg(org, this.clock.now());
    const md = this.runtime.metadataFor(org);
    for (const entity of md.entities()) await this.runtime.store.createRecordTable(org, entity);

    const rootBusinessUnitId = (input.rootBusinessUnitId ?? newGuid()).toLowerCase();
    const currencyId = (input.baseCurrencyId ?? newGuid()).toLowerCase();
    await this.records.insert(org, "transactioncurrency", { transactioncurrencyid: currencyId, currencyname: "US Dollar", isocurrencycode: "USD", currencysymbol: "$", exchangerate: 1, currencyprecision: 2, statecode: 0, statuscode: 1 });
    await this.records.insert(org, "organization", { organizationid: org.id, name: org.displayName, basecurrencyid: currencyId });
    await this.records.insert(org, "businessunit", { businessunitid: rootBusinessUnitId, name, parentbusinessunitid: null, isdisabled: false });
    await this.records.insert(org, "team", { teamid: newGuid(), name, businessunitid: rootBusinessUnitId, teamtype: 0, isdefault: true });
    for (const p of privilegeDefinitions(md.entities())) await this.records.insert(org, "privilege", privilegeRow(p));
    for (const misc of MISC_PRIVILEGES) {
      await this.records.insert(org, "privilege", miscPrivilegeRow(misc));
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
    const md = this.runtime.metadataFor(org);
    const known = await this.runtime.store.selectRows(org, {
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
    await this.records.insert(org, "role", { roleid: roleId, name: input.name, businessunitid: input.businessUnitId, roletemplateid: input.roleTemplateId ?? null, parentrootroleid: roleId, ismanaged: false });
    for (const p of input.privileges) {
      await this.records.insert(org, "roleprivileges", { roleprivilegeid: newGuid(), roleid: roleId, privilegeid: String(byName.get(p.name)?.privilegeid), privilegedepthmask: DEPTH[p.depth] });
    }
    return roleId;
  }

  /**
   * Gives a user a role (`systemuserroles_association`).
   * @throws OrgModelError under the legacy application-user rule (see {@link assertRoleAssignable}).
   */
  async assignRole(org: Org, systemUserId: string, roleId: string): Promise<void> {
    await this.assertRoleAssignable(org, systemUserId, roleId);
    await this.records.insert(org, "systemuserroles", { systemuserroleid: newGuid(), systemuserid: systemUserId.toLowerCase(), roleid: roleId.toLowerCase() });
  }

  /**
   * Creates an application user for `applicationId` (the app's client id). Like
   * Dataverse, `applicationiduri` and `azureactivedirectoryobjectid` come from the
   * app's service principal in the org's tenant.
   * @throws OrgModelError when that tenant has no service principal for the app (nobody consented).
   */
  async createApplicationUser(org: Org, input: { applicationId: string; businessUnitId: string; id?: string; fullName?: string; roleIds?: string[] }): Promise<string> {
    const columns = await this.directoryColumns(org, input.applicationId);
    await this.assertApplicationUserFree(org, input.applicationId, this.runtime.store);
    const id = (input.id ?? newGuid()).toLowerCase();
    const name = input.fullName ?? String(columns.fullname);
    await this.records.insert(org, "systemuser", { ...columns, systemuserid: id, fullname: name, lastname: name, isdisabled: false, businessunitid: input.businessUnitId });
    for (const roleId of input.roleIds ?? []) await this.assignRole(org, id, roleId);
    return id;
  }

  /**
   * Makes a directory user of the org's tenant an interactive user of the org (what assigning a license
   * does: learn.microsoft.com/power-platform/admin/create-users#add-users-to-dataverse), with the columns
   * of {@link interactiveUserColumns}, in `businessUnitId`, with `roleIds`. Asks the directory: call it
   * outside a store transaction.
   * @returns the new systemuser id.
   * @throws OrgModelError (400) when the tenant has no such user, (412) when the org already has a user for it.
   */
  async createInteractiveUser(org: Org, input: { objectId: string; businessUnitId: string; id?: string; roleIds?: string[] }): Promise<string> {
    const columns = await this.interactiveUserColumns(org, input.objectId);
    await this.assertDirectoryUserFree(org, input.objectId, this.runtime.store);
    const id = (input.id ?? newGuid()).toLowerCase();
    await this.records.insert(org, "systemuser", { ...columns, systemuserid: id, isdisabled: false, businessunitid: input.businessUnitId.toLowerCase() });
    for (const roleId of input.roleIds ?? []) await this.assignRole(org, id, roleId);
    return id;
  }

  /**
   * The org's application users (systemusers with an `applicationid`), by full name, with the ids of
   * their roles. Two indexed queries (users, then their `systemuserroles`).
   */
  async listApplicationUsers(org: Org): Promise<{ systemUserId: string; applicationId: string; fullName: string; businessUnitId: string; isDisabled: boolean; roleIds: string[] }[]> {
    const md = this.runtime.metadataFor(org);
    const users = await this.runtime.store.selectRows(org, {
      entity: md.entity("systemuser") as EntityMetadata,
      columns: ["systemuserid", "applicationid", "fullname", "businessunitid", "isdisabled"],
      where: { kind: "not", operand: eqExpr("applicationid", null) },
      orderBy: [{ column: "fullname", descending: false }],
    });
    const ids = users.map((u) => String(u.systemuserid));
    const links = ids.length === 0 ? [] : await this.runtime.store.selectRows(org, { entity: md.entity("systemuserroles") as EntityMetadata, columns: ["systemuserid", "roleid"], where: { kind: "in", column: "systemuserid", values: ids }, orderBy: [] });
    return users.map((u) => ({
      systemUserId: String(u.systemuserid),
      applicationId: String(u.applicationid),
      fullName: String(u.fullname),
      businessUnitId: String(u.businessunitid),
      isDisabled: u.isdisabled === true || u.isdisabled === 1,
      roleIds: links.filter((l) => l.systemuserid === u.systemuserid).map((l) => String(l.roleid)),
    }));
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
    const taken = await store.countRows(org, { entity: this.runtime.metadataFor(org).entity("systemuser") as EntityMetadata, where: eqExpr("azureactivedirectoryobjectid", oid), limit: 1 });
    if (taken > 0) throw new OrgModelError(`The organization already has a user for the Microsoft Entra object '${oid}'.`, 412);
  }

  /**
   * An org has at most one application user per app.
   * @throws OrgModelError (412) when `store` already holds one for `applicationId`.
   */
  async assertApplicationUserFree(org: Org, applicationId: string, store: DataverseStore): Promise<void> {
    const appId = applicationId.toLowerCase();
    const taken = await store.countRows(org, { entity: this.runtime.metadataFor(org).entity("systemuser") as EntityMetadata, where: eqExpr("applicationid", appId), limit: 1 });
    if (taken > 0) throw new OrgModelError(`The organization already has an application user for the application '${appId}'.`, 412);
  }

  /** A privilege by id: its name and whether it allows Basic depth (user-owned tables). */
  async findPrivilege(org: Org, privilegeId: string, store: DataverseStore = this.runtime.store): Promise<{ id: string; name: string; canBeBasic: boolean } | undefined> {
    const [row] = await store.selectRows(org, { entity: this.runtime.metadataFor(org).entity("privilege") as EntityMetadata, columns: ["privilegeid", "name", "canbebasic"], where: eqExpr("privilegeid", privilegeId.toLowerCase()), orderBy: [], limit: 1 });
    return row ? { id: String(row.privilegeid), name: String(row.name), canBeBasic: row.canbebasic === 1 || row.canbebasic === true } : undefined;
  }

  /** The org's security roles (id, name, template id), by name. */
  async listRoles(org: Org): Promise<{ id: string; name: string; roleTemplateId: string | null; businessUnitId: string }[]> {
    const rows = await this.runtime.store.selectRows(org, { entity: this.runtime.metadataFor(org).entity("role") as EntityMetadata, columns: ["roleid", "name", "roletemplateid", "businessunitid"], orderBy: [{ column: "name", descending: false }] });
    return rows.map((r) => ({ id: String(r.roleid), name: String(r.name), roleTemplateId: r.roletemplateid ? String(r.roletemplateid) : null, businessUnitId: String(r.businessunitid) }));
  }

  /** The root business unit of an org (the one without a parent). */
  async rootBusinessUnitId(org: Org): Promise<string> {
    const [row] = await this.runtime.store.selectRows(org, { entity: this.runtime.metadataFor(org).entity("businessunit") as EntityMetadata, columns: ["businessunitid"], where: eqExpr("parentbusinessunitid", null), orderBy: [], limit: 1 });
    if (!row) throw new OrgModelError(`the org '${org.name}' has no root business unit`, 500);
    return String(row.businessunitid);
  }

  /**
   * Refuses a role assignment the org would refuse: with
   * {@link DataverseServiceOptions.forbidDefaultRolesForApplicationUsers}, an application user
   * (a systemuser with `applicationid`) may not hold a predefined role (one with a `roletemplateid`).
   * Web API associations (`systemuserroles_association/$ref`) call this too, reading through their
   * transaction's `store`.
   * @throws OrgModelError (400) naming the rule; 404 for an unknown user or role.
   */
  async assertRoleAssignable(org: Org, systemUserId: string, roleId: string, store: DataverseStore = this.runtime.store): Promise<void> {
    const md = this.runtime.metadataFor(org);
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
    return (await this.runtime.store.deleteRows(org, this.runtime.metadataFor(org).entity("systemuserroles") as EntityMetadata, where)) > 0;
  }

  /**
   * Creates a business unit under `parentBusinessUnitId`, with its default team (an owner
   * team named after the unit, `isdefault`), as Dataverse does
   * (learn.microsoft.com/power-platform/admin/create-edit-business-units).
   * @returns the business unit id and its default team id.
   */
  async createBusinessUnit(org: Org, input: { name: string; parentBusinessUnitId: string; id?: string; defaultTeamId?: string }): Promise<{ businessUnitId: string; defaultTeamId: string }> {
    const md = this.runtime.metadataFor(org);
    const parent = await this.runtime.store.countRows(org, { entity: md.entity("businessunit") as EntityMetadata, where: eqExpr("businessunitid", input.parentBusinessUnitId.toLowerCase()) });
    if (parent === 0) throw new OrgModelError(`businessunit With Id = ${input.parentBusinessUnitId.toLowerCase()} Does Not Exist`, 404);
    const businessUnitId = await this.records.insert(org, "businessunit", { businessunitid: input.id, name: input.name, parentbusinessunitid: input.parentBusinessUnitId.toLowerCase(), isdisabled: false });
    const defaultTeamId = await this.records.insert(org, "team", { teamid: input.defaultTeamId, name: input.name, businessunitid: businessUnitId, teamtype: 0, isdefault: true });
    return { businessUnitId, defaultTeamId };
  }

  /** Creates a team (owner team by default) in a business unit. */
  async createTeam(org: Org, input: { name: string; businessUnitId: string; id?: string; teamType?: 0 | 1 | 2 | 3 }): Promise<string> {
    return this.records.insert(org, "team", { teamid: input.id, name: input.name, businessunitid: input.businessUnitId.toLowerCase(), teamtype: input.teamType ?? 0, isdefault: false });
  }

  /** Adds users to a team (`teammembership`, what `AddMembersTeam` does). */
  async addTeamMembers(org: Org, teamId: string, systemUserIds: string[]): Promise<void> {
    for (const id of systemUserIds) await this.records.insert(org, "teammembership", { teammembershipid: newGuid(), teamid: teamId.toLowerCase(), systemuserid: id.toLowerCase() });
  }

  /** Removes a user from a team. */
  async removeTeamMember(org: Org, teamId: string, systemUserId: string): Promise<boolean> {
    const where: Expr = { kind: "and", left: eqExpr("teamid", teamId.toLowerCase()), right: eqExpr("systemuserid", systemUserId.toLowerCase()) };
    return (await this.runtime.store.deleteRows(org, this.runtime.metadataFor(org).entity("teammembership") as EntityMetadata, where)) > 0;
  }

  /** Gives a team a role (`teamroles_association`); every member gets its privileges. */
  async assignTeamRole(org: Org, teamId: string, roleId: string): Promise<void> {
    await this.records.insert(org, "teamroles", { teamroleid: newGuid(), teamid: teamId.toLowerCase(), roleid: roleId.toLowerCase() });
  }

  /** Creates an interactive (licensed) user, optionally linked to an Entra user by object id. */
  async createSystemUser(org: Org, input: { businessUnitId: string; firstName?: string; lastName: string; id?: string; domainName?: string; azureActiveDirectoryObjectId?: string; roleIds?: string[] }): Promise<string> {
    const id = await this.records.insert(org, "systemuser", {
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
}

/** The `privilege` row of a table privilege (Basic/Local/Deep only for user-owned tables). */
export function privilegeRow(p: PrivilegeDefinition): Row {
  return { privilegeid: privilegeId(p.name), name: p.name, accessright: p.accessRight, canbebasic: p.basic, canbelocal: p.basic, canbedeep: p.basic, canbeglobal: true };
}

/** The `privilege` row of a misc privilege (`prvActOnBehalfOfAnotherUser`, …): Global depth only. */
export function miscPrivilegeRow(name: string): Row {
  return { privilegeid: privilegeId(name), name, accessright: 0, canbebasic: false, canbelocal: false, canbedeep: false, canbeglobal: true };
}

function eqExpr(column: string, value: string | null): Expr {
  return { kind: "compare", op: "eq", left: { kind: "column", name: column }, right: { kind: "value", value } };
}
