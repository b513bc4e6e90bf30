import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Clock } from "../common/clock.ts";
import { newGuid } from "../common/ids.ts";
import { hashSecret, verifyPassword } from "../common/secrets.ts";
import { evaluateConsent, parseScope, resolveTarget, type ParsedScope } from "./delegated.ts";
import { AadError, aad, aadTimestamp } from "./errors.ts";
import type { GrantContext } from "./grants/grant.ts";
import type { Application, Tenant, User } from "./model.ts";
import { accountPickerPage, consentPage, errorPage, formPostPage, pageHeaders, signInPage } from "./pages/html.ts";
import { recordConsent } from "./service.ts";
import type { ClientKind, IdentityStore } from "./store.ts";
import { resolveTenant } from "./tenants.ts";
import { GLOBAL_ADMINISTRATOR_ROLE } from "./well-known.ts";

/** Browser sign-in session lifetime, ms. */
const SESSION_LIFETIME_MS = 24 * 3600_000;
const SESSION_COOKIE = "orgbox_session";
const CSRF_COOKIE = "orgbox_csrf";
/** Directory roles allowed to grant tenant-wide (admin) consent. */
const CONSENT_ADMIN_ROLES = new Set([GLOBAL_ADMINISTRATOR_ROLE, "e8611ab8-c189-46e8-94e1-60213ab1f814" /* Privileged Role Administrator */, "158c047a-c907-4556-b7ef-446551a6b5f7" /* Cloud Application Administrator */, "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3" /* Application Administrator */]);

type Params = Record<string, string>;
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
  signedIn?: { user: User; sessionId: string; authTime: number };
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
  const secureCookies = () => deps.grantContext.urls.base.startsWith("https:");

  const readParams = (request: FastifyRequest): Params => {
    const source = request.method === "POST" ? request.body : request.query;
    const out: Params = {};
    if (typeof source === "object" && source !== null) {
      for (const [k, v] of Object.entries(source as Record<string, unknown>)) {
        if (typeof v === "string") out[k] = v;
        else if (Array.isArray(v) && typeof v[0] === "string") out[k] = v[0];
      }
    }
    return out;
  };

  // ---------- cookies & CSRF ----------
  const cookies = (request: FastifyRequest): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const part of (request.headers.cookie ?? "").split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0) out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
    }
    return out;
  };
  const cookie = (name: string, value: string, maxAgeSeconds?: number) =>
    `${name}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Lax${secureCookies() ? "; Secure" : ""}${maxAgeSeconds !== undefined ? `; Max-Age=${maxAgeSeconds}` : ""}`;
  const addCookie = (reply: FastifyReply, value: string) => {
    const existing = reply.getHeader("set-cookie");
    const list = Array.isArray(existing) ? existing.map(String) : existing ? [String(existing)] : [];
    reply.header("set-cookie", [...list, value]);
  };
  const csrfFor = (seed: string) => createHmac("sha256", deps.csrfKey).update(`csrf:${seed}`).digest("base64url");
  const csrfToken = (request: FastifyRequest, reply: FastifyReply): string => {
    let seed = cookies(request)[CSRF_COOKIE];
    if (!seed) {
      seed = randomBytes(24).toString("base64url");
      addCookie(reply, cookie(CSRF_COOKIE, seed));
    }
    return csrfFor(seed);
  };
  const csrfValid = (request: FastifyRequest, token: string | undefined): boolean => {
    const seed = cookies(request)[CSRF_COOKIE];
    if (!seed || !token) return false;
    const a = Buffer.from(csrfFor(seed));
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  // ---------- sessions ----------
  const currentSession = async (request: FastifyRequest): Promise<{ user: User; sessionId: string; authTime: number } | undefined> => {
    const value = cookies(request)[SESSION_COOKIE];
    if (!value) return undefined;
    const session = await store.findSignInSession(hashSecret(value));
    if (!session || session.revokedAt !== null || session.expiresAt <= clock.now()) return undefined;
    const user = await store.findUserById(session.userId);
    if (!user || !user.accountEnabled || user.passwordChangedAt > session.authTime) return undefined;
    return { user, sessionId: session.id, authTime: session.authTime };
  };

  // ---------- responses ----------
  const showError = (request: FastifyRequest, reply: FastifyReply, error: AadError) => {
    const stamp = aadTimestamp(clock.now());
    request.log.info({ aadsts: error.code }, "authorize error page");
    return reply.status(error.status).headers(pageHeaders()).send(errorPage({ message: error.message, code: error.code, traceId: newGuid(), correlationId: request.id, timestamp: stamp }));
  };
  const deliver = (reply: FastifyReply, req: ValidRequest, fields: Params) => {
    if (req.state !== undefined) fields.state = req.state;
    if (req.responseMode === "form_post") {
      const nonce = randomBytes(16).toString("base64url");
      return reply.status(200).headers(pageHeaders(nonce)).send(formPostPage({ action: req.redirectUri, fields, scriptNonce: nonce }));
    }
    let location: string;
    if (req.responseMode === "fragment") {
      location = `${req.redirectUri.split("#")[0]}#${new URLSearchParams(fields).toString()}`;
    } else {
      const url = new URL(req.redirectUri);
      for (const [k, v] of Object.entries(fields)) url.searchParams.set(k, v);
      location = url.toString();
    }
    return reply.status(302).headers({ "cache-control": "no-store, no-cache", location }).send();
  };
  const redirectError = (request: FastifyRequest, reply: FastifyReply, req: ValidRequest, error: AadError) => {
    const stamp = aadTimestamp(clock.now());
    request.log.info({ aadsts: error.code, error: error.error }, "authorize error redirect");
    const fields: Params = { error: error.error, error_description: `${error.message}\r\nTrace ID: ${newGuid()}\r\nCorrelation ID: ${request.id}\r\nTimestamp: ${stamp}`, error_uri: `${deps.grantContext.urls.base}/error?code=${error.code}` };
    if (error.suberror) fields.error_subcode = error.suberror;
    return deliver(reply, req, fields);
  };
  const formFields = (request: FastifyRequest, reply: FastifyReply, req: ValidRequest): Params => ({
    ctx: Buffer.from(JSON.stringify(req.params), "utf8").toString("base64url"),
    v: String(req.version),
    csrf: csrfToken(request, reply),
  });
  const html = (reply: FastifyReply, body: string) => reply.status(200).headers(pageHeaders()).send(body);

  // ---------- validation before anything can be redirected ----------
  const validate = async (version: 1 | 2, segment: string, params: Params): Promise<ValidRequest> => {
    await resolveTenant(store, segment);
    if (!params.client_id) throw aad.missingParameter("client_id");
    const client = await store.findApplicationByAppId(params.client_id);
    if (!client) throw aad.applicationNotFound(params.client_id, segment);
    const redirectUri = params.redirect_uri;
    if (!redirectUri) throw aad.missingParameter("redirect_uri");
    const clientKind: ClientKind | undefined = client.web.redirectUris.includes(redirectUri)
      ? "web"
      : client.spa.redirectUris.includes(redirectUri)
        ? "spa"
        : client.publicClient.redirectUris.includes(redirectUri)
          ? "public"
          : undefined;
    if (!clientKind) throw aad.redirectUriNotRegistered(redirectUri, client.appId);
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
    const clientSp = await store.findServicePrincipal(tenant.id, req.app.appId);
    if (!clientSp) throw aad.applicationNotFound(req.app.appId, tenant.defaultDomain);

    // Consent
    const resourceId = req.version === 2 ? parsed?.resource : params.resource;
    if (resourceId) {
      const target = await resolveTarget(deps.grantContext, tenant, req.app, resourceId, req.version === 2 && parsed ? parsed.permissions : "default");
      const state = await evaluateConsent(store, tenant.id, clientSp, req.app, target, user.id);
      const needsConsent = state.missing.length > 0 || (prompt === "consent" && !progress.consent);
      if (progress.consent && !progress.consent.accept) throw aad.consentDeclined();
      if (needsConsent && !progress.consent) {
        if (prompt === "none") throw aad.interactionRequired(req.app.appId, req.app.displayName);
        const declared = target.resource.app.api.oauth2PermissionScopes;
        return html(
          reply,
          consentPage({
            action: `/${encodeURIComponent(req.segment)}/Consent/Set`,
            hidden: formFields(request, reply, req),
            appName: req.app.displayName,
            publisher: req.app.publisherDomain ?? "unverified",
            username: user.userPrincipalName,
            resourceName: target.resourceSp.displayName,
            permissions: declared.filter((s) => state.needed.includes(s.value)),
            oidc: parsed ? [...parsed.oidc] : [],
            canConsentForOrg: user.directoryRoles.some((r) => CONSENT_ADMIN_ROLES.has(r)),
          }),
        );
      }
      if (progress.consent?.accept && state.needed.length > 0) {
        const forOrg = progress.consent.forOrg && user.directoryRoles.some((r) => CONSENT_ADMIN_ROLES.has(r));
        await recordConsent(store, clock.now(), tenant.id, clientSp.id, target.resourceSp.id, state.needed, forOrg ? null : user.id);
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
    return deliver(reply, req, { code, session_state: signedIn.sessionId });
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

  const authorize = (version: 1 | 2) => async (request: FastifyRequest<{ Params: TenantParams }>, reply: FastifyReply) => run(request, reply, version, readParams(request), {});
  app.get("/:tenant/oauth2/v2.0/authorize", authorize(2));
  app.post("/:tenant/oauth2/v2.0/authorize", authorize(2));
  app.get("/:tenant/oauth2/authorize", authorize(1));
  app.post("/:tenant/oauth2/authorize", authorize(1));

  /** Reads a page post: CSRF check and the original authorize parameters. */
  const readPost = (request: FastifyRequest, reply: FastifyReply): { version: 1 | 2; params: Params; form: Params } | undefined => {
    const form = readParams(request);
    if (!csrfValid(request, form.csrf)) {
      showError(request, reply, new AadError(90023, "invalid_request", "The sign-in form expired or was not posted by this site. Start the sign-in again from the application."));
      return undefined;
    }
    let params: Params;
    try {
      params = JSON.parse(Buffer.from(form.ctx ?? "", "base64url").toString("utf8")) as Params;
    } catch {
      params = {};
    }
    return { version: form.v === "1" ? 1 : 2, params, form };
  };

  app.post<{ Params: TenantParams }>("/:tenant/login", async (request, reply) => {
    const post = readPost(request, reply);
    if (!post) return reply;
    const { form, params, version } = post;
    const username = (form.login ?? "").trim();
    params.login_hint = username;
    // The sign-in just happened: don't ask again on the pages that follow.
    if (params.prompt === "login" || params.prompt === "select_account") delete params.prompt;
    const failed = (message: string) => run(request, reply, version, params, { loginError: message, forceLogin: true });
    const user = username ? await store.findUserByUpn(username) : undefined;
    const route = await resolveTenant(store, request.params.tenant).catch(() => undefined);
    if (!user || (route?.kind === "tenant" && route.tenant.id !== user.tenantId)) return failed("This username may be incorrect. Make sure you typed it correctly. Otherwise, contact your admin.");
    if (!(await verifyPassword(form.passwd ?? "", user.passwordHash))) return failed("Your account or password is incorrect. If you don't remember your password, reset it now.");
    if (!user.accountEnabled) return failed("Your account has been locked. Contact your support person to unlock it, then try again.");
    const value = randomBytes(32).toString("base64url");
    const now = clock.now();
    const sessionId = newGuid();
    await store.createSignInSession({ id: sessionId, tokenHash: hashSecret(value), tenantId: user.tenantId, userId: user.id, authTime: now, expiresAt: now + SESSION_LIFETIME_MS, revokedAt: null });
    addCookie(reply, cookie(SESSION_COOKIE, value));
    const { passwordHash: _hash, ...plain } = user;
    return run(request, reply, version, params, { signedIn: { user: plain, sessionId, authTime: now } });
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
