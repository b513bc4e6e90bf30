import { pino, type DestinationStream, type Logger, type LevelWithSilent } from "pino";
import pretty from "pino-pretty";

export type { Logger };

/**
 * Paths that must never reach a log line: credentials in headers and bodies.
 * Pino replaces them with "[redacted]".
 */
const REDACT = [
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "body.client_secret",
  "body.password",
  "body.client_assertion",
  "body.refresh_token",
  "body.code",
  "clientSecret",
  "password",
  "*.clientSecret",
  "*.password",
];

/**
 * Query parameters whose values are credentials or one-time codes (OAuth 2.0 / OpenID Connect,
 * RFC 6749, RFC 7636, RFC 8628, RFC 7523, OIDC RP-Initiated Logout): their values are replaced in
 * every logged URL. Compared case-insensitively. `$deltatoken` / `$skiptoken` (Dataverse paging and
 * change tracking) are not credentials and stay.
 */
const SECRET_QUERY_PARAMETERS: ReadonlySet<string> = new Set([
  "code",
  "id_token_hint",
  "id_token",
  "access_token",
  "refresh_token",
  "token",
  "client_secret",
  "client_assertion",
  "assertion",
  "password",
  "passwd",
  "code_verifier",
  "device_code",
  "user_code",
  "otc",
]);

const CENSOR = "[redacted]";

/** Decodes a query parameter name for the comparison; undecodable names are kept as written. */
function parameterName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, " ")).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

/**
 * A request URL (path plus query, as in `request.url`) with the values of
 * {@link SECRET_QUERY_PARAMETERS} replaced by `[redacted]`; everything else is
 * kept byte for byte. Pino's `redact` only reaches object paths, not text inside
 * a URL string, hence this serializer.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf("?");
  if (q < 0) return url;
  const query = url.slice(q + 1).split("&").map((part) => {
    const eq = part.indexOf("=");
    const name = eq < 0 ? part : part.slice(0, eq);
    return SECRET_QUERY_PARAMETERS.has(parameterName(name)) ? `${name}=${CENSOR}` : part;
  });
  return `${url.slice(0, q)}?${query.join("&")}`;
}

/** The request fields of a log line (Fastify's own shape), with a redacted URL. */
interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/**
 * Fastify's `req` serializer (method, url, host, remote address and port) with
 * {@link redactUrl} applied: Fastify merges a logger instance's serializers over its own.
 */
function serializeRequest(req: LoggedRequest): Record<string, unknown> {
  return { method: req.method, url: typeof req.url === "string" ? redactUrl(req.url) : req.url, host: req.host, remoteAddress: req.ip, remotePort: req.socket?.remotePort };
}

/** Fields a pretty line leaves out: the process's, and the access log's (its message already says them). */
const PRETTY_IGNORE = "pid,hostname,method,path,status,durationMs,clientId,user,tenant,org";

/** How log lines are written: `json` (one JSON object per line, for machines) or `pretty` (pino-pretty, for people). */
export type LogFormat = "json" | "pretty";

/**
 * Creates the process logger. Logs go to stderr so that `--json` keeps stdout
 * for the single ready line (or to `destination`, e.g. a test's capture).
 * Credentials are redacted at every level: header and body paths ({@link REDACT})
 * and secret query parameters inside logged request URLs ({@link redactUrl}).
 * @param format `json` (default) or `pretty`: one readable line per entry (time, level, message, then the
 *   fields), colored on a terminal, through pino-pretty; the redaction is the same.
 */
export function createLogger(level: LevelWithSilent, destination?: DestinationStream, format: LogFormat = "json"): Logger {
  const options = { level, redact: { paths: REDACT, censor: CENSOR }, serializers: { req: serializeRequest } };
  if (format === "pretty") {
    const stream = pretty({ destination: destination ?? 2, colorize: destination === undefined && process.stderr.isTTY === true, singleLine: true, translateTime: "SYS:HH:MM:ss.l", ignore: PRETTY_IGNORE });
    return pino(options, stream);
  }
  return pino(options, destination ?? pino.destination({ fd: 2, sync: false }));
}
