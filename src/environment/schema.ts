/**
 * The environment file: one document that describes tenants, users, app
 * registrations, consent, orgs, business units, security roles, application and
 * interactive users, and data rows. `orgbox start --config FILE` and
 * `startOrgbox({ config: FILE })` validate the whole file, then apply it to an
 * empty store.
 *
 * The zod schema below is the single source: the TypeScript type
 * {@link OrgboxEnvironment} and the published JSON Schema
 * (`schema/orgbox-environment.schema.json`) are derived from it.
 *
 * References between data rows: give a row a key with the `@key` column, and
 * write `@ref:KEY` as the value of a lookup column of another row (or of the same
 * table); or reference a row by an alternate key of its table, in the Web API's
 * key syntax: `@ref:account(accountnumber='A-100')`. The loader replaces it with
 * the referenced row's primary id, and fills
 * the `…type` column of polymorphic lookups (e.g. `parentcustomeridtype`).
 * Keys are unique per org. `@owner` names the owner of a row (the user principal
 * name of one of the org's interactive users, or the client id of an application
 * user); without it, the org's `defaultOwner` owns the row.
 */
import { z } from "zod";

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const guid = z.string().regex(GUID, { error: "must be a GUID (8-4-4-4-12 hex digits)" });
const nonEmpty = z.string().min(1, { error: "must not be empty" });
const domain = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$/, { error: "must be a DNS domain name" });
const upn = z.string().regex(/^[^@\s]+@[^@\s]+$/, { error: "must be a user principal name (name@domain)" });
const instant = z.string().refine((v) => !Number.isNaN(Date.parse(v)), { error: "must be an ISO 8601 date or date-time (e.g. 2099-12-31 or 2099-12-31T23:59:59Z)" });

/** A privilege depth: Basic (user), Local (business unit), Deep (parent: child business units), Global (organization). */
export const DepthSchema = z.enum(["Basic", "Local", "Deep", "Global"]);

/** A directory user. */
export const UserSchema = z.strictObject({
  /** Object id; generated when omitted. */
  id: guid.optional(),
  userPrincipalName: upn.describe("Sign-in name; its domain must be one of the tenant's domains."),
  displayName: nonEmpty.optional().describe("Default: the part of the user principal name before @."),
  givenName: z.string().optional(),
  surname: z.string().optional(),
  password: nonEmpty.describe("Known password (stored as a hash)."),
  globalAdministrator: z.boolean().optional().describe("Holds the Global Administrator directory role."),
  directoryRoles: z.array(guid).optional().describe("Further directory role template ids (the `wids` claim)."),
});

/** A security group (Microsoft Graph `group`) of users. */
export const GroupSchema = z.strictObject({
  id: guid.optional().describe("Object id (the value in the `groups` claim); generated when omitted."),
  displayName: nonEmpty.describe("Unique within the tenant: apps' `assignments` name groups by it."),
  members: z.array(upn).optional().describe("User principal names of users of this tenant."),
});

/** An Entra tenant (directory). */
export const TenantSchema = z.strictObject({
  id: guid.optional().describe("Tenant id; generated when omitted."),
  displayName: nonEmpty,
  domains: z.array(domain).min(1, { error: "needs at least one domain" }).describe("Verified domains; the first is the initial `*.onmicrosoft.com` domain."),
  users: z.array(UserSchema).optional(),
  groups: z.array(GroupSchema).optional().describe("Security groups with user members."),
});

/** A client secret with a known value. */
export const SecretSchema = z.strictObject({
  value: nonEmpty.describe("The secret value clients send (stored as a hash)."),
  keyId: guid.optional(),
  displayName: z.string().optional(),
  starts: instant.optional().describe("Default: one minute before start."),
  expires: instant.optional().describe("Default: 180 days after start, as the portal suggests."),
});

/**
 * A certificate credential (`keyCredentials`): the public X.509 certificate whose
 * key signs the app's client assertions. Give `path` (a PEM file relative to the
 * environment file) or `pem` (the PEM text inline, as `orgbox export` writes it).
 * Only the public certificate: a file holding a private key is refused.
 */
export const CertificateSchema = z.strictObject({
  path: nonEmpty.optional().describe("PEM file with the public certificate, relative to the environment file."),
  pem: nonEmpty.optional().describe("The certificate's PEM text inline (`-----BEGIN CERTIFICATE-----` …)."),
  keyId: guid.optional(),
  displayName: z.string().optional().describe("Default: the certificate's subject."),
});

/** Permissions an app asks of one resource (`requiredResourceAccess`). */
export const ApiPermissionSchema = z.strictObject({
  resource: nonEmpty.describe("`Dynamics CRM` (alias `dynamics`), `Microsoft Graph` (alias `graph`), or a first-party app id."),
  scopes: z.array(nonEmpty).optional().describe("Delegated permissions by value, e.g. `user_impersonation`."),
});

/** A tenant where the app has a service principal (someone consented). */
export const ConsentSchema = z.strictObject({
  tenant: nonEmpty.describe("Tenant id or domain."),
  how: z.enum(["admin", "user"]).optional().describe("`admin` (default): tenant-wide consent; `user`: one user's consent."),
  user: upn.optional().describe("With `how: user`: the user who consented."),
  servicePrincipalId: guid.optional().describe("Object id of the service principal created in that tenant."),
});

/** An app registration. */
export const AppSchema = z.strictObject({
  appId: guid.optional().describe("Application (client) id; generated when omitted."),
  objectId: guid.optional(),
  servicePrincipalId: guid.optional().describe("Object id of the service principal in the home tenant."),
  displayName: nonEmpty,
  tenant: nonEmpty.describe("Home tenant: id or domain."),
  signInAudience: z.enum(["AzureADMyOrg", "AzureADMultipleOrgs"]).optional().describe("Default AzureADMyOrg."),
  identifierUris: z.array(nonEmpty).optional(),
  redirectUris: z
    .strictObject({ web: z.array(nonEmpty).optional(), spa: z.array(nonEmpty).optional(), publicClient: z.array(nonEmpty).optional() })
    .optional()
    .describe("Redirect URIs by platform."),
  publicClient: z.boolean().optional().describe("Allow public client flows (`allowPublicClient`)."),
  secrets: z.array(SecretSchema).optional(),
  certificates: z.array(CertificateSchema).optional().describe("Certificate credentials (public certificates only)."),
  apiPermissions: z.array(ApiPermissionSchema).optional(),
  consentedTenants: z.array(ConsentSchema).optional().describe("Tenants that consented. The home tenant always has a service principal; list it to grant delegated permissions there."),
  assignmentRequired: z.boolean().optional().describe("`appRoleAssignmentRequired` of the home-tenant service principal: only users in `assignments` (directly or through a group) can sign in (AADSTS50105)."),
  assignments: z.array(nonEmpty).optional().describe("Users (user principal name) and groups (display name) of the home tenant assigned to the app (Users and Groups, default role)."),
  groupMembershipClaims: z.enum(["None", "SecurityGroup", "All"]).optional().describe("Manifest `groupMembershipClaims`: `SecurityGroup`/`All` put the user's group ids in the `groups` claim."),
  accessTokenAcceptedVersion: z.union([z.literal(1), z.literal(2)]).optional().describe("Manifest `accessTokenAcceptedVersion` (`api.requestedAccessTokenVersion`) of the app as a resource: 2 for v2.0 access tokens. Default 1."),
});

/** A business unit below the root business unit. */
export interface BusinessUnitInput {
  name: string;
  id?: string;
  children?: BusinessUnitInput[];
}

export const BusinessUnitSchema: z.ZodType<BusinessUnitInput, BusinessUnitInput> = z.strictObject({
  name: nonEmpty,
  id: guid.optional(),
  get children() {
    return z.array(BusinessUnitSchema).optional();
  },
});

/** A security role. */
export const RoleSchema = z.strictObject({
  id: guid.optional(),
  name: nonEmpty,
  businessUnit: nonEmpty.optional().describe("Name of the business unit; default the root."),
  privileges: z.record(z.string().regex(/^prv[A-Za-z][A-Za-z0-9_]*$/, { error: "privilege names look like prv{Verb}{Table}, e.g. prvReadAccount or prvReadnew_project" }), DepthSchema).describe("Privilege name → depth, e.g. `prvReadAccount: Global`."),
});

/** An application user: an app's identity inside the org. */
export const ApplicationUserSchema = z.strictObject({
  id: guid.optional().describe("systemuserid"),
  app: nonEmpty.describe("Client id (or display name) of an app in `apps`."),
  businessUnit: nonEmpty.optional(),
  fullName: nonEmpty.optional(),
  roles: z.array(nonEmpty).optional().describe("Role names (or ids), e.g. `System Administrator`."),
});

/** An interactive user: a directory user mapped to a systemuser. */
export const OrgUserSchema = z.strictObject({
  id: guid.optional().describe("systemuserid"),
  user: upn.describe("User principal name of a user of the org's tenant."),
  businessUnit: nonEmpty.optional(),
  firstname: z.string().optional(),
  lastname: z.string().optional(),
  roles: z.array(nonEmpty).optional(),
});

/** An owner team: members get the privileges of its roles (learn.microsoft.com/power-platform/admin/manage-teams). */
export const TeamSchema = z.strictObject({
  id: guid.optional().describe("teamid"),
  name: nonEmpty,
  businessUnit: nonEmpty.optional().describe("Name of the business unit; default the root."),
  members: z.array(nonEmpty).optional().describe("User principal names from `users` or client ids from `applicationUsers`."),
  roles: z.array(nonEmpty).optional().describe("Role names (or ids) given to the team."),
});

/** A column value of a data row. Strings `@ref:KEY` reference another row. */
export const CellSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export const RowSchema = z.record(z.string(), CellSchema);

/** Rows of one table: inline, or `{ file: "rows.csv" }` (CSV with a header line, or a JSON array) relative to the environment file. */
export const TableDataSchema = z.union([z.array(RowSchema), z.strictObject({ file: nonEmpty })]);

/** Column types a table definition may declare (the `AttributeTypeCode` of custom columns). */
export const COLUMN_TYPES = ["String", "Memo", "Integer", "BigInt", "Decimal", "Double", "Money", "DateTime", "Boolean", "Picklist", "MultiSelectPicklist"] as const;

/**
 * A column of a table definition, as `POST EntityDefinitions(…)/Attributes` would create it
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-column-definitions-using-web-api);
 * a `Lookup` column as `POST RelationshipDefinitions` creates it, with its one-to-many relationship
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-relationships-using-web-api).
 */
export const ColumnSchema = z.strictObject({
  type: z
    .enum([...COLUMN_TYPES, "Lookup"])
    .describe("String (single line of text), Memo (multiple lines), Integer, BigInt, Decimal, Double (floating point), Money, DateTime, Boolean (yes/no), Picklist (choice), MultiSelectPicklist (choices), Lookup (a one-to-many relationship from `target`)."),
  target: nonEmpty.optional().describe("Lookup: the logical name of the table it points to (standard, or a custom table of this file)."),
  relationship: nonEmpty.optional().describe("Lookup: the schema name of its one-to-many relationship. Default `{prefix}_{target}_{table}`, the prefix being the column's."),
  schemaName: nonEmpty.optional().describe("Default: the logical name (the key); its lower case must be the logical name."),
  displayName: nonEmpty.optional().describe("Default: the schema name."),
  description: z.string().optional(),
  required: z.boolean().optional().describe("Business required (`ApplicationRequired`)."),
  maxLength: z.number().int().optional().describe("String (default 100, at most 4000) and Memo (default 2000)."),
  minValue: z.number().optional(),
  maxValue: z.number().optional(),
  precision: z.number().int().optional().describe("Decimal, Double and Money: digits after the point (default 2)."),
  dateTimeBehavior: z.enum(["UserLocal", "DateOnly", "TimeZoneIndependent"]).optional().describe("DateTime; default UserLocal."),
  options: z
    .record(z.string().regex(/^-?[0-9]+$/, { error: "option values are integers" }), nonEmpty)
    .optional()
    .describe("Picklist and MultiSelectPicklist: value → label (a local option set), e.g. `{ 100000000: Planning }`. Boolean: labels of 0 and 1."),
  globalOptionSet: nonEmpty.optional().describe("Picklist and MultiSelectPicklist: the name of a global option set of `optionSets` (instead of `options`)."),
});

/** A global option set (choice) that several columns share. */
export const OptionSetSchema = z.strictObject({
  displayName: nonEmpty.optional().describe("Default: the name."),
  description: z.string().optional(),
  options: z.record(z.string().regex(/^-?[0-9]+$/, { error: "option values are integers" }), nonEmpty).describe("Value → label, e.g. `{ 100000000: Red }`."),
});

/** An alternate key: its columns, or `{ columns, schemaName, displayName }`. */
export const KeySchema = z.union([
  z.array(nonEmpty).min(1, { error: "a key needs at least one column" }),
  z.strictObject({ columns: z.array(nonEmpty).min(1, { error: "a key needs at least one column" }), schemaName: nonEmpty.optional(), displayName: nonEmpty.optional() }),
]);

/**
 * A table definition. Keyed by a publisher-prefixed logical name (`new_project`), it is a custom table
 * created as `POST EntityDefinitions` would; keyed by a standard table's name (`account`), it only adds
 * `columns` and `keys` to it.
 */
export const TableSchema = z.strictObject({
  schemaName: nonEmpty.optional().describe("Custom tables: default the logical name; its lower case must be the logical name."),
  displayName: nonEmpty.optional().describe("Custom tables: required."),
  displayCollectionName: nonEmpty.optional(),
  description: z.string().optional(),
  entitySetName: nonEmpty.optional().describe("Default: the plural of the logical name (new_project → new_projects)."),
  ownership: z.enum(["UserOwned", "OrganizationOwned"]).optional().describe("Default UserOwned."),
  primaryName: nonEmpty.optional().describe("Logical name of the primary name column (a String column; describe it under `columns` to set its length or label). Default `{prefix}_name`."),
  hasNotes: z.boolean().optional(),
  hasActivities: z.boolean().optional(),
  columns: z.record(z.string(), ColumnSchema).optional().describe("Columns by logical name (publisher-prefixed)."),
  keys: z.record(z.string(), KeySchema).optional().describe("Alternate keys by logical name (publisher-prefixed): `new_codekey: [new_code]`. Data rows reference rows by them: `@ref:new_project(new_code='P-1')`."),
});

/**
 * An N:N relationship, as `POST RelationshipDefinitions` with a `ManyToManyRelationshipMetadata` creates
 * it (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-relationships-using-web-api).
 */
export const ManyToManySchema = z.strictObject({
  tables: z.tuple([nonEmpty, nonEmpty]).describe("Entity1 and Entity2: logical names of standard tables or of this file's custom tables (the same twice for a self-referential relationship)."),
  intersect: nonEmpty.optional().describe("Schema name of the intersect table (IntersectEntityName). Default: the relationship's schema name."),
  navigation: z.tuple([nonEmpty, nonEmpty]).optional().describe("Navigation property names on Entity1 and Entity2. Default: the relationship's schema name on both."),
});

/** A Dataverse organization (environment). */
export const OrgSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9]{0,31}$/, { error: "must be 1–32 lower-case letters and digits, starting with a letter" }).describe("URL name: {base}/org/{name}."),
  id: guid.optional().describe("organizationid"),
  tenant: nonEmpty.describe("Tenant id or domain."),
  displayName: nonEmpty.optional(),
  hostName: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}\.crm(?:[2-9]|1[0-9]|2[01])?\.dynamics\.com$/i, { error: "must be a Dataverse org host: {org}.crm.dynamics.com or a regional {org}.crm2…crm21.dynamics.com" })
    .optional()
    .describe("The org's cloud host name, answered through orgbox's proxy (its org URL is https://{hostName}; the api form {org}.api.crm….dynamics.com works too). Default {name}.crm.dynamics.com."),
  rootBusinessUnitId: guid.optional(),
  baseCurrencyId: guid.optional(),
  businessUnits: z.array(BusinessUnitSchema).optional().describe("Business units below the root, as a tree."),
  roles: z.array(RoleSchema).optional().describe("Custom roles; `System Administrator` always exists."),
  applicationUsers: z.array(ApplicationUserSchema).optional(),
  users: z.array(OrgUserSchema).optional(),
  teams: z.array(TeamSchema).optional().describe("Owner teams with members and roles."),
  optionSets: z.record(z.string(), OptionSetSchema).optional().describe("Global option sets (choices) by name (publisher-prefixed, e.g. new_colors), for columns' `globalOptionSet`."),
  tables: z.record(z.string(), TableSchema).optional().describe("Custom tables, and extra columns and alternate keys of standard tables, by logical name. Created before roles, so roles can name their privileges (prvReadnew_project)."),
  manyToMany: z.record(z.string(), ManyToManySchema).optional().describe("N:N relationships by schema name (publisher-prefixed, e.g. new_project_contacts), created after the tables."),
  solutions: z.array(nonEmpty).optional().describe("Solution zip files (relative to this file), imported in order after the file's option sets, tables and relationships and before its roles, as ImportSolution does. Application users, users and teams may name the solutions' roles."),
  associations: z
    .record(z.string(), z.array(z.tuple([nonEmpty, nonEmpty])))
    .optional()
    .describe("N:N links by relationship schema name: pairs [Entity1 row, Entity2 row], each an id or a @ref (\"@ref:p1\", \"@ref:contact(emailaddress1='a@b.c')\"). Linked after the data rows."),
  defaultOwner: nonEmpty.optional().describe("Owner of data rows without `@owner`: a user principal name from `users` or a client id from `applicationUsers`. Default: the first interactive user."),
  data: z.record(z.string(), TableDataSchema).optional().describe("Rows per table logical name, inserted in file order."),
});

/** The whole environment file. */
export const EnvironmentSchema = z.strictObject({
  $schema: z.string().optional(),
  server: z.record(z.string(), z.unknown()).optional().describe("Server settings (port, host, http, adminKey, …), as in a plain config file."),
  seedDemo: z.boolean().optional().describe("Also seed the demo environment (default false when the file describes tenants, apps or orgs)."),
  tenants: z.array(TenantSchema).optional(),
  apps: z.array(AppSchema).optional(),
  orgs: z.array(OrgSchema).optional(),
});

/** An environment as written by hand (the shape of the file, every default optional). */
export type OrgboxEnvironment = z.input<typeof EnvironmentSchema>;
export type TenantInput = z.input<typeof TenantSchema>;
export type AppInput = z.input<typeof AppSchema>;
export type GroupInput = z.input<typeof GroupSchema>;
export type OrgInput = z.input<typeof OrgSchema>;
export type RowInput = z.input<typeof RowSchema>;
export type TableInput = z.input<typeof TableSchema>;
export type ColumnInput = z.input<typeof ColumnSchema>;
export type KeyInput = z.input<typeof KeySchema>;
export type OptionSetInput = z.input<typeof OptionSetSchema>;
export type ManyToManyInput = z.input<typeof ManyToManySchema>;
export type Cell = z.input<typeof CellSchema>;

/** Top-level keys that make a config file an environment file. */
export const ENVIRONMENT_KEYS = ["tenants", "apps", "orgs"] as const;

/**
 * Types an environment written in TypeScript: `export default defineEnvironment({ … })`.
 * Returns its argument unchanged.
 */
export function defineEnvironment(environment: OrgboxEnvironment): OrgboxEnvironment {
  return environment;
}

/** The JSON Schema (draft 2020-12) of environment files, derived from {@link EnvironmentSchema}. */
export function environmentJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(EnvironmentSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return { ...schema, $id: "https://github.com/orgbox/orgbox/schema/orgbox-environment.schema.json", title: "orgbox environment" };
}
