import { customLogicalName, labelText, metadataErrors, parseOptions } from "./custom.ts";
import type { OrgMetadata } from "./registry.ts";
import type { GlobalOptionSetMetadata } from "./types.ts";
import { label, metadataId, type WireObject } from "./wire.ts";

/**
 * Global option sets (choices): definitions from `POST GlobalOptionSetDefinitions` bodies, their wire
 * form, and references to them (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets).
 */

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The `MetadataId` of a global option set: stable across orgs and runs, like the other definitions. */
export function globalOptionSetId(set: GlobalOptionSetMetadata): string {
  return metadataId("optionset", `global.${set.name}`);
}

/**
 * A global option set from an `OptionSetMetadata` body: `Name` (publisher-prefixed), `DisplayName`,
 * `Description`, `OptionSetType: "Picklist"` (the default), `IsGlobal` (true or absent) and `Options`.
 * @throws DataverseError 400 `0x80044331` for an invalid body.
 */
export function parseGlobalOptionSet(body: unknown): GlobalOptionSetMetadata {
  if (!isObject(body)) throw metadataErrors.invalid("The request body must be an OptionSetMetadata object.");
  const type = typeof body["@odata.type"] === "string" ? body["@odata.type"].replace(/^#?Microsoft\.Dynamics\.CRM\./, "") : "OptionSetMetadata";
  if (type !== "OptionSetMetadata") throw metadataErrors.invalid(`Global option sets are OptionSetMetadata, not ${type}.`);
  if (body.IsGlobal === false) throw metadataErrors.invalid("GlobalOptionSetDefinitions holds global option sets (IsGlobal true); local option sets are created with their column.");
  if (body.OptionSetType !== undefined && body.OptionSetType !== "Picklist") throw metadataErrors.invalid(`OptionSetType '${String(body.OptionSetType)}' is not supported: global option sets are Picklist option sets.`);
  const name = customLogicalName(body.Name, "OptionSet");
  const description = labelText(body.Description);
  return { name, displayName: labelText(body.DisplayName) ?? name, ...(description !== undefined ? { description } : {}), options: parseOptions(body.Options, name) };
}

/** A global option set as `OptionSetMetadata` (with `IsGlobal: true`), as `GlobalOptionSetDefinitions` returns it. */
export function globalOptionSetToWire(set: GlobalOptionSetMetadata): WireObject {
  const owner = `global.${set.name}`;
  return {
    "@odata.type": "#Microsoft.Dynamics.CRM.OptionSetMetadata",
    MetadataId: globalOptionSetId(set),
    Name: set.name,
    IsGlobal: true,
    IsCustomOptionSet: true,
    IsCustomizable: { Value: true, CanBeChanged: true, ManagedPropertyLogicalName: "iscustomizable" },
    IsManaged: false,
    IntroducedVersion: "1.0",
    ParentOptionSetName: null,
    ExternalTypeName: null,
    OptionSetType: "Picklist",
    DisplayName: label(set.displayName, `${owner}.optionset`, false),
    Description: label(set.description, `${owner}.description`, false),
    Options: set.options.map((o) => ({ Value: o.value, Color: null, IsManaged: false, ExternalValue: null, ParentValues: [], Tag: null, IsHidden: false, Label: label(o.label, `${owner}.${o.value}`, false), Description: label(undefined, "", false) })),
    HasChanged: null,
  };
}

/** The properties `$select` may name on a global `OptionSetMetadata`. */
export const GLOBAL_OPTION_SET_PROPERTIES: ReadonlySet<string> = new Set(Object.keys(globalOptionSetToWire({ name: "x", displayName: "x", options: [] })).filter((k) => k !== "@odata.type"));

/**
 * The global option set a reference names: `/GlobalOptionSetDefinitions(<MetadataId>)`,
 * `GlobalOptionSetDefinitions(Name='x')` (absolute URLs too), `Name='x'`, a MetadataId or a bare name.
 */
export function resolveGlobalOptionSet(md: OrgMetadata, reference: string): GlobalOptionSetMetadata | undefined {
  const inner = /GlobalOptionSetDefinitions\((.*)\)\s*$/.exec(reference)?.[1] ?? reference;
  const text = inner.trim();
  const named = /^Name\s*=\s*'((?:[^']|'')*)'$/.exec(text);
  if (named) return md.optionSet((named[1] as string).replace(/''/g, "'").toLowerCase());
  const byId = md.optionSets().find((s) => globalOptionSetId(s) === text.toLowerCase());
  return byId ?? md.optionSet(text.toLowerCase());
}
