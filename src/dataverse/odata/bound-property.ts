import type { OrgMetadata } from "../metadata/registry.ts";
import type { AttributeMetadata, EntityMetadata } from "../metadata/types.ts";
import type { Expr } from "../store.ts";
import type { FilterNode, Literal } from "./filter.ts";

/**
 * The shapes the `$filter` binder (`filter-binder.ts`) and the query functions (`query-functions.ts`)
 * share, kept apart so that neither file imports the other's module (no import cycle).
 */

/** Who is asking and when: the `EqualUserId`/`EqualBusinessId` and date query functions need them. */
export interface FilterCaller {
  systemUserId: string;
  businessUnitId: string;
}

/**
 * A property resolved against metadata. Lookup paths (`primarycontactid/fullname`) resolve on the
 * target table, and `wrap` turns a predicate on that table into an EXISTS on the queried one.
 */
export interface BoundProperty {
  attribute: AttributeMetadata;
  /** Table the attribute belongs to. */
  entity: EntityMetadata;
  /** The name used in the request, for messages. */
  name: string;
  wrap(inner: Expr): Expr;
}

/** What a query function asks of the binder (implemented by `FilterBinder`). */
export interface PropertyBinder {
  readonly context: { readonly md: OrgMetadata };
  /** A literal node's value. @throws DataverseError 400 naming `context` when `node` is not a literal. */
  literal(node: FilterNode, context: string): Literal;
  /** A property path resolved on `entity`. @throws DataverseError 400 for an unknown property. */
  property(path: string[], entity?: EntityMetadata): BoundProperty;
}
