import { describe, expect, it } from "vitest";
import { DataverseError } from "../errors.ts";
import { OrgMetadata } from "../metadata/registry.ts";
import { STANDARD_TABLES } from "../metadata/standard.ts";
import type { EntityMetadata } from "../metadata/types.ts";
import { ReadScope, type Expr } from "../store.ts";
import { parseFilter, type FilterNode } from "./filter.ts";
import { FilterBinder, bindFilter, likeBody, noJoins } from "./filter-binder.ts";

const md = new OrgMetadata(STANDARD_TABLES);
const account = md.entity("account") as EntityMetadata;
const contact = md.entity("contact") as EntityMetadata;
const caller = { systemUserId: "00000000-0000-0000-0000-0000000000aa", businessUnitId: "00000000-0000-0000-0000-0000000000bb" };
const NOW = Date.UTC(2024, 4, 15, 13, 45, 30); // Wed 2024-05-15 13:45:30Z
const ALL_ROWS = ReadScope.system("binder unit tests: scopes are tested against real stores in tests/contract/security-joins.test.ts");

function bind(filter: string, entity: EntityMetadata = account, aliases: Record<string, string> = {}): Expr {
  return new FilterBinder({ md, entity, caller, now: NOW, scopeOf: () => ALL_ROWS }).bind(parseFilter(filter, new Map(Object.entries(aliases))));
}

function error(run: () => unknown): DataverseError {
  try {
    run();
  } catch (e) {
    if (e instanceof DataverseError) return e;
    throw e;
  }
  throw new Error("expected a DataverseError");
}

const prop = (...path: string[]): FilterNode => ({ type: "property", path });
const str = (value: string): FilterNode => ({ type: "literal", literal: { type: "string", value } });
const col = (name: string) => ({ kind: "column" as const, name });
const val = (value: string | number | boolean | null) => ({ kind: "value" as const, value });

describe("parseFilter", () => {
  it("parses comparisons of every operator", () => {
    for (const op of ["eq", "ne", "gt", "ge", "lt", "le"] as const) {
      expect(parseFilter(`name ${op} 'x'`)).toEqual({ type: "compare", op, left: prop("name"), right: str("x") });
    }
  });

  it("gives not > and > or precedence and honours parentheses", () => {
    const a = { type: "compare", op: "eq", left: prop("a"), right: str("1") };
    const b = { type: "compare", op: "eq", left: prop("b"), right: str("2") };
    const c = { type: "compare", op: "eq", left: prop("c"), right: str("3") };
    expect(parseFilter("a eq '1' or b eq '2' and c eq '3'")).toEqual({ type: "or", left: a, right: { type: "and", left: b, right: c } });
    expect(parseFilter("(a eq '1' or b eq '2') and c eq '3'")).toEqual({ type: "and", left: { type: "or", left: a, right: b }, right: c });
    expect(parseFilter("not a eq '1' and b eq '2'")).toEqual({ type: "and", left: { type: "not", operand: a }, right: b });
    expect(parseFilter("not (a eq '1' or b eq '2')")).toEqual({ type: "not", operand: { type: "or", left: a, right: b } });
  });

  it("reads literals: escaped strings, numbers, GUIDs, booleans, null, dates", () => {
    const right = (text: string) => (parseFilter(`x eq ${text}`) as { right: FilterNode }).right;
    expect(right("'O''Neil'")).toEqual(str("O'Neil"));
    expect(right("''")).toEqual(str(""));
    expect(right("-12.5")).toEqual({ type: "literal", literal: { type: "number", value: -12.5, raw: "-12.5" } });
    expect(right("100000.00M")).toEqual({ type: "literal", literal: { type: "number", value: 100000, raw: "100000.00" } });
    expect(right("C0DE0001-0000-4000-8000-000000000001")).toEqual({ type: "literal", literal: { type: "guid", value: "c0de0001-0000-4000-8000-000000000001" } });
    expect(right("true")).toEqual({ type: "literal", literal: { type: "boolean", value: true } });
    expect(right("null")).toEqual({ type: "literal", literal: { type: "null" } });
    expect(right("2024-05-01")).toEqual({ type: "literal", literal: { type: "date", value: "2024-05-01" } });
    expect(right("2024-05-01T09:30:00.5+02:00")).toEqual({ type: "literal", literal: { type: "datetime", value: "2024-05-01T09:30:00.5+02:00" } });
  });

  it("parses functions, named parameters, arrays, paths and lambdas", () => {
    expect(parseFilter("contains(name,'x')")).toEqual({ type: "call", name: "contains", args: [prop("name"), str("x")], named: new Map() });
    const call = parseFilter(`Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=["a","b"])`) as Extract<FilterNode, { type: "call" }>;
    expect(call.name).toBe("Microsoft.Dynamics.CRM.In");
    expect(call.named.get("PropertyValues")).toEqual({ type: "array", items: [str("a"), str("b")] });
    expect(parseFilter("primarycontactid/fullname eq 'x'")).toMatchObject({ left: prop("primarycontactid", "fullname") });
    expect(parseFilter("contact_customer_accounts/any(c: c/firstname eq 'x')")).toMatchObject({ type: "lambda", path: ["contact_customer_accounts"], op: "any", variable: "c" });
  });

  it("substitutes parameter aliases, including arrays", () => {
    expect(parseFilter("name eq @p1", new Map([["@p1", "'x'"]]))).toEqual({ type: "compare", op: "eq", left: prop("name"), right: str("x") });
    const call = parseFilter("Microsoft.Dynamics.CRM.In(PropertyName=@n,PropertyValues=@v)", new Map([["@n", "'name'"], ["@v", "['a']"]])) as Extract<FilterNode, { type: "call" }>;
    expect(call.named.get("PropertyName")).toEqual(str("name"));
    expect(call.named.get("PropertyValues")).toEqual({ type: "array", items: [str("a")] });
  });

  it("fails with 0x80060888 on syntax errors, naming the problem", () => {
    for (const [text, message] of [
      ["name eq 'x", "unterminated string literal"],
      ["name eq", "unexpected 'end of input'"],
      ["(name eq 'x'", "expected ')'"],
      ["name eq 'x' 'y'", "unexpected ''y''"],
      ["a eq 1 eq 2", "cannot be chained"],
      ["name eq @p9", "'@p9'"],
      ["name # 1", "unexpected character '#'"],
      ["", "$filter is empty"],
    ] as const) {
      const e = error(() => parseFilter(text));
      expect(e.status).toBe(400);
      expect(e.code).toBe("0x80060888");
      expect(e.message).toContain(message);
    }
    expect(error(() => parseFilter("a add 1 eq 2")).message).toContain("'add'");
    expect(error(() => parseFilter("a has 1")).message).toContain("'has'");
  });
});

describe("FilterBinder", () => {
  it("binds typed comparisons to the Expr AST", () => {
    expect(bind("numberofemployees ge 10")).toEqual({ kind: "compare", op: "ge", left: col("numberofemployees"), right: val(10) });
    expect(bind("name eq 'Contoso'")).toEqual({ kind: "compare", op: "eq", left: col("name"), right: val("Contoso"), caseInsensitive: true });
    expect(bind("creditonhold eq true")).toEqual({ kind: "compare", op: "eq", left: col("creditonhold"), right: val(true) });
    expect(bind("createdon gt 2024-05-01T09:30:00+02:00")).toEqual({ kind: "compare", op: "gt", left: col("createdon"), right: val("2024-05-01T07:30:00Z") });
    expect(bind("createdon lt 2024-05-01")).toEqual({ kind: "compare", op: "lt", left: col("createdon"), right: val("2024-05-01T00:00:00Z") });
    expect(bind("_primarycontactid_value eq C0DE0002-0000-4000-8000-000000000001")).toEqual({ kind: "compare", op: "eq", left: col("primarycontactid"), right: val("c0de0002-0000-4000-8000-000000000001") });
    expect(bind("_primarycontactid_value eq null")).toEqual({ kind: "compare", op: "eq", left: col("primarycontactid"), right: val(null) });
    // Literal on the left flips the operator.
    expect(bind("10 lt numberofemployees")).toEqual({ kind: "compare", op: "gt", left: col("numberofemployees"), right: val(10) });
  });

  it("keeps second precision honest for fractional datetimes", () => {
    expect(bind("createdon ge 2024-05-01T00:00:00.500Z")).toEqual({ kind: "compare", op: "gt", left: col("createdon"), right: val("2024-05-01T00:00:00Z") });
    expect(bind("createdon eq 2024-05-01T00:00:00.500Z")).toEqual({ kind: "false" });
  });

  it("compares columns with columns", () => {
    expect(bind("numberofemployees gt revenue")).toEqual({ kind: "compare", op: "gt", left: col("numberofemployees"), right: col("revenue") });
    expect(error(() => bind("name eq numberofemployees")).message).toContain("incompatible types");
  });

  it("turns string functions into escaped LIKE patterns", () => {
    expect(bind("contains(name,'a_b')")).toEqual({ kind: "like", column: "name", pattern: "%a_b%" });
    expect(bind("startswith(name,'x')")).toEqual({ kind: "like", column: "name", pattern: "x%" });
    expect(bind("endswith(name,'x')")).toEqual({ kind: "like", column: "name", pattern: "%x" });
    expect(likeBody("100[%] a\\b [_] [[]")).toBe("100\\% a\\\\b \\_ [");
    expect(error(() => likeBody("[a-c]")).message).toContain("[a-c]");
    expect(error(() => bind("contains(numberofemployees,'1')")).message).toContain("string property");
  });

  it("binds lookup paths to EXISTS and lambdas to (NOT) EXISTS", () => {
    const expr = bind("primarycontactid/fullname eq 'Nancy Davolio'");
    expect(expr).toMatchObject({ kind: "exists", innerColumn: "contactid", outerColumn: "primarycontactid", where: { kind: "compare", left: col("fullname"), right: val("Nancy Davolio") } });
    expect(bind("primarycontactid/contactid eq c0de0002-0000-4000-8000-000000000001")).toEqual({ kind: "compare", op: "eq", left: col("primarycontactid"), right: val("c0de0002-0000-4000-8000-000000000001") });
    expect(bind("parentcustomerid_account/name eq 'x'", contact)).toMatchObject({ kind: "exists", outerColumn: "parentcustomerid" });
    expect(bind("contact_customer_accounts/any(c: c/firstname eq 'Nancy')")).toMatchObject({ kind: "exists", innerColumn: "parentcustomerid", outerColumn: "accountid", where: { kind: "compare", left: col("firstname") } });
    expect(bind("contact_customer_accounts/all(c: c/firstname eq 'Nancy')")).toMatchObject({ kind: "not", operand: { kind: "exists", where: { kind: "not" } } });
    expect(error(() => bind("contact_customer_accounts/any(c: name eq 'x')")).message).toContain("range variable");
  });

  it("gives every EXISTS into another table that table's scope, asked for once per table (bindFilter)", async () => {
    const systemuser = md.entity("systemuser") as EntityMetadata;
    const scopes = new Map<string, ReadScope>();
    const asked: string[] = [];
    const readScope = (entity: EntityMetadata) => {
      asked.push(entity.logicalName);
      const scope = ReadScope.caller({ kind: "compare", op: "eq", left: col("owner"), right: val(`me-${entity.logicalName}`) });
      scopes.set(entity.logicalName, scope);
      return Promise.resolve(scope);
    };
    /** Every `exists` of a predicate, with the table it reads. */
    const joins = (e: Expr): { table: string; scope: ReadScope }[] => {
      switch (e.kind) {
        case "and":
        case "or":
          return [...joins(e.left), ...joins(e.right)];
        case "not":
          return joins(e.operand);
        case "exists":
          return [{ table: e.entity.logicalName, scope: e.scope }, ...(e.where ? joins(e.where) : [])];
        default:
          return [];
      }
    };
    const filter = "primarycontactid/parentcustomerid_account/name eq 'x' and contact_customer_accounts/all(c: c/lastname eq 'y') or not (parentaccountid/revenue gt 5)";
    const expr = await bindFilter({ md, entity: account, caller, now: NOW }, parseFilter(filter), readScope);
    expect(asked.sort()).toEqual(["account", "contact"]);
    const found = joins(expr);
    expect(found.map((j) => j.table)).toEqual(["contact", "account", "contact", "account"]);
    for (const join of found) expect(join.scope).toBe(scopes.get(join.table));
    // N:N: the intersect rows are the system's (no ownership), the linked records carry the caller's scope.
    asked.length = 0;
    const roles = await bindFilter({ md, entity: systemuser, caller, now: NOW }, parseFilter("systemuserroles_association/any(r: r/name eq 'Salesperson')"), readScope);
    expect(asked).toEqual(["role"]);
    const [intersect, role] = joins(roles);
    expect(intersect?.scope.systemReason).toContain("intersect");
    expect(role).toEqual({ table: "role", scope: scopes.get("role") });
    // A filter without navigation asks for no scope.
    asked.length = 0;
    expect(await bindFilter({ md, entity: account, caller, now: NOW }, parseFilter("name eq 'x'"), readScope)).toMatchObject({ kind: "compare" });
    expect(asked).toEqual([]);
  });

  it("refuses a join in a binder that must not join (FetchXML conditions)", () => {
    const binder = new FilterBinder({ md, entity: contact, caller, now: NOW, scopeOf: noJoins("a FetchXML condition") });
    expect(() => binder.bind(parseFilter("parentcustomerid_account/name eq 'x'"))).toThrow("a FetchXML condition cannot join the table 'account' without its Read scope");
    expect(binder.bind(parseFilter("lastname eq 'x'"))).toMatchObject({ kind: "compare" });
  });

  it("names unknown properties as Dataverse does", () => {
    expect(error(() => bind("nosuch eq 1")).message).toBe("Could not find a property named 'nosuch' on type 'Microsoft.Dynamics.CRM.account'.");
    // A lookup's logical name alone is a navigation property, not a value.
    expect(error(() => bind("primarycontactid eq null")).message).toContain("'primarycontactid'");
    expect(error(() => bind("_name_value eq null")).message).toContain("'_name_value'");
    expect(error(() => bind("primarycontactid/nosuch eq 1")).message).toContain("'nosuch' on type 'Microsoft.Dynamics.CRM.contact'");
  });

  it("rejects type mismatches with Dataverse's message", () => {
    expect(error(() => bind("name eq 5")).message).toBe("Syntax error: A binary operator with incompatible types was detected. Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'Equal'.");
    expect(error(() => bind("numberofemployees gt 'x'")).message).toContain("'Edm.Int32' and 'Edm.String'");
    expect(error(() => bind("name gt null")).message).toContain("incompatible");
  });

  it("compiles query functions through the registry", () => {
    expect(bind(`Microsoft.Dynamics.CRM.In(PropertyName='industrycode',PropertyValues=["1","7"])`)).toEqual({ kind: "in", column: "industrycode", values: [1, 7] });
    expect(bind(`Microsoft.Dynamics.CRM.NotIn(PropertyName='name',PropertyValues=["a"])`)).toEqual({ kind: "not", operand: { kind: "in", column: "name", values: ["a"], caseInsensitive: true } });
    expect(bind(`Microsoft.Dynamics.CRM.Between(PropertyName='revenue',PropertyValues=["5","2000"])`)).toEqual({
      kind: "and",
      left: { kind: "compare", op: "ge", left: col("revenue"), right: val(5) },
      right: { kind: "compare", op: "le", left: col("revenue"), right: val(2000) },
    });
    expect(bind("Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')")).toEqual({ kind: "compare", op: "eq", left: col("ownerid"), right: val(caller.systemUserId) });
    expect(bind("Microsoft.Dynamics.CRM.EqualBusinessId(PropertyName='owningbusinessunit')")).toEqual({ kind: "compare", op: "eq", left: col("owningbusinessunit"), right: val(caller.businessUnitId) });
  });

  it("computes date ranges from now in UTC", () => {
    const range = (from: string, to: string, toOp: "lt" | "le" = "lt") => ({
      kind: "and",
      left: { kind: "compare", op: "ge", left: col("createdon"), right: val(from) },
      right: { kind: "compare", op: toOp, left: col("createdon"), right: val(to) },
    });
    const fn = (name: string, extra = "") => bind(`Microsoft.Dynamics.CRM.${name}(PropertyName='createdon'${extra})`);
    expect(fn("Today")).toEqual(range("2024-05-15T00:00:00Z", "2024-05-16T00:00:00Z"));
    expect(fn("Yesterday")).toEqual(range("2024-05-14T00:00:00Z", "2024-05-15T00:00:00Z"));
    expect(fn("Tomorrow")).toEqual(range("2024-05-16T00:00:00Z", "2024-05-17T00:00:00Z"));
    expect(fn("ThisMonth")).toEqual(range("2024-05-01T00:00:00Z", "2024-06-01T00:00:00Z"));
    expect(fn("LastMonth")).toEqual(range("2024-04-01T00:00:00Z", "2024-05-01T00:00:00Z"));
    expect(fn("ThisYear")).toEqual(range("2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"));
    expect(fn("ThisWeek")).toEqual(range("2024-05-12T00:00:00Z", "2024-05-19T00:00:00Z"));
    expect(fn("LastXDays", ",PropertyValue=3")).toEqual(range("2024-05-12T00:00:00Z", "2024-05-15T13:45:30Z", "le"));
    expect(fn("NextXDays", ",PropertyValue=1")).toEqual(range("2024-05-15T13:45:30Z", "2024-05-17T00:00:00Z"));
    expect(fn("LastXHours", ",PropertyValue=2")).toEqual(range("2024-05-15T11:45:30Z", "2024-05-15T13:45:30Z", "le"));
    expect(fn("On", ",PropertyValue='2024-02-29'")).toEqual(range("2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"));
    expect(fn("OnOrAfter", ",PropertyValue='2024-02-29'")).toEqual({ kind: "compare", op: "ge", left: col("createdon"), right: val("2024-02-29T00:00:00Z") });
    expect(fn("OnOrBefore", ",PropertyValue='2024-02-29'")).toEqual({ kind: "compare", op: "lt", left: col("createdon"), right: val("2024-03-01T00:00:00Z") });
  });

  it("names unsupported functions and bad parameters", () => {
    expect(error(() => bind("Microsoft.Dynamics.CRM.Under(PropertyName='accountid',PropertyValue='x')")).message).toContain("'Microsoft.Dynamics.CRM.Under'");
    expect(error(() => bind("tolower(name) eq 'x'")).message).toContain("'tolower'");
    expect(error(() => bind("substringof('x',name)")).message).toContain("'substringof'");
    expect(error(() => bind("Microsoft.Dynamics.CRM.Today(PropertyName='name')")).message).toContain("date and time column");
    expect(error(() => bind("Microsoft.Dynamics.CRM.Today(Property='createdon')")).message).toContain("PropertyName");
    expect(error(() => bind("Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue='x')")).message).toContain("whole number");
    expect(error(() => bind("Microsoft.Dynamics.CRM.ContainValues(PropertyName='industrycode',PropertyValues=['1'])")).message).toContain("multi-select");
  });

  it("uses parameter aliases in comparisons and functions", () => {
    expect(bind("name eq @p1", account, { "@p1": "'x'" })).toEqual({ kind: "compare", op: "eq", left: col("name"), right: val("x"), caseInsensitive: true });
  });
});
