import { dv } from "../errors.ts";
import { encodeTwice, keyValue, parseInnerCookie, writeInnerCookie, type SortKey } from "../keyset.ts";
import type { OrgMetadata } from "../metadata/registry.ts";
import type { EntityMetadata } from "../metadata/types.ts";
import type { Row } from "../model.ts";
import type { RecordQuery, Scalar } from "../store.ts";

/**
 * Server-driven paging cookies in Dataverse's shape
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results):
 * `$skiptoken=<cookie pagenumber="2" pagingcookie="%253ccookie%2520page…" istracking="False" />`, the inner cookie
 * URL-encoded twice. The inner cookie is the one FetchXML paging cookies carry (`../keyset.ts`): the page returned,
 * and for every key of the read's effective ORDER BY (its `$orderby`, then the primary key) its last and first values
 * on that page — `<cookie page="1"><name last="Contoso" first="Adatum" desc="1" /><accountid last="{…}" first="{…}" /></cookie>`.
 * `desc="1"` (descending keys) and `deltastart` (change tracking, `istracking="True"`) are orgbox's own. The next
 * page is read by keyset, `(sort keys) > (last values)` in SQL, so every page costs the same (no OFFSET).
 */
export interface PageCookie {
  /** Number of the page to return (2 for the first nextLink). */
  pageNumber: number;
  /** The previous page's last row: its value of every sort key (`null`: NULL), parsed by the key's column type. */
  after: Scalar[];
  /** Change tracking: the version the read's `@odata.deltaLink` will carry, fixed on its first page (`istracking="True"`). */
  deltaStart?: number;
}

/** Alias of the queried table in the store's record reads (the keyset predicate's column qualifier). */
const ROOT = "t0";

/**
 * The sort keys of a read's effective ORDER BY ({@link parseOrderBy}'s, which ends in the primary key, or a
 * change-tracking read's), up to the primary key (unique: later keys never decide): each key's value comes back in
 * the row under its logical name.
 * @throws Error when a column is not an attribute of the table (a programming error: the order was bound to it).
 */
export function sortKeys(md: OrgMetadata, entity: EntityMetadata, orderBy: RecordQuery["orderBy"]): SortKey[] {
  const end = orderBy.findIndex((o) => o.column === entity.primaryIdAttribute);
  return (end < 0 ? orderBy : orderBy.slice(0, end + 1)).map((o) => {
    const attribute = md.attribute(entity, o.column);
    if (!attribute) throw new Error(`sort column '${o.column}' is not an attribute of '${entity.logicalName}'`);
    return { table: ROOT, attribute, descending: o.descending, caseInsensitive: o.caseInsensitive === true, as: attribute.logicalName };
  });
}

/** `columns` plus the sort keys' columns a read must return for the next page's cookie (even when `$select` leaves them out). */
export function withKeyColumns(columns: string[], keys: SortKey[]): string[] {
  const extra = keys.map((k) => k.as).filter((c) => !columns.includes(c));
  return extra.length > 0 ? [...columns, ...extra] : columns;
}

/**
 * The `$skiptoken` value (not yet URL-encoded) of page `pageNumber`, following a page whose first and last rows are
 * `first` and `last` (rows holding every key's column).
 */
export function encodeSkipToken(pageNumber: number, keys: SortKey[], first: Row, last: Row, deltaStart?: number): string {
  const inner = writeInnerCookie(pageNumber - 1, keys, first, last, { directions: true, ...(deltaStart !== undefined ? { attributes: { deltastart: String(deltaStart) } } : {}) });
  return `<cookie pagenumber="${pageNumber}" pagingcookie="${encodeTwice(inner)}" istracking="${deltaStart !== undefined ? "True" : "False"}" />`;
}

const orderText = (names: { name: string; descending: boolean }[]) => names.map((c) => `${c.name}${c.descending ? " desc" : ""}`).join(", ");

/**
 * Reads a `$skiptoken` orgbox issued (already URL-decoded once by the query parser) for a read ordered by `keys`.
 * @throws DataverseError 400 (`0x80060888`) for a token orgbox did not issue: not the outer and inner cookie, a page
 *   number that is not a whole number from 2 to 2^53−1 or not one more than the inner cookie's page, unknown
 *   attributes, a `deltastart` that is not a safe integer, columns or directions other than `keys` in order (a token
 *   issued for another `$orderby`), or a value that does not parse as its column's type (a NULL primary key included).
 */
export function decodeSkipToken(token: string, keys: SortKey[]): PageCookie {
  const invalid = (detail: string) => dv.querySyntax(`the $skiptoken is not a paging cookie issued by orgbox (${detail}); replay @odata.nextLink verbatim`);
  const outer = /^<cookie\s+pagenumber="(\d{1,16})"\s+pagingcookie="([^"]*)"\s+istracking="(True|False)"\s*\/>$/.exec(token.trim());
  if (!outer) throw invalid(`not <cookie pagenumber="…" pagingcookie="…" istracking="…" />`);
  const pageNumber = Number(outer[1]);
  if (!Number.isSafeInteger(pageNumber) || pageNumber < 2) throw invalid("the page number must be a whole number from 2");
  let text: string;
  try {
    text = decodeURIComponent(decodeURIComponent(outer[2] as string));
  } catch {
    throw invalid("the pagingcookie is not URL-encoded twice");
  }
  const inner = parseInnerCookie(text, invalid);
  if (inner.page !== pageNumber - 1) throw invalid(`page ${inner.page} of the inner cookie does not precede page ${pageNumber}`);
  const { deltastart, ...unknown } = inner.attributes;
  const [stray] = Object.keys(unknown);
  if (stray !== undefined) throw invalid(`unknown attribute '${stray}'`);
  if (deltastart !== undefined && !(/^\d{1,16}$/.test(deltastart) && Number.isSafeInteger(Number(deltastart)))) throw invalid("deltastart must be a whole number");
  if ((deltastart !== undefined) !== (outer[3] === "True")) throw invalid("istracking does not match the inner cookie");
  const matches = inner.columns.length === keys.length && inner.columns.every((c, i) => c.name === keys[i]?.attribute.logicalName && c.descending === keys[i]?.descending);
  if (!matches) {
    const expected = orderText(keys.map((k) => ({ name: k.attribute.logicalName, descending: k.descending })));
    throw dv.querySyntax(`the $skiptoken was issued for another order (${orderText(inner.columns)}), not this request's $orderby (${expected}); replay the @odata.nextLink of this query verbatim`);
  }
  const after = inner.columns.map((c, i) => {
    const key = keys[i] as SortKey;
    const primary = i === keys.length - 1;
    if (c.last === null) {
      if (primary) throw invalid(`the primary key '${c.name}' cannot be NULL`);
      return null;
    }
    const value = keyValue(key.attribute, c.last);
    if (value === undefined) throw invalid(`'${c.last}' is not a value of the ${key.attribute.type} column '${c.name}'`);
    return value;
  });
  return { pageNumber, after, ...(deltastart !== undefined ? { deltaStart: Number(deltastart) } : {}) };
}

/**
 * The `@odata.nextLink`: the request URL as received (its other query options kept verbatim)
 * with `$skiptoken` replaced.
 */
export function nextLink(resourceUrl: string, rawQuery: string, skipToken: string): string {
  const kept = rawQuery.split("&").filter((p) => p.length > 0 && !/^(\$|%24)skiptoken=/i.test(p));
  kept.push(`$skiptoken=${encodeURIComponent(skipToken)}`);
  return `${resourceUrl}?${kept.join("&")}`;
}
