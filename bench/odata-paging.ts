/**
 * OData server-driven paging for `npm run bench`: a whole-table read the way dynamics-web-api's `retrieveAll` runs
 * it, `Prefer: odata.maxpagesize` and each `@odata.nextLink` followed
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results). Reports the time of page 1 and
 * of the deepest page reached (read by keyset after the `$skiptoken`'s row), each the median of a few repeats of the
 * same request, so the ratio shows whether a page costs the same deep in the table. Never asserts timings.
 */
import { performance } from "node:perf_hooks";
import type { OrgboxInstance } from "../src/index.ts";
import { httpsRequest } from "./http.ts";

/** What one paged read measured (milliseconds per request, medians). */
export interface ODataPagingResult {
  /** The query (without `$skiptoken`). */
  query: string;
  pageSize: number;
  pages: number;
  rowsRead: number;
  /** Every row of the pages came back once. */
  distinctRows: number;
  page1Ms: number;
  /** The last page walked, asked with the nextLink of the page before it. */
  lastPageMs: number;
  /** All pages one after another. */
  totalSeconds: number;
}

const REPEATS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/**
 * Follows `pages` nextLinks of `accounts?{query}` with `Prefer: odata.maxpagesize={pageSize}`, then repeats page 1
 * and the last page {@link REPEATS} times each.
 * @throws Error when a page is not a 200 or the read ends before `pages` pages.
 */
export async function benchODataPaging(orgbox: OrgboxInstance, token: string, query: string, pages: number, pageSize: number): Promise<ODataPagingResult> {
  const headers = { authorization: `Bearer ${token}`, accept: "application/json", prefer: `odata.maxpagesize=${pageSize}` };
  const get = async (url: string) => {
    const started = performance.now();
    const res = await httpsRequest(url, { ca: orgbox.caCert, headers });
    const ms = performance.now() - started;
    if (res.status !== 200) throw new Error(`GET ${url.slice(0, 200)} answered ${res.status}: ${res.text.slice(0, 300)}`);
    return { ms, body: JSON.parse(res.text) as { value: { accountid: string }[]; "@odata.nextLink"?: string } };
  };
  const first = `${orgbox.apiUrl}/accounts?${query}`;
  const ids = new Set<string>();
  let rowsRead = 0;
  let url: string | undefined = first;
  let last = first;
  const started = performance.now();
  for (let page = 1; page <= pages; page++) {
    if (url === undefined) throw new Error(`the read ended after ${page - 1} pages: the table holds fewer than ${pages * pageSize} accounts`);
    const { body } = await get(url);
    rowsRead += body.value.length;
    for (const r of body.value) ids.add(r.accountid);
    last = url;
    url = body["@odata.nextLink"];
  }
  const totalSeconds = (performance.now() - started) / 1000;
  const times = async (u: string) => {
    const out: number[] = [];
    for (let i = 0; i < REPEATS; i++) out.push((await get(u)).ms);
    return median(out);
  };
  return { query, pageSize, pages, rowsRead, distinctRows: ids.size, page1Ms: await times(first), lastPageMs: await times(last), totalSeconds };
}
