import { describe, expect, it } from "vitest";
import { DataverseError } from "../errors.ts";
import { OrgMetadata } from "../metadata/registry.ts";
import { STANDARD_TABLES } from "../metadata/standard.ts";
import type { EntityMetadata } from "../metadata/types.ts";
import { compileFilters } from "./conditions.ts";
import { parseFetchXml } from "./parse.ts";

const md = new OrgMetadata(STANDARD_TABLES);
const account = md.entity("account") as EntityMetadata;
const NOW = Date.UTC(2024, 4, 15, 13, 30, 0);
const caller = { systemUserId: "00000000-0000-0000-0000-0000000000aa", businessUnitId: "00000000-0000-0000-0000-0000000000bb" };

function compile(filter: string) {
  const spec = parseFetchXml(`<fetch><entity name="account">${filter}</entity></fetch>`);
  return compileFilters(spec.entity.filters, { md, entity: account, caller, now: NOW });
}

const col = (name: string) => ({ kind: "column", name });
const val = (value: unknown) => ({ kind: "value", value });

describe("FetchXML conditions", () => {
  it("compiles comparisons with typed, case-insensitive values and nested or/and", () => {
    expect(compile(`<filter type="or"><condition attribute="name" operator="eq" value="A" /><filter><condition attribute="revenue" operator="ge" value="10" /><condition attribute="creditonhold" operator="eq" value="1" /></filter></filter>`)).toEqual({
      kind: "or",
      left: { kind: "compare", op: "eq", left: col("name"), right: val("A"), caseInsensitive: true },
      right: { kind: "and", left: { kind: "compare", op: "ge", left: col("revenue"), right: val(10) }, right: { kind: "compare", op: "eq", left: col("creditonhold"), right: val(true) } },
    });
  });

  it("compiles like, begins-with, in, null and between", () => {
    expect(compile(`<filter><condition attribute="name" operator="begins-with" value="a_b" /></filter>`)).toEqual({ kind: "like", column: "name", pattern: "a_b%" });
    expect(compile(`<filter><condition attribute="industrycode" operator="not-in"><value>1</value><value>2</value></condition></filter>`)).toEqual({ kind: "not", operand: { kind: "in", column: "industrycode", values: [1, 2] } });
    expect(compile(`<filter><condition attribute="name" operator="null" /></filter>`)).toEqual({ kind: "compare", op: "eq", left: col("name"), right: val(null) });
    expect(compile(`<filter><condition attribute="revenue" operator="between"><value>1</value><value>5</value></condition></filter>`)).toEqual({
      kind: "and",
      left: { kind: "compare", op: "ge", left: col("revenue"), right: val(1) },
      right: { kind: "compare", op: "le", left: col("revenue"), right: val(5) },
    });
  });

  it("compiles date and user operators through the query-function registry", () => {
    expect(compile(`<filter><condition attribute="createdon" operator="today" /></filter>`)).toEqual({
      kind: "and",
      left: { kind: "compare", op: "ge", left: col("createdon"), right: val("2024-05-15T00:00:00Z") },
      right: { kind: "compare", op: "lt", left: col("createdon"), right: val("2024-05-16T00:00:00Z") },
    });
    expect(compile(`<filter><condition attribute="createdon" operator="last-x-days" value="2" /></filter>`)).toMatchObject({ left: { op: "ge", right: val("2024-05-13T00:00:00Z") } });
    expect(compile(`<filter><condition attribute="createdon" operator="on-or-after" value="2024-01-02" /></filter>`)).toEqual({ kind: "compare", op: "ge", left: col("createdon"), right: val("2024-01-02T00:00:00Z") });
    expect(compile(`<filter><condition attribute="ownerid" operator="eq-userid" /></filter>`)).toEqual({ kind: "compare", op: "eq", left: col("ownerid"), right: val(caller.systemUserId) });
  });

  it.each([
    [`<condition attribute="nosuch" operator="eq" value="1" />`, "0x80041103"],
    [`<condition attribute="name" operator="under" value="1" />`, "0x80060888"],
    [`<condition attribute="name" operator="eq" />`, "0x80040203"],
    [`<condition attribute="revenue" operator="like" value="1" />`, "0x80040203"],
    [`<condition attribute="revenue" operator="between"><value>1</value></condition>`, "0x80040203"],
    [`<condition attribute="revenue" operator="eq" value="abc" />`, undefined],
  ])("refuses %s", (condition, code) => {
    let error: unknown;
    try {
      compile(`<filter>${condition}</filter>`);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DataverseError);
    expect((error as DataverseError).status).toBe(400);
    if (code) expect((error as DataverseError).code).toBe(code);
  });
});
