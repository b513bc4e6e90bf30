import { createHash, timingSafeEqual } from "node:crypto";
import { hashSecret } from "../../common/secrets.ts";
import { assertUserActive, tenantOfGrant } from "../delegated.ts";
import { aad } from "../errors.ts";
import type { StoredAuthorizationCode } from "../store.ts";
import { issueConsentedUserTokens, requestedDelegation } from "./delegation-request.ts";
import type { Grant } from "./grant.ts";

/**
 * `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636;
 * learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#redeem-a-code-for-an-access-token).
 * Codes are single use and short-lived: a replay fails with AADSTS54005 and
 * revokes every refresh token issued from the code; an expired code fails with
 * 70008. `redirect_uri` must equal the one used at /authorize (500112), the
 * PKCE verifier must match (501481), and a code issued without a challenge must come without a
 * (non-empty) verifier (RFC 9700 §2.1.1 PKCE downgrade; also 501481). Web-platform redirect URIs make the client
 * confidential (secret required); SPA and public-client ones make it public.
 */
export const authorizationCodeGrant: Grant<StoredAuthorizationCode, "public-or-confidential"> = {
  type: "authorization_code",
  clientAuth: "public-or-confidential",
  async prepare(request, ctx) {
    const { form } = request;
    if (!form.code) throw aad.missingParameter("code");
    const stored = await ctx.store.findAuthorizationCode(hashSecret(form.code));
    if (!stored) throw aad.invalidGrant();
    const tenant = await tenantOfGrant(ctx, request, stored.tenantId);
    const now = ctx.clock.now();
    if (stored.redeemedAt !== null) {
      await ctx.store.revokeRefreshTokensOfCode(stored.id, now);
      throw aad.codeRedeemed();
    }
    if (stored.expiresAt <= now) throw aad.codeExpired();
    // Web-platform redirect URIs make the client confidential; SPA and public-client ones public.
    return { tenant, isPublicClient: () => stored.clientKind !== "web", state: stored };
  },
  async issue(request, ctx, { tenant, state: stored }, client) {
    const { form } = request;
    const now = ctx.clock.now();
    if (client.app.appId !== stored.clientId) throw aad.invalidGrant();
    if (form.redirect_uri === undefined) throw aad.missingParameter("redirect_uri");
    if (form.redirect_uri !== stored.redirectUri) throw aad.redirectUriMismatchOnRedeem(form.redirect_uri, stored.redirectUri);
    if (!verifierMatches(stored, form.code_verifier)) throw aad.pkceMismatch();
    if (!(await ctx.store.redeemAuthorizationCode(stored.id, now))) {
      await ctx.store.revokeRefreshTokensOfCode(stored.id, now);
      throw aad.codeRedeemed();
    }
    const user = await ctx.store.findUserById(stored.userId);
    if (!user) throw aad.invalidGrant();
    assertUserActive(user, stored.authTime);

    const delegation = requestedDelegation(request, { scope: stored.scope, resource: stored.resource });
    return issueConsentedUserTokens(ctx, request, { tenant, user, client, delegation, amr: ["pwd"], authTime: stored.authTime, requireGrantForDefault: false, nonce: stored.nonce ?? undefined, codeId: stored.id, spa: stored.clientKind === "spa" });
  },
};

/**
 * RFC 7636 §4.6: S256 compares base64url(SHA-256(verifier)); plain compares as is.
 * A code issued without `code_challenge` matches only a request without `code_verifier`:
 * RFC 9700 §2.1.1 requires rejecting a verifier there (a PKCE downgrade), and orgbox answers
 * as for a wrong verifier (AADSTS501481).
 */
function verifierMatches(code: Pick<StoredAuthorizationCode, "codeChallenge" | "codeChallengeMethod">, verifier: string | undefined): boolean {
  if (!code.codeChallenge) return !verifier;
  if (!verifier) return false;
  const computed = code.codeChallengeMethod === "plain" ? verifier : createHash("sha256").update(verifier, "ascii").digest("base64url");
  const a = Buffer.from(computed);
  const b = Buffer.from(code.codeChallenge);
  return a.length === b.length && timingSafeEqual(a, b);
}
