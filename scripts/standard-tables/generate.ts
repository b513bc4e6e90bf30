/**
 * Generates src/dataverse/metadata/data/standard-attributes.json from the attribute extracts in
 * this folder (one `<table>.txt` a table). Run: `node scripts/standard-tables/generate.ts`.
 *
 * Source: Microsoft's Dataverse table/entity reference, one page a table, in the MicrosoftDocs
 * powerapps-docs repository (powerapps-docs/developer/data-platform/reference/entities/<table>.md,
 * published at learn.microsoft.com/power-apps/developer/data-platform/reference/entities/<table>);
 * the Dynamics 365 tables that page set leaves out (lead, opportunity) come from the MicrosoftDocs
 * dynamics-365-customer-engagement repository (the Dynamics 365 table/entity reference, same page layout).
 * Each extract's first line names its page and the commit it was read at (`owner/repo:path` for a page
 * of another MicrosoftDocs repository). The pages list every
 * attribute of the table ("Writable columns/attributes" and "Read-only columns/attributes") with a
 * property table; an extract holds one line an attribute:
 *
 *     SchemaName|Type|DisplayName|Required|Flags|Detail
 *
 * - Required: N (None), A (ApplicationRequired), R (Recommended), S (SystemRequired).
 * - Flags: the letters c, u, r for IsValidForCreate, IsValidForUpdate, IsValidForRead.
 * - Detail by type: String/Memo: MaxLength; Integer/BigInt/Double/Decimal/Money:
 *   `MinValue..MaxValue` and `/Precision`; Picklist/State/Status/Boolean/MultiSelectPicklist: the
 *   options `value=Label;…` (Status: `value=Label@state`); Lookup/Customer/Owner/PartyList: the Targets,
 *   comma-separated; DateTime: `DateTimeBehavior/Format`.
 * - LogicalName is the lowercased SchemaName (true of every standard attribute on these pages).
 *
 * Left out of the extracts on purpose: the read-only `…Name` / `…YomiName` string attributes that
 * carry a lookup's display name (AttributeOf a lookup; Dataverse's Web API does not expose them as
 * properties, it returns the name as the `OData.Community.Display.V1.FormattedValue` annotation).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DocumentedAttribute } from "../../src/dataverse/metadata/documented.ts";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "../../src/dataverse/metadata/data/standard-attributes.json");

const REQUIRED: Record<string, DocumentedAttribute["requiredLevel"]> = { N: "None", A: "ApplicationRequired", R: "Recommended", S: "SystemRequired" };
const NUMERIC = new Set(["Integer", "BigInt", "Double", "Decimal", "Money"]);
const OPTIONS = new Set(["Picklist", "State", "Status", "Boolean", "MultiSelectPicklist"]);
const LOOKUPS = new Set(["Lookup", "Customer", "Owner", "PartyList"]);

/** One extracted attribute: the shape the loader reads (src/dataverse/metadata/documented.ts). */
type Extracted = DocumentedAttribute;

function parseLine(table: string, line: string): Extracted {
  const parts = line.split("|");
  if (parts.length !== 6) throw new Error(`${table}: expected 6 fields in '${line}'`);
  const [schemaName, type, displayName, required, flags, detail] = parts as [string, string, string, string, string, string];
  const requiredLevel = REQUIRED[required];
  if (!requiredLevel) throw new Error(`${table}.${schemaName}: unknown required level '${required}'`);
  if (!/^c?u?r?$/.test(flags)) throw new Error(`${table}.${schemaName}: bad flags '${flags}'`);
  const a: Extracted = {
    logicalName: schemaName.toLowerCase(),
    schemaName,
    type,
    displayName,
    requiredLevel,
    isValidForCreate: flags.includes("c"),
    isValidForUpdate: flags.includes("u"),
    isValidForRead: flags.includes("r"),
  };
  if (detail === "") return a;
  if (type === "String" || type === "Memo") {
    a.maxLength = Number(detail);
    if (!Number.isInteger(a.maxLength)) throw new Error(`${table}.${schemaName}: bad MaxLength '${detail}'`);
  } else if (NUMERIC.has(type)) {
    const m = /^(-?[\d.]+)\.\.(-?[\d.]+)(?:\/(\d+))?$/.exec(detail);
    if (!m) throw new Error(`${table}.${schemaName}: bad range '${detail}'`);
    a.minValue = Number(m[1]);
    a.maxValue = Number(m[2]);
    if (m[3] !== undefined) a.precision = Number(m[3]);
  } else if (OPTIONS.has(type)) {
    a.options = detail.split(";").map((o) => {
      const m = /^(-?\d+)=(.*?)(?:@(\d+))?$/.exec(o);
      if (!m) throw new Error(`${table}.${schemaName}: bad option '${o}'`);
      return { value: Number(m[1]), label: m[2] as string, ...(m[3] !== undefined ? { state: Number(m[3]) } : {}) };
    });
    // Boolean options as the API lists them: false first.
    if (type === "Boolean") a.options.sort((x, y) => x.value - y.value);
  } else if (LOOKUPS.has(type)) {
    a.targets = detail.split(",");
  } else if (type === "DateTime") {
    const [behavior, format] = detail.split("/");
    a.dateTimeBehavior = behavior;
    if (format) a.format = format;
  } else {
    throw new Error(`${table}.${schemaName}: type ${type} takes no detail ('${detail}')`);
  }
  return a;
}

const tables: Record<string, { source: string; commit: string; attributes: Extracted[] }> = {};
for (const file of readdirSync(here).filter((f) => f.endsWith(".txt")).sort()) {
  const lines = readFileSync(join(here, file), "utf8").split("\n").filter((l) => l.trim() !== "" && !l.startsWith("#"));
  const header = /^@(\w+) (\S+) ([0-9a-f]{40})$/.exec(lines[0] ?? "");
  if (!header) throw new Error(`${file}: first line must be '@table page commit'`);
  const [, table, source, commit] = header as unknown as [string, string, string, string];
  const attributes = lines.slice(1).map((l) => parseLine(table, l));
  const seen = new Set<string>();
  for (const a of attributes) {
    if (seen.has(a.logicalName)) throw new Error(`${table}.${a.logicalName}: listed twice`);
    seen.add(a.logicalName);
  }
  tables[table] = { source, commit, attributes };
}

const data = {
  $comment:
    "Generated by scripts/standard-tables/generate.ts from the extracts in scripts/standard-tables/*.txt; do not edit by hand. " +
    "Source: Microsoft Dataverse table/entity reference (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/), " +
    "the pages powerapps-docs/developer/data-platform/reference/entities/<table>.md of github.com/MicrosoftDocs/powerapps-docs at the commit named per table " +
    "(a source owner/repo:path is a page of that repository: the Dynamics 365 entity reference for lead and opportunity).",
  tables,
};
// One attribute a line: small diffs when a page changes.
const body = Object.entries(tables)
  .map(([name, t]) => `  ${JSON.stringify(name)}: {"source": ${JSON.stringify(t.source)}, "commit": ${JSON.stringify(t.commit)}, "attributes": [\n${t.attributes.map((a) => `    ${JSON.stringify(a)}`).join(",\n")}\n  ]}`)
  .join(",\n");
writeFileSync(out, `{"$comment": ${JSON.stringify(data.$comment)},\n"tables": {\n${body}\n}}\n`);
process.stdout.write(`wrote ${out}: ${Object.entries(tables).map(([t, v]) => `${t} ${v.attributes.length}`).join(", ")}\n`);
