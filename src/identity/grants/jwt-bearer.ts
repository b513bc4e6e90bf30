import type { JWTPayload } from "jose";
import { TokenRejectedError } from "../tokens/verifier.ts";
import { assertUserActive } from "../delegated.ts";
import { AadError, aad } from "../errors.ts";
import type { Application } from "../model.ts";
import { issueConsentedUserTokens, requestedDelegation, type RequestedDelegation } from "./delegation-request.ts";
import type { Grant, GrantContext } from "./grant.ts";

/**
 * OBO assertion errors. 500131 and 500133 carry the wording of live Entra responses
 * (quoted in OfficeDev/microsoft-teams-apps-company-communicator#214 and
 * microsoft-authentication-library-for-dotnet issues); 50013 for a bad signature.
 */
const oboErrors = {
  wrongTokenUse: (use: string) => new AadError(90015, "invalid_request", `Requested token use '${use}' is not supported. The only supported value is 'on_behalf_of'.`),
  invalidSignature: (reason: string) => new AadError(50013, "invalid_grant", `Assertion failed signature validation. [Reason - ${reason}]`),
  expired: (now: string, exp: string) =>
    new AadError(500133, "invalid_grant", `Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token. Current time: ${now}, expiry time of assertion ${exp}.`),
  wrongAudience: (aud: string, app: Application) =>
    new AadError(
      500131,
      "invalid_grant",
      `Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '${aud}' and the expected audience is '${app.appId}' or one of the Application Uris of this application with App ID '${app.appId}'(${app.displayName}). The downstream client must request a token for the expected audience (the application that made the OBO request) and this application should use that token as the assertion.`,
    ),
  notAUser: () => new AadError(50034, "invalid_grant", "The assertion does not represent a user: on-behalf-of needs a delegated (user) access token, not an app-only one."),
};

/**
 * `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with
 * `requested_token_use=on_behalf_of` (learn.microsoft.com/entra/identity-platform/v2-oauth2-on-behalf-of-flow;
 * RFC 7523 §2.1). The middle tier authenticates (secret or certificate); `assertion`
 * is a user access token this tenant issued whose `aud` is the middle tier (its app
 * id or an identifier URI). Returns a delegated token for the downstream resource
 * (`scope` v2, `resource` v1) for the same user (`oid`), if the middle tier has
 * consent for it (AADSTS65001 otherwise).
 */
export const jwtBearerGrant: Grant<{ claims: JWTPayload; delegation: RequestedDelegation }, "confidential"> = {
  type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
  clientAuth: "confidential",
  async prepare(request, ctx) {
    const { form } = request;
    if (!form.requested_token_use) throw aad.missingParameter("requested_token_use");
    if (form.requested_token_use !== "on_behalf_of") throw oboErrors.wrongTokenUse(form.requested_token_use);
    if (!form.assertion) throw aad.missingParameter("assertion");
    const delegation = requestedDelegation(request);
    const claims = await readAssertion(ctx, form.assertion);
    const tenantId = typeof claims.tid === "string" ? claims.tid : "";
    const tenant = await ctx.store.findTenant(tenantId);
    if (!tenant || (request.tenant.kind === "tenant" && request.tenant.tenant.id !== tenant.id)) throw aad.invalidGrant();
    return { tenant, state: { claims, delegation } };
  },
  async issue(request, ctx, { tenant, state: { claims, delegation } }, client) {
    const aud = typeof claims.aud === "string" ? claims.aud : "";
    const audiences = [client.app.appId, ...client.app.identifierUris].map((a) => a.toLowerCase().replace(/\/+$/, ""));
    if (!audiences.includes(aud.toLowerCase().replace(/\/+$/, ""))) throw oboErrors.wrongAudience(aud, client.app);
    if (typeof claims.scp !== "string" || claims.idtyp === "app") throw oboErrors.notAUser();
    const user = typeof claims.oid === "string" ? await ctx.store.findUserById(claims.oid) : undefined;
    if (!user || user.tenantId !== tenant.id) throw oboErrors.notAUser();
    // `iat` has whole seconds: a password change within that second does not revoke the assertion.
    if (typeof claims.iat === "number") assertUserActive(user, claims.iat * 1000 + 999);
    else assertUserActive(user);

    const amr = Array.isArray(claims.amr) ? claims.amr.filter((a): a is string => typeof a === "string") : ["pwd"];
    return issueConsentedUserTokens(ctx, request, { tenant, user, client, delegation, amr, authTime: ctx.clock.now(), requireGrantForDefault: true });
  },
};

/** Verifies the user assertion's signature (a key this instance publishes), issuer and lifetime; not yet its audience. */
async function readAssertion(ctx: GrantContext, assertion: string): Promise<JWTPayload> {
  let unverified: JWTPayload;
  try {
    const [, payload] = assertion.split(".");
    unverified = JSON.parse(Buffer.from(payload ?? "", "base64url").toString("utf8")) as JWTPayload;
  } catch {
    throw oboErrors.invalidSignature("The assertion is not a JWT.");
  }
  const tid = typeof unverified.tid === "string" ? unverified.tid : "";
  const aud = typeof unverified.aud === "string" ? unverified.aud : "";
  try {
    return await ctx.verifier(assertion, { issuers: ctx.urls.acceptedIssuers(tid), audiences: [aud] });
  } catch (error) {
    const reason = error instanceof TokenRejectedError ? error.reason : (error as Error).message;
    if (/expired|"exp"/i.test(reason) && typeof unverified.exp === "number") {
      throw oboErrors.expired(new Date(ctx.clock.now()).toISOString(), new Date(unverified.exp * 1000).toISOString());
    }
    throw oboErrors.invalidSignature(reason);
  }
}
