import { strToU8, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { parseSolutionZip } from "./file.ts";

const MANIFEST = `<ImportExportXml><SolutionManifest><UniqueName>s</UniqueName><Version>1.0</Version><Managed>0</Managed><Publisher><UniqueName>p</UniqueName><CustomizationPrefix>p</CustomizationPrefix></Publisher></SolutionManifest></ImportExportXml>`;

/** Sets the uncompressed size that the central directory declares for `name` (what a zip bomb lies about). */
function declareSize(zip: Uint8Array, name: string, size: number): Uint8Array {
  const out = new Uint8Array(zip);
  const view = new DataView(out.buffer);
  for (let i = 0; i + 46 < out.length; i++) {
    if (view.getUint32(i, true) !== 0x02014b50) continue;
    const length = view.getUint16(i + 28, true);
    if (new TextDecoder().decode(out.subarray(i + 46, i + 46 + length)) === name) view.setUint32(i + 24, size, true);
  }
  return out;
}

describe("parseSolutionZip", () => {
  it("reads a minimal solution", () => {
    const parsed = parseSolutionZip(zipSync({ "solution.xml": strToU8(MANIFEST), "customizations.xml": strToU8("<ImportExportXml/>") }));
    expect(parsed).toMatchObject({ uniqueName: "s", version: "1.0", managed: false, publisher: { prefix: "p", optionValuePrefix: 10000 }, tables: [], roles: [] });
  });

  it("refuses, without inflating it, a part that declares more than 256 MB", () => {
    const zip = declareSize(zipSync({ "solution.xml": strToU8(MANIFEST), "customizations.xml": strToU8("<ImportExportXml/>") }), "customizations.xml", 300 * 1024 * 1024);
    expect(() => parseSolutionZip(zip)).toThrow(/customizations\.xml is larger than 256 MB/);
  });

  it("names what is wrong: no manifest, a bad version, a bad role level, a table without a primary name", () => {
    const zip = (manifest: string, customizations: string) => zipSync({ "solution.xml": strToU8(manifest), "customizations.xml": strToU8(customizations) });
    expect(() => parseSolutionZip(zipSync({ "other.xml": strToU8("<a/>") }))).toThrow(/solution\.xml and customizations\.xml/);
    expect(() => parseSolutionZip(zip(MANIFEST.replace("1.0", "one"), "<ImportExportXml/>"))).toThrow(/Version 'one'/);
    expect(() => parseSolutionZip(zip(MANIFEST, `<ImportExportXml><Roles><Role id="{00000000-0000-4000-8000-000000000001}" name="R"><RolePrivileges><RolePrivilege name="prvReadAccount" level="Everything"/></RolePrivileges></Role></Roles></ImportExportXml>`))).toThrow(/level 'Everything'/);
    expect(() => parseSolutionZip(zip(MANIFEST, `<ImportExportXml><Entities><Entity><Name>p_t</Name><EntityInfo><entity Name="p_t"><attributes/></entity></EntityInfo></Entity></Entities></ImportExportXml>`))).toThrow(/exactly one primary name/);
    expect(() => parseSolutionZip(zip(MANIFEST, "<ImportExportXml><unclosed></ImportExportXml>"))).toThrow(/not well-formed/);
  });
});
