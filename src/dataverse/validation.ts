import { isGuid } from "../common/ids.ts";
import { DataverseError } from "./errors.ts";
import { checkJsonText } from "./input.ts";
import type { OrgMetadata } from "./metadata/registry.ts";
import { isLookupType, type AttributeMetadata, type AttributeType, type EntityMetadata } from "./metadata/types.ts";
import type { Row } from "./model.ts";
import { navigationFor, type ManyToManyNavigation, type OneToMany, type SingleNavigation } from "./navigation.ts";
import { parseEntityKey, parseResourcePath, type EntityKey } from "./odata/path.ts";

/**
 * Parsing and validation of Web API write payloads (Create, Update, upsert), all
 * done before anything is written. Errors follow Dataverse's codes and wording
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors,
 * learn.microsoft.com/troubleshoot/power-platform/power-apps/dataverse/web-api-client-errors).
 */

/** Create or Update: decides IsValidForCreate/IsValidForUpdate and required-column checks. */
export type WriteMode = "create" | "update";

/** A reference to a record by URL (`/contacts(<id>)`, `contacts(emailaddress1='a@b.c')`). */
export interface RecordReference {
  entity: EntityMetadata;
  key: EntityKey;
  /** The text as sent, for error messages. */
  text: string;
}

/** `nav@odata.bind`: set (or, with `null`, clear) a lookup. */
export interface LookupBind {
  navigation: SingleNavigation;
  reference: RecordReference | null;
}

/** A nested object for a single-valued navigation property (deep insert). */
export interface DeepSingle {
  navigation: SingleNavigation;
  record: ParsedRecord;
}

/** Nested objects for a collection-valued navigation property (deep insert of children). */
export interface DeepCollection {
  relationship: OneToMany;
  records: ParsedRecord[];
}

/** `collection_nav@odata.bind: ["/contacts(<id>)", …]`: associate existing children on create. */
export interface CollectionBind {
  relationship: OneToMany;
  references: RecordReference[];
}

/** `nn_nav@odata.bind: ["/contacts(<id>)", …]`: link existing records through an N:N relationship on create. */
export interface ManyToManyBind {
  navigation: ManyToManyNavigation;
  /** Existing records (`nav@odata.bind`). */
  references: RecordReference[];
  /** New records to create and link (deep insert through the N:N navigation property). */
  records?: ParsedRecord[];
}

/** A validated write payload: SQL-ready column values plus the related-record work. */
export interface ParsedRecord {
  entity: EntityMetadata;
  /** Column logical name → SQL value (strings, numbers, booleans, null). */
  values: Row;
  binds: LookupBind[];
  deepSingles: DeepSingle[];
  deepCollections: DeepCollection[];
  collectionBinds: CollectionBind[];
  manyToManyBinds: ManyToManyBind[];
}

const HELP = "https://go.microsoft.com/fwlink/?linkid=2195293";

/** Errors of the write path, with Dataverse's codes. */
export const writeErrors = {
  /** OData payload errors, wrapped as Dataverse wraps ODataException (`0x80048d19`). */
  payload: (entity: EntityMetadata, inner: string) =>
    new DataverseError(400, "0x80048d19", `Error identified in Payload provided by the user for Entity :'${entity.entitySetName}', For more information on this error please follow this help link ${HELP}  ----> InnerException : Microsoft.OData.ODataException: ${inner}`),
  propertyNotFound: (property: string, entity: EntityMetadata) => new DataverseError(400, "0x0", `Could not find a property named '${property}' on type 'Microsoft.Dynamics.CRM.${entity.logicalName}'.`),
  convert: (entity: EntityMetadata, literal: unknown, edmType: string) => writeErrors.payload(entity, `Cannot convert the literal '${literalText(literal)}' to the expected type '${edmType}'.`),
  tooLong: (attribute: AttributeMetadata, entity: EntityMetadata) =>
    new DataverseError(400, "0x80044331", `A validation error occurred. The length of the '${attribute.logicalName}' attribute of the '${entity.logicalName}' entity exceeded the maximum allowed length of '${attribute.maxLength ?? 0}'.`),
  outsideRange: (attribute: AttributeMetadata, entity: EntityMetadata, value: number, min: number, max: number) =>
    new DataverseError(400, "0x80044331", `A validation error occurred. The value ${value} of '${attribute.logicalName}' on record of type '${entity.logicalName}' is outside the valid range. Accepted Range: ${min} to ${max}`),
  outOfRange: (attribute: AttributeMetadata, entity: EntityMetadata, value: number) =>
    new DataverseError(400, "0x8004431a", `A validation error occurred. The value ${value} of '${attribute.logicalName}' on record of type '${entity.logicalName}' is outside the valid range. Accepted Values: ${(attribute.options ?? []).map((o) => o.value).join(",")}`),
  notValidFor: (mode: WriteMode, attribute: AttributeMetadata, entity: EntityMetadata) =>
    new DataverseError(400, "0x80040203", `The attribute '${attribute.logicalName}' of '${entity.logicalName}' cannot be set on ${mode === "create" ? "Create" : "Update"}: the platform sets it (IsValidFor${mode === "create" ? "Create" : "Update"} is false).`),
  required: (attribute: AttributeMetadata, entity: EntityMetadata) =>
    new DataverseError(400, "0x80040203", `The attribute '${attribute.logicalName}' of '${entity.logicalName}' is required (RequiredLevel SystemRequired) and needs a value.`),
  lookupValue: (property: string) => new DataverseError(400, "0x80048d19", `CRM do not support direct update of Entity Reference properties, Use Navigation properties instead. ('${property}')`),
  duplicate: () => new DataverseError(412, "0x80040237", "A record with matching key values already exists."),
  versionMismatch: () => new DataverseError(412, "0x80060882", "The version of the existing record doesn't match the RowVersion property provided."),
  notSupported: (message: string, entity: string) => new DataverseError(400, "0x80040800", `The '${message}' method does not support entities of type '${entity}'.`),
  contentId: (ref: string) => new DataverseError(400, "0x0", `Content-ID Reference: '${ref}' does not exist in the batch context.`),
};

function literalText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** EDM type name of a column in `$metadata` (for conversion errors). */
export function edmType(attribute: AttributeMetadata): string {
  const map: Record<AttributeType, string> = {
    Uniqueidentifier: "Edm.Guid",
    String: "Edm.String",
    Memo: "Edm.String",
    EntityName: "Edm.String",
    Integer: "Edm.Int32",
    Picklist: "Edm.Int32",
    MultiSelectPicklist: "Edm.String",
    State: "Edm.Int32",
    Status: "Edm.Int32",
    BigInt: "Edm.Int64",
    Decimal: "Edm.Decimal",
    Money: "Edm.Decimal",
    Double: "Edm.Double",
    DateTime: attribute.dateTimeBehavior === "DateOnly" ? "Edm.Date" : "Edm.DateTimeOffset",
    Boolean: "Edm.Boolean",
    Lookup: "Edm.Guid",
    Customer: "Edm.Guid",
    Owner: "Edm.Guid",
  };
  return map[attribute.type];
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * A date-and-time literal as Dataverse stores it: UTC, second precision, `Z`.
 * A missing offset is read as UTC; a bare date as midnight UTC.
 */
function normalizeDateTime(text: string): string | undefined {
  const m = DATETIME_RE.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = "00", mi = "00", s = "00", zone = "Z"] = m;
  const offset = zone.toUpperCase() === "Z" ? "Z" : zone.includes(":") ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${offset}`);
  if (Number.isNaN(ms) || !validCalendarDate(Number(y), Number(mo), Number(d)) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function validCalendarDate(y: number, m: number, d: number): boolean {
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/**
 * A multi-select choice value: the comma-separated option values as Dataverse sends them
 * (`"100000000,100000002"`), each an option of the column; stored ascending without duplicates
 * (learn.microsoft.com/power-apps/developer/data-platform/multi-select-picklist).
 * @throws DataverseError 400 `0x80048d19` for a non-string or a non-integer item, `0x8004431a` for an unknown option.
 */
function multiSelectValue(entity: EntityMetadata, attribute: AttributeMetadata, value: unknown): string | null {
  if (typeof value !== "string") throw writeErrors.convert(entity, value, "Edm.String");
  if (value.trim() === "") return null;
  const items = value.split(",").map((item) => item.trim());
  const numbers = new Set<number>();
  for (const item of items) {
    if (!/^-?\d{1,10}$/.test(item)) throw writeErrors.convert(entity, value, "Edm.String");
    const n = Number(item);
    if (attribute.options && !attribute.options.some((o) => o.value === n)) throw writeErrors.outOfRange(attribute, entity, n);
    numbers.add(n);
  }
  return [...numbers].sort((a, b) => a - b).join(",");
}

/**
 * The platform's range of each numeric column type, where the column's metadata sets none
 * (learn.microsoft.com/power-apps/maker/data-platform/types-of-fields: Currency ±922,337,203,685,477,
 * Decimal and Float ±100,000,000,000). Whole numbers are bounded by their Int32/Int64 type checks.
 */
const PLATFORM_RANGE: Partial<Record<AttributeMetadata["type"], readonly [number, number]>> = {
  Money: [-922337203685477, 922337203685477],
  Decimal: [-100000000000, 100000000000],
  Double: [-100000000000, 100000000000],
};

/**
 * Checks a number against the column's `MinValue`/`MaxValue`, or the platform's range of its type.
 * @throws DataverseError 400 `0x80044331` naming the accepted range.
 */
function inRange(entity: EntityMetadata, attribute: AttributeMetadata, value: number): number {
  const platform = PLATFORM_RANGE[attribute.type];
  const min = attribute.minValue ?? platform?.[0];
  const max = attribute.maxValue ?? platform?.[1];
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) throw writeErrors.outsideRange(attribute, entity, value, min ?? -Infinity, max ?? Infinity);
  return value;
}

/**
 * Converts one JSON property value to the SQL value of its column, checking the
 * JSON type, string length, numeric range and choice options.
 * @throws DataverseError 400 (`0x80048d19` type, `0x80044331` length or range, `0x8004431a` option).
 */
export function columnValue(entity: EntityMetadata, attribute: AttributeMetadata, value: unknown): unknown {
  if (value === null) return null;
  const fail = () => writeErrors.convert(entity, value, edmType(attribute));
  switch (attribute.type) {
    case "String":
    case "Memo":
    case "EntityName":
      if (typeof value !== "string") throw fail();
      if (attribute.maxLength !== undefined && value.length > attribute.maxLength) throw writeErrors.tooLong(attribute, entity);
      return value;
    case "Integer":
      if (typeof value !== "number" || !Number.isInteger(value) || value < -2147483648 || value > 2147483647) throw fail();
      return inRange(entity, attribute, value);
    case "Picklist":
    case "State":
    case "Status":
      if (typeof value !== "number" || !Number.isInteger(value) || value < -2147483648 || value > 2147483647) throw fail();
      if (attribute.options && !attribute.options.some((o) => o.value === value)) throw writeErrors.outOfRange(attribute, entity, value);
      return value;
    case "MultiSelectPicklist":
      return multiSelectValue(entity, attribute, value);
    case "BigInt":
      if (typeof value === "number" && Number.isSafeInteger(value)) return inRange(entity, attribute, value);
      // Int64 as a string is accepted while it fits a JavaScript number exactly: orgbox stores and
      // serializes BigInt columns as numbers (see README, Differences from the cloud).
      if (typeof value === "string" && /^[+-]?\d{1,19}$/.test(value) && Number.isSafeInteger(Number(value))) return inRange(entity, attribute, Number(value));
      throw fail();
    case "Decimal":
    case "Money": {
      const n = typeof value === "number" ? value : typeof value === "string" && /^[+-]?\d+(\.\d+)?$/.test(value) ? Number(value) : NaN;
      if (!Number.isFinite(n)) throw fail();
      inRange(entity, attribute, n);
      return attribute.precision !== undefined ? Number(n.toFixed(attribute.precision)) : n;
    }
    case "Double":
      if (typeof value !== "number" || !Number.isFinite(value)) throw fail();
      return inRange(entity, attribute, value);
    case "Boolean":
      if (typeof value !== "boolean") throw fail();
      return value;
    case "DateTime": {
      if (typeof value !== "string") throw fail();
      if (attribute.dateTimeBehavior === "DateOnly") {
        const m = DATE_RE.exec(value);
        if (!m || !validCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]))) throw fail();
        return value;
      }
      const normalized = normalizeDateTime(value);
      if (!normalized) throw fail();
      return normalized;
    }
    case "Uniqueidentifier":
      if (typeof value !== "string" || !isGuid(value)) throw fail();
      return value.toLowerCase();
    case "Lookup":
    case "Customer":
    case "Owner":
      throw fail();
  }
}

const API_PATH_RE = /^\/?(?:.*?\/)?api\/data\/v\d+\.\d+\/(.*)$/;

/**
 * Parses an entity reference URL as clients send it in `@odata.bind` and `@odata.id`:
 * absolute (`https://org/api/data/v9.2/contacts(<id>)`), relative (`/contacts(<id>)`,
 * `contacts(<id>)`) or with an alternate key. `$n` (batch Content-ID) is refused
 * outside a batch.
 * @throws DataverseError 400 for a malformed URL, 404 `0x8006088a` for an unknown entity set.
 */
export function parseReference(md: OrgMetadata, context: EntityMetadata, text: unknown): RecordReference {
  if (typeof text !== "string") throw writeErrors.payload(context, `The value of an entity reference must be a URL string, got '${literalText(text)}'.`);
  if (/^\$\d+$/.test(text.trim())) throw writeErrors.contentId(text.trim());
  let path = text.trim();
  if (/^https?:\/\//i.test(path)) {
    let pathname: string;
    try {
      pathname = new URL(path).pathname;
    } catch {
      throw writeErrors.payload(context, `The entity reference '${text}' is not a valid URL.`);
    }
    const m = API_PATH_RE.exec(pathname);
    if (!m) throw writeErrors.payload(context, `The entity reference '${text}' is not a Web API URL ('…/api/data/v9.2/{set}({id})').`);
    path = m[1] as string;
  } else {
    const m = API_PATH_RE.exec(path);
    path = m ? (m[1] as string) : path.replace(/^\/+/, "");
  }
  const parsed = parseResourcePath(path);
  if (parsed.kind !== "entity" && parsed.kind !== "call") throw writeErrors.payload(context, `The entity reference '${text}' does not address a single record ('/{set}({id})').`);
  const entity = md.entityBySet(parsed.name);
  if (!entity) throw new DataverseError(404, "0x8006088a", `Resource not found for the segment '${parsed.name}'.`);
  const key = parsed.kind === "entity" ? ({ kind: "id", id: parsed.id } as const) : parseEntityKey(parsed.args);
  return { entity, key, text };
}

/**
 * Dataverse also accepts a record body sent as a JSON string holding the record's JSON (`"{\"name\":\"A\"}"`):
 * dataverse-ify's Node `WebApiBase` stringifies create/update payloads twice, on the wire and inside `$batch`
 * parts, and its integration tests (src/webapi/node/__tests__/CRUD/Create.test.ts) run against real Dataverse.
 * Returns the parsed object when `body` is such a string, otherwise `body` unchanged (one level only).
 */
function unwrapStringifiedRecord(body: unknown): unknown {
  if (typeof body !== "string" || !body.trimStart().startsWith("{")) return body;
  checkJsonText(body);
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return body;
  }
}

/** Options for {@link parseRecord}. */
export interface ParseOptions {
  /** Columns the caller fills (the parent lookup of a deep-inserted child): exempt from the required check. */
  implicit?: string[];
  /** The record id from the URL (update/upsert): a body primary key must match it. */
  id?: string;
}

/**
 * Parses and validates a record payload for Create or Update: every property must
 * exist, have the right JSON type, fit its column and be settable in `mode`;
 * `nav@odata.bind` references must name a table the navigation property accepts;
 * on create, SystemRequired columns need a value. Pure: reads no rows.
 * @throws DataverseError with Dataverse's codes (see {@link writeErrors}).
 */
export function parseRecord(md: OrgMetadata, entity: EntityMetadata, payload: unknown, mode: WriteMode, options: ParseOptions = {}): ParsedRecord {
  const body = unwrapStringifiedRecord(payload);
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw writeErrors.payload(entity, "The request body must be a JSON object describing one record.");
  const nav = navigationFor(md);
  const record: ParsedRecord = { entity, values: {}, binds: [], deepSingles: [], deepCollections: [], collectionBinds: [], manyToManyBinds: [] };
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const at = key.indexOf("@");
    if (at === 0) {
      if (key === "@odata.type") checkType(entity, value);
      continue; // @odata.etag, @odata.context, @odata.id: instance annotations, ignored
    }
    if (at > 0) {
      const property = key.slice(0, at);
      const annotation = key.slice(at + 1);
      if (annotation !== "odata.bind") continue; // e.g. FormattedValue echoed back: ignored
      parseBind(md, entity, property, value, mode, record);
      continue;
    }
    // `ownerid` of a systemuser or team is its key, inherited from `principal` (reads return it): it stands for the primary key.
    const attribute = md.attribute(entity, key === "ownerid" && PRINCIPAL_TABLES.has(entity.logicalName) ? entity.primaryIdAttribute : key);
    if (attribute && !isLookupType(attribute.type)) {
      if (attribute.logicalName === entity.primaryIdAttribute) {
        const id = columnValue(entity, attribute, value);
        if (mode === "update" && id !== options.id) throw writeErrors.notValidFor("update", attribute, entity);
        if (id !== null) record.values[attribute.logicalName] = id;
        continue;
      }
      if (mode === "create" ? !attribute.isValidForCreate : !attribute.isValidForUpdate) throw writeErrors.notValidFor(mode, attribute, entity);
      const sqlValue = columnValue(entity, attribute, value);
      if (sqlValue === null && attribute.requiredLevel === "SystemRequired") throw writeErrors.required(attribute, entity);
      record.values[attribute.logicalName] = sqlValue;
      continue;
    }
    if (/^_.+_value$/.test(key)) throw writeErrors.lookupValue(key);
    const single = nav.singleValued(entity, key);
    if (single) {
      // `{"primarycontactid": null}` clears the lookup, as `primarycontactid@odata.bind: null` does (dataverse-ify sends it).
      if (value === null) {
        parseBind(md, entity, key, null, mode, record);
        continue;
      }
      if (typeof value !== "object" || Array.isArray(value)) {
        throw writeErrors.payload(entity, `A node of type '${Array.isArray(value) ? "StartArray" : "PrimitiveValue"}' was read from the JSON reader when trying to read the contents of the navigation property '${key}'; however, a 'StartObject' node was expected. Use '${key}@odata.bind' to set a lookup.`);
      }
      if (mode === "update") throw writeErrors.payload(entity, `Deep update is not supported: the navigation property '${key}' cannot hold a nested record in an Update. Create the related record first and bind it with '${key}@odata.bind'.`);
      checkSettable(single, entity, mode);
      const target = singleTarget(md, entity, single);
      record.deepSingles.push({ navigation: single, record: parseRecord(md, target, value, "create") });
      continue;
    }
    const collection = nav.collectionValued(entity, key);
    if (collection) {
      if (!Array.isArray(value)) throw writeErrors.payload(entity, `The collection-valued navigation property '${key}' needs a JSON array of records.`);
      if (mode === "update") throw writeErrors.payload(entity, `Deep update is not supported: the navigation property '${key}' cannot hold nested records in an Update.`);
      const child = md.entity(collection.referencingEntity) as EntityMetadata;
      record.deepCollections.push({ relationship: collection, records: value.map((v) => parseRecord(md, child, v, "create", { implicit: [collection.referencingAttribute] })) });
      continue;
    }
    const manyToMany = nav.manyToMany(entity, key);
    if (manyToMany) {
      if (!Array.isArray(value)) throw writeErrors.payload(entity, `The collection-valued navigation property '${key}' needs a JSON array of records.`);
      if (mode === "update") throw writeErrors.payload(entity, `Deep update is not supported: the navigation property '${key}' cannot hold nested records in an Update.`);
      const other = md.entity(manyToMany.other.entity) as EntityMetadata;
      record.manyToManyBinds.push({ navigation: manyToMany, references: [], records: value.map((v) => parseRecord(md, other, v, "create")) });
      continue;
    }
    throw writeErrors.propertyNotFound(key, entity);
  }
  if (mode === "create") checkRequired(record, options.implicit ?? []);
  return record;
}

/** Tables whose key is inherited from `principal` and also read as `ownerid`. */
const PRINCIPAL_TABLES = new Set(["systemuser", "team"]);

function checkType(entity: EntityMetadata, value: unknown): void {
  const expected = `Microsoft.Dynamics.CRM.${entity.logicalName}`;
  if (typeof value !== "string" || value.replace(/^#/, "") !== expected) {
    throw writeErrors.payload(entity, `The entity type '${literalText(value)}' is not compatible with the base type '${expected}' of the provided entity set 'Microsoft.Dynamics.CRM.${entity.entitySetName}'.`);
  }
}

function checkSettable(single: SingleNavigation, entity: EntityMetadata, mode: WriteMode): void {
  const attribute = single.attribute;
  if (mode === "create" ? !attribute.isValidForCreate : !attribute.isValidForUpdate) throw writeErrors.notValidFor(mode, attribute, entity);
}

function singleTarget(md: OrgMetadata, entity: EntityMetadata, single: SingleNavigation): EntityMetadata {
  const [first] = single.targets;
  const target = single.targets.length === 1 && first ? md.entity(first) : undefined;
  if (!target) throw writeErrors.payload(entity, `Deep insert through '${single.name}' is not supported: it may point to ${single.targets.join(" or ")}. Bind an existing record with '${single.name}@odata.bind'.`);
  return target;
}

/**
 * The references of `collection_nav@odata.bind: ["/set(id)", …]` (1:N or N:N, Create only), each of
 * table `expected`.
 * @throws DataverseError 400 `0x80048d19` on Update, for a value that is no array, or a reference of another table.
 */
function collectionReferences(md: OrgMetadata, entity: EntityMetadata, property: string, value: unknown, mode: WriteMode, expected: string): RecordReference[] {
  if (mode === "update") throw writeErrors.payload(entity, `Binding the collection-valued navigation property '${property}' is only supported on Create. Use POST ${entity.entitySetName}(<id>)/${property}/$ref to associate records.`);
  if (!Array.isArray(value)) throw writeErrors.payload(entity, `The value of '${property}@odata.bind' must be a JSON array of entity reference URLs.`);
  const references = value.map((v) => parseReference(md, entity, v));
  for (const reference of references) {
    if (reference.entity.logicalName !== expected) {
      throw writeErrors.payload(entity, `A resource of type 'Microsoft.Dynamics.CRM.${reference.entity.logicalName}' cannot be bound to the navigation property '${property}', which expects 'Microsoft.Dynamics.CRM.${expected}'.`);
    }
  }
  return references;
}

function parseBind(md: OrgMetadata, entity: EntityMetadata, property: string, value: unknown, mode: WriteMode, record: ParsedRecord): void {
  const nav = navigationFor(md);
  const single = nav.singleValued(entity, property);
  if (single) {
    checkSettable(single, entity, mode);
    if (value === null) {
      if (single.attribute.requiredLevel === "SystemRequired") throw writeErrors.required(single.attribute, entity);
      record.binds.push({ navigation: single, reference: null });
      return;
    }
    const reference = parseReference(md, entity, value);
    if (!single.targets.includes(reference.entity.logicalName)) {
      throw writeErrors.payload(
        entity,
        `A resource of type 'Microsoft.Dynamics.CRM.${reference.entity.logicalName}' cannot be bound to the navigation property '${property}', which expects ${single.targets.map((t) => `'Microsoft.Dynamics.CRM.${t}'`).join(" or ")}.`,
      );
    }
    record.binds.push({ navigation: single, reference });
    return;
  }
  const collection = nav.collectionValued(entity, property);
  if (collection) {
    record.collectionBinds.push({ relationship: collection, references: collectionReferences(md, entity, property, value, mode, collection.referencingEntity) });
    return;
  }
  const manyToMany = nav.manyToMany(entity, property);
  if (manyToMany) {
    record.manyToManyBinds.push({ navigation: manyToMany, references: collectionReferences(md, entity, property, value, mode, manyToMany.other.entity) });
    return;
  }
  throw writeErrors.payload(
    entity,
    `An undeclared property '${property}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.`,
  );
}

/** SystemRequired columns a new record must get from the payload (the platform fills keys, owner and audit columns). */
function checkRequired(record: ParsedRecord, implicit: string[]): void {
  const { entity } = record;
  for (const attribute of entity.attributes) {
    if (attribute.requiredLevel !== "SystemRequired" || !attribute.isValidForCreate) continue;
    if (attribute.logicalName === entity.primaryIdAttribute || attribute.type === "Owner" || implicit.includes(attribute.logicalName)) continue;
    const name = attribute.logicalName;
    const given = (record.values[name] !== undefined && record.values[name] !== null) || record.binds.some((b) => b.navigation.attribute === attribute && b.reference) || record.deepSingles.some((d) => d.navigation.attribute === attribute);
    if (!given) throw writeErrors.required(attribute, entity);
  }
}
