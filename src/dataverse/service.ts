import type { Clock } from "../common/clock.ts";
import type { OrgMetadata } from "./metadata/registry.ts";
import type { Org } from "./model.ts";
import type { SecurityStateCache } from "./security/cache.ts";
import type { DataverseStore } from "./store.ts";
import { OrgCustomization } from "./org/customization.ts";
import { OrgProvisioning, type DataverseServiceOptions, type DirectoryLookup } from "./org/provisioning.ts";
import { OrgRuntime } from "./org/runtime.ts";
import { RecordStamping } from "./org/stamping.ts";
import { OrgSolutions } from "./solutions/service.ts";

export { OrgModelError } from "./model-error.ts";
export type { CreateOrgInput, DataverseServiceOptions, DirectoryLookup, DirectoryUser } from "./org/provisioning.ts";
export { miscPrivilegeRow, privilegeRow } from "./org/provisioning.ts";

/**
 * Org administration, split by responsibility (#13) behind one facade for its many callers (the seed,
 * environments, the CLI, the `startOrgbox` handle, tests):
 *
 * - {@link runtime} ({@link OrgRuntime}): what a request needs — the store, org lookups, each org's
 *   cached metadata, the per-caller security state cache, the clock.
 * - {@link provisioning} ({@link OrgProvisioning}): orgs, business units, teams, roles, users,
 *   application users and role assignments.
 * - {@link customization} ({@link OrgCustomization}): custom tables, columns, alternate keys,
 *   relationships and global option sets.
 * - {@link solutions} ({@link OrgSolutions}): publishers, solutions, import and export, managed layers, uninstall.
 * - {@link records} ({@link RecordStamping}): platform columns on Create/Update (`stampNew`,
 *   `stampUpdate`, `versionnumber`), the org model's own inserts (with currency columns) and full scans.
 *
 * Each method of the facade is its part's method (same signature and behaviour); new code may take
 * the part it needs instead of the whole service.
 */
export class DataverseService {
  readonly runtime: OrgRuntime;
  readonly records: RecordStamping;
  readonly provisioning: OrgProvisioning;
  readonly customization: OrgCustomization;
  readonly solutions: OrgSolutions;

  constructor(store: DataverseStore, clock: Clock, directory: DirectoryLookup, options: DataverseServiceOptions = {}) {
    this.runtime = new OrgRuntime(store, clock, options.onChange);
    this.records = new RecordStamping(this.runtime, clock);
    this.provisioning = new OrgProvisioning(this.runtime, this.records, clock, directory, options);
    this.customization = new OrgCustomization(this.runtime, this.records, clock);
    this.solutions = new OrgSolutions(this.runtime, this.records, this.customization, clock);
  }

  // ── Runtime ──────────────────────────────────────────────────────────────────

  /** The store every Dataverse read and write goes through, reporting security-relevant writes to {@link securityState}. */
  get store(): DataverseStore {
    return this.runtime.store;
  }

  /** The per-caller security state of every org, kept across requests. */
  get securityState(): SecurityStateCache {
    return this.runtime.securityState;
  }

  /** See {@link OrgRuntime.metadataFor}. */
  metadataFor(org: Org): OrgMetadata {
    return this.runtime.metadataFor(org);
  }
  /** See {@link OrgRuntime.loadMetadata}. */
  readonly loadMetadata: OrgRuntime["loadMetadata"] = (...args) => this.runtime.loadMetadata(...args);
  /** See {@link OrgRuntime.now}. */
  readonly now: OrgRuntime["now"] = () => this.runtime.now();
  /** See {@link OrgRuntime.invalidateCaches}. */
  readonly invalidateCaches: OrgRuntime["invalidateCaches"] = () => this.runtime.invalidateCaches();
  /** See {@link OrgRuntime.findOrg}. */
  readonly findOrg: OrgRuntime["findOrg"] = (...args) => this.runtime.findOrg(...args);
  /** See {@link OrgRuntime.listOrgs}. */
  readonly listOrgs: OrgRuntime["listOrgs"] = () => this.runtime.listOrgs();

  // ── Record stamping ──────────────────────────────────────────────────────────

  /** See {@link RecordStamping.nextVersion}. */
  readonly nextVersion: RecordStamping["nextVersion"] = () => this.records.nextVersion();
  /** See {@link RecordStamping.insert}. */
  readonly insert: RecordStamping["insert"] = (...args) => this.records.insert(...args);
  /** See {@link RecordStamping.stampNew}. */
  readonly stampNew: RecordStamping["stampNew"] = (...args) => this.records.stampNew(...args);
  /** See {@link RecordStamping.stampUpdate}. */
  readonly stampUpdate: RecordStamping["stampUpdate"] = (...args) => this.records.stampUpdate(...args);
  /** See {@link RecordStamping.listRows}. */
  readonly listRows: RecordStamping["listRows"] = (...args) => this.records.listRows(...args);

  // ── Provisioning ─────────────────────────────────────────────────────────────

  /** See {@link OrgProvisioning.createOrg}; the new org also gets its publishers and solutions ({@link OrgSolutions.ensureBaseline}). */
  readonly createOrg: OrgProvisioning["createOrg"] = async (...args) => {
    const created = await this.provisioning.createOrg(...args);
    await this.solutions.ensureBaseline(created.org);
    return created;
  };
  /** See {@link OrgProvisioning.createRole}. */
  readonly createRole: OrgProvisioning["createRole"] = (...args) => this.provisioning.createRole(...args);
  /** See {@link OrgProvisioning.assignRole}. */
  readonly assignRole: OrgProvisioning["assignRole"] = (...args) => this.provisioning.assignRole(...args);
  /** See {@link OrgProvisioning.removeRole}. */
  readonly removeRole: OrgProvisioning["removeRole"] = (...args) => this.provisioning.removeRole(...args);
  /** See {@link OrgProvisioning.assertRoleAssignable}. */
  readonly assertRoleAssignable: OrgProvisioning["assertRoleAssignable"] = (...args) => this.provisioning.assertRoleAssignable(...args);
  /** See {@link OrgProvisioning.createApplicationUser}. */
  readonly createApplicationUser: OrgProvisioning["createApplicationUser"] = (...args) => this.provisioning.createApplicationUser(...args);
  /** See {@link OrgProvisioning.createInteractiveUser}. */
  readonly createInteractiveUser: OrgProvisioning["createInteractiveUser"] = (...args) => this.provisioning.createInteractiveUser(...args);
  /** See {@link OrgProvisioning.listApplicationUsers}. */
  readonly listApplicationUsers: OrgProvisioning["listApplicationUsers"] = (...args) => this.provisioning.listApplicationUsers(...args);
  /** See {@link OrgProvisioning.directoryColumns}. */
  readonly directoryColumns: OrgProvisioning["directoryColumns"] = (...args) => this.provisioning.directoryColumns(...args);
  /** See {@link OrgProvisioning.interactiveUserColumns}. */
  readonly interactiveUserColumns: OrgProvisioning["interactiveUserColumns"] = (...args) => this.provisioning.interactiveUserColumns(...args);
  /** See {@link OrgProvisioning.assertDirectoryUserFree}. */
  readonly assertDirectoryUserFree: OrgProvisioning["assertDirectoryUserFree"] = (...args) => this.provisioning.assertDirectoryUserFree(...args);
  /** See {@link OrgProvisioning.assertApplicationUserFree}. */
  readonly assertApplicationUserFree: OrgProvisioning["assertApplicationUserFree"] = (...args) => this.provisioning.assertApplicationUserFree(...args);
  /** See {@link OrgProvisioning.findPrivilege}. */
  readonly findPrivilege: OrgProvisioning["findPrivilege"] = (...args) => this.provisioning.findPrivilege(...args);
  /** See {@link OrgProvisioning.listRoles}. */
  readonly listRoles: OrgProvisioning["listRoles"] = (...args) => this.provisioning.listRoles(...args);
  /** See {@link OrgProvisioning.rootBusinessUnitId}. */
  readonly rootBusinessUnitId: OrgProvisioning["rootBusinessUnitId"] = (...args) => this.provisioning.rootBusinessUnitId(...args);
  /** See {@link OrgProvisioning.createBusinessUnit}. */
  readonly createBusinessUnit: OrgProvisioning["createBusinessUnit"] = (...args) => this.provisioning.createBusinessUnit(...args);
  /** See {@link OrgProvisioning.createTeam}. */
  readonly createTeam: OrgProvisioning["createTeam"] = (...args) => this.provisioning.createTeam(...args);
  /** See {@link OrgProvisioning.addTeamMembers}. */
  readonly addTeamMembers: OrgProvisioning["addTeamMembers"] = (...args) => this.provisioning.addTeamMembers(...args);
  /** See {@link OrgProvisioning.removeTeamMember}. */
  readonly removeTeamMember: OrgProvisioning["removeTeamMember"] = (...args) => this.provisioning.removeTeamMember(...args);
  /** See {@link OrgProvisioning.assignTeamRole}. */
  readonly assignTeamRole: OrgProvisioning["assignTeamRole"] = (...args) => this.provisioning.assignTeamRole(...args);
  /** See {@link OrgProvisioning.createSystemUser}. */
  readonly createSystemUser: OrgProvisioning["createSystemUser"] = (...args) => this.provisioning.createSystemUser(...args);

  // ── Customization ────────────────────────────────────────────────────────────

  /** See {@link OrgCustomization.createCustomTable}. */
  readonly createCustomTable: OrgCustomization["createCustomTable"] = (...args) => this.customization.createCustomTable(...args);
  /** See {@link OrgCustomization.addCustomColumn}. */
  readonly addCustomColumn: OrgCustomization["addCustomColumn"] = (...args) => this.customization.addCustomColumn(...args);
  /** See {@link OrgCustomization.deleteCustomTable}. */
  readonly deleteCustomTable: OrgCustomization["deleteCustomTable"] = (...args) => this.customization.deleteCustomTable(...args);
  /** See {@link OrgCustomization.deleteCustomColumn}. */
  readonly deleteCustomColumn: OrgCustomization["deleteCustomColumn"] = (...args) => this.customization.deleteCustomColumn(...args);
  /** See {@link OrgCustomization.deleteRelationship}. */
  readonly deleteRelationship: OrgCustomization["deleteRelationship"] = (...args) => this.customization.deleteRelationship(...args);
  /** See {@link OrgCustomization.deleteGlobalOptionSet}. */
  readonly deleteGlobalOptionSet: OrgCustomization["deleteGlobalOptionSet"] = (...args) => this.customization.deleteGlobalOptionSet(...args);
  /** See {@link OrgCustomization.addAlternateKey}. */
  readonly addAlternateKey: OrgCustomization["addAlternateKey"] = (...args) => this.customization.addAlternateKey(...args);
  /** See {@link OrgCustomization.removeAlternateKey}. */
  readonly removeAlternateKey: OrgCustomization["removeAlternateKey"] = (...args) => this.customization.removeAlternateKey(...args);
  /** See {@link OrgCustomization.createRelationship}. */
  readonly createRelationship: OrgCustomization["createRelationship"] = (...args) => this.customization.createRelationship(...args);
  /** See {@link OrgCustomization.createGlobalOptionSet}. */
  readonly createGlobalOptionSet: OrgCustomization["createGlobalOptionSet"] = (...args) => this.customization.createGlobalOptionSet(...args);
}
