import { describe, expect, it } from "vitest";
import { parseApply } from "./apply.ts";

describe("parseApply", () => {
  it("reads filters, then groupby with an aggregate", () => {
    expect(parseApply("filter(name eq 'a/b (c)')/filter(revenue gt 5)/groupby((statuscode, primarycontactid/fullname),aggregate($count as n,revenue with sum as total))")).toEqual({
      filters: ["name eq 'a/b (c)'", "revenue gt 5"],
      groupBy: [["statuscode"], ["primarycontactid", "fullname"]],
      aggregates: [
        { kind: "count", alias: "n" },
        { kind: "method", path: ["revenue"], method: "sum", alias: "total" },
      ],
    });
  });

  it("reads aggregate alone and groupby alone; quotes inside filters may be doubled", () => {
    expect(parseApply("aggregate(createdon with max as lastCreate)")).toEqual({ filters: [], groupBy: [], aggregates: [{ kind: "method", path: ["createdon"], method: "max", alias: "lastCreate" }] });
    expect(parseApply("filter(name eq 'it''s)')/groupby((statecode,statuscode))")).toEqual({ filters: ["name eq 'it''s)'"], groupBy: [["statecode"], ["statuscode"]], aggregates: [] });
  });

  it.each([
    ["", /empty value/],
    ["groupby((statuscode)", /unclosed/],
    ["groupby(statuscode)", /parenthesised list/],
    ["groupby((a/b/c))", /'a\/b\/c' is not a grouping property/],
    ["aggregate(revenue with median as m)", /aggregate method 'median'/],
    ["aggregate(revenue as total)", /not an aggregate expression/],
    ["aggregate($count as n,revenue with sum as N)", /alias 'n' is used twice/],
    ["groupby((a))/aggregate($count as n)", /after groupby or aggregate/],
    ["groupby((a),topcount(1,b))", /'topcount' inside groupby/],
    ["compute(a mul 2 as b)", /transformation 'compute'/],
    ["filter(a eq 1)", /filter\(…\) alone/],
    ["frobnicate(a)", /'frobnicate' is not a transformation/],
    ["filter(name eq 'x)", /unterminated string/],
  ])("refuses %j", (text, message) => {
    expect(() => parseApply(text)).toThrow(message);
  });
});
