import { describe, expect, it } from "vitest";
import { DataverseError } from "../errors.ts";
import type { SortKey } from "../keyset.ts";
import type { AttributeMetadata } from "../metadata/types.ts";
import { decodeSkipToken, encodeSkipToken } from "./paging.ts";

const attr = (logicalName: string, type: AttributeMetadata["type"]) => ({ logicalName, type }) as AttributeMetadata;
const key = (logicalName: string, type: AttributeMetadata["type"], descending = false): SortKey => ({ table: "t0", attribute: attr(logicalName, type), descending, caseInsensitive: type === "String", as: logicalName });
const NAME_DESC = key("name", "String", true);
const EMPLOYEES = key("numberofemployees", "Integer");
const REVENUE = key("revenue", "Money");
const CREATED = key("createdon", "DateTime");
const ON_HOLD = key("creditonhold", "Boolean");
const PARENT = key("parentaccountid", "Lookup", true);
const PK = key("accountid", "Uniqueidentifier");
const ID = "0f8fad5b-d9cb-469f-a165-70867728950e";

/** The token as the query parser hands it over: the nextLink's `$skiptoken` URL-decoded once. */
const replay = (token: string) => decodeURIComponent(encodeURIComponent(token));

describe("OData $skiptoken (keyset)", () => {
  it("round-trips every key type, text with XML and URL specials, NULLs, and deltastart", () => {
    const keys = [NAME_DESC, EMPLOYEES, REVENUE, CREATED, ON_HOLD, PARENT, PK];
    const name = `  Fabrikam & "Sons" <Ltd> 'x' 100% ünïcode + €\t `;
    const last = { name, numberofemployees: -42, revenue: "1234.5000000000", createdon: "2026-12-06T11:00:00Z", creditonhold: 1, parentaccountid: null, accountid: ID };
    const first = { ...last, name: "Zeta" };
    const token = encodeSkipToken(3, keys, first, last);
    expect(token).toMatch(/^<cookie pagenumber="3" pagingcookie="%253ccookie%2520page%253d%25222%2522%253e[^"]+" istracking="False" \/>$/);
    expect(decodeSkipToken(replay(token), keys)).toEqual({ pageNumber: 3, after: [name, -42, 1234.5, "2026-12-06T11:00:00Z", true, null, ID] });
    const tracking = encodeSkipToken(2, [key("versionnumber", "BigInt"), PK], { versionnumber: 7, accountid: ID }, { versionnumber: 9, accountid: ID }, 12);
    expect(tracking).toContain(`istracking="True"`);
    // An indented inner cookie (whitespace between the elements) reads the same.
    const indented = `<cookie pagenumber="2" pagingcookie="${encodeURIComponent(encodeURIComponent(`<cookie page="1">\n  <accountid last="{${ID}}" first="{${ID}}" />\n</cookie>`))}" istracking="False" />`;
    expect(decodeSkipToken(indented, [PK])).toEqual({ pageNumber: 2, after: [ID] });
    expect(decodeSkipToken(replay(tracking), [key("versionnumber", "BigInt"), PK])).toEqual({ pageNumber: 2, after: [9, ID], deltaStart: 12 });
  });

  it("refuses a token for other keys, another direction, or values that are not of the column's type (0x80060888)", () => {
    const token = replay(encodeSkipToken(2, [NAME_DESC, PK], { name: "a", accountid: ID }, { name: "b", accountid: ID }));
    const refused = (keys: SortKey[], text = token) => {
      try {
        decodeSkipToken(text, keys);
      } catch (error) {
        expect(error).toBeInstanceOf(DataverseError);
        expect((error as DataverseError).code).toBe("0x80060888");
        return (error as DataverseError).message;
      }
      throw new Error(`accepted: ${text}`);
    };
    expect(refused([PK])).toContain("another order (name desc, accountid)");
    expect(refused([{ ...NAME_DESC, descending: false }, PK])).toContain("another order");
    expect(refused([EMPLOYEES, PK])).toContain("another order");
    const employees = (value: string) => replay(encodeSkipToken(2, [EMPLOYEES, PK], { numberofemployees: 1, accountid: ID }, { numberofemployees: value, accountid: ID }));
    for (const bad of ["1.5", "9007199254740993", "1e3", "", " 1", "0x10"]) expect(refused([EMPLOYEES, PK], employees(bad)), bad).toContain("is not a value of the Integer column");
    const created = replay(encodeSkipToken(2, [CREATED, PK], { createdon: "x", accountid: ID }, { createdon: "06/12/2026", accountid: ID }));
    expect(refused([CREATED, PK], created)).toContain("DateTime");
    const revenue = replay(encodeSkipToken(2, [REVENUE, PK], { revenue: 1, accountid: ID }, { revenue: "Infinity", accountid: ID }));
    expect(refused([REVENUE, PK], revenue)).toContain("Money");
  });
});
