import { OrgboxError } from "../common/errors.ts";

/**
 * The one error family of the Graph surface: an HTTP status and a Graph error `code`, rendered by the
 * Graph error hook as `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.
 * Source: learn.microsoft.com/graph/errors (status codes and the error resource type).
 */
export class GraphError extends OrgboxError {
  /** Graph's `error.code`, e.g. `Request_ResourceNotFound`. */
  readonly code: string;

  constructor(status: number, code: string, message: string, headers?: Record<string, string>) {
    super(status, message, headers ? { headers } : undefined);
    this.code = code;
  }
}

/** The Graph errors orgbox raises, by what went wrong. Messages follow Graph's where Graph's are known. */
export const graphError = {
  /** 401: no bearer token, or one Graph does not accept (signature, issuer, audience, expiry, tenant). */
  invalidToken: (message: string) => new GraphError(401, "InvalidAuthenticationToken", message),
  /** 403: the caller lacks the permission (or directory role) the operation needs. */
  denied: (detail: string) => new GraphError(403, "Authorization_RequestDenied", `Insufficient privileges to complete the operation. ${detail}`),
  /** 404: no such object in the caller's tenant. */
  notFound: (id: string) => new GraphError(404, "Request_ResourceNotFound", `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`),
  /** 400: a malformed or invalid request (body, property, value). */
  badRequest: (message: string) => new GraphError(400, "Request_BadRequest", message),
  /** 400: a query option or form Graph does not support here. */
  unsupportedQuery: (message = "Unsupported Query.") => new GraphError(400, "Request_UnsupportedQuery", message),
  /** 400: a path segment Graph does not know. */
  unknownSegment: (segment: string) => new GraphError(400, "BadRequest", `Resource not found for the segment '${segment}'.`),
  /** 405: the path exists but not with this method. */
  methodNotAllowed: (method: string) => new GraphError(405, "Request_BadRequest", `The HTTP method '${method}' is not allowed for this resource.`),
  /** 409 / 400: an object with the same key exists. */
  conflict: (message: string) => new GraphError(400, "Request_BadRequest", message),
  /** 415: a body that is not JSON. */
  unsupportedMediaType: () => new GraphError(415, "UnsupportedMediaType", "The request body must be JSON (Content-Type: application/json)."),
};

/** Graph's `innerError.date`: ISO 8601 UTC to the second, without the `Z` (as Graph sends it). */
export function graphDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "");
}

/** The wire body of a {@link GraphError}. */
export function graphErrorBody(error: GraphError, ids: { requestId: string; clientRequestId: string; now: number }): { error: { code: string; message: string; innerError: Record<string, string> } } {
  return { error: { code: error.code, message: error.message, innerError: { date: graphDate(ids.now), "request-id": ids.requestId, "client-request-id": ids.clientRequestId } } };
}
