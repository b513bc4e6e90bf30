import { dv } from "../errors.ts";
import { parseExpand, type ExpandItem } from "./expand.ts";

/** Parsed system query options (OData v4 Part 2 §5). */
export interface QueryOptions {
  /** `$select` column names in request order; undefined = all columns. */
  select?: string[];
  /** `$top`. */
  top?: number;
  /** `$filter` text, bound to a table by the handler. */
  filter?: string;
  /** `$orderby` text. */
  orderBy?: string;
  /** `$count=true`. */
  count?: boolean;
  /** `$skiptoken` (a paging cookie orgbox issued in `@odata.nextLink`). */
  skipToken?: string;
  /** `$expand` items (navigation properties with their inner options). */
  expand?: ExpandItem[];
  /** `$deltatoken`: a change-tracking token from an `@odata.deltaLink`. */
  deltaToken?: string;
  /** `$apply`: grouping and aggregation (parsed by the handler). */
  apply?: string;
  /** `fetchXml`: a FetchXML query (decoded), run instead of the OData options. */
  fetchXml?: string;
  /** Parameter aliases (`@p1` → its literal text) referenced by `$filter`. */
  aliases: Map<string, string>;
}

/** Options Dataverse knows that orgbox does not implement yet: each fails naming itself. */
const NOT_YET = new Set(["$search", "savedQuery", "userQuery", "$levels", "$compute", "$format"]);

/**
 * Splits a raw query string the way Dataverse's ASP.NET front end does: `+` is a space
 * (form encoding, as `URLSearchParams` and curl `--data-urlencode` send it), so a literal
 * plus, such as a `+01:00` offset, must be sent as `%2B`. That is the well-known Dataverse gotcha.
 * @throws DataverseError on invalid percent-encoding.
 */
export function splitQuery(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of raw.split("&")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? "" : part.slice(eq + 1);
    try {
      out.set(decodeURIComponent(rawKey.replace(/\+/g, " ")), decodeURIComponent(rawValue.replace(/\+/g, " ")));
    } catch {
      throw dv.querySyntax(`the query option '${rawKey}' is not valid percent-encoding`);
    }
  }
  return out;
}

/**
 * Parses `$select`, `$top`, `$filter`, `$orderby`, `$count`, `$skiptoken`, `$expand`, `$apply`, `fetchXml` and `@alias` values.
 * `$skip` is refused as Dataverse refuses it (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results);
 * options not implemented yet are refused by name, never ignored.
 */
export function parseQueryOptions(params: Map<string, string>): QueryOptions {
  const options: QueryOptions = { aliases: new Map() };
  for (const [key, value] of params) {
    if (key === "$select") {
      const columns = value.split(",").map((c) => c.trim()).filter((c) => c.length > 0);
      if (columns.length === 0) throw dv.querySyntax("$select is empty");
      options.select = columns;
    } else if (key === "$top") {
      if (!/^\d+$/.test(value)) throw dv.querySyntax(`the value '${value}' of $top is not a non-negative integer`);
      options.top = Number(value);
    } else if (key === "$filter") {
      options.filter = value;
    } else if (key === "$orderby") {
      options.orderBy = value;
    } else if (key === "$count") {
      if (value !== "true" && value !== "false") throw dv.querySyntax(`the value '${value}' of $count is not 'true' or 'false'`);
      options.count = value === "true";
    } else if (key === "$expand") {
      options.expand = parseExpand(value);
    } else if (key === "$skiptoken") {
      options.skipToken = value;
    } else if (key === "$deltatoken") {
      options.deltaToken = value;
    } else if (key === "$apply") {
      options.apply = value;
    } else if (key === "fetchXml") {
      options.fetchXml = value;
    } else if (key === "$skip") {
      throw dv.queryOptionNotSupported("$skip");
    } else if (key.startsWith("@")) {
      if (!/^@[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw dv.querySyntax(`'${key}' is not a valid parameter alias name`);
      options.aliases.set(key, value);
    } else if (NOT_YET.has(key)) {
      throw dv.queryOptionNotSupported(`${key} (not implemented by orgbox yet)`);
    } else if (key.startsWith("$")) {
      throw dv.queryOptionNotSupported(key);
    }
  }
  return options;
}
