import { decodeJwt } from "jose";
import type { FastifyInstance } from "fastify";
import type { Clock } from "../common/clock.ts";
import { DIRECTORY_ROLE_TEMPLATES, MICROSOFT_GRAPH_APP_ID, TokenRejectedError, type TokenVerifier } from "../identity/index.ts";

/** The surfaces whose refusals are kept. */
export type Surface = "identity" | "graph" | "dataverse";

/** One 401/403 answer: what was asked, why it was refused, by whom (as the token claimed), and its correlation id. */
export interface Denial {
  /** When, ISO 8601 UTC. */
  at: string;
  surface: Surface;
  method: string;
  /** The path without its query (queries can hold secrets). */
  path: string;
  status: number;
  /** The surface's error code (`Authorization_RequestDenied`, `0x80040220`, `invalid_client`, …). */
  code: string;
  message: string;
  correlationId: string;
  /** The caller as its bearer token claims it (unverified: the token may be what was refused), or null. */
  caller: { tid?: string; appid?: string; oid?: string; upn?: string } | null;
}

/** Denials kept per surface (oldest dropped first). */
const PER_SURFACE = 50;

/**
 * The last {@link PER_SURFACE} 401/403 answers of each surface, in memory (not persisted, not shared
 * between processes), each filed under the tenant it concerns so a tenant's administrator sees only theirs.
 */
export class DenialLog {
  private readonly entries = new Map<Surface, { seq: number; tenantId: string | null; denial: Denial }[]>();
  private seq = 0;

  record(tenantId: string | null, denial: Denial): void {
    const list = this.entries.get(denial.surface) ?? [];
    list.push({ seq: ++this.seq, tenantId, denial });
    if (list.length > PER_SURFACE) list.shift();
    this.entries.set(denial.surface, list);
  }

  /** A tenant's denials, newest first. */
  list(tenantId: string): Denial[] {
    return [...this.entries.values()]
      .flat()
      .filter((e) => e.tenantId === tenantId)
      .sort((a, b) => b.seq - a.seq)
      .map((e) => e.denial);
  }
}

function surfaceOf(path: string): Surface | undefined {
  if (path.startsWith("/_orgbox/") || path === "/" || path.startsWith("/portal/")) return undefined;
  if (path.startsWith("/org/")) return "dataverse";
  if (path.startsWith("/graph/")) return "graph";
  return "identity";
}

function reasonOf(payload: unknown): { code: string; message: string } {
  if (typeof payload !== "string") return { code: "", message: "" };
  try {
    const body = JSON.parse(payload) as { error?: unknown; error_description?: unknown };
    if (body.error && typeof body.error === "object") {
      const e = body.error as { code?: unknown; message?: unknown };
      return { code: String(e.code ?? ""), message: String(e.message ?? "") };
    }
    return { code: String(body.error ?? ""), message: String(body.error_description ?? "").split("\r\n")[0] ?? "" };
  } catch {
    return { code: "", message: "" };
  }
}

function callerOf(authorization: string | undefined): Denial["caller"] {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (!match) return null;
  try {
    const c = decodeJwt(match[1] as string);
    const pick = (k: string) => (typeof c[k] === "string" ? (c[k] as string) : undefined);
    return { tid: pick("tid"), appid: pick("appid") ?? pick("azp"), oid: pick("oid"), upn: pick("upn") ?? pick("preferred_username") };
  } catch {
    return null;
  }
}

/** How a denial is filed under a tenant. */
export interface DenialTenants {
  /** The tenant id of an org (by URL name), or undefined. */
  orgTenant(name: string): Promise<string | undefined>;
  /** The tenant id of a tenant path segment (id or domain), or undefined (aliases such as `common`). */
  tenant(segment: string): Promise<string | undefined>;
}

/**
 * Records every 401/403 of the identity, Graph and Dataverse surfaces into `log` (an `onSend` hook on
 * the root app; call before the surfaces are registered). Filed under: the org's tenant (Dataverse),
 * the token's `tid` (Graph), the path's tenant (identity).
 */
export function recordDenials(app: FastifyInstance, log: DenialLog, tenants: DenialTenants, clock: Clock): void {
  app.addHook("onSend", async (request, reply, payload) => {
    if (reply.statusCode !== 401 && reply.statusCode !== 403) return payload;
    const path = request.url.split("?")[0] ?? "";
    const surface = surfaceOf(path);
    if (!surface) return payload;
    const caller = callerOf(request.headers.authorization);
    const segment = path.split("/")[surface === "identity" ? 1 : 2] ?? "";
    let tenantId: string | null = null;
    try {
      if (surface === "dataverse") tenantId = (await tenants.orgTenant(decodeURIComponent(segment))) ?? null;
      else if (surface === "graph") tenantId = caller?.tid?.toLowerCase() ?? null;
      else tenantId = (await tenants.tenant(decodeURIComponent(segment))) ?? null;
    } catch {
      tenantId = null;
    }
    log.record(tenantId, { at: new Date(clock.now()).toISOString(), surface, method: request.method, path, status: reply.statusCode, ...reasonOf(payload), correlationId: request.id, caller });
    return payload;
  });
}

const GRAPH_AUDIENCES = ["https://graph.microsoft.com", "https://graph.microsoft.com/", MICROSOFT_GRAPH_APP_ID];
const READERS: readonly string[] = [DIRECTORY_ROLE_TEMPLATES.globalAdministrator, DIRECTORY_ROLE_TEMPLATES.globalReader];

/**
 * `GET /_orgbox/denials`: the caller's tenant's recent denials (`{"value": Denial[]}`, newest first). Needs a
 * Microsoft Graph token of this orgbox: delegated, of a Global Administrator or Global Reader (`wids`), or
 * app-only with `Directory.Read.All` or `Directory.ReadWrite.All`. 401 without a valid token, 403 otherwise.
 */
export function denialRoutes(app: FastifyInstance, log: DenialLog, verify: TokenVerifier, issuers: (tid: string) => string[]): void {
  app.get("/_orgbox/denials", async (request, reply) => {
    reply.header("cache-control", "no-store");
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? "");
    const unauthorized = (why: string) => reply.status(401).header("www-authenticate", 'Bearer realm="orgbox"').send({ error: "invalid_token", error_description: why, correlation_id: request.id });
    if (!match) return unauthorized("send a Microsoft Graph access token of this orgbox");
    let claims: Record<string, unknown>;
    try {
      const tid = String(decodeJwt(match[1] as string).tid ?? "").toLowerCase();
      claims = (await verify(match[1] as string, { issuers: issuers(tid), audiences: GRAPH_AUDIENCES })) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof TokenRejectedError || error instanceof TypeError || (error as Error).name === "JWTInvalid") return unauthorized(`the token was refused: ${(error as Error).message}`);
      throw error;
    }
    const wids = Array.isArray(claims.wids) ? (claims.wids as string[]) : [];
    const roles = Array.isArray(claims.roles) ? (claims.roles as string[]) : [];
    const allowed = claims.scp !== undefined ? wids.some((w) => READERS.includes(w)) : roles.some((r) => r === "Directory.Read.All" || r === "Directory.ReadWrite.All");
    if (!allowed) return reply.status(403).send({ error: "forbidden", error_description: "recent denials need a Global Administrator or Global Reader (delegated), or Directory.Read.All (app-only)", correlation_id: request.id });
    return reply.send({ value: log.list(String(claims.tid).toLowerCase()) });
  });
}

/**
 * Recent denials, wired once from the HTTP app before the surfaces: the recorder hook and
 * `GET /_orgbox/denials` (see {@link recordDenials}, {@link denialRoutes}).
 */
export function registerDenials(app: FastifyInstance, options: { tenants: DenialTenants; clock: Clock; verify: TokenVerifier; issuers: (tid: string) => string[] }): DenialLog {
  const log = new DenialLog();
  recordDenials(app, log, options.tenants, options.clock);
  denialRoutes(app, log, options.verify, options.issuers);
  return log;
}
