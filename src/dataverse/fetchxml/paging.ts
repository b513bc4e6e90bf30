import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { AttributeMetadata } from "../metadata/types.ts";
import type { Row } from "../model.ts";
import type { Expr, Scalar } from "../store.ts";
import { fetchErrors } from "./parse.ts";

/**
 * FetchXML paging cookies (learn.microsoft.com/power-apps/developer/data-platform/fetchxml/page-results,
 * "Paging cookies"; org-service/page-large-result-sets-with-fetchxml).
 *
 * The `@Microsoft.Dynamics.CRM.fetchxmlpagingcookie` annotation is
 * `<cookie pagenumber="{next page}" pagingcookie="{inner, URL-encoded twice}" istracking="False" />`; the inner
 * cookie holds, for the page just returned, the last and first values of every order attribute and then of the
 * primary key, as Dataverse's does:
 * `<cookie page="1"><name last="Contoso" first="Adatum" /><accountid last="{…}" first="{…}" /></cookie>`
 * (a NULL value is written `lastnull="1"` / `firstnull="1"`). The client sends it back in the `paging-cookie`
 * attribute of `<fetch>` with `page` one higher, and orgbox reads the next page by keyset:
 * `(sort columns, primary key) > (last values)`, compiled into the same SQL statement as the caller's Read scope.
 *
 * When the cookie does not fit the request, it is ignored and the request is simple paging (with its
 * 50,000-row limit), as the documentation says of non-consecutive pages ("if you request nonconsecutive pages, the
 * paging cookie value is ignored"): a cookie whose `page` is not `page - 1`, or whose columns are not the query's
 * sort columns in order. A cookie that is not a cookie at all (not XML, no `page`, a value that does not parse as
 * its column's type) is a 400.
 */

/** One column of an inner paging cookie: its name and its value on the last row of the previous page (`null`: NULL). */
export interface CookieColumn {
  name: string;
  last: string | null;
}

/** A parsed inner paging cookie. */
export interface PagingCookie {
  /** The page the cookie describes (the previous page of the request that carries it). */
  page: number;
  columns: CookieColumn[];
}

/** One sort key of a keyset-paged read: a column of the root table, its direction and comparison. */
export interface SortKey {
  /** SQL alias of the root table. */
  table: string;
  attribute: AttributeMetadata;
  descending: boolean;
  /** Sorted (and so compared) by `lower(column)`: string columns, as Dataverse's collation is case-insensitive. */
  caseInsensitive: boolean;
  /** Result column carrying the value (read with the page, for the next cookie). */
  as: string;
}

const cookieParser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", attributesGroupName: "$", parseTagValue: false, parseAttributeValue: false, htmlEntities: true, isArray: (name: string, _path: unknown, _leaf: unknown, isAttribute: boolean) => !isAttribute && name !== "$" });

type CookieElement = { $?: Record<string, string> } & Record<string, unknown>;

const invalidCookie = (detail: string) => fetchErrors.invalid(`the paging-cookie is not a paging cookie (${detail}); send back the pagingcookie of the previous page's @Microsoft.Dynamics.CRM.fetchxmlpagingcookie, URL-decoded twice`);

/**
 * Parses the inner cookie of a `paging-cookie` attribute (already XML-decoded once by the FetchXML parser).
 * @throws DataverseError 400 (0x80040203) when it is not `<cookie page="n">` with column elements.
 */
export function parsePagingCookie(text: string): PagingCookie {
  if (XMLValidator.validate(text) !== true) throw invalidCookie("not XML");
  const doc = cookieParser.parse(text) as Record<string, CookieElement[]>;
  const roots = Object.keys(doc).filter((k) => k !== "?xml");
  const root = doc.cookie?.[0];
  if (roots.length !== 1 || !root || doc.cookie?.length !== 1) throw invalidCookie("the document element must be one <cookie>");
  const page = root.$?.page;
  if (page === undefined || !/^\d+$/.test(page)) throw invalidCookie("<cookie> needs a numeric 'page'");
  const columns: CookieColumn[] = [];
  for (const [name, elements] of Object.entries(root)) {
    if (name === "$") continue;
    if (name === "#text" || !Array.isArray(elements)) throw invalidCookie("<cookie> holds only column elements");
    for (const element of elements as CookieElement[]) {
      const a = element.$ ?? {};
      if (a.lastnull === "1") columns.push({ name, last: null });
      else if (a.last !== undefined) columns.push({ name, last: a.last });
      else throw invalidCookie(`<${name}> needs 'last' or 'lastnull'`);
    }
  }
  return { page: Number(page), columns };
}

/**
 * The SQL value of a cookie value for a column: numbers for numeric columns, booleans, lower-case GUIDs without
 * braces for keys and lookups, text otherwise (dates stay `YYYY-MM-DDTHH:MM:SSZ`, as stored).
 * @throws DataverseError 400 when the value does not parse as the column's type.
 */
function sqlValue(attribute: AttributeMetadata, text: string): Scalar {
  switch (attribute.type) {
    case "Integer":
    case "BigInt":
    case "Picklist":
    case "State":
    case "Status":
    case "Decimal":
    case "Double":
    case "Money": {
      const n = Number(text);
      if (text.trim() === "" || !Number.isFinite(n)) throw invalidCookie(`'${text}' is not a number for '${attribute.logicalName}'`);
      return n;
    }
    case "Boolean":
      if (/^(1|true)$/i.test(text)) return true;
      if (/^(0|false)$/i.test(text)) return false;
      throw invalidCookie(`'${text}' is not a Boolean for '${attribute.logicalName}'`);
    case "Uniqueidentifier":
    case "Lookup":
    case "Customer":
    case "Owner": {
      const m = /^\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?$/i.exec(text);
      if (!m) throw invalidCookie(`'${text}' is not a GUID for '${attribute.logicalName}'`);
      return (m[1] as string).toLowerCase();
    }
    default:
      return text;
  }
}

/** A SQL value as cookie text: GUIDs as `{UPPER-CASE}` (Dataverse's form), booleans as 1/0. */
function cookieText(attribute: AttributeMetadata, value: unknown): string | null {
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

/**
 * The cookie's values for the query's sort keys, or undefined when the cookie does not describe this query
 * (its columns are not the sort keys in order) and so is ignored.
 * @throws DataverseError 400 when a value does not parse as its column's type.
 */
export function cookieValues(cookie: PagingCookie, keys: SortKey[]): Scalar[] | undefined {
  if (cookie.columns.length !== keys.length) return undefined;
  if (cookie.columns.some((c, i) => c.name.toLowerCase() !== keys[i]?.attribute.logicalName)) return undefined;
  return cookie.columns.map((c, i) => (c.last === null ? null : sqlValue((keys[i] as SortKey).attribute, c.last)));
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
function encodeTwice(text: string): string {
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
 * The `@Microsoft.Dynamics.CRM.fetchxmlpagingcookie` value for a page that has more rows after it: the inner
 * cookie carries `page` (the page returned) and each sort key's last and first values on it.
 */
export function pagingCookieAnnotation(page: number, keys: SortKey[], first: Row, last: Row): string {
  const parts = keys.map((key) => {
    const lastText = cookieText(key.attribute, last[key.as]);
    const firstText = cookieText(key.attribute, first[key.as]);
    const l = lastText === null ? `lastnull="1"` : `last="${escapeValue(lastText)}"`;
    const f = firstText === null ? `firstnull="1"` : `first="${escapeValue(firstText)}"`;
    return `<${key.attribute.logicalName} ${l} ${f} />`;
  });
  return `<cookie pagenumber="${page + 1}" pagingcookie="${encodeTwice(`<cookie page="${page}">${parts.join("")}</cookie>`)}" istracking="False" />`;
}

/**
 * The annotation of a query that cannot page by cookie (orders on link-entities, distinct or aggregate queries):
 * an empty `pagingcookie`, so clients go on with the next page number (simple paging). fetchxml/page-results:
 * "When Dataverse doesn't return a paging cookie, the paging model falls back to simple paging".
 */
export function emptyPagingCookieAnnotation(page: number): string {
  return `<cookie pagenumber="${page + 1}" pagingcookie="" istracking="False" />`;
}
