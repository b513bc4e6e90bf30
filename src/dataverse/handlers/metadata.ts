import { dv, DataverseError } from "../errors.ts";
import { solutionErrors } from "../solutions/service.ts";
import { metadataErrors, parseAttributeDefinition, parseEntityDefinition } from "../metadata/custom.ts";
import { parseManyToManyDefinition, parseOneToManyDefinition, relationshipBodyType } from "../metadata/relationships.ts";
import { filterObjects, parseMetadataQuery, selectProperties, type ExpandItem, type MetadataQuery } from "../metadata/query.ts";
import type { OrgMetadata } from "../metadata/registry.ts";
import { GLOBAL_OPTION_SET_PROPERTIES, globalOptionSetId, globalOptionSetToWire, parseGlobalOptionSet, resolveGlobalOptionSet } from "../metadata/option-sets.ts";
import { KEY_PROPERTIES, keyMetadataId, keyToWire, parseKeyDefinition } from "../metadata/keys.ts";
import type { AttributeMetadata, EntityKeyMetadata, EntityMetadata } from "../metadata/types.ts";
import {
  ATTRIBUTE_METADATA_TYPES,
  ENTITY_PROPERTIES,
  MANY_TO_MANY_PROPERTIES,
  RELATIONSHIP_BASE_PROPERTIES,
  RELATIONSHIP_METADATA_TYPES,
  RELATIONSHIP_PROPERTIES,
  allRelationships,
  attributeMetadataId,
  attributeMetadataType,
  attributeProperties,
  attributeToWire,
  entityMetadataId,
  entityToWire,
  hasOptionSet,
  optionSetToWire,
  manyToManyRelationshipsOf,
  metadataId,
  relationshipsOf,
  type RelationshipMetadataType,
  type WireObject,
} from "../metadata/wire.ts";
import { navigationFor } from "../navigation.ts";
import { buildCsdl } from "../odata/csdl.ts";
import { parseEntityKey } from "../odata/path.ts";
import type { WebApiRequest } from "../request.ts";

/**
 * The definition surface of the Web API: `$metadata` (CSDL) and `EntityDefinitions` with its
 * `Attributes` and relationships, reads and custom-table / custom-column creation
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api,
 * …/create-update-entity-definitions-using-web-api, …/create-update-column-definitions-using-web-api).
 *
 * Privileges, as Dataverse's metadata messages require them: reading definitions needs
 * `prvReadEntity` (RetrieveEntity / RetrieveAllEntities; System Administrator, and any role given
 * it, holds it — the demo app's custom role does not, so it gets 403 `0x80040220`), creating a table
 * `prvCreateEntity`, adding a column `prvCreateAttribute`. `$metadata` needs only an authenticated
 * org member (any role), as in Dataverse where every client fetches it.
 */

/** A definition request: the Web API request context (its `pathText` is the definition path, e.g. `EntityDefinitions(LogicalName='account')/Attributes`). */
export type MetadataRequest = WebApiRequest;

/** Status, headers (content type included) and body of a definition response. */
export interface MetadataResponse {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

const ROOT_RE = /^\/*(\$metadata|EntityDefinitions|RelationshipDefinitions|GlobalOptionSetDefinitions)(?=$|[(/?])/;

/** True for paths this handler serves: `$metadata`, `EntityDefinitions…`, `RelationshipDefinitions…` and `GlobalOptionSetDefinitions…`. */
export function isMetadataPath(path: string): boolean {
  return ROOT_RE.test(path);
}

const SEGMENT_RE = /^([A-Za-z_][A-Za-z0-9_.]*)(?:\((.*)\))?$/s;
const CAST_PREFIX = "Microsoft.Dynamics.CRM.";
const RELATIONSHIP_NAVIGATIONS = new Set(["ManyToOneRelationships", "OneToManyRelationships", "ManyToManyRelationships", "Keys"]);

interface Segment {
  name: string;
  key?: string;
}

function segments(path: string): Segment[] {
  return path
    .split("/")
    .filter((s) => s.length > 0)
    .map((raw) => {
      let text: string;
      try {
        text = decodeURIComponent(raw);
      } catch {
        throw dv.querySyntax(`the segment '${raw}' is not valid percent-encoding`);
      }
      if (text === "$metadata") return { name: text };
      const match = SEGMENT_RE.exec(text);
      if (!match) throw dv.segmentNotFound(text);
      return match[2] === undefined ? { name: match[1] as string } : { name: match[1] as string, key: match[2] };
    });
}

/** The `LogicalName='x'` or MetadataId key of a definition; the only alternate key is `LogicalName`. */
function definitionKey(raw: string): { id: string } | { logicalName: string } {
  const key = parseEntityKey(raw);
  if (key.kind === "id") return { id: key.id };
  const [only] = key.values;
  if (key.values.length !== 1 || only?.name !== "LogicalName" || typeof only.value !== "string") throw dv.querySyntax(`the key '${raw}' is neither a MetadataId nor LogicalName='…'`);
  return { logicalName: only.value };
}

function findEntity(md: OrgMetadata, raw: string): EntityMetadata {
  const key = definitionKey(raw);
  if ("logicalName" in key) {
    const entity = md.entity(key.logicalName);
    if (!entity) throw metadataErrors.entityNotFound(key.logicalName);
    return entity;
  }
  const entity = md.entities().find((e) => entityMetadataId(e) === key.id);
  if (!entity) throw metadataErrors.entityNotFound("", key.id);
  return entity;
}

function castName(segment: Segment | undefined): string | undefined {
  if (!segment) return undefined;
  const name = segment.name.startsWith(CAST_PREFIX) ? segment.name.slice(CAST_PREFIX.length) : undefined;
  if (!name || segment.key !== undefined || !ATTRIBUTE_METADATA_TYPES.includes(name)) throw dv.segmentNotFound(segment.name);
  return name;
}

const json = (body: WireObject, status = 200): MetadataResponse => ({ status, headers: {}, body });
const selectSuffix = (select: string[] | undefined) => (select ? `(${select.join(",")})` : "");

/** Attributes of `entity` (optionally of one derived type) with nested query options applied. */
function attributesOf(entity: EntityMetadata, cast: string | undefined, options: { select?: string[]; filter?: string; expand?: ExpandItem[] }, aliases: ReadonlyMap<string, string>): WireObject[] {
  const typeName = cast ?? "AttributeMetadata";
  const expandOptionSet = (options.expand ?? []).some((e) => e.name === "OptionSet" || e.name === "GlobalOptionSet");
  for (const item of options.expand ?? []) {
    const optionTyped = cast !== undefined && entity.attributes.some((a) => attributeMetadataType(a) === cast && hasOptionSet(a));
    if ((item.name !== "OptionSet" && item.name !== "GlobalOptionSet") || !optionTyped) throw dv.propertyNotFound(item.name, typeName);
  }
  const wire = entity.attributes
    .map((a, i) => ({ attribute: a, object: attributeToWire(entity, a, i, expandOptionSet) }))
    .filter(({ attribute }) => cast === undefined || attributeMetadataType(attribute) === cast)
    .map(({ attribute, object }) => {
      // A local option set is no global one: GlobalOptionSet expands to null.
      if ((options.expand ?? []).some((e) => e.name === "GlobalOptionSet") && hasOptionSet(attribute)) object.GlobalOptionSet = attribute.globalOptionSet !== undefined ? optionSetToWire(entity, attribute) : null;
      return object;
    });
  const allowed = attributeProperties(cast);
  return filterObjects(wire, options.filter, aliases, typeName).map((o) => selectProperties(o, options.select, allowed, typeName, ["OptionSet", "GlobalOptionSet"]));
}

/** The table's alternate keys as `EntityKeyMetadata`, with `$select` and `$filter` applied. */
function keysOf(entity: EntityMetadata, options: { select?: string[]; filter?: string }, aliases: ReadonlyMap<string, string>): WireObject[] {
  const list = (entity.keys ?? []).map((k) => keyToWire(entity, k));
  return filterObjects(list, options.filter, aliases, "EntityKeyMetadata").map((o) => selectProperties(o, options.select, KEY_PROPERTIES, "EntityKeyMetadata"));
}

/** A column addressed as `Attributes(LogicalName='x')` or `Attributes(<MetadataId>)`. */
function findAttribute(md: OrgMetadata, entity: EntityMetadata, raw: string): AttributeMetadata {
  const key = definitionKey(raw);
  const attribute = "logicalName" in key ? md.attribute(entity, key.logicalName) : entity.attributes.find((a) => attributeMetadataId(entity, a) === key.id);
  if (!attribute) throw metadataErrors.attributeNotFound(entity.logicalName, "logicalName" in key ? key.logicalName : key.id);
  return attribute;
}

/** A key addressed as `Keys(LogicalName='x')` or `Keys(<MetadataId>)`. */
function findKey(entity: EntityMetadata, raw: string): EntityKeyMetadata {
  const key = definitionKey(raw);
  const found = (entity.keys ?? []).find((k) => ("logicalName" in key ? k.logicalName === key.logicalName : keyMetadataId(entity, k) === key.id));
  if (!found) throw metadataErrors.keyNotFound(entity.logicalName, "logicalName" in key ? key.logicalName : key.id);
  return found;
}

function relationships(md: OrgMetadata, entity: EntityMetadata, name: string, options: { select?: string[]; filter?: string }, aliases: ReadonlyMap<string, string>): WireObject[] {
  if (name === "Keys") return keysOf(entity, options, aliases);
  if (name === "ManyToManyRelationships") {
    return filterObjects(manyToManyRelationshipsOf(entity, md), options.filter, aliases, "ManyToManyRelationshipMetadata").map((o) => selectProperties(o, options.select, MANY_TO_MANY_PROPERTIES, "ManyToManyRelationshipMetadata"));
  }
  const side = name === "OneToManyRelationships" ? "OneToMany" : "ManyToOne";
  const list = relationshipsOf(entity, md.entities(), navigationFor(md), side);
  return filterObjects(list, options.filter, aliases, "OneToManyRelationshipMetadata").map((o) => selectProperties(o, options.select, RELATIONSHIP_PROPERTIES, "OneToManyRelationshipMetadata"));
}

/** `EntityMetadata` with `$select` and `$expand` applied. */
function entityBody(md: OrgMetadata, entity: EntityMetadata, query: MetadataQuery): WireObject {
  const out = selectProperties(entityToWire(entity), query.select, ENTITY_PROPERTIES, "EntityMetadata");
  for (const item of query.expand) {
    if (item.name === "Attributes") out.Attributes = attributesOf(entity, undefined, item, query.aliases);
    else if (RELATIONSHIP_NAVIGATIONS.has(item.name)) out[item.name] = relationships(md, entity, item.name, item, query.aliases);
    else throw dv.propertyNotFound(item.name, "EntityMetadata");
  }
  return out;
}

async function readDefinitions(request: MetadataRequest, parts: Segment[]): Promise<MetadataResponse> {
  const { md, apiUrl } = request;
  await request.security.assertNamedPrivilege("prvReadEntity");
  const query = parseMetadataQuery(request.params);
  const [root, nav, third, fourth] = parts;
  if (!root) throw dv.segmentNotFound("");
  if (root.key === undefined) {
    if (nav) throw dv.segmentNotFound(nav.name);
    const all = md.entities().map((e) => ({ entity: e, object: entityToWire(e) }));
    const matching = new Set(filterObjects(all.map((a) => a.object), query.filter, query.aliases, "EntityMetadata"));
    const value = all.filter((a) => matching.has(a.object)).map((a) => entityBody(md, a.entity, query));
    return json({ "@odata.context": `${apiUrl}/$metadata#EntityDefinitions${selectSuffix(query.select)}`, value });
  }
  const entity = findEntity(md, root.key);
  const entityUrl = `${apiUrl}/$metadata#EntityDefinitions(${entityMetadataId(entity)})`;
  if (!nav) {
    if (query.filter !== undefined) throw dv.queryOptionNotSupported("$filter on a single definition");
    return json({ "@odata.context": `${apiUrl}/$metadata#EntityDefinitions${selectSuffix(query.select)}/$entity`, ...entityBody(md, entity, query) });
  }
  if (nav.name === "Attributes") {
    if (nav.key === undefined) {
      if (fourth) throw dv.segmentNotFound(fourth.name);
      const cast = castName(third);
      const value = attributesOf(entity, cast, query, query.aliases);
      return json({ "@odata.context": `${entityUrl}/Attributes${cast ? `/${CAST_PREFIX}${cast}` : ""}${selectSuffix(query.select)}`, value });
    }
    if (fourth) throw dv.segmentNotFound(fourth.name);
    const attribute = findAttribute(md, entity, nav.key);
    const cast = castName(third);
    if (cast !== undefined && attributeMetadataType(attribute) !== cast) throw dv.segmentNotFound(third?.name ?? "");
    if (query.filter !== undefined) throw dv.queryOptionNotSupported("$filter on a single attribute");
    const single: EntityMetadata = { ...entity, attributes: [attribute] };
    const [body] = attributesOf(single, cast, query, query.aliases) as [WireObject];
    body.ColumnNumber = entity.attributes.indexOf(attribute) + 1;
    return json({ "@odata.context": `${entityUrl}/Attributes${cast ? `/${CAST_PREFIX}${cast}` : ""}${selectSuffix(query.select)}/$entity`, ...body });
  }
  if (nav.name === "Keys" && nav.key !== undefined && !third) {
    if (query.filter !== undefined) throw dv.queryOptionNotSupported("$filter on a single key");
    const key = findKey(entity, nav.key);
    const body = selectProperties(keyToWire(entity, key), query.select, KEY_PROPERTIES, "EntityKeyMetadata");
    return json({ "@odata.context": `${entityUrl}/Keys${selectSuffix(query.select)}/$entity`, ...body });
  }
  if (RELATIONSHIP_NAVIGATIONS.has(nav.name) && nav.key === undefined && !third) {
    return json({ "@odata.context": `${entityUrl}/${nav.name}${selectSuffix(query.select)}`, value: relationships(md, entity, nav.name, query, query.aliases) });
  }
  throw dv.segmentNotFound(nav.name);
}

/**
 * The unmanaged solution a create names with the `MSCRM.SolutionUniqueName` header (the new table,
 * relationship or global option set joins it, as well as the Default solution), checked before
 * anything is created (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api).
 * @throws DataverseError 404 for an unknown solution, 400 `0x8004F024` for a managed one.
 */
async function requestedSolution(request: MetadataRequest): Promise<((componentType: number, componentId: string) => Promise<void>) | undefined> {
  const name = request.headers["mscrm.solutionuniquename"];
  if (typeof name !== "string" || name.trim() === "") return undefined;
  const { solutions } = request.services.service;
  const solution = await solutions.findSolution(request.org, name.trim(), request.store);
  if (!solution) throw new DataverseError(404, "0x80040217", `solution With Name = ${name.trim()} Does Not Exist`);
  if (solution.ismanaged === true || solution.ismanaged === 1) throw solutionErrors.managedSolution(String(solution.uniquename));
  return async (componentType, componentId) => {
    await solutions.addComponent(request.org, { solutionUniqueName: String(solution.uniquename), componentType, componentId }, request.store);
  };
}

function notImplemented(what: string): DataverseError {
  return new DataverseError(501, "0x80060888", `${what} is not supported by orgbox yet.`);
}

async function writeDefinitions(request: MetadataRequest, parts: Segment[]): Promise<MetadataResponse> {
  const { org, apiUrl, store } = request;
  const { service } = request.services;
  const [root, nav, third] = parts;
  if (request.method === "DELETE" && root?.key !== undefined && nav?.name === "Keys" && nav.key !== undefined && !third) {
    await request.security.assertNamedPrivilege("prvCreateEntity");
    const entity = findEntity(request.md, root.key);
    await service.removeAlternateKey(org, entity.logicalName, findKey(entity, nav.key).logicalName, store);
    return { status: 204, headers: {} };
  }
  if (request.method === "DELETE" && root?.key !== undefined && !nav) {
    await request.security.assertNamedPrivilege("prvDeleteEntity");
    const entity = findEntity(request.md, root.key);
    await service.solutions.assertNotManaged(org, entityMetadataId(entity), "Delete", "Entity", entity.logicalName, store);
    await service.deleteCustomTable(org, entity.logicalName, store);
    return { status: 204, headers: {} };
  }
  if (request.method === "DELETE" && root?.key !== undefined && nav?.name === "Attributes" && nav.key !== undefined && !third) {
    await request.security.assertNamedPrivilege("prvDeleteAttribute");
    const entity = findEntity(request.md, root.key);
    await service.solutions.assertNotManaged(org, entityMetadataId(entity), "Delete", "Attribute", `${entity.logicalName}.${nav.key}`, store);
    await service.deleteCustomColumn(org, entity.logicalName, findAttribute(request.md, entity, nav.key).logicalName, store);
    return { status: 204, headers: {} };
  }
  if (request.method !== "POST") throw notImplemented(`${request.method} on table definitions (updating tables and columns)`);
  if (!root || root.key === undefined) {
    if (nav) throw dv.segmentNotFound(nav.name);
    await request.security.assertNamedPrivilege("prvCreateEntity");
    const join = await requestedSolution(request);
    const entity = await service.createCustomTable(org, (code) => parseEntityDefinition(request.body, code), store);
    await join?.(1, entityMetadataId(entity));
    return { status: 204, headers: { "OData-EntityId": `${apiUrl}/EntityDefinitions(${entityMetadataId(entity)})` } };
  }
  if (nav?.name === "Attributes" && nav.key === undefined && !third) {
    await request.security.assertNamedPrivilege("prvCreateAttribute");
    const entity = findEntity(request.md, root.key);
    const attribute = await service.addCustomColumn(org, entity.logicalName, parseAttributeDefinition(request.body, (ref) => resolveGlobalOptionSet(request.md, ref)), store);
    return { status: 204, headers: { "OData-EntityId": `${apiUrl}/EntityDefinitions(${entityMetadataId(entity)})/Attributes(${attributeMetadataId(entity, attribute)})` } };
  }
  if (nav?.name === "Keys" && nav.key === undefined && !third) {
    await request.security.assertNamedPrivilege("prvCreateEntity");
    const { entity, key } = await service.addAlternateKey(org, findEntity(request.md, root.key).logicalName, (e) => parseKeyDefinition(request.body, e), store);
    return { status: 204, headers: { "OData-EntityId": `${apiUrl}/EntityDefinitions(${entityMetadataId(entity)})/Keys(${keyMetadataId(entity, key)})` } };
  }
  throw dv.methodNotAllowed(request.method);
}

/** The `$select` properties of a relationship read: the cast's type, or `RelationshipMetadataBase`. */
function relationshipProperties(cast: RelationshipMetadataType | undefined): ReadonlySet<string> {
  if (cast === "ManyToManyRelationshipMetadata") return MANY_TO_MANY_PROPERTIES;
  if (cast === "OneToManyRelationshipMetadata") return RELATIONSHIP_PROPERTIES;
  return RELATIONSHIP_BASE_PROPERTIES;
}

/** `Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata` → its type name; another segment is a 404. */
function relationshipCast(segment: Segment | undefined): RelationshipMetadataType | undefined {
  if (!segment) return undefined;
  const name = segment.name.startsWith(CAST_PREFIX) ? segment.name.slice(CAST_PREFIX.length) : undefined;
  const type = RELATIONSHIP_METADATA_TYPES.find((t) => t === name);
  if (!type || segment.key !== undefined) throw dv.segmentNotFound(segment.name);
  return type;
}

/**
 * `GET GlobalOptionSetDefinitions` (with `$select` and `$filter`), `…(<MetadataId>)`, `…(Name='x')`,
 * optionally cast to `Microsoft.Dynamics.CRM.OptionSetMetadata`; `POST GlobalOptionSetDefinitions`
 * creates one (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets).
 * Reading needs `prvReadEntity`, creating `prvCreateEntity`, like the other definitions.
 */
async function globalOptionSetDefinitions(request: MetadataRequest, parts: Segment[]): Promise<MetadataResponse> {
  const { md, apiUrl } = request;
  const [root, castSegment, extra] = parts;
  if (!root || extra) throw dv.segmentNotFound(extra?.name ?? "");
  if (castSegment && (castSegment.name !== `${CAST_PREFIX}OptionSetMetadata` || castSegment.key !== undefined)) throw dv.segmentNotFound(castSegment.name);
  if (request.method === "POST") {
    if (root.key !== undefined || castSegment) throw dv.methodNotAllowed(request.method);
    await request.security.assertNamedPrivilege("prvCreateEntity");
    const join = await requestedSolution(request);
    const set = await request.services.service.createGlobalOptionSet(request.org, parseGlobalOptionSet(request.body), request.store);
    await join?.(9, globalOptionSetId(set));
    return { status: 204, headers: { "OData-EntityId": `${apiUrl}/GlobalOptionSetDefinitions(${globalOptionSetId(set)})` } };
  }
  if (request.method === "DELETE") {
    if (root.key === undefined || castSegment) throw dv.methodNotAllowed(request.method);
    await request.security.assertNamedPrivilege("prvDeleteEntity");
    const set = resolveGlobalOptionSet(md, root.key);
    if (!set) throw metadataErrors.optionSetNotFound(root.key);
    await request.services.service.solutions.assertNotManaged(request.org, globalOptionSetId(set), "Delete", "OptionSet", set.name, request.store);
    await request.services.service.deleteGlobalOptionSet(request.org, set.name, request.store);
    return { status: 204, headers: {} };
  }
  if (request.method !== "GET") throw notImplemented(`${request.method} on global option set definitions (updating option sets)`);
  await request.security.assertNamedPrivilege("prvReadEntity");
  const query = parseMetadataQuery(request.params);
  const [unknownExpand] = query.expand;
  if (unknownExpand) throw dv.propertyNotFound(unknownExpand.name, "OptionSetMetadataBase");
  const castPath = castSegment ? `/${castSegment.name}` : "";
  if (root.key === undefined) {
    const objects = md.optionSets().map(globalOptionSetToWire);
    const value = filterObjects(objects, query.filter, query.aliases, "OptionSetMetadataBase").map((o) => selectProperties(o, query.select, GLOBAL_OPTION_SET_PROPERTIES, "OptionSetMetadataBase"));
    return json({ "@odata.context": `${apiUrl}/$metadata#GlobalOptionSetDefinitions${castPath}${selectSuffix(query.select)}`, value });
  }
  if (query.filter !== undefined) throw dv.queryOptionNotSupported("$filter on a single definition");
  const set = resolveGlobalOptionSet(md, root.key);
  if (!set) throw metadataErrors.optionSetNotFound(root.key);
  return json({ "@odata.context": `${apiUrl}/$metadata#GlobalOptionSetDefinitions${castPath}${selectSuffix(query.select)}/$entity`, ...selectProperties(globalOptionSetToWire(set), query.select, GLOBAL_OPTION_SET_PROPERTIES, "OptionSetMetadataBase") });
}

/** A relationship addressed as `(<MetadataId>)` or `(SchemaName='x')`, of the cast's type when there is one. */
function findRelationship<T extends { type: RelationshipMetadataType; object: WireObject }>(all: T[], raw: string, cast: RelationshipMetadataType | undefined): T {
  const key = parseEntityKey(raw);
  const [only] = key.kind === "alternate" ? key.values : [];
  if (key.kind === "alternate" && (key.values.length !== 1 || only?.name !== "SchemaName" || typeof only.value !== "string")) throw dv.querySyntax(`the key '${raw}' is neither a MetadataId nor SchemaName='…'`);
  const found = all.find((r) => (key.kind === "id" ? String(r.object.MetadataId) === key.id.toLowerCase() : r.object.SchemaName === only?.value));
  if (!found || (cast !== undefined && found.type !== cast)) throw metadataErrors.relationshipNotFound(key.kind === "id" ? `MetadataId = ${key.id}` : `SchemaName = ${String(only?.value)}`);
  return found;
}

/**
 * `GET RelationshipDefinitions`, `…(<MetadataId>)`, `…(SchemaName='x')`, each optionally followed by
 * a type cast (`/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata`), with `$select` and
 * `$filter` (collections); `POST RelationshipDefinitions` creates one (see relationships.ts).
 */
async function relationshipDefinitions(request: MetadataRequest, parts: Segment[]): Promise<MetadataResponse> {
  const { md, apiUrl } = request;
  const [root, castSegment, extra] = parts;
  if (!root || extra) throw dv.segmentNotFound(extra?.name ?? "");
  if (request.method === "POST") {
    if (root.key !== undefined || castSegment) throw dv.methodNotAllowed(request.method);
    await request.security.assertNamedPrivilege("prvCreateEntity");
    const type = relationshipBodyType(request.body);
    const join = await requestedSolution(request);
    const relationship = await request.services.service.createRelationship(
      request.org,
      (current, code) => (type === "ManyToManyRelationshipMetadata" ? parseManyToManyDefinition(request.body, current, code) : parseOneToManyDefinition(request.body, current)),
      request.store,
    );
    await join?.(10, metadataId("relationship", relationship.schemaName));
    return { status: 204, headers: { "OData-EntityId": `${apiUrl}/RelationshipDefinitions(${metadataId("relationship", relationship.schemaName)})` } };
  }
  if (request.method === "DELETE") {
    if (root.key === undefined || castSegment) throw dv.methodNotAllowed(request.method);
    await request.security.assertNamedPrivilege("prvDeleteEntity");
    const found = findRelationship(allRelationships(md, navigationFor(md)), root.key, undefined);
    await request.services.service.solutions.assertNotManaged(request.org, String(found.object.MetadataId), "Delete", "EntityRelationship", String(found.object.SchemaName), request.store);
    await request.services.service.deleteRelationship(request.org, String(found.object.SchemaName), request.store);
    return { status: 204, headers: {} };
  }
  if (request.method !== "GET") throw notImplemented(`${request.method} on relationship definitions (updating relationships)`);
  await request.security.assertNamedPrivilege("prvReadEntity");
  const query = parseMetadataQuery(request.params);
  const cast = relationshipCast(castSegment);
  const typeName = cast ?? "RelationshipMetadataBase";
  const [unknownExpand] = query.expand;
  if (unknownExpand) throw dv.propertyNotFound(unknownExpand.name, typeName);
  const all = allRelationships(md, navigationFor(md));
  const castPath = cast ? `/${CAST_PREFIX}${cast}` : "";
  const allowed = relationshipProperties(cast);
  if (root.key === undefined) {
    const objects = all.filter((r) => cast === undefined || r.type === cast).map((r) => r.object);
    const value = filterObjects(objects, query.filter, query.aliases, typeName).map((o) => selectProperties(o, query.select, allowed, typeName));
    return json({ "@odata.context": `${apiUrl}/$metadata#RelationshipDefinitions${castPath}${selectSuffix(query.select)}`, value });
  }
  const found = findRelationship(all, root.key, cast);
  if (query.filter !== undefined) throw dv.queryOptionNotSupported("$filter on a single definition");
  return json({ "@odata.context": `${apiUrl}/$metadata#RelationshipDefinitions${castPath}${selectSuffix(query.select)}/$entity`, ...selectProperties(found.object, query.select, allowed, typeName) });
}

/**
 * Serves `$metadata`, `EntityDefinitions…` and `RelationshipDefinitions…`: reads (with `$select`,
 * `$filter`, `$expand`, keys and type casts), `POST EntityDefinitions`, `POST EntityDefinitions(…)/Attributes`
 * and `POST RelationshipDefinitions`.
 * @throws DataverseError 404 (`0x80040217` unknown table or column, `0x8006088a` unknown segment),
 *   400 (bad query or definition), 403 (privileges), 405/501 (methods orgbox does not serve).
 */
export async function handleMetadata(request: MetadataRequest): Promise<MetadataResponse> {
  const parts = segments(request.pathText);
  if (parts[0]?.name === "$metadata") {
    if (parts.length > 1 || parts[0].key !== undefined) throw dv.segmentNotFound(parts[1]?.name ?? parts[0].name);
    if (request.method !== "GET") throw dv.methodNotAllowed(request.method);
    for (const key of request.params.keys()) if (key.startsWith("$")) throw dv.queryOptionNotSupported(`${key} on $metadata`);
    return { status: 200, headers: { "content-type": "application/xml; charset=utf-8" }, body: buildCsdl(request.md, request.services.operations.list()) };
  }
  if (parts[0]?.name === "RelationshipDefinitions") return relationshipDefinitions(request, parts);
  if (parts[0]?.name === "GlobalOptionSetDefinitions") return globalOptionSetDefinitions(request, parts);
  return request.method === "GET" ? readDefinitions(request, parts) : writeDefinitions(request, parts);
}
