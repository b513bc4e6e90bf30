import { dv } from "../errors.ts";
import type { OrgMetadata } from "../metadata/registry.ts";
import type { AttributeMetadata, EntityMetadata } from "../metadata/types.ts";
import type { Org } from "../model.ts";
import type { QueryOptions } from "../odata/query-options.ts";
import { propertyName, serializeRow } from "../odata/serializer.ts";
import type { DataverseStore } from "../store.ts";

/** Dataverse's default and maximum page size. */
export const MAX_PAGE_SIZE = 5000;

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
  return chosen;
}

function contextSuffix(select: string[] | undefined): string {
  return select ? `(${select.join(",")})` : "";
}

/** SQL columns to read: the selected ones plus `versionnumber` for the ETag. */
function sqlColumns(entity: EntityMetadata, attributes: AttributeMetadata[]): string[] {
  const cols = attributes.map((a) => a.logicalName);
  if (!cols.includes("versionnumber") && entity.attributes.some((a) => a.logicalName === "versionnumber")) cols.push("versionnumber");
  return cols;
}

/**
 * `GET /{set}`: one SQL statement with `$select`, `$top` and the page size
 * (`Prefer: odata.maxpagesize`). Rows come back in primary-key order.
 */
export async function readCollection(args: { store: DataverseStore; org: Org; md: OrgMetadata; entity: EntityMetadata; options: QueryOptions; apiUrl: string; maxPageSize: number }): Promise<Record<string, unknown>> {
  const { store, org, md, entity, options, apiUrl } = args;
  const attributes = selectedAttributes(md, entity, options.select);
  const pageSize = Math.min(args.maxPageSize, MAX_PAGE_SIZE);
  const limit = options.top !== undefined ? Math.min(options.top, pageSize) : pageSize;
  const rows = await store.selectRows(org, { entity, columns: sqlColumns(entity, attributes), orderBy: [{ column: entity.primaryIdAttribute, descending: false }], limit });
  return {
    "@odata.context": `${apiUrl}/$metadata#${entity.entitySetName}${contextSuffix(options.select)}`,
    value: rows.map((row) => serializeRow(entity, attributes, row)),
  };
}

/** `GET /{set}({id})`. @throws DataverseError 404 `0x80040217` when the row does not exist. */
export async function readEntity(args: { store: DataverseStore; org: Org; md: OrgMetadata; entity: EntityMetadata; id: string; options: QueryOptions; apiUrl: string }): Promise<Record<string, unknown>> {
  const { store, org, md, entity, id, options, apiUrl } = args;
  if (options.top !== undefined) throw dv.queryOptionNotSupported("$top on a single record");
  const attributes = selectedAttributes(md, entity, options.select);
  const [row] = await store.selectRows(org, {
    entity,
    columns: sqlColumns(entity, attributes),
    where: { kind: "compare", op: "eq", left: { kind: "column", name: entity.primaryIdAttribute }, right: { kind: "value", value: id } },
    orderBy: [],
    limit: 1,
  });
  if (!row) throw dv.recordNotFound(entity.logicalName, id);
  return { "@odata.context": `${apiUrl}/$metadata#${entity.entitySetName}${contextSuffix(options.select)}/$entity`, ...serializeRow(entity, attributes, row) };
}
