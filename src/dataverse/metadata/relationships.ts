import { navigationFor } from "../navigation.ts";
import { propertyName } from "../odata/serializer.ts";
import { customAttribute, customLogicalName, isObject, metadataErrors, odataTypeName } from "./custom.ts";
import type { OrgMetadata } from "./registry.ts";
import { attr, table } from "./standard.ts";
import type { AttributeMetadata, CascadeConfiguration, EntityMetadata, ManyToManyRelationshipMetadata, OneToManyRelationshipMetadata } from "./types.ts";

/**
 * Relationship definitions from `POST RelationshipDefinitions` bodies: a
 * `ManyToManyRelationshipMetadata` (with its intersect table) or a `OneToManyRelationshipMetadata`
 * (with its lookup column, `Lookup`)
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-relationships-using-web-api).
 * Pure: reads the org's metadata, writes nothing.
 */

/** What creating an N:N relationship adds: the relationship and its intersect table. */
export interface ManyToManyPlan {
  relationship: ManyToManyRelationshipMetadata;
  intersect: EntityMetadata;
}

/** What creating a one-to-many relationship adds: the relationship and its lookup column on the referencing table. */
export interface OneToManyPlan {
  relationship: OneToManyRelationshipMetadata;
  lookup: AttributeMetadata;
}

const NAVIGATION_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The derived relationship metadata types `POST RelationshipDefinitions` creates. */
export type RelationshipType = "ManyToManyRelationshipMetadata" | "OneToManyRelationshipMetadata";

/**
 * The type a relationship body creates, from its `@odata.type` (required, as in Dataverse).
 * @throws DataverseError 400 `0x80044331` for a missing or other type.
 */
export function relationshipBodyType(body: unknown): RelationshipType {
  const type = isObject(body) ? odataTypeName(body["@odata.type"]) : undefined;
  if (type === "ManyToManyRelationshipMetadata" || type === "OneToManyRelationshipMetadata") return type;
  throw metadataErrors.invalid(`The request body must be a relationship definition with "@odata.type" set to Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata or Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata (got '${String(isObject(body) ? body["@odata.type"] : body)}').`);
}

/** Every relationship schema name of the org, lower case: derived one-to-many ones and N:N ones. */
function relationshipNames(md: OrgMetadata): Set<string> {
  const nav = navigationFor(md);
  const names = md.entities().flatMap((e) => nav.referencing(e).map((r) => r.schemaName));
  return new Set([...names, ...md.manyToManyRelationships().map((r) => r.schemaName)].map((n) => n.toLowerCase()));
}

/** @throws DataverseError 400 `0x80040237` when another relationship has `schemaName` (case-insensitive, as Dataverse compares). */
function assertNameFree(md: OrgMetadata, schemaName: string): void {
  if (relationshipNames(md).has(schemaName.toLowerCase())) throw metadataErrors.duplicate(`A relationship with the specified name already exists: '${schemaName}'. Specify a unique name.`);
}

/** The table named `name` in `property`, which may not be an intersect table. */
function participant(md: OrgMetadata, body: Record<string, unknown>, property: string): EntityMetadata {
  const name = body[property];
  if (typeof name !== "string" || name.length === 0) throw metadataErrors.invalid(`${property} is required.`);
  const entity = md.entity(name);
  if (!entity) throw metadataErrors.entityNotFound(name);
  if (entity.isIntersect) throw metadataErrors.invalid(`The intersect table '${name}' cannot take part in a relationship.`);
  return entity;
}

/**
 * A navigation property name from the body, or `fallback`; checked as an OData identifier that
 * `entity` does not use yet (columns, lookups' `_x_value` names and navigation properties).
 * @throws DataverseError 400 `0x80044331` for a malformed name, `0x80040237` for a taken one.
 */
function navigationName(md: OrgMetadata, entity: EntityMetadata, value: unknown, fallback: string, property: string): string {
  const name = value === undefined || value === null ? fallback : value;
  if (typeof name !== "string" || !NAVIGATION_RE.test(name)) throw metadataErrors.invalid(`${property} '${String(name)}' is not a valid navigation property name.`);
  const nav = navigationFor(md);
  const taken =
    entity.attributes.some((a) => a.logicalName === name || propertyName(a) === name) ||
    nav.singleValued(entity, name) !== undefined ||
    nav.collectionValued(entity, name) !== undefined ||
    nav.manyToMany(entity, name) !== undefined;
  if (taken) throw metadataErrors.duplicate(`The table '${entity.logicalName}' already has a property named '${name}': specify another ${property}.`);
  return name;
}

/**
 * An N:N relationship from a `ManyToManyRelationshipMetadata` body: `SchemaName` (prefixed),
 * `Entity1LogicalName`, `Entity2LogicalName`, `IntersectEntityName` (the schema name when absent),
 * `Entity1NavigationPropertyName` / `Entity2NavigationPropertyName` (the schema name when absent, as
 * Dataverse names them); the associated menu configurations are ignored. The intersect table has
 * its primary key `{intersect}id` and one `Uniqueidentifier` column per side named after that
 * side's primary key (`new_projectid`, `contactid`); a self-referential relationship (or two tables
 * with the same key name) gets `{key}one` and `{key}two` instead.
 * @param objectTypeCode the code of the intersect table.
 * @throws DataverseError 404 `0x80040217` for an unknown table, 400 `0x80044331` for an invalid body,
 *   400 `0x80040237` for a schema, intersect or navigation name already taken.
 */
export function parseManyToManyDefinition(body: unknown, md: OrgMetadata, objectTypeCode: number): ManyToManyPlan {
  if (!isObject(body)) throw metadataErrors.invalid("The request body must be a ManyToManyRelationshipMetadata object.");
  const schemaName = body.SchemaName as string;
  customLogicalName(schemaName, "Relationship");
  const entity1 = participant(md, body, "Entity1LogicalName");
  const entity2 = participant(md, body, "Entity2LogicalName");
  assertNameFree(md, schemaName);
  const intersectSchema = body.IntersectEntityName ?? schemaName;
  const intersectName = customLogicalName(intersectSchema, "Entity");
  if (md.entity(intersectName) || md.entityBySet(`${intersectName}set`)) throw metadataErrors.duplicate(`An entity with the specified name already exists: '${intersectName}'. Specify a unique IntersectEntityName.`);
  const sameKey = entity1.primaryIdAttribute === entity2.primaryIdAttribute;
  const column1 = sameKey ? `${entity1.primaryIdAttribute}one` : entity1.primaryIdAttribute;
  const column2 = sameKey ? `${entity2.primaryIdAttribute}two` : entity2.primaryIdAttribute;
  const navigation1 = navigationName(md, entity1, body.Entity1NavigationPropertyName, schemaName, "Entity1NavigationPropertyName");
  // A self-referential relationship with one name for both sides (the default) is symmetric: one navigation property.
  const symmetric = entity1 === entity2 && (body.Entity2NavigationPropertyName ?? schemaName) === navigation1;
  const navigation2 = symmetric ? navigation1 : navigationName(md, entity2, body.Entity2NavigationPropertyName, schemaName, "Entity2NavigationPropertyName");
  const key = (column: string, side: EntityMetadata) => attr(column, "Uniqueidentifier", side.displayName, { schemaName: column, isValidForUpdate: false, isCustomAttribute: true });
  const intersect: EntityMetadata = {
    ...table({
      logicalName: intersectName,
      schemaName: intersectSchema as string,
      entitySetName: `${intersectName}set`,
      displayName: schemaName,
      displayCollectionName: schemaName,
      primaryIdAttribute: `${intersectName}id`,
      primaryNameAttribute: `${intersectName}id`,
      ownershipType: "None",
      objectTypeCode,
      isIntersect: true,
      columns: [key(column1, entity1), key(column2, entity2)],
    }),
    isCustomEntity: true,
  };
  return {
    relationship: {
      kind: "ManyToMany",
      schemaName,
      entity1LogicalName: entity1.logicalName,
      entity2LogicalName: entity2.logicalName,
      intersectEntityName: intersectName,
      entity1IntersectAttribute: column1,
      entity2IntersectAttribute: column2,
      entity1NavigationPropertyName: navigation1,
      entity2NavigationPropertyName: navigation2,
      isCustomRelationship: true,
    },
    intersect,
  };
}

/** `CascadeType` values by cascade action; `Delete` allows only what orgbox's delete implements (as Dataverse allows). */
const CASCADE_DEFAULTS: CascadeConfiguration = { Assign: "NoCascade", Delete: "RemoveLink", Merge: "NoCascade", Reparent: "NoCascade", Share: "NoCascade", Unshare: "NoCascade", Archive: "NoCascade", RollupView: "NoCascade" };
const CASCADE_TYPES = new Set(["NoCascade", "Cascade", "Active", "UserOwned", "RemoveLink", "Restrict"]);
const DELETE_TYPES = new Set(["Cascade", "RemoveLink", "Restrict"]);

function cascadeConfiguration(value: unknown): CascadeConfiguration {
  if (value === undefined || value === null) return CASCADE_DEFAULTS;
  if (!isObject(value)) throw metadataErrors.invalid("CascadeConfiguration must be an object.");
  const out: Record<string, string> = { ...CASCADE_DEFAULTS };
  for (const [action, type] of Object.entries(value)) {
    if (action.startsWith("@")) continue;
    if (!(action in CASCADE_DEFAULTS)) throw metadataErrors.invalid(`'${action}' is not a cascade action (${Object.keys(CASCADE_DEFAULTS).join(", ")}).`);
    const allowed = action === "Delete" ? DELETE_TYPES : CASCADE_TYPES;
    if (typeof type !== "string" || !allowed.has(type)) throw metadataErrors.invalid(`CascadeConfiguration.${action} '${String(type)}' is not one of ${[...allowed].join(", ")}.`);
    out[action] = type;
  }
  return out;
}

/**
 * A one-to-many relationship from a `OneToManyRelationshipMetadata` body: `SchemaName` (prefixed),
 * `ReferencedEntity`, `ReferencingEntity`, `ReferencedAttribute` (the referenced table's primary key,
 * the only one Dataverse allows), `Lookup` (a `LookupAttributeMetadata` with a prefixed `SchemaName`,
 * `DisplayName`, `RequiredLevel`, `Description`), `CascadeConfiguration` (`Delete`: Cascade,
 * RemoveLink — the default — or Restrict) and optional navigation property names: the referenced
 * table's collection-valued one defaults to the schema name, the referencing table's single-valued
 * one to the lookup's schema name, as Dataverse names them.
 * @throws DataverseError 404 `0x80040217` for an unknown table, 400 `0x80044331` for an invalid body,
 *   400 `0x80040237` for a schema or navigation name already taken.
 */
export function parseOneToManyDefinition(body: unknown, md: OrgMetadata): OneToManyPlan {
  if (!isObject(body)) throw metadataErrors.invalid("The request body must be a OneToManyRelationshipMetadata object.");
  const schemaName = body.SchemaName as string;
  customLogicalName(schemaName, "Relationship");
  const referenced = participant(md, body, "ReferencedEntity");
  const referencing = participant(md, body, "ReferencingEntity");
  if (body.ReferencedAttribute !== undefined && body.ReferencedAttribute !== referenced.primaryIdAttribute) {
    throw metadataErrors.invalid(`ReferencedAttribute '${String(body.ReferencedAttribute)}' must be the primary key of '${referenced.logicalName}' ('${referenced.primaryIdAttribute}').`);
  }
  const lookupBody = body.Lookup;
  if (!isObject(lookupBody)) throw metadataErrors.invalid("Lookup is required: the LookupAttributeMetadata of the column the relationship adds to the referencing table.");
  const lookupType = odataTypeName(lookupBody["@odata.type"]);
  if ((lookupType !== undefined && lookupType !== "LookupAttributeMetadata") || (lookupBody.AttributeType !== undefined && lookupBody.AttributeType !== "Lookup")) {
    throw metadataErrors.invalid(`The Lookup of a one-to-many relationship must be a Microsoft.Dynamics.CRM.LookupAttributeMetadata (got '${String(lookupType ?? lookupBody.AttributeType)}').`);
  }
  const lookupSchema = lookupBody.SchemaName as string;
  const lookupName = customLogicalName(lookupSchema, "Attribute");
  assertNameFree(md, schemaName);
  if (md.attribute(referencing, lookupName)) throw metadataErrors.duplicate(`An attribute with the specified name already exists: '${lookupName}' on entity '${referencing.logicalName}'. Specify a unique name.`);
  const lookup: AttributeMetadata = { ...customAttribute(lookupBody, lookupName, "Lookup", lookupSchema), targets: [referenced.logicalName] };
  const referencedNavigation = navigationName(md, referenced, body.ReferencedEntityNavigationPropertyName, schemaName, "ReferencedEntityNavigationPropertyName");
  const referencingNavigation = navigationName(md, referencing, body.ReferencingEntityNavigationPropertyName, lookupSchema, "ReferencingEntityNavigationPropertyName");
  if (referenced === referencing && referencedNavigation === referencingNavigation) throw metadataErrors.duplicate(`The navigation property names of a self-referential relationship must differ ('${referencedNavigation}').`);
  return {
    relationship: {
      kind: "OneToMany",
      schemaName,
      referencedEntity: referenced.logicalName,
      referencedAttribute: referenced.primaryIdAttribute,
      referencingEntity: referencing.logicalName,
      referencingAttribute: lookupName,
      referencedEntityNavigationPropertyName: referencedNavigation,
      referencingEntityNavigationPropertyName: referencingNavigation,
      cascadeConfiguration: cascadeConfiguration(body.CascadeConfiguration),
      isCustomRelationship: true,
    },
    lookup,
  };
}
