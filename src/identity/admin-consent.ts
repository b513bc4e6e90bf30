import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { BrowserKit, canConsentForOrg, checkClient, type BrowserDeps, type Params, type ReplyTarget, type SignedIn } from "./browser.ts";
import { applyAdminConsent, planAdminConsent } from "./consent.ts";
import { AadError, aad } from "./errors.ts";
import type { Application, Tenant } from "./model.ts";
import { consentPage, signInPage } from "./pages/html.ts";
import type { TenantRef } from "./tenants.ts";

type TenantParams = { tenant: string };

/** A validated admin-consent request: errors from here on go back to `redirect_uri`. */
interface AdminConsentRequest {
  version: 1 | 2;
  segment: string;
  route: TenantRef;
  params: Params;
  app: Application;
  target: ReplyTarget;
}

/** How the request got here: a fresh sign-in, a failed one, or the admin's decision. */
interface Progress {
  signedIn?: SignedIn;
  loginError?: string;
  accept?: boolean;
}

/**
 * Registers the admin consent endpoints `GET /{tenant}/adminconsent` (v1) and
 * `GET /{tenant}/v2.0/adminconsent` (v2, with `scope`, usually `{resource}/.default`),
 * plus the posts of their sign-in and consent pages (same paths, POST).
 *
 * Query: `client_id`, `redirect_uri` (registered on the app), `state`, v2 `scope`.
 * An administrator of the tenant (Global Administrator, Privileged Role
 * Administrator, Cloud Application Administrator, Application Administrator) signs
 * in and accepts; orgbox then creates the app's service principal in that tenant,
 * an `AllPrincipals` oauth2PermissionGrant per resource for the delegated
 * permissions and an appRoleAssignment per application permission, and
 * redirects to `redirect_uri?admin_consent=True&tenant={tenant GUID}&scope=…&state=…`.
 *
 * Errors: before the redirect URI is known good (unknown tenant 90002, no
 * `client_id` 900144, unknown app 700016, single-tenant app on another tenant
 * 700016 or on `common`/`organizations` 50194, unregistered redirect URI 50011)
 * and for a non-administrator (90094) orgbox shows its error page; after it,
 * errors redirect with `error` and `error_description` (declined: `access_denied`,
 * AADSTS65004; unprovisioned resource: 650052).
 * Sources: learn.microsoft.com/entra/identity-platform/v2-admin-consent,
 * …/azuread-dev/v1-permissions-consent (admin consent endpoint), …/reference-error-codes.
 */
export async function adminConsentRoutes(app: FastifyInstance, deps: BrowserDeps): Promise<void> {
  const { store } = deps;
  const kit = new BrowserKit(deps);
  const path = (req: AdminConsentRequest) => `/${encodeURIComponent(req.segment)}${req.version === 2 ? "/v2.0" : ""}/adminconsent`;

  const validate = async (version: 1 | 2, segment: string, params: Params): Promise<AdminConsentRequest> => {
    const { route, client, redirectUri } = await checkClient(store, segment, params);
    return { version, segment, route, params, app: client, target: { redirectUri, responseMode: "query", state: params.state } };
  };

  const proceed = async (request: FastifyRequest, reply: FastifyReply, req: AdminConsentRequest, progress: Progress) => {
    const { params } = req;
    if (req.version === 2 && !params.scope) throw aad.missingParameter("scope");
    let signedIn = progress.signedIn ?? (progress.loginError ? undefined : await kit.currentSession(request));
    if (signedIn && req.route.kind === "tenant" && signedIn.user.tenantId !== req.route.tenant.id) signedIn = undefined;
    if (!signedIn) {
      const hiddenFields = { ...kit.formFields(request, reply, params, req.version), step: "login" };
      return kit.html(reply, signInPage({ action: path(req), hidden: hiddenFields, appName: req.app.displayName, username: params.login_hint ?? "", error: progress.loginError }));
    }
    const user = signedIn.user;
    if (!canConsentForOrg(user)) return kit.showError(request, reply, aad.adminConsentRequired());
    const tenant = (await store.findTenant(user.tenantId)) as Tenant;
    const plan = await planAdminConsent(deps.grantContext, tenant, req.app, req.version === 2 ? params.scope : undefined);
    if (progress.accept === false) throw aad.consentDeclined();
    if (progress.accept === undefined) {
      const permissions = plan.flatMap((part) => [
        ...part.scopes.map((s) => ({ ...s, resource: part.resourceSp.displayName })),
        ...part.roles.map((r) => ({ value: r.value, adminConsentDisplayName: r.displayName, adminConsentDescription: r.description, resource: part.resourceSp.displayName })),
      ]);
      return kit.html(
        reply,
        consentPage({
          action: path(req),
          hidden: { ...kit.formFields(request, reply, params, req.version), step: "consent" },
          appName: req.app.displayName,
          publisher: req.app.publisherDomain ?? "unverified",
          username: user.userPrincipalName,
          resourceName: "",
          permissions,
          oidc: [],
          canConsentForOrg: false,
          organization: tenant.displayName,
        }),
      );
    }
    await applyAdminConsent(store, deps.clock, tenant.id, req.app, plan);
    request.log.info({ clientId: req.app.appId, tenantId: tenant.id }, "admin consent granted");
    const fields: Params = { admin_consent: "True", tenant: tenant.id };
    if (req.version === 2 && params.scope) fields.scope = params.scope;
    return kit.deliver(reply, req.target, fields);
  };

  /** Validates (errors → page), then proceeds (errors → redirect). */
  const run = async (request: FastifyRequest<{ Params: TenantParams }>, reply: FastifyReply, version: 1 | 2, params: Params, progress: Progress) => {
    let req: AdminConsentRequest;
    try {
      req = await validate(version, request.params.tenant, params);
    } catch (error) {
      if (error instanceof AadError) return kit.showError(request, reply, error);
      throw error;
    }
    try {
      return await proceed(request, reply, req, progress);
    } catch (error) {
      if (error instanceof AadError) return kit.redirectError(request, reply, req.target, error);
      throw error;
    }
  };

  const start = (version: 1 | 2) => async (request: FastifyRequest<{ Params: TenantParams }>, reply: FastifyReply) => run(request, reply, version, kit.params(request), {});
  const post = async (request: FastifyRequest<{ Params: TenantParams }>, reply: FastifyReply) => {
    const posted = kit.readPost(request, reply);
    if (!posted) return reply;
    const { form, params, version } = posted;
    if (form.step === "consent") return run(request, reply, version, params, { accept: form.decision === "accept" });
    params.login_hint = (form.login ?? "").trim();
    const signedIn = await kit.signIn(request, reply, form);
    return run(request, reply, version, params, "error" in signedIn ? { loginError: signedIn.error } : { signedIn });
  };
  app.get("/:tenant/adminconsent", start(1));
  app.get("/:tenant/v2.0/adminconsent", start(2));
  app.post("/:tenant/adminconsent", post);
  app.post("/:tenant/v2.0/adminconsent", post);
}
