import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { decodeJwt } from "jose";
import { z } from "zod";
import type { Clock } from "../common/clock.ts";
import { ConfigError } from "../common/errors.ts";
import { DATAVERSE_ERROR_CONTENT_TYPE, DataverseError, dataverseErrorBody } from "../dataverse/index.ts";
import { GraphError, graphErrorBody } from "../graph/index.ts";
import { aad, AadError, aadErrorBody } from "../identity/index.ts";

/**
 * Fault injection for resilience tests, off by default: rules that answer a share of a surface's requests
 * (optionally only one client's, or only one path's) with an error in that surface's own format — AADSTS
 * JSON for identity, the Dataverse error envelope, the Graph error resource — and/or delay them. A rule with
 * `count` is scripted: it applies to the next `count` matching requests and is then removed ("the next 3 token
 * requests of this app fail with AADSTS50196"). Set at start (config key `faults`), at runtime through
 * `/_orgbox/faults` (admin key), or on the programmatic handle (`OrgboxInstance.faults`).
 */

/** The surfaces a rule can target: `/org/…` is dataverse, `/graph/…` graph, everything else identity. */
export const FAULT_SURFACES = ["identity", "dataverse", "graph"] as const;
export type FaultSurface = (typeof FAULT_SURFACES)[number];

/** A rule as given (config, admin endpoint, handle). */
export const FaultRuleSchema = z
  .object({
    surface: z.enum(FAULT_SURFACES),
    /** Only requests of this client: the token request's `client_id` (identity), the bearer token's `appid`/`azp` (dataverse, graph). */
    clientId: z.string().min(1).optional(),
    /** Only requests whose URL path contains this text (e.g. `/token`). */
    path: z.string().min(1).max(2000).optional(),
    /** The answer's HTTP status (400–599). Default 429 unless the rule only delays. */
    status: z.number().int().min(400).max(599).optional(),
    /** The error code: an AADSTS number or `AADSTS…` (identity), `0x…` (dataverse), a Graph code. Default: the surface's throttling or unavailability code. */
    code: z.union([z.string().min(1).max(100), z.number().int().positive()]).optional(),
    /** Identity only: the OAuth `error` value. Default `invalid_grant` for 429, `temporarily_unavailable` for 5xx, `invalid_request` otherwise. */
    error: z.string().regex(/^[a-z_]+$/, "an OAuth error value such as invalid_grant").optional(),
    /** The error message. Default: the surface's message for the code. */
    message: z.string().min(1).max(2000).optional(),
    /** `Retry-After` of the answer, in seconds. Default: 60 for identity 429 (as Entra), 5 for other 429 and 503, none otherwise. */
    retryAfterSeconds: z.number().int().min(0).max(86400).optional(),
    /** Delay before the request is handled (or refused), in milliseconds. A rule with only a delay lets the request through after it. */
    delayMs: z.number().int().min(1).max(600_000).optional(),
    /** The share of matching requests affected, 0–1 (default 1), spread evenly and deterministically: 0.25 is every 4th. */
    share: z.number().min(0).max(1).optional(),
    /** Scripted: affect the next `count` matching requests, then remove the rule. Default: until removed. */
    count: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict();

/** A fault rule's input shape (see {@link FaultRuleSchema} for each field). */
export type FaultRuleInput = z.input<typeof FaultRuleSchema>;

/** A rule in force: its input, its id, and how many requests it has affected. */
export interface FaultRule extends FaultRuleInput {
  id: string;
  /** Requests this rule affected so far. */
  hits: number;
}

/** A fault rule that is not valid: 400 on the admin surface, a configuration error (exit code 2) at start. */
export class FaultRuleError extends ConfigError {}

interface ActiveRule {
  rule: FaultRule;
  /** The error-diffusion accumulator of `share`. */
  credit: number;
}

/** What a request is, for matching. */
interface FaultTarget {
  surface: FaultSurface;
  path: string;
  clientId: string | undefined;
}

/** The rules of one orgbox, and their evaluation (in order; the first matching rule applies). */
export class FaultInjector {
  private active: ActiveRule[] = [];
  private counter = 0;

  /**
   * @param rules the rules in force from start (config key `faults`).
   * @throws FaultRuleError for an invalid rule.
   */
  constructor(rules: readonly unknown[] = []) {
    for (const rule of rules) this.add(rule);
  }

  /**
   * Adds a rule (after the others).
   * @returns the rule in force, with its id.
   * @throws FaultRuleError naming the bad field.
   */
  add(input: unknown): FaultRule {
    const parsed = FaultRuleSchema.safeParse(input);
    if (!parsed.success) throw new FaultRuleError(`invalid fault rule: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(rule)"}: ${i.message}`).join("; ")}`);
    const given = parsed.data;
    if (given.error !== undefined && given.surface !== "identity") throw new FaultRuleError("invalid fault rule: error: only identity rules take an OAuth error value");
    if (given.code !== undefined) {
      const code = String(given.code);
      const ok = given.surface === "identity" ? /^(AADSTS)?\d{1,9}$/i.test(code) : given.surface === "dataverse" ? /^0x[0-9a-f]{1,8}$/i.test(code) : /^[A-Za-z][A-Za-z0-9_.]*$/.test(code);
      const expected = given.surface === "identity" ? "an AADSTS number (50196 or AADSTS50196)" : given.surface === "dataverse" ? "a hexadecimal Dataverse code (0x80072322)" : "a Graph error code (TooManyRequests)";
      if (!ok) throw new FaultRuleError(`invalid fault rule: code: ${expected} for the ${given.surface} surface (got '${code}')`);
    }
    const status = given.status ?? 429;
    if (status !== 429 && status < 500 && given.code === undefined) throw new FaultRuleError(`invalid fault rule: code: a status of ${status} needs the error code to answer with (defaults exist for 429 and 5xx only)`);
    const rule: FaultRule = { ...given, id: `fault-${++this.counter}`, hits: 0 };
    this.active.push({ rule, credit: 0 });
    return { ...rule };
  }

  /** The rules in force (copies). */
  list(): FaultRule[] {
    return this.active.map((a) => ({ ...a.rule }));
  }

  /** Removes one rule. @returns false when no rule has that id. */
  remove(id: string): boolean {
    const before = this.active.length;
    this.active = this.active.filter((a) => a.rule.id !== id);
    return this.active.length < before;
  }

  /** Removes every rule. */
  clear(): void {
    this.active = [];
  }

  /** True when no rule is in force (the hook then costs one comparison). */
  get empty(): boolean {
    return this.active.length === 0;
  }

  /** The rule that affects this request, if any (counting it: share, hits, scripted count). */
  pick(target: FaultTarget): FaultRule | undefined {
    for (const active of this.active) {
      const { rule } = active;
      if (rule.surface !== target.surface) continue;
      if (rule.clientId !== undefined && rule.clientId.toLowerCase() !== target.clientId?.toLowerCase()) continue;
      if (rule.path !== undefined && !target.path.includes(rule.path)) continue;
      active.credit += rule.share ?? 1;
      if (active.credit < 1 - 1e-9) continue;
      active.credit -= 1;
      rule.hits++;
      if (rule.count !== undefined && rule.hits >= rule.count) this.active = this.active.filter((a) => a !== active);
      return { ...rule };
    }
    return undefined;
  }
}

/** The surface of a URL path. */
function surfaceOf(path: string): FaultSurface | undefined {
  if (path.startsWith("/_orgbox/")) return undefined;
  if (path.startsWith("/org/") || path === "/org") return "dataverse";
  if (path.startsWith("/graph/") || path === "/graph") return "graph";
  return "identity";
}

/** The client a request comes from: the bearer token's `appid`/`azp` (only decoded: a fault never grants anything), else `client_id` of the form or query, else HTTP Basic. */
function clientOf(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization ?? "";
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (bearer) {
    try {
      const claims = decodeJwt(bearer[1] as string);
      const id = claims.appid ?? claims.azp;
      if (typeof id === "string") return id;
    } catch {
      return undefined;
    }
  }
  const fromBody = (request.body as Record<string, unknown> | undefined)?.client_id;
  if (typeof fromBody === "string") return fromBody;
  const fromQuery = (request.query as Record<string, unknown> | undefined)?.client_id;
  if (typeof fromQuery === "string") return fromQuery;
  const basic = /^Basic\s+(\S+)\s*$/i.exec(authorization);
  if (basic) {
    const decoded = Buffer.from(basic[1] as string, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0) {
      try {
        return decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, " "));
      } catch {
        // Not form-urlencoding: the identity surface answers AADSTS70002; no client to match here.
        return undefined;
      }
    }
  }
  return undefined;
}

/** AADSTS50196's message (learn.microsoft.com/entra/msal/dotnet/advanced/client-and-server-throttling). */
const LOOP_DETECTED = aad.loopDetected().message.replace(/^AADSTS50196: /, "");

/** The injected answer of `rule` in the format of `surface`. */
function refusal(rule: FaultRule, surface: FaultSurface, request: FastifyRequest, now: number, baseUrl: string): { status: number; headers: Record<string, string>; body: unknown } {
  const status = rule.status ?? 429;
  const retryAfter = rule.retryAfterSeconds ?? (status === 429 ? (surface === "identity" ? 60 : 5) : status === 503 ? 5 : undefined);
  const headers: Record<string, string> = retryAfter === undefined ? {} : { "retry-after": String(retryAfter) };
  if (surface === "identity") {
    const code = rule.code !== undefined ? Number(String(rule.code).replace(/^AADSTS/i, "")) : status === 429 ? 50196 : 90033;
    const error = rule.error ?? (status === 429 ? "invalid_grant" : status >= 500 ? "temporarily_unavailable" : "invalid_request");
    const message =
      rule.message ?? (code === 50196 ? LOOP_DETECTED : `orgbox fault injection (rule ${rule.id}): the service is temporarily unavailable.`);
    const aad = new AadError(code, error, message, { status });
    return { status, headers: { ...headers, "cache-control": "no-store, no-cache" }, body: aadErrorBody(aad, { traceId: randomUUID(), correlationId: request.id, now, baseUrl }) };
  }
  if (surface === "dataverse") {
    const code = rule.code !== undefined ? String(rule.code).toLowerCase() : status === 429 ? "0x80072322" : "0x80040216";
    const message = rule.message ?? (status === 429 ? "Number of requests exceeded the limit of 6000 over time window of 300 seconds." : `orgbox fault injection (rule ${rule.id}): the service is temporarily unavailable.`);
    return { status, headers: { ...headers, "content-type": DATAVERSE_ERROR_CONTENT_TYPE }, body: dataverseErrorBody(new DataverseError(status, code, message)) };
  }
  const code = rule.code !== undefined ? String(rule.code) : status === 429 ? "TooManyRequests" : status === 503 ? "serviceNotAvailable" : "generalException";
  const message = rule.message ?? (status === 429 ? "Too many requests. Please try again later." : `orgbox fault injection (rule ${rule.id}): the service is temporarily unavailable.`);
  const body = graphErrorBody(new GraphError(status, code, message), { requestId: request.id, clientRequestId: request.id, now });
  return { status, headers: { ...headers, "request-id": request.id, "client-request-id": request.id }, body };
}

/** What the request hook needs besides the rules. */
export interface FaultHookOptions {
  clock: Clock;
  baseUrl: () => string;
  /** Waits `ms` milliseconds (default: node's timer); tests may inject one. */
  wait?: (ms: number) => Promise<unknown>;
}

/**
 * Adds the fault hook to `app` (its root, before the surfaces are registered): a `preHandler`, so the body's
 * `client_id` is parsed. With no rule in force it does nothing.
 */
export function addFaultHook(app: FastifyInstance, faults: FaultInjector, options: FaultHookOptions): void {
  const wait = options.wait ?? ((ms: number) => sleep(ms));
  app.addHook("preHandler", async (request: FastifyRequest, reply: FastifyReply) => {
    if (faults.empty) return;
    const path = request.url.split("?")[0] ?? "";
    const surface = surfaceOf(path);
    if (!surface) return;
    const rule = faults.pick({ surface, path, clientId: clientOf(request) });
    if (!rule) return;
    if (rule.delayMs !== undefined) await wait(rule.delayMs);
    if (rule.delayMs !== undefined && rule.status === undefined && rule.code === undefined && rule.message === undefined) return;
    const answer = refusal(rule, surface, request, options.clock.now(), options.baseUrl());
    request.log.info({ fault: rule.id, surface, status: answer.status }, "fault injected");
    await reply.status(answer.status).headers(answer.headers).send(answer.body);
  });
}

/**
 * The admin endpoints of fault injection (in the admin scope: `Authorization: Bearer {adminKey}`):
 * `GET /_orgbox/faults` → `{value: [rules]}`; `POST /_orgbox/faults` (a rule, or `{"rules": [...]}`) → 201
 * `{value: [added]}`, 400 `invalid_request` naming the bad field; `DELETE /_orgbox/faults` → 204 (all);
 * `DELETE /_orgbox/faults/{id}` → 204, 404 `not_found`.
 */
export function registerFaultRoutes(scope: FastifyInstance, faults: FaultInjector): void {
  scope.get("/_orgbox/faults", async () => ({ value: faults.list() }));
  scope.post("/_orgbox/faults", async (request, reply) => {
    const body = request.body;
    if (typeof body !== "object" || body === null) {
      return reply.status(400).send({ error: "invalid_request", error_description: 'send a JSON fault rule, e.g. {"surface":"dataverse","status":429,"count":3}, or {"rules":[...]}' });
    }
    const rules = Array.isArray(body) ? body : Array.isArray((body as { rules?: unknown }).rules) ? (body as { rules: unknown[] }).rules : [body];
    // All or nothing: validate every rule before adding any.
    const probe = new FaultInjector();
    try {
      for (const rule of rules) probe.add(rule);
    } catch (error) {
      if (error instanceof FaultRuleError) return reply.status(400).send({ error: "invalid_request", error_description: error.message });
      throw error;
    }
    return reply.status(201).send({ value: rules.map((rule) => faults.add(rule)) });
  });
  scope.delete("/_orgbox/faults", async (_request, reply) => {
    faults.clear();
    return reply.status(204).send();
  });
  scope.delete("/_orgbox/faults/:id", async (request, reply) => {
    const { id } = request.params as { id: string };
    if (!faults.remove(id)) return reply.status(404).send({ error: "not_found", error_description: `no fault rule '${id}'` });
    return reply.status(204).send();
  });
}
