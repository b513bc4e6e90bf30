import type { FastifyReply, FastifyRequest } from "fastify";
import { decodeJwt } from "jose";
import { newGuid } from "../common/ids.ts";
import { MICROSOFT_GRAPH_APP_ID, TokenRejectedError } from "../identity/index.ts";
import { graphError } from "./errors.ts";
import { encodeSkipToken, EXPAND_LIMIT, parseQuery } from "./odata.ts";
import { roleNames } from "./policies.ts";
import { parsePath } from "./registry.ts";
import type { GraphCaller, GraphContext, GraphDeps, PermissionPolicy } from "./types.ts";

export type { GraphAccess, GraphCaller, GraphContext, GraphDeps, GraphResult } from "./types.ts";

/** Microsoft Graph's Application ID URI: the `aud` of v1.0 Graph tokens. */
export const GRAPH_RESOURCE = "https://graph.microsoft.com";

/** The value a previous step set. @throws Error when the steps run out of order (a programming error). */
export function filled<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`Graph step order: '${what}' is not set yet`);
  return value;
}

/** Verifies the bearer token as Graph: signature, issuer (v1/v2 of the token's tenant), audience Graph, expiry; the tenant exists. 401 otherwise. */
async function authenticate(x: GraphContext): Promise<void> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(x.http.headers.authorization ?? "");
  if (!match) throw graphError.invalidToken("Access token is empty.");
  const token = match[1] as string;
  let tid: string;
  try {
    const unverified = decodeJwt(token);
    tid = typeof unverified.tid === "string" ? unverified.tid.toLowerCase() : "";
  } catch {
    throw graphError.invalidToken("IDX14100: JWT is not well formed.");
  }
  if (!/^[0-9a-f-]{36}$/.test(tid)) throw graphError.invalidToken("Access token validation failure. The token has no tenant.");
  try {
    x.claims = await x.deps.verifier(token, { issuers: x.deps.urls.acceptedIssuers(tid), audiences: [GRAPH_RESOURCE, `${GRAPH_RESOURCE}/`, MICROSOFT_GRAPH_APP_ID] });
  } catch (error) {
    if (!(error instanceof TokenRejectedError)) throw error;
    // Graph's own words for a wrong audience, then (orgbox) the audience that came and the accepted ones.
    const audience = /^the token's 'aud' claim is not valid here(?:: (.*))?$/.exec(error.reason);
    const why = audience ? `Invalid audience.${audience[1] ? ` The token's aud is ${audience[1].replace(/^it is /, "")}.` : ""}` : `${error.reason[0]?.toUpperCase() ?? ""}${error.reason.slice(1)}.`;
    throw graphError.invalidToken(`Access token validation failure. ${why}`);
  }
  const tenant = await x.deps.directory.findTenant(tid);
  if (!tenant || tenant.id !== tid) throw graphError.invalidToken("Access token validation failure. The token's tenant does not exist.");
  x.tenant = tenant;
}

/** App-only (`idtyp: app`: the client's service principal and `roles`) or delegated (`scp`, the user and the user's directory roles, read live). */
async function identifyCaller(x: GraphContext): Promise<void> {
  const claims = filled(x.claims, "claims");
  const tenant = filled(x.tenant, "tenant");
  const clientAppId = typeof claims.appid === "string" ? claims.appid : typeof claims.azp === "string" ? claims.azp : "";
  if (claims.idtyp === "app" || claims.scp === undefined) {
    const sp = clientAppId ? await x.deps.directory.findServicePrincipal(tenant.id, clientAppId) : undefined;
    if (!sp || sp.id !== claims.oid) throw graphError.invalidToken("Access token validation failure. The client has no service principal in this tenant.");
    const roles = Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === "string") : [];
    x.caller = { kind: "app", appId: sp.appId, servicePrincipalId: sp.id, roles: new Set(roles) };
    return;
  }
  const user = typeof claims.oid === "string" ? await x.deps.directory.findUserById(claims.oid) : undefined;
  if (!user || user.tenantId !== tenant.id || !user.accountEnabled) throw graphError.invalidToken("Access token validation failure. The token was not issued to a user of this directory.");
  const scopes = typeof claims.scp === "string" ? claims.scp.split(" ").filter((s) => s.length > 0) : [];
  x.caller = { kind: "user", user, clientAppId, scopes: new Set(scopes), directoryRoles: new Set(user.directoryRoles.map((r) => r.toLowerCase())) };
}

/** Parses the path and finds the operation in the resource registry (400 unknown segment, 405 wrong method). */
function resolveOperation(x: GraphContext): void {
  const match = x.deps.registry.match(x.http.method, parsePath(x.rawPath));
  x.operation = match.operation;
  x.params = match.params;
}

/** Parses `$select`, `$filter`, `$top`, `$orderby`, `$count`, `$skiptoken` against what the operation declares. */
function parseQueryOptions(x: GraphContext): void {
  const header = x.http.headers.consistencylevel;
  const operation = filled(x.operation, "operation");
  x.query = parseQuery(new URLSearchParams(x.rawQuery), operation.query, typeof header === "string" ? header : undefined, operation.expand ?? {});
}

/** Applies the operation's {@link PermissionPolicy} to the caller: sets {@link GraphAccess}, or 403 `Authorization_RequestDenied` naming what is missing. */
function authorize(x: GraphContext): void {
  const policy = filled(x.operation, "operation").policy;
  const caller = filled(x.caller, "caller");
  requireAlso(policy, caller);
  if (caller.kind === "app") {
    if (policy.application.some((p) => caller.roles.has(p))) {
      x.access = { scope: "tenant" };
      return;
    }
    if ((policy.ownedOnly ?? []).some((p) => caller.roles.has(p))) {
      x.access = { scope: "owned", ownerId: caller.servicePrincipalId };
      return;
    }
    const wanted = [...policy.application, ...(policy.ownedOnly ?? [])];
    throw graphError.denied(wanted.length > 0 ? `The application needs one of the Microsoft Graph application permissions ${wanted.join(", ")}, granted by admin consent.` : "This operation is not available to applications without a signed-in user.");
  }
  if (!policy.delegated.some((p) => caller.scopes.has(p))) {
    throw graphError.denied(policy.delegated.length > 0 ? `The token needs one of the Microsoft Graph delegated permissions ${policy.delegated.join(", ")}.` : "This operation is not available with a delegated token.");
  }
  if (!policy.directoryRoles || policy.directoryRoles.some((r) => caller.directoryRoles.has(r.toLowerCase()))) {
    x.access = { scope: "tenant" };
    return;
  }
  if (policy.owners) {
    x.access = { scope: "owned", ownerId: caller.user.id };
    return;
  }
  throw graphError.denied(`The signed-in user needs one of the directory roles ${roleNames(policy.directoryRoles).join(", ")}.`);
}

/**
 * The policy's {@link PermissionPolicy.alsoRequired} groups: each needs one of its permissions in the
 * token. @throws GraphError 403 `Authorization_RequestDenied` naming the first group missing.
 */
function requireAlso(policy: PermissionPolicy, caller: GraphCaller): void {
  const granted = caller.kind === "app" ? caller.roles : caller.scopes;
  if (caller.kind === "user" && granted.has("Directory.AccessAsUser.All")) return;
  for (const group of policy.alsoRequired ?? []) {
    if (group.some((p) => granted.has(p))) continue;
    const kind = caller.kind === "app" ? "application" : "delegated";
    throw graphError.denied(`The ${caller.kind === "app" ? "application" : "token"} also needs one of the Microsoft Graph ${kind} permissions ${group.join(", ")}.`);
  }
}

/** Runs the operation's handler. */
async function invoke(x: GraphContext): Promise<void> {
  x.result = await filled(x.operation, "operation").handle(x);
}

/**
 * `$expand`: adds the related objects (at most {@link EXPAND_LIMIT}, nested `$select` applied) to each
 * object of the result under the navigation property's name. One query per object of the page.
 */
async function expandNavigation(x: GraphContext): Promise<void> {
  const expand = filled(x.query, "query").expand;
  const result = filled(x.result, "result");
  if (!expand || (result.kind !== "entity" && result.kind !== "collection")) return;
  const navigation = filled(filled(x.operation, "operation").expand?.[expand.property], "navigation");
  const items = result.kind === "entity" ? [result.value] : result.items;
  for (const item of items) {
    const related = await navigation.load(x, item, EXPAND_LIMIT);
    item[expand.property] = related.map((r) => project(r, expand.select));
  }
}

/** The Graph surface, in order. */
const GRAPH_STEPS: readonly ((x: GraphContext) => Promise<void> | void)[] = [authenticate, identifyCaller, resolveOperation, parseQueryOptions, authorize, invoke, expandNavigation];

/** Graph's JSON content type. */
export const GRAPH_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/**
 * Runs one Graph request through the steps and renders the result: `@odata.context`, `$select`
 * projection, `@odata.count`, `@odata.nextLink` (keyset `$skiptoken`).
 * @throws GraphError from any step (rendered by the Graph error hook).
 */
export async function runGraphRequest(deps: GraphDeps, http: FastifyRequest, reply: FastifyReply, version: string, rawPath: string, rawQuery: string): Promise<unknown> {
  const x: GraphContext = { deps, http, reply, version, rawPath, rawQuery };
  for (const step of GRAPH_STEPS) await step(x);
  return render(x);
}

function render(x: GraphContext): unknown {
  const result = filled(x.result, "result");
  const query = filled(x.query, "query");
  const root = `${x.deps.urls.graphRoot}/${x.version}`;
  if (result.kind === "empty") return x.reply.status(204).send();
  if (result.kind === "count") return x.reply.status(200).type("text/plain;charset=utf-8").send(String(result.count));
  const expanded = query.expand ? [`${query.expand.property}(${(query.expand.select ?? []).join(",")})`] : [];
  const context = `${root}/$metadata#${withSelect(result.context, [...(query.select ?? []), ...expanded])}`;
  x.reply.type(GRAPH_JSON);
  const keep = query.expand ? [query.expand.property] : [];
  const shape = (value: Record<string, unknown>) => project(value, query.select && [...query.select, ...keep]);
  if (result.kind === "entity") return x.reply.status(result.status ?? 200).send({ "@odata.context": context, ...shape(result.value) });
  const body: Record<string, unknown> = { "@odata.context": context };
  if (result.count !== undefined) body["@odata.count"] = result.count;
  body.value = result.items.map(shape);
  if (result.next) {
    // The request's own query options as sent, with the next page's $skiptoken (base64url: no escaping needed).
    const kept = x.rawQuery.split("&").filter((part) => part !== "" && safeDecode(part.split("=")[0] ?? "").toLowerCase() !== "$skiptoken");
    kept.push(`$skiptoken=${encodeSkipToken(result.next)}`);
    body["@odata.nextLink"] = `${root}/${x.rawPath}?${kept.join("&")}`;
  }
  return x.reply.status(200).send(body);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    return text;
  }
}

/** `applications` + select `a,b` → `applications(a,b)`; `applications/$entity` → `applications(a,b)/$entity`. */
function withSelect(fragment: string, select: string[] | undefined): string {
  if (!select || select.length === 0) return fragment;
  const slash = fragment.indexOf("/");
  return slash < 0 ? `${fragment}(${select.join(",")})` : `${fragment.slice(0, slash)}(${select.join(",")})${fragment.slice(slash)}`;
}

/** The `$select`ed properties of a representation (all without `$select`); `@odata.type` annotations are kept. */
function project(value: Record<string, unknown>, select: string[] | undefined): Record<string, unknown> {
  if (!select || select.length === 0) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (key.startsWith("@odata.")) out[key] = v;
  for (const key of select) if (key in value) out[key] = value[key];
  return out;
}

/** A new Graph `request-id`. */
export const newRequestId = (): string => newGuid();
