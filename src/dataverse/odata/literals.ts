import { dv, type DataverseError } from "../errors.ts";
import { formatDateTime } from "../format.ts";
import { isLookupType, type AttributeMetadata, type AttributeType } from "../metadata/types.ts";
import type { Scalar } from "../store.ts";
import type { ComparisonOperator, Literal } from "./filter.ts";

/** Edm type name of a column, as Dataverse names it in type errors. */
export function edmType(type: AttributeType, attribute?: AttributeMetadata): string {
  switch (type) {
    case "String":
    case "Memo":
    case "EntityName":
    case "MultiSelectPicklist":
      return "Edm.String";
    case "Integer":
    case "Picklist":
    case "State":
    case "Status":
      return "Edm.Int32";
    case "BigInt":
      return "Edm.Int64";
    case "Decimal":
    case "Money":
      return "Edm.Decimal";
    case "Double":
      return "Edm.Double";
    case "DateTime":
      return attribute?.dateTimeBehavior === "DateOnly" ? "Edm.Date" : "Edm.DateTimeOffset";
    case "Boolean":
      return "Edm.Boolean";
    case "Uniqueidentifier":
    case "Lookup":
    case "Customer":
    case "Owner":
      return "Edm.Guid";
  }
}

function literalEdm(literal: Literal): string {
  switch (literal.type) {
    case "string":
      return "Edm.String";
    case "number":
      return Number.isInteger(literal.value) ? "Edm.Int32" : "Edm.Decimal";
    case "boolean":
      return "Edm.Boolean";
    case "null":
      return "null";
    case "guid":
      return "Edm.Guid";
    case "date":
      return "Edm.Date";
    case "datetime":
      return "Edm.DateTimeOffset";
  }
}

const OPERATOR_KIND: Record<ComparisonOperator, string> = { eq: "Equal", ne: "NotEqual", gt: "GreaterThan", ge: "GreaterThanOrEqual", lt: "LessThan", le: "LessThanOrEqual" };

export function incompatible(left: string, right: string, op: ComparisonOperator): DataverseError {
  return dv.querySyntax(`A binary operator with incompatible types was detected. Found operand types '${left}' and '${right}' for operator kind '${OPERATOR_KIND[op]}'.`);
}

export const isStringType = (type: AttributeType) => type === "String" || type === "Memo" || type === "EntityName";
export const isNumericType = (type: AttributeType) => ["Integer", "Picklist", "State", "Status", "BigInt", "Decimal", "Money", "Double"].includes(type);
const isGuidType = (type: AttributeType) => type === "Uniqueidentifier" || isLookupType(type);

/** Parses an OData date or datetime literal to epoch ms; undefined when it is not one. */
export function parseDateLiteral(text: string): number | undefined {
  const date = /^(\d{4})-(\d{2})-(\d{2})(?:$|T)/.exec(text);
  if (!date) return undefined;
  const [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])];
  // Date.UTC rolls 2024-13-45 over into 2025; a literal must name a real calendar day.
  const midnight = Date.UTC(year, month - 1, day);
  const real = new Date(midnight);
  if (real.getUTCFullYear() !== year || real.getUTCMonth() !== month - 1 || real.getUTCDate() !== day) return undefined;
  const ms = text.length === 10 ? midnight : Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Converts a literal to the SQL value of a column of `attribute`'s type: dates become
 * `YYYY-MM-DDTHH:MM:SSZ` text, GUIDs lower case, booleans stay booleans (the store writes 0/1).
 * String literals are accepted for every type (the query functions pass `PropertyValues` as strings).
 * @throws DataverseError 400 on a type mismatch.
 */
export function coerceLiteral(attribute: AttributeMetadata, literal: Literal, op: ComparisonOperator = "eq"): Scalar {
  if (literal.type === "null") return null;
  const type = attribute.type;
  const mismatch = () => incompatible(edmType(type, attribute), literalEdm(literal), op);
  if (isStringType(type)) {
    if (literal.type !== "string") throw mismatch();
    return literal.value;
  }
  if (isNumericType(type)) {
    let value: number;
    if (literal.type === "number") value = literal.value;
    else if (literal.type === "string" && /^-?\d+(\.\d+)?$/.test(literal.value.trim())) value = Number(literal.value);
    else throw mismatch();
    checkNumericRange(attribute, value, op);
    return value;
  }
  if (isGuidType(type)) {
    if (literal.type === "guid") return literal.value;
    if (literal.type === "string" && /^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$/.test(literal.value.trim())) return literal.value.trim().replace(/[{}]/g, "").toLowerCase();
    throw mismatch();
  }
  if (type === "Boolean") {
    if (literal.type === "boolean") return literal.value;
    if (literal.type === "string" && /^(true|false|1|0)$/i.test(literal.value)) return /^(true|1)$/i.test(literal.value);
    throw mismatch();
  }
  // DateTime
  if (literal.type !== "date" && literal.type !== "datetime" && literal.type !== "string") throw mismatch();
  const ms = parseDateLiteral(literal.value);
  if (ms === undefined) throw mismatch();
  return formatDateTime(ms);
}

/** Whole-number columns and the values their SQL types hold: Int32, and BigInt within JavaScript's exact integers (as on write). */
const INTEGER_RANGES: Partial<Record<AttributeType, [number, number]>> = {
  Integer: [-2147483648, 2147483647],
  Picklist: [-2147483648, 2147483647],
  State: [-2147483648, 2147483647],
  Status: [-2147483648, 2147483647],
  BigInt: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/** The Edm type ODataLib gives a numeric literal: Int32, Int64 when it needs 64 bits, else Decimal. */
function numberEdm(value: number): string {
  if (!Number.isInteger(value)) return "Edm.Decimal";
  if (value >= -2147483648 && value <= 2147483647) return "Edm.Int32";
  return Math.abs(value) < 2 ** 63 ? "Edm.Int64" : "Edm.Decimal";
}

/**
 * A number compared with a whole-number column must be a whole number its type holds (a fraction or
 * a larger value is refused, as comparing them would need a type the column does not have); any number
 * must be finite (`1e400` is not).
 * @throws DataverseError 400 `0x80060888` naming the column's and the value's Edm types.
 */
function checkNumericRange(attribute: AttributeMetadata, value: number, op: ComparisonOperator): void {
  const range = INTEGER_RANGES[attribute.type];
  const fits = Number.isFinite(value) && (!range || (Number.isInteger(value) && value >= range[0] && value <= range[1]));
  if (!fits) throw incompatible(edmType(attribute.type, attribute), Number.isFinite(value) ? numberEdm(value) : "Edm.Double", op);
}
