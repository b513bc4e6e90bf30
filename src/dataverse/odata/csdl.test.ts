import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { whoAmI } from "../functions.ts";
import { OrgMetadata } from "../metadata/registry.ts";
import { STANDARD_TABLES } from "../metadata/standard.ts";
import { buildCsdl, xmlEscape } from "./csdl.ts";

describe("CSDL", () => {
  it("escapes attribute text", () => {
    expect(xmlEscape(`a<b>&"c'`)).toBe("a&lt;b&gt;&amp;&quot;c&apos;");
  });

  it("is well-formed XML with one EntityType per table and no entity set for intersect tables", () => {
    const md = new OrgMetadata(STANDARD_TABLES);
    const xml = buildCsdl(md, [whoAmI]);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "" }).parse(xml) as { "edmx:Edmx": { "edmx:DataServices": { Schema: { EntityType: { Name: string }[]; EntityContainer: { EntitySet: { Name: string }[] } } } } };
    const schema = doc["edmx:Edmx"]["edmx:DataServices"].Schema;
    expect(schema.EntityType.map((t) => t.Name)).toEqual(["crmbaseentity", ...STANDARD_TABLES.map((t) => t.logicalName)]);
    expect(schema.EntityContainer.EntitySet.map((s) => s.Name)).not.toContain("roleprivilegescollection");
    expect(buildCsdl(md, [whoAmI])).toBe(xml);
  });
});
