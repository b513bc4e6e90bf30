import type { DirectoryCursor, DirectoryFilter } from "../identity/index.ts";
import { graphError } from "./errors.ts";

/** How a property may be filtered: a scalar (`eq`, `ne`, `in`, `startswith` for strings) or a string collection (`any`). */
export type FilterableKind = "string" | "guid" | "boolean" | "collection";

/**
 * The query options an operation accepts, declared by the operation (Graph's "Optional query
 * parameters" of each API page and learn.microsoft.com/graph/aad-advanced-queries).
 */
export interface QuerySupport {
  /** The type's properties, for `$select` (canonical names). */
  select?: readonly string[];
  /** Filterable properties and how. */
  filter?: Readonly<Record<string, FilterableKind>>;
  /** Properties `$orderby` accepts. */
  orderBy?: readonly string[];
  /** A collection: `$top`, `$skiptoken`, `$count`. */
  collection?: boolean;
  /** The OData type name for errors, e.g. `microsoft.graph.application`. */
  typeName: string;
}

/** The parsed query options of one request. */
export interface ODataQuery {
  /** Canonical property names of `$select`, or undefined for all. */
  select?: string[];
  filter?: DirectoryFilter;
  orderBy?: { property: string; descending: boolean };
  /** Page size: `$top`, default 100 (Graph's default page size for directory objects). */
  top: number;
  after?: DirectoryCursor;
  /** `$count=true`. */
  count: boolean;
  /** `ConsistencyLevel: eventual` was sent: advanced queries are allowed with `$count=true`. */
  eventual: boolean;
  /** `$expand=nav` or `nav($select=a,b)`: the navigation property (canonical name) and its nested `$select`. */
  expand?: { property: string; select?: string[] };
}

/** What `$expand` may name on an operation: navigation property → the expanded type's `$select`able properties. */
export type ExpandableNavigations = Readonly<Record<string, { select: readonly string[]; typeName: string }>>;

/** Graph returns at most 20 related objects per expanded navigation property (learn.microsoft.com/graph/known-issues#directory-objects, "$expand"). */
export const EXPAND_LIMIT = 20;

/** Graph's default and largest page sizes for directory object collections. */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 999;

const KNOWN_OPTIONS = new Set(["$select", "$filter", "$top", "$orderby", "$count", "$skiptoken", "$expand"]);

/**
 * Parses the `$` query options against what the operation supports.
 * Advanced queries (`ne`, `not`, `$orderby` together with `$filter`) need `ConsistencyLevel: eventual`
 * and `$count=true`, as in Graph (learn.microsoft.com/graph/aad-advanced-queries).
 * `$expand` names one navigation property of `expandable`, optionally with a nested `$select`
 * (`owners($select=id,displayName)`); several properties, nested `$expand`, `$filter` or `$top` inside
 * it are `Request_UnsupportedQuery`, as Graph answers for directory objects.
 * @throws GraphError 400 `Request_UnsupportedQuery` for options or operators not supported here,
 *   `Request_BadRequest` for malformed values, unknown properties and `$count` without `ConsistencyLevel: eventual`.
 */
export function parseQuery(params: URLSearchParams, support: QuerySupport | undefined, consistencyLevel: string | undefined, expandable: ExpandableNavigations = {}): ODataQuery {
  const eventual = (consistencyLevel ?? "").trim().toLowerCase() === "eventual";
  const query: ODataQuery = { top: DEFAULT_PAGE_SIZE, count: false, eventual };
  const seen = new Map<string, string>();
  for (const [rawKey, value] of params) {
    const key = rawKey.toLowerCase();
    if (!key.startsWith("$")) continue;
    if (!KNOWN_OPTIONS.has(key)) throw graphError.unsupportedQuery(`Query option '${rawKey}' is not supported.`);
    if (seen.has(key)) throw graphError.badRequest(`Query option '${rawKey}' was specified more than once, but it must be specified at most once.`);
    seen.set(key, value);
  }
  const needs = (option: string, ok: boolean | undefined) => {
    if (!ok) throw graphError.unsupportedQuery(`Query option '${option}' is not supported on this request.`);
  };
  const canonical = (name: string, within: readonly string[]): string | undefined => within.find((p) => p.toLowerCase() === name.toLowerCase());

  const select = seen.get("$select");
  if (select !== undefined) {
    const properties = support?.select;
    needs("$select", properties !== undefined);
    query.select = select.split(",").map((s) => s.trim()).filter((s) => s.length > 0).map((name) => {
      const found = canonical(name, properties ?? []);
      if (!found) throw graphError.badRequest(`Could not find a property named '${name}' on type '${support?.typeName ?? ""}'.`);
      return found;
    });
  }
  const count = seen.get("$count");
  if (count !== undefined) {
    needs("$count", support?.collection);
    if (count !== "true" && count !== "false") throw graphError.badRequest(`Invalid value '${count}' for $count: true or false.`);
    query.count = count === "true";
    if (query.count && !eventual) throw graphError.badRequest("$count is not currently supported. Send the header 'ConsistencyLevel: eventual' with $count=true.");
  }
  const advanced = eventual && query.count;
  const top = seen.get("$top");
  if (top !== undefined) {
    needs("$top", support?.collection);
    const n = /^\d{1,6}$/.test(top) ? Number(top) : NaN;
    if (!(n >= 1 && n <= MAX_PAGE_SIZE)) throw graphError.badRequest(`Invalid page size specified: '${top}'. Must be between 1 and ${MAX_PAGE_SIZE} inclusive.`);
    query.top = n;
  }
  const filter = seen.get("$filter");
  if (filter !== undefined) {
    needs("$filter", support?.filter !== undefined);
    const parsed = new FilterParser(filter, support as QuerySupport).parse();
    if (parsed.advanced && !advanced) throw graphError.unsupportedQuery("Unsupported Query. This filter is an advanced query: send 'ConsistencyLevel: eventual' and $count=true.");
    query.filter = parsed.filter;
  }
  const orderBy = seen.get("$orderby");
  if (orderBy !== undefined) {
    needs("$orderby", support?.collection);
    const match = /^\s*([A-Za-z][A-Za-z0-9]*)(?:\s+(asc|desc))?\s*$/i.exec(orderBy);
    const property = match ? canonical(match[1] as string, support?.orderBy ?? []) : undefined;
    if (!match || !property) throw graphError.unsupportedQuery("Sorting not supported for current query.");
    if (query.filter && !advanced) throw graphError.unsupportedQuery("Sorting not supported for current query. $orderby with $filter is an advanced query: send 'ConsistencyLevel: eventual' and $count=true.");
    query.orderBy = { property, descending: (match[2] ?? "").toLowerCase() === "desc" };
  }
  const expand = seen.get("$expand");
  if (expand !== undefined) query.expand = parseExpand(expand, expandable);
  const skipToken = seen.get("$skiptoken");
  if (skipToken !== undefined) {
    needs("$skiptoken", support?.collection);
    query.after = decodeSkipToken(skipToken);
  }
  return query;
}

/** Encodes a keyset cursor as an opaque `$skiptoken` (base64url JSON). */
export function encodeSkipToken(cursor: DirectoryCursor): string {
  return Buffer.from(JSON.stringify([cursor.sortValue, cursor.id]), "utf8").toString("base64url");
}

/** Parses one `$expand` value against the operation's navigation properties. @throws GraphError 400 */
function parseExpand(text: string, expandable: ExpandableNavigations): { property: string; select?: string[] } {
  const match = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(?:\((.*)\))?\s*$/s.exec(text);
  if (!match) {
    if (text.includes(",")) throw graphError.unsupportedQuery("Only one navigation property can be expanded in a request.");
    throw graphError.badRequest(`Invalid $expand value '${text}'.`);
  }
  const names = Object.keys(expandable);
  const property = names.find((n) => n.toLowerCase() === (match[1] as string).toLowerCase());
  if (!property) {
    if (names.length === 0) throw graphError.unsupportedQuery("Query option '$expand' is not supported on this request.");
    throw graphError.badRequest(`Could not find a navigation property named '${match[1] as string}' to expand: ${names.join(", ")}.`);
  }
  const inner = (match[2] ?? "").trim();
  if (inner === "") return { property };
  const nested = /^\$select=([A-Za-z0-9,\s]+)$/i.exec(inner);
  if (!nested) throw graphError.unsupportedQuery(`Only $select is supported inside $expand (got '${inner}').`);
  const allowed = (expandable[property] as { select: readonly string[]; typeName: string });
  const select = (nested[1] as string).split(",").map((s) => s.trim()).filter((s) => s.length > 0).map((name) => {
    const found = allowed.select.find((p) => p.toLowerCase() === name.toLowerCase());
    if (!found) throw graphError.badRequest(`Could not find a property named '${name}' on type '${allowed.typeName}'.`);
    return found;
  });
  return { property, select };
}

/** @throws GraphError 400 for a `$skiptoken` this surface did not issue. */
function decodeSkipToken(token: string): DirectoryCursor {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2 && (typeof value[0] === "string" || value[0] === null) && typeof value[1] === "string") return { sortValue: value[0], id: value[1] };
  } catch {
    // fall through
  }
  throw graphError.badRequest("The $skiptoken is not valid: use the @odata.nextLink of the previous page as it is.");
}

type Token = { kind: "word" | "string" | "punct"; text: string; at: number };

/**
 * A recursive-descent parser for the `$filter` subset Graph supports on directory objects:
 * `eq`, `ne`, `in (…)`, `startswith(p,'v')`, `p/any(x:x eq 'v')`, `not`, `and`, `or`, parentheses;
 * literals `'…'` (`''` escapes a quote), `true`, `false`, `null`. Other operators (`gt`, `contains`,
 * `endswith`…) are `Request_UnsupportedQuery`.
 */
class FilterParser {
  private readonly tokens: Token[];
  private index = 0;
  advanced = false;
  private readonly support: QuerySupport;
  private readonly text: string;

  constructor(text: string, support: QuerySupport) {
    this.text = text;
    this.support = support;
    this.tokens = tokenize(text);
  }

  parse(): { filter: DirectoryFilter; advanced: boolean } {
    const filter = this.or();
    if (this.index < this.tokens.length) this.fail(`unexpected '${(this.tokens[this.index] as Token).text}'`);
    return { filter, advanced: this.advanced };
  }

  private fail(why: string): never {
    throw graphError.badRequest(`Invalid filter clause: ${why} in '${this.text}'.`);
  }

  private peek(): Token | undefined {
    return this.tokens[this.index];
  }

  private word(expected: string): boolean {
    const t = this.peek();
    if (t?.kind === "word" && t.text.toLowerCase() === expected) {
      this.index++;
      return true;
    }
    return false;
  }

  private punct(expected: string): void {
    const t = this.peek();
    if (t?.kind !== "punct" || t.text !== expected) this.fail(`expected '${expected}'`);
    this.index++;
  }

  private or(): DirectoryFilter {
    const operands = [this.and()];
    while (this.word("or")) operands.push(this.and());
    return operands.length === 1 ? (operands[0] as DirectoryFilter) : { op: "or", operands };
  }

  private and(): DirectoryFilter {
    const operands = [this.unary()];
    while (this.word("and")) operands.push(this.unary());
    return operands.length === 1 ? (operands[0] as DirectoryFilter) : { op: "and", operands };
  }

  private unary(): DirectoryFilter {
    if (this.word("not")) {
      this.advanced = true;
      return { op: "not", operand: this.unary() };
    }
    const t = this.peek();
    if (t?.kind === "punct" && t.text === "(") {
      this.index++;
      const inner = this.or();
      this.punct(")");
      return inner;
    }
    return this.comparison();
  }

  private property(name: string): { name: string; kind: FilterableKind } {
    const filterable = this.support.filter ?? {};
    const found = Object.keys(filterable).find((p) => p.toLowerCase() === name.toLowerCase());
    if (!found) {
      if ((this.support.select ?? []).some((p) => p.toLowerCase() === name.toLowerCase())) throw graphError.unsupportedQuery(`Unsupported or invalid query filter clause specified for property '${name}' of resource '${this.support.typeName}'.`);
      throw graphError.badRequest(`Could not find a property named '${name}' on type '${this.support.typeName}'.`);
    }
    return { name: found, kind: filterable[found] as FilterableKind };
  }

  private literal(): string | boolean | null {
    const t = this.peek();
    if (!t) this.fail("a value is missing");
    this.index++;
    if (t.kind === "string") return t.text;
    if (t.kind === "word") {
      const w = t.text.toLowerCase();
      if (w === "true") return true;
      if (w === "false") return false;
      if (w === "null") return null;
    }
    return this.fail(`'${t.text}' is not a value ('quoted string', true, false or null)`);
  }

  private comparison(): DirectoryFilter {
    const first = this.peek();
    if (first?.kind !== "word") this.fail("expected a property or function");
    this.index++;
    const name = first.text;
    const lower = name.toLowerCase();
    const next = this.peek();
    if (next?.kind === "punct" && next.text === "(") {
      if (lower !== "startswith") throw graphError.unsupportedQuery(`Unsupported Query. The function '${name}' is not supported in $filter here.`);
      this.index++;
      const propToken = this.peek();
      if (propToken?.kind !== "word") this.fail("startswith needs a property");
      this.index++;
      const property = this.property(propToken.text);
      this.punct(",");
      const value = this.literal();
      this.punct(")");
      if (property.kind !== "string" || typeof value !== "string") throw graphError.unsupportedQuery(`Unsupported or invalid query filter clause specified for property '${property.name}' of resource '${this.support.typeName}'.`);
      return { op: "startsWith", property: property.name, value };
    }
    if (next?.kind === "punct" && next.text === "/") {
      this.index++;
      const property = this.property(name);
      if (!this.word("any")) throw graphError.unsupportedQuery("Unsupported Query. Only any() applies to a collection in $filter here.");
      if (property.kind !== "collection") throw graphError.unsupportedQuery(`Unsupported or invalid query filter clause specified for property '${property.name}' of resource '${this.support.typeName}'.`);
      this.punct("(");
      const variable = this.peek();
      if (variable?.kind !== "word") this.fail("any() needs a range variable");
      this.index++;
      this.punct(":");
      const ref = this.peek();
      if (ref?.kind !== "word" || ref.text !== variable.text) this.fail(`expected '${variable.text}'`);
      this.index++;
      if (!this.word("eq")) throw graphError.unsupportedQuery("Unsupported Query. Only 'eq' applies inside any() here.");
      const value = this.literal();
      this.punct(")");
      if (typeof value !== "string") this.fail("any() compares with a quoted string");
      return { op: "any", property: property.name, value };
    }
    const property = this.property(name);
    const operator = this.peek();
    if (operator?.kind !== "word") this.fail(`expected an operator after '${name}'`);
    this.index++;
    const op = operator.text.toLowerCase();
    if (property.kind === "collection") throw graphError.unsupportedQuery(`Unsupported or invalid query filter clause specified for property '${property.name}' of resource '${this.support.typeName}'.`);
    if (op === "eq" || op === "ne") {
      if (op === "ne") this.advanced = true;
      const value = this.literal();
      this.checkValue(property, value);
      return { op, property: property.name, value };
    }
    if (op === "in") {
      this.punct("(");
      const values: (string | boolean)[] = [];
      for (;;) {
        const value = this.literal();
        if (value === null) this.fail("'in' takes no null");
        this.checkValue(property, value);
        values.push(value);
        const t = this.peek();
        if (t?.kind === "punct" && t.text === ",") {
          this.index++;
          continue;
        }
        break;
      }
      this.punct(")");
      return { op: "in", property: property.name, values };
    }
    if (["gt", "ge", "lt", "le", "has"].includes(op)) throw graphError.unsupportedQuery(`Unsupported or invalid query filter clause specified for property '${property.name}' of resource '${this.support.typeName}'.`);
    return this.fail(`'${operator.text}' is not an operator`);
  }

  private checkValue(property: { name: string; kind: FilterableKind }, value: string | boolean | null): void {
    const ok = value === null || (property.kind === "boolean" ? typeof value === "boolean" : typeof value === "string");
    if (!ok) throw graphError.badRequest(`Invalid filter clause: a ${property.kind === "boolean" ? "boolean" : "string"} value is expected for '${property.name}'.`);
  }
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'") {
      let value = "";
      let j = i + 1;
      for (;;) {
        if (j >= text.length) throw graphError.badRequest(`Invalid filter clause: an unterminated string in '${text}'.`);
        if (text[j] === "'") {
          if (text[j + 1] === "'") {
            value += "'";
            j += 2;
            continue;
          }
          break;
        }
        value += text[j];
        j++;
      }
      tokens.push({ kind: "string", text: value, at: i });
      i = j + 1;
      continue;
    }
    if ("(),/:".includes(c)) {
      tokens.push({ kind: "punct", text: c, at: i });
      i++;
      continue;
    }
    const word = /^[A-Za-z0-9_.$@-]+/.exec(text.slice(i));
    if (!word) throw graphError.badRequest(`Invalid filter clause: unexpected '${c}' in '${text}'.`);
    tokens.push({ kind: "word", text: word[0], at: i });
    i += word[0].length;
  }
  return tokens;
}
