import { parseManyToManyDefinition, parseOneToManyDefinition, type DataverseService, type Org } from "../dataverse/index.ts";
import type { IdentityService } from "../identity/index.ts";
import { BUILTIN_ROLE, type LoadedEnvironment } from "./load.ts";

/**
 * Applies a validated environment through the services' public methods, in
 * dependency order: tenants, users and groups, apps with assignments, secrets and certificates, consent (a service
 * principal in each consenting tenant, plus delegated `oauth2PermissionGrants`
 * for the app's `apiPermissions`), then per org: the org, custom tables and the columns and keys
 * added to standard tables, the lookup columns' one-to-many relationships, N:N relationships, solutions (ImportSolution), business units, roles,
 * interactive and application users with their roles, teams with members and roles, data rows in file order, and N:N links.
 * Meant for an empty store (the loader already checked every reference).
 * @param now start time (ms), the default start of secrets.
 * @throws the service's error if the store already holds a conflicting object.
 */
export async function applyEnvironment(env: LoadedEnvironment, identity: IdentityService, dataverse: DataverseService, now: number): Promise<void> {
  for (const tenant of env.tenants) {
    if (!tenant.existing) await identity.createTenant({ id: tenant.id, displayName: tenant.displayName, defaultDomain: tenant.defaultDomain, domains: tenant.domains });
    for (const user of tenant.users) {
      await identity.createUser({
        tenantId: tenant.id,
        id: user.id,
        userPrincipalName: user.userPrincipalName,
        displayName: user.displayName,
        ...(user.givenName !== undefined ? { givenName: user.givenName } : {}),
        ...(user.surname !== undefined ? { surname: user.surname } : {}),
        password: user.password,
        directoryRoles: user.directoryRoles,
      });
    }
    for (const group of tenant.groups) await identity.createGroup({ tenantId: tenant.id, id: group.id, displayName: group.displayName, members: group.memberIds });
  }

  for (const app of env.apps) {
    await identity.registerApplication({
      tenantId: app.tenantId,
      appId: app.appId,
      ...(app.objectId ? { objectId: app.objectId } : {}),
      ...(app.servicePrincipalId ? { servicePrincipalId: app.servicePrincipalId } : {}),
      displayName: app.displayName,
      signInAudience: app.signInAudience,
      identifierUris: app.identifierUris,
      webRedirectUris: app.webRedirectUris,
      spaRedirectUris: app.spaRedirectUris,
      publicClientRedirectUris: app.publicClientRedirectUris,
      isFallbackPublicClient: app.publicClient,
      requiredResourceAccess: app.permissions.map((p) => ({ resourceAppId: p.resourceAppId, resourceAccess: p.scopes.map((s) => ({ id: s.id, type: "Scope" as const })) })),
      ...(app.groupMembershipClaims ? { groupMembershipClaims: app.groupMembershipClaims } : {}),
      ...(app.requestedAccessTokenVersion ? { requestedAccessTokenVersion: app.requestedAccessTokenVersion } : {}),
    });
    if (app.assignmentRequired) await identity.setAppRoleAssignmentRequired(app.tenantId, app.appId, true);
    for (const a of app.assignments) {
      if (a.principalType === "User") await identity.assignUser(app.tenantId, app.appId, a.id);
      else await identity.assignGroup(app.tenantId, app.appId, a.id);
    }
    for (const secret of app.secrets) {
      await identity.addPassword({
        appId: app.appId,
        value: secret.value,
        ...(secret.keyId ? { keyId: secret.keyId } : {}),
        ...(secret.displayName !== undefined ? { displayName: secret.displayName } : {}),
        startDateTime: secret.starts ?? now - 60_000,
        ...(secret.expires !== undefined ? { endDateTime: secret.expires } : {}),
      });
    }
    for (const certificate of app.certificates) {
      await identity.addKeyCredential({ appId: app.appId, certificatePem: certificate.pem, ...(certificate.keyId ? { keyId: certificate.keyId } : {}), ...(certificate.displayName !== undefined ? { displayName: certificate.displayName } : {}) });
    }
    for (const consent of app.consents) {
      if (consent.tenantId !== app.tenantId) await identity.createServicePrincipal(consent.tenantId, app.appId, app.tenantId, consent.servicePrincipalId);
      for (const permission of app.permissions) {
        if (permission.scopes.length === 0) continue;
        await identity.grantConsent({
          tenantId: consent.tenantId,
          clientAppId: app.appId,
          resourceAppId: permission.resourceAppId,
          scopes: permission.scopes.map((s) => s.value),
          ...(consent.how === "user" && consent.userId ? { principalId: consent.userId } : {}),
        });
      }
    }
  }

  for (const spec of env.orgs) {
    const { org, rootBusinessUnitId, defaultRoleIds } = spec.existing
      ? await existingOrg(dataverse, spec.name)
      : await dataverse.createOrg({
          name: spec.name,
          id: spec.id,
          tenantId: spec.tenantId,
          displayName: spec.displayName,
          rootBusinessUnitId: spec.rootBusinessUnitId,
          baseCurrencyId: spec.baseCurrencyId,
        });
    // Option sets, then tables: columns use the sets, and roles may name the privileges of custom tables.
    for (const set of spec.optionSets) await dataverse.createGlobalOptionSet(org, set);
    for (const entity of spec.tables.custom) await dataverse.createCustomTable(org, (code) => ({ ...entity, objectTypeCode: code }));
    for (const extension of spec.tables.extensions) {
      for (const column of extension.columns) await dataverse.addCustomColumn(org, extension.table, column);
      for (const key of extension.keys) await dataverse.addAlternateKey(org, extension.table, () => key);
    }
    // Lookup columns: their one-to-many relationships, parsed again against the org as it now is.
    for (const body of spec.tables.relationships) await dataverse.createRelationship(org, (md) => parseOneToManyDefinition(body, md));
    for (const body of spec.tables.manyToMany) await dataverse.createRelationship(org, (md, code) => parseManyToManyDefinition(body, md, code));
    // Solutions, as ImportSolution installs them (each in one transaction; a failure stops the apply).
    for (const solution of spec.solutions) {
      const outcome = await dataverse.solutions.importSolution(org, solution.bytes);
      if (outcome.error) throw new Error(`org ${spec.name}: importing ${solution.file} failed: ${outcome.error.message} (${outcome.error.code}; import job ${outcome.importJobId})`);
    }
    for (const unit of spec.businessUnits) await dataverse.createBusinessUnit(org, { id: unit.id, name: unit.name, parentBusinessUnitId: unit.parentId });
    for (const role of spec.roles) await dataverse.createRole(org, { id: role.id, name: role.name, businessUnitId: role.businessUnitId, privileges: role.privileges });
    const roleId = (ref: string): string => {
      if (!ref.startsWith(BUILTIN_ROLE)) return ref;
      const id = defaultRoleIds[ref.slice(BUILTIN_ROLE.length)];
      if (!id) throw new Error(`org ${spec.name} has no predefined role '${ref.slice(BUILTIN_ROLE.length)}'`);
      return id;
    };
    for (const user of spec.users) {
      await dataverse.insert(org, "systemuser", {
        systemuserid: user.id,
        firstname: user.firstname ?? null,
        lastname: user.lastname ?? user.userPrincipalName,
        domainname: user.userPrincipalName,
        internalemailaddress: user.userPrincipalName,
        azureactivedirectoryobjectid: user.directoryUserId,
        isdisabled: false,
        accessmode: 0,
        businessunitid: user.businessUnitId,
      });
      for (const ref of user.roleIds) await dataverse.assignRole(org, user.id, roleId(ref));
    }
    for (const user of spec.applicationUsers) {
      await dataverse.createApplicationUser(org, { applicationId: user.appId, businessUnitId: user.businessUnitId, id: user.id, ...(user.fullName ? { fullName: user.fullName } : {}), roleIds: user.roleIds.map(roleId) });
    }
    for (const team of spec.teams) {
      await dataverse.createTeam(org, { id: team.id, name: team.name, businessUnitId: team.businessUnitId });
      await dataverse.addTeamMembers(org, team.id, team.memberIds);
      for (const ref of team.roleIds) await dataverse.assignTeamRole(org, team.id, roleId(ref));
    }
    const businessUnitOf = new Map<string, string>([...spec.users, ...spec.applicationUsers].map((u) => [u.id, u.businessUnitId]));
    for (const row of spec.rows) {
      const owner = row.ownerId ? { id: row.ownerId, businessUnitId: businessUnitOf.get(row.ownerId) ?? rootBusinessUnitId } : undefined;
      await dataverse.insert(org, row.table, row.values, row.ownerId, owner);
    }
    for (const link of spec.associations) await dataverse.insert(org, link.intersect, link.values);
  }
}

/**
 * An org the environment extends (the demo org, `seedDemo: true`): it, its root business unit and
 * its predefined roles by name.
 * @throws Error when the org does not exist (the demo was not seeded: `--no-seed`, or a store without it).
 */
async function existingOrg(dataverse: DataverseService, name: string): Promise<{ org: Org; rootBusinessUnitId: string; defaultRoleIds: Record<string, string> }> {
  const org = await dataverse.findOrg(name);
  if (!org) throw new Error(`the environment extends the demo org '${name}' (seedDemo: true), but the demo is not seeded (started with --no-seed?)`);
  const rootBusinessUnitId = await dataverse.rootBusinessUnitId(org);
  const roles = await dataverse.listRoles(org);
  const defaultRoleIds = Object.fromEntries(roles.filter((r) => r.businessUnitId === rootBusinessUnitId).map((r) => [r.name, r.id]));
  return { org, rootBusinessUnitId, defaultRoleIds };
}
