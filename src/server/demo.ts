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
