import { dv } from "../errors.ts";

/** Parsed system query options (OData v4 Part 2 §5). */
export interface QueryOptions {
  /** `$select` column names in request order; undefined = all columns. */
  select?: string[];
  /** `$top`. */
  top?: number;
}

/** Options Dataverse knows that orgbox does not implement yet: each fails naming itself. */
const NOT_YET = new Set(["$filter", "$orderby", "$expand", "$count", "$skiptoken", "$apply", "$search", "fetchXml", "savedQuery", "userQuery", "$levels", "$compute", "$format"]);

/**
 * Splits a raw query string without treating `+` as a space (OData literals keep `+`).
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
      out.set(decodeURIComponent(rawKey), decodeURIComponent(rawValue));
    } catch {
      throw dv.querySyntax(`the query option '${rawKey}' is not valid percent-encoding`);
    }
  }
  return out;
}

/**
 * Parses `$select` and `$top`. `$skip` is refused as Dataverse refuses it;
 * options not implemented yet are refused by name, never ignored.
 */
export function parseQueryOptions(params: Map<string, string>): QueryOptions {
  const options: QueryOptions = {};
  for (const [key, value] of params) {
    if (key === "$select") {
      const columns = value.split(",").map((c) => c.trim()).filter((c) => c.length > 0);
      if (columns.length === 0) throw dv.querySyntax("$select is empty");
      options.select = columns;
    } else if (key === "$top") {
      if (!/^\d+$/.test(value)) throw dv.querySyntax(`the value '${value}' of $top is not a non-negative integer`);
      options.top = Number(value);
    } else if (key === "$skip") {
      throw dv.queryOptionNotSupported("$skip");
    } else if (NOT_YET.has(key)) {
      throw dv.queryOptionNotSupported(`${key} (not implemented by orgbox yet)`);
    } else if (key.startsWith("$")) {
      throw dv.queryOptionNotSupported(key);
    }
  }
  return options;
}
