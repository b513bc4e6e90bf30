/**
 * The access log: one `info` line per request, as Azurite's access log, so that the default level shows what
 * clients did: method, path and query (secret parameters redacted by {@link redactUrl}), status, duration in
 * milliseconds, the correlation id (the request id every surface echoes), and who and where when known — the
 * client id and user the request names or whose bearer token it carries, the tenant, and the Dataverse org.
 *
 * A 401 or 403 line also carries the `reason` its body gives (what was expected and what came).
 *
 * Who: the bearer token's `appid`/`azp`, `upn`/`unique_name`/`preferred_username` and `tid` claims, read without
 * verifying them (the surfaces verify; a refused token's claims are what came), else the form's or query's
 * `client_id` and `username` (token and authorize endpoints). Never a credential: no token, secret, code or
 * password is logged.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { decodeJwt } from "jose";
import type { Logger } from "pino";
import { redactUrl } from "../common/logger.ts";

/** The fields of an access-log line besides the message and the correlation id (bound by the request logger). */
export interface AccessLogFields {
  method: string;
  /** Path and query, secret query parameters redacted. */
  path: string;
  status: number;
  /** Milliseconds from the request's arrival to the response's end, rounded to 0.1 ms. */
  durationMs: number;
  clientId?: string;
  user?: string;
  tenant?: string;
  org?: string;
  /** For a 401 or 403: why, as the answer's body says it (Dataverse's and Graph's `error.message`, Entra's `error_description` first line). */
  reason?: string;
}

/** The reasons of refused requests, from their answers' bodies (onSend) to their access-log lines (onResponse). */
const reasons = new WeakMap<FastifyRequest, string>();

/** The reason a 401/403 body gives: `error.message` (Dataverse, Graph), else `error_description`'s first line (Entra), else `error`. */
export function refusalReason(payload: unknown): string | undefined {
  const textOf = typeof payload === "string" ? payload : Buffer.isBuffer(payload) ? payload.toString("utf8") : undefined;
  if (textOf === undefined || textOf.length > 64 * 1024) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(textOf);
  } catch {
    return undefined;
  }
  if (typeof body !== "object" || body === null) return undefined;
  const record = body as Record<string, unknown>;
  const error = record.error;
  if (typeof error === "object" && error !== null && typeof (error as Record<string, unknown>).message === "string") return (error as Record<string, unknown>).message as string;
  if (typeof record.error_description === "string") return record.error_description.split(/\r?\n/)[0];
  return typeof error === "string" ? error : undefined;
}

const text = (value: unknown): string | undefined => (typeof value === "string" && value !== "" && value.length <= 256 ? value : undefined);

type Who = Pick<AccessLogFields, "clientId" | "user" | "tenant">;

/** Bearer token → who it names, for the last {@link MAX_TOKENS} tokens seen: a client sends the same token many times. */
const tokens = new Map<string, Who>();
const MAX_TOKENS = 1024;

/** The client, user and tenant a bearer token's claims name (read, not verified: the surfaces verify). */
function tokenPrincipal(token: string): Who {
  const known = tokens.get(token);
  if (known) return known;
  const out: Who = {};
  try {
    const claims = decodeJwt(token);
    const clientId = text(claims.appid) ?? text(claims.azp);
    const user = text(claims.upn) ?? text(claims.unique_name) ?? text(claims.preferred_username);
    const tenant = text(claims.tid);
    if (clientId) out.clientId = clientId;
    if (user) out.user = user;
    if (tenant) out.tenant = tenant;
  } catch {
    // not a JWT: nobody named
  }
  if (tokens.size >= MAX_TOKENS) tokens.clear();
  tokens.set(token, out);
  return out;
}

/** Who the request is from, as far as it says: its bearer token's claims, else `client_id` / `username` of its form or query. */
function principal(request: FastifyRequest): Who {
  const authorization = request.headers.authorization;
  if (typeof authorization === "string" && /^bearer /i.test(authorization)) return tokenPrincipal(authorization.slice(7).trim());
  const out: Who = {};
  for (const source of [request.body, request.query]) {
    if (typeof source !== "object" || source === null) continue;
    const fields = source as Record<string, unknown>;
    out.clientId ??= text(fields.client_id);
    out.user ??= text(fields.username) ?? text(fields.login_hint);
  }
  if (out.clientId === undefined) delete out.clientId;
  if (out.user === undefined) delete out.user;
  return out;
}

/** The access-log line of one answered request. */
export function accessLogFields(request: FastifyRequest, reply: FastifyReply): AccessLogFields {
  const path = redactUrl(request.url);
  const org = /^\/org\/([^/?]+)/.exec(request.url)?.[1];
  return {
    method: request.method,
    path,
    status: reply.statusCode,
    durationMs: Math.round(reply.elapsedTime * 10) / 10,
    ...principal(request),
    ...(org ? { org: decodeURIComponent(org).toLowerCase() } : {}),
  };
}

/** Whether the request's logger writes info lines (the app's logger is pino: its children have `isLevelEnabled`). */
const infoEnabled = (request: FastifyRequest): boolean => (request.log as unknown as Pick<Logger, "isLevelEnabled">).isLevelEnabled?.("info") ?? true;

/** Adds the access log to `app` (the root instance, before the surfaces register, so it sees every request). */
export function registerAccessLog(app: FastifyInstance): void {
  app.addHook("onSend", (request, reply, payload, done) => {
    if ((reply.statusCode === 401 || reply.statusCode === 403) && infoEnabled(request)) {
      const reason = refusalReason(payload);
      if (reason !== undefined) reasons.set(request, reason);
    }
    done(null, payload);
  });
  app.addHook("onResponse", (request, reply, done) => {
    if (!infoEnabled(request)) {
      done();
      return;
    }
    let fields: AccessLogFields;
    try {
      fields = accessLogFields(request, reply);
    } catch {
      fields = { method: request.method, path: redactUrl(request.url.split("?")[0] ?? ""), status: reply.statusCode, durationMs: Math.round(reply.elapsedTime * 10) / 10 };
    }
    const reason = reasons.get(request);
    if (reason !== undefined) fields.reason = reason;
    const who = [fields.clientId ? `client ${fields.clientId}` : "", fields.user ? `user ${fields.user}` : "", fields.org ? `org ${fields.org}` : ""].filter(Boolean).join(" ");
    request.log.info(fields, `${fields.method} ${fields.path} ${fields.status} ${fields.durationMs}ms${who ? ` ${who}` : ""}${reason !== undefined ? ` refused: ${reason}` : ""}`);
    done();
  });
}
