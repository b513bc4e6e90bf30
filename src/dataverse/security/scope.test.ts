import { describe, expect, it } from "vitest";
import { STANDARD_TABLES } from "../metadata/standard.ts";
import type { EntityMetadata } from "../metadata/types.ts";
import type { Expr } from "../store.ts";
import { DEPTH, coversDepth, widestDepth } from "./privileges.ts";
import { accessFilter, businessUnitSubtree, canAccessRow, withScope, type AccessPrincipal, type PrivilegeSource } from "./scope.ts";

const table = (name: string) => STANDARD_TABLES.find((t) => t.logicalName === name) as EntityMetadata;
const account = table("account");
const team = table("team");
const organization = table("organization");
const ME = "00000000-0000-0000-0000-0000000000aa";
const UNITS = [
  { id: "root", parentId: null },
  { id: "a", parentId: "root" },
  { id: "a1", parentId: "a" },
  { id: "a11", parentId: "a1" },
  { id: "b", parentId: "root" },
];

function principal(sources: PrivilegeSource[]): AccessPrincipal {
  return { systemUserId: ME, businessUnitId: "a", sources, subtree: (root) => businessUnitSubtree(UNITS, root), teamMembership: table("teammembership") };
}

/** The `in` lists of owningbusinessunit in a filter, sorted. */
function units(expr: Expr | undefined): string[] {
  if (!expr) return [];
  if (expr.kind === "in") return [...(expr.values as string[])].sort();
  if (expr.kind === "or" || expr.kind === "and") return [...units(expr.left), ...units(expr.right)].sort();
  return [];
}

describe("privilege depth maths", () => {
  it("takes the widest depth of a mask", () => {
    expect(widestDepth(0)).toBeUndefined();
    expect(widestDepth(DEPTH.Basic)).toBe("Basic");
    expect(widestDepth(DEPTH.Basic | DEPTH.Deep)).toBe("Deep");
    expect(widestDepth(15)).toBe("Global");
    expect(coversDepth(DEPTH.Deep, "Local")).toBe(true);
    expect(coversDepth(DEPTH.Local, "Deep")).toBe(false);
    expect(coversDepth(0, "Basic")).toBe(false);
  });

  it("walks a business unit subtree and ignores cycles", () => {
    expect(businessUnitSubtree(UNITS, "a").sort()).toEqual(["a", "a1", "a11"]);
    expect(businessUnitSubtree(UNITS, "b")).toEqual(["b"]);
    expect(businessUnitSubtree([{ id: "x", parentId: "y" }, { id: "y", parentId: "x" }], "x").sort()).toEqual(["x", "y"]);
  });
});

describe("depth → SQL filter", () => {
  it("Global on any source: no filter", () => {
    expect(accessFilter(account, principal([{ mask: DEPTH.Basic, businessUnitId: "a" }, { mask: DEPTH.Global, businessUnitId: "b", teamId: "t" }]))).toBeUndefined();
  });

  it("Basic: owned by me or by one of my teams, no business unit", () => {
    const f = accessFilter(account, principal([{ mask: DEPTH.Basic, businessUnitId: "a" }]));
    expect(f).toMatchObject({
      kind: "or",
      left: { kind: "compare", left: { name: "owninguser" }, right: { value: ME } },
      right: { kind: "exists", innerColumn: "teamid", outerColumn: "owningteam", where: { right: { value: ME } } },
    });
    expect(units(f)).toEqual([]);
  });

  it("Local: my business unit; Deep: my unit and below", () => {
    expect(units(accessFilter(account, principal([{ mask: DEPTH.Local, businessUnitId: "a" }])))).toEqual(["a"]);
    expect(units(accessFilter(account, principal([{ mask: DEPTH.Deep | DEPTH.Local | DEPTH.Basic, businessUnitId: "a" }])))).toEqual(["a", "a1", "a11"]);
  });

  it("a team role's depth counts from the team's business unit", () => {
    const f = accessFilter(account, principal([{ mask: DEPTH.Basic, businessUnitId: "a" }, { mask: DEPTH.Local, businessUnitId: "b", teamId: "t" }]));
    expect(units(f)).toEqual(["b"]);
  });

  it("business-owned tables filter on their business unit (Basic counts as Local)", () => {
    expect(accessFilter(team, principal([{ mask: DEPTH.Basic, businessUnitId: "a" }]))).toEqual({ kind: "in", column: "businessunitid", values: ["a"] });
    expect(accessFilter(table("businessunit"), principal([{ mask: DEPTH.Deep, businessUnitId: "a1" }]))).toMatchObject({ column: "businessunitid", values: expect.arrayContaining(["a1", "a11"]) });
  });

  it("organization-owned tables: any depth reads everything", () => {
    expect(accessFilter(organization, principal([{ mask: DEPTH.Basic, businessUnitId: "a" }]))).toBeUndefined();
  });

  it("ANDs the scope with $filter", () => {
    const scope: Expr = { kind: "true" };
    const where: Expr = { kind: "false" };
    expect(withScope(undefined, where)).toBe(where);
    expect(withScope(scope, undefined)).toBe(scope);
    expect(withScope(scope, where)).toEqual({ kind: "and", left: scope, right: where });
  });
});

describe("single-record access (a row in hand)", () => {
  const row = (owninguser: string | null, owningbusinessunit: string, owningteam: string | null = null) => ({ owninguser, owningbusinessunit, owningteam });
  it.each([
    ["Basic", DEPTH.Basic, [true, false, false, false]],
    ["Local", DEPTH.Local, [true, true, false, false]],
    ["Deep", DEPTH.Deep, [true, true, true, false]],
    ["Global", DEPTH.Global, [true, true, true, true]],
  ] as const)("%s: own, same BU, child BU, other BU", (_name, mask, expected) => {
    const p = principal([{ mask, businessUnitId: "a" }]);
    const rows = [row(ME, "a"), row("someone", "a"), row("someone", "a1"), row("someone", "b")];
    expect(rows.map((r) => canAccessRow(account, p, [], r))).toEqual(expected);
  });

  it("a record owned by one of my teams is mine at any depth", () => {
    expect(canAccessRow(account, principal([{ mask: DEPTH.Basic, businessUnitId: "a" }]), ["t1"], row(null, "b", "t1"))).toBe(true);
    expect(canAccessRow(account, principal([{ mask: DEPTH.Basic, businessUnitId: "a" }]), ["t2"], row(null, "b", "t1"))).toBe(false);
  });
});
