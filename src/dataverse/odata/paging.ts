import { dv } from "../errors.ts";

/**
 * Server-driven paging cookies in Dataverse's shape
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results):
 * `$skiptoken=<cookie pagenumber="2" pagingcookie="%253ccookie%2520page…" istracking="False" />`.
 * orgbox's inner cookie carries the first/last primary keys of the page, like Dataverse's, plus
 * `skip`, the number of rows already returned (paging is OFFSET-based in SQL).
 */
export interface PageCookie {
  /** Number of the page to return (2 for the first nextLink). */
  pageNumber: number;
  /** Rows returned by the previous pages. */
  skip: number;
  /** Change tracking: the version the read's `@odata.deltaLink` will carry, fixed on its first page (`istracking="True"`). */
  deltaStart?: number;
}

/** The `$skiptoken` value (not yet URL-encoded) for the page after one that ended at `skip` rows. */
export function encodeSkipToken(next: PageCookie, primaryKey: string, first: string, last: string): string {
  const delta = next.deltaStart !== undefined ? ` deltastart="${next.deltaStart}"` : "";
  const inner = `<cookie page="${next.pageNumber - 1}" skip="${next.skip}"${delta}><${primaryKey} last="{${last.toUpperCase()}}" first="{${first.toUpperCase()}}" /></cookie>`;
  return `<cookie pagenumber="${next.pageNumber}" pagingcookie="${encodeURIComponent(encodeURIComponent(inner))}" istracking="${next.deltaStart !== undefined ? "True" : "False"}" />`;
}

/**
 * Reads a `$skiptoken` orgbox issued (already URL-decoded once by the query parser).
 * @throws DataverseError 400 (`0x80060888`) for a token orgbox did not issue, including one whose numbers are not
 *   whole numbers up to 2^53−1 or whose page number is 0.
 */
export function decodeSkipToken(token: string): PageCookie {
  const invalid = () => dv.querySyntax("the $skiptoken is not a paging cookie issued by orgbox; replay @odata.nextLink verbatim");
  const outer = /^<cookie\s+pagenumber="(\d+)"\s+pagingcookie="([^"]*)"/.exec(token.trim());
  if (!outer) throw invalid();
  let inner: string;
  try {
    inner = decodeURIComponent(decodeURIComponent(outer[2] as string));
  } catch {
    throw invalid();
  }
  const skip = /\sskip="(\d+)"/.exec(inner);
  if (!skip) throw invalid();
  const delta = /\sdeltastart="(\d+)"/.exec(inner);
  // Every number must be one orgbox could have written: a whole number JavaScript holds exactly (SQL would
  // otherwise get a value beyond BIGINT, or a rounded one).
  const numbers = [outer[1], skip[1], delta?.[1]].filter((n): n is string => n !== undefined).map(Number);
  if (!numbers.every(Number.isSafeInteger) || Number(outer[1]) < 1) throw invalid();
  return { pageNumber: Number(outer[1]), skip: Number(skip[1]), ...(delta ? { deltaStart: Number(delta[1]) } : {}) };
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
