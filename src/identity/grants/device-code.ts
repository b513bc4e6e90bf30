import { randomBytes, randomInt } from "node:crypto";
import { newGuid } from "../../common/ids.ts";
import { hashSecret } from "../../common/secrets.ts";
import { assertUserActive, evaluateConsent, parseScope, resolveTarget } from "../delegated.ts";
import { AadError, aad } from "../errors.ts";
import type { Tenant, User } from "../model.ts";
import type { StoredDeviceCode } from "../store.ts";
import type { TenantRef } from "../tenants.ts";
import { issueConsentedUserTokens, requestedDelegation } from "./delegation-request.ts";
import type { AuthenticatedClient, Grant, GrantContext, PreparedGrant, TokenRequest, TokenResponseBody } from "./grant.ts";

/** Device codes live 15 minutes (Entra's `expires_in: 900`). */
const DEVICE_CODE_LIFETIME_SECONDS = 900;
/** Seconds a client waits between polls (Entra's `interval: 5`). */
const DEVICE_CODE_INTERVAL_SECONDS = 5;
/** User codes: 9 characters without look-alikes (0/O, 1/I). */
const USER_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/**
 * Polling errors of learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code
 * (`error` values and descriptions from that page; AADSTS 70016, 70018 and 70019 from
 * reference-error-codes; the code for a declined request is orgbox's choice).
 */
const deviceErrors = {
  pending: () => new AadError(70016, "authorization_pending", "OAuth 2.0 device flow error. Authorization is pending. Continue polling."),
  declined: () => new AadError(70000, "authorization_declined", "The end user denied the authorization request."),
  badCode: () => new AadError(70018, "bad_verification_code", "The device_code sent to the /token endpoint wasn't recognized."),
  expired: () => new AadError(70019, "expired_token", "Verification code expired. Value of expires_in has been exceeded and authentication is no longer possible with device_code."),
};

/** Normalises what a user typed as a user code: upper case, no spaces or dashes. */
export function normaliseUserCode(typed: string): string {
  return typed.toUpperCase().replace(/[\s-]+/g, "");
}

/** The verification page (`verification_uri`): `{base}/devicelogin`. */
export function verificationUri(ctx: GrantContext): string {
  return `${ctx.urls.base}/devicelogin`;
}

/**
 * `POST /{tenant}/oauth2/v2.0/devicecode` (scope) and v1 `/{tenant}/oauth2/devicecode` (resource):
 * RFC 8628 §3.1–3.2, learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code.
 * Returns `device_code, user_code, verification_uri, expires_in, interval, message`
 * (v1: `verification_url` and string numbers, as ADAL received them). No `verification_uri_complete`.
 * @throws AadError 900144 (client_id/scope/resource missing), 901002, 700016, 500011, 650053.
 */
export async function startDeviceAuthorization(ctx: GrantContext, version: 1 | 2, ref: TenantRef, form: Record<string, string>): Promise<TokenResponseBody> {
  if (!form.client_id) throw aad.missingParameter("client_id");
  const app = await ctx.store.findApplicationByAppId(form.client_id);
  const tenant = ref.kind === "tenant" ? ref.tenant : undefined;
  const directory = tenant?.defaultDomain ?? ref.segment;
  if (!app) throw aad.applicationNotFound(form.client_id, directory);
  let resource: string;
  let permissions: string[] | "default";
  if (version === 2) {
    if (form.resource !== undefined) throw aad.resourceParameterNotSupported();
    if (!form.scope) throw aad.missingParameter("scope");
    const parsed = parseScope(form.scope);
    resource = parsed.resource;
    permissions = parsed.permissions.length > 0 ? parsed.permissions : "default";
  } else {
    if (!form.resource) throw aad.missingParameter("resource");
    resource = form.resource;
    permissions = "default";
  }
  if (tenant) {
    if (!(await ctx.store.findServicePrincipal(tenant.id, app.appId))) throw aad.applicationNotFound(app.appId, directory);
    await resolveTarget(ctx, tenant, app, resource, permissions);
  }
  const deviceCode = `DAQABIQEAAAB${randomBytes(96).toString("base64url")}`;
  const userCode = Array.from({ length: 9 }, () => USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)]).join("");
  const now = ctx.clock.now();
  await ctx.store.createDeviceCode({
    id: newGuid(),
    deviceCodeHash: hashSecret(deviceCode),
    userCodeHash: hashSecret(userCode),
    tenantId: tenant?.id ?? null,
    clientId: app.appId,
    version,
    scope: version === 2 ? (form.scope ?? null) : null,
    resource: version === 1 ? resource : null,
    status: "pending",
    userId: null,
    authTime: null,
    issuedAt: now,
    expiresAt: now + DEVICE_CODE_LIFETIME_SECONDS * 1000,
  });
  const uri = verificationUri(ctx);
  const message = `To sign in, use a web browser to open the page ${uri} and enter the code ${userCode} to authenticate.`;
  if (version === 2) return { user_code: userCode, device_code: deviceCode, verification_uri: uri, expires_in: DEVICE_CODE_LIFETIME_SECONDS, interval: DEVICE_CODE_INTERVAL_SECONDS, message };
  return { user_code: userCode, device_code: deviceCode, verification_url: uri, expires_in: String(DEVICE_CODE_LIFETIME_SECONDS), interval: String(DEVICE_CODE_INTERVAL_SECONDS), message };
}

/** An approved device code, its user and when the user signed in (ms). */
interface DeviceRedemption {
  stored: StoredDeviceCode;
  user: User;
  authTime: number;
}

/**
 * `grant_type=urn:ietf:params:oauth:grant-type:device_code` with `device_code`
 * (RFC 8628 §3.4–3.5; v1/ADAL sends `grant_type=device_code` and `code`).
 * Answers `authorization_pending` until the user finishes at `/devicelogin`, then
 * `authorization_declined`, `expired_token`, or tokens once (a second redemption is
 * AADSTS70000). The client authenticates as for any user flow (public clients
 * need `allowPublicClient`); consent is checked again at redemption.
 */
function deviceCodeGrant(type: string): Grant<DeviceRedemption, "public-or-confidential"> {
  return {
    type,
    clientAuth: "public-or-confidential",
    async prepare(request, ctx) {
      const { form } = request;
      const value = form.device_code ?? form.code;
      if (!value) throw aad.missingParameter("device_code");
      const stored = await ctx.store.findDeviceCode({ deviceCodeHash: hashSecret(value) });
      if (!stored || (form.client_id !== undefined && form.client_id.toLowerCase() !== stored.clientId)) throw deviceErrors.badCode();
      if (request.tenant.kind === "tenant" && stored.tenantId !== null && stored.tenantId !== request.tenant.tenant.id) throw deviceErrors.badCode();
      if (stored.status === "redeemed") throw aad.invalidGrant();
      if (stored.expiresAt <= ctx.clock.now()) throw deviceErrors.expired();
      if (stored.status === "pending") throw deviceErrors.pending();
      if (stored.status === "declined") throw deviceErrors.declined();
      const user = stored.userId ? await ctx.store.findUserById(stored.userId) : undefined;
      const tenant: Tenant | undefined = user ? await ctx.store.findTenant(user.tenantId) : undefined;
      if (!user || !tenant || stored.authTime === null) throw aad.invalidGrant();
      if (request.tenant.kind === "tenant" && request.tenant.tenant.id !== tenant.id) throw deviceErrors.badCode();
      return { tenant, state: { stored, user, authTime: stored.authTime } };
    },
    issue: redeem,
  };
}

async function redeem(request: TokenRequest, ctx: GrantContext, { tenant, state: { stored, user, authTime } }: PreparedGrant<DeviceRedemption>, client: AuthenticatedClient): Promise<TokenResponseBody> {
  assertUserActive(user, authTime);
  const delegation = requestedDelegation({ ...request, version: stored.version }, { scope: stored.scope, resource: stored.resource });
  // Consent is checked before the code is spent, so a missing grant leaves it usable after consent.
  const target = await resolveTarget(ctx, tenant, client.app, delegation.resource, delegation.permissions);
  const consent = await evaluateConsent(ctx.store, tenant.id, client.servicePrincipal, client.app, target, user.id);
  if (consent.missing.length > 0) throw aad.consentRequired(client.app.appId, client.app.displayName);
  if (!(await ctx.store.transitionDeviceCode(stored.id, "approved", "redeemed"))) throw aad.invalidGrant();
  return issueConsentedUserTokens(ctx, request, { tenant, user, client, delegation, amr: ["pwd"], authTime, requireGrantForDefault: false });
}

/** RFC 8628 `grant_type` (MSAL, v2). */
export const deviceCodeGrantV2: Grant = deviceCodeGrant("urn:ietf:params:oauth:grant-type:device_code");
/** ADAL's v1 `grant_type=device_code`. */
export const deviceCodeGrantV1: Grant = deviceCodeGrant("device_code");
