/** A Dataverse environment (organization) bound to one Entra tenant. */
export interface Org {
  /** `organizationid`. */
  id: string;
  /** URL name: the org URL is `{base}/org/{name}`. Lower-case letters and digits. */
  name: string;
  /** The Entra tenant whose tokens the org accepts. */
  tenantId: string;
  displayName: string;
  /** Prefix of this org's SQL record tables (one SQL table per Dataverse table). */
  tablePrefix: string;
}

/** A record as read from or written to the store: logical column name → SQL value. */
export type Row = Record<string, unknown>;

/** The systemuser a request acts as. */
export interface Caller {
  systemUserId: string;
  businessUnitId: string;
  /** `application` for app-only (S2S) tokens, `user` for delegated ones. */
  kind: "application" | "user";
  /**
   * When impersonating (`MSCRMCallerID` / `CallerObjectId`): the authenticated user acting on
   * behalf of {@link systemUserId}. Undefined otherwise.
   */
  callingUserId?: string;
}
