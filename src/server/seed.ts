import type { IdentityService } from "../identity/index.ts";
import { GLOBAL_ADMINISTRATOR_ROLE, DYNAMICS_CRM_APP_ID, GRAPH_PERMISSIONS, MICROSOFT_GRAPH_APP_ID } from "../identity/index.ts";
import type { DataverseService } from "../dataverse/index.ts";
import { DEMO, DEMO_INTEGRATION_PRIVILEGES, demoAccounts, demoContacts, demoLeads } from "./demo.ts";

/**
 * Seeds the demo environment ({@link DEMO}) into an empty store: the Contoso
 * tenant and its admin, the demo confidential app with its secret and service
 * principal, the `contoso` org with an application user holding a custom role
 * (organization-level Create/Read/Write/Append/AppendTo on account, contact and
 * lead), and sample accounts, contacts and leads. The rows and constants are those of `demo.ts`, which
 * also gives the demo as an environment document (`demoEnvironment()`, what examples/demo.orgbox.yaml holds).
 */
export async function seedDemo(identity: IdentityService, dataverse: DataverseService, now: number): Promise<void> {
  const tenant = await identity.createTenant({ id: DEMO.tenantId, displayName: DEMO.tenantDisplayName, defaultDomain: DEMO.tenantDomain });
  await identity.createUser({
    tenantId: tenant.id,
    id: DEMO.admin.id,
    userPrincipalName: DEMO.admin.username,
    displayName: DEMO.admin.displayName,
    givenName: "Contoso",
    surname: "Admin",
    password: DEMO.admin.password,
    directoryRoles: [GLOBAL_ADMINISTRATOR_ROLE],
  });
  await identity.registerApplication({
    tenantId: tenant.id,
    appId: DEMO.app.clientId,
    objectId: DEMO.app.objectId,
    servicePrincipalId: DEMO.app.servicePrincipalId,
    displayName: DEMO.app.displayName,
    signInAudience: "AzureADMyOrg",
    webRedirectUris: ["http://localhost:3000/callback"],
    requiredResourceAccess: [{ resourceAppId: DYNAMICS_CRM_APP_ID, resourceAccess: [{ id: "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4", type: "Scope" }] }],
  });
  await identity.addPassword({ appId: DEMO.app.clientId, keyId: DEMO.app.secretKeyId, displayName: "demo", value: DEMO.app.clientSecret, startDateTime: now - 60_000, endDateTime: Date.UTC(2099, 11, 31) });

  // The Graph admin app: every Microsoft Graph application permission orgbox knows (but …OwnedBy), admin-consented.
  const graphRoles = GRAPH_PERMISSIONS.filter((p) => p.roleId !== null && p.value !== "Application.ReadWrite.OwnedBy");
  await identity.registerApplication({
    tenantId: tenant.id,
    appId: DEMO.graphAdmin.clientId,
    objectId: DEMO.graphAdmin.objectId,
    servicePrincipalId: DEMO.graphAdmin.servicePrincipalId,
    displayName: DEMO.graphAdmin.displayName,
    signInAudience: "AzureADMyOrg",
    requiredResourceAccess: [{ resourceAppId: MICROSOFT_GRAPH_APP_ID, resourceAccess: graphRoles.map((p) => ({ id: p.roleId as string, type: "Role" as const })) }],
  });
  await identity.addPassword({ appId: DEMO.graphAdmin.clientId, keyId: DEMO.graphAdmin.secretKeyId, displayName: "demo", value: DEMO.graphAdmin.clientSecret, startDateTime: now - 60_000, endDateTime: Date.UTC(2099, 11, 31) });
  await identity.grantApplicationPermissions({ tenantId: tenant.id, clientAppId: DEMO.graphAdmin.clientId, resourceAppId: MICROSOFT_GRAPH_APP_ID, roles: graphRoles.map((p) => p.value) });

  const { org, rootBusinessUnitId, systemAdministratorRoleId } = await dataverse.createOrg({
    name: DEMO.org.name,
    id: DEMO.org.id,
    tenantId: tenant.id,
    displayName: "Contoso",
    rootBusinessUnitId: DEMO.org.rootBusinessUnitId,
    baseCurrencyId: DEMO.org.baseCurrencyId,
  });
  await dataverse.insert(org, "systemuser", {
    systemuserid: DEMO.org.adminSystemUserId,
    firstname: "Contoso",
    lastname: "Admin",
    domainname: DEMO.admin.username,
    internalemailaddress: DEMO.admin.username,
    azureactivedirectoryobjectid: DEMO.admin.id,
    isdisabled: false,
    accessmode: 0,
    businessunitid: rootBusinessUnitId,
  });
  await dataverse.assignRole(org, DEMO.org.adminSystemUserId, systemAdministratorRoleId);

  await dataverse.createRole(org, {
    id: DEMO.org.integrationRoleId,
    name: "orgbox Demo Integration",
    businessUnitId: rootBusinessUnitId,
    privileges: DEMO_INTEGRATION_PRIVILEGES.map((name) => ({ name, depth: "Global" as const })),
  });
  await dataverse.createApplicationUser(org, { applicationId: DEMO.app.clientId, businessUnitId: rootBusinessUnitId, id: DEMO.org.applicationUserId, fullName: "# orgbox demo integration", roleIds: [DEMO.org.integrationRoleId] });

  const owner = { id: DEMO.org.adminSystemUserId, businessUnitId: rootBusinessUnitId };
  const caller = DEMO.org.adminSystemUserId;
  for (const row of demoAccounts()) await dataverse.insert(org, "account", row, caller, owner);
  for (const { accountIndex: _account, ...row } of demoContacts()) await dataverse.insert(org, "contact", { ...row, parentcustomeridtype: "account" }, caller, owner);
  for (const row of demoLeads()) await dataverse.insert(org, "lead", row, caller, owner);
}
