import { dv, type DataverseError } from "../errors.ts";
import { parseFilter, type FilterNode, type Literal } from "../odata/filter.ts";
import type { WireObject } from "./wire.ts";

/**
 * Query options of definition requests (`EntityDefinitions?$select=…&$filter=…&$expand=…`).
 *
 * Definitions are not rows of a SQL table: they are the standard tables compiled into orgbox plus
 * the org's custom definitions, a few dozen objects held in memory. So `$filter` here is evaluated
 * in process over those objects — the one place orgbox filters in JS, and only because no SQL table
 * holds what is filtered. Record queries always compile to SQL.
 */

/** One `$expand` item: the navigation property and its nested options. */
export interface ExpandItem {
  name: string;
  select?: string[];
  filter?: string;
}

/** Parsed definition query options. */
export interface MetadataQuery {
  select?: string[];
  filter?: string;
  expand: ExpandItem[];
  aliases: Map<string, string>;
}

function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = "";
  for (const c of text) {
    if (c === "'") quoted = !quoted;
    if (!quoted && c === "(") depth++;
    if (!quoted && c === ")") depth--;
    if (!quoted && depth === 0 && c === separator) {
      parts.push(current);
      current = "";
      continue;
    }
    current += c;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function selectList(value: string): string[] {
  const list = value.split(",").map((c) => c.trim()).filter((c) => c.length > 0);
  if (list.length === 0) throw dv.querySyntax("$select is empty");
  return list;
}

/** `Attributes($select=LogicalName;$filter=…)` → `{ name, select, filter }`. */
function parseExpandItem(text: string): ExpandItem {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:\((.*)\))?$/s.exec(text);
  if (!match) throw dv.querySyntax(`the $expand item '${text}' is not valid`);
  const item: ExpandItem = { name: match[1] as string };
  for (const option of splitTopLevel(match[2] ?? "", ";")) {
    const eq = option.indexOf("=");
    const key = eq < 0 ? option : option.slice(0, eq);
    const value = eq < 0 ? "" : option.slice(eq + 1);
    if (key === "$select") item.select = selectList(value);
    else if (key === "$filter") item.filter = value;
    else throw dv.queryOptionNotSupported(`${key} inside $expand of definitions`);
  }
  return item;
}

/**
 * Parses `$select`, `$filter`, `$expand` and `@alias` values of a definition request; every other
 * option is refused by name.
 * @throws DataverseError 400 `0x80060888`.
 */
export function parseMetadataQuery(params: Map<string, string>): MetadataQuery {
  const query: MetadataQuery = { expand: [], aliases: new Map() };
  for (const [key, value] of params) {
    if (key === "$select") query.select = selectList(value);
    else if (key === "$filter") query.filter = value;
    else if (key === "$expand") query.expand = splitTopLevel(value, ",").map(parseExpandItem);
    else if (key.startsWith("@")) query.aliases.set(key, value);
    else if (key.startsWith("$")) throw dv.queryOptionNotSupported(`${key} on definitions`);
  }
  return query;
}

/** Enum literals (`Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'`) compare as their names. */
function normalizeEnumLiterals(filter: string): string {
  return filter.replace(/(?:Microsoft\.Dynamics\.CRM|mscrm)\.[A-Za-z]+'((?:[^']|'')*)'/g, "'$1'");
}

function literalValue(literal: Literal): unknown {
  switch (literal.type) {
    case "null":
      return null;
    case "string":
    case "guid":
    case "date":
    case "datetime":
    case "boolean":
    case "number":
      return literal.value;
  }
}

function unsupported(what: string): DataverseError {
  return dv.queryOptionNotSupported(`${what} in $filter on definitions (orgbox supports eq, ne, gt, ge, lt, le, and, or, not and property paths)`);
}

function valueOf(node: FilterNode, object: WireObject, typeName: string): unknown {
  if (node.type === "literal") return literalValue(node.literal);
  if (node.type !== "property") throw unsupported(node.type === "call" ? `the function ${node.name}` : `a ${node.type} expression`);
  let current: unknown = object;
  for (const [i, segment] of node.path.entries()) {
    if (typeof current !== "object" || current === null || !(segment in current)) {
      if (i === 0) throw dv.propertyNotFound(segment, typeName);
      return null;
    }
    current = (current as Record<string, unknown>)[segment];
  }
  // `IsCustomizable eq true` on a managed property compares its Value.
  if (typeof current === "object" && current !== null && "Value" in current) return (current as { Value: unknown }).Value;
  return current;
}

function compare(op: string, left: unknown, right: unknown): boolean {
  if (op === "eq") return left === right || (typeof left === "string" && typeof right === "string" && /^[0-9a-f-]{36}$/i.test(left) && left.toLowerCase() === right.toLowerCase());
  if (op === "ne") return !compare("eq", left, right);
  if (left === null || right === null || typeof left !== typeof right) return false;
  const l = left as number | string;
  const r = right as number | string;
  return op === "gt" ? l > r : op === "ge" ? l >= r : op === "lt" ? l < r : l <= r;
}

function test(node: FilterNode, object: WireObject, typeName: string): boolean {
  switch (node.type) {
    case "and":
      return test(node.left, object, typeName) && test(node.right, object, typeName);
    case "or":
      return test(node.left, object, typeName) || test(node.right, object, typeName);
    case "not":
      return !test(node.operand, object, typeName);
    case "compare":
      return compare(node.op, valueOf(node.left, object, typeName), valueOf(node.right, object, typeName));
    case "property": {
      const value = valueOf(node, object, typeName);
      if (typeof value !== "boolean") throw dv.querySyntax(`the property '${node.path.join("/")}' is not a boolean`);
      return value;
    }
    case "literal":
      if (node.literal.type === "boolean") return node.literal.value;
      throw dv.querySyntax("a $filter must be a boolean expression");
    default:
      throw unsupported(node.type === "call" ? `the function ${node.name}` : `a ${node.type} expression`);
  }
}

/**
 * The objects matching `filter` (see the module comment for why this runs in process).
 * @param typeName the metadata type named in errors (`EntityMetadata`, `AttributeMetadata`).
 * @throws DataverseError 400 for syntax errors, unknown properties and unsupported operators.
 */
export function filterObjects(objects: WireObject[], filter: string | undefined, aliases: ReadonlyMap<string, string>, typeName: string): WireObject[] {
  if (filter === undefined) return objects;
  const tree = parseFilter(normalizeEnumLiterals(filter), aliases);
  return objects.filter((o) => test(tree, o, typeName));
}

/**
 * Keeps the `select`ed properties (and `@odata.type` and `MetadataId`, which Dataverse always
 * returns) plus expanded ones. Names must be properties of `allowed`.
 * @throws DataverseError 400 `Could not find a property named 'X' on type 'Microsoft.Dynamics.CRM.{typeName}'.`
 */
export function selectProperties(object: WireObject, select: string[] | undefined, allowed: ReadonlySet<string>, typeName: string, keep: readonly string[] = []): WireObject {
  if (!select) return object;
  const out: WireObject = {};
  for (const name of select) if (!allowed.has(name)) throw dv.propertyNotFound(name, typeName);
  for (const [key, value] of Object.entries(object)) {
    if (key === "@odata.type" || key === "MetadataId" || select.includes(key) || keep.includes(key)) out[key] = value;
  }
  return out;
}
