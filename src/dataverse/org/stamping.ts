import { newGuid } from "../../common/ids.ts";
import type { Clock } from "../../common/clock.ts";
import { currencyColumns } from "../currency.ts";
import { formatDateTime } from "../format.ts";
import type { EntityMetadata } from "../metadata/types.ts";
import { OrgModelError } from "../model-error.ts";
import type { Org, Row } from "../model.ts";
import type { Expr } from "../store.ts";
import type { OrgRuntime } from "./runtime.ts";

/**
 * Record stamping: the platform columns Dataverse fills on Create and Update (ids, created/modified
 * on and by, a monotonic `versionnumber`, owner columns, `fullname`, default state), and the org
 * model's own inserts and full-table reads below the Web API (seeds, environments, `orgbox export`).
 */
export class RecordStamping {
  private readonly runtime: OrgRuntime;
  private readonly clock: Clock;
  private version = 0;

  constructor(runtime: OrgRuntime, clock: Clock) {
    this.runtime = runtime;
    this.clock = clock;
  }

  /** Monotonic row version (`versionnumber`). */
  nextVersion(): number {
    this.version = Math.max(this.version + 1, this.clock.now());
    return this.version;
  }

  /**
   * Inserts a record with platform columns filled: id, created/modified on and
   * by, `versionnumber`, owner columns and computed `fullname`, and the currency columns of
   * tables with money columns (see {@link currencyColumns}).
   */
  async insert(org: Org, logicalName: string, values: Row, callerId?: string, owner?: { id: string; businessUnitId: string }): Promise<string> {
    const md = await this.runtime.loadMetadata(org);
    const entity = md.entity(logicalName);
    if (!entity) throw new OrgModelError(`table '${logicalName}' does not exist`);
    const row = this.stampNew(entity, { ...values, ...(await currencyColumns(this.runtime.store, org, md, entity, values)) }, callerId, owner);
    await this.runtime.store.insertRow(org, entity, row);
    return String(row[entity.primaryIdAttribute]);
  }

  /**
   * A new record's row with the platform columns Dataverse fills on Create: the
   * primary key (lower-case), `createdon`/`modifiedon` (second precision, `Z`),
   * `createdby`/`modifiedby`, `versionnumber`, the owner columns, the computed
   * `fullname` and the default `statecode`/`statuscode`
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api).
   * Values already in `values` win, except `versionnumber`.
   */
  stampNew(entity: EntityMetadata, values: Row, callerId?: string, owner?: { id: string; businessUnitId: string }): Row {
    const now = formatDateTime(this.clock.now());
    const row: Row = { ...values };
    row[entity.primaryIdAttribute] = String(row[entity.primaryIdAttribute] ?? newGuid()).toLowerCase();
    if (!entity.isIntersect) {
      row.createdon ??= now;
      row.modifiedon ??= now;
      row.createdby ??= callerId ?? null;
      row.modifiedby ??= callerId ?? null;
      row.versionnumber = this.nextVersion();
    }
    if (entity.ownershipType === "UserOwned" && owner) {
      row.ownerid ??= owner.id;
      row.owneridtype ??= "systemuser";
      if (row.owneridtype === "systemuser") row.owninguser ??= row.ownerid;
      row.owningbusinessunit ??= owner.businessUnitId;
    }
    if (entity.attributes.some((a) => a.logicalName === "fullname") && row.fullname === undefined) {
      const full = fullName(row);
      if (full) row.fullname = full;
    }
    if (entity.attributes.some((a) => a.logicalName === "statecode") && row.statecode === undefined) {
      row.statecode = 0;
      row.statuscode ??= 1;
    }
    return row;
  }

  /**
   * The columns an Update writes besides `changes`: `modifiedon`, `modifiedby`, a new
   * `versionnumber`, and `fullname` recomputed when the first or last name changed
   * (`existing` is the stored row, at least its `firstname`/`lastname`).
   */
  stampUpdate(entity: EntityMetadata, changes: Row, existing: Row, callerId: string): Row {
    const row: Row = { ...changes };
    if (!entity.isIntersect) {
      row.modifiedon = formatDateTime(this.clock.now());
      row.modifiedby = callerId;
      row.versionnumber = this.nextVersion();
    }
    const computesFullName = entity.attributes.some((a) => a.logicalName === "fullname" && !a.isValidForUpdate);
    if (computesFullName && ("firstname" in changes || "lastname" in changes)) {
      row.fullname = fullName({ ...existing, ...changes }) || null;
    }
    return row;
  }

  /**
   * One page of a table's rows in primary-key order, for full scans (`orgbox export`):
   * the rows whose primary key sorts after `after` (all rows when omitted), at most
   * `limit`, every stored column. One SQL statement; page on with the last row's key.
   * @throws OrgModelError for an unknown table.
   */
  async listRows(org: Org, logicalName: string, page: { after?: string; limit: number }): Promise<Row[]> {
    const entity = (await this.runtime.loadMetadata(org)).entity(logicalName);
    if (!entity) throw new OrgModelError(`table '${logicalName}' does not exist`);
    const pk = entity.primaryIdAttribute;
    const where: Expr | undefined = page.after === undefined ? undefined : { kind: "compare", op: "gt", left: { kind: "column", name: pk }, right: { kind: "value", value: page.after } };
    return this.runtime.store.selectRows(org, { entity, columns: entity.attributes.map((a) => a.logicalName), ...(where ? { where } : {}), orderBy: [{ column: pk, descending: false }], limit: page.limit });
  }
}

/** Dataverse's default full-name format: "First Last". */
function fullName(row: Row): string {
  return [row.firstname, row.lastname].filter((v) => typeof v === "string" && v.length > 0).join(" ");
}
