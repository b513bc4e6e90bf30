/**
 * Generators of Web API inputs for the fuzz targets: `$filter` expressions (a grammar and token soup),
 * `$orderby`/`$select`/`$expand`/`$apply`, paging cookies, FetchXML documents, JSON record bodies and
 * `$batch` bodies. Each mixes well-formed pieces (so cases reach deep code) with arbitrary text.
 */
import fc from "fast-check";
import { DEMO } from "../../src/index.ts";
import { anyText, edgeNumber, enc, soup, vocabOrText } from "./fuzz.ts";

export const SETS = ["accounts", "contacts", "leads", "opportunities", "tasks", "annotations", "systemusers", "businessunits", "teams", "roles", "emails", "phonecalls"] as const;
export const COLUMNS = [
  "name", "accountid", "contactid", "numberofemployees", "revenue", "creditonhold", "createdon", "modifiedon", "statecode", "statuscode", "industrycode",
  "versionnumber", "_primarycontactid_value", "_parentcustomerid_value", "_ownerid_value", "_owninguser_value", "_createdby_value", "address1_city",
  "description", "emailaddress1", "fullname", "firstname", "lastname", "birthdate", "telephone1", "subject", "estimatedvalue", "primarycontactid/fullname",
  "parentcustomerid_account/name", "ownerid", "transactioncurrencyid", "exchangerate", "accountnumber", "donotemail",
] as const;
export const NAVIGATIONS = ["primarycontactid", "contact_customer_accounts", "parentcustomerid_account", "ownerid", "owninguser", "createdby", "Account_Tasks", "Account_Annotation", "account_primary_contact", "transactioncurrencyid", "systemuserroles_association", "regardingobjectid_account_task"] as const;
const GUIDS = ["c0de0001-0000-4000-8000-000000000001", DEMO.org.rootBusinessUnitId, DEMO.org.applicationUserId, "00000000-0000-0000-0000-000000000000", "C0DE0001-0000-4000-8000-000000000002", "{c0de0001-0000-4000-8000-000000000003}"];

const literal = fc.oneof(
  fc.constantFrom("'Contoso Ltd'", "'it''s'", "''", "'%'", "'_'", "'[a-c]'", "'[^a]'", "true", "false", "null", "2024-01-01", "2024-02-30", "2024-01-01T00:00:00Z", "2024-01-01T25:61:00+14:00", "@p1", "-INF", "INF", "NaN", "1.5M", "2d", "1e5f"),
  edgeNumber,
  fc.constantFrom(...GUIDS),
  anyText(10).map((s) => `'${s.replace(/'/g, "''")}'`),
  anyText(6),
);
const column = vocabOrText(COLUMNS);
const comparison = fc.tuple(column, fc.constantFrom("eq", "ne", "gt", "ge", "lt", "le", "has", "in", "add", "eqq"), literal).map(([c, op, l]) => `${c} ${op} ${l}`);
const stringFunction = fc.tuple(fc.constantFrom("contains", "startswith", "endswith", "tolower", "toupper", "length", "substring", "indexof", "trim", "concat", "year", "month", "day", "hour", "date", "now", "round", "floor"), column, literal).map(([f, c, l]) => `${f}(${c},${l})`);
const crmFunction = fc
  .tuple(
    fc.constantFrom("In", "NotIn", "Between", "NotBetween", "LastXDays", "NextXHours", "Today", "Yesterday", "OnOrAfter", "EqualUserId", "EqualBusinessId", "Under", "Above", "UnderOrEqual", "ContainValues", "DoesNotContainValues", "InFiscalYear", "Unknown"),
    column,
    fc.array(literal, { maxLength: 3 }),
    fc.constantFrom("PropertyValues", "PropertyValue", "Value", ""),
  )
  .map(([f, c, values, p]) => `Microsoft.Dynamics.CRM.${f}(PropertyName='${c}'${p ? `,${p}=${p === "PropertyValues" ? `[${values.map((v) => (v.startsWith("'") ? `"${v.slice(1, -1)}"` : v)).join(",")}]` : (values[0] ?? "1")}` : ""})`);
const lambda = fc.tuple(vocabOrText(NAVIGATIONS), fc.constantFrom("any", "all", "count"), comparison).map(([n, f, body]) => `${n}/${f}(o:o/${body})`);

/** `$filter` expressions: a small grammar (comparisons, functions, lambdas, and/or/not, parentheses) plus soup. */
export const filterExpression: fc.Arbitrary<string> = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { maxDepth: 4, depthIdentifier: "filter", withCrossShrink: true },
    comparison,
    stringFunction,
    crmFunction,
    lambda,
    fc.tuple(tie("expr"), fc.constantFrom(" and ", " or ", " AND ", " "), tie("expr")).map(([a, op, b]) => `${a}${op}${b}`),
    tie("expr").map((e) => `not ${e}`),
    tie("expr").map((e) => `(${e})`),
    soup(["(", ")", "eq", "and", "or", "not", "'", "name", "contains", ",", "/", "any", "o:", "$it", "@p1", "null"]),
  ),
})).expr;

export const orderby = fc.array(fc.tuple(column, fc.constantFrom("", " asc", " desc", " up", "  desc ")).map(([c, d]) => `${c}${d}`), { maxLength: 4 }).map((a) => a.join(","));
export const select = fc.array(column, { maxLength: 5 }).map((a) => a.join(","));

/** `$expand` with nested options (`$select`, `$filter`, `$orderby`, `$top`, `$expand`, and ones Dataverse refuses). */
export const expand: fc.Arbitrary<string> = fc.letrec<{ item: string }>((tie) => ({
  item: fc.oneof(
    { maxDepth: 3, depthIdentifier: "expand" },
    vocabOrText(NAVIGATIONS),
    fc
    .tuple(
      vocabOrText(NAVIGATIONS),
      fc.array(
        fc.oneof(
          select.map((s) => `$select=${s}`),
          filterExpression.map((f) => `$filter=${f}`),
          orderby.map((o) => `$orderby=${o}`),
          edgeNumber.map((n) => `$top=${n}`),
          fc.constantFrom("$count=true", "$skip=1", "$levels=2", "$search=x", "$ref"),
          tie("item").map((e) => `$expand=${e}`),
        ),
        { maxLength: 3 },
      ),
    )
    .map(([nav, options]) => (options.length > 0 ? `${nav}(${options.join(";")})` : nav)),
  ),
})).item;

/** `$apply` transformations: filter, groupby, aggregate, in sequences, and soup. */
export const apply = fc.oneof(
  fc
    .array(
      fc.oneof(
        filterExpression.map((f) => `filter(${f})`),
        fc.tuple(fc.array(column, { maxLength: 3 }), fc.option(fc.tuple(column, fc.constantFrom("sum", "average", "min", "max", "countdistinct", "count", "median"), anyText(6)))).map(
          ([cols, agg]) => `groupby((${cols.join(",")})${agg ? `,aggregate(${agg[0]} with ${agg[1]} as ${agg[2]})` : ""})`,
        ),
        fc.tuple(column, fc.constantFrom("sum", "average", "min", "max", "countdistinct"), vocabOrText(["total", "x", "$count"])).map(([c, f, a]) => `aggregate(${c} with ${f} as ${a})`),
        fc.constantFrom("aggregate($count as c)", "groupby((name))", "topcount(5,name)", "compute(name as x)"),
      ),
      { minLength: 1, maxLength: 3 },
    )
    .map((steps) => steps.join("/")),
  soup(["groupby", "aggregate", "filter", "(", ")", "with", "as", "sum", "/", ",", "$count", "name"]),
);

/** Paging cookies: orgbox's shape with mutated numbers, keys and encodings, and arbitrary text. */
export const skipToken = fc.oneof(
  fc
    .tuple(edgeNumber, edgeNumber, fc.option(edgeNumber), vocabOrText(["accountid", "contactid", "name"]), fc.constantFrom(...GUIDS, "", "x"), fc.constantFrom(0, 1, 2), fc.constantFrom("False", "True", "maybe"))
    .map(([page, skip, delta, key, id, encodings, tracking]) => {
      let inner = `<cookie page="1" skip="${skip}"${delta !== null ? ` deltastart="${delta}"` : ""}><${key} last="{${id}}" first="{${id}}" /></cookie>`;
      for (let i = 0; i < encodings; i++) inner = enc(inner);
      return `<cookie pagenumber="${page}" pagingcookie="${inner}" istracking="${tracking}" />`;
    }),
  anyText(60),
  soup(["<cookie", "pagenumber=", '"2"', "pagingcookie=", "%25", "%253c", "/>", "skip=", "deltastart=", "istracking="]),
);

const FETCH_ATTRIBUTES = ["name", "alias", "aggregate", "groupby", "distinct", "dategrouping", "usertimezone", "attribute", "operator", "value", "valueof", "from", "to", "link-type", "entityname", "descending", "type", "top", "count", "page", "paging-cookie", "version", "mapping", "uiname", "uitype", "intersect", "visible", "enableprefiltering"] as const;
const FETCH_VALUES = ["account", "contact", "name", "accountid", "numberofemployees", "createdon", "true", "false", "eq", "ne", "like", "in", "between", "last-x-days", "under", "eq-userid", "begins-with", "null", "not-null", "count", "countcolumn", "sum", "avg", "min", "max", "year", "week", "fiscal-period", "outer", "inner", "exists", "any", "not-any", "all", "and", "or", "parentcustomerid", "primarycontactid", "5", "0", "-1", "5001", "%", "a"] as const;

/** FetchXML documents: elements and attributes from Dataverse's schema, nested, with mutated values; plus broken XML. */
export const fetchXml: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc
    .letrec<{ element: string }>((tie) => ({
      element: fc.oneof(
        { maxDepth: 3, depthIdentifier: "fetch" },
        fc.constantFrom('<attribute name="name" />', '<condition attribute="name" operator="eq" value="x" />', "<all-attributes />", '<order attribute="name" />'),
        fc
        .tuple(
          fc.constantFrom("entity", "attribute", "all-attributes", "filter", "condition", "value", "order", "link-entity", "fetch", "unknown"),
          fc.array(fc.tuple(vocabOrText(FETCH_ATTRIBUTES), vocabOrText(FETCH_VALUES)), { maxLength: 4 }),
          fc.array(tie("element"), { maxLength: 3 }),
          fc.option(anyText(6)),
        )
        .map(([tag, attributes, children, text]) => {
          const attrs = attributes.map(([k, v]) => ` ${k}="${v.replace(/[&"<]/g, (c) => ({ "&": "&amp;", '"': "&quot;", "<": "&lt;" })[c] as string)}"`).join("");
          const inner = children.join("") + (text ?? "").replace(/[<&]/g, "");
          return inner === "" ? `<${tag}${attrs} />` : `<${tag}${attrs}>${inner}</${tag}>`;
        }),
      ),
    }))
    .element.chain((entityBody) =>
      fc
        .tuple(fc.array(fc.tuple(vocabOrText(["aggregate", "distinct", "top", "count", "page", "paging-cookie", "no-lock", "returntotalrecordcount"]), vocabOrText(["true", "false", "5", "2", "0"])), { maxLength: 3 }), vocabOrText(["account", "contact", "systemuser", "role", "task"]))
        .map(([attrs, entity]) => `<fetch${attrs.map(([k, v]) => ` ${k}="${v.replace(/"/g, "")}"`).join("")}><entity name="${entity.replace(/"/g, "")}">${entityBody}</entity></fetch>`),
    ) },
  { weight: 1, arbitrary: anyText(80) },
  { weight: 1, arbitrary: soup(["<fetch>", "</fetch>", "<entity name='account'>", "</entity>", "<!DOCTYPE x [<!ENTITY a 'aaaa'>]>", "&a;", "<![CDATA[x]]>", "<?xml version='1.0'?>", "<attribute name='name'/>", "<filter>", "</filter>"]) },
);

/** JSON values for record properties: scalars of every type, edge numbers, lookups, nested records and arrays. */
const propertyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 30 }),
  anyText(20),
  fc.integer(),
  fc.double(),
  edgeNumber.map(Number),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(...GUIDS, "2024-01-01", "2024-01-01T00:00:00Z", "/contacts(c0de0001-0000-4000-8000-000000000001)", "$1", "accounts(name='x')", `/systemusers(${DEMO.org.applicationUserId})`),
  fc.jsonValue({ maxDepth: 3 }),
);
const propertyName = vocabOrText([...COLUMNS, "primarycontactid@odata.bind", "parentcustomerid_account@odata.bind", "ownerid@odata.bind", "contact_customer_accounts", "Account_Tasks", "@odata.type", "@odata.id", "@odata.etag", "name@OData.Community.Display.V1.FormattedValue", "regardingobjectid_account_task@odata.bind"]);

/** A record body: a JSON object of (mostly) known property names; sometimes a deep insert; sometimes not an object at all. */
export const recordBody: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.dictionary(propertyName, fc.oneof({ weight: 5, arbitrary: propertyValue }, { weight: 1, arbitrary: fc.array(fc.dictionary(propertyName, propertyValue, { maxKeys: 3 }), { maxLength: 2 }) }), { maxKeys: 6 }).map((o) => JSON.stringify(o)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.dictionary(propertyName, propertyValue, { maxKeys: 3 }).map((o) => JSON.stringify(JSON.stringify(o))) },
  { weight: 1, arbitrary: anyText(40) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 400 }).map((n) => `{"name":"deep","description":${"[".repeat(n)}${"]".repeat(n)}}`) },
  { weight: 1, arbitrary: soup(["{", "}", "[", "]", '"name"', ":", ",", "null", '"\\u0000"', '"\\ud800"', "1e400", '"__proto__"', '"constructor"'], 20) },
);

/** Web API paths after `/api/data/v9.2/`: sets, keys (ids, alternate keys, garbage), navigation, `$ref`, `$count`, functions. */
export const apiPath: fc.Arbitrary<string> = fc
  .tuple(
    vocabOrText([...SETS, "WhoAmI()", "WhoAmI", "RetrieveVersion()", "EntityDefinitions", "RelationshipDefinitions", "GlobalOptionSetDefinitions", "$metadata", "$batch", "RetrieveTotalRecordCount(EntityNames=@p1)", "accounts/Microsoft.Dynamics.CRM.CreateMultiple", "", "$count"]),
    fc.option(fc.oneof(fc.constantFrom(...GUIDS), fc.tuple(vocabOrText(COLUMNS), literal).map(([k, v]) => `${k}=${v}`), fc.constantFrom("LogicalName='account'", "'x'", "", "1,2"), anyText(10))),
    fc.array(vocabOrText([...NAVIGATIONS, ...COLUMNS, "$ref", "$count", "$value", "Attributes", "Keys", "Microsoft.Dynamics.CRM.PicklistAttributeMetadata"]), { maxLength: 3 }),
    fc.constantFrom("", "?@p1=['account']", "?$top=1", "?$select=name"),
  )
  .map(([set, key, segments, query]) => `${set}${key !== null ? `(${enc(key).replace(/%3D/g, "=").replace(/%27/g, "'").replace(/%2C/g, ",")})` : ""}${segments.map((s) => `/${enc(s)}`).join("")}${query}`);

/** Prefer header values: page sizes (edge numbers), annotations, change tracking, representations. */
export const prefer = fc.array(fc.oneof(edgeNumber.map((n) => `odata.maxpagesize=${n}`), fc.constantFrom('odata.include-annotations="*"', "return=representation", "odata.track-changes", "odata.continue-on-error", 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'), anyText(10)), { maxLength: 3 }).map((a) => a.join(","));

/** A `$batch` body: parts (requests or change sets of them) with generated request lines, headers and bodies; line ends and delimiters mutated. */
export const batchBody = (apiUrl: string) =>
  fc
    .tuple(
      fc.constantFrom("batch_1", "b", "batch_ä", "x y"),
      fc.array(
        fc.tuple(
          fc.boolean(),
          fc.array(
            fc.tuple(
              fc.constantFrom("GET", "POST", "PATCH", "DELETE", "PUT", "BREW", "get"),
              fc.oneof(apiPath.map((p) => `${apiUrl}/${p}`), apiPath, apiPath.map((p) => `/api/data/v9.2/${p}`), fc.constantFrom("$1", "$1/name", "$2/primarycontactid/$ref", "$9"), anyText(20)),
              fc.option(fc.constantFrom("1", "2", "x", "")),
              fc.array(fc.tuple(vocabOrText(["Content-Type", "If-Match", "Prefer", "MSCRMCallerID", "CallerObjectId", "Authorization", "Content-ID"]), vocabOrText(["application/json", "application/json;type=entry", "*", "text/plain", 'W/"1"', "odata.include-annotations=\"*\""])), { maxLength: 2 }),
              fc.option(recordBody),
            ),
            { minLength: 1, maxLength: 3 },
          ),
        ),
        { maxLength: 3 },
      ),
      fc.constantFrom("\r\n", "\n"),
      fc.boolean(),
    )
    .map(([boundary, items, nl, closed]) => {
      const part = ([method, url, contentId, headers, body]: [string, string, string | null, [string, string][], string | null]) =>
        [
          "Content-Type: application/http",
          "Content-Transfer-Encoding: binary",
          ...(contentId !== null ? [`Content-ID: ${contentId}`] : []),
          "",
          `${method} ${url} HTTP/1.1`,
          ...headers.map(([k, v]) => `${k}: ${v}`),
          ...(body !== null ? ["Content-Type: application/json", "", body] : [""]),
        ].join(nl);
      let text = "";
      for (const [changeset, requests] of items) {
        text += `--${boundary}${nl}`;
        if (changeset) {
          text += `Content-Type: multipart/mixed; boundary=changeset_1${nl}${nl}`;
          for (const r of requests) text += `--changeset_1${nl}${part(r)}${nl}`;
          text += `--changeset_1--${nl}`;
        } else {
          text += `${part(requests[0] as Parameters<typeof part>[0])}${nl}`;
        }
      }
      if (closed) text += `--${boundary}--${nl}`;
      return { boundary, text };
    });

export { anyText };
