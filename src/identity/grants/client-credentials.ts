import { epochSeconds } from "../../common/clock.ts";
import { readClientCredentials } from "../client-auth.ts";
import { assignedAppRoles } from "../consent.ts";
import { accessTokenVersion } from "../delegated.ts";
import { aad } from "../errors.ts";
import { resolveResource } from "../resources.ts";
import { appOnlyClaims } from "../tokens/claims.ts";
import type { Grant, TokenRequest, TokenResponseBody } from "./grant.ts";

/**
 * `grant_type=client_credentials` (RFC 6749 §4.4), Entra flavour:
 * v2 takes `scope={resource}/.default` (learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow),
 * v1 takes `resource={resource}` (…/azuread-dev/v1-oauth2-client-creds-grant-flow).
 * Issues an app-only access token in the resource's `requestedAccessTokenVersion`
 * shape (Dataverse and Graph: v1.0, `aud` the resource exactly as requested; v2.0:
 * `aud` the resource's app id), `oid`/`sub` the client's service principal.
 */
export const clientCredentialsGrant: Grant<{ requested: string }, "confidential"> = {
  type: "client_credentials",
  clientAuth: "confidential",
  async prepare(request) {
    const requested = requestedResource(request);
    if (!readClientCredentials(request.form, request.authorization).clientId) throw aad.missingParameter("client_id");
    if (request.tenant.kind !== "tenant") throw aad.noTenantForAppOnly();
    return { tenant: request.tenant.tenant, state: { requested } };
  },
  async issue(request, ctx, { tenant, state: { requested } }, client): Promise<TokenResponseBody> {
    const resource = await resolveResource(ctx.store, ctx.resources, requested);
    const resourceSp = resource ? await ctx.store.findServicePrincipal(tenant.id, resource.app.appId) : undefined;
    if (!resource || !resourceSp) throw aad.resourceNotFound(requested, tenant.defaultDomain);

    const issuedAt = epochSeconds(ctx.clock);
    const lifetime = ctx.accessTokenLifetimeSeconds;
    const version = accessTokenVersion(resource.app);
    const claims = appOnlyClaims({
      version,
      audience: version === "2.0" ? resource.app.appId : resource.identifier,
      issuer: version === "2.0" ? ctx.urls.issuerV2(tenant.id) : ctx.urls.issuerV1(tenant.id),
      tenantId: tenant.id,
      clientAppId: client.app.appId,
      clientAuth: client.clientAuth,
      servicePrincipalId: client.servicePrincipal.id,
      roles: await assignedAppRoles(ctx.store, client.servicePrincipal.id, resourceSp.id, resource.app),
      issuedAt,
      lifetimeSeconds: lifetime,
    });
    const accessToken = await ctx.signer.sign(claims, version);
    if (request.version === 2) {
      return { token_type: "Bearer", expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken };
    }
    return {
      token_type: "Bearer",
      expires_in: String(lifetime),
      ext_expires_in: String(lifetime),
      expires_on: String(issuedAt + lifetime),
      not_before: String(issuedAt),
      resource: resource.identifier,
      access_token: accessToken,
    };
  },
};

/** The resource named by `scope` (v2, must be a single `…/.default`) or `resource` (v1). */
function requestedResource(request: TokenRequest): string {
  const { form } = request;
  if (request.version === 1) {
    if (!form.resource) throw aad.missingParameter("resource");
    return form.resource;
  }
  if (form.resource !== undefined) throw aad.resourceParameterNotSupported();
  if (!form.scope) throw aad.missingParameter("scope");
  const scopes = form.scope.split(/\s+/).filter((s) => s.length > 0);
  const resources = scopes.filter((s) => !["openid", "profile", "email", "offline_access"].includes(s));
  const [scope] = resources;
  if (!scope || resources.length !== 1) throw aad.invalidScope(form.scope);
  if (!scope.endsWith("/.default")) throw aad.scopeNeedsDefault(scope);
  return scope.slice(0, -"/.default".length);
}
