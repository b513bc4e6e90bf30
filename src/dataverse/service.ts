import { newGuid } from "../common/ids.ts";
import type { Clock } from "../common/clock.ts";
import { OrgboxError } from "../common/errors.ts";
import { formatDateTime } from "./format.ts";
import { OrgMetadata } from "./metadata/registry.ts";
import { STANDARD_TABLES } from "./metadata/standard.ts";
import type { EntityMetadata } from "./metadata/types.ts";
import type { Org, Row } from "./model.ts";
import { DEPTH, MISC_PRIVILEGES, privilegeId, privilegesFor, type Depth } from "./security/privileges.ts";
import type { DataverseStore } from "./store.ts";

/** What Dataverse needs to know of the directory: it asks, as the real service asks Entra. */
export interface DirectoryLookup {
  /** The service principal of `appId` in `tenantId`, if someone consented there. */
  servicePrincipal(tenantId: string, appId: string): Promise<{ objectId: string; applicationIdUri: string | null; displayName: string } | undefined>;
}

/** An operation refused by the org model (duplicate, missing reference). */
export class OrgModelError extends OrgboxError {
  constructor(message: string, status = 400) {
    super(status, message);
  }
}

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

const ORG_NAME_RE = /^[a-z][a-z0-9]{0,31}$/;

/**
 * Org administration: what the Power Platform admin center and the Dataverse
 * settings pages do. Used by the seed, the CLI and the `startOrgbox` handle.
 */
export class DataverseService {
  private readonly metadata = new Map<string, OrgMetadata>();
  private version = 0;

  private readonly store: DataverseStore;
  private readonly clock: Clock;
  private readonly directory: DirectoryLookup;

  constructor(store: DataverseStore, clock: Clock, directory: DirectoryLookup) {
    this.store = store;
    this.clock = clock;
    this.directory = directory;
}

  /** Monotonic row version (`versionnumber`). */
  nextVersion(): number {
    this.version = Math.max(this.version + 1, this.clock.now());
    return this.version;
  }

  /** The org's metadata (standard tables plus its custom ones). */
  metadataFor(org: Org): OrgMetadata {
    let md = this.metadata.get(org.id);
    if (!md) {
      md = new OrgMetadata(STANDARD_TABLES);
      this.metadata.set(org.id, md);
    }
    return md;
  }

  async findOrg(name: string): Promise<Org | undefined> {
    return this.store.findOrg(name);
  }

  async listOrgs(): Promise<Org[]> {
    return this.store.listOrgs();
  }

  /**
   * Creates an org bound to a tenant: its SQL tables, root business unit and
   * default team, the organization row, the base currency (USD), the privileges
   * and the System Administrator role.
   * @throws OrgModelError for a bad or taken name.
   */
  async createOrg(input: CreateOrgInput): Promise<{ org: Org; rootBusinessUnitId: string; systemAdministratorRoleId: string }> {
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
    for (const entity of md.entities()) {
      for (const p of privilegesFor(entity)) {
        await this.insert(org, "privilege", { privilegeid: privilegeId(p.name), name: p.name, accessright: p.accessRight, canbebasic: p.basic, canbelocal: p.basic, canbedeep: p.basic, canbeglobal: true });
      }
    }
    for (const misc of MISC_PRIVILEGES) {
      await this.insert(org, "privilege", { privilegeid: privilegeId(misc), name: misc, accessright: 0, canbebasic: false, canbelocal: false, canbedeep: false, canbeglobal: true });
    }
    const allPrivileges = [...md.entities().flatMap((e) => privilegesFor(e).map((p) => p.name)), ...MISC_PRIVILEGES];
    const systemAdministratorRoleId = await this.createRole(org, {
      name: "System Administrator",
      businessUnitId: rootBusinessUnitId,
      roleTemplateId: "627090ff-40a3-4053-8790-584edc5be201",
      privileges: allPrivileges.map((p) => ({ name: p, depth: "Global" as const })),
    });
    return { org, rootBusinessUnitId, systemAdministratorRoleId };
  }

  /**
   * Creates a security role with privileges at a depth.
   * @throws OrgModelError naming an unknown privilege.
   */
  async createRole(org: Org, input: { name: string; businessUnitId: string; id?: string; roleTemplateId?: string; privileges: { name: string; depth: Depth }[] }): Promise<string> {
    const roleId = (input.id ?? newGuid()).toLowerCase();
    const md = this.metadataFor(org);
    const known = await this.store.selectRows(org, { entity: md.entity("privilege") as EntityMetadata, columns: ["privilegeid", "name"], orderBy: [], where: { kind: "in", column: "name", values: input.privileges.map((p) => p.name) } });
    const byName = new Map(known.map((r) => [String(r.name), String(r.privilegeid)]));
    for (const p of input.privileges) if (!byName.has(p.name)) throw new OrgModelError(`the privilege '${p.name}' does not exist`);
    await this.insert(org, "role", { roleid: roleId, name: input.name, businessunitid: input.businessUnitId, roletemplateid: input.roleTemplateId ?? null, parentrootroleid: roleId, ismanaged: false });
    for (const p of input.privileges) {
      await this.insert(org, "roleprivileges", { roleprivilegeid: newGuid(), roleid: roleId, privilegeid: byName.get(p.name), privilegedepthmask: DEPTH[p.depth] });
    }
    return roleId;
  }

  /** Gives a user a role (`systemuserroles_association`). */
  async assignRole(org: Org, systemUserId: string, roleId: string): Promise<void> {
    await this.insert(org, "systemuserroles", { systemuserroleid: newGuid(), systemuserid: systemUserId.toLowerCase(), roleid: roleId.toLowerCase() });
  }

  /**
   * Creates an application user for `applicationId` (the app's client id). Like
   * Dataverse, `applicationiduri` and `azureactivedirectoryobjectid` come from the
   * app's service principal in the org's tenant.
   * @throws OrgModelError when that tenant has no service principal for the app (nobody consented).
   */
  async createApplicationUser(org: Org, input: { applicationId: string; businessUnitId: string; id?: string; fullName?: string; roleIds?: string[] }): Promise<string> {
    const sp = await this.directory.servicePrincipal(org.tenantId, input.applicationId);
    if (!sp) throw new OrgModelError(`The application '${input.applicationId}' has no service principal in the tenant of this organization. An administrator of that tenant must consent to the application first.`);
    const id = (input.id ?? newGuid()).toLowerCase();
    const name = input.fullName ?? `# ${sp.displayName}`;
    await this.insert(org, "systemuser", {
      systemuserid: id,
      fullname: name,
      lastname: name,
      domainname: `${input.applicationId.toLowerCase()}@orgbox.local`,
      applicationid: input.applicationId.toLowerCase(),
      applicationiduri: sp.applicationIdUri,
      azureactivedirectoryobjectid: sp.objectId,
      isdisabled: false,
      accessmode: 4,
      businessunitid: input.businessUnitId,
    });
    for (const roleId of input.roleIds ?? []) await this.assignRole(org, id, roleId);
    return id;
  }

  /**
   * Inserts a record with platform columns filled: id, created/modified on and
   * by, `versionnumber`, owner columns and computed `fullname`.
   */
  async insert(org: Org, logicalName: string, values: Row, callerId?: string, owner?: { id: string; businessUnitId: string }): Promise<string> {
    const entity = this.metadataFor(org).entity(logicalName);
    if (!entity) throw new OrgModelError(`table '${logicalName}' does not exist`);
    const now = formatDateTime(this.clock.now());
    const row: Row = { ...values };
    const id = String(row[entity.primaryIdAttribute] ?? newGuid()).toLowerCase();
    row[entity.primaryIdAttribute] = id;
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
      row.owninguser ??= owner.id;
      row.owningbusinessunit ??= owner.businessUnitId;
    }
    if (entity.attributes.some((a) => a.logicalName === "fullname") && row.fullname === undefined) {
      const full = [row.firstname, row.lastname].filter((v) => typeof v === "string" && v.length > 0).join(" ");
      if (full) row.fullname = full;
    }
    if (entity.attributes.some((a) => a.logicalName === "statecode") && row.statecode === undefined) {
      row.statecode = 0;
      row.statuscode ??= 1;
    }
    await this.store.insertRow(org, entity, row);
    return id;
  }
}
