import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Clock } from "../common/clock.ts";
import { newGuid } from "../common/ids.ts";
import { hashSecret } from "../common/secrets.ts";
import { BrowserKit, canConsentForOrg, checkClient, type Params, type SignedIn } from "./browser.ts";
import { provisionServicePrincipal } from "./consent.ts";
import { evaluateConsent, parseScope, resolveTarget, userAssignmentError, type ParsedScope } from "./delegated.ts";
import { AadError, aad } from "./errors.ts";
import type { GrantContext } from "./grants/grant.ts";
import type { Application, Tenant } from "./model.ts";
import { accountPickerPage, consentPage, signInPage } from "./pages/html.ts";
import { recordConsent } from "./service.ts";
import type { ClientKind, IdentityStore } from "./store.ts";
import { resolveTenant } from "./tenants.ts";

type TenantParams = { tenant: string };

/** What the authorize routes need. */
export interface AuthorizeDeps {
  store: IdentityStore;
  clock: Clock;
  grantContext: GrantContext;
  /** HMAC key for CSRF tokens (random per process). */
  csrfKey: Buffer;
}

/** A validated authorization request: errors from here on go back to `redirectUri`. */
interface ValidRequest {
  version: 1 | 2;
  segment: string;
  params: Params;
  app: Application;
  redirectUri: string;
  clientKind: ClientKind;
  responseMode: "query" | "fragment" | "form_post";
  state: string | undefined;
}

/** How the request got here: a fresh sign-in, a consent decision, an account choice. */
interface Progress {
  signedIn?: SignedIn;
  consent?: { accept: boolean; forOrg: boolean };
  accountChosen?: boolean;
  loginError?: string;
  forceLogin?: boolean;
}

/**
 * Registers the interactive endpoints: `GET|POST /{tenant}/oauth2/v2.0/authorize`,
 * v1 `/{tenant}/oauth2/authorize`, and the form posts of the sign-in, consent and
 * account-picker pages (`/{tenant}/login`, `/{tenant}/Consent/Set`, `/{tenant}/select_account`).
 * Sources: learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow,
 * azure-docs …/azuread-dev/v1-protocols-oauth-code, RFC 6749 §4.1, RFC 7636.
 */
export async function authorizeRoutes(app: FastifyInstance, deps: AuthorizeDeps): Promise<void> {
  const { store, clock } = deps;

  const kit = new BrowserKit(deps);
  const currentSession = (request: FastifyRequest) => kit.currentSession(request);
  const showError = (request: FastifyRequest, reply: FastifyReply, error: AadError) => kit.showError(request, reply, error);
  const redirectError = (request: FastifyRequest, reply: FastifyReply, req: ValidRequest, error: AadError) => kit.redirectError(request, reply, req, error);
  const formFields = (request: FastifyRequest, reply: FastifyReply, req: ValidRequest): Params => kit.formFields(request, reply, req.params, req.version);
  const html = (reply: FastifyReply, body: string) => kit.html(reply, body);

  // ---------- validation before anything can be redirected ----------
  const validate = async (version: 1 | 2, segment: string, params: Params): Promise<ValidRequest> => {
    const { client, redirectUri, clientKind } = await checkClient(store, segment, params);
    const mode = params.response_mode ?? "query";
    const responseMode = mode === "fragment" || mode === "form_post" ? mode : "query";
    return { version, segment, params, app: client, redirectUri, clientKind, responseMode, state: params.state };
  };

  /** Everything after validation: PKCE and scope checks, sign-in, consent, code. */
  const proceed = async (request: FastifyRequest, reply: FastifyReply, req: ValidRequest, progress: Progress) => {
    const { params } = req;
    const mode = params.response_mode;
    if (mode !== undefined && mode !== "query" && mode !== "fragment" && mode !== "form_post") throw aad.unsupportedResponseMode(mode);
    if (params.response_type !== "code") throw aad.unsupportedResponseType(params.response_type ?? "");
    let parsed: ParsedScope | undefined;
    if (req.version === 2) {
      if (!params.scope) throw aad.missingParameter("scope");
      if (params.resource !== undefined) throw aad.resourceParameterNotSupported();
      parsed = parseScope(params.scope);
    }
    const challenge = params.code_challenge;
    let method: "S256" | "plain" | null = null;
    if (challenge !== undefined) {
      const given = params.code_challenge_method ?? "plain";
      if (given === "S256" || (given === "plain" && req.version === 1)) method = given;
      else throw aad.invalidCodeChallengeMethod();
      if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(challenge)) throw aad.invalidCodeChallengeSize();
    } else if (req.clientKind !== "web") {
      throw aad.pkceRequired();
    }

    // Who is signing in?
    const prompt = params.prompt ?? "";
    let signedIn = progress.signedIn;
    const fresh = signedIn !== undefined;
    if (!signedIn && !progress.forceLogin) signedIn = await currentSession(request);
    const routeTenant = await resolveTenant(store, req.segment);
    if (signedIn && routeTenant.kind === "tenant" && signedIn.user.tenantId !== routeTenant.tenant.id) signedIn = undefined;
    const hint = params.login_hint?.toLowerCase();
    if (!fresh && signedIn && hint && signedIn.user.userPrincipalName !== hint) signedIn = undefined;
    if (!fresh && prompt === "login") signedIn = undefined;
    if (!signedIn) {
      if (prompt === "none") throw aad.loginRequired();
      const fields = formFields(request, reply, req);
      return html(reply, signInPage({ action: `/${encodeURIComponent(req.segment)}/login`, hidden: fields, appName: req.app.displayName, username: params.login_hint ?? "", error: progress.loginError }));
    }
    if (!fresh && prompt === "select_account" && !progress.accountChosen) {
      return html(reply, accountPickerPage({ action: `/${encodeURIComponent(req.segment)}/select_account`, hidden: formFields(request, reply, req), username: signedIn.user.userPrincipalName, displayName: signedIn.user.displayName }));
    }
    const user = signedIn.user;
    const tenant = (await store.findTenant(user.tenantId)) as Tenant;
    // A multi-tenant app used in another tenant for the first time has no service principal
    // there yet: consent creates it. A single-tenant app from another tenant is unknown.
    const clientSp = await store.findServicePrincipal(tenant.id, req.app.appId);
    if (!clientSp && req.app.signInAudience !== "AzureADMultipleOrgs") throw aad.applicationNotFound(req.app.appId, tenant.defaultDomain);
    // Assignment required (Enterprise applications → Properties): Entra shows AADSTS50105 on its own page.
    const notAssigned = clientSp ? await userAssignmentError(store, clientSp, req.app, user) : undefined;
    if (notAssigned) return showError(request, reply, notAssigned);

    // Consent
    const resourceId = req.version === 2 ? parsed?.resource : params.resource;
    const target = resourceId ? await resolveTarget(deps.grantContext, tenant, req.app, resourceId, req.version === 2 && parsed ? parsed.permissions : "default") : undefined;
    const state = target ? await evaluateConsent(store, tenant.id, clientSp, req.app, target, user.id) : undefined;
    // prompt=admin_consent asks an administrator to consent for the whole organization.
    const adminPrompt = prompt === "admin_consent";
    const needsConsent = !clientSp || (state !== undefined && state.missing.length > 0) || ((prompt === "consent" || adminPrompt) && !progress.consent);
    if (progress.consent && !progress.consent.accept) throw aad.consentDeclined();
    if (needsConsent && !progress.consent) {
      if (prompt === "none") throw aad.interactionRequired(req.app.appId, req.app.displayName);
      if (adminPrompt && !canConsentForOrg(user)) return showError(request, reply, aad.adminConsentRequired());
      const declared = target?.resource.app.api.oauth2PermissionScopes ?? [];
      return html(
        reply,
        consentPage({
          action: `/${encodeURIComponent(req.segment)}/Consent/Set`,
          hidden: formFields(request, reply, req),
          appName: req.app.displayName,
          publisher: req.app.publisherDomain ?? "unverified",
          username: user.userPrincipalName,
          resourceName: target?.resourceSp.displayName ?? "",
          permissions: declared.filter((s) => state?.needed.includes(s.value)),
          oidc: parsed ? [...parsed.oidc] : [],
          canConsentForOrg: canConsentForOrg(user),
        }),
      );
    }
    if (progress.consent?.accept) {
      const sp = clientSp ?? (await provisionServicePrincipal(store, clock, tenant.id, req.app));
      if (target && state && state.needed.length > 0) {
        const forOrg = (progress.consent.forOrg || adminPrompt) && canConsentForOrg(user);
        await recordConsent(store, clock.now(), tenant.id, sp.id, target.resourceSp.id, state.needed, forOrg ? null : user.id);
      }
    }

    // Issue the code
    const code = `1.A${randomBytes(64).toString("base64url")}`;
    const now = clock.now();
    await store.createAuthorizationCode({
      id: newGuid(),
      codeHash: hashSecret(code),
      tenantId: tenant.id,
      clientId: req.app.appId,
      userId: user.id,
      redirectUri: req.redirectUri,
      clientKind: req.clientKind,
      version: req.version,
      scope: params.scope ?? null,
      resource: params.resource ?? null,
      nonce: params.nonce ?? null,
      codeChallenge: challenge ?? null,
      codeChallengeMethod: method,
      authTime: signedIn.authTime,
      issuedAt: now,
      expiresAt: now + deps.grantContext.authorizationCodeLifetimeSeconds * 1000,
      redeemedAt: null,
    });
    return kit.deliver(reply, req, { code, session_state: signedIn.sessionId });
  };

  /** Validates, then runs {@link proceed}; errors before validation render a page, after it they redirect. */
  const run = async (request: FastifyRequest<{ Params: TenantParams }>, reply: FastifyReply, version: 1 | 2, params: Params, progress: Progress) => {
    let req: ValidRequest;
    try {
      req = await validate(version, request.params.tenant, params);
    } catch (error) {
      if (error instanceof AadError) return showError(request, reply, error);
      throw error;
    }
    try {
      return await proceed(request, reply, req, progress);
    } catch (error) {
      if (error instanceof AadError) return redirectError(request, reply, req, error);
      throw error;
    }
  };

  const authorize = (version: 1 | 2) => async (request: FastifyRequest<{ Params: TenantParams }>, reply: FastifyReply) => run(request, reply, version, kit.params(request), {});
  app.get("/:tenant/oauth2/v2.0/authorize", authorize(2));
  app.post("/:tenant/oauth2/v2.0/authorize", authorize(2));
  app.get("/:tenant/oauth2/authorize", authorize(1));
  app.post("/:tenant/oauth2/authorize", authorize(1));

  const readPost = (request: FastifyRequest, reply: FastifyReply) => kit.readPost(request, reply);

  app.post<{ Params: TenantParams }>("/:tenant/login", async (request, reply) => {
    const post = readPost(request, reply);
    if (!post) return reply;
    const { form, params, version } = post;
    params.login_hint = (form.login ?? "").trim();
    // The sign-in just happened: don't ask again on the pages that follow.
    if (params.prompt === "login" || params.prompt === "select_account") delete params.prompt;
    const signedIn = await kit.signIn(request, reply, form);
    if ("error" in signedIn) return run(request, reply, version, params, { loginError: signedIn.error, forceLogin: true });
    return run(request, reply, version, params, { signedIn });
  });

  app.post<{ Params: TenantParams }>("/:tenant/Consent/Set", async (request, reply) => {
    const post = readPost(request, reply);
    if (!post) return reply;
    return run(request, reply, post.version, post.params, { consent: { accept: post.form.decision === "accept", forOrg: post.form.admin_consent === "on" } });
  });

  app.post<{ Params: TenantParams }>("/:tenant/select_account", async (request, reply) => {
    const post = readPost(request, reply);
    if (!post) return reply;
    if (post.form.choice === "current") {
      delete post.params.prompt;
      return run(request, reply, post.version, post.params, { accountChosen: true });
    }
    delete post.params.login_hint;
    return run(request, reply, post.version, post.params, { forceLogin: true });
  });
}
