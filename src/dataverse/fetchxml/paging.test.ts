import { describe, expect, it } from "vitest";
import { DataverseError } from "../errors.ts";
import type { AttributeMetadata } from "../metadata/types.ts";
import type { Expr } from "../store.ts";
import { cookieValues, keysetPredicate, pagingCookieAnnotation, parsePagingCookie, type SortKey } from "./paging.ts";

const attr = (logicalName: string, type: AttributeMetadata["type"]) => ({ logicalName, type }) as AttributeMetadata;
const NAME: SortKey = { table: "t0", attribute: attr("name", "String"), descending: false, caseInsensitive: true, as: "pagekey0" };
const REVENUE_DESC: SortKey = { table: "t0", attribute: attr("revenue", "Money"), descending: true, caseInsensitive: false, as: "pagekey0" };
const PK: SortKey = { table: "t0", attribute: attr("accountid", "Uniqueidentifier"), descending: false, caseInsensitive: false, as: "pagekey1" };
const ID = "0f8fad5b-d9cb-469f-a165-70867728950e";

/** The predicate as text, to read its shape. */
function show(e: Expr): string {
  switch (e.kind) {
    case "and":
    case "or":
      return `(${show(e.left)} ${e.kind} ${show(e.right)})`;
    case "compare": {
      const left = e.left.kind === "column" ? e.left.name : "?";
      const right = e.right.kind === "value" ? JSON.stringify(e.right.value) : "?";
      return `${e.caseInsensitive ? `lower(${left})` : left} ${e.op} ${right}`;
    }
    default:
      return e.kind;
  }
}

describe("FetchXML paging cookies", () => {
  it("round-trips the annotation's inner cookie, values escaped so both XML-encoding and dynamics-web-api clients send it back intact", () => {
    const annotation = pagingCookieAnnotation(3, [NAME, PK], { pagekey0: `A&B "x" <y> O'Brien`, pagekey1: ID }, { pagekey0: null, pagekey1: ID });
    const outer = /^<cookie pagenumber="4" pagingcookie="([^"]+)" istracking="False" \/>$/.exec(annotation);
    expect(outer).not.toBeNull();
    const inner = decodeURIComponent(decodeURIComponent(outer?.[1] ?? ""));
    expect(inner).toBe(`<cookie page="3"><name lastnull="1" first="A&#38;B &#34;x&#34; &#60;y&#62; O&#39;Brien" /><accountid last="{${ID.toUpperCase()}}" first="{${ID.toUpperCase()}}" /></cookie>`);
    expect(parsePagingCookie(inner)).toEqual({ page: 3, columns: [{ name: "name", last: null }, { name: "accountid", last: `{${ID.toUpperCase()}}` }] });
    expect(cookieValues(parsePagingCookie(inner), [NAME, PK])).toEqual([null, ID]);
  });

  it("reads Dataverse's own cookie format", () => {
    const cookie = parsePagingCookie(`<cookie page="1"><fullname last="Robert Lyon (sample)" first="Susanna Stubberod (sample)" /><contactid last="{30717E9C-643F-ED11-9DB0-002248225E95}" first="{20717E9C-643F-ED11-9DB0-002248225E95}" /></cookie>`);
    expect(cookie).toEqual({ page: 1, columns: [{ name: "fullname", last: "Robert Lyon (sample)" }, { name: "contactid", last: "{30717E9C-643F-ED11-9DB0-002248225E95}" }] });
    // Leading and trailing spaces are part of the value (the row's name compares as itself), and indentation is no content.
    expect(parsePagingCookie(`<cookie page="1">\n  <name last="  Contoso " />\n</cookie>`).columns).toEqual([{ name: "name", last: "  Contoso " }]);
  });

  it("ignores a cookie of another query (other columns) and refuses one that is not a cookie", () => {
    expect(cookieValues(parsePagingCookie(`<cookie page="1"><accountid last="{${ID}}" first="{${ID}}" /></cookie>`), [NAME, PK])).toBeUndefined();
    for (const bad of ["not xml <", "<cookie><accountid last='x' /></cookie>", "<other page='1' />", `<cookie page="1"><accountid first="{${ID}}" /></cookie>`]) {
      expect(() => parsePagingCookie(bad)).toThrow(DataverseError);
    }
    expect(() => cookieValues(parsePagingCookie(`<cookie page="1"><accountid last="nope" /></cookie>`), [{ ...PK, as: "pagekey0" }])).toThrow(/not a GUID/);
    expect(() => cookieValues(parsePagingCookie(`<cookie page="1"><revenue last="abc" /><accountid last="{${ID}}" /></cookie>`), [REVENUE_DESC, PK])).toThrow(/not a number/);
  });

  it("expands (sort columns, primary key) > (last values) for mixed directions and NULLs, with an index-friendly leading bound", () => {
    expect(show(keysetPredicate([PK], [ID]))).toBe(`accountid gt "${ID}"`);
    expect(show(keysetPredicate([NAME, PK], ["Contoso", ID]))).toBe(`(lower(name) ge "Contoso" and (lower(name) gt "Contoso" or (lower(name) eq "Contoso" and accountid gt "${ID}")))`);
    // NULL sorts first ascending: after a NULL come the other NULLs (by key) and every non-NULL value.
    expect(show(keysetPredicate([NAME, PK], [null, ID]))).toBe(`(name ne null or (name eq null and accountid gt "${ID}"))`);
    // NULL sorts last descending: after 100 come smaller values and NULLs; after a NULL only NULLs with a greater key.
    expect(show(keysetPredicate([REVENUE_DESC, PK], [100, ID]))).toBe(`((revenue lt 100 or revenue eq null) or (revenue eq 100 and accountid gt "${ID}"))`);
    expect(show(keysetPredicate([REVENUE_DESC, PK], [null, ID]))).toBe(`(revenue eq null and (revenue eq null and accountid gt "${ID}"))`);
  });
});
