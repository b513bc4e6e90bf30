import { customLogicalName, definitionErrors, labelText, metadataErrors } from "./custom.ts";
import type { AttributeMetadata, AttributeType, EntityKeyMetadata, EntityMetadata } from "./types.ts";
import { label, metadataId, type WireObject } from "./wire.ts";

/** The errors {@link validateKey} raises. */
type KeyErrors = { invalid(message: string): Error; duplicate(message: string): Error };

/**
 * Alternate keys (`EntityKeyMetadata`): definitions from `POST EntityDefinitions(…)/Keys` bodies and
 * their wire form (learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity,
 * …/webapi/reference/entitykeymetadata).
 */

/**
 * Column types a key may include: "Decimal, Whole Number, Single line of text, Date Time, Lookup,
 * Choice" (learn.microsoft.com/power-apps/maker/data-platform/define-alternate-keys-portal).
 */
const KEY_TYPES: ReadonlySet<AttributeType> = new Set(["String", "Integer", "Decimal", "DateTime", "Lookup", "Customer", "Owner", "Picklist"]);

/** Dataverse's limits: at most 16 columns in a key and 10 keys on a table (define-alternate-keys-entity). */
const MAX_KEY_ATTRIBUTES = 16;
const MAX_KEYS_PER_TABLE = 10;

/** The `MetadataId` of an alternate key: stable across orgs and runs, like the other definitions. */
export function keyMetadataId(entity: EntityMetadata, key: EntityKeyMetadata): string {
  return metadataId("key", `${entity.logicalName}.${key.logicalName}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks a key definition against its table: the columns exist, have a key-capable type, appear
 * once, and no other key of the table has the same name or the same set of columns.
 * @param errors how to report: the org model's {@link definitionErrors} (default), or the Web API's
 *   {@link metadataErrors} (the definition parser).
 * @throws OrgModelError (`invalidDefinition`, `duplicate` for a taken name or column set), or with
 *   `metadataErrors` DataverseError 400 `0x80044331` / `0x80040237`.
 */
export function validateKey(entity: EntityMetadata, key: EntityKeyMetadata, errors: KeyErrors = definitionErrors): void {
  const columns = new Map<string, AttributeMetadata>(entity.attributes.map((a) => [a.logicalName, a]));
  if (key.keyAttributes.length === 0) throw errors.invalid(`The key '${key.logicalName}' needs at least one column in KeyAttributes.`);
  if (key.keyAttributes.length > MAX_KEY_ATTRIBUTES) throw errors.invalid(`The key '${key.logicalName}' has ${key.keyAttributes.length} columns; a key may have at most ${MAX_KEY_ATTRIBUTES}.`);
  const seen = new Set<string>();
  for (const name of key.keyAttributes) {
    const attribute = columns.get(name);
    if (!attribute) throw errors.invalid(`The key '${key.logicalName}' names the column '${name}', which table '${entity.logicalName}' does not have.`);
    if (!KEY_TYPES.has(attribute.type) || attribute.isPrimaryId === true) {
      throw errors.invalid(`The column '${name}' (${attribute.type}) cannot be part of an alternate key: use Decimal, Whole Number, Single line of text, Date Time, Lookup or Choice columns.`);
    }
    if (seen.has(name)) throw errors.invalid(`The key '${key.logicalName}' names the column '${name}' twice.`);
    seen.add(name);
  }
  const existing = entity.keys ?? [];
  if (existing.some((k) => k.logicalName === key.logicalName)) throw errors.duplicate(`An entity key with the name '${key.logicalName}' already exists on table '${entity.logicalName}'. Specify a unique name.`);
  const sorted = [...key.keyAttributes].sort().join(",");
  const same = existing.find((k) => [...k.keyAttributes].sort().join(",") === sorted);
  if (same) throw errors.duplicate(`The key '${same.logicalName}' of table '${entity.logicalName}' already has the columns (${key.keyAttributes.join(", ")}).`);
  if (existing.length >= MAX_KEYS_PER_TABLE) throw errors.invalid(`Table '${entity.logicalName}' already has ${MAX_KEYS_PER_TABLE} alternate keys, the most a table may have.`);
}

/**
 * An alternate key from an `EntityKeyMetadata` body: `SchemaName` (publisher-prefixed, as every
 * custom component), `DisplayName` (a Label; defaults to the schema name) and `KeyAttributes`
 * (column logical names). Checked against `entity` with {@link validateKey}.
 * @throws DataverseError 400 for an invalid body or key.
 */
export function parseKeyDefinition(body: unknown, entity: EntityMetadata): EntityKeyMetadata {
  if (!isObject(body)) throw metadataErrors.invalid("The request body must be an EntityKeyMetadata object.");
  const schemaName = body.SchemaName;
  const logicalName = customLogicalName(schemaName, "Key");
  const attributes = body.KeyAttributes;
  if (!Array.isArray(attributes) || attributes.some((a) => typeof a !== "string")) throw metadataErrors.invalid("KeyAttributes must be an array of column logical names.");
  const key: EntityKeyMetadata = {
    logicalName,
    schemaName: schemaName as string,
    displayName: labelText(body.DisplayName) ?? (schemaName as string),
    keyAttributes: (attributes as string[]).map((a) => a.toLowerCase()),
  };
  validateKey(entity, key, metadataErrors);
  return key;
}

/**
 * An alternate key as `EntityKeyMetadata`. orgbox builds the key's unique index synchronously, so
 * `EntityKeyIndexStatus` is always `Active` and `AsyncJob` null (Dataverse builds it in a system job:
 * `Pending`, then `Active` or `Failed`).
 */
export function keyToWire(entity: EntityMetadata, key: EntityKeyMetadata): WireObject {
  const managed = !entity.isCustomEntity && !key.logicalName.includes("_");
  const schemaName = key.schemaName ?? key.logicalName;
  return {
    MetadataId: keyMetadataId(entity, key),
    LogicalName: key.logicalName,
    SchemaName: schemaName,
    DisplayName: label(key.displayName ?? schemaName, `${entity.logicalName}.${key.logicalName}.key`, managed),
    EntityLogicalName: entity.logicalName,
    KeyAttributes: [...key.keyAttributes],
    EntityKeyIndexStatus: "Active",
    AsyncJob: null,
    IsManaged: managed,
    IsCustomizable: { Value: true, CanBeChanged: !managed, ManagedPropertyLogicalName: "iscustomizable" },
    IntroducedVersion: "1.0",
    IsSecondaryKey: false,
    IsExportKey: false,
    IsSynchronous: false,
    HasChanged: null,
  };
}

const SAMPLE: EntityMetadata = { logicalName: "x", schemaName: "X", entitySetName: "xs", displayName: "X", displayCollectionName: "Xs", primaryIdAttribute: "xid", primaryNameAttribute: "name", ownershipType: "None", objectTypeCode: 0, isCustomEntity: true, isIntersect: false, attributes: [] };

/** The properties `$select` may name on `EntityKeyMetadata`. */
export const KEY_PROPERTIES: ReadonlySet<string> = new Set(Object.keys(keyToWire(SAMPLE, { logicalName: "x", keyAttributes: [] })));
