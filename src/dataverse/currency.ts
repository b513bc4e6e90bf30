import type { OrgMetadata } from "./metadata/registry.ts";
import type { AttributeMetadata, EntityMetadata } from "./metadata/types.ts";
import type { Org, Row } from "./model.ts";
import type { Expr, RecordStore } from "./store.ts";

/**
 * Currency columns the platform fills on writes to tables with money columns
 * (learn.microsoft.com/power-apps/developer/data-platform/transaction-currency-currency-entity):
 *
 * - `transactioncurrencyid`: the org's base currency (`organization.basecurrencyid`) when a
 *   Create gives none, or when an Update sets a money value on a row that has none;
 * - `exchangerate` (when the table has it): the currency's `exchangerate` (1 for the base currency);
 * - `{money}_base`, for every Money column that has a sibling `{money}_base` column:
 *   `value / exchangerate`, rounded to the base column's precision (4 digits when it has none).
 *
 * Metadata-driven: a table takes part when it has a `transactioncurrencyid` lookup to
 * `transactioncurrency` and at least one Money column; a base value is computed only where the
 * table defines the `_base` column.
 */

/** The money columns of `entity` that are not themselves `{money}_base` columns, with their base column if any. */
function moneyColumns(entity: EntityMetadata): { money: AttributeMetadata; base: AttributeMetadata | undefined }[] {
  const money = entity.attributes.filter((a) => a.type === "Money");
  const names = new Set(money.map((a) => a.logicalName));
  return money
    .filter((a) => !(a.logicalName.endsWith("_base") && names.has(a.logicalName.slice(0, -"_base".length))))
    .map((a) => ({ money: a, base: entity.attributes.find((b) => b.logicalName === `${a.logicalName}_base`) }));
}

function participates(md: OrgMetadata, entity: EntityMetadata): boolean {
  const currency = entity.attributes.find((a) => a.logicalName === "transactioncurrencyid");
  return currency !== undefined && (currency.targets ?? []).includes("transactioncurrency") && md.entity("transactioncurrency") !== undefined && moneyColumns(entity).length > 0;
}

const eq = (column: string, value: string): Expr => ({ kind: "compare", op: "eq", left: { kind: "column", name: column }, right: { kind: "value", value } });

/**
 * The base currency id, memoized per transaction-bound store (one request, e.g. a `CreateMultiple` of
 * many rows), so a bulk write asks once; it cannot change (Dataverse sets it when the org is created).
 * A store outside a transaction is not memoized.
 */
const memo = new WeakMap<RecordStore, Map<string, Promise<unknown>>>();

function remember<T>(store: RecordStore, key: string, read: () => Promise<T>): Promise<T> {
  if (store.inTransaction !== true) return read();
  let byKey = memo.get(store);
  if (!byKey) memo.set(store, (byKey = new Map()));
  let value = byKey.get(key) as Promise<T> | undefined;
  if (!value) byKey.set(key, (value = read()));
  return value;
}

/** The org's base currency id (`organization.basecurrencyid`), if it has one. */
function baseCurrencyId(store: RecordStore, org: Org, md: OrgMetadata): Promise<string | undefined> {
  return remember(store, `${org.id}:base`, async () => {
    const organization = md.entity("organization");
    if (!organization) return undefined;
    const [row] = await store.selectRows(org, { entity: organization, columns: ["basecurrencyid"], orderBy: [], limit: 1 });
    return typeof row?.basecurrencyid === "string" ? row.basecurrencyid : undefined;
  });
}

/** A currency's exchange rate to the base currency (units of the currency per base unit): 1 for the base currency, 1 when unknown. */
async function exchangeRate(store: RecordStore, org: Org, md: OrgMetadata, currencyId: string): Promise<number> {
  if (currencyId === (await baseCurrencyId(store, org, md))) return 1;
  const currency = md.entity("transactioncurrency") as EntityMetadata;
  const [row] = await store.selectRows(org, { entity: currency, columns: ["exchangerate"], where: eq("transactioncurrencyid", currencyId), orderBy: [], limit: 1 });
  const rate = Number(row?.exchangerate);
  return Number.isFinite(rate) && rate > 0 ? rate : 1;
}

function baseValue(value: unknown, rate: number, base: AttributeMetadata): number | null {
  if (value === null || value === undefined || value === "") return null;
  const n = Number(value);
  if (!Number.isFinite(n)) return null;
  return Number((n / rate).toFixed(base.precision ?? 4));
}

/**
 * The currency columns to add to a write of `values` (already validated SQL values, lookups
 * resolved) to a row of `entity`: for a Create, `existing` is undefined; for an Update it is
 * read lazily through `readExisting` (the stored `transactioncurrencyid`, `exchangerate` and
 * money columns), only when the write touches a money column or the currency.
 * Returns the columns to merge over `values` (empty when the table has no money columns).
 * Two or three single-row SQL reads; never throws for a missing currency row (rate 1).
 */
export async function currencyColumns(store: RecordStore, org: Org, md: OrgMetadata, entity: EntityMetadata, values: Row, readExisting?: (columns: string[]) => Promise<Row | undefined>): Promise<Row> {
  if (!participates(md, entity)) return {};
  const columns = moneyColumns(entity);
  const hasRate = entity.attributes.some((a) => a.logicalName === "exchangerate");
  const out: Row = {};
  let currencyId: unknown;
  let currencyChanged: boolean;
  let existing: Row | undefined;
  if (!readExisting) {
    currencyId = values.transactioncurrencyid ?? (await baseCurrencyId(store, org, md));
    currencyChanged = true;
  } else {
    const touchesMoney = columns.some((c) => c.money.logicalName in values);
    if (!touchesMoney && !("transactioncurrencyid" in values)) return {};
    existing = await readExisting(["transactioncurrencyid", ...(hasRate ? ["exchangerate"] : []), ...columns.map((c) => c.money.logicalName)]);
    if ("transactioncurrencyid" in values) currencyId = values.transactioncurrencyid;
    else currencyId = existing?.transactioncurrencyid ?? (await baseCurrencyId(store, org, md));
    currencyChanged = currencyId !== existing?.transactioncurrencyid;
  }
  if (typeof currencyId !== "string") {
    // A currency cleared explicitly (or an org without a base currency): no rate, no base values.
    return {};
  }
  if (values.transactioncurrencyid === undefined && currencyId !== existing?.transactioncurrencyid) out.transactioncurrencyid = currencyId;
  const rate = await exchangeRate(store, org, md, currencyId);
  if (hasRate && (currencyChanged || existing?.exchangerate === null || existing?.exchangerate === undefined)) out.exchangerate = rate;
  for (const { money, base } of columns) {
    if (!base) continue;
    const name = money.logicalName;
    if (name in values) out[base.logicalName] = baseValue(values[name], rate, base);
    else if (existing && currencyChanged) out[base.logicalName] = baseValue(existing[name], rate, base);
    else if (!existing) out[base.logicalName] = null;
  }
  return out;
}
