import { OrgboxError } from "../common/errors.ts";
import { OrgModelError, type ModelErrorReason } from "./model-error.ts";

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
  /** 0x80072560, Dataverse's sentence, then (orgbox) who has no enabled systemuser and how to create one. */
  notMember: (detail?: string) => new DataverseError(403, "0x80072560", `The user is not a member of the organization.${detail ? ` ${detail}` : ""}`),
  noRoles: (userId: string) => new DataverseError(403, "0x80042f09", `The user with id ${userId} has not been assigned any roles. They need a role with the prvReadEntity privilege.`),
  /** A request URL the router could not decode (bad percent-encoding). */
  urlSyntax: (detail: string) => new DataverseError(400, "0x80060888", `Bad Request - Error in query syntax: ${detail}`),
  methodNotAllowed: (method: string) => new DataverseError(405, "0x80060888", `The HTTP method '${method}' is not allowed on this resource.`),
  orgNotFound: (name: string) => new DataverseError(404, "0x8006088a", `The organization '${name}' does not exist.`),
  unexpected: () => new DataverseError(500, "0x80040216", "An unexpected error occurred."),
  /** AggregateQueryRecordLimit (-2147164125): an aggregate (`$apply`, FetchXML) over more than {@link AGGREGATE_RECORD_LIMIT} rows. */
  aggregateLimit: () => new DataverseError(400, "0x8004e023", "AggregateQueryRecordLimit exceeded. Cannot perform this operation."),
};

/** Dataverse aggregates at most this many rows (learn.microsoft.com/power-apps/developer/data-platform/webapi/query/aggregate-data, fetchxml/aggregate-data). */
export const AGGREGATE_RECORD_LIMIT = 50_000;

/** The content type of every Web API error body (the one Dataverse sends: JSON, minimal metadata). */
export const ERROR_CONTENT_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8";

/** The org model's refusal reasons → Dataverse codes: the one table of the Web API's domain-error translation. */
const MODEL_CODES: Readonly<Record<ModelErrorReason, string>> = {
  refused: "0x80040203",
  notFound: "0x80040217",
  duplicate: "0x80040237",
  invalidDefinition: "0x80044331",
  dependency: "0x8004f01f",
};

/**
 * Any error → the Dataverse error it is on the wire, or undefined for an unexpected one (a 500):
 * a {@link DataverseError} as is; an {@link OrgModelError} by its reason ({@link MODEL_CODES});
 * another {@link OrgboxError} by its status as a model refusal; a framework 4xx (a body Fastify
 * could not parse) as the payload error `0x80048d19`.
 */
export function toDataverseError(error: unknown): DataverseError | undefined {
  if (error instanceof DataverseError) return error;
  if (error instanceof OrgModelError) return new DataverseError(error.status, MODEL_CODES[error.reason], error.message, error.headers);
  if (error instanceof OrgboxError) return new DataverseError(error.status, MODEL_CODES[new OrgModelError(error.message, error.status).reason], error.message, error.headers);
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return new DataverseError(status, "0x80048d19", `Error identified in Payload provided by the user for Entity :'', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : ${(error as Error).message}`);
  }
  return undefined;
}

/** The Dataverse error body `{"error":{"code":"0x…","message":…}}` (built here only). */
export function errorBody(error: DataverseError): { error: { code: string; message: string } } {
  return { error: { code: error.code, message: error.message } };
}
