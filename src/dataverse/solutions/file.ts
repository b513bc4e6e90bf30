import { unzipSync, zipSync, strToU8, strFromU8 } from "fflate";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { DataverseError } from "../errors.ts";
import type { AttributeMetadata, AttributeType, EntityKeyMetadata, EntityMetadata, GlobalOptionSetMetadata, ManyToManyRelationshipMetadata, OneToManyRelationshipMetadata, OptionMetadata } from "../metadata/types.ts";
import { DEPTHS, type Depth } from "../security/privileges.ts";

/**
 * The solution file: a zip holding `[Content_Types].xml`, `solution.xml` (the `SolutionManifest`) and
 * `customizations.xml`, in the schema Dataverse exports and SolutionPackager / `pac solution pack`
 * produce (learn.microsoft.com/power-platform/alm/solution-concepts-alm,
 * learn.microsoft.com/power-platform/alm/solution-packager-tool). orgbox reads and writes the parts it
 * models: custom tables (columns, choices, alternate keys), one-to-many and N:N relationships, global
 * option sets and security roles with their `RolePrivileges`. Forms, views and ribbons are carried
 * and ignored (named in {@link SolutionPackage.ignored}, a warning in the import job).
 */

/** A security role in a solution: `<Role id="{…}" name="…"><RolePrivileges><RolePrivilege name="prv…" level="Global"/>…`. */
export interface PackagedRole {
  id: string;
  name: string;
  privileges: { name: string; depth: Depth }[];
}

/** The publisher of a solution (`SolutionManifest/Publisher`). */
export interface PackagedPublisher {
  uniqueName: string;
  displayName: string;
  /** `CustomizationPrefix`, e.g. `fab`. */
  prefix: string;
  /** `CustomizationOptionValuePrefix`, 10000–99999. */
  optionValuePrefix: number;
  description?: string;
}

/** A `RootComponent` of the manifest: `type` is a `componenttype` code; `schemaName` or `id` names it. */
export interface RootComponent {
  type: number;
  schemaName?: string;
  id?: string;
}

/** What orgbox understands of a solution file. */
export interface SolutionPackage {
  uniqueName: string;
  displayName: string;
  version: string;
  managed: boolean;
  description?: string;
  publisher: PackagedPublisher;
  rootComponents: RootComponent[];
  /** Custom tables with their custom columns (lookups excluded: they come with their relationships). */
  entities: EntityMetadata[];
  /** Lookup columns' display names by `table.column`, from the tables' attribute lists. */
  lookupLabels: Map<string, { displayName: string; requiredLevel: AttributeMetadata["requiredLevel"] }>;
  oneToMany: OneToManyRelationshipMetadata[];
  manyToMany: ManyToManyRelationshipMetadata[];
  optionSets: GlobalOptionSetMetadata[];
  roles: PackagedRole[];
  /** What the file carries that orgbox ignores (`forms of fab_project`, `views of fab_project`, …). */
  ignored: string[];
}

const esc = (value: string): string => value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const label = (tag: string, text: string): string => `<${tag} description="${esc(text)}" languagecode="1033" />`;

/** XML column type names (`<Type>`) by orgbox attribute type. */
const XML_TYPES: Record<AttributeType, string> = {
  Uniqueidentifier: "uniqueidentifier",
  String: "nvarchar",
  Memo: "ntext",
  Integer: "int",
  BigInt: "bigint",
  Decimal: "decimal",
  Double: "float",
  Money: "money",
  DateTime: "datetime",
  Boolean: "bit",
  Picklist: "picklist",
  MultiSelectPicklist: "multiselectpicklist",
  State: "state",
  Status: "status",
  Lookup: "lookup",
  Customer: "customer",
  Owner: "owner",
  EntityName: "entityname",
};
const TYPES_BY_XML = new Map(Object.entries(XML_TYPES).map(([type, xml]) => [xml, type as AttributeType]));
const REQUIRED_XML: Record<AttributeMetadata["requiredLevel"], string> = { None: "none", ApplicationRequired: "required", SystemRequired: "systemrequired" };

function optionsXml(kind: string, name: string, options: OptionMetadata[]): string {
  const items = options.map((o) => `<option value="${o.value}"><labels>${label("label", o.label)}</labels></option>`).join("");
  return `<optionset Name="${esc(name)}"><OptionSetType>${kind}</OptionSetType><IsGlobal>0</IsGlobal><IsCustomizable>1</IsCustomizable><options>${items}</options></optionset>`;
}

function attributeXml(entity: EntityMetadata, a: AttributeMetadata): string {
  const parts = [
    `<Type>${a.logicalName === entity.primaryIdAttribute ? "primarykey" : XML_TYPES[a.type]}</Type>`,
    `<Name>${a.logicalName}</Name>`,
    `<LogicalName>${a.logicalName}</LogicalName>`,
    `<RequiredLevel>${REQUIRED_XML[a.requiredLevel]}</RequiredLevel>`,
    `<DisplayMask>${a.isPrimaryName ? "PrimaryName|ValidForAdvancedFind|ValidForForm|ValidForGrid|RequiredForForm" : "ValidForAdvancedFind|ValidForForm|ValidForGrid"}</DisplayMask>`,
    `<IsCustomField>${a.isCustomAttribute ? 1 : 0}</IsCustomField>`,
  ];
  if (a.type === "String") parts.push("<Format>text</Format>");
  if (a.maxLength !== undefined && (a.type === "String" || a.type === "Memo")) parts.push(`<MaxLength>${a.maxLength}</MaxLength>`);
  if (a.minValue !== undefined) parts.push(`<MinValue>${a.minValue}</MinValue>`);
  if (a.maxValue !== undefined) parts.push(`<MaxValue>${a.maxValue}</MaxValue>`);
  if (a.precision !== undefined) parts.push(`<Accuracy>${a.precision}</Accuracy>`);
  if (a.type === "DateTime") parts.push(`<Format>${a.dateTimeBehavior === "DateOnly" ? "date" : "datetime"}</Format><Behavior>${a.dateTimeBehavior === "DateOnly" ? 2 : a.dateTimeBehavior === "TimeZoneIndependent" ? 3 : 1}</Behavior>`);
  if ((a.type === "Picklist" || a.type === "MultiSelectPicklist") && a.globalOptionSet) parts.push(`<OptionSetName>${esc(a.globalOptionSet)}</OptionSetName>`);
  else if (a.type === "Picklist" || a.type === "MultiSelectPicklist") parts.push(optionsXml("picklist", `${entity.logicalName}_${a.logicalName}`, a.options ?? []));
  if (a.type === "Boolean") parts.push(optionsXml("bit", `${entity.logicalName}_${a.logicalName}`, a.options ?? []));
  parts.push(`<displaynames>${label("displayname", a.displayName)}</displaynames>`);
  if (a.description) parts.push(`<Descriptions>${label("Description", a.description)}</Descriptions>`);
  return `<attribute PhysicalName="${esc(a.schemaName)}">${parts.join("")}</attribute>`;
}

function keyXml(key: EntityKeyMetadata): string {
  return `<EntityKey><LogicalName>${key.logicalName}</LogicalName><SchemaName>${esc(key.schemaName ?? key.logicalName)}</SchemaName><EntityKeyAttributes>${key.keyAttributes.map((a) => `<AttributeName>${a}</AttributeName>`).join("")}</EntityKeyAttributes><displaynames>${label("displayname", key.displayName ?? key.logicalName)}</displaynames></EntityKey>`;
}

function entityXml(entity: EntityMetadata): string {
  const attributes = entity.attributes.filter((a) => a.isCustomAttribute || a.isPrimaryName || a.logicalName === entity.primaryIdAttribute);
  return [
    `<Entity><Name LocalizedName="${esc(entity.displayName)}" OriginalName="${esc(entity.displayName)}">${esc(entity.schemaName)}</Name><EntityInfo><entity Name="${esc(entity.schemaName)}">`,
    `<LocalizedNames>${label("LocalizedName", entity.displayName)}</LocalizedNames>`,
    `<LocalizedCollectionNames>${label("LocalizedCollectionName", entity.displayCollectionName)}</LocalizedCollectionNames>`,
    entity.description ? `<Descriptions>${label("Description", entity.description)}</Descriptions>` : "",
    `<attributes>${attributes.map((a) => attributeXml(entity, a)).join("")}</attributes>`,
    `<EntitySetName>${entity.entitySetName}</EntitySetName>`,
    `<IsCustomizable>1</IsCustomizable><IsActivity>0</IsActivity><HasActivities>${entity.hasActivities ? 1 : 0}</HasActivities><HasNotes>${entity.hasNotes ? 1 : 0}</HasNotes>`,
    `<OwnershipTypeMask>${entity.ownershipType === "OrganizationOwned" ? "OrgOwned" : "UserOwned"}</OwnershipTypeMask>`,
    entity.keys && entity.keys.length > 0 ? `<EntityKeys>${entity.keys.map(keyXml).join("")}</EntityKeys>` : "",
    `</entity></EntityInfo><FormXml /><SavedQueries /><RibbonDiffXml /></Entity>`,
  ].join("");
}

function role(nav: string, type: number): string {
  return `<EntityRelationshipRole><NavPaneDisplayOption>UseCollectionName</NavPaneDisplayOption><NavPaneArea>Details</NavPaneArea><NavPaneOrder>10000</NavPaneOrder><NavigationPropertyName>${esc(nav)}</NavigationPropertyName><RelationshipRoleType>${type}</RelationshipRoleType></EntityRelationshipRole>`;
}

/** Entity names in relationships are schema names (`Account`, `fab_Project`); `schemaOf` maps a logical name to it. */
function oneToManyXml(r: OneToManyRelationshipMetadata, schemaOf: (logical: string) => string, lookupSchema: string): string {
  const cascade = Object.entries(r.cascadeConfiguration ?? {}).map(([action, type]) => `<Cascade${action}>${type}</Cascade${action}>`).join("");
  return [
    `<EntityRelationship Name="${esc(r.schemaName)}"><EntityRelationshipType>OneToMany</EntityRelationshipType><IsCustomizable>1</IsCustomizable><IsHierarchical>0</IsHierarchical>`,
    `<ReferencingEntityName>${esc(schemaOf(r.referencingEntity))}</ReferencingEntityName><ReferencedEntityName>${esc(schemaOf(r.referencedEntity))}</ReferencedEntityName>`,
    cascade,
    `<ReferencingAttributeName>${esc(lookupSchema)}</ReferencingAttributeName>`,
    `<EntityRelationshipRoles>${role(r.referencingEntityNavigationPropertyName, 1)}${role(r.referencedEntityNavigationPropertyName, 0)}</EntityRelationshipRoles></EntityRelationship>`,
  ].join("");
}

function manyToManyXml(r: ManyToManyRelationshipMetadata, schemaOf: (logical: string) => string, intersectSchema: string): string {
  return [
    `<EntityRelationship Name="${esc(r.schemaName)}"><EntityRelationshipType>ManyToMany</EntityRelationshipType><IsCustomizable>1</IsCustomizable><IsHierarchical>0</IsHierarchical>`,
    `<FirstEntityName>${esc(schemaOf(r.entity1LogicalName))}</FirstEntityName><SecondEntityName>${esc(schemaOf(r.entity2LogicalName))}</SecondEntityName><IntersectEntityName>${esc(intersectSchema)}</IntersectEntityName>`,
    `<EntityRelationshipRoles>${role(r.entity1NavigationPropertyName, 0)}${role(r.entity2NavigationPropertyName, 0)}</EntityRelationshipRoles></EntityRelationship>`,
  ].join("");
}

function optionSetXml(set: GlobalOptionSetMetadata): string {
  const items = set.options.map((o) => `<option value="${o.value}" ExternalValue="" IsHidden="0"><labels>${label("label", o.label)}</labels></option>`).join("");
  return `<optionset Name="${esc(set.name)}" localizedName="${esc(set.displayName)}"><OptionSetType>picklist</OptionSetType><IsGlobal>1</IsGlobal><IsCustomizable>1</IsCustomizable><displaynames>${label("displayname", set.displayName)}</displaynames>${set.description ? `<Descriptions>${label("Description", set.description)}</Descriptions>` : ""}<options>${items}</options></optionset>`;
}

function roleXml(r: PackagedRole): string {
  return `<Role id="{${r.id}}" name="${esc(r.name)}"><RolePrivileges>${r.privileges.map((p) => `<RolePrivilege name="${esc(p.name)}" level="${p.depth}" />`).join("")}</RolePrivileges></Role>`;
}

/** What {@link buildSolutionZip} writes besides the package's own parts: how to name tables and lookups as schema names. */
export interface BuildContext {
  schemaOf: (logicalName: string) => string;
  lookupSchemaOf: (relationship: OneToManyRelationshipMetadata) => string;
  intersectSchemaOf: (relationship: ManyToManyRelationshipMetadata) => string;
}

const HEADER = `<?xml version="1.0" encoding="utf-8"?>`;
const ROOT_ATTRS = `version="9.2.0.0" SolutionPackageVersion="9.2" languagecode="1033" generatedBy="CrmLive" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" OrganizationVersion="9.2.0.0" OrganizationSchemaType="Standard"`;
const CONTENT_TYPES = `${HEADER}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/octet-stream" /></Types>`;

/**
 * Writes a solution zip: `[Content_Types].xml`, `solution.xml` and `customizations.xml`.
 * @returns the zip's bytes.
 */
export function buildSolutionZip(pkg: SolutionPackage, context: BuildContext): Uint8Array {
  const p = pkg.publisher;
  const manifest = [
    `${HEADER}<ImportExportXml ${ROOT_ATTRS}><SolutionManifest>`,
    `<UniqueName>${esc(pkg.uniqueName)}</UniqueName><LocalizedNames>${label("LocalizedName", pkg.displayName)}</LocalizedNames>`,
    pkg.description ? `<Descriptions>${label("Description", pkg.description)}</Descriptions>` : "<Descriptions />",
    `<Version>${esc(pkg.version)}</Version><Managed>${pkg.managed ? 1 : 0}</Managed>`,
    `<Publisher><UniqueName>${esc(p.uniqueName)}</UniqueName><LocalizedNames>${label("LocalizedName", p.displayName)}</LocalizedNames>`,
    p.description ? `<Descriptions>${label("Description", p.description)}</Descriptions>` : "<Descriptions />",
    `<EMailAddress xsi:nil="true"></EMailAddress><SupportingWebsiteUrl xsi:nil="true"></SupportingWebsiteUrl>`,
    `<CustomizationPrefix>${esc(p.prefix)}</CustomizationPrefix><CustomizationOptionValuePrefix>${p.optionValuePrefix}</CustomizationOptionValuePrefix><Addresses /></Publisher>`,
    `<RootComponents>${pkg.rootComponents.map((c) => `<RootComponent type="${c.type}" ${c.id ? `id="{${c.id}}"` : `schemaName="${esc(c.schemaName ?? "")}"`} behavior="0" />`).join("")}</RootComponents>`,
    `<MissingDependencies /></SolutionManifest></ImportExportXml>`,
  ].join("");
  const customizations = [
    `${HEADER}<ImportExportXml xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" OrganizationVersion="9.2.0.0" OrganizationSchemaType="Standard">`,
    `<Entities>${pkg.entities.map(entityXml).join("")}</Entities>`,
    `<Roles>${pkg.roles.map(roleXml).join("")}</Roles>`,
    `<Workflows /><FieldSecurityProfiles /><Templates /><EntityMaps />`,
    `<EntityRelationships>${[...pkg.oneToMany.map((r) => oneToManyXml(r, context.schemaOf, context.lookupSchemaOf(r))), ...pkg.manyToMany.map((r) => manyToManyXml(r, context.schemaOf, context.intersectSchemaOf(r)))].join("")}</EntityRelationships>`,
    `<OrganizationSettings /><optionsets>${pkg.optionSets.map(optionSetXml).join("")}</optionsets>`,
    `<CustomControls /><EntityDataProviders /><Languages><Language>1033</Language></Languages></ImportExportXml>`,
  ].join("");
  return zipSync({ "[Content_Types].xml": strToU8(CONTENT_TYPES), "solution.xml": strToU8(manifest), "customizations.xml": strToU8(customizations) }, { level: 6 });
}

// ── Reading ─────────────────────────────────────────────────────────────────────

/** A parsed XML element (fast-xml-parser: attributes `@_x`, text `#text`). */
type Node = Record<string, unknown>;

const REPEATED = new Set(["Entity", "attribute", "EntityRelationship", "EntityRelationshipRole", "optionset", "option", "label", "Role", "RolePrivilege", "RootComponent", "LocalizedName", "LocalizedCollectionName", "displayname", "Description", "EntityKey", "AttributeName", "MissingDependency"]);
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@_", parseTagValue: false, parseAttributeValue: false, trimValues: true, isArray: (name) => REPEATED.has(name) });

/** The solution-file error Dataverse raises for an unreadable file (`ImportFileSignatureInvalid`-like): 400 `0x80048060`. */
export function invalidSolutionFile(message: string): DataverseError {
  return new DataverseError(400, "0x80048060", `The import file is invalid. ${message}`);
}

const text = (value: unknown): string | undefined => {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  if (value && typeof value === "object" && "#text" in value) return String((value as Node)["#text"]);
  return undefined;
};
const nodes = (value: unknown): Node[] => (Array.isArray(value) ? value.filter((v): v is Node => typeof v === "object" && v !== null) : value && typeof value === "object" ? [value as Node] : []);
const child = (node: Node | undefined, name: string): Node | undefined => nodes(node?.[name])[0];

/** The 1033 label of a `<LocalizedNames>`/`<displaynames>`/`<labels>` list (or the first). */
function labelOf(container: Node | undefined, tag: string): string | undefined {
  const list = nodes(container?.[tag]);
  const chosen = list.find((l) => l["@_languagecode"] === "1033") ?? list[0];
  return typeof chosen?.["@_description"] === "string" ? chosen["@_description"] : undefined;
}

const guid = (value: string | undefined): string | undefined => {
  const m = value ? /^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$/.exec(value.trim()) : null;
  return m ? (m[1] as string).toLowerCase() : undefined;
};

/**
 * The raw parts of a solution zip, as {@link parseSolutionZip} reads them before mapping: what
 * `importSolution` turns into Web API definition bodies (so one validator checks both paths).
 */
export interface RawSolution {
  manifest: Node;
  customizations: Node;
}

/** The largest `solution.xml` / `customizations.xml` orgbox inflates (uncompressed bytes). */
const MAX_PART_BYTES = 256 * 1024 * 1024;

/**
 * Opens a solution zip and parses `solution.xml` and `customizations.xml`.
 * @throws DataverseError 400 `0x80048060` for bytes that are not a zip, or a zip without those parts.
 */
export function readSolutionZip(bytes: Uint8Array): RawSolution {
  let files: Record<string, Uint8Array>;
  const oversized: string[] = [];
  try {
    // Only the two parts orgbox reads are inflated, each up to MAX_PART_BYTES as declared (a zip bomb is refused, not expanded).
    files = unzipSync(bytes, {
      filter: (file) => {
        const wanted = ["solution.xml", "customizations.xml"].includes(file.name.toLowerCase());
        if (wanted && file.originalSize > MAX_PART_BYTES) oversized.push(file.name);
        return wanted && file.originalSize <= MAX_PART_BYTES;
      },
    });
  } catch {
    throw invalidSolutionFile("The file is not a solution zip file.");
  }
  if (oversized.length > 0) throw invalidSolutionFile(`${oversized.join(", ")} is larger than ${MAX_PART_BYTES / 1024 / 1024} MB uncompressed.`);
  const find = (name: string) => Object.entries(files).find(([path]) => path.toLowerCase() === name)?.[1];
  const solution = find("solution.xml");
  const customizations = find("customizations.xml");
  if (!solution || !customizations) throw invalidSolutionFile("A solution zip holds solution.xml and customizations.xml at its root.");
  const parse = (data: Uint8Array, name: string): Node => {
    const text = strFromU8(data).replace(/^\uFEFF/, "");
    const valid = XMLValidator.validate(text);
    if (valid !== true) throw invalidSolutionFile(`${name} is not well-formed XML: ${valid.err.msg} (line ${valid.err.line}).`);
    try {
      return parser.parse(text) as Node;
    } catch (error) {
      throw invalidSolutionFile(`${name} is not well-formed XML: ${(error as Error).message}`);
    }
  };
  const manifest = child(child(parse(solution, "solution.xml"), "ImportExportXml"), "SolutionManifest");
  const document = parse(customizations, "customizations.xml");
  // An empty <ImportExportXml/> parses as "": a solution with nothing in it.
  const root = child(document, "ImportExportXml") ?? ("ImportExportXml" in document ? {} : undefined);
  if (!manifest) throw invalidSolutionFile("solution.xml has no ImportExportXml/SolutionManifest.");
  if (!root) throw invalidSolutionFile("customizations.xml has no ImportExportXml root.");
  return { manifest, customizations: root };
}

/** A column of a packaged table, as Web API `AttributeMetadata` JSON (the definition parsers validate it). */
export interface PackagedColumn {
  schemaName: string;
  logicalName: string;
  type: AttributeType;
  isPrimaryName: boolean;
  body: Record<string, unknown>;
}

/** A packaged table as Web API definition bodies: the table (with its primary name column), its other columns and keys. */
export interface PackagedTable {
  schemaName: string;
  logicalName: string;
  body: Record<string, unknown>;
  columns: PackagedColumn[];
  lookups: Map<string, { displayName: string; requiredLevel: string }>;
  keys: Record<string, unknown>[];
  ignored: string[];
}

/** The parsed solution: manifest facts, and each component as a Web API definition body. */
export interface ParsedSolution {
  uniqueName: string;
  displayName: string;
  version: string;
  managed: boolean;
  description?: string;
  publisher: PackagedPublisher;
  rootComponents: RootComponent[];
  missingDependencies: string[];
  tables: PackagedTable[];
  optionSets: Record<string, unknown>[];
  /** OneToManyRelationshipMetadata / ManyToManyRelationshipMetadata bodies, entity names resolved to logical names. */
  relationships: { kind: "OneToMany" | "ManyToMany"; schemaName: string; body: Record<string, unknown> }[];
  roles: PackagedRole[];
  ignored: string[];
}

const LABEL = (text: string | undefined) => (text === undefined ? undefined : { LocalizedLabels: [{ Label: text, LanguageCode: 1033 }] });
const REQUIRED_FROM_XML: Record<string, string> = { none: "None", required: "ApplicationRequired", applicationrequired: "ApplicationRequired", systemrequired: "SystemRequired", recommended: "Recommended" };
const ODATA_TYPES: Partial<Record<AttributeType, string>> = {
  String: "StringAttributeMetadata",
  Memo: "MemoAttributeMetadata",
  Integer: "IntegerAttributeMetadata",
  BigInt: "BigIntAttributeMetadata",
  Decimal: "DecimalAttributeMetadata",
  Double: "DoubleAttributeMetadata",
  Money: "MoneyAttributeMetadata",
  DateTime: "DateTimeAttributeMetadata",
  Boolean: "BooleanAttributeMetadata",
  Picklist: "PicklistAttributeMetadata",
  MultiSelectPicklist: "MultiSelectPicklistAttributeMetadata",
};

function xmlOptions(set: Node | undefined): { Value: number; Label: unknown }[] {
  return nodes(child(set, "options")?.option).map((o) => ({ Value: Number(o["@_value"]), Label: LABEL(labelOf(child(o, "labels"), "label")) }));
}

/** Platform columns every table has, which a solution lists but the platform creates. */
const PLATFORM_TYPES = new Set(["primarykey", "state", "status", "owner", "lookup", "customer", "uniqueidentifier", "entityname", "partylist", "virtual", "image", "file"]);

function parseTable(entityNode: Node): PackagedTable {
  const info = child(child(entityNode, "EntityInfo"), "entity");
  const schemaName = (info?.["@_Name"] as string | undefined) ?? text(entityNode.Name);
  if (!info || !schemaName) throw invalidSolutionFile("An <Entity> has no EntityInfo/entity Name.");
  const logicalName = schemaName.toLowerCase();
  const columns: PackagedColumn[] = [];
  const lookups = new Map<string, { displayName: string; requiredLevel: string }>();
  for (const a of nodes(child(info, "attributes")?.attribute)) {
    const xmlType = (text(a.Type) ?? "").toLowerCase();
    const physical = (a["@_PhysicalName"] as string | undefined) ?? text(a.Name) ?? "";
    const logical = (text(a.LogicalName) ?? text(a.Name) ?? physical).toLowerCase();
    const displayName = labelOf(child(a, "displaynames"), "displayname") ?? physical;
    const requiredLevel = REQUIRED_FROM_XML[(text(a.RequiredLevel) ?? "none").toLowerCase()] ?? "None";
    const custom = text(a.IsCustomField) === "1";
    if (xmlType === "lookup" || xmlType === "customer") {
      lookups.set(logical, { displayName, requiredLevel });
      continue;
    }
    if (PLATFORM_TYPES.has(xmlType)) continue;
    const isPrimaryName = (text(a.DisplayMask) ?? "").split("|").includes("PrimaryName");
    if (!custom && !isPrimaryName) continue;
    const type = TYPES_BY_XML.get(xmlType);
    const odata = type ? ODATA_TYPES[type] : undefined;
    if (!type || !odata) throw invalidSolutionFile(`The column '${physical}' of '${schemaName}' has the type '${xmlType}', which orgbox does not support.`);
    const body: Record<string, unknown> = {
      "@odata.type": `Microsoft.Dynamics.CRM.${odata}`,
      SchemaName: physical,
      DisplayName: LABEL(displayName),
      RequiredLevel: { Value: requiredLevel },
      ...(isPrimaryName ? { IsPrimaryName: true } : {}),
    };
    const description = labelOf(child(a, "Descriptions"), "Description");
    if (description) body.Description = LABEL(description);
    const num = (name: string) => (text(a[name]) !== undefined && text(a[name]) !== "" ? Number(text(a[name])) : undefined);
    if (type === "String" || type === "Memo") body.MaxLength = num("MaxLength") ?? (type === "String" ? 100 : 2000);
    if (["Integer", "Decimal", "Double", "Money"].includes(type)) {
      if (num("MinValue") !== undefined) body.MinValue = num("MinValue");
      if (num("MaxValue") !== undefined) body.MaxValue = num("MaxValue");
      if (type !== "Integer" && num("Accuracy") !== undefined) body.Precision = num("Accuracy");
    }
    if (type === "DateTime") {
      const behavior = num("Behavior");
      body.DateTimeBehavior = { Value: behavior === 2 || (text(a.Format) ?? "").toLowerCase() === "date" ? "DateOnly" : behavior === 3 ? "TimeZoneIndependent" : "UserLocal" };
    }
    if (type === "Picklist" || type === "MultiSelectPicklist") {
      const global = text(a.OptionSetName);
      if (global) body["GlobalOptionSet@odata.bind"] = global;
      else body.OptionSet = { IsGlobal: false, Options: xmlOptions(child(a, "optionset")) };
    }
    if (type === "Boolean") {
      const options = xmlOptions(child(a, "optionset"));
      const find = (value: number) => options.find((o) => o.Value === value)?.Label;
      body.OptionSet = { TrueOption: { Value: 1, Label: find(1) }, FalseOption: { Value: 0, Label: find(0) } };
    }
    columns.push({ schemaName: physical, logicalName: logical, type, isPrimaryName, body });
  }
  const primary = columns.filter((c) => c.isPrimaryName);
  if (primary.length !== 1) throw invalidSolutionFile(`The table '${schemaName}' must have exactly one primary name column (DisplayMask PrimaryName).`);
  const ownership = (text(info.OwnershipTypeMask) ?? "UserOwned").toLowerCase().startsWith("org") ? "OrganizationOwned" : "UserOwned";
  const entitySetName = text(info.EntitySetName);
  const body: Record<string, unknown> = {
    SchemaName: schemaName,
    DisplayName: LABEL(labelOf(child(info, "LocalizedNames"), "LocalizedName") ?? schemaName),
    DisplayCollectionName: LABEL(labelOf(child(info, "LocalizedCollectionNames"), "LocalizedCollectionName")),
    OwnershipType: ownership,
    HasActivities: text(info.HasActivities) === "1",
    HasNotes: text(info.HasNotes) === "1",
    Attributes: [(primary[0] as PackagedColumn).body],
    ...(entitySetName ? { EntitySetName: entitySetName } : {}),
  };
  const description = labelOf(child(info, "Descriptions"), "Description");
  if (description) body.Description = LABEL(description);
  const keys = nodes(child(info, "EntityKeys")?.EntityKey).map((k) => {
    const names = child(k, "EntityKeyAttributes")?.AttributeName;
    return {
      SchemaName: text(k.SchemaName) ?? text(k.LogicalName) ?? (k["@_Name"] as string | undefined),
      KeyAttributes: (Array.isArray(names) ? names : []).map((n) => String(text(n) ?? "").toLowerCase()),
      DisplayName: LABEL(labelOf(child(k, "displaynames"), "displayname")),
    };
  });
  const ignored: string[] = [];
  if (entityNode.FormXml && typeof entityNode.FormXml === "object") ignored.push(`forms of ${logicalName}`);
  if (entityNode.SavedQueries && typeof entityNode.SavedQueries === "object") ignored.push(`views of ${logicalName}`);
  if (entityNode.RibbonDiffXml && typeof entityNode.RibbonDiffXml === "object") ignored.push(`ribbon of ${logicalName}`);
  return { schemaName, logicalName, body, columns: columns.filter((c) => !c.isPrimaryName), lookups, keys, ignored };
}

function parseRelationship(node: Node, lookupOf: (referencing: string, attribute: string) => { displayName: string; requiredLevel: string } | undefined): ParsedSolution["relationships"][number] {
  const schemaName = node["@_Name"] as string | undefined;
  const type = text(node.EntityRelationshipType);
  if (!schemaName) throw invalidSolutionFile("An <EntityRelationship> has no Name.");
  const roles = nodes(child(node, "EntityRelationshipRoles")?.EntityRelationshipRole);
  const navs = roles.map((r) => ({ nav: text(r.NavigationPropertyName), type: text(r.RelationshipRoleType) }));
  if (type === "ManyToMany") {
    return {
      kind: "ManyToMany",
      schemaName,
      body: {
        SchemaName: schemaName,
        Entity1LogicalName: (text(node.FirstEntityName) ?? text(node.Entity1LogicalName) ?? "").toLowerCase(),
        Entity2LogicalName: (text(node.SecondEntityName) ?? text(node.Entity2LogicalName) ?? "").toLowerCase(),
        IntersectEntityName: text(node.IntersectEntityName) ?? schemaName,
        ...(navs[0]?.nav ? { Entity1NavigationPropertyName: navs[0].nav } : {}),
        ...(navs[1]?.nav ? { Entity2NavigationPropertyName: navs[1].nav } : {}),
      },
    };
  }
  if (type !== "OneToMany" && type !== "ManyToOne") throw invalidSolutionFile(`The relationship '${schemaName}' has the type '${String(type)}'.`);
  const referencing = (text(node.ReferencingEntityName) ?? "").toLowerCase();
  const lookupSchema = text(node.ReferencingAttributeName) ?? "";
  const lookup = lookupOf(referencing, lookupSchema.toLowerCase());
  const cascade: Record<string, string> = {};
  for (const action of ["Assign", "Delete", "Merge", "Reparent", "Share", "Unshare", "Archive", "RollupView"]) {
    const value = text(node[`Cascade${action}`]);
    if (value) cascade[action] = value;
  }
  const referencingNav = navs.find((n) => n.type === "1")?.nav;
  const referencedNav = navs.find((n) => n.type === "0")?.nav;
  return {
    kind: "OneToMany",
    schemaName,
    body: {
      SchemaName: schemaName,
      ReferencedEntity: (text(node.ReferencedEntityName) ?? "").toLowerCase(),
      ReferencingEntity: referencing,
      Lookup: { "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata", SchemaName: lookupSchema, DisplayName: LABEL(lookup?.displayName ?? lookupSchema), RequiredLevel: { Value: lookup?.requiredLevel ?? "None" } },
      CascadeConfiguration: cascade,
      ...(referencingNav ? { ReferencingEntityNavigationPropertyName: referencingNav } : {}),
      ...(referencedNav ? { ReferencedEntityNavigationPropertyName: referencedNav } : {}),
    },
  };
}

/**
 * Reads a solution zip into definition bodies (tables, columns, keys, relationships, option sets) and
 * roles, validating the manifest.
 * @throws DataverseError 400 `0x80048060` for a file orgbox cannot read (names what is wrong).
 */
export function parseSolutionZip(bytes: Uint8Array): ParsedSolution {
  const { manifest, customizations } = readSolutionZip(bytes);
  const uniqueName = text(manifest.UniqueName);
  const version = text(manifest.Version);
  const publisherNode = child(manifest, "Publisher");
  if (!uniqueName || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(uniqueName)) throw invalidSolutionFile("SolutionManifest/UniqueName is missing or not a valid name.");
  if (!version || !/^\d+(\.\d+){1,3}$/.test(version)) throw invalidSolutionFile(`SolutionManifest/Version '${String(version)}' is not a version (major.minor[.build[.revision]]).`);
  const prefix = text(publisherNode?.CustomizationPrefix);
  const publisherName = text(publisherNode?.UniqueName);
  if (!publisherNode || !publisherName || !prefix) throw invalidSolutionFile("SolutionManifest/Publisher needs UniqueName and CustomizationPrefix.");
  const optionValuePrefix = Number(text(publisherNode.CustomizationOptionValuePrefix) ?? "10000");
  const tables = nodes(child(customizations, "Entities")?.Entity).map(parseTable);
  const lookupOf = (referencing: string, attribute: string) => tables.find((t) => t.logicalName === referencing)?.lookups.get(attribute);
  const relationships = nodes(child(customizations, "EntityRelationships")?.EntityRelationship).map((n) => parseRelationship(n, lookupOf));
  const optionSets = nodes(child(customizations, "optionsets")?.optionset)
    .filter((o) => text(o.IsGlobal) !== "0")
    .map((o) => ({ Name: o["@_Name"], IsGlobal: true, OptionSetType: "Picklist", DisplayName: LABEL(labelOf(child(o, "displaynames"), "displayname") ?? (o["@_localizedName"] as string | undefined)), Description: LABEL(labelOf(child(o, "Descriptions"), "Description")), Options: xmlOptions(o) }));
  const roles = nodes(child(customizations, "Roles")?.Role).map((r): PackagedRole => {
    const id = guid(r["@_id"] as string | undefined) ?? guid(r["@_roleid"] as string | undefined);
    const name = (r["@_name"] as string | undefined) ?? (r["@_Name"] as string | undefined) ?? text(r.RoleName);
    if (!id || !name) throw invalidSolutionFile("A <Role> needs an id (a GUID) and a name.");
    const privileges = nodes(child(r, "RolePrivileges")?.RolePrivilege).map((p) => {
      const level = p["@_level"] as string | undefined;
      if (level === undefined || !(DEPTHS as readonly string[]).includes(level)) throw invalidSolutionFile(`The role '${name}' gives '${String(p["@_name"])}' the level '${String(level)}': use Basic, Local, Deep or Global.`);
      return { name: String(p["@_name"]), depth: level as Depth };
    });
    return { id, name, privileges };
  });
  const rootComponents = nodes(child(manifest, "RootComponents")?.RootComponent).map((c) => {
    const id = guid(c["@_id"] as string | undefined);
    const schemaName = c["@_schemaName"] as string | undefined;
    return { type: Number(c["@_type"]), ...(id ? { id } : {}), ...(schemaName ? { schemaName } : {}) };
  });
  const missingDependencies = nodes(child(manifest, "MissingDependencies")?.MissingDependency).map((d) => JSON.stringify(d));
  const ignored = tables.flatMap((t) => t.ignored);
  for (const part of ["Workflows", "FieldSecurityProfiles", "Templates", "EntityMaps", "WebResources", "AppModules", "AppModuleSiteMaps", "CustomControls"]) {
    const node = customizations[part];
    if (node && typeof node === "object" && Object.keys(node).length > 0) ignored.push(part);
  }
  const description = labelOf(child(manifest, "Descriptions"), "Description");
  return {
    uniqueName,
    displayName: labelOf(child(manifest, "LocalizedNames"), "LocalizedName") ?? uniqueName,
    version,
    managed: text(manifest.Managed) === "1",
    ...(description ? { description } : {}),
    publisher: { uniqueName: publisherName, displayName: labelOf(child(publisherNode, "LocalizedNames"), "LocalizedName") ?? publisherName, prefix, optionValuePrefix: Number.isFinite(optionValuePrefix) ? optionValuePrefix : 10000 },
    rootComponents,
    missingDependencies,
    tables,
    optionSets,
    relationships,
    roles,
    ignored,
  };
}
