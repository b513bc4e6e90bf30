import type { FastifyReply, FastifyRequest } from "fastify";
import { clientAuthPolicies, readClientCredentials } from "./client-auth.ts";
import { aad } from "./errors.ts";
import type { AuthenticatedClient, Grant, GrantContext, GrantRegistry, PreparedGrant, TokenRequest, TokenResponseBody } from "./grants/grant.ts";
import { filled, runSteps, type Step } from "./steps.ts";
import type { TenantDirectory } from "./store.ts";
import { resolveTenant, type TenantRef } from "./tenants.ts";

/** Headers of every token endpoint answer, success or error (RFC 6749 §5.1: no caching). */
export const TOKEN_HEADERS = { "cache-control": "no-store, no-cache", pragma: "no-cache" };

/** What the token endpoint needs. */
export interface TokenEndpointDeps {
  store: TenantDirectory;
  grants: GrantRegistry;
  grantContext: GrantContext;
}

/**
 * One token request as the endpoint's steps build it: the HTTP request, then the tenant, the form,
 * the grant, what the grant prepared, the authenticated client and finally the response body.
 */
export interface TokenExchange {
  readonly deps: TokenEndpointDeps;
  readonly http: FastifyRequest<{ Params: { tenant: string } }>;
  readonly reply: FastifyReply;
  /** Endpoint version: `/oauth2/token` (1) or `/oauth2/v2.0/token` (2). */
  readonly version: 1 | 2;
  tenant?: TenantRef;
  form?: Record<string, string>;
  grant?: Grant;
  /** The request as grants see it (version, tenant, form, `Authorization` header, caller IP). */
  request?: TokenRequest;
  prepared?: PreparedGrant<unknown>;
  client?: AuthenticatedClient;
  /** The success body the grant issued. */
  body?: TokenResponseBody;
}

/** Resolves the tenant path segment (GUID, domain, `common`, `organizations`, `consumers`); AADSTS90002 etc. */
async function resolveRouteTenant(x: TokenExchange): Promise<undefined> {
  x.tenant = await resolveTenant(x.deps.store, x.http.params.tenant);
  return undefined;
}

/** Flattens the `application/x-www-form-urlencoded` body to single string values (repeated keys: first wins). */
function parseForm(x: TokenExchange): undefined {
  x.form = readForm(x.http.body);
  return undefined;
}

/** Picks the grant by `grant_type` from the registry: AADSTS900144 when missing, 70003 when unknown. */
function pickGrant(x: TokenExchange): undefined {
  const form = filled(x.form, "form");
  const grantType = form.grant_type;
  if (!grantType) throw aad.missingParameter("grant_type");
  const grant = x.deps.grants.get(grantType);
  if (!grant) throw aad.unsupportedGrantType(grantType);
  x.grant = grant;
  x.request = { version: x.version, tenant: filled(x.tenant, "tenant"), form, authorization: x.http.headers.authorization, clientIp: x.http.ip };
  return undefined;
}

/**
 * Counts the request against the token throttle (config `tokenRequestsPerMinute`), when it is on: per
 * tenant and client (`client_id` of the form or of HTTP Basic). @throws AadError AADSTS50196; see `TokenThrottle` (token-throttle.ts).
 */
function throttle(x: TokenExchange): undefined {
  const throttler = x.deps.grantContext.tokenThrottle;
  if (!throttler) return undefined;
  const request = filled(x.request, "request");
  const clientId = readClientCredentials(request.form, request.authorization).clientId;
  const tenant = request.tenant.kind === "tenant" ? request.tenant.tenant.id : request.tenant.segment;
  if (clientId) throttler.check(tenant, clientId, request.form.grant_type ?? "");
  return undefined;
}

/** The grant checks its parameters and loads what it redeems (a code, a refresh token, a user), naming the tenant. */
async function prepareGrant(x: TokenExchange): Promise<undefined> {
  x.prepared = await filled(x.grant, "grant").prepare(filled(x.request, "request"), x.deps.grantContext);
  return undefined;
}

/** Authenticates the client by the policy the grant declares ({@link clientAuthPolicies}). */
async function authenticateClient(x: TokenExchange): Promise<undefined> {
  const grant = filled(x.grant, "grant");
  const request = filled(x.request, "request");
  const prepared = filled(x.prepared, "prepared");
  x.client = await clientAuthPolicies[grant.clientAuth](x.deps.grantContext, {
    tenant: prepared.tenant,
    form: request.form,
    authorization: request.authorization,
    isPublicClient: prepared.isPublicClient,
  });
  return undefined;
}

/** The grant issues the tokens: the response body (its shape differs by endpoint version). */
async function runGrant(x: TokenExchange): Promise<undefined> {
  x.body = await filled(x.grant, "grant").issue(filled(x.request, "request"), x.deps.grantContext, filled(x.prepared, "prepared"), filled(x.client, "client"));
  return undefined;
}

/** Renders the success: the JSON body with {@link TOKEN_HEADERS}. Errors are rendered by the identity error hook. */
function render(x: TokenExchange): TokenResponseBody {
  x.reply.headers(TOKEN_HEADERS);
  return filled(x.body, "body");
}

/** The token endpoint, in order. */
const TOKEN_STEPS: readonly Step<TokenExchange, TokenResponseBody>[] = [resolveRouteTenant, parseForm, pickGrant, throttle, prepareGrant, authenticateClient, runGrant, render];

/**
 * `POST /{tenant}/oauth2/v2.0/token` and v1 `/{tenant}/oauth2/token` (RFC 6749 §3.2): runs the
 * token endpoint's steps, sets the answer's headers and returns the success body.
 * @throws AadError from any step (rendered by the identity error hook).
 */
export async function exchangeToken(deps: TokenEndpointDeps, http: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply, version: 1 | 2): Promise<TokenResponseBody> {
  return filled(await runSteps<TokenExchange, TokenResponseBody>({ deps, http, reply, version }, TOKEN_STEPS), "response");
}

/** Flattens a parsed form body to single string values (repeated keys: first wins). */
function readForm(body: unknown): Record<string, string> {
  if (typeof body !== "object" || body === null) return {};
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    if (typeof value === "string") out[key] = value;
    else if (Array.isArray(value) && typeof value[0] === "string") out[key] = value[0];
  }
  return out;
}
