import type { IncomingHttpHeaders } from "node:http";
import { dv } from "../errors.ts";
import type { OrgMetadata } from "../metadata/registry.ts";
import { isLookupType, type AttributeMetadata, type EntityMetadata } from "../metadata/types.ts";
import type { Row } from "../model.ts";
import type { SecurityContext } from "../security/context.ts";
import { linkedTo, navigationFor, type ManyToManyNavigation, type OneToMany, type SingleNavigation } from "../navigation.ts";
import { parseEntityKey, type EntityKey, type ResourcePath } from "../odata/path.ts";
import { parsePrefer } from "../odata/prefer.ts";
import { parseQueryOptions } from "../odata/query-options.ts";
import { propertyName, serializeRow } from "../odata/serializer.ts";
import type { DataverseService } from "../service.ts";
import type { DataverseStore, Expr } from "../store.ts";
import { parseRecord, parseReference, writeErrors } from "../validation.ts";
import { RecordWriter, type WriteScope } from "../writer.ts";
import { securityAuthorizer } from "../security/write-authorizer.ts";
import type { WebApiRequest } from "../request.ts";
import { readCollection, readEntity } from "./records.ts";

/**
 * The write side of the Web API: Create, Update/upsert, Delete, single-property
 * PUT/DELETE, `$ref` (dis)association and the bulk actions
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api,
 * …/webapi/update-delete-entities-using-web-api,
 * …/webapi/perform-conditional-operations-using-web-api,
 * …/webapi/associate-disassociate-entities-using-web-api,
 * …/bulk-operations).
 */

/** What a write request needs; `params` are the decoded query options. */
export interface WriteRequest extends Pick<WebApiRequest, "method" | "body" | "headers" | "params" | "org" | "md" | "caller" | "apiUrl" | "store"> {
  path: ResourcePath;
  entity: EntityMetadata;
  /** The caller's security context: writes are authorized and reads served here check Read access with it. */
  security: SecurityContext;
  writer: RecordWriter;
}

/** Status, headers and (JSON or text) body of a write response; no body means none is sent. */
export interface WriteResponse {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

const BULK = new Set(["CreateMultiple", "UpdateMultiple", "UpsertMultiple"]);

/** Creates the write path's record writer, with the security model's privilege and access checks. */
export function createRecordWriter(service: DataverseService): RecordWriter {
  return new RecordWriter(service, securityAuthorizer);
}

/**
 * True when this module serves the request: every non-GET request on an entity
 * set, and the GETs of alternate-key URLs, single properties (`accounts(id)/name`,
 * `…/name/$value`) and `$ref`s (single- and collection-valued).
 */
export function isWriteSideRequest(method: string, path: ResourcePath, md: OrgMetadata, entity: EntityMetadata): boolean {
  if (method !== "GET") return true;
  if (path.kind === "call") return true;
  if (path.kind !== "member") return false;
  const [first, second] = path.segments;
  if (first === undefined) return false;
  const attribute = attributeByProperty(md, entity, first);
  if (attribute) return path.segments.length === 1 || (second === "$value" && path.segments.length === 2);
  const nav = navigationFor(md);
  if ((nav.manyToMany(entity, first) || nav.collectionValued(entity, first)) && path.segments.length === 1) return true;
  if (second !== "$ref" || path.segments.length !== 2) return false;
  return nav.singleValued(entity, first) !== undefined || nav.collectionValued(entity, first) !== undefined || nav.manyToMany(entity, first) !== undefined;
}

/** Serves a write-side request (see {@link isWriteSideRequest}); all writes of one request share a transaction. */
export async function handleWrite(req: WriteRequest): Promise<WriteResponse> {
  const { path, method } = req;
  switch (path.kind) {
    case "collection":
      if (method !== "POST") throw dv.methodNotAllowed(method);
      return createRecord(req);
    case "entity":
    case "call": {
      const key: EntityKey = path.kind === "entity" ? { kind: "id", id: path.id } : parseEntityKey(path.args);
      if (method === "PATCH") return upsertRecord(req, key);
      if (method === "DELETE") return deleteRecord(req, key);
      if (method === "GET") return readByKey(req, key);
      throw dv.methodNotAllowed(method);
    }
    case "bound":
      return boundOperation(req, path.segments);
    case "member":
      return memberRequest(req, parseEntityKey(path.key), path.segments);
  }
}

// ---------------------------------------------------------------- helpers

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

function wantsRepresentation(req: WriteRequest): boolean {
  return /(^|[,;\s])return\s*=\s*"?representation"?/i.test(header(req.headers, "prefer") ?? "");
}

/** `W/"123"` or `"123"` → `123`; `*` stays `*`. */
function etagValue(raw: string): string {
  const t = raw.trim();
  if (t === "*") return "*";
  return t.replace(/^W\//i, "").replace(/^"|"$/g, "");
}

function scopeOf(req: WriteRequest, store: DataverseStore): WriteScope {
  return { store, org: req.org, md: req.md, caller: req.caller, security: req.security };
}

function entityUrl(req: WriteRequest, entity: EntityMetadata, id: string): string {
  return `${req.apiUrl}/${entity.entitySetName}(${id})`;
}

/** The record as the GET of `set(id)` returns it, honouring `$select` (and `$expand` only on create). */
async function representation(req: WriteRequest, entity: EntityMetadata, id: string, allowExpand: boolean): Promise<Record<string, unknown>> {
  const params = new Map([...req.params].filter(([k]) => k === "$select" || (allowExpand && k === "$expand")));
  return readEntity({ store: req.store, org: req.org, md: req.md, entity, id, options: parseQueryOptions(params), apiUrl: req.apiUrl, caller: req.caller, now: req.writer.now(), prefer: parsePrefer(header(req.headers, "prefer")), security: req.security });
}

/** A lookup's or column's Web API property name → attribute (`name`, `_primarycontactid_value`). */
function attributeByProperty(md: OrgMetadata, entity: EntityMetadata, property: string): AttributeMetadata | undefined {
  const lookup = /^_(.+)_value$/.exec(property);
  const attribute = md.attribute(entity, lookup ? (lookup[1] as string) : property);
  if (!attribute || propertyName(attribute) !== property) return undefined;
  return attribute;
}

// ---------------------------------------------------------------- create / upsert / delete

async function createRecord(req: WriteRequest): Promise<WriteResponse> {
  const record = parseRecord(req.md, req.entity, req.body, "create");
  const directory = await req.writer.resolveDirectory(req.store, req.org, record);
  const id = await req.store.transaction((store) => req.writer.create({ ...scopeOf(req, store), directory }, record));
  return created(req, req.entity, id, 201);
}

async function created(req: WriteRequest, entity: EntityMetadata, id: string, statusWithBody: number): Promise<WriteResponse> {
  const url = entityUrl(req, entity, id);
  if (wantsRepresentation(req)) {
    return { status: statusWithBody, headers: { "Preference-Applied": "return=representation", "OData-EntityId": url }, body: await representation(req, entity, id, statusWithBody === 201) };
  }
  return { status: 204, headers: { "OData-EntityId": url } };
}

/**
 * `PATCH set(key)`: updates, or creates when the record is missing (upsert), under
 * `If-Match` (`*` = must exist, `W/"n"` = must have that version) and
 * `If-None-Match: *` (must not exist); `If-None-Match: null` means no condition.
 */
async function upsertRecord(req: WriteRequest, key: EntityKey): Promise<WriteResponse> {
  const { entity, md } = req;
  const ifMatch = header(req.headers, "if-match");
  const ifNoneMatch = header(req.headers, "if-none-match");
  const outcome = await req.store.transaction(async (store) => {
    const scope = scopeOf(req, store);
    const existing = await req.writer.find(scope, entity, key, ["versionnumber"]);
    if (existing) {
      if (ifNoneMatch !== undefined && etagValue(ifNoneMatch) === "*") throw writeErrors.duplicate();
      if (ifMatch !== undefined && etagValue(ifMatch) !== "*" && etagValue(ifMatch) !== String(existing.versionnumber)) throw writeErrors.versionMismatch();
      const id = String(existing[entity.primaryIdAttribute]);
      await req.writer.update(scope, parseRecord(md, entity, req.body, "update", { id }), existing);
      return { id, created: false };
    }
    if (ifMatch !== undefined) throw dv.recordNotFound(entity.logicalName, keyText(key));
    const record = parseRecord(md, entity, req.body, "create", { implicit: key.kind === "alternate" ? key.values.map((v) => v.name) : [] });
    if (key.kind === "id") {
      const given = record.values[entity.primaryIdAttribute];
      if (given !== undefined && given !== key.id) throw writeErrors.notValidFor("update", md.attribute(entity, entity.primaryIdAttribute) as AttributeMetadata, entity);
      record.values[entity.primaryIdAttribute] = key.id;
    } else {
      for (const v of key.values) record.values[v.name.replace(/^_(.+)_value$/, "$1")] ??= v.value;
    }
    return { id: await req.writer.create(scope, record), created: true };
  });
  if (outcome.created) return created(req, entity, outcome.id, 201);
  const url = entityUrl(req, entity, outcome.id);
  if (wantsRepresentation(req)) return { status: 200, headers: { "Preference-Applied": "return=representation", "OData-EntityId": url }, body: await representation(req, entity, outcome.id, false) };
  return { status: 204, headers: { "OData-EntityId": url } };
}

function keyText(key: EntityKey): string {
  return key.kind === "id" ? key.id : key.values.map((v) => `${v.name}=${String(v.value)}`).join(",");
}

/** `DELETE set(key)`; `If-Match: W/"n"` must match the stored version. */
async function deleteRecord(req: WriteRequest, key: EntityKey): Promise<WriteResponse> {
  const ifMatch = header(req.headers, "if-match");
  await req.store.transaction(async (store) => {
    const scope = scopeOf(req, store);
    const existing = await req.writer.require(scope, req.entity, key, ["versionnumber"]);
    if (ifMatch !== undefined && etagValue(ifMatch) !== "*" && etagValue(ifMatch) !== String(existing.versionnumber)) throw writeErrors.versionMismatch();
    await req.writer.delete(scope, req.entity, String(existing[req.entity.primaryIdAttribute]));
  });
  return { status: 204, headers: {} };
}

/** `GET set(alternate key)`: the record, as `GET set(id)`. */
async function readByKey(req: WriteRequest, key: EntityKey): Promise<WriteResponse> {
  const row = await req.writer.require(scopeOf(req, req.store), req.entity, key);
  const id = String(row[req.entity.primaryIdAttribute]);
  return { status: 200, headers: {}, body: await readEntity({ store: req.store, org: req.org, md: req.md, entity: req.entity, id, options: parseQueryOptions(req.params), apiUrl: req.apiUrl, caller: req.caller, now: req.writer.now(), prefer: parsePrefer(header(req.headers, "prefer")), security: req.security }) };
}

// ---------------------------------------------------------------- bulk actions

/** `POST set/Microsoft.Dynamics.CRM.CreateMultiple|UpdateMultiple|UpsertMultiple {"Targets":[…]}`, atomically. */
async function boundOperation(req: WriteRequest, segments: string[]): Promise<WriteResponse> {
  const name = (segments[0] ?? "").replace(/^Microsoft\.Dynamics\.CRM\./, "");
  if (segments.length !== 1 || !BULK.has(name)) throw dv.segmentNotFound(segments[0] ?? "");
  if (req.method !== "POST") throw dv.methodNotAllowed(req.method);
  const { entity, md } = req;
  const body = req.body as { Targets?: unknown } | null;
  const targets = body && typeof body === "object" && Array.isArray(body.Targets) ? (body.Targets as unknown[]) : undefined;
  if (!targets) throw writeErrors.payload(entity, `${name} needs a body {"Targets":[…]} with the records, each with "@odata.type":"Microsoft.Dynamics.CRM.${entity.logicalName}".`);
  for (const target of targets) {
    if (!target || typeof target !== "object" || (target as Record<string, unknown>)["@odata.type"] === undefined) {
      throw writeErrors.payload(entity, `Each item of Targets needs "@odata.type":"Microsoft.Dynamics.CRM.${entity.logicalName}".`);
    }
  }
  const pk = entity.primaryIdAttribute;
  const idOf = (target: unknown): string | undefined => {
    const raw = (target as Record<string, unknown>)[pk];
    return typeof raw === "string" ? raw.toLowerCase() : undefined;
  };
  if (name === "CreateMultiple") {
    const records = targets.map((t) => parseRecord(md, entity, t, "create"));
    const ids = await req.store.transaction(async (store) => {
      const out: string[] = [];
      for (const record of records) out.push(await req.writer.create(scopeOf(req, store), record));
      return out;
    });
    return { status: 200, headers: {}, body: { "@odata.context": `${req.apiUrl}/$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse`, Ids: ids } };
  }
  if (name === "UpdateMultiple") {
    const parsed = targets.map((t) => {
      const id = idOf(t);
      if (!id) throw writeErrors.payload(entity, `Each item of Targets of UpdateMultiple needs its primary key '${pk}'.`);
      return { id, record: parseRecord(md, entity, t, "update", { id }) };
    });
    await req.store.transaction(async (store) => {
      const scope = scopeOf(req, store);
      for (const { id, record } of parsed) await req.writer.update(scope, record, await req.writer.require(scope, entity, { kind: "id", id }));
    });
    return { status: 204, headers: {} };
  }
  const results = await req.store.transaction(async (store) => {
    const scope = scopeOf(req, store);
    const out: Record<string, unknown>[] = [];
    for (const target of targets) {
      const id = idOf(target);
      const existing = id ? await req.writer.find(scope, entity, { kind: "id", id }) : undefined;
      let finalId: string;
      if (existing && id) {
        await req.writer.update(scope, parseRecord(md, entity, target, "update", { id }), existing);
        finalId = id;
      } else {
        finalId = await req.writer.create(scope, parseRecord(md, entity, target, "create"));
      }
      out.push({ RecordCreated: !existing, Target: { "@odata.type": `#Microsoft.Dynamics.CRM.${entity.logicalName}`, [pk]: finalId } });
    }
    return out;
  });
  return { status: 200, headers: {}, body: { "@odata.context": `${req.apiUrl}/$metadata#Microsoft.Dynamics.CRM.UpsertMultipleResponse`, Results: results } };
}

// ---------------------------------------------------------------- set(key)/…

/** `set(key)/prop`, `set(key)/prop/$value`, `set(key)/nav/$ref`, `set(key)/collection/$ref`, `set(key)/collection(id)/$ref`, `POST set(key)/collection`. */
async function memberRequest(req: WriteRequest, key: EntityKey, segments: string[]): Promise<WriteResponse> {
  const { entity, md } = req;
  const nav = navigationFor(md);
  const [first = "", second, third] = segments;
  const attribute = attributeByProperty(md, entity, first);
  if (attribute && (segments.length === 1 || (second === "$value" && segments.length === 2))) return propertyRequest(req, key, attribute, second === "$value");
  const single = nav.singleValued(entity, first);
  if (single && second === "$ref" && segments.length === 2) return singleRefRequest(req, key, single);
  const collMatch = /^([A-Za-z_][A-Za-z0-9_]*)(?:\((.*)\))?$/s.exec(first);
  const collection = collMatch ? nav.collectionValued(entity, collMatch[1] as string) : undefined;
  if (collection && collMatch) {
    const childKeyText = collMatch[2];
    if (second === "$ref" && segments.length === 2 && req.method === "GET" && childKeyText === undefined) {
      const child = md.entity(collection.referencingEntity) as EntityMetadata;
      const within = (parentId: string): Expr => ({ kind: "compare", op: "eq", left: { kind: "column", name: collection.referencingAttribute }, right: { kind: "value", value: parentId } });
      return navigationRead(req, key, collection.referencedNavigation, child, within, true);
    }
    if (second === "$ref" && segments.length === 2) return collectionRefRequest(req, key, collection, childKeyText);
    if (segments.length === 1 && childKeyText === undefined && req.method === "POST") return createRelated(req, key, collection);
    if (segments.length === 1 && childKeyText === undefined && req.method === "GET") {
      // `GET accounts(id)/contact_customer_accounts`: the children, as a collection read (query options, paging).
      const child = md.entity(collection.referencingEntity) as EntityMetadata;
      const within = (parentId: string): Expr => ({ kind: "compare", op: "eq", left: { kind: "column", name: collection.referencingAttribute }, right: { kind: "value", value: parentId } });
      return navigationRead(req, key, collection.referencedNavigation, child, within, false);
    }
  }
  const nn = collMatch ? nav.manyToMany(entity, collMatch[1] as string) : undefined;
  if (nn && collMatch) {
    if (second === "$ref" && segments.length === 2 && req.method === "GET" && collMatch[2] === undefined) {
      const other = md.entity(nn.other.entity) as EntityMetadata;
      return navigationRead(req, key, nn.self.navigation, other, (selfId) => linkedTo(nn, other, selfId), true);
    }
    if (second === "$ref" && segments.length === 2) return manyToManyRefRequest(req, key, nn, collMatch[2]);
    if (segments.length === 1 && collMatch[2] === undefined && req.method === "GET") return manyToManyRead(req, key, nn);
  }
  if (attribute || single || collection || nn) throw dv.methodNotAllowed(req.method);
  throw dv.segmentNotFound(third !== undefined || second !== undefined ? segments.join("/") : first);
}

/** `GET|PUT|DELETE set(key)/prop` (and `GET …/prop/$value`). */
async function propertyRequest(req: WriteRequest, key: EntityKey, attribute: AttributeMetadata, raw: boolean): Promise<WriteResponse> {
  const { entity, md } = req;
  const property = propertyName(attribute);
  if (req.method === "GET") {
    const row = await req.writer.require(scopeOf(req, req.store), entity, key, [attribute.logicalName]);
    await req.security.assertRecordAccess("Read", entity, String(row[entity.primaryIdAttribute]));
    const value = serializeRow(entity, [attribute], row)[property];
    if (raw) {
      if (value === null || value === undefined) return { status: 204, headers: {} };
      return { status: 200, headers: { "content-type": "text/plain; charset=utf-8" }, body: String(value) };
    }
    const id = String(row[entity.primaryIdAttribute]);
    return { status: 200, headers: {}, body: { "@odata.context": `${req.apiUrl}/$metadata#${entity.entitySetName}(${id})/${property}`, value } };
  }
  if (raw) throw dv.methodNotAllowed(req.method);
  if (isLookupType(attribute.type)) throw writeErrors.lookupValue(property);
  let body: Record<string, unknown>;
  if (req.method === "PUT") {
    const sent = req.body as { value?: unknown } | null;
    if (!sent || typeof sent !== "object" || !("value" in sent)) throw writeErrors.payload(entity, `PUT ${entity.entitySetName}(…)/${property} needs a body {"value": …}.`);
    body = { [property]: sent.value };
  } else if (req.method === "DELETE") {
    body = { [property]: null };
  } else {
    throw dv.methodNotAllowed(req.method);
  }
  await req.store.transaction(async (store) => {
    const scope = scopeOf(req, store);
    const existing = await req.writer.require(scope, entity, key);
    const id = String(existing[entity.primaryIdAttribute]);
    if (attribute.logicalName === entity.primaryIdAttribute) throw writeErrors.notValidFor("update", attribute, entity);
    await req.writer.update(scope, parseRecord(md, entity, body, "update", { id }), existing);
  });
  return { status: 204, headers: {} };
}

/** `GET|PUT|DELETE set(key)/nav/$ref`: read, set or clear a lookup. */
async function singleRefRequest(req: WriteRequest, key: EntityKey, single: SingleNavigation): Promise<WriteResponse> {
  const { entity, md } = req;
  const column = single.attribute.logicalName;
  if (req.method === "GET") {
    const typeColumn = entity.attributes.some((a) => a.logicalName === `${column}type`) ? [`${column}type`] : [];
    const row = await req.writer.require(scopeOf(req, req.store), entity, key, [column, ...typeColumn]);
    await req.security.assertRecordAccess("Read", entity, String(row[entity.primaryIdAttribute]));
    const target = row[column];
    const targetName = single.targets.length === 1 ? single.targets[0] : String(row[`${column}type`] ?? "");
    const targetEntity = targetName ? md.entity(targetName) : undefined;
    if (target === null || target === undefined || !targetEntity || (single.targets.length > 1 && !single.targets.includes(targetEntity.logicalName))) {
      return { status: 204, headers: {} };
    }
    return { status: 200, headers: {}, body: { "@odata.context": `${req.apiUrl}/$metadata#$ref`, "@odata.id": entityUrl(req, targetEntity, String(target).toLowerCase()) } };
  }
  let body: Record<string, unknown>;
  if (req.method === "PUT") {
    const sent = req.body as Record<string, unknown> | null;
    if (!sent || typeof sent !== "object" || typeof sent["@odata.id"] !== "string") throw writeErrors.payload(entity, `PUT ${entity.entitySetName}(…)/${single.name}/$ref needs a body {"@odata.id": "<url of the record>"}.`);
    body = { [`${single.name}@odata.bind`]: sent["@odata.id"] };
  } else if (req.method === "DELETE") {
    body = { [`${single.name}@odata.bind`]: null };
  } else {
    throw dv.methodNotAllowed(req.method);
  }
  await req.store.transaction(async (store) => {
    const scope = scopeOf(req, store);
    const existing = await req.writer.require(scope, entity, key);
    await req.writer.update(scope, parseRecord(md, entity, body, "update", { id: String(existing[entity.primaryIdAttribute]) }), existing);
  });
  return { status: 204, headers: {} };
}

/**
 * `POST set(key)/collection/$ref {"@odata.id"}` associates a child; `DELETE
 * set(key)/collection(childId)/$ref` (or `…/collection/$ref?$id=<url>`) disassociates it.
 */
async function collectionRefRequest(req: WriteRequest, key: EntityKey, relationship: OneToMany, childKeyText: string | undefined): Promise<WriteResponse> {
  const { entity, md } = req;
  const child = md.entity(relationship.referencingEntity) as EntityMetadata;
  if (req.method === "POST" && childKeyText === undefined) {
    const sent = req.body as Record<string, unknown> | null;
    if (!sent || typeof sent !== "object" || typeof sent["@odata.id"] !== "string") throw writeErrors.payload(entity, `POST ${entity.entitySetName}(…)/${relationship.referencedNavigation}/$ref needs a body {"@odata.id": "<url of the record>"}.`);
    const reference = parseReference(md, entity, sent["@odata.id"]);
    if (reference.entity.logicalName !== child.logicalName) throw writeErrors.payload(entity, `A resource of type 'Microsoft.Dynamics.CRM.${reference.entity.logicalName}' cannot be added to '${relationship.referencedNavigation}', which holds 'Microsoft.Dynamics.CRM.${child.logicalName}'.`);
    await req.store.transaction(async (store) => {
      const scope = scopeOf(req, store);
      const parent = await req.writer.require(scope, entity, key);
      await req.writer.linkChild(scope, relationship, entity, String(parent[entity.primaryIdAttribute]), reference);
    });
    return { status: 204, headers: {} };
  }
  if (req.method === "DELETE") {
    let childKey: EntityKey;
    if (childKeyText !== undefined) childKey = parseEntityKey(childKeyText);
    else {
      const idParam = req.params.get("$id");
      if (!idParam) throw writeErrors.payload(entity, `DELETE …/${relationship.referencedNavigation}/$ref needs the child in the URL (…/${relationship.referencedNavigation}(<id>)/$ref) or as ?$id=<url>.`);
      childKey = parseReference(md, entity, idParam).key;
    }
    await req.store.transaction(async (store) => {
      const scope = scopeOf(req, store);
      const parent = await req.writer.require(scope, entity, key);
      const childRow = await req.writer.require(scope, child, childKey, [relationship.referencingAttribute]);
      await req.writer.unlinkChild(scope, relationship, String(parent[entity.primaryIdAttribute]), child, childRow);
    });
    return { status: 204, headers: {} };
  }
  throw dv.methodNotAllowed(req.method);
}

/**
 * N:N `$ref` (learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api):
 * `POST set(key)/rel/$ref {"@odata.id":"<url>"}` associates, `DELETE set(key)/rel(otherId)/$ref`
 * (or `…/rel/$ref?$id=<url>`) disassociates. Append is checked on both records.
 */
async function manyToManyRefRequest(req: WriteRequest, key: EntityKey, nn: ManyToManyNavigation, otherKeyText: string | undefined): Promise<WriteResponse> {
  const { entity, md } = req;
  const other = md.entity(nn.other.entity) as EntityMetadata;
  const name = nn.self.navigation;
  let otherKey: EntityKey;
  if (req.method === "POST" && otherKeyText === undefined) {
    const sent = req.body as Record<string, unknown> | null;
    if (!sent || typeof sent !== "object" || typeof sent["@odata.id"] !== "string") throw writeErrors.payload(entity, `POST ${entity.entitySetName}(…)/${name}/$ref needs a body {"@odata.id": "<url of the record>"}.`);
    const reference = parseReference(md, entity, sent["@odata.id"]);
    if (reference.entity.logicalName !== other.logicalName) throw writeErrors.payload(entity, `A resource of type 'Microsoft.Dynamics.CRM.${reference.entity.logicalName}' cannot be added to '${name}', which holds 'Microsoft.Dynamics.CRM.${other.logicalName}'.`);
    otherKey = reference.key;
  } else if (req.method === "DELETE") {
    const idParam = req.params.get("$id");
    if (otherKeyText !== undefined) otherKey = parseEntityKey(otherKeyText);
    else if (idParam) otherKey = parseReference(md, entity, idParam).key;
    else throw writeErrors.payload(entity, `DELETE …/${name}/$ref needs the related record in the URL (…/${name}(<id>)/$ref) or as ?$id=<url>.`);
  } else {
    throw dv.methodNotAllowed(req.method);
  }
  await req.store.transaction(async (store) => {
    const scope = scopeOf(req, store);
    const self = await req.writer.require(scope, entity, key);
    const related = await req.writer.require(scope, other, otherKey);
    const selfId = String(self[entity.primaryIdAttribute]);
    const relatedId = String(related[other.primaryIdAttribute]);
    if (req.method === "POST") await req.writer.associate(scope, nn, selfId, relatedId);
    else await req.writer.disassociate(scope, nn, selfId, relatedId);
  });
  return { status: 204, headers: {} };
}

/** `GET set(key)/rel`: the records linked through an N:N relationship, as a collection read (query options apply). */
async function manyToManyRead(req: WriteRequest, key: EntityKey, nn: ManyToManyNavigation): Promise<WriteResponse> {
  const other = req.md.entity(nn.other.entity) as EntityMetadata;
  return navigationRead(req, key, nn.self.navigation, other, (selfId) => linkedTo(nn, other, selfId), false);
}

/**
 * Reads the records a collection-valued navigation property holds (`GET set(id)/nav`, with query
 * options and paging), or with `refs` their references (`GET set(id)/nav/$ref`:
 * `{"@odata.context":"…/$metadata#Collection($ref)","value":[{"@odata.id":"…/contacts(id)"}]}`,
 * OData v4 part 1 §11.2.8). The caller needs Read on the record and, row by row, on the related table.
 */
async function navigationRead(req: WriteRequest, key: EntityKey, navigation: string, target: EntityMetadata, within: (selfId: string) => Expr, refs: boolean): Promise<WriteResponse> {
  const { entity, md } = req;
  if (!req.security) throw new Error("a navigation read needs the caller's security context");
  const self = await req.writer.require(scopeOf(req, req.store), entity, key);
  const selfId = String(self[entity.primaryIdAttribute]);
  await req.security.assertRecordAccess("Read", entity, selfId);
  if (refs) for (const option of req.params.keys()) if (option.startsWith("$") && option !== "$top" && option !== "$skiptoken") throw dv.queryOptionNotSupported(`${option} on $ref`);
  const options = parseQueryOptions(req.params);
  const rawQuery = [...req.params].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&");
  const resourceUrl = `${entityUrl(req, entity, selfId)}/${navigation}`;
  const result = await readCollection({
    store: req.store,
    org: req.org,
    md,
    entity: target,
    options: refs ? { ...options, select: [target.primaryIdAttribute] } : options,
    apiUrl: req.apiUrl,
    caller: req.caller,
    security: req.security,
    now: req.writer.now(),
    prefer: parsePrefer(header(req.headers, "prefer")),
    resourceUrl: refs ? `${resourceUrl}/$ref` : resourceUrl,
    rawQuery,
    within: within(selfId),
  });
  const headers: Record<string, string> = result.preferenceApplied ? { "Preference-Applied": result.preferenceApplied } : {};
  if (!refs) return { status: 200, headers, body: result.body };
  const body = result.body as { value?: Record<string, unknown>[]; "@odata.nextLink"?: string };
  const out: Record<string, unknown> = { "@odata.context": `${req.apiUrl}/$metadata#Collection($ref)` };
  out.value = (body.value ?? []).map((row) => ({ "@odata.id": entityUrl(req, target, String(row[target.primaryIdAttribute])) }));
  if (body["@odata.nextLink"] !== undefined) out["@odata.nextLink"] = body["@odata.nextLink"];
  return { status: 200, headers, body: out };
}

/** `POST set(key)/collection`: creates a child already linked to the parent. */
async function createRelated(req: WriteRequest, key: EntityKey, relationship: OneToMany): Promise<WriteResponse> {
  const child = req.md.entity(relationship.referencingEntity) as EntityMetadata;
  const record = parseRecord(req.md, child, req.body, "create", { implicit: [relationship.referencingAttribute] });
  const id = await req.store.transaction(async (store) => {
    const scope = scopeOf(req, store);
    const parent = await req.writer.require(scope, req.entity, key);
    const parentId = String(parent[req.entity.primaryIdAttribute]);
    await req.writer.authorize(scope, "AppendTo", req.entity, parentId);
    const link: Row = { [relationship.referencingAttribute]: parentId };
    if (child.attributes.some((a) => a.logicalName === `${relationship.referencingAttribute}type`)) link[`${relationship.referencingAttribute}type`] = req.entity.logicalName;
    return req.writer.create(scope, record, link);
  });
  return created(req, child, id, 201);
}
