/**
 * The role data model through DataverseService: predefined roles on org creation,
 * business units with default teams, and the legacy "no default role for an
 * application user" switch.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataverseService } from "../../src/dataverse/service.ts";
import type { EntityMetadata } from "../../src/dataverse/metadata/types.ts";
import type { Org } from "../../src/dataverse/model.ts";
import { openDatabase, type Database } from "../../src/store/database.ts";
import { SqlDataverseStore } from "../../src/store/dataverse-store.ts";
import { DEMO } from "../../src/index.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const TENANT = "00000000-0000-4000-8000-0000000000a1";
const APP_ID = "00000000-0000-4000-8000-0000000000a2";

describe("role model", () => {
  let database: Database;
  let store: SqlDataverseStore;
  beforeAll(async () => {
    database = await openDatabase({ inMemory: true, dataDir: "" });
    store = new SqlDataverseStore(database.db, database.adapter);
  });
  afterAll(async () => {
    await database.close();
  });
  const directory = { servicePrincipal: async () => ({ objectId: "00000000-0000-4000-8000-0000000000a3", applicationIdUri: null, displayName: "app" }), user: async () => undefined };
  const service = (forbid: boolean) => new DataverseService(store, { now: () => Date.now() }, directory, { forbidDefaultRolesForApplicationUsers: forbid });
  const rows = (svc: DataverseService, org: Org, table: string, column: string, value: string) =>
    store.selectRows(org, { entity: svc.metadataFor(org).entity(table) as EntityMetadata, columns: (svc.metadataFor(org).entity(table) as EntityMetadata).attributes.map((a) => a.logicalName), where: { kind: "compare", op: "eq", left: { kind: "column", name: column }, right: { kind: "value", value } }, orderBy: [] });

  it("creates the predefined roles with their template ids", async () => {
    const svc = service(false);
    const { org, defaultRoleIds, systemAdministratorRoleId } = await svc.createOrg({ name: "roles1", tenantId: TENANT });
    expect(Object.keys(defaultRoleIds)).toEqual(["System Administrator", "System Customizer", "Basic User", "Delegate", "Environment Maker"]);
    expect(defaultRoleIds["System Administrator"]).toBe(systemAdministratorRoleId);
    const [sysadmin] = await rows(svc, org, "role", "roleid", systemAdministratorRoleId);
    expect(sysadmin?.roletemplateid).toBe("627090ff-40a3-4053-8790-584edc5be201");
    const delegate = await rows(svc, org, "roleprivileges", "roleid", defaultRoleIds.Delegate as string);
    expect(delegate).toHaveLength(1);
    expect(delegate[0]?.privilegedepthmask).toBe(8);
  });

  it("creates a business unit under a parent, with its default team", async () => {
    const svc = service(false);
    const { org, rootBusinessUnitId } = await svc.createOrg({ name: "roles2", tenantId: TENANT });
    const { businessUnitId, defaultTeamId } = await svc.createBusinessUnit(org, { name: "Sales", parentBusinessUnitId: rootBusinessUnitId });
    const [bu] = await rows(svc, org, "businessunit", "businessunitid", businessUnitId);
    expect(bu?.parentbusinessunitid).toBe(rootBusinessUnitId);
    const [team] = await rows(svc, org, "team", "teamid", defaultTeamId);
    expect(team).toMatchObject({ businessunitid: businessUnitId, name: "Sales", teamtype: 0 });
    expect(Boolean(team?.isdefault)).toBe(true);
    await expect(svc.createBusinessUnit(org, { name: "Orphan", parentBusinessUnitId: "00000000-0000-4000-8000-000000000999" })).rejects.toMatchObject({ status: 404 });
  });

  it("the legacy rule refuses a default role for an application user when switched on", async () => {
    const strict = service(true);
    const { org, rootBusinessUnitId, defaultRoleIds } = await strict.createOrg({ name: "roles3", tenantId: TENANT });
    const custom = await strict.createRole(org, { name: "Custom", businessUnitId: rootBusinessUnitId, privileges: [{ name: "prvReadAccount", depth: "Global" }] });
    const appUser = await strict.createApplicationUser(org, { applicationId: APP_ID, businessUnitId: rootBusinessUnitId, roleIds: [custom] });
    await expect(strict.assignRole(org, appUser, defaultRoleIds["System Administrator"] as string)).rejects.toMatchObject({
      status: 400,
      message: `The application user ${appUser} cannot be associated with the default security role 'System Administrator'. You must create a custom security role.`,
    });
    // Interactive users may hold default roles; with the switch off, so may application users.
    const human = await strict.createSystemUser(org, { businessUnitId: rootBusinessUnitId, lastName: "Human", roleIds: [defaultRoleIds["Basic User"] as string] });
    expect(await rows(strict, org, "systemuserroles", "systemuserid", human)).toHaveLength(1);
    await service(false).assignRole(org, appUser, defaultRoleIds["System Administrator"] as string);
    expect(await rows(strict, org, "systemuserroles", "systemuserid", appUser)).toHaveLength(2);
  });
});

describe("privilege depths", () => {
  const orgbox = useOrgbox();

  it("organization-owned tables and misc privileges allow only Global", async () => {
    const o = orgbox();
    const org = (await o.dataverse.service.findOrg("contoso"))!;
    await expect(o.dataverse.service.createRole(org, { name: "Bad", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadTransactionCurrency", depth: "Basic" }] })).rejects.toThrow(/cannot be granted at Basic depth/);
    await expect(o.dataverse.service.createRole(org, { name: "Bad2", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvActOnBehalfOfAnotherUser", depth: "Local" }] })).rejects.toThrow(/cannot be granted at Local depth/);
    await expect(o.dataverse.service.createRole(org, { name: "Good", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadTransactionCurrency", depth: "Global" }, { name: "prvReadAccount", depth: "Basic" }] })).resolves.toMatch(/^[0-9a-f-]{36}$/);
  });
});
