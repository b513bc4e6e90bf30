import { hashSecret } from "../../common/secrets.ts";
import { assertUserActive, evaluateConsent, resolveTarget, tenantOfGrant } from "../delegated.ts";
import { AadError, aad, aadTimestamp } from "../errors.ts";
import type { Tenant } from "../model.ts";
import { issueConsentedUserTokens, requestedDelegation } from "./delegation-request.ts";
import type { StoredRefreshToken } from "../store.ts";
import type { AuthenticatedClient, Grant, GrantContext, TokenRequest } from "./grant.ts";

/**
 * `grant_type=refresh_token` (RFC 6749 §6; learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token).
 * Refresh tokens are opaque, stored as SHA-256 hashes, bound to client, user and
 * tenant. Each use returns a new one (learn.microsoft.com/entra/identity-platform/refresh-tokens).
 * With `refreshTokenRotation: "entra"` (default) the presented one stays valid until it expires or
 * is revoked, as in Entra; with `"strict"` it stops working, and presenting it again revokes its
 * whole family (RFC 9700 §4.14.2). Errors: AADSTS70000 (unknown, revoked, replayed in strict mode,
 * or another client's/tenant's token), 700082 (not redeemed within `refreshTokenLifetimeSeconds`),
 * 700084 (an SPA chain past its fixed lifetime), 50173 (password changed after sign-in),
 * 50057 (user disabled), 65001 (consent withdrawn), 50034 (user deleted), 50076 / 50079 (an interaction
 * requirement set after the chain's sign-in, see `interaction.ts`).
 */
export const refreshTokenGrant: Grant<StoredRefreshToken, "public-or-confidential"> = {
  type: "refresh_token",
  clientAuth: "public-or-confidential",
  async prepare(request, ctx) {
    const { form } = request;
    if (!form.refresh_token) throw aad.missingParameter("refresh_token");
    const stored = await ctx.store.findRefreshToken(hashSecret(form.refresh_token));
    if (!stored) throw aad.invalidGrant();
    const tenant = await tenantOfGrant(ctx, request, stored.tenantId);
    return { tenant, isPublicClient: () => stored.publicClient, state: stored };
  },
  async issue(request, ctx, { tenant, state: stored }, client) {
    if (client.app.appId !== stored.clientId) throw aad.invalidGrant();
    const now = ctx.clock.now();
    // A deleted user's tokens were revoked with it: Entra names the missing account (AADSTS50034), not the grant.
    const user = await ctx.store.findUserById(stored.userId);
    if (!user) throw aad.userNotFound(tenant.id);
    if (stored.revokedAt !== null) {
      // Strict rotation: a redeemed token presented again is a replay; nothing of its family may live on.
      if (ctx.refreshTokenRotation === "strict") await ctx.store.revokeRefreshTokenFamily(stored.familyId, now);
      // Revoked with the consent it relied on (identity's revokeConsent): Entra answers that consent is missing.
      if (await consentWithdrawn(ctx, request, tenant, client, user.id, stored)) throw aad.consentRequired(client.app.appId, client.app.displayName);
      throw aad.invalidGrant();
    }
    if (stored.expiresAt <= now) {
      if (stored.spa) throw aad.spaRefreshTokenExpired(duration(ctx.spaRefreshTokenLifetimeSeconds * 1000), aadTimestamp(stored.expiresAt - ctx.spaRefreshTokenLifetimeSeconds * 1000));
      throw aad.refreshTokenExpired(aadTimestamp(stored.issuedAt), duration(now - stored.issuedAt));
    }
    assertUserActive(user, stored.authTime);

    const delegation = requestedDelegation(request, { scope: stored.scope, resource: stored.resource });
    // `.default` with nothing consented fails unless OIDC scopes alone were asked for.
    return issueConsentedUserTokens(ctx, request, { tenant, user, client, delegation, amr: stored.amr, authTime: stored.authTime, requireGrantForDefault: delegation.oidc.size === 0, codeId: stored.codeId, rotateFrom: stored });
  },
};

/** Whether the consent the refresh token's request needs is gone now (a resource that no longer resolves counts as not withdrawn). */
async function consentWithdrawn(ctx: GrantContext, request: TokenRequest, tenant: Tenant, client: AuthenticatedClient, userId: string, stored: StoredRefreshToken): Promise<boolean> {
  try {
    const delegation = requestedDelegation(request, { scope: stored.scope, resource: stored.resource });
    const target = await resolveTarget(ctx, tenant, client.app, delegation.resource, delegation.permissions);
    const consent = await evaluateConsent(ctx.store, tenant.id, client.servicePrincipal, client.app, target, userId);
    return consent.missing.length > 0 || (target.isDefault && consent.granted.length === 0);
  } catch (error) {
    if (error instanceof AadError) return false;
    throw error;
  }
}

/** Entra's `d.hh:mm:ss` duration format, from milliseconds. */
function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${Math.floor(s / 86400)}.${pad(Math.floor(s / 3600) % 24)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}
