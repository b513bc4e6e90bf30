/**
 * FetchXML paging for `npm run bench` (issue #12): a whole-table sync the way integration platforms run it,
 * `<fetch count="5000">` over the accounts, each page asked with the previous page's paging cookie
 * (learn.microsoft.com/power-apps/developer/data-platform/fetchxml/page-results). Reports the time of page 1 and of
 * page 40 (rows 195,001–200,000, read by keyset), each the median of a few repeats of the same request, so the
 * ratio shows whether a page costs the same deep in the table; and, for reference, simple paging's page 10 (OFFSET
 * 45,000). Never asserts timings.
 */
import { performance } from "node:perf_hooks";
import type { OrgboxInstance } from "../src/index.ts";
import { httpsRequest } from "./http.ts";

/** What the FetchXML paging run measured (milliseconds per request, medians). */
export interface FetchXmlPagingResult {
  pageSize: number;
  pages: number;
  rowsRead: number;
  /** Every row of the pages came back once. */
  distinctRows: number;
  page1Ms: number;
  /** The last page, asked with the cookie of the page before it. */
  lastPageMs: number;
  /** Simple paging (no cookie): page 10, OFFSET 45,000. */
  simplePage10Ms: number;
  /** Whole sync: all pages one after another. */
  totalSeconds: number;
}

const REPEATS = 5;
const FETCH = (page: number, cookie: string | undefined, size: number) => `<fetch count="${size}" page="${page}"${cookie ? ` paging-cookie="${cookie}"` : ""}><entity name="account"><attribute name="name" /><attribute name="accountnumber" /><attribute name="numberofemployees" /></entity></fetch>`;

/** The inner cookie of a `fetchxmlpagingcookie` annotation, XML-escaped for the `paging-cookie` attribute. */
function cookieAttribute(annotation: string): string {
  const inner = /pagingcookie="([^"]*)"/.exec(annotation)?.[1] ?? "";
  return decodeURIComponent(decodeURIComponent(inner)).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * Pages through `pages` pages of `pageSize` accounts with cookies, then repeats page 1, the last page and simple
 * paging's page 10 {@link REPEATS} times each.
 * @throws Error when a page is not a 200 or the table has fewer than `pages * pageSize` rows.
 */
export async function benchFetchXmlPaging(orgbox: OrgboxInstance, token: string, pages = 40, pageSize = 5000): Promise<FetchXmlPagingResult> {
  const headers = { authorization: `Bearer ${token}`, accept: "application/json" };
  const get = async (page: number, cookie: string | undefined) => {
    const started = performance.now();
    const res = await httpsRequest(`${orgbox.apiUrl}/accounts?fetchXml=${encodeURIComponent(FETCH(page, cookie, pageSize))}`, { ca: orgbox.caCert, headers });
    const ms = performance.now() - started;
    if (res.status !== 200) throw new Error(`FetchXML page ${page} answered ${res.status}: ${res.text.slice(0, 300)}`);
    return { ms, body: JSON.parse(res.text) as { value: { accountid: string }[]; "@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"?: string } };
  };
  const ids = new Set<string>();
  let rowsRead = 0;
  let cookie: string | undefined;
  let lastCookie: string | undefined;
  const started = performance.now();
  for (let page = 1; page <= pages; page++) {
    const { body } = await get(page, cookie);
    rowsRead += body.value.length;
    for (const r of body.value) ids.add(r.accountid);
    const annotation = body["@Microsoft.Dynamics.CRM.fetchxmlpagingcookie"];
    if (page < pages && annotation === undefined) throw new Error(`page ${page} has no paging cookie: the table holds fewer than ${pages * pageSize} accounts`);
    lastCookie = cookie;
    cookie = annotation ? cookieAttribute(annotation) : undefined;
  }
  const totalSeconds = (performance.now() - started) / 1000;
  const times = async (page: number, c: string | undefined) => {
    const out: number[] = [];
    for (let i = 0; i < REPEATS; i++) out.push((await get(page, c)).ms);
    return median(out);
  };
  return { pageSize, pages, rowsRead, distinctRows: ids.size, page1Ms: await times(1, undefined), lastPageMs: await times(pages, lastCookie), simplePage10Ms: await times(10, undefined), totalSeconds };
}
