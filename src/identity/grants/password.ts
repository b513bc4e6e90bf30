import { assertUserActive } from "../delegated.ts";
import { aad } from "../errors.ts";
import { checkPassword } from "../lockout.ts";
import type { Tenant, User } from "../model.ts";
import type { Grant } from "./grant.ts";
import { issueConsentedUserTokens, requestedDelegation, type RequestedDelegation } from "./delegation-request.ts";

/**
 * `grant_type=password` (ROPC, RFC 6749 §4.3), Entra flavour
 * (learn.microsoft.com/entra/identity-platform/v2-oauth-ropc): v2 takes `scope`,
 * v1 takes `resource`. Public clients (`allowPublicClient`) send no secret
 * (AADSTS700025 if they do); confidential clients authenticate. The user must
 * exist in the tenant (AADSTS50034), know the password (50126) and be enabled
 * (50057); smart lockout applies (50053, see `lockout.ts`); consent must already exist (65001, suberror `consent_required`),
 * since ROPC cannot show a consent prompt.
 */
export const passwordGrant: Grant<{ user: (User & { passwordHash: string }) | undefined; password: string; directory: string; delegation: RequestedDelegation }, "public-or-confidential"> = {
  type: "password",
  clientAuth: "public-or-confidential",
  async prepare(request, ctx) {
    const { form } = request;
    const delegation = requestedDelegation(request);
    if (!form.username) throw aad.missingParameter("username");
    if (form.password === undefined) throw aad.missingParameter("password");

    const user = await ctx.store.findUserByUpn(form.username);
    let tenant: Tenant | undefined;
    if (request.tenant.kind === "tenant") tenant = request.tenant.tenant;
    else if (user) tenant = await ctx.store.findTenant(user.tenantId);
    const directory = tenant?.defaultDomain ?? form.username.split("@")[1] ?? request.tenant.segment;
    if (!tenant) throw aad.userNotFound(directory);
    return { tenant, state: { user, password: form.password, directory, delegation } };
  },
  async issue(request, ctx, { tenant, state: { user, password, directory, delegation } }, client) {
    if (!user || user.tenantId !== tenant.id) throw aad.userNotFound(directory);
    const check = await checkPassword(ctx, user, password);
    if (!check.ok) throw check.error;
    assertUserActive(user);

    return issueConsentedUserTokens(ctx, request, { tenant, user, client, delegation, amr: ["pwd"], authTime: ctx.clock.now(), requireGrantForDefault: true, interactive: false });
  },
};

