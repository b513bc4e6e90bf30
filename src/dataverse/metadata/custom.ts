import { toDataverseError, type DataverseError } from "../errors.ts";
import { OrgModelError } from "../model-error.ts";
import { attr, stateStatus, table } from "./standard.ts";
import type { AttributeMetadata, AttributeType, EntityMetadata, GlobalOptionSetMetadata, OptionMetadata, OwnershipType } from "./types.ts";

/**
 * Custom tables and columns from Web API definition bodies: `POST EntityDefinitions` with an
 * `EntityMetadata` and `POST EntityDefinitions(…)/Attributes` with a derived `AttributeMetadata`
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api,
 * …/create-update-column-definitions-using-web-api).
 */

/**
 * Refusals of definition changes by the org model (domain errors; the service throws these). Codes: `0x80040217` ObjectDoesNotExist (the code of Dataverse's
 * `CrmObjectNotFoundException` for a missing table), `0x80044331` for invalid definitions and
 * `0x80040237` DuplicateRecord for names already taken; the exact codes Dataverse uses for the
 * name rules are not documented, these are orgbox's choice.
 */
export const definitionErrors = {
  entityNotFound: (name: string, id = "00000000-0000-0000-0000-000000000000") => new OrgModelError(`Could not find an entity with name ${name} and id ${id}.`, 404),
  attributeNotFound: (entity: string, name: string) => new OrgModelError(`Could not find an attribute with name ${name} on entity ${entity}.`, 404),
  optionSetNotFound: (key: string) => new OrgModelError(`Could not find optionset with key ${key}.`, 404),
  keyNotFound: (entity: string, name: string) => new OrgModelError(`Could not find an entity key with name ${name} on entity ${entity}.`, 404),
  relationshipNotFound: (key: string) => new OrgModelError(`Could not find a relationship with ${key}.`, 404),
  invalid: (message: string) => new OrgModelError(message, 400, "invalidDefinition"),
  duplicate: (message: string) => new OrgModelError(message, 400, "duplicate"),
  /** A definition Dataverse never deletes (standard tables and columns). */
  notDeletable: (message: string) => new OrgModelError(message, 400, "refused"),
  /** CannotDeleteDueToDependency: other components still refer to it (code not confirmed against the service). */
  dependency: (component: string, dependents: string[]) =>
    new OrgModelError(`The ${component} component cannot be deleted because it is referenced by ${dependents.length} other components (${dependents.join(", ")}). Delete them first.`, 400, "dependency"),
};

/** {@link definitionErrors} as the Web API errors they render as (the one table of `errors.ts`). */
type WireErrors<T> = { readonly [K in keyof T]: T[K] extends (...args: infer A) => OrgModelError ? (...args: A) => DataverseError : never };

/**
 * The same errors as Web API errors, thrown by the definition parsers (wire bodies of the Web API and
 * of environment files): each is its {@link definitionErrors} entry translated by {@link toDataverseError}.
 */
export const metadataErrors = Object.fromEntries(
  Object.entries(definitionErrors).map(([name, make]) => [name, (...args: never[]) => toDataverseError((make as (...a: never[]) => OrgModelError)(...args)) as DataverseError]),
) as unknown as WireErrors<typeof definitionErrors>;

/**
 * Publisher-prefixed names, as the maker portal and the SDK require for custom tables and
 * columns: a customization prefix of 2–8 letters or digits starting with a letter (`new`,
 * `cr123`), an underscore, then letters, digits or underscores.
 * (learn.microsoft.com/power-platform/alm/change-solution-publisher-prefix).
 */
const PREFIXED_RE = /^([A-Za-z][A-Za-z0-9]{1,7})_([A-Za-z0-9_]+)$/;
const MAX_NAME = 50;

/**
 * Checks a custom table, column or relationship schema name and returns its logical name (lower case).
 * @throws DataverseError 400 `0x80044331` for a missing, unprefixed or malformed name.
 */
export function customLogicalName(schemaName: unknown, kind: "Entity" | "Attribute" | "Key" | "Relationship" | "OptionSet"): string {
  if (typeof schemaName !== "string" || schemaName.length === 0) throw metadataErrors.invalid(`The SchemaName of the ${kind} is required.`);
  const match = PREFIXED_RE.exec(schemaName);
  if (!match || (match[1] as string).toLowerCase().startsWith("mscrm")) {
    throw metadataErrors.invalid(
      `The schema name '${schemaName}' of the ${kind} is not valid: a custom name must start with a publisher customization prefix (2–8 letters or digits, starting with a letter) and an underscore, for example 'new_${schemaName.replace(/^[^_]*_/, "") || "Name"}'.`,
    );
  }
  if (schemaName.length > MAX_NAME) throw metadataErrors.invalid(`The schema name '${schemaName}' of the ${kind} is longer than ${MAX_NAME} characters.`);
  return schemaName.toLowerCase();
}

/**
 * The English plural Dataverse derives entity set names with: `new_project` → `new_projects`,
 * `new_category` → `new_categories`, `new_box` → `new_boxes`.
 */
export function pluralize(name: string): string {
  if (/[^aeiou]y$/.test(name)) return `${name.slice(0, -1)}ies`;
  if (/(s|x|z|ch|sh)$/.test(name)) return `${name}es`;
  return `${name}s`;
}

/** True for a JSON object (not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The text of a `Label` body: the 1033 localized label, else the first one. */
export function labelText(value: unknown): string | undefined {
  if (!isObject(value)) return undefined;
  const labels = Array.isArray(value.LocalizedLabels) ? value.LocalizedLabels.filter(isObject) : [];
  const chosen = labels.find((l) => l.LanguageCode === 1033) ?? labels[0] ?? (isObject(value.UserLocalizedLabel) ? value.UserLocalizedLabel : undefined);
  return typeof chosen?.Label === "string" ? chosen.Label : undefined;
}

/** `Microsoft.Dynamics.CRM.StringAttributeMetadata`, `#Microsoft.Dynamics.CRM.X`, `X` → `X`. */
export function odataTypeName(value: unknown): string | undefined {
  return typeof value === "string" ? value.replace(/^#/, "").replace(/^Microsoft\.Dynamics\.CRM\./, "") : undefined;
}

/** The column types that can be created with `POST …/Attributes`, by derived metadata type. */
const CREATABLE: Record<string, AttributeType> = {
  StringAttributeMetadata: "String",
  MemoAttributeMetadata: "Memo",
  IntegerAttributeMetadata: "Integer",
  BigIntAttributeMetadata: "BigInt",
  DecimalAttributeMetadata: "Decimal",
  DoubleAttributeMetadata: "Double",
  MoneyAttributeMetadata: "Money",
  DateTimeAttributeMetadata: "DateTime",
  BooleanAttributeMetadata: "Boolean",
  PicklistAttributeMetadata: "Picklist",
  MultiSelectPicklistAttributeMetadata: "MultiSelectPicklist",
};

const REQUIRED_LEVELS = new Set(["None", "ApplicationRequired", "Recommended", "SystemRequired"]);

function numberOr(value: unknown, fallback: number | undefined, name: string): number | undefined {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value)) throw metadataErrors.invalid(`${name} must be a number.`);
  return value;
}

/** Finds a global option set by a reference: `/GlobalOptionSetDefinitions(<MetadataId>)`, `…(Name='x')` or a bare name. */
export type GlobalOptionSetResolver = (reference: string) => GlobalOptionSetMetadata | undefined;

function options(body: Record<string, unknown>, schemaName: string, attribute: AttributeMetadata, resolve: GlobalOptionSetResolver | undefined): OptionMetadata[] {
  const set = body.OptionSet;
  const bind = body["GlobalOptionSet@odata.bind"];
  const globalName = typeof bind === "string" ? bind : isObject(set) && set.IsGlobal === true && typeof set.Name === "string" ? set.Name : undefined;
  if (globalName !== undefined) {
    const found = resolve?.(globalName);
    if (!found) throw metadataErrors.invalid(`The choice column '${schemaName}' refers to the global option set '${globalName}', which does not exist. Create it first with POST GlobalOptionSetDefinitions.`);
    attribute.globalOptionSet = found.name;
    return found.options.map((o: OptionMetadata) => ({ ...o }));
  }
  if (!isObject(set)) throw metadataErrors.invalid(`The choice column '${schemaName}' needs an OptionSet with Options, or a GlobalOptionSet@odata.bind to a global option set.`);
  if (set.IsGlobal === true) throw metadataErrors.invalid(`The choice column '${schemaName}' refers to a global option set without naming it: set OptionSet.Name or GlobalOptionSet@odata.bind.`);
  return parseOptions(set.Options, schemaName);
}

/**
 * The `Options` of an `OptionSetMetadata` body: integer `Value`s, each once, labels from `Label`.
 * @throws DataverseError 400 for a missing or repeated value, or no options.
 */
export function parseOptions(list: unknown, schemaName: string): OptionMetadata[] {
  const out: OptionMetadata[] = [];
  if (!Array.isArray(list)) list = [];
  for (const [i, o] of (list as unknown[]).entries()) {
    if (!isObject(o) || typeof o.Value !== "number" || !Number.isInteger(o.Value)) throw metadataErrors.invalid(`Option ${i + 1} of '${schemaName}' needs an integer Value.`);
    if (out.some((e) => e.value === o.Value)) throw metadataErrors.duplicate(`The option value ${o.Value} appears twice in '${schemaName}'.`);
    out.push({ value: o.Value, label: labelText(o.Label) ?? String(o.Value) });
  }
  if (out.length === 0) throw metadataErrors.invalid(`The OptionSet of '${schemaName}' has no Options.`);
  return out;
}

function booleanOptions(body: Record<string, unknown>): OptionMetadata[] {
  const set = isObject(body.OptionSet) ? body.OptionSet : {};
  const text = (o: unknown, fallback: string) => (isObject(o) ? labelText(o.Label) : undefined) ?? fallback;
  return [
    { value: 0, label: text(set.FalseOption, "No") },
    { value: 1, label: text(set.TrueOption, "Yes") },
  ];
}

/**
 * A custom column of `type` with the properties every `AttributeMetadata` body may carry:
 * `DisplayName` (the schema name when absent), `Description` and `RequiredLevel` (`ApplicationRequired`
 * and `SystemRequired` both become ApplicationRequired: a custom column is never SystemRequired).
 * @throws DataverseError 400 `0x80044331` for an unknown RequiredLevel.
 */
export function customAttribute(body: Record<string, unknown>, logicalName: string, type: AttributeType, schemaName: string): AttributeMetadata {
  const requiredLevel = isObject(body.RequiredLevel) ? body.RequiredLevel.Value : undefined;
  if (requiredLevel !== undefined && (typeof requiredLevel !== "string" || !REQUIRED_LEVELS.has(requiredLevel))) throw metadataErrors.invalid(`RequiredLevel '${String(requiredLevel)}' is not one of ${[...REQUIRED_LEVELS].join(", ")}.`);
  const description = labelText(body.Description);
  return attr(logicalName, type, labelText(body.DisplayName) ?? schemaName, {
    schemaName,
    requiredLevel: requiredLevel === "ApplicationRequired" || requiredLevel === "SystemRequired" ? "ApplicationRequired" : "None",
    isCustomAttribute: true,
    ...(description !== undefined ? { description } : {}),
  });
}

/**
 * A custom column from an `AttributeMetadata` body. The derived type comes from `@odata.type`
 * (required, as in Dataverse) or `AttributeType`; lookups are created with their relationship
 * (`POST RelationshipDefinitions`, see relationships.ts), as in Dataverse, and are refused here by name.
 * @throws DataverseError 400 for an unknown type, a bad name or an invalid property.
 */
export function parseAttributeDefinition(body: unknown, resolveGlobal?: GlobalOptionSetResolver): AttributeMetadata {
  if (!isObject(body)) throw metadataErrors.invalid("The request body must be an AttributeMetadata object.");
  const typeName = odataTypeName(body["@odata.type"]);
  if (typeName === "LookupAttributeMetadata" || body.AttributeType === "Lookup") {
    throw metadataErrors.invalid("A lookup column is created with its one-to-many relationship: POST RelationshipDefinitions with a OneToManyRelationshipMetadata whose Lookup is the column.");
  }
  const type = typeName ? CREATABLE[typeName] : undefined;
  if (!type) {
    throw metadataErrors.invalid(`The attribute type '${typeName ?? String(body.AttributeType ?? "")}' is not supported: set @odata.type to one of ${Object.keys(CREATABLE).map((t) => `Microsoft.Dynamics.CRM.${t}`).join(", ")}.`);
  }
  if (typeof body.AttributeType === "string" && body.AttributeType !== type) throw metadataErrors.invalid(`AttributeType '${body.AttributeType}' does not match @odata.type '${typeName}'.`);
  const schemaName = body.SchemaName as string;
  const logicalName = customLogicalName(schemaName, "Attribute");
  const attribute = customAttribute(body, logicalName, type, schemaName);
  switch (type) {
    case "String":
    case "Memo": {
      const max = numberOr(body.MaxLength, type === "String" ? 100 : 2000, "MaxLength") as number;
      const limit = type === "String" ? 4000 : 1048576;
      if (!Number.isInteger(max) || max < 1 || max > limit) throw metadataErrors.invalid(`MaxLength must be an integer from 1 to ${limit}.`);
      attribute.maxLength = max;
      break;
    }
    case "Integer":
    case "Decimal":
    case "Double":
    case "Money": {
      const min = numberOr(body.MinValue, undefined, "MinValue");
      const max = numberOr(body.MaxValue, undefined, "MaxValue");
      if (min !== undefined && max !== undefined && min > max) throw metadataErrors.invalid("MinValue must not be greater than MaxValue.");
      if (min !== undefined) attribute.minValue = min;
      if (max !== undefined) attribute.maxValue = max;
      if (type !== "Integer") {
        const precision = numberOr(body.Precision, 2, "Precision") as number;
        if (!Number.isInteger(precision) || precision < 0 || precision > 10) throw metadataErrors.invalid("Precision must be an integer from 0 to 10.");
        attribute.precision = precision;
      }
      break;
    }
    case "DateTime": {
      const behavior = isObject(body.DateTimeBehavior) ? body.DateTimeBehavior.Value : undefined;
      const format = body.Format;
      if (behavior !== undefined && behavior !== "UserLocal" && behavior !== "DateOnly" && behavior !== "TimeZoneIndependent") throw metadataErrors.invalid(`DateTimeBehavior '${String(behavior)}' is not UserLocal, DateOnly or TimeZoneIndependent.`);
      attribute.dateTimeBehavior = (behavior as AttributeMetadata["dateTimeBehavior"]) ?? (format === "DateOnly" ? "DateOnly" : "UserLocal");
      break;
    }
    case "Boolean":
      attribute.options = booleanOptions(body);
      break;
    case "Picklist":
    case "MultiSelectPicklist":
      attribute.options = options(body, schemaName, attribute, resolveGlobal);
      break;
    default:
      break;
  }
  return attribute;
}

/**
 * The columns adding `attribute` to `entity` creates: the column itself and, for a money column on a
 * table without a currency, `transactioncurrencyid` (Dataverse adds it with the first money column).
 */
export function columnsAdded(entity: EntityMetadata, attribute: AttributeMetadata): AttributeMetadata[] {
  const added = [attribute];
  if (attribute.type === "Money" && !entity.attributes.some((a) => a.logicalName === "transactioncurrencyid")) {
    added.push(attr("transactioncurrencyid", "Lookup", "Currency", { targets: ["transactioncurrency"], schemaName: "TransactionCurrencyId" }));
  }
  return added;
}

const OWNERSHIP = new Set<OwnershipType>(["UserOwned", "OrganizationOwned"]);

/**
 * A custom table from an `EntityMetadata` body: `SchemaName` (prefixed), `DisplayName`,
 * `DisplayCollectionName`, `OwnershipType` (`UserOwned` or `OrganizationOwned`), `HasActivities`,
 * `HasNotes`, optional `EntitySetName`, and `Attributes` holding exactly the primary name column
 * (a `StringAttributeMetadata` with `IsPrimaryName: true`). The platform columns are added as
 * Dataverse adds them: `{name}id`, `statecode`/`statuscode`, the audit columns and, for user-owned
 * tables, the owner columns.
 * @param objectTypeCode the code the org assigns (custom tables start at 10000).
 * @throws DataverseError 400 for invalid bodies.
 */
export function parseEntityDefinition(body: unknown, objectTypeCode: number): EntityMetadata {
  if (!isObject(body)) throw metadataErrors.invalid("The request body must be an EntityMetadata object.");
  const schemaName = body.SchemaName as string;
  const logicalName = customLogicalName(schemaName, "Entity");
  const ownership = (body.OwnershipType ?? "UserOwned") as OwnershipType;
  if (!OWNERSHIP.has(ownership)) throw metadataErrors.invalid(`OwnershipType '${String(body.OwnershipType)}' is not supported: use UserOwned or OrganizationOwned.`);
  if (body.IsActivity === true) throw metadataErrors.invalid("Activity tables (IsActivity: true) are not supported by orgbox.");
  const displayName = labelText(body.DisplayName);
  if (!displayName) throw metadataErrors.invalid(`The DisplayName of '${schemaName}' is required.`);
  const attributes = Array.isArray(body.Attributes) ? body.Attributes : [];
  const primaries = attributes.filter((a) => isObject(a) && a.IsPrimaryName === true);
  if (primaries.length !== 1 || attributes.length !== 1) {
    throw metadataErrors.invalid("Attributes must hold exactly one column, the primary name: a StringAttributeMetadata with IsPrimaryName set to true. Add other columns with POST EntityDefinitions(…)/Attributes.");
  }
  const primary = parseAttributeDefinition(primaries[0]);
  if (primary.type !== "String") throw metadataErrors.invalid("The primary name column must be a StringAttributeMetadata.");
  primary.requiredLevel = "ApplicationRequired";
  const entitySetName = body.EntitySetName === undefined ? pluralize(logicalName) : body.EntitySetName;
  if (typeof entitySetName !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(entitySetName)) throw metadataErrors.invalid(`EntitySetName '${String(entitySetName)}' is not a valid name.`);
  const description = labelText(body.Description);
  const entity = table({
    logicalName,
    schemaName,
    entitySetName,
    displayName,
    displayCollectionName: labelText(body.DisplayCollectionName) ?? pluralize(displayName),
    primaryNameAttribute: primary.logicalName,
    ownershipType: ownership,
    objectTypeCode,
    columns: [primary, ...stateStatus([[0, "Active"], [1, "Inactive"]], [[1, "Active"], [2, "Inactive"]])],
  });
  const pk = entity.attributes.find((a) => a.logicalName === entity.primaryIdAttribute);
  if (pk) pk.schemaName = `${schemaName}Id`;
  return {
    ...entity,
    isCustomEntity: true,
    hasActivities: body.HasActivities === true,
    hasNotes: body.HasNotes === true,
    ...(description !== undefined ? { description } : {}),
  };
}
