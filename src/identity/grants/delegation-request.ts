import { evaluateConsent, issueUserTokens, normaliseIp, parseScope, resolveTarget } from "../delegated.ts";
import { aad } from "../errors.ts";
import { interactionRequiredError, pendingInteraction } from "../interaction.ts";
import type { Tenant, User } from "../model.ts";
import type { StoredRefreshToken } from "../store.ts";
import type { AuthenticatedClient, GrantContext, TokenRequest, TokenResponseBody } from "./grant.ts";

/** What a delegated token request asks for: one resource, its permissions (or all consented), and OIDC scopes. */
export interface RequestedDelegation {
  resource: string;
  permissions: string[] | "default";
  oidc: Set<string>;
}

/**
 * Reads the resource of a delegated token request: v1 `resource=` (every
 * consented permission, like `.default`), v2 `scope=` (AADSTS901002 for `resource=`).
 * `fallback` supplies the scope/resource stored with a code or refresh token.
 * @throws AadError 900144 when neither the form nor the fallback names one.
 */
export function requestedDelegation(request: TokenRequest, fallback?: { scope: string | null; resource: string | null }): RequestedDelegation {
  const { form } = request;
  if (request.version === 1) {
    const resource = form.resource ?? fallback?.resource ?? undefined;
    if (!resource) throw aad.missingParameter("resource");
    const oidc = new Set((form.scope ?? "").split(/\s+/).filter((s) => s === "openid" || s === "offline_access" || s === "profile" || s === "email"));
    return { resource, permissions: "default", oidc };
  }
  if (form.resource !== undefined) throw aad.resourceParameterNotSupported();
  const scope = form.scope ?? fallback?.scope ?? undefined;
  if (!scope) throw aad.missingParameter("scope");
  const parsed = parseScope(scope);
  return { resource: parsed.resource, permissions: parsed.permissions, oidc: parsed.oidc };
}

/** Who gets tokens in {@link issueConsentedUserTokens}. Times in ms. */
export interface ConsentedUserTokensInput {
  tenant: Tenant;
  user: User;
  client: AuthenticatedClient;
  delegation: RequestedDelegation;
  amr: string[];
  authTime: number;
  /** `.default`/v1 requests with nothing consented fail too (grants that cannot prompt). */
  requireGrantForDefault: boolean;
  nonce?: string;
  codeId?: string | null;
  /** The refresh token this request redeems: its successor joins its family (refresh grant). */
  rotateFrom?: StoredRefreshToken;
  /** The code was issued to an SPA redirect URI (fixed refresh-token lifetime). */
  spa?: boolean;
  /** False for a grant that can never satisfy an interaction requirement (ROPC): any one set fails it. */
  interactive?: false;
}

/**
 * The tail every delegated grant shares: resolves the resource, checks consent
 * (`oauth2PermissionGrants`) and issues the user's tokens.
 * @throws AadError 500011 / 650053 (resource, permission), 65001 with suberror `consent_required`.
 */
export async function issueConsentedUserTokens(ctx: GrantContext, request: TokenRequest, input: ConsentedUserTokensInput): Promise<TokenResponseBody> {
  const { tenant, user, client, delegation } = input;
  const target = await resolveTarget(ctx, tenant, client.app, delegation.resource, delegation.permissions);
  const pending = await pendingInteraction(ctx.store, { userId: user.id, servicePrincipalId: client.servicePrincipal.id }, input.interactive === false ? undefined : input.authTime);
  if (pending) throw interactionRequiredError(pending, target.resource.app.appId);
  const consent = await evaluateConsent(ctx.store, tenant.id, client.servicePrincipal, client.app, target, user.id);
  if (consent.missing.length > 0 || (input.requireGrantForDefault && target.isDefault && consent.granted.length === 0)) throw aad.consentRequired(client.app.appId, client.app.displayName);
  return issueUserTokens(ctx, {
    version: request.version,
    tenant,
    user,
    client,
    target,
    scopes: consent.granted,
    oidc: delegation.oidc,
    nonce: input.nonce,
    amr: input.amr,
    authTime: input.authTime,
    ipAddress: normaliseIp(request.clientIp),
    wantsClientInfo: request.form.client_info === "1",
    codeId: input.codeId ?? null,
    ...(input.rotateFrom ? { rotateFrom: input.rotateFrom } : {}),
    ...(input.spa ? { spa: true } : {}),
  });
}
