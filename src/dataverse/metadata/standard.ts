import { withDocumentedAttributes } from "./documented.ts";
import type { AttributeMetadata, AttributeType, EntityMetadata, ManyToManyRelationshipMetadata, OptionMetadata, OwnershipType } from "./types.ts";

/** Optional properties of {@link attr}. */
export type AttrOptions = Partial<Omit<AttributeMetadata, "logicalName" | "type">>;

/** Builds an attribute with Dataverse-like defaults (schema name = logical name in PascalCase-ish). */
export function attr(logicalName: string, type: AttributeType, displayName: string, options: AttrOptions = {}): AttributeMetadata {
  return {
    logicalName,
    schemaName: options.schemaName ?? logicalName.replace(/(^|_)([a-z])/g, (_m, p: string, c: string) => p + c.toUpperCase()),
    type,
    displayName,
    requiredLevel: "None",
    isValidForCreate: true,
    isValidForUpdate: true,
    isCustomAttribute: false,
    ...options,
  };
}

const str = (name: string, display: string, maxLength: number, o: AttrOptions = {}) => attr(name, "String", display, { maxLength, ...o });
const memo = (name: string, display: string, maxLength: number) => attr(name, "Memo", display, { maxLength });
const lookup = (name: string, display: string, targets: string[], o: AttrOptions = {}) => attr(name, "Lookup", display, { targets, ...o });
const system = { isValidForCreate: false, isValidForUpdate: false } as const;
const options = (...labels: [number, string][]): OptionMetadata[] => labels.map(([value, label]) => ({ value, label }));
const bool = (name: string, display: string, falseLabel = "No", trueLabel = "Yes") => attr(name, "Boolean", display, { options: options([0, falseLabel], [1, trueLabel]) });

/** Columns every table has: audit columns and the row version. */
function auditColumns(): AttributeMetadata[] {
  return [
    attr("createdon", "DateTime", "Created On", { ...system, dateTimeBehavior: "UserLocal" }),
    attr("modifiedon", "DateTime", "Modified On", { ...system, dateTimeBehavior: "UserLocal" }),
    lookup("createdby", "Created By", ["systemuser"], system),
    lookup("modifiedby", "Modified By", ["systemuser"], system),
    attr("versionnumber", "BigInt", "Version Number", system),
  ];
}

/** Ownership columns of user- or team-owned tables. */
function ownerColumns(): AttributeMetadata[] {
  return [
    attr("ownerid", "Owner", "Owner", { targets: ["systemuser", "team"], requiredLevel: "SystemRequired" }),
    attr("owneridtype", "EntityName", "Owner Type", system),
    lookup("owninguser", "Owning User", ["systemuser"], system),
    lookup("owningteam", "Owning Team", ["team"], system),
    lookup("owningbusinessunit", "Owning Business Unit", ["businessunit"], system),
  ];
}

/** `statecode` and `statuscode` with their options (value, label). */
export function stateStatus(states: [number, string][], statuses: [number, string][]): AttributeMetadata[] {
  return [attr("statecode", "State", "Status", { options: options(...states) }), attr("statuscode", "Status", "Status Reason", { options: options(...statuses) })];
}

/** What {@link table} needs to build a table's metadata. */
export interface TableSpec {
  logicalName: string;
  entitySetName: string;
  displayName: string;
  displayCollectionName: string;
  primaryNameAttribute: string;
  ownershipType: OwnershipType;
  objectTypeCode: number;
  isIntersect?: boolean;
  schemaName?: string;
  primaryIdAttribute?: string;
  columns: AttributeMetadata[];
}

/**
 * A table with its primary key, the primary-name flag, the audit columns (`createdon`, …,
 * `versionnumber`) and, for user-owned tables, the owner columns: the platform columns every
 * Dataverse table has. Custom tables are built with it too.
 */
export function table(spec: TableSpec): EntityMetadata {
  const pk = spec.primaryIdAttribute ?? `${spec.logicalName}id`;
  const owned = spec.ownershipType === "UserOwned";
  const columns = [attr(pk, "Uniqueidentifier", spec.displayName, { isPrimaryId: true, isValidForUpdate: false }), ...spec.columns];
  const primaryName = columns.find((c) => c.logicalName === spec.primaryNameAttribute);
  if (primaryName) primaryName.isPrimaryName = true;
  return {
    logicalName: spec.logicalName,
    schemaName: spec.schemaName ?? spec.logicalName.charAt(0).toUpperCase() + spec.logicalName.slice(1),
    entitySetName: spec.entitySetName,
    displayName: spec.displayName,
    displayCollectionName: spec.displayCollectionName,
    primaryIdAttribute: pk,
    primaryNameAttribute: spec.primaryNameAttribute,
    ownershipType: spec.ownershipType,
    objectTypeCode: spec.objectTypeCode,
    isCustomEntity: false,
    isIntersect: spec.isIntersect ?? false,
    attributes: [...columns, ...(spec.isIntersect ? [] : auditColumns()), ...(owned ? ownerColumns() : [])],
  };
}

const address = (): AttributeMetadata[] => [
  str("address1_line1", "Street 1", 250),
  str("address1_city", "City", 80),
  str("address1_stateorprovince", "State/Province", 50),
  str("address1_postalcode", "ZIP/Postal Code", 20),
  str("address1_country", "Country/Region", 80),
];

/** Tables an activity's `regardingobjectid` or a note's `objectid` may point to (of those orgbox models). */
const REGARDING_TARGETS = ["account", "contact", "lead", "opportunity"];

/**
 * An activity table (task, email, phonecall): primary key `activityid`, primary name `subject`,
 * user-owned, with `description` and the polymorphic `regardingobjectid` (+ `regardingobjecttypecode`),
 * `IsActivity` (guarded by the shared `prv{Verb}Activity` privileges)
 * (learn.microsoft.com/power-apps/developer/data-platform/activity-entities).
 */
function activity(spec: Pick<TableSpec, "logicalName" | "entitySetName" | "displayName" | "displayCollectionName" | "objectTypeCode" | "columns" | "schemaName">): EntityMetadata {
  const entity = table({
    ...spec,
    primaryIdAttribute: "activityid",
    primaryNameAttribute: "subject",
    ownershipType: "UserOwned",
    columns: [
      str("subject", "Subject", 200, { requiredLevel: "ApplicationRequired" }),
      memo("description", "Description", 2000),
      lookup("regardingobjectid", "Regarding", REGARDING_TARGETS),
      attr("regardingobjecttypecode", "EntityName", "Regarding Object Type", system),
      ...spec.columns,
    ],
  });
  return { ...entity, isActivity: true };
}

/**
 * orgbox's definitions of the standard tables: real logical names, entity set names, primary keys,
 * primary name columns, object type codes, and the columns whose behaviour orgbox implements.
 */
const DEFINED_TABLES: EntityMetadata[] = [
  table({
    logicalName: "organization",
    entitySetName: "organizations",
    displayName: "Organization",
    displayCollectionName: "Organizations",
    primaryNameAttribute: "name",
    ownershipType: "OrganizationOwned",
    objectTypeCode: 1019,
    columns: [str("name", "Name", 160), lookup("basecurrencyid", "Currency", ["transactioncurrency"])],
  }),
  table({
    logicalName: "transactioncurrency",
    entitySetName: "transactioncurrencies",
    displayName: "Currency",
    displayCollectionName: "Currencies",
    primaryNameAttribute: "currencyname",
    ownershipType: "OrganizationOwned",
    objectTypeCode: 9105,
    schemaName: "TransactionCurrency",
    columns: [
      str("currencyname", "Currency Name", 100, { requiredLevel: "SystemRequired" }),
      str("isocurrencycode", "Currency Code", 5, { requiredLevel: "SystemRequired" }),
      str("currencysymbol", "Currency Symbol", 13),
      attr("exchangerate", "Decimal", "Exchange Rate", { precision: 10 }),
      attr("currencyprecision", "Integer", "Currency Precision"),
      ...stateStatus([[0, "Active"], [1, "Inactive"]], [[1, "Active"], [2, "Inactive"]]),
    ],
  }),
  table({
    logicalName: "businessunit",
    entitySetName: "businessunits",
    displayName: "Business Unit",
    displayCollectionName: "Business Units",
    primaryNameAttribute: "name",
    ownershipType: "BusinessOwned",
    objectTypeCode: 10,
    schemaName: "BusinessUnit",
    columns: [str("name", "Name", 160, { requiredLevel: "SystemRequired" }), lookup("parentbusinessunitid", "Parent Business", ["businessunit"]), bool("isdisabled", "Is Disabled")],
  }),
  table({
    logicalName: "team",
    entitySetName: "teams",
    displayName: "Team",
    displayCollectionName: "Teams",
    primaryNameAttribute: "name",
    ownershipType: "BusinessOwned",
    objectTypeCode: 9,
    columns: [
      str("name", "Team Name", 160, { requiredLevel: "SystemRequired" }),
      lookup("businessunitid", "Business Unit", ["businessunit"], { requiredLevel: "SystemRequired" }),
      attr("teamtype", "Picklist", "Team Type", { options: options([0, "Owner"], [1, "Access"], [2, "Security Group"], [3, "Office Group"]) }),
      bool("isdefault", "Is Default"),
      lookup("administratorid", "Administrator", ["systemuser"]),
    ],
  }),
  table({
    logicalName: "systemuser",
    entitySetName: "systemusers",
    displayName: "User",
    displayCollectionName: "Users",
    primaryNameAttribute: "fullname",
    ownershipType: "BusinessOwned",
    objectTypeCode: 8,
    schemaName: "SystemUser",
    columns: [
      str("fullname", "Full Name", 200, system),
      str("firstname", "First Name", 256),
      str("lastname", "Last Name", 256),
      str("domainname", "User Name", 1024),
      str("internalemailaddress", "Primary Email", 100),
      attr("applicationid", "Uniqueidentifier", "Application ID"),
      str("applicationiduri", "Application ID URI", 1024, system),
      attr("azureactivedirectoryobjectid", "Uniqueidentifier", "Azure AD Object ID", { isValidForCreate: true, isValidForUpdate: false }),
      bool("isdisabled", "Status", "Enabled", "Disabled"),
      attr("accessmode", "Picklist", "Access Mode", {
        options: options([0, "Read-Write"], [1, "Administrative"], [2, "Read"], [3, "Support User"], [4, "Non-interactive"], [5, "Delegated Admin"]),
      }),
      lookup("businessunitid", "Business Unit", ["businessunit"], { requiredLevel: "SystemRequired" }),
    ],
  }),
  table({
    logicalName: "role",
    entitySetName: "roles",
    displayName: "Security Role",
    displayCollectionName: "Security Roles",
    primaryNameAttribute: "name",
    ownershipType: "BusinessOwned",
    objectTypeCode: 1036,
    columns: [
      str("name", "Name", 100, { requiredLevel: "SystemRequired" }),
      lookup("businessunitid", "Business Unit", ["businessunit"], { requiredLevel: "SystemRequired" }),
      lookup("parentrootroleid", "Parent Root Role", ["role"], system),
      attr("roletemplateid", "Uniqueidentifier", "Role Template", system),
      bool("ismanaged", "Is Managed"),
    ],
  }),
  table({
    logicalName: "privilege",
    entitySetName: "privileges",
    displayName: "Privilege",
    displayCollectionName: "Privileges",
    primaryNameAttribute: "name",
    ownershipType: "None",
    objectTypeCode: 1023,
    columns: [str("name", "Name", 100), attr("accessright", "Integer", "Access Right"), bool("canbebasic", "Can Be Basic"), bool("canbelocal", "Can Be Local"), bool("canbedeep", "Can Be Deep"), bool("canbeglobal", "Can Be Global")],
  }),
  table({
    logicalName: "roleprivileges",
    entitySetName: "roleprivilegescollection",
    displayName: "Role Privilege",
    displayCollectionName: "Role Privileges",
    primaryNameAttribute: "roleprivilegeid",
    primaryIdAttribute: "roleprivilegeid",
    ownershipType: "None",
    objectTypeCode: 1037,
    isIntersect: true,
    schemaName: "RolePrivileges",
    columns: [lookup("roleid", "Role", ["role"]), lookup("privilegeid", "Privilege", ["privilege"]), attr("privilegedepthmask", "Integer", "Privilege Depth Mask")],
  }),
  table({
    logicalName: "systemuserroles",
    entitySetName: "systemuserrolescollection",
    displayName: "User Role",
    displayCollectionName: "User Roles",
    primaryNameAttribute: "systemuserroleid",
    primaryIdAttribute: "systemuserroleid",
    ownershipType: "None",
    objectTypeCode: 15,
    isIntersect: true,
    schemaName: "SystemUserRoles",
    columns: [lookup("systemuserid", "User", ["systemuser"]), lookup("roleid", "Role", ["role"])],
  }),
  table({
    logicalName: "teammembership",
    entitySetName: "teammemberships",
    displayName: "Team Membership",
    displayCollectionName: "Team Memberships",
    primaryNameAttribute: "teammembershipid",
    primaryIdAttribute: "teammembershipid",
    ownershipType: "None",
    objectTypeCode: 23,
    isIntersect: true,
    schemaName: "TeamMembership",
    columns: [lookup("teamid", "Team", ["team"]), lookup("systemuserid", "User", ["systemuser"])],
  }),
  table({
    logicalName: "teamroles",
    entitySetName: "teamrolescollection",
    displayName: "Team Role",
    displayCollectionName: "Team Roles",
    primaryNameAttribute: "teamroleid",
    primaryIdAttribute: "teamroleid",
    ownershipType: "None",
    objectTypeCode: 40,
    isIntersect: true,
    schemaName: "TeamRoles",
    columns: [lookup("teamid", "Team", ["team"]), lookup("roleid", "Role", ["role"])],
  }),
  table({
    // Sharing: one row per (record, principal) with the rights granted (GrantAccess/ModifyAccess).
    // `objectid`/`principalid` are polymorphic lookups without relationships (no navigation, indexed).
    logicalName: "principalobjectaccess",
    entitySetName: "principalobjectaccessset",
    displayName: "Principal Object Access",
    displayCollectionName: "Principal Object Access",
    primaryNameAttribute: "principalobjectaccessid",
    ownershipType: "None",
    objectTypeCode: 11,
    schemaName: "PrincipalObjectAccess",
    columns: [
      lookup("objectid", "Object", [], system),
      attr("objecttypecode", "EntityName", "Object Type", system),
      lookup("principalid", "Principal", [], system),
      attr("principaltypecode", "EntityName", "Principal Type", system),
      attr("accessrightsmask", "Integer", "Access Rights", system),
      attr("inheritedaccessrightsmask", "Integer", "Inherited Access Rights", system),
    ],
  }),
  table({
    logicalName: "account",
    entitySetName: "accounts",
    displayName: "Account",
    displayCollectionName: "Accounts",
    primaryNameAttribute: "name",
    ownershipType: "UserOwned",
    objectTypeCode: 1,
    columns: [
      str("name", "Account Name", 160, { requiredLevel: "ApplicationRequired" }),
      str("accountnumber", "Account Number", 20),
      str("telephone1", "Main Phone", 50),
      str("emailaddress1", "Email", 100),
      str("websiteurl", "Website", 200),
      ...address(),
      memo("description", "Description", 2000),
      attr("revenue", "Money", "Annual Revenue", { precision: 2 }),
      attr("numberofemployees", "Integer", "Number of Employees"),
      attr("industrycode", "Picklist", "Industry", { options: options([1, "Accounting"], [7, "Consulting"], [13, "Financial"], [25, "Manufacturing"], [33, "Retail"], [27, "Services"], [31, "Technology"]) }),
      attr("customertypecode", "Picklist", "Relationship Type", { options: options([1, "Competitor"], [3, "Customer"], [6, "Partner"], [11, "Prospect"]) }),
      bool("creditonhold", "Credit Hold"),
      lookup("primarycontactid", "Primary Contact", ["contact"]),
      lookup("parentaccountid", "Parent Account", ["account"]),
      lookup("transactioncurrencyid", "Currency", ["transactioncurrency"]),
      ...stateStatus([[0, "Active"], [1, "Inactive"]], [[1, "Active"], [2, "Inactive"]]),
    ],
  }),
  table({
    logicalName: "contact",
    entitySetName: "contacts",
    displayName: "Contact",
    displayCollectionName: "Contacts",
    primaryNameAttribute: "fullname",
    ownershipType: "UserOwned",
    objectTypeCode: 2,
    columns: [
      str("fullname", "Full Name", 160, system),
      str("firstname", "First Name", 50),
      str("lastname", "Last Name", 50, { requiredLevel: "ApplicationRequired" }),
      str("emailaddress1", "Email", 100),
      str("telephone1", "Business Phone", 50),
      str("mobilephone", "Mobile Phone", 50),
      str("jobtitle", "Job Title", 100),
      ...address(),
      memo("description", "Description", 2000),
      attr("birthdate", "DateTime", "Birthday", { dateTimeBehavior: "DateOnly" }),
      attr("gendercode", "Picklist", "Gender", { options: options([1, "Male"], [2, "Female"]) }),
      attr("parentcustomerid", "Customer", "Company Name", { targets: ["account", "contact"] }),
      attr("parentcustomeridtype", "EntityName", "Parent Customer Type", system),
      lookup("transactioncurrencyid", "Currency", ["transactioncurrency"]),
      ...stateStatus([[0, "Active"], [1, "Inactive"]], [[1, "Active"], [2, "Inactive"]]),
    ],
  }),
  table({
    logicalName: "lead",
    entitySetName: "leads",
    displayName: "Lead",
    displayCollectionName: "Leads",
    primaryNameAttribute: "fullname",
    ownershipType: "UserOwned",
    objectTypeCode: 4,
    columns: [
      str("subject", "Topic", 300, { requiredLevel: "ApplicationRequired" }),
      str("fullname", "Name", 160, system),
      str("firstname", "First Name", 50),
      str("lastname", "Last Name", 50, { requiredLevel: "ApplicationRequired" }),
      str("companyname", "Company Name", 100),
      str("jobtitle", "Job Title", 100),
      str("emailaddress1", "Email", 100),
      str("telephone1", "Business Phone", 50),
      ...address(),
      memo("description", "Description", 2000),
      attr("leadsourcecode", "Picklist", "Lead Source", { options: options([1, "Advertisement"], [2, "Employee Referral"], [3, "External Referral"], [4, "Partner"], [7, "Trade Show"], [8, "Web"], [10, "Other"]) }),
      attr("leadqualitycode", "Picklist", "Rating", { options: options([1, "Hot"], [2, "Warm"], [3, "Cold"]) }),
      attr("estimatedamount", "Money", "Est. Value", { precision: 2 }),
      attr("customerid", "Customer", "Customer", { targets: ["account", "contact"] }),
      attr("customeridtype", "EntityName", "Customer Type", system),
      lookup("parentaccountid", "Parent Account for lead", ["account"]),
      lookup("parentcontactid", "Parent Contact for lead", ["contact"]),
      lookup("transactioncurrencyid", "Currency", ["transactioncurrency"]),
      ...stateStatus(
        [[0, "Open"], [1, "Qualified"], [2, "Disqualified"]],
        [[1, "New"], [2, "Contacted"], [3, "Qualified"], [4, "Lost"], [5, "Cannot Contact"], [6, "No Longer Interested"], [7, "Canceled"]],
      ),
    ],
  }),
  table({
    logicalName: "opportunity",
    entitySetName: "opportunities",
    displayName: "Opportunity",
    displayCollectionName: "Opportunities",
    primaryNameAttribute: "name",
    ownershipType: "UserOwned",
    objectTypeCode: 3,
    columns: [
      str("name", "Topic", 300, { requiredLevel: "ApplicationRequired" }),
      attr("customerid", "Customer", "Potential Customer", { targets: ["account", "contact"] }),
      attr("customeridtype", "EntityName", "Potential Customer Type", system),
      attr("estimatedvalue", "Money", "Est. Revenue", { precision: 2 }),
      attr("estimatedclosedate", "DateTime", "Est. Close Date", { dateTimeBehavior: "DateOnly" }),
      attr("closeprobability", "Integer", "Probability", { minValue: 0, maxValue: 100 }),
      memo("description", "Description", 2000),
      lookup("parentaccountid", "Account", ["account"]),
      lookup("parentcontactid", "Contact", ["contact"]),
      lookup("transactioncurrencyid", "Currency", ["transactioncurrency"]),
      ...stateStatus([[0, "Open"], [1, "Won"], [2, "Lost"]], [[1, "In Progress"], [2, "On Hold"], [3, "Won"], [4, "Canceled"], [5, "Out-Sold"]]),
    ],
  }),
  activity({
    logicalName: "task",
    entitySetName: "tasks",
    displayName: "Task",
    displayCollectionName: "Tasks",
    objectTypeCode: 4212,
    columns: [
      attr("scheduledstart", "DateTime", "Start Date", { dateTimeBehavior: "UserLocal" }),
      attr("scheduledend", "DateTime", "Due Date", { dateTimeBehavior: "UserLocal" }),
      attr("actualdurationminutes", "Integer", "Duration"),
      attr("prioritycode", "Picklist", "Priority", { options: options([0, "Low"], [1, "Normal"], [2, "High"]) }),
      ...stateStatus([[0, "Open"], [1, "Completed"], [2, "Canceled"]], [[2, "Not Started"], [3, "In Progress"], [4, "Waiting on someone else"], [7, "Deferred"], [5, "Completed"], [6, "Canceled"]]),
    ],
  }),
  activity({
    logicalName: "email",
    entitySetName: "emails",
    displayName: "Email",
    displayCollectionName: "Email Messages",
    objectTypeCode: 4202,
    columns: [
      bool("directioncode", "Direction", "Incoming", "Outgoing"),
      str("sender", "From", 250),
      str("torecipients", "To Recipients", 500),
      ...stateStatus([[0, "Open"], [1, "Completed"], [2, "Canceled"]], [[1, "Draft"], [2, "Completed"], [3, "Sent"], [4, "Received"], [5, "Canceled"]]),
    ],
  }),
  activity({
    logicalName: "phonecall",
    entitySetName: "phonecalls",
    displayName: "Phone Call",
    displayCollectionName: "Phone Calls",
    objectTypeCode: 4210,
    schemaName: "PhoneCall",
    columns: [
      str("phonenumber", "Phone Number", 200),
      bool("directioncode", "Direction", "Incoming", "Outgoing"),
      ...stateStatus([[0, "Open"], [1, "Completed"], [2, "Canceled"]], [[1, "Open"], [2, "Made"], [3, "Canceled"], [4, "Received"]]),
    ],
  }),
  table({
    logicalName: "annotation",
    entitySetName: "annotations",
    displayName: "Note",
    displayCollectionName: "Notes",
    primaryNameAttribute: "subject",
    ownershipType: "UserOwned",
    objectTypeCode: 5,
    columns: [
      str("subject", "Title", 500),
      memo("notetext", "Description", 100000),
      str("filename", "File Name", 255),
      str("mimetype", "Mime Type", 256),
      memo("documentbody", "Document", 1073741823),
      bool("isdocument", "Is Document", "No", "Yes"),
      lookup("objectid", "Regarding", REGARDING_TARGETS),
      attr("objecttypecode", "EntityName", "Object Type", system),
    ],
  }),
];

const flag = (name: string, display: string, o: AttrOptions = {}): AttributeMetadata => attr(name, "Boolean", display, { options: options([0, "No"], [1, "Yes"]), ...o });

/**
 * `solutioncomponent.componenttype` values, as Dataverse numbers them
 * (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/solutioncomponent#componenttype-choicesoptions).
 */
export const COMPONENT_TYPE = {
  Entity: 1,
  Attribute: 2,
  Relationship: 3,
  OptionSet: 9,
  EntityRelationship: 10,
  EntityKey: 14,
  Role: 20,
  RolePrivilege: 21,
  SavedQuery: 26,
  SystemForm: 60,
} as const;

const COMPONENT_TYPE_OPTIONS: OptionMetadata[] = Object.entries(COMPONENT_TYPE).map(([label, value]) => ({ value, label }));

/**
 * The solution tables: `publisher`, `solution`, `solutioncomponent` and `importjob`, with the columns
 * Dataverse documents for them that orgbox uses
 * (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/{publisher,solution,solutioncomponent,importjob}).
 * Organization-owned (privileges `prvReadSolution`, `prvCreatePublisher`, …: None or Global). See src/dataverse/solutions/.
 */
const SOLUTION_TABLES: EntityMetadata[] = [
  table({
    logicalName: "publisher",
    entitySetName: "publishers",
    displayName: "Publisher",
    displayCollectionName: "Publishers",
    primaryNameAttribute: "friendlyname",
    ownershipType: "OrganizationOwned",
    objectTypeCode: 7101,
    columns: [
      str("uniquename", "Name", 256, { requiredLevel: "ApplicationRequired", isValidForUpdate: false }),
      str("friendlyname", "Display Name", 256, { requiredLevel: "ApplicationRequired" }),
      str("customizationprefix", "Prefix", 8, { requiredLevel: "ApplicationRequired" }),
      attr("customizationoptionvalueprefix", "Integer", "Choice Value Prefix", { minValue: 10000, maxValue: 99999 }),
      attr("description", "Memo", "Description", { maxLength: 2000 }),
      str("emailaddress", "Email", 100),
      str("supportingwebsiteurl", "Website", 200),
      flag("isreadonly", "Is Read-Only Publisher", system),
    ],
  }),
  table({
    logicalName: "solution",
    entitySetName: "solutions",
    displayName: "Solution",
    displayCollectionName: "Solutions",
    primaryNameAttribute: "friendlyname",
    ownershipType: "OrganizationOwned",
    objectTypeCode: 7100,
    columns: [
      str("uniquename", "Name", 65, { requiredLevel: "ApplicationRequired", isValidForUpdate: false }),
      str("friendlyname", "Display Name", 256, { requiredLevel: "ApplicationRequired" }),
      str("version", "Version", 256, { requiredLevel: "ApplicationRequired" }),
      attr("publisherid", "Lookup", "Publisher", { targets: ["publisher"], requiredLevel: "ApplicationRequired" }),
      attr("description", "Memo", "Description", { maxLength: 2000 }),
      flag("ismanaged", "Package Type", { ...system, options: [{ value: 0, label: "Unmanaged" }, { value: 1, label: "Managed" }] }),
      flag("isvisible", "Is Visible Outside Platform", system),
      attr("installedon", "DateTime", "Installed On", { ...system, dateTimeBehavior: "UserLocal" }),
      attr("solutiontype", "Picklist", "Solution Type", { ...system, options: [{ value: 0, label: "None" }, { value: 1, label: "Snapshot" }, { value: 2, label: "Internal" }] }),
    ],
  }),
  table({
    logicalName: "solutioncomponent",
    entitySetName: "solutioncomponents",
    displayName: "Solution Component",
    displayCollectionName: "Solution Components",
    primaryNameAttribute: "solutioncomponentid",
    ownershipType: "OrganizationOwned",
    objectTypeCode: 7103,
    schemaName: "SolutionComponent",
    columns: [
      attr("solutionid", "Lookup", "Solution", { ...system, targets: ["solution"] }),
      attr("componenttype", "Picklist", "Object Type Code", { ...system, options: COMPONENT_TYPE_OPTIONS }),
      attr("objectid", "Uniqueidentifier", "Regarding", system),
      attr("rootcomponentbehavior", "Picklist", "Root Component Behavior", { ...system, options: [{ value: 0, label: "Include Subcomponents" }, { value: 1, label: "Do not include subcomponents" }, { value: 2, label: "Include As Shell Only" }] }),
      flag("ismetadata", "Is this component metadata", system),
    ],
  }),
  table({
    logicalName: "importjob",
    entitySetName: "importjobs",
    displayName: "Import Job",
    displayCollectionName: "Import Jobs",
    primaryNameAttribute: "name",
    ownershipType: "OrganizationOwned",
    objectTypeCode: 4428,
    schemaName: "ImportJob",
    columns: [
      str("name", "Name", 256, system),
      str("solutionname", "Solution Name", 256, system),
      attr("solutionid", "Uniqueidentifier", "Solution", system),
      attr("data", "Memo", "Data", { ...system, maxLength: 1073741823 }),
      attr("progress", "Double", "Progress", { ...system, precision: 2 }),
      attr("startedon", "DateTime", "Started On", { ...system, dateTimeBehavior: "UserLocal" }),
      attr("completedon", "DateTime", "Completed On", { ...system, dateTimeBehavior: "UserLocal" }),
      str("operationcontext", "Operation Context", 256, system),
    ],
  }),
  table({
    // System jobs: what `ImportSolutionAsync` / `ExportSolutionAsync` answer with (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/asyncoperation).
    logicalName: "asyncoperation",
    entitySetName: "asyncoperations",
    displayName: "System Job",
    displayCollectionName: "System Jobs",
    primaryNameAttribute: "name",
    ownershipType: "OrganizationOwned",
    objectTypeCode: 4700,
    schemaName: "AsyncOperation",
    columns: [
      str("name", "System Job Name", 256, system),
      attr("operationtype", "Picklist", "System Job Type", { ...system, options: options([203, "Import Solution"], [204, "Export Solution"]) }),
      attr("message", "Memo", "Message", { ...system, maxLength: 1073741823 }),
      attr("friendlymessage", "Memo", "Friendly message", { ...system, maxLength: 1073741823 }),
      attr("data", "Memo", "Data", { ...system, maxLength: 1073741823 }),
      attr("startedon", "DateTime", "Started On", { ...system, dateTimeBehavior: "UserLocal" }),
      attr("completedon", "DateTime", "Completed On", { ...system, dateTimeBehavior: "UserLocal" }),
      ...stateStatus([[0, "Ready"], [1, "Suspended"], [2, "Locked"], [3, "Completed"]], [[0, "Waiting For Resources"], [10, "Waiting"], [20, "In Progress"], [21, "Pausing"], [22, "Canceling"], [30, "Succeeded"], [31, "Failed"], [32, "Canceled"]]).map((a) => ({ ...a, ...system })),
    ],
  }),
];

DEFINED_TABLES.push(...SOLUTION_TABLES);

const DEFINED_NAMES: ReadonlySet<string> = new Set(DEFINED_TABLES.map((t) => t.logicalName));

/**
 * The standard tables, with their real logical names, entity set names, primary keys, primary name
 * columns and object type codes, and every attribute of theirs that Microsoft's table reference
 * documents and orgbox can store (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/*;
 * see data/standard-attributes.json and {@link withDocumentedAttributes}). Built once, at start-up.
 */
export const STANDARD_TABLES: EntityMetadata[] = DEFINED_TABLES.map((t) => withDocumentedAttributes(t, DEFINED_NAMES));

/** A standard N:N relationship whose navigation property on both sides is its schema name. */
function standardManyToMany(schemaName: string, intersect: string, [entity1, column1]: [string, string], [entity2, column2]: [string, string]): ManyToManyRelationshipMetadata {
  return {
    kind: "ManyToMany",
    schemaName,
    entity1LogicalName: entity1,
    entity2LogicalName: entity2,
    intersectEntityName: intersect,
    entity1IntersectAttribute: column1,
    entity2IntersectAttribute: column2,
    entity1NavigationPropertyName: schemaName,
    entity2NavigationPropertyName: schemaName,
    isCustomRelationship: false,
  };
}

/**
 * The N:N relationships of the standard tables: the security model's intersects
 * (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/systemuser#manytomany).
 */
export const STANDARD_MANY_TO_MANY: readonly ManyToManyRelationshipMetadata[] = [
  standardManyToMany("systemuserroles_association", "systemuserroles", ["systemuser", "systemuserid"], ["role", "roleid"]),
  standardManyToMany("teamroles_association", "teamroles", ["team", "teamid"], ["role", "roleid"]),
  standardManyToMany("teammembership_association", "teammembership", ["systemuser", "systemuserid"], ["team", "teamid"]),
  standardManyToMany("roleprivileges_association", "roleprivileges", ["role", "roleid"], ["privilege", "privilegeid"]),
];

/** Standard tables with change tracking on, as in a new environment (the business data tables). */
const CHANGE_TRACKED = new Set(["account", "contact", "lead", "opportunity", "task", "email", "phonecall", "annotation", "systemuser", "team", "businessunit"]);

/**
 * `ChangeTrackingEnabled`: whether `Prefer: odata.track-changes` works on the table
 * (learn.microsoft.com/power-apps/developer/data-platform/use-change-tracking-synchronize-data-external-systems):
 * the standard business tables and every custom table (intersect tables never).
 */
export function changeTrackingEnabled(entity: EntityMetadata): boolean {
  if (entity.isIntersect) return false;
  return entity.isCustomEntity || CHANGE_TRACKED.has(entity.logicalName);
}
