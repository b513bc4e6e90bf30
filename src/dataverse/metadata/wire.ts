import { createHash } from "node:crypto";
import type { NavigationModel, OneToMany } from "../navigation.ts";
import type { OrgMetadata } from "./registry.ts";
import { pluralize } from "./custom.ts";
import type { AttributeMetadata, AttributeType, EntityMetadata, ManyToManyRelationshipMetadata, OptionMetadata } from "./types.ts";
import { changeTrackingEnabled } from "./standard.ts";

/**
 * The Web API shapes of table definitions: `EntityMetadata`, `AttributeMetadata` (and its derived
 * types), `OneToManyRelationshipMetadata`, `OptionSetMetadata` and `Label`
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/entitymetadata,
 * …/attributemetadata, …/onetomanyrelationshipmetadata, …/label).
 */

/** A JSON object of the metadata wire format. */
export type WireObject = Record<string, unknown>;

/** English (United States): the only language orgbox labels carry. */
const LANGUAGE_CODE = 1033;

/**
 * A stable `MetadataId` for a definition: the same for every org and every run, so clients may
 * cache it (Dataverse's own ids of standard tables are also the same in every environment).
 * `kind:name` is hashed into a version-5-shaped GUID.
 */
export function metadataId(kind: "entity" | "attribute" | "relationship" | "optionset" | "label" | "key", name: string): string {
  const h = createHash("sha1").update(`orgbox:metadata:${kind}:${name}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The `MetadataId` of a table. */
export function entityMetadataId(entity: EntityMetadata): string {
  return metadataId("entity", entity.logicalName);
}

/** The `MetadataId` of a column. */
export function attributeMetadataId(entity: EntityMetadata, attribute: AttributeMetadata): string {
  return metadataId("attribute", `${entity.logicalName}.${attribute.logicalName}`);
}

/**
 * A `Label` complex type: `{"LocalizedLabels":[{Label, LanguageCode: 1033, …}], "UserLocalizedLabel": {…}}`;
 * an absent text gives `{"LocalizedLabels":[],"UserLocalizedLabel":null}` as Dataverse sends for unset labels.
 */
export function label(text: string | undefined, owner: string, managed: boolean): WireObject {
  if (text === undefined || text === "") return { LocalizedLabels: [], UserLocalizedLabel: null };
  const localized = { Label: text, LanguageCode: LANGUAGE_CODE, IsManaged: managed, MetadataId: metadataId("label", owner), HasChanged: null };
  return { LocalizedLabels: [localized], UserLocalizedLabel: localized };
}

/** Per attribute type: the derived metadata type (`@odata.type`) and `AttributeTypeName`. */
const TYPES: Record<AttributeType, { odataType: string; typeName: string }> = {
  Uniqueidentifier: { odataType: "UniqueIdentifierAttributeMetadata", typeName: "UniqueidentifierType" },
  String: { odataType: "StringAttributeMetadata", typeName: "StringType" },
  Memo: { odataType: "MemoAttributeMetadata", typeName: "MemoType" },
  Integer: { odataType: "IntegerAttributeMetadata", typeName: "IntegerType" },
  BigInt: { odataType: "BigIntAttributeMetadata", typeName: "BigIntType" },
  Decimal: { odataType: "DecimalAttributeMetadata", typeName: "DecimalType" },
  Double: { odataType: "DoubleAttributeMetadata", typeName: "DoubleType" },
  Money: { odataType: "MoneyAttributeMetadata", typeName: "MoneyType" },
  DateTime: { odataType: "DateTimeAttributeMetadata", typeName: "DateTimeType" },
  Boolean: { odataType: "BooleanAttributeMetadata", typeName: "BooleanType" },
  Picklist: { odataType: "PicklistAttributeMetadata", typeName: "PicklistType" },
  MultiSelectPicklist: { odataType: "MultiSelectPicklistAttributeMetadata", typeName: "MultiSelectPicklistType" },
  State: { odataType: "StateAttributeMetadata", typeName: "StateType" },
  Status: { odataType: "StatusAttributeMetadata", typeName: "StatusType" },
  Lookup: { odataType: "LookupAttributeMetadata", typeName: "LookupType" },
  Customer: { odataType: "LookupAttributeMetadata", typeName: "CustomerType" },
  Owner: { odataType: "LookupAttributeMetadata", typeName: "OwnerType" },
  EntityName: { odataType: "EntityNameAttributeMetadata", typeName: "EntityNameType" },
};

/** Derived attribute metadata type names (`PicklistAttributeMetadata`, …), for type casts and CSDL. */
export const ATTRIBUTE_METADATA_TYPES: readonly string[] = [...new Set(Object.values(TYPES).map((t) => t.odataType))];

/** The derived metadata type of a column (`StringAttributeMetadata`). */
export function attributeMetadataType(attribute: AttributeMetadata): string {
  return TYPES[attribute.type].odataType;
}

/** Documented default ranges of the numeric column types (attributemetadata reference pages). */
const RANGES: Partial<Record<AttributeType, { min: number; max: number }>> = {
  Integer: { min: -2147483648, max: 2147483647 },
  Decimal: { min: -100000000000, max: 100000000000 },
  Double: { min: -100000000000, max: 100000000000 },
  Money: { min: -922337203685477, max: 922337203685477 },
};

const OPTION_TYPES = new Set<AttributeType>(["Picklist", "MultiSelectPicklist", "State", "Status", "Boolean"]);

/** True for columns with an `OptionSet` navigation property (choices, state, status, yes/no). */
export function hasOptionSet(attribute: AttributeMetadata): boolean {
  return OPTION_TYPES.has(attribute.type);
}

function option(entity: EntityMetadata, attribute: AttributeMetadata, o: OptionMetadata, managed: boolean): WireObject {
  return { Value: o.value, Color: null, IsManaged: managed, ExternalValue: null, ParentValues: [], Tag: null, IsHidden: false, Label: label(o.label, `${entity.logicalName}.${attribute.logicalName}.${o.value}`, managed), Description: label(undefined, "", managed) };
}

/**
 * The `OptionSet` of a choice / state / status / yes-no column: `OptionSetMetadata` with `Options`,
 * or `BooleanOptionSetMetadata` with `TrueOption` / `FalseOption`. Local option sets are named
 * `{entity}_{attribute}` as Dataverse names them.
 */
export function optionSetToWire(entity: EntityMetadata, attribute: AttributeMetadata): WireObject {
  const managed = !attribute.isCustomAttribute;
  const global = attribute.globalOptionSet;
  const name = global ?? `${entity.logicalName}_${attribute.logicalName}`;
  const base = { MetadataId: metadataId("optionset", global !== undefined ? `global.${global}` : name), Name: name, IsGlobal: global !== undefined, IsCustomOptionSet: attribute.isCustomAttribute, IsManaged: managed, DisplayName: label(attribute.displayName, `${name}.optionset`, managed), Description: label(undefined, "", managed) };
  const options = attribute.options ?? [];
  if (attribute.type === "Boolean") {
    const find = (value: number) => options.find((o) => o.value === value) ?? { value, label: value === 1 ? "Yes" : "No" };
    return { "@odata.type": "#Microsoft.Dynamics.CRM.BooleanOptionSetMetadata", ...base, OptionSetType: "Boolean", TrueOption: option(entity, attribute, find(1), managed), FalseOption: option(entity, attribute, find(0), managed) };
  }
  const optionSetType = attribute.type === "Picklist" || attribute.type === "MultiSelectPicklist" ? "Picklist" : attribute.type;
  return { "@odata.type": "#Microsoft.Dynamics.CRM.OptionSetMetadata", ...base, OptionSetType: optionSetType, Options: options.map((o) => option(entity, attribute, o, managed)) };
}

/**
 * A column as `AttributeMetadata`, with `@odata.type` naming its derived type and that type's
 * properties (`MaxLength`, `Targets`, `Precision`, `MinValue`/`MaxValue`, `DateTimeBehavior`, …).
 * `OptionSet` is a navigation property: only with `expandOptionSet`.
 */
export function attributeToWire(entity: EntityMetadata, attribute: AttributeMetadata, index: number, expandOptionSet = false): WireObject {
  const managed = !attribute.isCustomAttribute;
  const owner = `${entity.logicalName}.${attribute.logicalName}`;
  const { odataType, typeName } = TYPES[attribute.type];
  const out: WireObject = {
    "@odata.type": `#Microsoft.Dynamics.CRM.${odataType}`,
    MetadataId: attributeMetadataId(entity, attribute),
    LogicalName: attribute.logicalName,
    SchemaName: attribute.schemaName,
    EntityLogicalName: entity.logicalName,
    // Dataverse reports multi-select choice columns as Virtual (their type is in AttributeTypeName).
    AttributeType: attribute.type === "MultiSelectPicklist" ? "Virtual" : attribute.type,
    AttributeTypeName: { Value: typeName },
    AttributeOf: null,
    ColumnNumber: index + 1,
    DisplayName: label(attribute.displayName, owner, managed),
    Description: label(attribute.description, `${owner}.description`, managed),
    RequiredLevel: { Value: attribute.requiredLevel, CanBeChanged: attribute.requiredLevel !== "SystemRequired", ManagedPropertyLogicalName: "canmodifyrequirementlevelsettings" },
    IsCustomAttribute: attribute.isCustomAttribute,
    IsManaged: managed,
    IsPrimaryId: attribute.isPrimaryId === true,
    IsPrimaryName: attribute.isPrimaryName === true,
    IsValidForCreate: attribute.isValidForCreate,
    IsValidForUpdate: attribute.isValidForUpdate,
    IsValidForRead: true,
    IsValidODataAttribute: true,
    IsLogical: false,
    IsFilterable: true,
    IsSearchable: true,
    IsRetrievable: true,
    IntroducedVersion: managed ? "5.0.0.0" : "1.0",
  };
  switch (attribute.type) {
    case "String":
      Object.assign(out, { MaxLength: attribute.maxLength ?? 100, DatabaseLength: (attribute.maxLength ?? 100) * 2, Format: "Text", FormatName: { Value: "Text" } });
      break;
    case "Memo":
      Object.assign(out, { MaxLength: attribute.maxLength ?? 2000, DatabaseLength: (attribute.maxLength ?? 2000) * 2, Format: "TextArea" });
      break;
    case "Integer":
    case "Decimal":
    case "Double":
    case "Money": {
      const range = RANGES[attribute.type] as { min: number; max: number };
      Object.assign(out, { MinValue: attribute.minValue ?? range.min, MaxValue: attribute.maxValue ?? range.max });
      if (attribute.type === "Integer") out.Format = "None";
      else out.Precision = attribute.precision ?? 2;
      if (attribute.type === "Money") out.PrecisionSource = 2;
      break;
    }
    case "DateTime": {
      const behavior = attribute.dateTimeBehavior ?? "UserLocal";
      Object.assign(out, { Format: behavior === "DateOnly" ? "DateOnly" : "DateAndTime", DateTimeBehavior: { Value: behavior } });
      break;
    }
    case "Boolean":
      out.DefaultValue = false;
      break;
    case "Picklist":
    case "State":
    case "Status":
      out.DefaultFormValue = attribute.type === "Picklist" ? -1 : (attribute.options?.[0]?.value ?? null);
      break;
    case "Lookup":
    case "Customer":
    case "Owner":
      out.Targets = [...(attribute.targets ?? [])];
      break;
    default:
      break;
  }
  if (expandOptionSet && hasOptionSet(attribute)) out.OptionSet = optionSetToWire(entity, attribute);
  return out;
}

const CASCADE_ALL = (deleteBehavior: string) => ({ Assign: "NoCascade", Delete: deleteBehavior, Archive: "NoCascade", Merge: "NoCascade", Reparent: "NoCascade", Share: "NoCascade", Unshare: "NoCascade", RollupView: "NoCascade" });

/**
 * A one-to-many relationship derived from a lookup (see {@link NavigationModel}) as
 * `OneToManyRelationshipMetadata`; the same object appears in the referenced table's
 * `OneToManyRelationships` and the referencing table's `ManyToOneRelationships`.
 */
function relationshipToWire(relationship: OneToMany, referenced: EntityMetadata | undefined, custom: boolean): WireObject {
  return {
    MetadataId: metadataId("relationship", relationship.schemaName),
    SchemaName: relationship.schemaName,
    RelationshipType: "OneToManyRelationship",
    IsCustomRelationship: custom,
    IsManaged: !custom,
    IsValidForAdvancedFind: true,
    SecurityTypes: "Append",
    IntroducedVersion: custom ? "1.0" : "5.0.0.0",
    ReferencedEntity: relationship.referencedEntity,
    ReferencedAttribute: referenced?.primaryIdAttribute ?? `${relationship.referencedEntity}id`,
    ReferencingEntity: relationship.referencingEntity,
    ReferencingAttribute: relationship.referencingAttribute,
    ReferencedEntityNavigationPropertyName: relationship.referencedNavigation,
    ReferencingEntityNavigationPropertyName: relationship.referencingNavigation,
    IsHierarchical: false,
    CascadeConfiguration: relationship.cascade ? { ...relationship.cascade } : CASCADE_ALL(relationship.cascadeDelete),
  };
}

/** `AssociatedMenuConfiguration` as Dataverse reports it for a relationship created without one (orgbox has no forms). */
const ASSOCIATED_MENU = (owner: string, managed: boolean): WireObject => ({ Behavior: "UseCollectionName", Group: "Details", Label: label(undefined, owner, managed), Order: 10000, IsCustomizable: true, Icon: null, ViewId: "00000000-0000-0000-0000-000000000000", AvailableOffline: true, MenuId: null, QueryApi: null });

/**
 * An N:N relationship as `ManyToManyRelationshipMetadata`: its tables, intersect table and columns,
 * and the navigation property on each side
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/manytomanyrelationshipmetadata).
 */
function manyToManyToWire(relationship: ManyToManyRelationshipMetadata): WireObject {
  const custom = relationship.isCustomRelationship;
  return {
    MetadataId: metadataId("relationship", relationship.schemaName),
    SchemaName: relationship.schemaName,
    RelationshipType: "ManyToManyRelationship",
    IsCustomRelationship: custom,
    IsManaged: !custom,
    IsValidForAdvancedFind: true,
    SecurityTypes: "Append",
    IntroducedVersion: custom ? "1.0" : "5.0.0.0",
    Entity1LogicalName: relationship.entity1LogicalName,
    Entity2LogicalName: relationship.entity2LogicalName,
    IntersectEntityName: relationship.intersectEntityName,
    Entity1IntersectAttribute: relationship.entity1IntersectAttribute,
    Entity2IntersectAttribute: relationship.entity2IntersectAttribute,
    Entity1NavigationPropertyName: relationship.entity1NavigationPropertyName,
    Entity2NavigationPropertyName: relationship.entity2NavigationPropertyName,
    Entity1AssociatedMenuConfiguration: ASSOCIATED_MENU(`${relationship.schemaName}.entity1menu`, !custom),
    Entity2AssociatedMenuConfiguration: ASSOCIATED_MENU(`${relationship.schemaName}.entity2menu`, !custom),
  };
}

/** The N:N relationships `entity` takes part in (either side). */
export function manyToManyRelationshipsOf(entity: EntityMetadata, md: OrgMetadata): WireObject[] {
  return md
    .manyToManyRelationships()
    .filter((r) => r.entity1LogicalName === entity.logicalName || r.entity2LogicalName === entity.logicalName)
    .map(manyToManyToWire);
}

/** The derived types of `RelationshipMetadataBase`. */
export const RELATIONSHIP_METADATA_TYPES = ["OneToManyRelationshipMetadata", "ManyToManyRelationshipMetadata"] as const;
export type RelationshipMetadataType = (typeof RELATIONSHIP_METADATA_TYPES)[number];

/**
 * Every relationship of the org (`GET RelationshipDefinitions`): the one-to-many relationships of
 * every lookup and the N:N relationships, each with its `@odata.type`.
 */
export function allRelationships(md: OrgMetadata, nav: NavigationModel): { type: RelationshipMetadataType; object: WireObject }[] {
  const entities = md.entities();
  const oneToMany = entities.flatMap((e) => relationshipsOf(e, entities, nav, "OneToMany"));
  return [
    ...oneToMany.map((object) => ({ type: "OneToManyRelationshipMetadata" as const, object: { "@odata.type": "#Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata", ...object } })),
    ...md.manyToManyRelationships().map((r) => ({ type: "ManyToManyRelationshipMetadata" as const, object: { "@odata.type": "#Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata", ...manyToManyToWire(r) } })),
  ];
}

/** The relationships `entity` takes part in: as the referenced (1:N) or the referencing (N:1) table. */
export function relationshipsOf(entity: EntityMetadata, all: readonly EntityMetadata[], nav: NavigationModel, side: "OneToMany" | "ManyToOne"): WireObject[] {
  const byName = new Map(all.map((e) => [e.logicalName, e]));
  const list = side === "OneToMany" ? nav.referencing(entity) : all.flatMap((e) => nav.referencing(e)).filter((r) => r.referencingEntity === entity.logicalName);
  return list.map((r) => {
    const referencing = byName.get(r.referencingEntity);
    const custom = referencing?.attributes.find((a) => a.logicalName === r.referencingAttribute)?.isCustomAttribute === true;
    return relationshipToWire(r, byName.get(r.referencedEntity), custom);
  });
}

/**
 * A table as `EntityMetadata`: names, keys, ownership, labels and the flags clients read
 * (`IsOptimisticConcurrencyEnabled`, `IsCustomEntity`, `HasActivities`, …). Navigation properties
 * (`Attributes`, relationships) are added by the caller when expanded or addressed.
 */
export function entityToWire(entity: EntityMetadata): WireObject {
  const managed = !entity.isCustomEntity;
  return {
    MetadataId: entityMetadataId(entity),
    LogicalName: entity.logicalName,
    SchemaName: entity.schemaName,
    EntitySetName: entity.entitySetName,
    LogicalCollectionName: entity.entitySetName,
    CollectionSchemaName: pluralize(entity.schemaName),
    ObjectTypeCode: entity.objectTypeCode,
    OwnershipType: entity.ownershipType,
    PrimaryIdAttribute: entity.primaryIdAttribute,
    PrimaryNameAttribute: entity.primaryNameAttribute,
    PrimaryImageAttribute: null,
    DisplayName: label(entity.displayName, `${entity.logicalName}.displayname`, managed),
    DisplayCollectionName: label(entity.displayCollectionName, `${entity.logicalName}.displaycollectionname`, managed),
    Description: label(entity.description, `${entity.logicalName}.description`, managed),
    IsCustomEntity: entity.isCustomEntity,
    IsManaged: managed,
    IsIntersect: entity.isIntersect,
    IsActivity: entity.isActivity === true,
    IsActivityParty: false,
    HasActivities: entity.hasActivities === true,
    HasNotes: entity.hasNotes === true,
    IsOptimisticConcurrencyEnabled: !entity.isIntersect,
    ChangeTrackingEnabled: changeTrackingEnabled(entity),
    IsValidForAdvancedFind: !entity.isIntersect,
    IsPrivate: false,
    IsLogicalEntity: false,
    IsAvailableOffline: false,
    TableType: "Standard",
    IntroducedVersion: managed ? "5.0.0.0" : "1.0",
  };
}

const ALL_TYPES = Object.keys(TYPES) as AttributeType[];
const SAMPLE_ENTITY: EntityMetadata = { logicalName: "x", schemaName: "X", entitySetName: "xs", displayName: "X", displayCollectionName: "Xs", primaryIdAttribute: "xid", primaryNameAttribute: "name", ownershipType: "None", objectTypeCode: 0, isCustomEntity: false, isIntersect: false, attributes: [] };

function sampleKeys(type: AttributeType): string[] {
  const sample: AttributeMetadata = { logicalName: "x", schemaName: "X", type, displayName: "X", requiredLevel: "None", isValidForCreate: true, isValidForUpdate: true, isCustomAttribute: false };
  return Object.keys(attributeToWire(SAMPLE_ENTITY, sample, 0)).filter((k) => k !== "@odata.type");
}

/**
 * The properties `$select` may name on attributes: those of `AttributeMetadata` itself, or, after a
 * type cast (`…/Attributes/Microsoft.Dynamics.CRM.StringAttributeMetadata`), of that derived type.
 */
export function attributeProperties(odataType?: string): Set<string> {
  const types = odataType === undefined ? ["Uniqueidentifier" as const] : ALL_TYPES.filter((t) => TYPES[t].odataType === odataType);
  return new Set(types.flatMap(sampleKeys));
}

/** The properties `$select` may name on `EntityMetadata`. */
export const ENTITY_PROPERTIES: ReadonlySet<string> = new Set(Object.keys(entityToWire(SAMPLE_ENTITY)));

/** The properties `$select` may name on `ManyToManyRelationshipMetadata`. */
export const MANY_TO_MANY_PROPERTIES: ReadonlySet<string> = new Set(
  Object.keys(manyToManyToWire({ kind: "ManyToMany", schemaName: "x", entity1LogicalName: "x", entity2LogicalName: "x", intersectEntityName: "x", entity1IntersectAttribute: "x", entity2IntersectAttribute: "x", entity1NavigationPropertyName: "x", entity2NavigationPropertyName: "x", isCustomRelationship: false })),
);

/** The properties `$select` may name on `RelationshipMetadataBase` (a `RelationshipDefinitions` read without a type cast). */
export const RELATIONSHIP_BASE_PROPERTIES: ReadonlySet<string> = new Set(["MetadataId", "SchemaName", "RelationshipType", "IsCustomRelationship", "IsManaged", "IsValidForAdvancedFind", "SecurityTypes", "IntroducedVersion"]);

/** The properties `$select` may name on `OneToManyRelationshipMetadata`. */
export const RELATIONSHIP_PROPERTIES: ReadonlySet<string> = new Set(
  Object.keys(relationshipToWire({ schemaName: "x", referencedEntity: "x", referencingEntity: "x", referencingAttribute: "x", referencedNavigation: "x", referencingNavigation: "x", cascadeDelete: "Restrict" }, undefined, false)),
);
