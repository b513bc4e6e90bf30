import { dv } from "../errors.ts";

/**
 * The `$apply` subset Dataverse supports (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/aggregate-data;
 * OData Data Aggregation Extension v4.0 §3): `filter(…)` transformations, then one `groupby((…))` (with an
 * optional `aggregate(…)`) or one `aggregate(…)`, separated by `/`. Pure: binds nothing to a table.
 */
export interface ApplySpec {
  /** `filter(…)` texts, in order (each a `$filter` expression). */
  filters: string[];
  /** Grouping properties: a column, `_lookup_value`, or `navigation/column`, as path segments. */
  groupBy: string[][];
  aggregates: ApplyAggregate[];
}

/** `aggregate` methods (OData's names) Dataverse supports. */
export type AggregateMethod = "sum" | "min" | "max" | "average" | "countdistinct";

/** `$count as alias`, or `path with method as alias`. */
export type ApplyAggregate = { kind: "count"; alias: string } | { kind: "method"; path: string[]; method: AggregateMethod; alias: string };

const METHODS = new Set<string>(["sum", "min", "max", "average", "countdistinct"]);
const IDENT = "[A-Za-z_][A-Za-z0-9_]*";
const PATH_RE = new RegExp(`^${IDENT}(?:/${IDENT})?$`);
const COUNT_RE = new RegExp(`^\\$count\\s+as\\s+(${IDENT})$`);
const METHOD_RE = new RegExp(`^(${IDENT}(?:/${IDENT})?)\\s+with\\s+(${IDENT})\\s+as\\s+(${IDENT})$`);
/** Transformations of the standard that Dataverse does not support: each refused by name. */
const UNSUPPORTED = new Set(["compute", "topcount", "bottomcount", "toppercent", "bottompercent", "topsum", "bottomsum", "concat", "expand", "search", "identity", "orderby", "skip", "top", "nest", "ancestors", "descendants", "traverse"]);

function syntax(detail: string): never {
  throw dv.querySyntax(`${detail} in $apply`);
}

/**
 * Splits `text` at `separator` characters outside parentheses and `'…'` strings (`''` escapes a quote).
 * @throws DataverseError 400 for unbalanced parentheses or an unterminated string.
 */
function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") {
      i++;
      while (i < text.length && !(text[i] === "'" && text[i + 1] !== "'")) i += text[i] === "'" ? 2 : 1;
      if (i >= text.length) syntax("an unterminated string literal");
    } else if (c === "(") depth++;
    else if (c === ")") {
      depth--;
      if (depth < 0) syntax(`an unexpected ')' at position ${i}`);
    } else if (c === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) syntax("an unclosed '('");
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

/** `name(body)` → [name, body], the parentheses being the outermost pair. */
function call(text: string): [string, string] {
  const m = /^([A-Za-z$][A-Za-z0-9_]*)\s*\(/.exec(text);
  if (!m || !text.endsWith(")")) syntax(`'${text}' is not a transformation such as groupby((…)) or aggregate(…)`);
  const body = text.slice(m[0].length, -1);
  // The closing parenthesis must be the one that matches the first: "a(x) b(y)" is not one call.
  splitTopLevel(body, "\u0000");
  return [m[1] as string, body];
}

function aggregates(body: string): ApplyAggregate[] {
  const out: ApplyAggregate[] = [];
  for (const item of splitTopLevel(body, ",")) {
    const count = COUNT_RE.exec(item);
    if (count) {
      out.push({ kind: "count", alias: count[1] as string });
      continue;
    }
    const m = METHOD_RE.exec(item);
    if (!m) syntax(`'${item}' is not an aggregate expression ('column with sum as alias' or '$count as alias')`);
    const method = (m[2] as string).toLowerCase();
    if (!METHODS.has(method)) throw dv.queryOptionNotSupported(`$apply aggregate method '${m[2] as string}' (Dataverse supports sum, min, max, average and countdistinct)`);
    out.push({ kind: "method", path: (m[1] as string).split("/"), method: method as AggregateMethod, alias: m[3] as string });
  }
  const aliases = out.map((a) => a.alias.toLowerCase());
  const twice = aliases.find((a, i) => aliases.indexOf(a) !== i);
  if (twice !== undefined) syntax(`the alias '${twice}' is used twice`);
  return out;
}

/**
 * Parses a `$apply` value: `filter(…)/…/groupby((a,b),aggregate(x with sum as total))`,
 * `aggregate($count as n)`, `groupby((statuscode))`.
 * @throws DataverseError 400 `0x80060888` for a syntax error, and for a transformation or arrangement
 *   Dataverse does not support (named).
 */
export function parseApply(text: string): ApplySpec {
  if (text.trim() === "") syntax("an empty value");
  const spec: ApplySpec = { filters: [], groupBy: [], aggregates: [] };
  let grouped = false;
  for (const step of splitTopLevel(text, "/")) {
    const [name, body] = call(step);
    if (grouped) throw dv.queryOptionNotSupported(`$apply transformation '${name}' after groupby or aggregate (only filter(…) may come first)`);
    if (name === "filter") {
      if (body.trim() === "") syntax("an empty filter()");
      spec.filters.push(body);
    } else if (name === "aggregate") {
      spec.aggregates = aggregates(body);
      grouped = true;
    } else if (name === "groupby") {
      const [props, rest, ...more] = splitTopLevel(body, ",");
      if (props === undefined || !props.startsWith("(") || !props.endsWith(")")) syntax("groupby needs a parenthesised list of properties: groupby((statuscode))");
      for (const path of splitTopLevel(props.slice(1, -1), ",")) {
        if (!PATH_RE.test(path)) syntax(`'${path}' is not a grouping property`);
        spec.groupBy.push(path.split("/"));
      }
      if (rest !== undefined) {
        if (more.length > 0) syntax("groupby takes the properties and one aggregate(…)");
        const [inner, innerBody] = call(rest);
        if (inner !== "aggregate") throw dv.queryOptionNotSupported(`$apply transformation '${inner}' inside groupby (only aggregate(…) is supported)`);
        spec.aggregates = aggregates(innerBody);
      }
      grouped = true;
    } else if (UNSUPPORTED.has(name)) {
      throw dv.queryOptionNotSupported(`$apply transformation '${name}'`);
    } else {
      syntax(`'${name}' is not a transformation`);
    }
  }
  if (!grouped) throw dv.queryOptionNotSupported("$apply with filter(…) alone (use $filter, or add groupby or aggregate)");
  return spec;
}
