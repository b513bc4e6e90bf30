import { OrgboxError } from "../common/errors.ts";

/**
 * A Dataverse Web API error, rendered as `{"error":{"code":"0x…","message":…}}`
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors).
 */
export class DataverseError extends OrgboxError {
  /** Hex error code, e.g. `0x80040217`. */
  readonly code: string;
  constructor(status: number, code: string, message: string, headers?: Record<string, string>) {
    super(status, message, headers ? { headers } : undefined);
    this.code = code;
  }
}

/** Constructors for the errors orgbox raises, codes from `shared/reference/dataverse.md` §2. */
export const dv = {
  segmentNotFound: (segment: string) => new DataverseError(404, "0x8006088a", `Resource not found for the segment '${segment}'.`),
  recordNotFound: (entity: string, id: string) => new DataverseError(404, "0x80040217", `${entity} With Id = ${id} Does Not Exist`),
  propertyNotFound: (property: string, entity: string) => new DataverseError(400, "0x0", `Could not find a property named '${property}' on type 'Microsoft.Dynamics.CRM.${entity}'.`),
  querySyntax: (detail: string) => new DataverseError(400, "0x80060888", `Syntax error: ${detail}`),
  queryOptionNotSupported: (option: string) => new DataverseError(400, "0x80060888", `The query parameter ${option} is not supported`),
  notMember: () => new DataverseError(403, "0x80072560", "The user is not a member of the organization."),
  noRoles: (userId: string) => new DataverseError(403, "0x80042f09", `The user with id ${userId} has not been assigned any roles. They need a role with the prvReadEntity privilege.`),
  methodNotAllowed: (method: string) => new DataverseError(405, "0x80060888", `The HTTP method '${method}' is not allowed on this resource.`),
  orgNotFound: (name: string) => new DataverseError(404, "0x8006088a", `The organization '${name}' does not exist.`),
  unexpected: () => new DataverseError(500, "0x80040216", "An unexpected error occurred."),
  /** AggregateQueryRecordLimit (-2147164125): an aggregate (`$apply`, FetchXML) over more than {@link AGGREGATE_RECORD_LIMIT} rows. */
  aggregateLimit: () => new DataverseError(400, "0x8004e023", "AggregateQueryRecordLimit exceeded. Cannot perform this operation."),
};

/** Dataverse aggregates at most this many rows (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/aggregate-data, fetchxml/aggregate-data). */
export const AGGREGATE_RECORD_LIMIT = 50_000;
