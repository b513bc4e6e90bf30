import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { hashSecret } from "../common/secrets.ts";
import { BrowserKit, canConsentForOrg, type BrowserDeps, type Params, type SignedIn } from "./browser.ts";
import { evaluateConsent, parseScope, resolveTarget, type DelegatedTarget } from "./delegated.ts";
import { AadError, aad } from "./errors.ts";
import { normaliseUserCode, startDeviceAuthorization } from "./grants/device-code.ts";
import type { Application, ServicePrincipal, Tenant } from "./model.ts";
import { consentPage, signInPage } from "./pages/html.ts";
import { deviceCodePage, deviceConfirmPage, deviceDonePage } from "./pages/device.ts";
import { recordConsent } from "./service.ts";
import type { StoredDeviceCode } from "./store.ts";
import { resolveTenant } from "./tenants.ts";

const TOKEN_HEADERS = { "cache-control": "no-store, no-cache", pragma: "no-cache" };
const ACTION = "/devicelogin";
const INVALID_CODE = "That code didn't work. Check the code and try again.";
const EXPIRED_CODE = "That code has expired. Go back to your app or device and request a new one.";

/** A pending device code with everything the pages need. */
interface PendingRequest {
  code: StoredDeviceCode;
  app: Application;
}

/** Who is signing in and for what: the code's client in the user's tenant, the target, and consent. */
interface Decision {
  tenant: Tenant;
  clientSp: ServicePrincipal;
  target: DelegatedTarget;
  needed: string[];
  missing: string[];
  oidc: string[];
}

/**
 * The device authorization endpoints (RFC 8628; learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code):
 * `POST /{tenant}/oauth2/v2.0/devicecode` and v1 `/{tenant}/oauth2/devicecode`, and the
 * verification page `GET|POST /devicelogin`: enter the code → sign in (or reuse the
 * browser session) → consent, or "Are you trying to sign in to …?" → "You have signed in".
 * Every form carries a CSRF token bound to a cookie; codes are re-checked at each step.
 */
export async function deviceRoutes(app: FastifyInstance, deps: BrowserDeps): Promise<void> {
  const { store, clock, grantContext } = deps;
  const kit = new BrowserKit(deps);

  const devicecode = (version: 1 | 2) => async (request: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply) => {
    const ref = await resolveTenant(store, request.params.tenant);
    const body = await startDeviceAuthorization(grantContext, version, ref, kit.params(request));
    reply.headers(TOKEN_HEADERS);
    return body;
  };
  app.post("/:tenant/oauth2/v2.0/devicecode", devicecode(2));
  app.post("/:tenant/oauth2/devicecode", devicecode(1));

  const fields = (request: FastifyRequest, reply: FastifyReply, step: string, otc?: string): Params => ({ step, ...(otc ? { otc } : {}), csrf: kit.csrfToken(request, reply) });
  const codePage = (request: FastifyRequest, reply: FastifyReply, error?: string) => kit.html(reply, deviceCodePage({ action: ACTION, hidden: fields(request, reply, "code"), error }), error ? 400 : 200);

  /** The pending code a user typed, or the message to show on the code page. */
  const findPending = async (typed: string | undefined): Promise<PendingRequest | string> => {
    const normalised = normaliseUserCode(typed ?? "");
    if (!/^[A-Z0-9]{6,16}$/.test(normalised)) return INVALID_CODE;
    const code = await store.findDeviceCode({ userCodeHash: hashSecret(normalised) });
    if (!code || code.status !== "pending") return INVALID_CODE;
    if (code.expiresAt <= clock.now()) return EXPIRED_CODE;
    const client = await store.findApplicationByAppId(code.clientId);
    return client ? { code, app: client } : INVALID_CODE;
  };

  const decide = async (pending: PendingRequest, signedIn: SignedIn): Promise<Decision> => {
    const { code } = pending;
    if (code.tenantId !== null && code.tenantId !== signedIn.user.tenantId) throw aad.userNotFound((await store.findTenant(code.tenantId))?.defaultDomain ?? code.tenantId);
    const tenant = (await store.findTenant(signedIn.user.tenantId)) as Tenant;
    const clientSp = await store.findServicePrincipal(tenant.id, pending.app.appId);
    if (!clientSp) throw aad.applicationNotFound(pending.app.appId, tenant.defaultDomain);
    if (!clientSp.accountEnabled) throw aad.applicationDisabled(pending.app.appId, clientSp.displayName);
    const parsed = code.scope !== null ? parseScope(code.scope) : undefined;
    const resource = parsed?.resource ?? code.resource ?? "";
    const target = await resolveTarget(grantContext, tenant, pending.app, resource, parsed && parsed.permissions.length > 0 ? parsed.permissions : "default");
    const state = await evaluateConsent(store, tenant.id, clientSp, pending.app, target, signedIn.user.id);
    return { tenant, clientSp, target, needed: state.needed, missing: state.missing, oidc: parsed ? [...parsed.oidc] : [] };
  };

  /** After the code and a signed-in user: the consent page when consent is missing, else the confirmation page. */
  const askDecision = async (request: FastifyRequest, reply: FastifyReply, pending: PendingRequest, signedIn: SignedIn) => {
    const decision = await decide(pending, signedIn);
    const otc = request.method === "POST" ? normaliseUserCode(kit.params(request).otc ?? "") : "";
    const hidden = fields(request, reply, "decide", otc);
    if (decision.missing.length === 0) return kit.html(reply, deviceConfirmPage({ action: ACTION, hidden, appName: pending.app.displayName, username: signedIn.user.userPrincipalName }));
    const declared = decision.target.resource.app.api.oauth2PermissionScopes;
    return kit.html(
      reply,
      consentPage({
        action: ACTION,
        hidden,
        appName: pending.app.displayName,
        publisher: pending.app.publisherDomain ?? "unverified",
        username: signedIn.user.userPrincipalName,
        resourceName: decision.target.resourceSp.displayName,
        permissions: declared.filter((s) => decision.needed.includes(s.value)),
        oidc: decision.oidc,
        canConsentForOrg: canConsentForOrg(signedIn.user),
      }),
    );
  };

  app.get(ACTION, async (request, reply) => codePage(request, reply));

  app.post<{ Params: { tenant: string } }>(ACTION, async (request, reply) => {
    const form = kit.params(request);
    if (!kit.csrfValid(request, form.csrf)) return kit.showError(request, reply, new AadError(90023, "invalid_request", "The sign-in form expired or was not posted by this site. Start the sign-in again from the application."));
    const pending = await findPending(form.otc);
    if (typeof pending === "string") return codePage(request, reply, pending);
    try {
      if (form.step === "login") {
        const result = await kit.signIn(request, reply, form);
        if ("error" in result) return kit.html(reply, signInPage({ action: ACTION, hidden: fields(request, reply, "login", form.otc), appName: pending.app.displayName, username: form.login ?? "", error: result.error }), 400);
        return await askDecision(request, reply, pending, result);
      }
      const signedIn = await kit.currentSession(request);
      if (!signedIn || (pending.code.tenantId !== null && signedIn.user.tenantId !== pending.code.tenantId)) {
        return kit.html(reply, signInPage({ action: ACTION, hidden: fields(request, reply, "login", form.otc), appName: pending.app.displayName, username: "" }));
      }
      if (form.step !== "decide") return await askDecision(request, reply, pending, signedIn);
      const accepted = form.decision === "accept";
      if (accepted) {
        const decision = await decide(pending, signedIn);
        if (decision.missing.length > 0) {
          const forOrg = form.admin_consent === "on" && canConsentForOrg(signedIn.user);
          await recordConsent(store, clock.now(), decision.tenant.id, decision.clientSp.id, decision.target.resourceSp.id, decision.needed, forOrg ? null : signedIn.user.id);
        }
      }
      const moved = await store.transitionDeviceCode(pending.code.id, "pending", accepted ? "approved" : "declined", { userId: signedIn.user.id, authTime: signedIn.authTime });
      if (!moved) return codePage(request, reply, INVALID_CODE);
      return kit.html(reply, deviceDonePage({ appName: pending.app.displayName, accepted }));
    } catch (error) {
      if (error instanceof AadError) return kit.showError(request, reply, error);
      throw error;
    }
  });
}
