/**
 * Table and column metadata, named as Dataverse's `EntityMetadata` and
 * `AttributeMetadata` (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/entitymetadata).
 */

/** `AttributeTypeCode` values orgbox models. */
export type AttributeType =
  | "Uniqueidentifier"
  | "String"
  | "Memo"
  | "Integer"
  | "BigInt"
  | "Decimal"
  | "Double"
  | "Money"
  | "DateTime"
  | "Boolean"
  | "Picklist"
  /** Multi-select choice: stored as the comma-separated option values (`"1,3"`). */
  | "MultiSelectPicklist"
  | "State"
  | "Status"
  | "Lookup"
  | "Customer"
  | "Owner"
  | "EntityName";

/** An option of a choice column (value and its label). */
export interface OptionMetadata {
  value: number;
  label: string;
}

/**
 * A global option set (`OptionSetMetadata` with `IsGlobal: true`): choices that several columns
 * share (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets).
 */
export interface GlobalOptionSetMetadata {
  /** `Name`, publisher-prefixed (`new_colors`). */
  name: string;
  displayName: string;
  description?: string;
  options: OptionMetadata[];
}

export interface AttributeMetadata {
  logicalName: string;
  schemaName: string;
  type: AttributeType;
  displayName: string;
  requiredLevel: "None" | "ApplicationRequired" | "SystemRequired";
  /** String/Memo: maximum characters. */
  maxLength?: number;
  /** Lookup/Customer/Owner: the tables it may point to. */
  targets?: string[];
  /** Picklist/MultiSelectPicklist: the global option set whose options `options` holds (its name). */
  globalOptionSet?: string;
  /** Picklist/MultiSelectPicklist/State/Status/Boolean: the options (Boolean: 0 false, 1 true). */
  options?: OptionMetadata[];
  /** Decimal/Money: digits after the point. */
  precision?: number;
  /** DateTime behaviour. */
  dateTimeBehavior?: "UserLocal" | "DateOnly" | "TimeZoneIndependent";
  isPrimaryId?: boolean;
  isPrimaryName?: boolean;
  /** Set by the platform only (createdon, versionnumber, …). */
  isValidForCreate: boolean;
  isValidForUpdate: boolean;
  isCustomAttribute: boolean;
  /** Integer/Decimal/Double/Money: the allowed range (custom columns; the type's range when absent). */
  minValue?: number;
  maxValue?: number;
  /** Description label (custom columns). */
  description?: string;
}

/**
 * An alternate key: columns whose values identify a record, usable in URLs as
 * `accounts(accountnumber='A-1')` (learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity).
 */
export interface EntityKeyMetadata {
  logicalName: string;
  /** Column logical names, in definition order (1–16). */
  keyAttributes: string[];
  /** `SchemaName` (defaults to the logical name). */
  schemaName?: string;
  /** `DisplayName` label text (defaults to the schema name). */
  displayName?: string;
}

export type OwnershipType = "UserOwned" | "OrganizationOwned" | "BusinessOwned" | "None";

export interface EntityMetadata {
  logicalName: string;
  schemaName: string;
  entitySetName: string;
  displayName: string;
  displayCollectionName: string;
  primaryIdAttribute: string;
  primaryNameAttribute: string;
  ownershipType: OwnershipType;
  objectTypeCode: number;
  isCustomEntity: boolean;
  /** N:N intersect table (no Web API entity set of its own in most cases). */
  isIntersect: boolean;
  attributes: AttributeMetadata[];
  /** Alternate keys (`EntityMetadata.Keys`); none on the standard tables by default. */
  keys?: EntityKeyMetadata[];
  /**
   * `IsActivity`: an activity table (`task`, `email`, `phonecall`), keyed by `activityid`. Activity
   * tables share the `prv{Verb}Activity` privileges (false when absent).
   */
  isActivity?: boolean;
  /** `HasActivities` / `HasNotes` of a custom table (false when absent). */
  hasActivities?: boolean;
  hasNotes?: boolean;
  /** Description label (custom tables). */
  description?: string;
}

/** True for the column types whose Web API name is `_x_value`. */
export function isLookupType(type: AttributeType): boolean {
  return type === "Lookup" || type === "Customer" || type === "Owner";
}

/**
 * `CascadeConfiguration` of a one-to-many relationship by its wire names (`Assign`, `Delete`,
 * `Merge`, `Reparent`, `Share`, `Unshare`, `Archive`, `RollupView`) → `CascadeType` value
 * (`NoCascade`, `Cascade`, `Active`, `UserOwned`, `RemoveLink`, `Restrict`)
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/cascadeconfiguration).
 */
export type CascadeConfiguration = Readonly<Record<string, string>>;

/**
 * A many-to-many relationship definition (`ManyToManyRelationshipMetadata`): two tables linked
 * through an intersect table holding one row per linked pair
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/manytomanyrelationshipmetadata).
 */
export interface ManyToManyRelationshipMetadata {
  kind: "ManyToMany";
  schemaName: string;
  entity1LogicalName: string;
  entity2LogicalName: string;
  /** Logical name of the intersect table. */
  intersectEntityName: string;
  /** Column of the intersect table holding the Entity1 record's id. */
  entity1IntersectAttribute: string;
  entity2IntersectAttribute: string;
  /** Collection-valued navigation property on Entity1 (to Entity2 records). */
  entity1NavigationPropertyName: string;
  entity2NavigationPropertyName: string;
  isCustomRelationship: boolean;
}

/**
 * A one-to-many relationship created with `POST RelationshipDefinitions`
 * (`OneToManyRelationshipMetadata`): its lookup column on the referencing table, its names and
 * cascade rules. Relationships of the standard tables are derived from their lookups instead
 * (see `NavigationModel`).
 */
export interface OneToManyRelationshipMetadata {
  kind: "OneToMany";
  schemaName: string;
  referencedEntity: string;
  referencedAttribute: string;
  referencingEntity: string;
  /** The lookup column. */
  referencingAttribute: string;
  /** Collection-valued navigation property on the referenced table. */
  referencedEntityNavigationPropertyName: string;
  /** Single-valued navigation property on the referencing table. */
  referencingEntityNavigationPropertyName: string;
  cascadeConfiguration: CascadeConfiguration;
  isCustomRelationship: boolean;
}

/** A stored relationship definition. */
export type RelationshipMetadata = ManyToManyRelationshipMetadata | OneToManyRelationshipMetadata;
