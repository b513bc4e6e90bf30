import { encodeTwice, keyValue, keysetPredicate, parseInnerCookie, writeInnerCookie, type SortKey } from "../keyset.ts";
import type { AttributeMetadata } from "../metadata/types.ts";
import type { Row } from "../model.ts";
import type { Scalar } from "../store.ts";
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
 *
 * The cookie format and the keyset predicate are shared with OData `$skiptoken`s: see `../keyset.ts`.
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

export type { SortKey };
export { keysetPredicate };

const invalidCookie = (detail: string) => fetchErrors.invalid(`the paging-cookie is not a paging cookie (${detail}); send back the pagingcookie of the previous page's @Microsoft.Dynamics.CRM.fetchxmlpagingcookie, URL-decoded twice`);

/**
 * Parses the inner cookie of a `paging-cookie` attribute (already XML-decoded once by the FetchXML parser).
 * @throws DataverseError 400 (0x80040203) when it is not `<cookie page="n">` with column elements.
 */
export function parsePagingCookie(text: string): PagingCookie {
  const { page, columns } = parseInnerCookie(text, invalidCookie);
  return { page, columns: columns.map(({ name, last }) => ({ name, last })) };
}

/** What a cookie value must be, by column type, for its error message. */
function typeName(attribute: AttributeMetadata): string {
  switch (attribute.type) {
    case "Integer":
    case "BigInt":
    case "Picklist":
    case "State":
    case "Status":
    case "Decimal":
    case "Double":
    case "Money":
      return "a number";
    case "Boolean":
      return "a Boolean";
    case "DateTime":
      return "a date";
    default:
      return "a GUID";
  }
}

/**
 * The cookie's values for the query's sort keys, or undefined when the cookie does not describe this query
 * (its columns are not the sort keys in order) and so is ignored.
 * @throws DataverseError 400 when a value does not parse as its column's type (see {@link keyValue}).
 */
export function cookieValues(cookie: PagingCookie, keys: SortKey[]): Scalar[] | undefined {
  if (cookie.columns.length !== keys.length) return undefined;
  if (cookie.columns.some((c, i) => c.name.toLowerCase() !== keys[i]?.attribute.logicalName)) return undefined;
  return cookie.columns.map((c, i) => {
    if (c.last === null) return null;
    const attribute = (keys[i] as SortKey).attribute;
    const value = keyValue(attribute, c.last);
    if (value === undefined) throw invalidCookie(`'${c.last}' is not ${typeName(attribute)} for '${attribute.logicalName}'`);
    return value;
  });
}

/**
 * The `@Microsoft.Dynamics.CRM.fetchxmlpagingcookie` value for a page that has more rows after it: the inner
 * cookie carries `page` (the page returned) and each sort key's last and first values on it.
 */
export function pagingCookieAnnotation(page: number, keys: SortKey[], first: Row, last: Row): string {
  return `<cookie pagenumber="${page + 1}" pagingcookie="${encodeTwice(writeInnerCookie(page, keys, first, last))}" istracking="False" />`;
}

/**
 * The annotation of a query that cannot page by cookie (orders on link-entities, distinct or aggregate queries):
 * an empty `pagingcookie`, so clients go on with the next page number (simple paging). fetchxml/page-results:
 * "When Dataverse doesn't return a paging cookie, the paging model falls back to simple paging".
 */
export function emptyPagingCookieAnnotation(page: number): string {
  return `<cookie pagenumber="${page + 1}" pagingcookie="" istracking="False" />`;
}
