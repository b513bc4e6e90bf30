import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Clock } from "../common/clock.ts";
import { newGuid } from "../common/ids.ts";
import { hashSecret } from "../common/secrets.ts";
import { BrowserKit, canConsentForOrg, checkClient, type Params, type SignedIn } from "./browser.ts";
import { provisionServicePrincipal } from "./consent.ts";
import { evaluateConsent, parseScope, resolveTarget, userAssignmentError, type ConsentState, type DelegatedTarget, type ParsedScope } from "./delegated.ts";
import { AadError, aad } from "./errors.ts";
import type { GrantContext } from "./grants/grant.ts";
import type { Application, ServicePrincipal, Tenant } from "./model.ts";
import { interactionRequiredError, pendingInteraction } from "./interaction.ts";
import { accountPickerPage, consentPage, mfaPage, signInPage } from "./pages/html.ts";
import { recordConsent } from "./service.ts";
import type { ClientKind, IdentityStore } from "./store.ts";
import { filled, runSteps, type Step } from "./steps.ts";
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
  /** The simulated MFA step was just answered. */
  mfa?: { approve: boolean };
}

/**
 * One authorization request after validation, as {@link AUTHORIZE_STEPS} fill it in: the PKCE
 * challenge, the parsed scope, who signed in, their tenant, the client's service principal there,
 * the delegated target and its consent state.
 */
interface AuthorizeFlow {
  readonly deps: AuthorizeDeps;
  readonly kit: BrowserKit;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  readonly req: ValidRequest;
  readonly progress: Progress;
  /** `prompt` as sent, or "". */
  readonly prompt: string;
  /** Whether the user signed in on this very request (the sign-in page was just posted). */
  readonly fresh: boolean;
  /** v2 `scope`, parsed. */
  parsed?: ParsedScope;
  codeChallenge?: string;
  method: "S256" | "plain" | null;
  signedIn?: SignedIn;
  tenant?: Tenant;
  /** Undefined for a multi-tenant app not yet in the user's tenant (consent creates it). */
  clientSp?: ServicePrincipal;
  target?: DelegatedTarget;
  consent?: ConsentState;
}

type AuthorizeStep = Step<AuthorizeFlow, FastifyReply>;

/** The hidden fields a page posts back (the request's parameters and a CSRF token). */
const formFields = (f: AuthorizeFlow): Params => f.kit.formFields(f.request, f.reply, f.req.params, f.req.version);

/** `response_mode` must be query, fragment or form_post (AADSTS900005 otherwise); `response_type` must be `code` (AADSTS700054 for others). */
function checkResponseModeAndType({ req: { params } }: AuthorizeFlow): undefined {
  const mode = params.response_mode;
  if (mode !== undefined && mode !== "query" && mode !== "fragment" && mode !== "form_post") throw aad.unsupportedResponseMode(mode);
  if (params.response_type !== "code") throw aad.unsupportedResponseType(params.response_type ?? "");
  return undefined;
}

/** v2 needs `scope` and refuses `resource` (AADSTS900144, 901002); the scope names one resource (28000, 70011). */
function checkScope(f: AuthorizeFlow): undefined {
  const { params } = f.req;
  if (f.req.version === 2) {
    if (!params.scope) throw aad.missingParameter("scope");
    if (params.resource !== undefined) throw aad.resourceParameterNotSupported();
    f.parsed = parseScope(params.scope);
  }
  return undefined;
}

/**
 * PKCE (RFC 7636 §4.3): S256, or plain on v1 only (AADSTS50149 otherwise); the challenge is 43–128
 * unreserved characters (AADSTS501491 otherwise); SPA and public-client redirect URIs require one (AADSTS9002325).
 */
function checkPkce(f: AuthorizeFlow): undefined {
  const { params } = f.req;
  const challenge = params.code_challenge;
  if (challenge !== undefined) {
    const given = params.code_challenge_method ?? "plain";
    if (given === "S256" || (given === "plain" && f.req.version === 1)) f.method = given;
    else throw aad.invalidCodeChallengeMethod();
    if (!/^[A-Za-z0-9\-._~]{43,128}$/.test(challenge)) throw aad.invalidCodeChallengeSize();
    f.codeChallenge = challenge;
  } else if (f.req.clientKind !== "web") {
    throw aad.pkceRequired();
  }
  return undefined;
}

/**
 * Who is signing in: the user who just signed in, else the session cookie's user, unless the
 * session is another tenant's, another user than `login_hint`, or `prompt=login`. Nobody: the
 * sign-in page (`prompt=none`: AADSTS50058). `prompt=select_account`: the account picker first.
 */
async function signIn(f: AuthorizeFlow): Promise<FastifyReply | undefined> {
  const { req, progress, prompt, fresh } = f;
  const { params } = req;
  let signedIn = progress.signedIn;
  if (!signedIn && !progress.forceLogin) signedIn = await f.kit.currentSession(f.request);
  const routeTenant = await resolveTenant(f.deps.store, req.segment);
  if (signedIn && routeTenant.kind === "tenant" && signedIn.user.tenantId !== routeTenant.tenant.id) signedIn = undefined;
  const hint = params.login_hint?.toLowerCase();
  if (!fresh && signedIn && hint && signedIn.user.userPrincipalName !== hint) signedIn = undefined;
  if (!fresh && prompt === "login") signedIn = undefined;
  if (!signedIn) {
    if (prompt === "none") throw aad.loginRequired();
    const fields = formFields(f);
    return f.kit.html(f.reply, signInPage({ action: `/${encodeURIComponent(req.segment)}/login`, hidden: fields, appName: req.app.displayName, username: params.login_hint ?? "", error: progress.loginError }));
  }
  if (!fresh && prompt === "select_account" && !progress.accountChosen) {
    return f.kit.html(f.reply, accountPickerPage({ action: `/${encodeURIComponent(req.segment)}/select_account`, hidden: formFields(f), username: signedIn.user.userPrincipalName, displayName: signedIn.user.displayName }));
  }
  f.signedIn = signedIn;
  return undefined;
}

/**
 * The client's service principal in the user's tenant. A multi-tenant app used in another tenant for
 * the first time has none yet: consent creates it. A single-tenant app from another tenant is unknown (AADSTS700016).
 */
async function findServicePrincipal(f: AuthorizeFlow): Promise<undefined> {
  const { store } = f.deps;
  const { user } = filled(f.signedIn, "signedIn");
  const tenant = (await store.findTenant(user.tenantId)) as Tenant;
  f.tenant = tenant;
  f.clientSp = await store.findServicePrincipal(tenant.id, f.req.app.appId);
  if (!f.clientSp && f.req.app.signInAudience !== "AzureADMultipleOrgs") throw aad.applicationNotFound(f.req.app.appId, tenant.defaultDomain);
  if (f.clientSp && !f.clientSp.accountEnabled) throw aad.applicationDisabled(f.req.app.appId, f.clientSp.displayName);
  return undefined;
}

/** Assignment required (Enterprise applications → Properties): Entra shows AADSTS50105 on its own page. */
async function checkAssignment(f: AuthorizeFlow): Promise<FastifyReply | undefined> {
  const { user } = filled(f.signedIn, "signedIn");
  const notAssigned = f.clientSp ? await userAssignmentError(f.deps.store, f.clientSp, f.req.app, user) : undefined;
  return notAssigned ? f.kit.showError(f.request, f.reply, notAssigned) : undefined;
}

/**
 * An interaction requirement (`interaction.ts`) set after this sign-in: the simulated MFA page, whose
 * approval starts a fresh session (`prompt=none`: the token endpoint's AADSTS50076 / 50079 error; a
 * cancelled step: AADSTS50074 `access_denied`).
 */
async function requiredInteraction(f: AuthorizeFlow): Promise<FastifyReply | undefined> {
  const signedIn = filled(f.signedIn, "signedIn");
  if (f.progress.mfa && !f.progress.mfa.approve) throw aad.strongAuthDeclined();
  // Only the MFA step satisfies a requirement in the browser: a password sign-in after it does not.
  const pending = await pendingInteraction(f.deps.store, { userId: signedIn.user.id, servicePrincipalId: f.clientSp?.id }, signedIn.mfaAt ?? Number.NEGATIVE_INFINITY);
  if (!pending) return undefined;
  if (f.prompt === "none") throw interactionRequiredError(pending, f.req.app.appId);
  return f.kit.html(f.reply, mfaPage({ action: `/${encodeURIComponent(f.req.segment)}/mfa`, hidden: formFields(f), username: signedIn.user.userPrincipalName, kind: pending.kind }));
}

/**
 * Consent: what the request needs against what is granted. Missing consent (or `prompt=consent` /
 * `prompt=admin_consent`) shows the consent page (`prompt=none`: AADSTS65001 `interaction_required`;
 * admin consent by a non-admin: AADSTS90094 page); a declined consent is AADSTS65004; an accepted one
 * provisions the service principal and records the grant (for the organization when an admin asked so).
 */
async function consent(f: AuthorizeFlow): Promise<FastifyReply | undefined> {
  const { req, progress, prompt, parsed, clientSp } = f;
  const { store, clock, grantContext } = f.deps;
  const { user } = filled(f.signedIn, "signedIn");
  const tenant = filled(f.tenant, "tenant");
  const resourceId = req.version === 2 ? parsed?.resource : req.params.resource;
  const target = resourceId ? await resolveTarget(grantContext, tenant, req.app, resourceId, req.version === 2 && parsed ? parsed.permissions : "default") : undefined;
  const state = target ? await evaluateConsent(store, tenant.id, clientSp, req.app, target, user.id) : undefined;
  f.target = target;
  f.consent = state;
  // prompt=admin_consent asks an administrator to consent for the whole organization.
  const adminPrompt = prompt === "admin_consent";
  const needsConsent = !clientSp || (state !== undefined && state.missing.length > 0) || ((prompt === "consent" || adminPrompt) && !progress.consent);
  if (progress.consent && !progress.consent.accept) throw aad.consentDeclined();
  if (needsConsent && !progress.consent) {
    if (prompt === "none") throw aad.interactionRequired(req.app.appId, req.app.displayName);
    if (adminPrompt && !canConsentForOrg(user)) return f.kit.showError(f.request, f.reply, aad.adminConsentRequired());
    const declared = target?.resource.app.api.oauth2PermissionScopes ?? [];
    return f.kit.html(
      f.reply,
      consentPage({
        action: `/${encodeURIComponent(req.segment)}/Consent/Set`,
        hidden: formFields(f),
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
  return undefined;
}

/** Issues the authorization code (stored as a hash; single use; `authorizationCodeLifetimeSeconds`) and delivers it by the response mode. */
async function issueCode(f: AuthorizeFlow): Promise<FastifyReply> {
  const { req } = f;
  const { params } = req;
  const { store, clock, grantContext } = f.deps;
  const signedIn = filled(f.signedIn, "signedIn");
  const tenant = filled(f.tenant, "tenant");
  const code = `1.A${randomBytes(64).toString("base64url")}`;
  const now = clock.now();
  await store.createAuthorizationCode({
    id: newGuid(),
    codeHash: hashSecret(code),
    tenantId: tenant.id,
    clientId: req.app.appId,
    userId: signedIn.user.id,
    redirectUri: req.redirectUri,
    clientKind: req.clientKind,
    version: req.version,
    scope: params.scope ?? null,
    resource: params.resource ?? null,
    nonce: params.nonce ?? null,
    codeChallenge: f.codeChallenge ?? null,
    codeChallengeMethod: f.method,
    authTime: signedIn.authTime,
    issuedAt: now,
    expiresAt: now + grantContext.authorizationCodeLifetimeSeconds * 1000,
    redeemedAt: null,
  });
  return f.kit.deliver(f.reply, req, { code, session_state: signedIn.sessionId });
}

/** `/authorize` after validation, in order; a step that answers (a page, an error page, the code) ends it. Errors redirect to the client. */
const AUTHORIZE_STEPS: readonly AuthorizeStep[] = [checkResponseModeAndType, checkScope, checkPkce, signIn, findServicePrincipal, checkAssignment, requiredInteraction, consent, issueCode];

/**
 * Registers the interactive endpoints: `GET|POST /{tenant}/oauth2/v2.0/authorize`,
 * v1 `/{tenant}/oauth2/authorize`, and the form posts of the sign-in, consent and
 * account-picker pages (`/{tenant}/login`, `/{tenant}/Consent/Set`, `/{tenant}/select_account`).
 * Sources: learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow,
 * azure-docs …/azuread-dev/v1-protocols-oauth-code, RFC 6749 §4.1, RFC 7636.
 */
export async function authorizeRoutes(app: FastifyInstance, deps: AuthorizeDeps): Promise<void> {
  const { store } = deps;

  const kit = new BrowserKit(deps);
  const showError = (request: FastifyRequest, reply: FastifyReply, error: AadError) => kit.showError(request, reply, error);
  const redirectError = (request: FastifyRequest, reply: FastifyReply, req: ValidRequest, error: AadError) => kit.redirectError(request, reply, req, error);

  // ---------- validation before anything can be redirected ----------
  const validate = async (version: 1 | 2, segment: string, params: Params): Promise<ValidRequest> => {
    const { client, redirectUri, clientKind } = await checkClient(store, segment, params);
    const mode = params.response_mode ?? "query";
    const responseMode = mode === "fragment" || mode === "form_post" ? mode : "query";
    return { version, segment, params, app: client, redirectUri, clientKind, responseMode, state: params.state };
  };

  /** Validates, then runs {@link AUTHORIZE_STEPS}; errors before validation render a page, after it they redirect. */
  const run = async (request: FastifyRequest<{ Params: TenantParams }>, reply: FastifyReply, version: 1 | 2, params: Params, progress: Progress) => {
    let req: ValidRequest;
    try {
      req = await validate(version, request.params.tenant, params);
    } catch (error) {
      if (error instanceof AadError) return showError(request, reply, error);
      throw error;
    }
    try {
      const flow: AuthorizeFlow = { deps, kit, request, reply, req, progress, prompt: req.params.prompt ?? "", method: null, fresh: progress.signedIn !== undefined };
      return filled(await runSteps(flow, AUTHORIZE_STEPS), "answer");
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

  app.post<{ Params: TenantParams }>("/:tenant/mfa", async (request, reply) => {
    const post = readPost(request, reply);
    if (!post) return reply;
    const current = await kit.currentSession(request);
    // No session (expired, signed out): back to the sign-in page.
    if (!current) return run(request, reply, post.version, post.params, { forceLogin: true });
    if (post.form.decision !== "approve") return run(request, reply, post.version, post.params, { signedIn: current, mfa: { approve: false } });
    return run(request, reply, post.version, post.params, { signedIn: await kit.reauthenticate(reply, current), mfa: { approve: true } });
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
