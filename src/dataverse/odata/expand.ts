import { dv } from "../errors.ts";

/** Dataverse accepts at most 15 `$expand` items per request (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/join-tables). */
const MAX_EXPANDS = 15;

/** One parsed `$expand` item: `nav($select=a,b;$filter=…;$orderby=…;$top=n;$expand=…)`. */
export interface ExpandItem {
  /** Navigation property name as written. */
  property: string;
  /** Inner `$select` column names; undefined = all columns. */
  select?: string[];
  /** Inner `$filter` text (collection-valued properties only). */
  filter?: string;
  /** Inner `$orderby` text (collection-valued properties only). */
  orderBy?: string;
  /** Inner `$top` (collection-valued properties only). */
  top?: number;
  /** Nested expands. */
  expand?: ExpandItem[];
  /** `nav/$ref`: references (`@odata.id`) instead of records (single-valued properties only). */
  ref?: boolean;
}

/** Options Dataverse refuses inside `$expand` (join-tables.md: "not supported: $skip, $count, $search, $levels"). */
const REFUSED_INNER = new Set(["$skip", "$count", "$search", "$levels", "$apply", "$compute", "$skiptoken"]);

/**
 * Splits `text` at `separator` where it is outside parentheses and single-quoted OData string
 * literals (`''` is an escaped quote inside a literal).
 * @throws DataverseError 400 `0x80060888` for unbalanced parentheses or an unterminated literal.
 */
function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") quoted = !quoted;
    else if (quoted) continue;
    else if (c === "(") depth++;
    else if (c === ")") {
      depth--;
      if (depth < 0) throw dv.querySyntax(`unbalanced ')' in $expand '${text}'`);
    } else if (c === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted) throw dv.querySyntax(`unterminated string literal in $expand '${text}'`);
  if (depth !== 0) throw dv.querySyntax(`unbalanced '(' in $expand '${text}'`);
  parts.push(text.slice(start));
  return parts;
}

/** Total number of expand items in a tree (every level counts toward the limit of 15). */
export function countExpands(items: ExpandItem[]): number {
  return items.reduce((n, item) => n + 1 + countExpands(item.expand ?? []), 0);
}

function parseItem(raw: string): ExpandItem {
  const text = raw.trim();
  const ref = /^([A-Za-z_][A-Za-z0-9_]*)\/\$ref$/.exec(text);
  if (ref) return { property: ref[1] as string, ref: true };
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:\((.*)\))?$/s.exec(text);
  if (!match) throw dv.querySyntax(`'${text}' in $expand is not 'navigationProperty' or 'navigationProperty(options)'`);
  const item: ExpandItem = { property: match[1] as string };
  const inner = match[2];
  if (inner === undefined || inner.trim() === "") return item;
  for (const option of splitTopLevel(inner, ";")) {
    const eq = option.indexOf("=");
    const key = (eq < 0 ? option : option.slice(0, eq)).trim();
    const value = eq < 0 ? "" : option.slice(eq + 1).trim();
    if (REFUSED_INNER.has(key)) throw dv.queryOptionNotSupported(`${key} inside $expand (${item.property})`);
    if (key === "$select") {
      const columns = value.split(",").map((c) => c.trim()).filter((c) => c.length > 0);
      if (columns.length === 0) throw dv.querySyntax(`$select inside $expand (${item.property}) is empty`);
      item.select = columns;
    } else if (key === "$filter") {
      item.filter = value;
    } else if (key === "$orderby") {
      item.orderBy = value;
    } else if (key === "$top") {
      if (!/^\d+$/.test(value)) throw dv.querySyntax(`the value '${value}' of $top inside $expand (${item.property}) is not a non-negative integer`);
      item.top = Number(value);
    } else if (key === "$expand") {
      item.expand = parseExpandList(value);
    } else {
      throw dv.queryOptionNotSupported(`${key} inside $expand (${item.property})`);
    }
  }
  // join-tables.md: "$orderby and $top aren't supported with nested $expand" (0x80060888).
  if (item.expand && item.top !== undefined) throw dv.queryOptionNotSupported(`$top with a nested $expand (${item.property})`);
  if (item.expand && item.orderBy !== undefined) throw dv.queryOptionNotSupported(`$orderby with a nested $expand (${item.property})`);
  return item;
}

function parseExpandList(text: string): ExpandItem[] {
  const items = splitTopLevel(text, ",").map(parseItem);
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.property)) throw dv.querySyntax(`the navigation property '${item.property}' appears twice in $expand`);
    seen.add(item.property);
  }
  return items;
}

/**
 * Parses a `$expand` value: a comma-separated list of `nav` or `nav(options)` where options are
 * `;`-separated `$select`, `$filter`, `$orderby`, `$top` and `$expand`
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/join-tables).
 * Which options apply to which kind of navigation property is checked when the items are bound to a table.
 * @throws DataverseError 400 `0x80060888` for a syntax error, more than 15 expands, `$skip`/`$count`/`$search`/`$levels`
 * inside an expand, or `$top`/`$orderby` combined with a nested `$expand`.
 */
export function parseExpand(text: string): ExpandItem[] {
  if (text.trim() === "") throw dv.querySyntax("$expand is empty");
  const items = parseExpandList(text);
  const total = countExpands(items);
  if (total > MAX_EXPANDS) throw dv.queryOptionNotSupported(`$expand with ${total} navigation properties (the maximum is ${MAX_EXPANDS})`);
  return items;
}

/** The `@odata.context` select-list part for expands: `nav(a,b)` or `nav()` (OData v4.01 Part 1 §10.9). */
export function expandContext(items: ExpandItem[]): string[] {
  return items.flatMap((item) => {
    // Dataverse writes a reference expand as `primarycontactid,primarycontactid/$ref()`.
    if (item.ref) return [item.property, `${item.property}/$ref()`];
    const inner = [...(item.select ?? []), ...expandContext(item.expand ?? [])];
    return [`${item.property}(${inner.join(",")})`];
  });
}
