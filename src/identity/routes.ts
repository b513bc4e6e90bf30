import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import cookie from "@fastify/cookie";
import formbody from "@fastify/formbody";
import { newGuid } from "../common/ids.ts";
import type { Clock } from "../common/clock.ts";
import { AadError, aad, aadErrorBody } from "./errors.ts";
import { registerErrorPage } from "./error-codes.ts";
import type { GrantContext, GrantRegistry } from "./grants/grant.ts";
import { resolveTenant, type TenantRef } from "./tenants.ts";
import { exchangeToken, TOKEN_HEADERS } from "./token-endpoint.ts";
import type { KeyRing } from "./tokens/keyring.ts";
import type { IdentityUrls } from "./urls.ts";
import type { TenantDirectory } from "./store.ts";
import { CLOUD_LOGIN_URL, LOGIN_HOSTS } from "../common/cloud-hosts.ts";

/** What the identity routes need. */
export interface IdentityRouteDeps {
  store: TenantDirectory;
  clock: Clock;
  urls: IdentityUrls;
  keys: KeyRing;
  grants: GrantRegistry;
  grantContext: GrantContext;
}

type TenantParams = { tenant: string };

/** `cloud_instance_name` of the discovery documents and user realm answers on orgbox's own URL (Entra says `microsoftonline.com`, as orgbox does on the cloud host names). */
const CLOUD_INSTANCE_NAME = "orgbox.local";
const cloudInstanceName = (urls: IdentityUrls): string => (urls.cloud ? "microsoftonline.com" : CLOUD_INSTANCE_NAME);
const DISCOVERY_HEADERS = { "cache-control": "max-age=86400, private", "access-control-allow-origin": "*" };

/**
 * Registers the Entra endpoints: v1/v2 OpenID discovery, JWKS, instance
 * discovery and the token endpoints, with one error hook that renders AADSTS
 * bodies (`shared/reference/identity.md` §1, §3).
 */
export async function identityRoutes(app: FastifyInstance, deps: IdentityRouteDeps): Promise<void> {
  await app.register(formbody);
  // Cookies of the browser pages (sign-in session, CSRF seed), parsed by the library: a value that is
  // not valid percent-encoding stays as sent instead of throwing (cookie's tryDecode).
  await app.register(cookie);
  const { store, urls, keys } = deps;

  app.setErrorHandler((error, request, reply) => renderError(error, request, reply, deps.clock, urls.base));
  // What every error body's error_uri points at.
  registerErrorPage(app);

  app.addHook("onSend", async (request, reply) => {
    reply.header("client-request-id", request.id);
    reply.header("x-ms-request-id", traceId(request));
  });

  /** Segment used in endpoint URLs: the GUID for a real tenant (MSAL's replacePath relies on it). */
  const endpointTenant = (ref: TenantRef): string => (ref.kind === "tenant" ? ref.tenant.id : ref.segment);
  const issuerTenant = (ref: TenantRef): string => (ref.kind === "tenant" ? ref.tenant.id : "{tenantid}");

  app.get<{ Params: TenantParams }>("/:tenant/v2.0/.well-known/openid-configuration", async (request, reply) => {
    const ref = await resolveTenant(store, request.params.tenant);
    const t = endpointTenant(ref);
    const b = urls.base;
    reply.headers(DISCOVERY_HEADERS);
    return {
      token_endpoint: `${b}/${t}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      jwks_uri: `${b}/${t}/discovery/v2.0/keys`,
      response_modes_supported: ["query", "fragment", "form_post"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      scopes_supported: ["openid", "profile", "email", "offline_access"],
      issuer: urls.issuerV2(issuerTenant(ref)),
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${b}/oidc/userinfo`,
      authorization_endpoint: `${b}/${t}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${b}/${t}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${b}/${t}/oauth2/v2.0/logout`,
      claims_supported: ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
      kerberos_endpoint: `${b}/${t}/kerberos`,
      tenant_region_scope: "NA",
      cloud_instance_name: cloudInstanceName(urls),
      cloud_graph_host_name: "graph.windows.net",
      msgraph_host: "graph.microsoft.com",
      rbac_url: "https://pas.windows.net",
    };
  });

  app.get<{ Params: TenantParams }>("/:tenant/.well-known/openid-configuration", async (request, reply) => {
    const ref = await resolveTenant(store, request.params.tenant);
    const t = endpointTenant(ref);
    const b = urls.base;
    reply.headers(DISCOVERY_HEADERS);
    return {
      token_endpoint: `${b}/${t}/oauth2/token`,
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      jwks_uri: `${b}/common/discovery/keys`,
      response_modes_supported: ["query", "fragment", "form_post"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      response_types_supported: ["code", "id_token", "code id_token", "token id_token", "token"],
      scopes_supported: ["openid"],
      issuer: urls.issuerV1(issuerTenant(ref)),
      microsoft_multi_refresh_token: true,
      authorization_endpoint: `${b}/${t}/oauth2/authorize`,
      device_authorization_endpoint: `${b}/${t}/oauth2/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${b}/${t}/oauth2/logout`,
      claims_supported: ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"],
      check_session_iframe: `${b}/${t}/oauth2/checksession`,
      userinfo_endpoint: `${b}/${t}/openid/userinfo`,
      kerberos_endpoint: `${b}/${t}/kerberos`,
      tenant_region_scope: "NA",
      cloud_instance_name: cloudInstanceName(urls),
      cloud_graph_host_name: "graph.windows.net",
      msgraph_host: "graph.microsoft.com",
      rbac_url: "https://pas.windows.net",
    };
  });

  const v1Keys = async (request: FastifyRequest<{ Params: TenantParams }>, reply: FastifyReply) => {
    await resolveTenant(store, request.params.tenant);
    reply.headers(DISCOVERY_HEADERS);
    return { keys: keys.jwks() };
  };
  const v2Keys = async (request: FastifyRequest<{ Params: TenantParams }>, reply: FastifyReply) => {
    const ref = await resolveTenant(store, request.params.tenant);
    reply.headers(DISCOVERY_HEADERS);
    return { keys: keys.jwks(urls.issuerV2(issuerTenant(ref))) };
  };
  app.get("/:tenant/discovery/keys", v1Keys);
  app.get("/:tenant/discovery/v2.0/keys", v2Keys);

  app.get<{ Params: TenantParams; Querystring: Record<string, string | undefined> }>("/:tenant/discovery/instance", async (request, reply) => {
    const endpoint = request.query.authorization_endpoint;
    if (!endpoint) throw aad.missingParameter("authorization_endpoint");
    let parsed: URL;
    try {
      parsed = new URL(endpoint);
    } catch {
      throw aad.invalidInstance();
    }
    const tenant = parsed.pathname.split("/").filter(Boolean)[0] ?? "common";
    if (urls.cloud) {
      // On the cloud host names: Entra's public-cloud answer (a recorded live response), whose aliases MSAL,
      // msal-python and az accept as one authority.
      if (!LOGIN_HOSTS.includes(parsed.hostname.toLowerCase())) throw aad.invalidInstance();
      reply.headers(DISCOVERY_HEADERS);
      return {
        tenant_discovery_endpoint: `${CLOUD_LOGIN_URL}/${tenant}/v2.0/.well-known/openid-configuration`,
        "api-version": request.query["api-version"] ?? "1.1",
        metadata: [{ preferred_network: "login.microsoftonline.com", preferred_cache: "login.windows.net", aliases: [...LOGIN_HOSTS] }],
      };
    }
    const ours = new URL(urls.base);
    if (parsed.host.toLowerCase() !== ours.host.toLowerCase()) throw aad.invalidInstance();
    reply.headers(DISCOVERY_HEADERS);
    return {
      tenant_discovery_endpoint: `${urls.base}/${tenant}/v2.0/.well-known/openid-configuration`,
      "api-version": request.query["api-version"] ?? "1.1",
      metadata: [{ preferred_network: ours.host, preferred_cache: ours.host, aliases: [ours.host] }],
    };
  });

  // User realm discovery: MSAL (Python, .NET, Go) asks it before a username/password grant, and
  // takes the WS-Trust path only for `Federated`. Every orgbox tenant is cloud-only (`Managed`).
  app.get<{ Params: { user: string }; Querystring: Record<string, string | undefined> }>("/common/userrealm/:user", async (request, reply) => {
    const login = request.params.user;
    const at = login.lastIndexOf("@");
    const domain = at >= 0 ? login.slice(at + 1).toLowerCase() : "";
    const tenant = domain && DOMAIN_NAME_RE.test(domain) ? await store.findTenant(domain) : undefined;
    reply.headers(DISCOVERY_HEADERS);
    return userRealm(request.query["api-version"], login, domain, tenant?.displayName, cloudInstanceName(urls));
  });

  const tokenDeps = { store, grants: deps.grants, grantContext: deps.grantContext };
  const token = (version: 1 | 2) => (request: FastifyRequest<{ Params: TenantParams }>, reply: FastifyReply) => exchangeToken(tokenDeps, request, reply, version);
  const onlyPost = async () => {
    throw new AadError(900561, "invalid_request", "The endpoint only accepts POST, OPTIONS requests. Received a GET request.");
  };
  app.post("/:tenant/oauth2/v2.0/token", token(2));
  app.post("/:tenant/oauth2/token", token(1));
  app.get("/:tenant/oauth2/v2.0/token", onlyPost);
  app.get("/:tenant/oauth2/token", onlyPost);
}

const TRACE = Symbol("traceId");
function traceId(request: FastifyRequest): string {
  const holder = request as unknown as Record<symbol, string | undefined>;
  return (holder[TRACE] ??= newGuid());
}

function renderError(error: unknown, request: FastifyRequest, reply: FastifyReply, clock: Clock, base: string): FastifyReply {
  let aadError: AadError;
  if (error instanceof AadError) {
    aadError = error;
  } else {
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      aadError = new AadError(900144, "invalid_request", `The request could not be read: ${(error as Error).message}`);
    } else {
      request.log.error({ err: error }, "identity request failed");
      aadError = new AadError(50000, "server_error", "There was an error issuing a token or an issue with our sign-in service.", { status: 500 });
    }
  }
  const body = aadErrorBody(aadError, { traceId: traceId(request), correlationId: request.id, now: clock.now(), baseUrl: base });
  request.log.info({ aadsts: aadError.code, error: aadError.error, reason: aadError.message }, "identity error");
  return reply.status(aadError.status).headers({ ...TOKEN_HEADERS, ...aadError.headers }).send(body);
}

const DOMAIN_NAME_RE = /^[a-z0-9-]+(\.[a-z0-9-]+)+$/;

/**
 * The user realm answer for a login: `Managed` when its domain is a tenant's, else `Unknown`.
 * `api-version` 1.0 (the default, MSAL's) uses snake_case; 2.0 and 2.1 PascalCase, as
 * `login.microsoftonline.com/common/userrealm/{login}` does.
 */
function userRealm(apiVersion: string | undefined, login: string, domain: string, tenantName: string | undefined, instance: string): Record<string, unknown> {
  const managed = tenantName !== undefined;
  if (apiVersion === "2.0" || apiVersion === "2.1") {
    return managed
      ? { NameSpaceType: "Managed", Login: login, DomainName: domain, FederationBrandName: tenantName, TenantBrandingInfo: null, cloud_instance_name: instance }
      : { NameSpaceType: "Unknown", Login: login, DomainName: domain, cloud_instance_name: instance };
  }
  return managed
    ? { ver: "1.0", account_type: "Managed", domain_name: domain, cloud_instance_name: instance, cloud_audience_urn: "urn:federation:MicrosoftOnline" }
    : { ver: "1.0", account_type: "Unknown", cloud_instance_name: instance };
}
