import type { IdentityService } from "../identity/index.ts";
import { GLOBAL_ADMINISTRATOR_ROLE, DYNAMICS_CRM_APP_ID, GRAPH_PERMISSIONS, MICROSOFT_GRAPH_APP_ID } from "../identity/index.ts";
import type { DataverseService } from "../dataverse/index.ts";
import { DEMO, SAMPLE_ACCOUNTS, SAMPLE_PEOPLE, sampleId } from "./demo.ts";

/**
 * Seeds the demo environment ({@link DEMO}) into an empty store: the Contoso
 * tenant and its admin, the demo confidential app with its secret and service
 * principal, the `contoso` org with an application user holding a custom role
 * (organization-level Create/Read/Write/Append/AppendTo on account, contact and
 * lead), and sample accounts, contacts and leads.
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

  const verbs = ["Create", "Read", "Write", "Append", "AppendTo"];
  const tables = ["Account", "Contact", "Lead"];
  await dataverse.createRole(org, {
    id: DEMO.org.integrationRoleId,
    name: "orgbox Demo Integration",
    businessUnitId: rootBusinessUnitId,
    privileges: tables.flatMap((t) => verbs.map((v) => ({ name: `prv${v}${t}`, depth: "Global" as const }))),
  });
  await dataverse.createApplicationUser(org, { applicationId: DEMO.app.clientId, businessUnitId: rootBusinessUnitId, id: DEMO.org.applicationUserId, fullName: "# orgbox demo integration", roleIds: [DEMO.org.integrationRoleId] });

  const owner = { id: DEMO.org.adminSystemUserId, businessUnitId: rootBusinessUnitId };
  const caller = DEMO.org.adminSystemUserId;
  const cities = ["Seattle", "Redmond", "London", "Paris", "Berlin", "Sydney", "Toronto", "Tokyo"];
  for (const [i, name] of SAMPLE_ACCOUNTS.entries()) {
    await dataverse.insert(
      org,
      "account",
      {
        accountid: sampleId(1, i),
        name,
        accountnumber: `ACC-${String(1001 + i)}`,
        telephone1: `+1 425 555 ${String(100 + i).padStart(4, "0")}`,
        emailaddress1: `info@${name.toLowerCase().replace(/[^a-z]+/g, "")}.example`,
        address1_city: cities[i % cities.length],
        revenue: 100000 * (i + 1),
        numberofemployees: 10 * (i + 3),
        industrycode: [1, 7, 13, 25, 33, 27, 31][i % 7],
        creditonhold: i % 5 === 0,
        transactioncurrencyid: DEMO.org.baseCurrencyId,
      },
      caller,
      owner,
    );
  }
  for (let i = 0; i < SAMPLE_PEOPLE.length * 2; i++) {
    const [first, last] = SAMPLE_PEOPLE[i % SAMPLE_PEOPLE.length] as readonly [string, string];
    const accountIndex = i % SAMPLE_ACCOUNTS.length;
    await dataverse.insert(
      org,
      "contact",
      {
        contactid: sampleId(2, i),
        firstname: first,
        lastname: i < SAMPLE_PEOPLE.length ? last : `${last}-${i}`,
        emailaddress1: `${first.toLowerCase()}.${last.toLowerCase()}${i}@example.com`,
        jobtitle: ["Purchasing Manager", "CEO", "CTO", "Sales Director", "Engineer"][i % 5],
        parentcustomerid: sampleId(1, accountIndex),
        parentcustomeridtype: "account",
        transactioncurrencyid: DEMO.org.baseCurrencyId,
      },
      caller,
      owner,
    );
  }
  const topics = ["Interested in 500 units", "Needs a quote for services", "Trade show follow-up", "Website enquiry", "Partner referral", "Renewal opportunity"];
  for (let i = 0; i < 24; i++) {
    const [first, last] = SAMPLE_PEOPLE[(i * 3) % SAMPLE_PEOPLE.length] as readonly [string, string];
    await dataverse.insert(
      org,
      "lead",
      {
        leadid: sampleId(3, i),
        subject: `${topics[i % topics.length]} (${i + 1})`,
        firstname: first,
        lastname: last,
        companyname: SAMPLE_ACCOUNTS[(i * 7) % SAMPLE_ACCOUNTS.length],
        emailaddress1: `${first.toLowerCase()}@lead${i}.example`,
        leadsourcecode: [1, 2, 3, 4, 7, 8][i % 6],
        leadqualitycode: (i % 3) + 1,
        estimatedamount: 5000 + 2500 * i,
        transactioncurrencyid: DEMO.org.baseCurrencyId,
      },
      caller,
      owner,
    );
  }
}
