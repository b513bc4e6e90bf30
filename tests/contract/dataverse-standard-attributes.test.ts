/**
 * The standard tables carry the attributes Microsoft's table reference documents
 * (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/<table>), as held in
 * src/dataverse/metadata/data/standard-attributes.json: EntityDefinitions lists them with their
 * documented facts and $metadata has a property for each.
 */
import { XMLParser } from "fast-xml-parser";
import { beforeAll, describe, expect, it } from "vitest";
import { DOCUMENTED_TABLES, documentedAttributeLeftOut } from "../../src/dataverse/metadata/documented.ts";
import { STANDARD_TABLES } from "../../src/dataverse/metadata/standard.ts";
import { adminToken, apiCall, useOrgbox } from "../helpers/orgbox.ts";

const KNOWN = new Set(STANDARD_TABLES.map((t) => t.logicalName));
const LOOKUP_TYPES = new Set(["Lookup", "Customer", "Owner"]);

interface Named {
  Name: string;
}

describe("standard tables from the documented attribute sets", () => {
  const orgbox = useOrgbox();
  let token = "";
  let entityTypes: Map<string, Set<string>>;

  beforeAll(async () => {
    token = await adminToken(orgbox());
    const res = await apiCall(orgbox(), token, "GET", "$metadata");
    expect(res.status).toBe(200);
    const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (name, _p, _l, isAttribute) => !isAttribute && ["Schema", "EntityType", "Property"].includes(name) });
    const doc = parser.parse(res.text) as { "edmx:Edmx": { "edmx:DataServices": { Schema: { EntityType: (Named & { Property?: Named[] })[] }[] } } };
    const types = doc["edmx:Edmx"]["edmx:DataServices"].Schema.flatMap((s) => s.EntityType);
    entityTypes = new Map(types.map((t) => [t.Name, new Set((t.Property ?? []).map((p) => p.Name))]));
  });

  it("covers the tables of issue #12 with their page and commit", () => {
    for (const name of ["account", "team", "annotation", "transactioncurrency", "task", "phonecall"]) {
      const table = DOCUMENTED_TABLES.get(name);
      expect(table?.source).toBe(`powerapps-docs/developer/data-platform/reference/entities/${name}.md`);
      expect(table?.commit).toMatch(/^[0-9a-f]{40}$/);
    }
    // account: the documented columns dataverse-ify's CRUD test writes, with their documented facts.
    const account = DOCUMENTED_TABLES.get("account")?.attributes ?? [];
    expect(account.find((a) => a.logicalName === "address1_latitude")).toMatchObject({ type: "Double", minValue: -90, maxValue: 90, precision: 5 });
    expect(account.find((a) => a.logicalName === "accountcategorycode")?.options).toEqual([{ value: 1, label: "Preferred Customer" }, { value: 2, label: "Standard" }]);
  });

  for (const [name, documented] of DOCUMENTED_TABLES) {
    it(`${name}: EntityDefinitions and $metadata list every documented attribute orgbox stores`, async () => {
      const kept = documented.attributes.filter((a) => documentedAttributeLeftOut(a, KNOWN) === undefined);
      const leftOut = documented.attributes.filter((a) => documentedAttributeLeftOut(a, KNOWN) !== undefined);
      expect(kept.length + leftOut.length).toBe(documented.attributes.length);
      expect(kept.length).toBeGreaterThan(0);

      const res = await apiCall(orgbox(), token, "GET", `EntityDefinitions(LogicalName='${name}')/Attributes?$select=LogicalName,SchemaName,AttributeType`);
      expect(res.status).toBe(200);
      const listed = new Map((res.body.value as { LogicalName: string; SchemaName: string; AttributeType: string }[]).map((a) => [a.LogicalName, a]));
      const keptNames = kept.map((a) => a.logicalName);
      // Every documented attribute orgbox stores is listed, under its documented schema name; those left out are not.
      expect(keptNames.filter((n) => !listed.has(n))).toEqual([]);
      for (const a of kept) expect(listed.get(a.logicalName)?.SchemaName).toBe(a.schemaName);
      expect(leftOut.map((a) => a.logicalName).filter((n) => listed.has(n) && !STANDARD_TABLES.find((t) => t.logicalName === name)?.attributes.some((x) => x.logicalName === n))).toEqual([]);
      // The attribute count: the documented ones kept, plus orgbox's own columns the page does not list.
      const own = (STANDARD_TABLES.find((t) => t.logicalName === name)?.attributes ?? []).filter((a) => !documented.attributes.some((d) => d.logicalName === a.logicalName));
      expect(listed.size).toBe(kept.length + own.length);

      // $metadata: a property for each (lookups as `_name_value`).
      const properties = entityTypes.get(name) as Set<string>;
      const wanted = kept.map((a) => (LOOKUP_TYPES.has(a.type) ? `_${a.logicalName}_value` : a.logicalName));
      expect(wanted.filter((p) => !properties.has(p))).toEqual([]);
    });
  }

  it("leaves out the documented attributes of types orgbox does not store, and lookups to tables it does not have", async () => {
    const res = await apiCall(orgbox(), token, "GET", "EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName");
    const names = new Set((res.body.value as { LogicalName: string }[]).map((a) => a.LogicalName));
    expect(names.has("entityimage")).toBe(false); // Image
    expect(names.has("slaid")).toBe(false); // Lookup to sla
    expect(names.has("createdbyexternalparty")).toBe(false); // Lookup to externalparty
    expect(names.has("isprivate")).toBe(false); // IsValidForRead false
    expect(names.has("preferredsystemuserid")).toBe(true);
    expect(entityTypes.get("account")?.has("_slaid_value")).toBe(false);
  });
});
