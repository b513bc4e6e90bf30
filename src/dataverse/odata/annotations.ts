import type { OrgMetadata } from "../metadata/registry.ts";
import { isLookupType, type AttributeMetadata, type EntityMetadata } from "../metadata/types.ts";
import type { Row } from "../model.ts";
import { navigationFor } from "../navigation.ts";
import { ReadScope, type RelatedValue } from "../store.ts";
import type { AnnotationSelection } from "./prefer.ts";
import { propertyName } from "./serializer.ts";

/** Instance annotation terms Dataverse emits on records (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/select-columns#formatted-values). */
export const FORMATTED_VALUE = "OData.Community.Display.V1.FormattedValue";
const LOOKUP_LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname";
const ASSOCIATED_NAVIGATION_PROPERTY = "Microsoft.Dynamics.CRM.associatednavigationproperty";

interface LookupPlan {
  attribute: AttributeMetadata;
  targets: { logicalName: string; navigation: string; nameAlias: string | undefined; idAlias: string | undefined }[];
}

/** The extra values a read must fetch (in the same SQL statement) to annotate its rows. */
export interface AnnotationPlan {
  selection: AnnotationSelection;
  related: RelatedValue[];
  lookups: Map<string, LookupPlan>;
  currencyAlias: string | undefined;
}

/**
 * A lookup's formatted value (the referenced record's primary name) and, for multi-table lookups, which
 * table it points at are part of the referencing record in Dataverse: a caller who may read the record
 * sees them whatever its access to the referenced one (only the referenced record's other columns are guarded).
 */
const LOOKUP_NAMES = ReadScope.system("a lookup's name and target table are part of the referencing record, as in Dataverse");
/** Currency symbols format money values: `transactioncurrency` is organization-owned reference data. */
const CURRENCY_SYMBOLS = ReadScope.system("currency symbols of money formatted values (organization-owned reference data)");

/**
 * Decides which correlated subqueries a read needs for the requested annotations: the target's
 * primary name for lookup formatted values (and the target's key for multi-table lookups, to tell
 * which table a value points at), and the row currency's symbol for money formatted values.
 */
export function planAnnotations(md: OrgMetadata, entity: EntityMetadata, attributes: AttributeMetadata[], selection: AnnotationSelection): AnnotationPlan {
  const plan: AnnotationPlan = { selection, related: [], lookups: new Map(), currencyAlias: undefined };
  if (!selection.any) return plan;
  const wantsFormatted = selection.has(FORMATTED_VALUE);
  const navigations = navigationFor(md).singleValuedAll(entity);
  for (const attribute of attributes) {
    if (!isLookupType(attribute.type)) continue;
    const targets: LookupPlan["targets"] = [];
    const multi = (attribute.targets?.length ?? 0) > 1;
    for (const logicalName of attribute.targets ?? []) {
      const target = md.entity(logicalName);
      if (!target) continue;
      const navigation = navigations.find((n) => n.attribute === attribute && n.targets.includes(logicalName))?.name ?? attribute.logicalName;
      const base = `__${attribute.logicalName}__${logicalName}`;
      const nameAlias = wantsFormatted ? `${base}__name` : undefined;
      const idAlias = multi ? `${base}__id` : undefined;
      if (nameAlias) plan.related.push({ alias: nameAlias, column: attribute.logicalName, target, targetColumn: target.primaryNameAttribute, scope: LOOKUP_NAMES });
      if (idAlias) plan.related.push({ alias: idAlias, column: attribute.logicalName, target, targetColumn: target.primaryIdAttribute, scope: LOOKUP_NAMES });
      targets.push({ logicalName, navigation, nameAlias, idAlias });
    }
    plan.lookups.set(attribute.logicalName, { attribute, targets });
  }
  const currency = md.attribute(entity, "transactioncurrencyid");
  const currencyTable = md.entity("transactioncurrency");
  if (wantsFormatted && currency && currencyTable && attributes.some((a) => a.type === "Money")) {
    plan.currencyAlias = "__currencysymbol";
    plan.related.push({ alias: plan.currencyAlias, column: "transactioncurrencyid", target: currencyTable, targetColumn: "currencysymbol", scope: CURRENCY_SYMBOLS });
  }
  return plan;
}

const NUMBER_FORMATS = new Map<number, Intl.NumberFormat>();
function numberFormat(digits: number | undefined): Intl.NumberFormat {
  const key = digits ?? -1;
  let format = NUMBER_FORMATS.get(key);
  if (!format) {
    format = new Intl.NumberFormat("en-US", digits === undefined ? { maximumFractionDigits: 10 } : { minimumFractionDigits: digits, maximumFractionDigits: digits });
    NUMBER_FORMATS.set(key, format);
  }
  return format;
}

/** `5/1/2024 9:30 AM` (en-US, UTC), or `5/1/2024` for date-only columns. */
function formatDate(value: string, dateOnly: boolean): string | undefined {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return undefined;
  const d = new Date(ms);
  const date = `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`;
  if (dateOnly) return date;
  const hours = d.getUTCHours();
  return `${date} ${hours % 12 === 0 ? 12 : hours % 12}:${String(d.getUTCMinutes()).padStart(2, "0")} ${hours < 12 ? "AM" : "PM"}`;
}

/** The FormattedValue of a non-lookup column, or undefined when Dataverse gives none. */
function formattedValue(attribute: AttributeMetadata, value: unknown, row: Row, plan: AnnotationPlan): string | undefined {
  const symbol = plan.currencyAlias ? row[plan.currencyAlias] : undefined;
  return formatValue(attribute, value, typeof symbol === "string" ? symbol : undefined);
}

/**
 * The `OData.Community.Display.V1.FormattedValue` of a value of `attribute` (en-US, UTC): option
 * labels, grouped numbers, money with `currencySymbol`, `M/D/YYYY h:mm AM` dates; undefined for
 * types Dataverse gives none (text, lookups, ids).
 */
export function formatValue(attribute: AttributeMetadata, value: unknown, currencySymbol?: string): string | undefined {
  switch (attribute.type) {
    case "Picklist":
    case "State":
    case "Status":
      return attribute.options?.find((o) => o.value === Number(value))?.label;
    case "MultiSelectPicklist":
      // The labels of the chosen options, joined with "; " as Dataverse formats them.
      return String(value)
        .split(",")
        .map((v) => attribute.options?.find((o) => o.value === Number(v))?.label ?? v)
        .join("; ");
    case "Boolean": {
      const flag = value === true || value === 1 || value === "1";
      return attribute.options?.find((o) => o.value === (flag ? 1 : 0))?.label ?? (flag ? "Yes" : "No");
    }
    case "Money": {
      const n = Number(value);
      const text = numberFormat(attribute.precision ?? 2).format(Math.abs(n));
      return `${n < 0 ? "-" : ""}${currencySymbol ?? ""}${text}`;
    }
    case "Integer":
      return numberFormat(0).format(Number(value));
    case "Decimal":
    case "Double":
      return numberFormat(attribute.precision).format(Number(value));
    case "DateTime":
      return formatDate(String(value), attribute.dateTimeBehavior === "DateOnly");
    default:
      return undefined;
  }
}

/**
 * Adds the requested annotations to a serialised record, each placed right before its property as
 * Dataverse does: `x@OData.Community.Display.V1.FormattedValue`, and for lookups also
 * `_x_value@Microsoft.Dynamics.CRM.associatednavigationproperty` and `…lookuplogicalname`.
 * Null values get no annotations.
 */
export function annotateRecord(attributes: AttributeMetadata[], row: Row, serialized: Record<string, unknown>, plan: AnnotationPlan): Record<string, unknown> {
  if (!plan.selection.any) return serialized;
  const byProperty = new Map(attributes.map((a) => [propertyName(a), a]));
  const out: Record<string, unknown> = {};
  const { selection } = plan;
  for (const [key, value] of Object.entries(serialized)) {
    const attribute = byProperty.get(key);
    if (attribute && value !== null && value !== undefined) {
      const lookup = plan.lookups.get(attribute.logicalName);
      if (lookup) {
        const target = lookup.targets.length === 1 ? lookup.targets[0] : lookup.targets.find((t) => t.idAlias !== undefined && row[t.idAlias] !== null && row[t.idAlias] !== undefined);
        const name = target?.nameAlias ? row[target.nameAlias] : undefined;
        if (selection.has(FORMATTED_VALUE) && name !== null && name !== undefined) out[`${key}@${FORMATTED_VALUE}`] = String(name);
        if (target && selection.has(ASSOCIATED_NAVIGATION_PROPERTY)) out[`${key}@${ASSOCIATED_NAVIGATION_PROPERTY}`] = target.navigation;
        if (target && selection.has(LOOKUP_LOGICAL_NAME)) out[`${key}@${LOOKUP_LOGICAL_NAME}`] = target.logicalName;
      } else if (selection.has(FORMATTED_VALUE)) {
        const formatted = formattedValue(attribute, value, row, plan);
        if (formatted !== undefined) out[`${key}@${FORMATTED_VALUE}`] = formatted;
      }
    }
    out[key] = value;
  }
  return out;
}
