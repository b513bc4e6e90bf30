import { dv } from "../errors.ts";
import type { OrgMetadata } from "../metadata/registry.ts";
import type { AttributeMetadata, EntityMetadata } from "../metadata/types.ts";
import { propertyName } from "../odata/serializer.ts";

/** The columns a read selects and reads (shared by record reads and `$expand`, which records.ts runs). */

/** Resolves `$select` names to attributes; the primary key is always included. Lookups may be named `_x_value`. */
export function selectedAttributes(md: OrgMetadata, entity: EntityMetadata, select: string[] | undefined): AttributeMetadata[] {
  if (!select) return entity.attributes;
  const chosen: AttributeMetadata[] = [];
  for (const name of select) {
    const lookup = /^_(.+)_value$/.exec(name);
    const attribute = md.attribute(entity, lookup ? (lookup[1] as string) : name);
    if (!attribute || (lookup && propertyName(attribute) !== name)) throw dv.propertyNotFound(name, entity.logicalName);
    if (!chosen.includes(attribute)) chosen.push(attribute);
  }
  const pk = md.attribute(entity, entity.primaryIdAttribute) as AttributeMetadata;
  if (!chosen.includes(pk)) chosen.push(pk);
  // Selecting a money column also returns the row's currency (select-columns.md).
  const currency = md.attribute(entity, "transactioncurrencyid");
  if (currency && chosen.some((a) => a.type === "Money") && !chosen.includes(currency)) chosen.push(currency);
  return chosen;
}

/** SQL columns to read: the selected ones plus `versionnumber` for the ETag. */
export function sqlColumns(entity: EntityMetadata, attributes: AttributeMetadata[]): string[] {
  const cols = attributes.map((a) => a.logicalName);
  if (!cols.includes("versionnumber") && entity.attributes.some((a) => a.logicalName === "versionnumber")) cols.push("versionnumber");
  return cols;
}
