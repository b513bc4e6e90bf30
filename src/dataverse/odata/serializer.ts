import { isLookupType, type AttributeMetadata, type EntityMetadata } from "../metadata/types.ts";
import type { Row } from "../model.ts";

/** Web API property name of a column: lookups are `_x_value`. */
export function propertyName(attribute: AttributeMetadata): string {
  return isLookupType(attribute.type) ? `_${attribute.logicalName}_value` : attribute.logicalName;
}

/** Converts one SQL value to its JSON form by column type. */
function jsonValue(attribute: AttributeMetadata, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (attribute.type) {
    case "Boolean":
      return value === true || value === 1 || value === "1";
    case "Integer":
    case "Picklist":
    case "State":
    case "Status":
    case "Decimal":
    case "Money":
    case "Double":
      return Number(value);
    case "BigInt":
      // Edm.Int64 is a JSON number under `IEEE754Compatible=false` (the content type orgbox sends, as
      // Dataverse does); stored values are within JavaScript's exact integers (validation refuses more).
      return Number(value);
    case "Uniqueidentifier":
    case "Lookup":
    case "Customer":
    case "Owner":
      return String(value).toLowerCase();
    default:
      return value;
  }
}

/**
 * Serialises a record with `odata.metadata=minimal`: `@odata.etag` (`W/"versionnumber"`),
 * then the selected properties; the primary key is always present.
 */
export function serializeRow(entity: EntityMetadata, attributes: AttributeMetadata[], row: Row): Record<string, unknown> {
  return rowSerializer(attributes)(row);
}

/**
 * {@link serializeRow} for many rows of one read: the property names are worked out once, not per row.
 * @returns a function serialising one row.
 */
export function rowSerializer(attributes: AttributeMetadata[]): (row: Row) => Record<string, unknown> {
  const properties = attributes.map((attribute) => ({ attribute, column: attribute.logicalName, name: propertyName(attribute) }));
  // systemuser and team inherit their key from `principal`: their records also carry it as `ownerid`
  // (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/join-tables#expand-single-valued-navigation-properties).
  const principalKey = attributes.find((a) => a.isPrimaryId === true && PRINCIPAL_KEYS.has(a.logicalName));
  return (row) => {
    const out: Record<string, unknown> = {};
    if (row.versionnumber !== undefined && row.versionnumber !== null) out["@odata.etag"] = `W/"${String(row.versionnumber)}"`;
    for (const p of properties) out[p.name] = jsonValue(p.attribute, row[p.column]);
    if (principalKey) out.ownerid = jsonValue(principalKey, row[principalKey.logicalName]);
    return out;
  };
}

/** Primary keys of the tables that derive from `principal` (EntityType inheritance). */
const PRINCIPAL_KEYS = new Set(["systemuserid", "teamid"]);
