import { columnsAdded, DataverseError, OrgMetadata, parseAttributeDefinition, parseEntityDefinition, parseGlobalOptionSet, parseKeyDefinition, parseManyToManyDefinition, parseOneToManyDefinition, pluralize, resolveGlobalOptionSet, STANDARD_MANY_TO_MANY, STANDARD_TABLES, type AttributeMetadata, type EntityKeyMetadata, type EntityMetadata, type GlobalOptionSetMetadata, type OneToManyRelationshipMetadata, type RelationshipMetadata } from "../dataverse/index.ts";
import { COLUMN_TYPES, type ColumnInput, type KeyInput, type ManyToManyInput, type OptionSetInput, type TableInput } from "./schema.ts";

/**
 * Table definitions of environment files (`orgs[].tables`), turned into the very Web API definition
 * bodies `POST EntityDefinitions`, `…/Attributes` and `…/Keys` take, and parsed by the same code, so a
 * file is held to the rules the Web API enforces; and the reverse, for `orgbox export`.
 */

/** Where a problem is, inside the file (`orgs[0].tables.new_project.columns.new_code`). */
type Where = (string | number)[];

/** An org's tables after its file's definitions, ready to check data rows against and to apply. */
export interface ResolvedTables {
  /** Custom tables, complete with their columns and keys, in file order. */
  custom: EntityMetadata[];
  /** Columns and keys the file adds to standard tables. */
  extensions: { table: string; columns: AttributeMetadata[]; keys: EntityKeyMetadata[] }[];
  /**
   * `POST RelationshipDefinitions` bodies (`OneToManyRelationshipMetadata`) of the file's Lookup
   * columns, in file order: applied after the tables, each adding its lookup column.
   */
  relationships: Record<string, unknown>[];
  /** `ManyToManyRelationshipMetadata` bodies of `orgs[].manyToMany`, in file order (after the lookups). */
  manyToMany: Record<string, unknown>[];
  /** The file's relationships as parsed (one-to-many of Lookup columns, then N:N), by lower-case schema name. */
  parsed: Map<string, RelationshipMetadata>;
  /** Every table of the org once the file is applied (standard, extended and custom, with lookups), by logical name. */
  byName: Map<string, EntityMetadata>;
}

const STANDARD = new Map(STANDARD_TABLES.map((t) => [t.logicalName, t]));
/** Keys of a table definition that only custom tables take. */
const CUSTOM_ONLY = ["schemaName", "displayName", "displayCollectionName", "description", "entitySetName", "ownership", "primaryName", "hasNotes", "hasActivities"] as const;
/** What a Lookup column definition may not say (its type comes from its target). */
const NOT_FOR_LOOKUPS = ["maxLength", "minValue", "maxValue", "precision", "dateTimeBehavior", "options", "globalOptionSet"] as const;
/** Objects type codes of custom tables start here (Dataverse's first custom object type code). */
const FIRST_CUSTOM_CODE = 10000;

const label = (text: string | undefined) => (text === undefined ? undefined : { LocalizedLabels: [{ Label: text, LanguageCode: 1033 }] });

/** The `AttributeMetadata` body of a column definition. */
function columnBody(logicalName: string, column: ColumnInput): Record<string, unknown> {
  const schemaName = column.schemaName ?? logicalName;
  const body: Record<string, unknown> = {
    "@odata.type": `Microsoft.Dynamics.CRM.${column.type}AttributeMetadata`,
    SchemaName: schemaName,
    DisplayName: label(column.displayName ?? schemaName),
    RequiredLevel: { Value: column.required === true ? "ApplicationRequired" : "None" },
  };
  if (column.description !== undefined) body.Description = label(column.description);
  if (column.maxLength !== undefined) body.MaxLength = column.maxLength;
  if (column.minValue !== undefined) body.MinValue = column.minValue;
  if (column.maxValue !== undefined) body.MaxValue = column.maxValue;
  if (column.precision !== undefined) body.Precision = column.precision;
  if (column.dateTimeBehavior !== undefined) body.DateTimeBehavior = { Value: column.dateTimeBehavior };
  const options = Object.entries(column.options ?? {}).map(([value, text]) => ({ Value: Number(value), Label: label(text) }));
  if (column.globalOptionSet !== undefined) {
    body["GlobalOptionSet@odata.bind"] = `/GlobalOptionSetDefinitions(Name='${column.globalOptionSet.replace(/'/g, "''")}')`;
  } else if (column.type === "Boolean") {
    body.OptionSet = { FalseOption: { Label: label(column.options?.["0"] ?? "No") }, TrueOption: { Label: label(column.options?.["1"] ?? "Yes") } };
  } else if (column.type === "Picklist" || column.type === "MultiSelectPicklist") {
    body.OptionSet = { IsGlobal: false, Options: options };
  }
  return body;
}

/** The `EntityKeyMetadata` body of a key definition. */
function keyBody(logicalName: string, key: KeyInput): Record<string, unknown> {
  const spec = Array.isArray(key) ? { columns: key } : key;
  return { SchemaName: spec.schemaName ?? logicalName, DisplayName: label(spec.displayName ?? spec.schemaName ?? logicalName), KeyAttributes: spec.columns };
}

/**
 * Resolves `orgs[].tables`: custom tables (publisher-prefixed names) and additions to standard tables.
 * Problems are reported through `fail` with their path and the Web API's message; a table with a
 * problem is left out.
 */
export function resolveTables(spec: Record<string, TableInput> | undefined, where: Where, fail: (where: Where, problem: string) => void, optionSets: readonly GlobalOptionSetMetadata[] = []): ResolvedTables {
  const sharedChoices = new OrgMetadata([], [], optionSets);
  const byName = new Map(STANDARD);
  const sets = new Map(STANDARD_TABLES.map((t) => [t.entitySetName, t.logicalName]));
  const resolved: ResolvedTables = { custom: [], extensions: [], relationships: [], manyToMany: [], parsed: new Map(), byName };
  /** Lookup columns, resolved once every table is known (a lookup may point to a table defined after it). */
  const lookups: { table: string; name: string; input: ColumnInput; at: Where }[] = [];
  /** Runs a Web API parse step; a DataverseError becomes a reported problem. */
  const attempt = <T>(at: Where, step: () => T): T | undefined => {
    try {
      return step();
    } catch (error) {
      if (error instanceof DataverseError) fail(at, error.message);
      else throw error;
      return undefined;
    }
  };
  const column = (entity: EntityMetadata, name: string, input: ColumnInput, at: Where): AttributeMetadata | undefined => {
    if (input.target !== undefined || input.relationship !== undefined) {
      fail([...at, input.target !== undefined ? "target" : "relationship"], `only Lookup columns take a target and a relationship (${name} is ${input.type})`);
      return undefined;
    }
    if (input.globalOptionSet !== undefined && (input.options !== undefined || !["Picklist", "MultiSelectPicklist"].includes(input.type))) {
      fail([...at, "globalOptionSet"], `only Picklist and MultiSelectPicklist columns take a globalOptionSet, and never with options (${name} is ${input.type})`);
      return undefined;
    }
    if (input.options !== undefined && !["Picklist", "MultiSelectPicklist", "Boolean"].includes(input.type)) {
      fail([...at, "options"], `only Picklist, MultiSelectPicklist and Boolean columns take options (${name} is ${input.type})`);
      return undefined;
    }
    if (input.type === "Boolean" && Object.keys(input.options ?? {}).some((v) => v !== "0" && v !== "1")) {
      fail([...at, "options"], "a Boolean column's options are the labels of 0 and 1");
      return undefined;
    }
    const attribute = attempt(at, () => parseAttributeDefinition(columnBody(name, input), (ref) => resolveGlobalOptionSet(sharedChoices, ref)));
    if (!attribute) return undefined;
    if (attribute.logicalName !== name) {
      fail([...at, "schemaName"], `the schema name '${attribute.schemaName}' does not match the column's logical name '${name}' (its lower case must be the key)`);
      return undefined;
    }
    if (entity.attributes.some((a) => a.logicalName === name)) {
      fail(at, `table ${entity.logicalName} already has a column '${name}'`);
      return undefined;
    }
    return attribute;
  };
  const withColumnsAndKeys = (entity: EntityMetadata, input: TableInput, at: Where, skip?: string): { entity: EntityMetadata; columns: AttributeMetadata[]; keys: EntityKeyMetadata[] } => {
    let current = entity;
    const columns: AttributeMetadata[] = [];
    for (const [name, c] of Object.entries(input.columns ?? {})) {
      if (name === skip) continue;
      if (c.type === "Lookup") {
        lookups.push({ table: entity.logicalName, name, input: c, at: [...at, "columns", name] });
        continue;
      }
      const attribute = column(current, name, c, [...at, "columns", name]);
      if (!attribute) continue;
      columns.push(attribute);
      current = { ...current, attributes: [...current.attributes, ...columnsAdded(current, attribute)] };
    }
    const keys: EntityKeyMetadata[] = [];
    for (const [name, k] of Object.entries(input.keys ?? {})) {
      const key = attempt([...at, "keys", name], () => parseKeyDefinition(keyBody(name, k), current));
      if (!key) continue;
      if (key.logicalName !== name) {
        fail([...at, "keys", name, "schemaName"], `the schema name '${key.schemaName ?? ""}' does not match the key's logical name '${name}'`);
        continue;
      }
      keys.push(key);
      current = { ...current, keys: [...(current.keys ?? []), key] };
    }
    return { entity: current, columns, keys };
  };

  for (const [name, input] of Object.entries(spec ?? {})) {
    const at = [...where, name];
    const standard = STANDARD.get(name);
    if (standard) {
      const extra = CUSTOM_ONLY.filter((k) => input[k] !== undefined);
      if (extra.length > 0) {
        fail(at, `${name} is a standard table: only columns and keys can be added to it (remove ${extra.join(", ")})`);
        continue;
      }
      const { entity, columns, keys } = withColumnsAndKeys(standard, input, at);
      byName.set(name, entity);
      resolved.extensions.push({ table: name, columns, keys });
      continue;
    }
    const prefix = name.includes("_") ? name.slice(0, name.indexOf("_")) : "new";
    const primaryName = input.primaryName ?? `${prefix}_name`;
    const primaryInput = input.columns?.[primaryName];
    if (primaryInput !== undefined && primaryInput.type !== "String") {
      fail([...at, "columns", primaryName], `the primary name column must be a String column, not ${primaryInput.type}`);
      continue;
    }
    const primary = { ...columnBody(primaryName, primaryInput ?? { type: "String", displayName: "Name", maxLength: 100 }), IsPrimaryName: true };
    const body = {
      SchemaName: input.schemaName ?? name,
      DisplayName: label(input.displayName),
      DisplayCollectionName: label(input.displayCollectionName),
      Description: label(input.description),
      OwnershipType: input.ownership ?? "UserOwned",
      HasNotes: input.hasNotes === true,
      HasActivities: input.hasActivities === true,
      ...(input.entitySetName !== undefined ? { EntitySetName: input.entitySetName } : {}),
      Attributes: [primary],
    };
    const base = attempt(at, () => parseEntityDefinition(body, FIRST_CUSTOM_CODE + resolved.custom.length));
    if (!base) continue;
    if (base.logicalName !== name) {
      fail([...at, "schemaName"], `the schema name '${base.schemaName}' does not match the table's logical name '${name}' (its lower case must be the key)`);
      continue;
    }
    const taken = sets.get(base.entitySetName);
    if (taken) {
      fail([...at, "entitySetName"], `the entity set name '${base.entitySetName}' is already used by table ${taken}`);
      continue;
    }
    const { entity } = withColumnsAndKeys(base, input, at, primaryName);
    sets.set(entity.entitySetName, name);
    byName.set(name, entity);
    resolved.custom.push(entity);
  }

  // Lookup columns, as `POST RelationshipDefinitions` creates them: each through the Web API's parser,
  // against every table of the file and the relationships before it.
  for (const { table, name, input, at } of lookups) {
    const extra = NOT_FOR_LOOKUPS.filter((k) => input[k] !== undefined);
    if (extra.length > 0) {
      fail(at, `a Lookup column takes target, relationship, schemaName, displayName, description and required (remove ${extra.join(", ")})`);
      continue;
    }
    if (input.target === undefined) {
      fail(at, "a Lookup column needs a target: the logical name of the table it points to");
      continue;
    }
    const prefix = name.includes("_") ? name.slice(0, name.indexOf("_")) : "new";
    const body: Record<string, unknown> = {
      "@odata.type": "Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata",
      SchemaName: input.relationship ?? `${prefix}_${input.target}_${table}`,
      ReferencedEntity: input.target,
      ReferencingEntity: table,
      Lookup: columnBody(name, input),
    };
    const md = new OrgMetadata([...byName.values()], [...STANDARD_MANY_TO_MANY, ...resolved.parsed.values()], optionSets);
    const plan = attempt(at, () => parseOneToManyDefinition(body, md));
    if (!plan) continue;
    if (plan.lookup.logicalName !== name) {
      fail([...at, "schemaName"], `the schema name '${plan.lookup.schemaName}' does not match the column's logical name '${name}' (its lower case must be the key)`);
      continue;
    }
    resolved.parsed.set(plan.relationship.schemaName.toLowerCase(), plan.relationship);
    const referencing = byName.get(table) as EntityMetadata;
    byName.set(table, { ...referencing, attributes: [...referencing.attributes, ...columnsAdded(referencing, plan.lookup)] });
    resolved.relationships.push(body);
  }
  return resolved;
}

/** `orgs[].manyToMany` for `orgbox export`: the custom N:N relationships, with names only where they differ from the defaults. */
export function manyToManyToEnvironment(md: OrgMetadata): Record<string, ManyToManyInput> {
  const out: Record<string, ManyToManyInput> = {};
  for (const r of md.manyToManyRelationships().filter((m) => m.isCustomRelationship)) {
    const intersect = md.entity(r.intersectEntityName)?.schemaName ?? r.intersectEntityName;
    const named = r.entity1NavigationPropertyName !== r.schemaName || r.entity2NavigationPropertyName !== r.schemaName;
    out[r.schemaName] = {
      tables: [r.entity1LogicalName, r.entity2LogicalName],
      ...(intersect !== r.schemaName ? { intersect } : {}),
      ...(named ? { navigation: [r.entity1NavigationPropertyName, r.entity2NavigationPropertyName] } : {}),
    };
  }
  return out;
}

/**
 * Resolves `orgs[].manyToMany` against the file's tables: each relationship goes through the parser of
 * `POST RelationshipDefinitions` (names, participants, the intersect table), and its intersect table
 * joins `tables.byName`. Problems are reported through `fail`; a relationship with a problem is left out.
 */
export function resolveManyToMany(spec: Record<string, ManyToManyInput> | undefined, where: Where, fail: (where: Where, problem: string) => void, tables: ResolvedTables, optionSets: readonly GlobalOptionSetMetadata[] = []): void {
  for (const [schemaName, input] of Object.entries(spec ?? {})) {
    const at = [...where, schemaName];
    const body: Record<string, unknown> = {
      "@odata.type": "Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata",
      SchemaName: schemaName,
      Entity1LogicalName: input.tables[0],
      Entity2LogicalName: input.tables[1],
      ...(input.intersect !== undefined ? { IntersectEntityName: input.intersect } : {}),
      ...(input.navigation !== undefined ? { Entity1NavigationPropertyName: input.navigation[0], Entity2NavigationPropertyName: input.navigation[1] } : {}),
    };
    const md = new OrgMetadata([...tables.byName.values()], [...STANDARD_MANY_TO_MANY, ...tables.parsed.values()], optionSets);
    try {
      const plan = parseManyToManyDefinition(body, md, FIRST_CUSTOM_CODE + tables.custom.length + tables.manyToMany.length);
      tables.parsed.set(schemaName.toLowerCase(), plan.relationship);
      tables.byName.set(plan.intersect.logicalName, plan.intersect);
      tables.manyToMany.push(body);
    } catch (error) {
      if (error instanceof DataverseError) fail(at, error.message);
      else throw error;
    }
  }
}

/** A column as an environment file writes it (the inverse of {@link resolveTables}' column step). */
function columnInput(attribute: AttributeMetadata): ColumnInput {
  const type = attribute.type as ColumnInput["type"];
  const out: ColumnInput = { type };
  if (attribute.schemaName !== attribute.logicalName) out.schemaName = attribute.schemaName;
  if (attribute.displayName !== attribute.schemaName) out.displayName = attribute.displayName;
  if (attribute.description !== undefined) out.description = attribute.description;
  if (attribute.requiredLevel !== "None" && attribute.isPrimaryName !== true) out.required = true;
  if (attribute.maxLength !== undefined) out.maxLength = attribute.maxLength;
  if (attribute.minValue !== undefined) out.minValue = attribute.minValue;
  if (attribute.maxValue !== undefined) out.maxValue = attribute.maxValue;
  if (attribute.precision !== undefined && attribute.precision !== 2) out.precision = attribute.precision;
  if (attribute.dateTimeBehavior !== undefined && attribute.dateTimeBehavior !== "UserLocal") out.dateTimeBehavior = attribute.dateTimeBehavior;
  if (attribute.globalOptionSet !== undefined) return { ...out, globalOptionSet: attribute.globalOptionSet };
  const isDefaultBoolean = type === "Boolean" && attribute.options?.find((o) => o.value === 0)?.label === "No" && attribute.options.find((o) => o.value === 1)?.label === "Yes";
  if (attribute.options && !isDefaultBoolean) out.options = Object.fromEntries(attribute.options.map((o) => [String(o.value), o.label]));
  return out;
}

/** A lookup column as a `Lookup` column definition: its target and, when not the default, its relationship's name. */
function lookupInput(attribute: AttributeMetadata, relationship: OneToManyRelationshipMetadata): ColumnInput {
  const { type: _type, ...common } = columnInput(attribute);
  const prefix = attribute.logicalName.includes("_") ? attribute.logicalName.slice(0, attribute.logicalName.indexOf("_")) : "new";
  const named = relationship.schemaName !== `${prefix}_${relationship.referencedEntity}_${relationship.referencingEntity}`;
  return { type: "Lookup", target: relationship.referencedEntity, ...(named ? { relationship: relationship.schemaName } : {}), ...common };
}

function keyInput(key: EntityKeyMetadata): KeyInput {
  const named = key.schemaName !== undefined && key.schemaName !== key.logicalName;
  const labelled = key.displayName !== undefined && key.displayName !== (key.schemaName ?? key.logicalName);
  if (!named && !labelled) return [...key.keyAttributes];
  return { columns: [...key.keyAttributes], ...(named ? { schemaName: key.schemaName } : {}), ...(labelled ? { displayName: key.displayName } : {}) };
}

/**
 * `orgs[].tables` for `orgbox export`: every custom table with its custom columns (lookup columns of
 * one-to-many relationships as `Lookup` columns) and keys, and the custom columns and keys of standard
 * tables. Tables without anything custom are left out, and so are N:N intersect tables (written as
 * `manyToMany`) and what the format cannot hold (navigation property names of lookups other than the
 * defaults), reported through `warn`.
 */
export function tablesToEnvironment(md: OrgMetadata, warn: (message: string) => void = () => undefined): Record<string, TableInput> {
  const out: Record<string, TableInput> = {};
  for (const entity of md.entities()) {
    // Intersect tables come with their N:N relationships (manyToManyToEnvironment).
    if (entity.isIntersect) continue;
    const custom: [string, ColumnInput][] = [];
    for (const a of entity.attributes) {
      if (!a.isCustomAttribute) continue;
      if ((COLUMN_TYPES as readonly string[]).includes(a.type)) {
        custom.push([a.logicalName, columnInput(a)]);
        continue;
      }
      const relationship = md.oneToManyDefinition(entity.logicalName, a.logicalName);
      if (!relationship) {
        warn(`the ${a.type} column ${entity.logicalName}.${a.logicalName} was left out: the environment format cannot define it`);
        continue;
      }
      custom.push([a.logicalName, lookupInput(a, relationship)]);
      if (relationship.referencedEntityNavigationPropertyName !== relationship.schemaName || relationship.referencingEntityNavigationPropertyName !== a.schemaName) {
        warn(`the navigation property names of relationship ${relationship.schemaName} were left out (the file's lookup ${entity.logicalName}.${a.logicalName} gets the default names)`);
      }
    }
    const columns = Object.fromEntries(custom);
    const keys = Object.fromEntries((entity.keys ?? []).map((k) => [k.logicalName, keyInput(k)]));
    const parts = { ...(custom.length > 0 ? { columns } : {}), ...((entity.keys ?? []).length > 0 ? { keys } : {}) };
    if (!entity.isCustomEntity) {
      if (Object.keys(parts).length > 0) out[entity.logicalName] = parts;
      continue;
    }
    out[entity.logicalName] = {
      ...(entity.schemaName !== entity.logicalName ? { schemaName: entity.schemaName } : {}),
      displayName: entity.displayName,
      ...(entity.displayCollectionName !== pluralize(entity.displayName) ? { displayCollectionName: entity.displayCollectionName } : {}),
      ...(entity.description !== undefined ? { description: entity.description } : {}),
      ...(entity.entitySetName !== pluralize(entity.logicalName) ? { entitySetName: entity.entitySetName } : {}),
      ...(entity.ownershipType !== "UserOwned" ? { ownership: entity.ownershipType as "OrganizationOwned" } : {}),
      primaryName: entity.primaryNameAttribute,
      ...(entity.hasNotes === true ? { hasNotes: true } : {}),
      ...(entity.hasActivities === true ? { hasActivities: true } : {}),
      ...parts,
    };
  }
  return out;
}

/**
 * Resolves `orgs[].optionSets`: global option sets, each checked as `POST GlobalOptionSetDefinitions`
 * checks it. Problems are reported through `fail`; a set with a problem is left out.
 */
export function resolveOptionSets(spec: Record<string, OptionSetInput> | undefined, where: Where, fail: (where: Where, problem: string) => void): GlobalOptionSetMetadata[] {
  const out: GlobalOptionSetMetadata[] = [];
  for (const [name, input] of Object.entries(spec ?? {})) {
    const body = { Name: name, DisplayName: label(input.displayName ?? name), Description: label(input.description), Options: Object.entries(input.options).map(([value, text]) => ({ Value: Number(value), Label: label(text) })) };
    try {
      const set = parseGlobalOptionSet(body);
      if (set.name !== name) fail([...where, name], `option set names are lower case logical names: write '${set.name}'`);
      else out.push(set);
    } catch (error) {
      if (!(error instanceof DataverseError)) throw error;
      fail([...where, name], error.message);
    }
  }
  return out;
}

/** `orgs[].optionSets` for `orgbox export`. */
export function optionSetsToEnvironment(sets: readonly GlobalOptionSetMetadata[]): Record<string, OptionSetInput> {
  return Object.fromEntries(
    sets.map((set) => [set.name, { ...(set.displayName !== set.name ? { displayName: set.displayName } : {}), ...(set.description !== undefined ? { description: set.description } : {}), options: Object.fromEntries(set.options.map((o) => [String(o.value), o.label])) }]),
  );
}
