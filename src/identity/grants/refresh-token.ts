import { hashSecret } from "../../common/secrets.ts";
import { assertUserActive, authenticateUserFlowClient, tenantOfGrant } from "../delegated.ts";
import { aad, aadTimestamp } from "../errors.ts";
import { issueConsentedUserTokens, requestedDelegation } from "./delegation-request.ts";
import type { Grant, GrantContext, TokenRequest, TokenResponseBody } from "./grant.ts";

/**
 * `grant_type=refresh_token` (RFC 6749 §6; learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token).
 * Refresh tokens are opaque, stored as SHA-256 hashes, bound to client, user and
 * tenant, and rotated: each use returns a new one and the presented one stops
 * working (orgbox is stricter than Entra here, on purpose). Errors:
 * AADSTS70000 (unknown, rotated, or another client's/tenant's token),
 * 700082 (inactive past its lifetime), 50173 (password changed after sign-in),
 * 50057 (user disabled), 65001 (consent withdrawn).
 */
export const refreshTokenGrant: Grant = {
  type: "refresh_token",
  async handle(request: TokenRequest, ctx: GrantContext): Promise<TokenResponseBody> {
    const { form } = request;
    if (!form.refresh_token) throw aad.missingParameter("refresh_token");
    const stored = await ctx.store.findRefreshToken(hashSecret(form.refresh_token));
    if (!stored) throw aad.invalidGrant();
    const tenant = await tenantOfGrant(ctx, request, stored.tenantId);
    const client = await authenticateUserFlowClient(ctx, tenant, form, request.authorization, () => stored.publicClient);
    if (client.app.appId !== stored.clientId) throw aad.invalidGrant();
    if (stored.revokedAt !== null) throw aad.invalidGrant();
    const now = ctx.clock.now();
    if (stored.expiresAt <= now) throw aad.refreshTokenExpired(aadTimestamp(stored.issuedAt), inactivity(now - stored.issuedAt));
    const user = await ctx.store.findUserById(stored.userId);
    if (!user) throw aad.invalidGrant();
    assertUserActive(user, stored.authTime);

    const delegation = requestedDelegation(request, { scope: stored.scope, resource: stored.resource });
    // `.default` with nothing consented fails unless OIDC scopes alone were asked for.
    return issueConsentedUserTokens(ctx, request, { tenant, user, client, delegation, amr: stored.amr, authTime: stored.authTime, requireGrantForDefault: delegation.oidc.size === 0, codeId: stored.codeId, rotateFrom: stored });
  },
};

/** Entra's `d.hh:mm:ss` duration format, from milliseconds. */
function inactivity(ms: number): string {
  const s = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${Math.floor(s / 86400)}.${pad(Math.floor(s / 3600) % 24)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}
