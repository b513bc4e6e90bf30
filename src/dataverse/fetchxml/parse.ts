import { XMLParser, XMLValidator } from "fast-xml-parser";
import { DataverseError } from "../errors.ts";

/**
 * FetchXML as orgbox understands it: the elements and attributes of
 * learn.microsoft.com/power-apps/developer/data-platform/fetchxml/reference that orgbox implements.
 * Anything else fails naming itself ({@link fetchErrors.unsupported}).
 */
export interface FetchSpec {
  top?: number;
  /** Page size (`count`). */
  count?: number;
  /** 1-based page number (`page`). */
  page?: number;
  /** `paging-cookie`: the inner cookie of the previous page, XML-decoded once (see `paging.ts`). */
  pagingCookie?: string;
  /** `returntotalrecordcount`: count the matching rows, up to 5000 (fetchxml/count-rows). */
  returnTotalRecordCount: boolean;
  distinct: boolean;
  aggregate: boolean;
  entity: FetchEntity;
}

/** `<attribute>`. */
export interface FetchAttribute {
  name: string;
  alias?: string;
  groupby: boolean;
  aggregate?: "count" | "countcolumn" | "sum" | "avg" | "min" | "max";
  distinct: boolean;
  /** `dategrouping`: group a date and time column by this part (UTC). */
  dategrouping?: DatePart;
}

/** The `dategrouping` values orgbox supports (fetchxml/reference/attribute#dategrouping). */
export type DatePart = "year" | "quarter" | "month" | "day";
const DATE_PARTS = new Set<string>(["year", "quarter", "month", "day"]);
/** Documented `dategrouping` values orgbox refuses by name. */
const UNSUPPORTED_DATE_PARTS = new Set(["week", "fiscal-period", "fiscal-year"]);

/** `<order>`: by a column, or (aggregates) by an attribute alias. */
export interface FetchOrder {
  attribute?: string;
  alias?: string;
  descending: boolean;
}

/** `<condition>`; `values` holds the `<value>` children (in, not-in, between). */
export interface FetchCondition {
  /** `entityname`: the alias (or name) of a link-entity whose column the condition tests. */
  entityName?: string;
  attribute: string;
  operator: string;
  value?: string;
  values: string[];
  /** `valueof`: compare with another column of the row (`column`, or `alias.column` of a link-entity). */
  otherColumn?: string;
}

/** `<filter>`: its conditions, nested filters and `any`/`not any`/`all`/`not all` link-entities combined with `type`. */
export interface FetchFilter {
  type: "and" | "or";
  conditions: FetchCondition[];
  filters: FetchFilter[];
  links: FetchLink[];
}

/** The children shared by `<entity>` and `<link-entity>`. */
export interface FetchNode {
  name: string;
  allAttributes: boolean;
  attributes: FetchAttribute[];
  orders: FetchOrder[];
  filters: FetchFilter[];
  links: FetchLink[];
}

/** `<entity>`. */
export type FetchEntity = FetchNode;

/**
 * `link-type` values (fetchxml/reference/link-entity): `inner` and `outer` join; the others test for
 * related rows without returning their columns. `exists` and `in` stand beside attributes; `any`,
 * `not any`, `all` and `not all` stand inside a `<filter>`.
 */
export type LinkType = "inner" | "outer" | "exists" | "in" | "any" | "not any" | "all" | "not all";

/** Link types that filter by related rows instead of joining them. */
export const SEMI_JOIN_TYPES: ReadonlySet<LinkType> = new Set(["exists", "in", "any", "not any", "all", "not all"]);
const FILTER_LINK_TYPES: ReadonlySet<string> = new Set(["any", "not any", "all", "not all"]);

/** `<link-entity>`. */
export interface FetchLink extends FetchNode {
  from: string;
  to: string;
  /** `LEFT JOIN` (`link-type="outer"`). */
  outer: boolean;
  type: LinkType;
  alias?: string;
}

/** Dataverse error envelopes for FetchXML requests (400s). */
export const fetchErrors = {
  /** Malformed XML or a structurally invalid query. */
  invalid: (detail: string) => new DataverseError(400, "0x80040203", `Invalid FetchXML: ${detail}`),
  /** Valid FetchXML that orgbox does not implement. */
  unsupported: (what: string) => new DataverseError(400, "0x80060888", `FetchXML ${what} is not supported by orgbox`),
  /** A column that the table does not have (QueryBuilderNoAttribute). */
  noAttribute: (entity: string, attribute: string) => new DataverseError(400, "0x80041103", `'${entity}' entity doesn't contain attribute with Name = '${attribute}' and NameMapping = 'Logical'.`),
};

/** An element as fast-xml-parser returns it with `attributesGroupName: "$"` and every child an array. */
type XmlElement = { $?: Record<string, string>; "#text"?: string } & { [child: string]: XmlElement[] | Record<string, string> | string | undefined };

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", attributesGroupName: "$", isArray: (name: string, _path: unknown, _leaf: unknown, isAttribute: boolean) => !isAttribute && name !== "$", parseTagValue: false, parseAttributeValue: false, trimValues: true });

/** Attributes Dataverse accepts that change nothing in orgbox's results. */
const IGNORED = new Set(["mapping", "version", "output-format", "no-lock", "useraworderby", "latematerialize"]);

function attrs(element: XmlElement, tag: string, allowed: string[]): Record<string, string> {
  const found = element.$ ?? {};
  for (const key of Object.keys(found)) if (!allowed.includes(key) && !IGNORED.has(key)) throw fetchErrors.unsupported(`attribute '${key}' on <${tag}>`);
  return found;
}

function children(element: XmlElement, tag: string, allowed: string[]): [string, XmlElement][] {
  const out: [string, XmlElement][] = [];
  for (const [key, value] of Object.entries(element)) {
    if (key === "$") continue;
    if (key === "#text") throw fetchErrors.invalid(`<${tag}> cannot contain text`);
    if (!allowed.includes(key)) throw fetchErrors.unsupported(`element <${key}> in <${tag}>`);
    for (const child of value as XmlElement[]) out.push([key, child]);
  }
  return out;
}

function bool(value: string | undefined, name: string): boolean {
  if (value === undefined) return false;
  if (/^(true|1)$/i.test(value)) return true;
  if (/^(false|0)$/i.test(value)) return false;
  throw fetchErrors.invalid(`'${value}' is not a valid value for '${name}' (true or false)`);
}

function positive(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) throw fetchErrors.invalid(`'${value}' is not a valid value for '${name}' (a positive whole number)`);
  return Number(value);
}

function required(a: Record<string, string>, name: string, tag: string): string {
  const value = a[name];
  if (value === undefined || value === "") throw fetchErrors.invalid(`<${tag}> needs the '${name}' attribute`);
  return value;
}

const AGGREGATES = ["count", "countcolumn", "sum", "avg", "min", "max"] as const;

function attribute(element: XmlElement): FetchAttribute {
  children(element, "attribute", []);
  const a = attrs(element, "attribute", ["name", "alias", "groupby", "aggregate", "distinct", "dategrouping", "usertimezone"]);
  const aggregate = a.aggregate;
  if (aggregate !== undefined && !(AGGREGATES as readonly string[]).includes(aggregate)) throw fetchErrors.unsupported(`aggregate '${aggregate}'`);
  const part = a.dategrouping;
  if (part !== undefined && UNSUPPORTED_DATE_PARTS.has(part)) throw fetchErrors.unsupported(`dategrouping '${part}'`);
  if (part !== undefined && !DATE_PARTS.has(part)) throw fetchErrors.invalid(`'${part}' is not a dategrouping (day, week, month, quarter, year, fiscal-period, fiscal-year)`);
  if (part !== undefined && !bool(a.groupby, "groupby")) throw fetchErrors.invalid(`dategrouping on '${a.name ?? ""}' needs groupby="true"`);
  // Dates are grouped in UTC; usertimezone="false" asks for exactly that, "true" (the default) is not honoured.
  if (a.usertimezone !== undefined) bool(a.usertimezone, "usertimezone");
  return {
    ...(part !== undefined ? { dategrouping: part as DatePart } : {}),
    name: required(a, "name", "attribute"),
    ...(a.alias !== undefined ? { alias: a.alias } : {}),
    groupby: bool(a.groupby, "groupby"),
    ...(aggregate !== undefined ? { aggregate: aggregate as FetchAttribute["aggregate"] & string } : {}),
    distinct: bool(a.distinct, "distinct"),
  };
}

function order(element: XmlElement): FetchOrder {
  children(element, "order", []);
  const a = attrs(element, "order", ["attribute", "alias", "descending"]);
  if ((a.attribute === undefined) === (a.alias === undefined)) throw fetchErrors.invalid("<order> needs exactly one of 'attribute' and 'alias'");
  return { ...(a.attribute !== undefined ? { attribute: a.attribute } : {}), ...(a.alias !== undefined ? { alias: a.alias } : {}), descending: bool(a.descending, "descending") };
}

function condition(element: XmlElement): FetchCondition {
  const a = attrs(element, "condition", ["attribute", "operator", "value", "entityname", "valueof"]);
  const values = children(element, "condition", ["value"]).map(([, v]) => {
    // A text-only element comes back as its text.
    if (typeof v !== "object") return String(v);
    attrs(v, "value", []);
    const other = Object.keys(v).find((key) => key !== "$" && key !== "#text");
    if (other !== undefined) throw fetchErrors.unsupported(`element <${other}> in <value>`);
    return String(v["#text"] ?? "");
  });
  if (a.valueof !== undefined && (a.value !== undefined || values.length > 0)) throw fetchErrors.invalid("a condition with 'valueof' takes no value");
  return {
    ...(a.entityname !== undefined ? { entityName: a.entityname } : {}),
    attribute: required(a, "attribute", "condition"),
    operator: required(a, "operator", "condition"),
    ...(a.value !== undefined ? { value: a.value } : {}),
    values,
    ...(a.valueof !== undefined ? { otherColumn: a.valueof } : {}),
  };
}

function filter(element: XmlElement): FetchFilter {
  const a = attrs(element, "filter", ["type"]);
  const type = a.type ?? "and";
  if (type !== "and" && type !== "or") throw fetchErrors.invalid(`'${type}' is not a valid filter type (and, or)`);
  const out: FetchFilter = { type, conditions: [], filters: [], links: [] };
  for (const [tag, child] of children(element, "filter", ["condition", "filter", "link-entity"])) {
    if (tag === "condition") out.conditions.push(condition(child));
    else if (tag === "filter") out.filters.push(filter(child));
    else {
      const nested = link(child);
      if (!FILTER_LINK_TYPES.has(nested.type)) throw fetchErrors.invalid(`a <link-entity> inside a <filter> needs link-type 'any', 'not any', 'all' or 'not all' (not '${nested.type}')`);
      out.links.push(nested);
    }
  }
  return out;
}

function node(element: XmlElement, tag: string, name: string): FetchNode {
  const out: FetchNode = { name, allAttributes: false, attributes: [], orders: [], filters: [], links: [] };
  for (const [child, value] of children(element, tag, ["attribute", "all-attributes", "order", "filter", "link-entity"])) {
    if (child === "attribute") out.attributes.push(attribute(value));
    else if (child === "all-attributes") {
      attrs(value, "all-attributes", []);
      out.allAttributes = true;
    } else if (child === "order") out.orders.push(order(value));
    else if (child === "filter") out.filters.push(filter(value));
    else {
      const nested = link(value);
      if (FILTER_LINK_TYPES.has(nested.type)) throw fetchErrors.invalid(`a <link-entity> with link-type '${nested.type}' must stand inside a <filter>`);
      out.links.push(nested);
    }
  }
  return out;
}

const LINK_TYPES: ReadonlySet<string> = new Set<LinkType>(["inner", "outer", ...SEMI_JOIN_TYPES]);

/**
 * `<link-entity>`. `intersect="true"` (a link to an N:N intersect table, whose columns are usually
 * not returned) and `visible` are accepted: they change nothing in how the join is built.
 */
function link(element: XmlElement): FetchLink {
  const a = attrs(element, "link-entity", ["name", "from", "to", "link-type", "alias", "intersect", "visible"]);
  bool(a.intersect, "intersect");
  bool(a.visible, "visible");
  const type = a["link-type"] ?? "inner";
  if (type === "matchfirstrowusingcrossapply") throw fetchErrors.unsupported(`link-type '${type}'`);
  if (!LINK_TYPES.has(type)) throw fetchErrors.invalid(`'${type}' is not a valid link-type (inner, outer, exists, in, any, not any, all, not all, matchfirstrowusingcrossapply)`);
  const out: FetchLink = { ...node(element, "link-entity", required(a, "name", "link-entity")), from: required(a, "from", "link-entity"), to: required(a, "to", "link-entity"), outer: type === "outer", type: type as LinkType, ...(a.alias !== undefined ? { alias: a.alias } : {}) };
  if (SEMI_JOIN_TYPES.has(out.type)) {
    // These link types return no columns (fetchxml/reference/link-entity).
    if (out.attributes.length > 0 || out.allAttributes || out.orders.length > 0) throw fetchErrors.invalid(`a <link-entity> with link-type '${type}' returns no columns: remove its <attribute>, <all-attributes> and <order> elements`);
    if (out.links.length > 0) throw fetchErrors.unsupported(`<link-entity> inside a <link-entity> of link-type '${type}' (use a nested <filter> with link-type 'any')`);
  }
  return out;
}

/**
 * Parses a FetchXML document (learn.microsoft.com/power-apps/developer/data-platform/fetchxml/reference/fetch).
 * `paging-cookie` is kept as text; `readFetchXml` decides whether it applies to the query (fetchxml/page-results).
 * @throws DataverseError 400 on malformed XML, unknown elements or attributes, or invalid values.
 */
export function parseFetchXml(xml: string): FetchSpec {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw fetchErrors.invalid(`${valid.err.msg} (line ${valid.err.line})`);
  let doc: Record<string, XmlElement[]>;
  try {
    doc = parser.parse(xml) as Record<string, XmlElement[]>;
  } catch (error) {
    // The parser's own limits (nesting depth, entity expansion) on a document the validator accepted.
    throw fetchErrors.invalid((error as Error).message);
  }
  const roots = Object.entries(doc).filter(([key]) => key !== "?xml");
  const [root] = roots;
  if (roots.length !== 1 || !root || root[0] !== "fetch" || root[1].length !== 1) throw fetchErrors.invalid("the document element must be a single <fetch>");
  const fetch = root[1][0] as XmlElement;
  const a = attrs(fetch, "fetch", ["top", "count", "page", "paging-cookie", "distinct", "aggregate", "returntotalrecordcount"]);
  const entities = children(fetch, "fetch", ["entity"]);
  const [entity] = entities;
  if (entities.length !== 1 || !entity) throw fetchErrors.invalid("<fetch> needs exactly one <entity>");
  const entityAttrs = attrs(entity[1], "entity", ["name"]);
  const spec: FetchSpec = {
    distinct: bool(a.distinct, "distinct"),
    aggregate: bool(a.aggregate, "aggregate"),
    returnTotalRecordCount: bool(a.returntotalrecordcount, "returntotalrecordcount"),
    entity: node(entity[1], "entity", required(entityAttrs, "name", "entity")),
  };
  const top = positive(a.top, "top");
  const count = positive(a.count, "count");
  const page = positive(a.page, "page");
  if (top !== undefined) spec.top = top;
  if (count !== undefined) spec.count = count;
  if (page !== undefined) spec.page = page;
  // An empty paging-cookie (paging-cookie='' on the first page, as Microsoft's samples send) is no cookie.
  if (a["paging-cookie"] !== undefined && a["paging-cookie"].trim() !== "") spec.pagingCookie = a["paging-cookie"];
  if (top !== undefined && spec.returnTotalRecordCount) throw fetchErrors.invalid("the 'top' attribute can't be specified with 'returntotalrecordcount'");
  if (top !== undefined && (count !== undefined || (page !== undefined && page > 1))) throw fetchErrors.invalid("the 'top' attribute can't be specified with paging attribute 'count' or 'page'");
  return spec;
}
