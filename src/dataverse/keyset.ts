import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { AttributeMetadata } from "./metadata/types.ts";
import type { Row } from "./model.ts";
import type { Expr, Scalar } from "./store.ts";

/**
 * Keyset paging, shared by FetchXML paging cookies (`fetchxml/paging.ts`) and OData `$skiptoken`s
 * (`odata/paging.ts`): the inner paging cookie Dataverse writes
 * (learn.microsoft.com/power-apps/developer/data-platform/fetchxml/page-results, "Paging cookies";
 * webapi/query/page-results) — `<cookie page="1"><name last="Contoso" first="Adatum" /><accountid last="{…}" first="{…}" /></cookie>`,
 * one element per sort key (the last one the primary key), a NULL written `lastnull="1"` / `firstnull="1"` — and the
 * SQL predicate "after the row with these values": `(sort columns, primary key) > (last values)`, expanded for mixed
 * directions and NULLs, text compared by `lower()` as the ORDER BY sorts it. Nothing is paged by OFFSET.
 */

/** One sort key of a keyset-paged read: a column of the root table, its direction and comparison. */
export interface SortKey {
  /** SQL alias of the root table (`t0` in both the store's record reads and its joined reads). */
  table: string;
  attribute: AttributeMetadata;
  descending: boolean;
  /** Sorted (and so compared) by `lower(column)`: string columns, as Dataverse's collation is case-insensitive. */
  caseInsensitive: boolean;
  /** Result column carrying the value (read with the page, for the next cookie). */
  as: string;
}

/** One column of an inner paging cookie: its name and its value on the last row of the previous page (`null`: NULL). */
export interface CookieColumn {
  name: string;
  last: string | null;
  /** orgbox's own `desc="1"` (OData `$skiptoken`s only): the key was sorted descending. */
  descending: boolean;
}

/** A parsed inner paging cookie. */
export interface InnerCookie {
  /** The page the cookie describes (the previous page of the request that carries it). */
  page: number;
  /** The attributes of `<cookie>` other than `page` (orgbox's `deltastart`). */
  attributes: Record<string, string>;
  columns: CookieColumn[];
}

// trimValues: false keeps a value's leading and trailing spaces (a name "  Contoso " must compare as itself).
const cookieParser = new XMLParser({ trimValues: false, ignoreAttributes: false, attributeNamePrefix: "", attributesGroupName: "$", parseTagValue: false, parseAttributeValue: false, htmlEntities: true, isArray: (name: string, _path: unknown, _leaf: unknown, isAttribute: boolean) => !isAttribute && name !== "$" });

type CookieElement = { $?: Record<string, string> } & Record<string, unknown>;

/**
 * Parses an inner paging cookie (`<cookie page="n">` with column elements).
 * @param invalid builds the error for a text that is not one (the caller's wire error), given what is wrong.
 * @throws what `invalid` returns: not XML, not one `<cookie>`, no numeric `page`, a column without `last`/`lastnull`.
 */
export function parseInnerCookie(text: string, invalid: (detail: string) => Error): InnerCookie {
  if (XMLValidator.validate(text) !== true) throw invalid("not XML");
  const doc = cookieParser.parse(text) as Record<string, CookieElement[]>;
  const roots = Object.keys(doc).filter((k) => k !== "?xml");
  const root = doc.cookie?.[0];
  if (roots.length !== 1 || !root || doc.cookie?.length !== 1) throw invalid("the document element must be one <cookie>");
  const { page, ...attributes } = root.$ ?? {};
  if (page === undefined || !/^\d{1,15}$/.test(page)) throw invalid("<cookie> needs a numeric 'page'");
  const columns: CookieColumn[] = [];
  for (const [name, elements] of Object.entries(root)) {
    if (name === "$") continue;
    // Whitespace between the column elements (an indented cookie) is no content.
    if (name === "#text" && [elements].flat().every((t) => typeof t === "string" && t.trim() === "")) continue;
    if (name === "#text" || !Array.isArray(elements)) throw invalid("<cookie> holds only column elements");
    for (const element of elements as CookieElement[]) {
      const a = element.$ ?? {};
      const descending = a.desc === "1";
      if (a.lastnull === "1") columns.push({ name, last: null, descending });
      else if (a.last !== undefined) columns.push({ name, last: a.last, descending });
      else throw invalid(`<${name}> needs 'last' or 'lastnull'`);
    }
  }
  return { page: Number(page), attributes, columns };
}

const GUID = /^\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?$/i;
const INTEGER = /^-?\d{1,16}$/;
const NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;
/** Dates as the store holds them: `YYYY-MM-DDTHH:MM:SSZ` (UTC), or `YYYY-MM-DD` (DateOnly columns). */
const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)?$/;

/**
 * The SQL value of a cookie value for a column, or undefined when the text is not a value of the column's type:
 * safe integers for whole-number columns (choices, states), finite numbers for decimal/money/float columns,
 * booleans (`1`/`0`/`true`/`false`), lower-case GUIDs without braces for keys and lookups, the stored form for
 * dates, text otherwise.
 */
export function keyValue(attribute: AttributeMetadata, text: string): Scalar | undefined {
  switch (attribute.type) {
    case "Integer":
    case "BigInt":
    case "Picklist":
    case "State":
    case "Status": {
      const n = Number(text);
      return INTEGER.test(text) && Number.isSafeInteger(n) ? n : undefined;
    }
    case "Decimal":
    case "Double":
    case "Money": {
      const n = Number(text);
      return NUMBER.test(text) && Number.isFinite(n) ? n : undefined;
    }
    case "Boolean":
      if (/^(1|true)$/i.test(text)) return true;
      if (/^(0|false)$/i.test(text)) return false;
      return undefined;
    case "Uniqueidentifier":
    case "Lookup":
    case "Customer":
    case "Owner": {
      const m = GUID.exec(text);
      return m ? (m[1] as string).toLowerCase() : undefined;
    }
    case "DateTime":
      return DATE.test(text) ? text : undefined;
    default:
      return text;
  }
}

/** A SQL value as cookie text (null for NULL): GUIDs as `{UPPER-CASE}` (Dataverse's form), booleans as 1/0. */
export function keyText(attribute: AttributeMetadata, value: unknown): string | null {
  if (value === null || value === undefined) return null;
  switch (attribute.type) {
    case "Uniqueidentifier":
    case "Lookup":
    case "Customer":
    case "Owner":
      return `{${String(value).toUpperCase()}}`;
    case "Boolean":
      return value === true || value === 1 || value === "1" || value === "t" ? "1" : "0";
    default:
      return String(value);
  }
}

const column = (key: SortKey) => ({ kind: "column" as const, name: key.attribute.logicalName, table: key.table });
const isNull = (key: SortKey): Expr => ({ kind: "compare", op: "eq", left: column(key), right: { kind: "value", value: null } });
const notNull = (key: SortKey): Expr => ({ kind: "compare", op: "ne", left: column(key), right: { kind: "value", value: null } });
const compare = (key: SortKey, op: "eq" | "gt" | "lt" | "ge", value: Scalar): Expr => ({ kind: "compare", op, left: column(key), right: { kind: "value", value }, ...(key.caseInsensitive ? { caseInsensitive: true } : {}) });
const and = (items: Expr[]): Expr => items.reduce((left, right) => ({ kind: "and", left, right }));
const or = (items: Expr[]): Expr => items.reduce((left, right) => ({ kind: "or", left, right }));

/** Rows after `value` in one key's order. NULL sorts first ascending and last descending (the store's order). */
function after(key: SortKey, value: Scalar): Expr | undefined {
  if (!key.descending) return value === null ? notNull(key) : compare(key, "gt", value);
  return value === null ? undefined : or([compare(key, "lt", value), isNull(key)]);
}

/** Rows with `value` in one key. */
function equal(key: SortKey, value: Scalar): Expr {
  return value === null ? isNull(key) : compare(key, "eq", value);
}

/**
 * The keyset predicate "after the row with `values`" for sort keys of mixed directions with NULLs:
 * `(k1 after v1) OR (k1 = v1 AND k2 after v2) OR …`, the last key being the primary key (unique, never NULL). The
 * first key also gets a bound a B-tree index can seek on (`k1 >= v1` ascending, `k1 IS NULL` after a NULL
 * descending), ANDed with the expansion.
 */
export function keysetPredicate(keys: SortKey[], values: Scalar[]): Expr {
  const terms: Expr[] = [];
  for (let i = 0; i < keys.length; i++) {
    const next = after(keys[i] as SortKey, values[i] as Scalar);
    if (next) terms.push(and([...keys.slice(0, i).map((k, j) => equal(k, values[j] as Scalar)), next]));
  }
  const expansion: Expr = terms.length > 0 ? or(terms) : { kind: "false" };
  const [first] = keys;
  const v = values[0] as Scalar;
  if (!first || keys.length === 1) return expansion;
  if (!first.descending && v !== null) return and([compare(first, "ge", v), expansion]);
  if (first.descending && v === null) return and([isNull(first), expansion]);
  return expansion;
}

/** Dataverse URL-encodes the inner cookie twice, with lower-case hex (`%253ccookie%2520page…`). */
export function encodeTwice(text: string): string {
  const encode = (t: string) => encodeURIComponent(t).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase());
  return encode(encode(text));
}

/**
 * Cookie values are written with numeric character references for `& < > " '`: they survive both clients that
 * XML-encode the cookie into `paging-cookie` (.NET) and clients that escape only `< > " '` (dynamics-web-api).
 */
function escapeValue(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The inner cookie of a page that has more rows after it: `<cookie page="{page}" {attributes}>` and, per sort key,
 * its last and first values on the page (read from the rows' `key.as` columns).
 * @param options.directions also write orgbox's `desc="1"` on descending keys (OData `$skiptoken`s, validated on return).
 */
export function writeInnerCookie(page: number, keys: SortKey[], first: Row, last: Row, options: { attributes?: Record<string, string>; directions?: boolean } = {}): string {
  const parts = keys.map((key) => {
    const lastText = keyText(key.attribute, last[key.as]);
    const firstText = keyText(key.attribute, first[key.as]);
    const l = lastText === null ? `lastnull="1"` : `last="${escapeValue(lastText)}"`;
    const f = firstText === null ? `firstnull="1"` : `first="${escapeValue(firstText)}"`;
    return `<${key.attribute.logicalName} ${l} ${f}${options.directions && key.descending ? ` desc="1"` : ""} />`;
  });
  const attributes = Object.entries(options.attributes ?? {}).map(([name, value]) => ` ${name}="${escapeValue(value)}"`).join("");
  return `<cookie page="${page}"${attributes}>${parts.join("")}</cookie>`;
}
