import type { OrgboxEnvironment } from "../environment/schema.ts";

/**
 * The deterministic demo environment, like Azurite's well-known account: the
 * same ids and credentials on every machine, documented in the README.
 * Never use these values outside local development and CI.
 */
export const DEMO = {
  tenantId: "c0de0000-0000-4000-8000-000000000001",
  tenantDomain: "contoso.onmicrosoft.com",
  tenantDisplayName: "Contoso",
  admin: {
    id: "c0de0000-0000-4000-8000-000000000002",
    username: "admin@contoso.onmicrosoft.com",
    password: "orgbox-Admin-1",
    displayName: "Contoso Admin",
  },
  app: {
    clientId: "c0de0000-0000-4000-8000-00000000a001",
    objectId: "c0de0000-0000-4000-8000-00000000a002",
    servicePrincipalId: "c0de0000-0000-4000-8000-00000000a003",
    secretKeyId: "c0de0000-0000-4000-8000-00000000a004",
    clientSecret: "dmo8Q~orgbox-demo-secret-not-for-production",
    displayName: "orgbox demo integration",
  },
  /** The "Graph admin" app: Microsoft Graph application permissions consented, for `{url}/graph/v1.0` (README "Microsoft Graph"). */
  graphAdmin: {
    clientId: "c0de0000-0000-4000-8000-00000000b001",
    objectId: "c0de0000-0000-4000-8000-00000000b002",
    servicePrincipalId: "c0de0000-0000-4000-8000-00000000b003",
    secretKeyId: "c0de0000-0000-4000-8000-00000000b004",
    clientSecret: "gph8Q~orgbox-graph-admin-secret-not-for-production",
    displayName: "orgbox Graph admin",
  },
  org: {
    name: "contoso",
    id: "c0de0000-0000-4000-8000-00000000d001",
    rootBusinessUnitId: "c0de0000-0000-4000-8000-00000000d002",
    applicationUserId: "c0de0000-0000-4000-8000-00000000d003",
    integrationRoleId: "c0de0000-0000-4000-8000-00000000d004",
    adminSystemUserId: "c0de0000-0000-4000-8000-00000000d005",
    baseCurrencyId: "c0de0000-0000-4000-8000-00000000d006",
  },
} as const;

/** Sample account names (Microsoft's fictitious companies). */
export const SAMPLE_ACCOUNTS = [
  "Contoso Ltd", "Fabrikam Inc", "Adventure Works", "Northwind Traders", "Litware Inc", "A. Datum Corporation",
  "Alpine Ski House", "Blue Yonder Airlines", "City Power & Light", "Coho Winery", "Fourth Coffee", "Humongous Insurance",
  "Lucerne Publishing", "Margie's Travel", "Proseware Inc", "Southridge Video", "Tailspin Toys", "Trey Research",
  "Wide World Importers", "Woodgrove Bank",
] as const;

export const SAMPLE_PEOPLE = [
  ["Nancy", "Davolio"], ["Andrew", "Fuller"], ["Janet", "Leverling"], ["Margaret", "Peacock"], ["Steven", "Buchanan"],
  ["Michael", "Suyama"], ["Robert", "King"], ["Laura", "Callahan"], ["Anne", "Dodsworth"], ["Yvonne", "McKay"],
  ["Susanna", "Stubberod"], ["Scott", "Konersmann"], ["Sidney", "Higa"], ["Maria", "Campbell"], ["Thomas", "Andersen"],
  ["Patrick", "Sands"], ["Rene", "Valdes"], ["Paul", "Cannon"], ["Rachel", "Valdes"], ["Sven", "Mortensen"],
] as const;

/** A deterministic GUID for sample row `index` of a kind (1 accounts, 2 contacts, 3 leads). */
export function sampleId(kind: 1 | 2 | 3, index: number): string {
  return `c0de000${kind}-0000-4000-8000-${String(index + 1).padStart(12, "0")}`;
}

/** A sample row as the demo seed inserts it (column → value), in file order. */
export type DemoRow = Record<string, string | number | boolean>;

const CITIES = ["Seattle", "Redmond", "London", "Paris", "Berlin", "Sydney", "Toronto", "Tokyo"] as const;
const JOB_TITLES = ["Purchasing Manager", "CEO", "CTO", "Sales Director", "Engineer"] as const;
const LEAD_TOPICS = ["Interested in 500 units", "Needs a quote for services", "Trade show follow-up", "Website enquiry", "Partner referral", "Renewal opportunity"] as const;

/** The 20 sample accounts (one per {@link SAMPLE_ACCOUNTS} name). */
export function demoAccounts(): DemoRow[] {
  return SAMPLE_ACCOUNTS.map((name, i) => ({
    accountid: sampleId(1, i),
    name,
    accountnumber: `ACC-${String(1001 + i)}`,
    telephone1: `+1 425 555 ${String(100 + i).padStart(4, "0")}`,
    emailaddress1: `info@${name.toLowerCase().replace(/[^a-z]+/g, "")}.example`,
    address1_city: CITIES[i % CITIES.length] as string,
    revenue: 100000 * (i + 1),
    numberofemployees: 10 * (i + 3),
    industrycode: [1, 7, 13, 25, 33, 27, 31][i % 7] as number,
    creditonhold: i % 5 === 0,
    transactioncurrencyid: DEMO.org.baseCurrencyId,
  }));
}

/** The 40 sample contacts, each with its company: `parentcustomerid` is the account's id (index `accountIndex` of {@link demoAccounts}). */
export function demoContacts(): (DemoRow & { accountIndex: number })[] {
  return Array.from({ length: SAMPLE_PEOPLE.length * 2 }, (_, i) => {
    const [first, last] = SAMPLE_PEOPLE[i % SAMPLE_PEOPLE.length] as readonly [string, string];
    const accountIndex = i % SAMPLE_ACCOUNTS.length;
    return {
      contactid: sampleId(2, i),
      firstname: first,
      lastname: i < SAMPLE_PEOPLE.length ? last : `${last}-${i}`,
      emailaddress1: `${first.toLowerCase()}.${last.toLowerCase()}${i}@example.com`,
      jobtitle: JOB_TITLES[i % JOB_TITLES.length] as string,
      parentcustomerid: sampleId(1, accountIndex),
      transactioncurrencyid: DEMO.org.baseCurrencyId,
      accountIndex,
    };
  });
}

/** The 24 sample leads. */
export function demoLeads(): DemoRow[] {
  return Array.from({ length: 24 }, (_, i) => {
    const [first, last] = SAMPLE_PEOPLE[(i * 3) % SAMPLE_PEOPLE.length] as readonly [string, string];
    return {
      leadid: sampleId(3, i),
      subject: `${LEAD_TOPICS[i % LEAD_TOPICS.length]} (${i + 1})`,
      firstname: first,
      lastname: last,
      companyname: SAMPLE_ACCOUNTS[(i * 7) % SAMPLE_ACCOUNTS.length] as string,
      emailaddress1: `${first.toLowerCase()}@lead${i}.example`,
      leadsourcecode: [1, 2, 3, 4, 7, 8][i % 6] as number,
      leadqualitycode: (i % 3) + 1,
      estimatedamount: 5000 + 2500 * i,
      transactioncurrencyid: DEMO.org.baseCurrencyId,
    };
  });
}

/** The privileges of the demo integration role: Create, Read, Write, Append and AppendTo on account, contact and lead. */
export const DEMO_INTEGRATION_PRIVILEGES: readonly string[] = ["Account", "Contact", "Lead"].flatMap((t) => ["Create", "Read", "Write", "Append", "AppendTo"].map((v) => `prv${v}${t}`));

/**
 * The demo as an environment document: what `examples/demo.orgbox.yaml` holds (a test checks that the
 * file equals it). The seed (`seed.ts`) builds the same demo from the same constants and rows, through
 * the services directly, which keeps the start fast.
 */
export function demoEnvironment(): OrgboxEnvironment {
  return {
    tenants: [
      {
        id: DEMO.tenantId,
        displayName: DEMO.tenantDisplayName,
        domains: [DEMO.tenantDomain],
        users: [{ id: DEMO.admin.id, userPrincipalName: DEMO.admin.username, displayName: DEMO.admin.displayName, givenName: "Contoso", surname: "Admin", password: DEMO.admin.password, globalAdministrator: true }],
      },
    ],
    apps: [
      {
        appId: DEMO.app.clientId,
        objectId: DEMO.app.objectId,
        servicePrincipalId: DEMO.app.servicePrincipalId,
        displayName: DEMO.app.displayName,
        tenant: DEMO.tenantDomain,
        signInAudience: "AzureADMyOrg",
        redirectUris: { web: ["http://localhost:3000/callback"] },
        secrets: [{ value: DEMO.app.clientSecret, keyId: DEMO.app.secretKeyId, displayName: "demo", expires: "2099-12-31T00:00:00Z" }],
        apiPermissions: [{ resource: "Dynamics CRM", scopes: ["user_impersonation"] }],
      },
    ],
    orgs: [
      {
        name: DEMO.org.name,
        id: DEMO.org.id,
        tenant: DEMO.tenantDomain,
        displayName: "Contoso",
        rootBusinessUnitId: DEMO.org.rootBusinessUnitId,
        baseCurrencyId: DEMO.org.baseCurrencyId,
        roles: [{ id: DEMO.org.integrationRoleId, name: "orgbox Demo Integration", privileges: Object.fromEntries(DEMO_INTEGRATION_PRIVILEGES.map((p) => [p, "Global" as const])) }],
        users: [{ id: DEMO.org.adminSystemUserId, user: DEMO.admin.username, firstname: "Contoso", lastname: "Admin", roles: ["System Administrator"] }],
        applicationUsers: [{ id: DEMO.org.applicationUserId, app: DEMO.app.clientId, fullName: "# orgbox demo integration", roles: ["orgbox Demo Integration"] }],
        defaultOwner: DEMO.admin.username,
        data: {
          account: demoAccounts().map((row, i) => ({ "@key": `account-${i + 1}`, ...row })),
          contact: demoContacts().map(({ accountIndex, ...row }) => ({ ...row, parentcustomerid: `@ref:account-${accountIndex + 1}` })),
          lead: demoLeads(),
        },
      },
    ],
  };
}
