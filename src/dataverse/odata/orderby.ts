import { dv } from "../errors.ts";
import type { OrgMetadata } from "../metadata/registry.ts";
import { isLookupType, type EntityMetadata } from "../metadata/types.ts";
import type { RecordQuery } from "../store.ts";

/**
 * Parses `$orderby` (`name asc, _primarycontactid_value desc`) into SQL sort keys; the primary key
 * is appended as a final tie-breaker so server-driven paging is stable. Lookups sort by `_x_value`;
 * string columns sort case-insensitively as Dataverse's collation does
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/order-rows).
 * @throws DataverseError `propertyNotFound` for an unknown column, 400 for a syntax error or a navigation path.
 */
export function parseOrderBy(md: OrgMetadata, entity: EntityMetadata, text: string | undefined): RecordQuery["orderBy"] {
  const out: RecordQuery["orderBy"] = [];
  if (text !== undefined) {
    const items = text.split(",").map((s) => s.trim());
    for (const item of items) {
      const match = /^([A-Za-z_][A-Za-z0-9_/]*)(?:\s+(asc|desc))?$/.exec(item);
      if (!match) throw dv.querySyntax(`'${item}' in $orderby is not 'property [asc|desc]'`);
      const name = match[1] as string;
      if (name.includes("/")) throw dv.queryOptionNotSupported(`$orderby on the navigation path '${name}' (Dataverse orders by columns of the queried table; use $expand ordering or FetchXML link-entity)`);
      const lookup = /^_(.+)_value$/.exec(name);
      const attribute = md.attribute(entity, lookup ? (lookup[1] as string) : name);
      if (!attribute || Boolean(lookup) !== isLookupType(attribute.type)) throw dv.propertyNotFound(name, entity.logicalName);
      if (out.some((o) => o.column === attribute.logicalName)) throw dv.querySyntax(`the property '${name}' appears twice in $orderby`);
      const caseInsensitive = attribute.type === "String" || attribute.type === "Memo";
      out.push({ column: attribute.logicalName, descending: match[2] === "desc", ...(caseInsensitive ? { caseInsensitive } : {}) });
    }
  }
  if (!out.some((o) => o.column === entity.primaryIdAttribute)) out.push({ column: entity.primaryIdAttribute, descending: false });
  return out;
}
