import { describe, expect, it } from "vitest";
import type { DataverseError } from "../errors.ts";
import { countExpands, expandContext, parseExpand } from "./expand.ts";

function error(text: string): DataverseError {
  try {
    parseExpand(text);
  } catch (e) {
    return e as DataverseError;
  }
  throw new Error(`expected '${text}' to fail`);
}

describe("parseExpand", () => {
  it("parses a list with inner options separated by ';' and nested expands", () => {
    expect(parseExpand("primarycontactid($select=fullname,emailaddress1),contact_customer_accounts($select=fullname;$filter=startswith(fullname,'a;b(c)');$orderby=fullname desc;$top=3)")).toEqual([
      { property: "primarycontactid", select: ["fullname", "emailaddress1"] },
      { property: "contact_customer_accounts", select: ["fullname"], filter: "startswith(fullname,'a;b(c)')", orderBy: "fullname desc", top: 3 },
    ]);
    expect(parseExpand("contact_customer_accounts($select=fullname;$expand=createdby($select=fullname))")).toEqual([
      { property: "contact_customer_accounts", select: ["fullname"], expand: [{ property: "createdby", select: ["fullname"] }] },
    ]);
    expect(parseExpand(" primarycontactid ,  parentaccountid() ")).toEqual([{ property: "primarycontactid" }, { property: "parentaccountid" }]);
  });

  it("keeps quotes escaped as '' inside filters", () => {
    expect(parseExpand("contact_customer_accounts($filter=lastname eq 'O''Brien, Jr')")[0]?.filter).toBe("lastname eq 'O''Brien, Jr'");
  });

  it("counts expands at every level and refuses more than 15", () => {
    const fifteen = Array.from({ length: 15 }, (_, i) => `nav${i}`).join(",");
    expect(countExpands(parseExpand(fifteen))).toBe(15);
    expect(error(`${fifteen},nav15`)).toMatchObject({ status: 400, code: "0x80060888" });
    expect(error(`a($expand=${fifteen})`).message).toContain("16 navigation properties");
  });

  it("refuses $skip, $count, $search, $levels and unknown options inside an expand, naming them", () => {
    for (const option of ["$skip=1", "$count=true", "$search=x", "$levels=2", "$foo=1"]) {
      const e = error(`contact_customer_accounts(${option})`);
      expect(e.code, option).toBe("0x80060888");
      expect(e.message, option).toContain(`${option.split("=")[0]} inside $expand (contact_customer_accounts)`);
    }
  });

  it("refuses $top and $orderby together with a nested $expand", () => {
    expect(error("contact_customer_accounts($top=2;$expand=createdby)").message).toContain("$top with a nested $expand");
    expect(error("contact_customer_accounts($orderby=fullname;$expand=createdby)").message).toContain("$orderby with a nested $expand");
  });

  it("rejects syntax errors with 0x80060888", () => {
    for (const text of ["", "a(", "a)", "a($filter=name eq 'x)", "a b", "a,a", "a($top=x)", "a($select=)"]) {
      expect(error(text).code, text).toBe("0x80060888");
    }
  });

  it("renders the context URL part", () => {
    expect(expandContext(parseExpand("primarycontactid($select=fullname),contact_customer_accounts($expand=createdby($select=fullname))"))).toEqual([
      "primarycontactid(fullname)",
      "contact_customer_accounts(createdby(fullname))",
    ]);
  });
});
