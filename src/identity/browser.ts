import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Clock } from "../common/clock.ts";
import { newGuid } from "../common/ids.ts";
import { hashSecret } from "../common/secrets.ts";
import { checkPassword, lockedPageMessage } from "./lockout.ts";
import { AadError, aadTimestamp } from "./errors.ts";
import type { GrantContext } from "./grants/grant.ts";
import { aad } from "./errors.ts";
import type { Application, User } from "./model.ts";
import { errorPage, formPostPage, pageHeaders } from "./pages/html.ts";
import type { ClientKind, IdentityStore } from "./store.ts";
import { matchesAnyRedirectUri } from "./redirect-uris.ts";
import { resolveTenant, type TenantRef } from "./tenants.ts";
import { GLOBAL_ADMINISTRATOR_ROLE } from "./well-known.ts";

/** Browser sign-in session lifetime, ms. */
const SESSION_LIFETIME_MS = 24 * 3600_000;
/** The orgbox sign-in session cookie (Entra's ESTSAUTH equivalent). */
const SESSION_COOKIE = "orgbox_session";
const CSRF_COOKIE = "orgbox_csrf";
/** What orgbox writes into its cookies: random base64url (24 or 32 bytes). Anything else is ignored. */
const OWN_COOKIE_VALUE = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * The `ctx` hidden field of the sign-in, consent and account-picker forms: the original request
 * parameters as {@link BrowserKit.formFields} wrote them, a flat object of strings. Posted back by
 * the browser, so checked: anything else (null, a string, a number, nested values) is refused.
 */
const PAGE_CONTEXT = z.record(z.string(), z.string());

/** Directory roles allowed to grant tenant-wide (admin) consent (template ids, the `wids` values). */
const CONSENT_ADMIN_ROLES: ReadonlySet<string> = new Set([
  GLOBAL_ADMINISTRATOR_ROLE,
  "e8611ab8-c189-46e8-94e1-60213ab1f814" /* Privileged Role Administrator */,
  "158c047a-c907-4556-b7ef-446551a6b5f7" /* Cloud Application Administrator */,
  "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3" /* Application Administrator */,
]);

/** True when `user` holds a directory role that may consent for the whole tenant. */
export function canConsentForOrg(user: Pick<User, "directoryRoles">): boolean {
  return user.directoryRoles.some((r) => CONSENT_ADMIN_ROLES.has(r));
}

/** A browser request's client and redirect URI, checked before anything may be redirected. */
export interface CheckedClient {
  route: TenantRef;
  client: Application;
  redirectUri: string;
  /** The platform the redirect URI is registered under. */
  clientKind: ClientKind;
}

/**
 * The checks every browser endpoint makes before it may redirect (failures
 * render orgbox's error page): the tenant segment (90002 / 900023), `client_id`
 * (900144) naming a known app (700016), single-tenant apps only on their own
 * tenant (700016) and never on `common`/`organizations` (50194), and
 * `redirect_uri` (900144) registered on the app (50011; the port of a localhost
 * redirect URI is not compared, see {@link matchesAnyRedirectUri}).
 * @throws AadError as listed.
 */
export async function checkClient(store: IdentityStore, segment: string, params: Params): Promise<CheckedClient> {
  const route = await resolveTenant(store, segment);
  if (!params.client_id) throw aad.missingParameter("client_id");
  const client = await store.findApplicationByAppId(params.client_id);
  if (!client) throw aad.applicationNotFound(params.client_id, segment);
  if (client.signInAudience === "AzureADMyOrg") {
    if (route.kind === "alias") throw aad.notMultiTenant(client.appId, client.displayName);
    if (route.tenant.id !== client.tenantId) throw aad.applicationNotFound(client.appId, segment);
  }
  const redirectUri = params.redirect_uri;
  if (!redirectUri) throw aad.missingParameter("redirect_uri");
  // Exact match first, then Entra's localhost rule (port ignored), see redirect-uris.ts.
  const platforms: [ClientKind, string[]][] = [["web", client.web.redirectUris], ["spa", client.spa.redirectUris], ["public", client.publicClient.redirectUris]];
  const clientKind = (platforms.find(([, uris]) => uris.includes(redirectUri)) ?? platforms.find(([, uris]) => matchesAnyRedirectUri(uris, redirectUri)))?.[0];
  if (!clientKind) throw aad.redirectUriNotRegistered(redirectUri, client.appId);
  return { route, client, redirectUri, clientKind };
}

/** Request parameters flattened to single strings (query for GET, form body for POST). */
export type Params = Record<string, string>;

/** A signed-in browser session. `authTime` in ms; `mfaAt`: when it passed the simulated MFA step (ms), null if never. */
export interface SignedIn {
  user: User;
  sessionId: string;
  authTime: number;
  mfaAt: number | null;
}

/** Where a protocol response goes back to. */
export interface ReplyTarget {
  redirectUri: string;
  responseMode: "query" | "fragment" | "form_post";
  state: string | undefined;
}

/** What the browser-facing endpoints share. */
export interface BrowserDeps {
  store: IdentityStore;
  clock: Clock;
  grantContext: GrantContext;
  /** HMAC key for CSRF tokens (random per process). */
  csrfKey: Buffer;
}

/**
 * Cookies, CSRF tokens, sign-in sessions, password sign-in and the response
 * helpers (error page, redirect / form_post delivery) of the interactive
 * endpoints: authorize, admin consent and logout.
 */
export class BrowserKit {
  private readonly deps: BrowserDeps;

  constructor(deps: BrowserDeps) {
    this.deps = deps;
  }

  /** Query (GET) or form body (POST) as single string values; repeated keys: first wins. */
  params(request: FastifyRequest): Params {
    const source = request.method === "POST" ? request.body : request.query;
    const out: Params = {};
    if (typeof source === "object" && source !== null) {
      for (const [k, v] of Object.entries(source as Record<string, unknown>)) {
        if (typeof v === "string") out[k] = v;
        else if (Array.isArray(v) && typeof v[0] === "string") out[k] = v[0];
      }
    }
    return out;
  }

  /**
   * One of orgbox's own cookies, parsed by `@fastify/cookie` (registered on the identity scope),
   * or undefined. Only orgbox's cookies are read: other apps on `localhost` share the cookie jar
   * (cookies ignore ports, RFC 6265 §8.5) and may set values that are not percent-encoded
   * (`other_app=100%`). orgbox only writes random base64url values, so any other value
   * (malformed, tampered, over-long) counts as absent: no session, no CSRF seed.
   */
  private ownCookie(request: FastifyRequest, name: string): string | undefined {
    const value = request.cookies[name];
    return value !== undefined && OWN_COOKIE_VALUE.test(value) ? value : undefined;
  }

  /** Sets (or with `maxAgeSeconds` 0 expires) one of orgbox's cookies: `Path=/; HttpOnly; SameSite=Lax`, `Secure` over HTTPS. */
  private setCookie(reply: FastifyReply, name: string, value: string, maxAgeSeconds?: number): void {
    const secure = this.deps.grantContext.urls.base.startsWith("https:");
    reply.setCookie(name, value, { path: "/", httpOnly: true, sameSite: "lax", secure, ...(maxAgeSeconds !== undefined ? { maxAge: maxAgeSeconds } : {}) });
  }

  private csrfFor(seed: string): string {
    return createHmac("sha256", this.deps.csrfKey).update(`csrf:${seed}`).digest("base64url");
  }

  /** A CSRF token bound to this browser's CSRF cookie (set now if missing). */
  csrfToken(request: FastifyRequest, reply: FastifyReply): string {
    let seed = this.ownCookie(request, CSRF_COOKIE);
    if (!seed) {
      seed = randomBytes(24).toString("base64url");
      this.setCookie(reply, CSRF_COOKIE, seed);
    }
    return this.csrfFor(seed);
  }

  /** Constant-time check of a posted CSRF token against the cookie. */
  csrfValid(request: FastifyRequest, token: string | undefined): boolean {
    const seed = this.ownCookie(request, CSRF_COOKIE);
    if (!seed || !token) return false;
    const a = Buffer.from(this.csrfFor(seed));
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Hidden fields every page form carries: the original parameters, the endpoint version, the CSRF token. */
  formFields(request: FastifyRequest, reply: FastifyReply, params: Params, version: 1 | 2): Params {
    return { ctx: Buffer.from(JSON.stringify(params), "utf8").toString("base64url"), v: String(version), csrf: this.csrfToken(request, reply) };
  }

  /**
   * Reads a page post: checks CSRF and decodes the original parameters (`ctx`:
   * base64url JSON of an object of strings, see {@link PAGE_CONTEXT}). On a CSRF failure
   * or a `ctx` that is not such an object, renders the error page (AADSTS90023, HTTP 400)
   * and returns undefined.
   */
  readPost(request: FastifyRequest, reply: FastifyReply): { version: 1 | 2; params: Params; form: Params } | undefined {
    const form = this.params(request);
    if (!this.csrfValid(request, form.csrf)) {
      this.showError(request, reply, new AadError(90023, "invalid_request", "The sign-in form expired or was not posted by this site. Start the sign-in again from the application."));
      return undefined;
    }
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(form.ctx ?? "", "base64url").toString("utf8"));
    } catch {
      decoded = undefined;
    }
    const context = PAGE_CONTEXT.safeParse(decoded);
    if (!context.success) {
      this.showError(request, reply, new AadError(90023, "invalid_request", "The sign-in form was altered: its request context is not valid. Start the sign-in again from the application."));
      return undefined;
    }
    return { version: form.v === "1" ? 1 : 2, params: context.data, form };
  }

  /** The session behind the cookie, if valid: not revoked or expired, user enabled, password unchanged since. */
  async currentSession(request: FastifyRequest): Promise<SignedIn | undefined> {
    const { store, clock } = this.deps;
    const value = this.ownCookie(request, SESSION_COOKIE);
    if (!value) return undefined;
    const session = await store.findSignInSession(hashSecret(value));
    if (!session || session.revokedAt !== null || session.expiresAt <= clock.now()) return undefined;
    const user = await store.findUserById(session.userId);
    if (!user || !user.accountEnabled || user.passwordChangedAt > session.authTime) return undefined;
    return { user, sessionId: session.id, authTime: session.authTime, mfaAt: session.mfaAt ?? null };
  }

  /**
   * Password sign-in from a sign-in page post (`login`, `passwd`): on success
   * starts a session (cookie holds a random value; the store only its hash).
   * On `/{tenant}` routes the user must belong to that tenant. Smart lockout applies (`lockout.ts`).
   * @returns the session, or the message to show on the sign-in page.
   */
  async signIn(request: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply, form: Params): Promise<SignedIn | { error: string }> {
    const { store, clock } = this.deps;
    const username = (form.login ?? "").trim();
    const user = username ? await store.findUserByUpn(username) : undefined;
    const route = await resolveTenant(store, request.params.tenant).catch(() => undefined);
    if (!user || (route?.kind === "tenant" && route.tenant.id !== user.tenantId)) return { error: "This username may be incorrect. Make sure you typed it correctly. Otherwise, contact your admin." };
    const check = await checkPassword({ store, clock, lockout: this.deps.grantContext.lockout }, user, form.passwd ?? "");
    if (!check.ok) return { error: check.error.code === 50053 ? lockedPageMessage(check.error) : "Your account or password is incorrect. If you don't remember your password, reset it now." };
    if (!user.accountEnabled) return { error: "Your account has been locked. Contact your support person to unlock it, then try again." };
    const value = randomBytes(32).toString("base64url");
    const now = clock.now();
    const sessionId = newGuid();
    await store.createSignInSession({ id: sessionId, tokenHash: hashSecret(value), tenantId: user.tenantId, userId: user.id, authTime: now, expiresAt: now + SESSION_LIFETIME_MS, revokedAt: null, mfaAt: null });
    this.setCookie(reply, SESSION_COOKIE, value);
    const { passwordHash: _hash, ...plain } = user;
    return { user: plain, sessionId, authTime: now, mfaAt: null };
  }

  /**
   * A fresh authentication of an already signed-in user (the simulated MFA step): a new session with
   * `authTime` and `mfaAt` now replaces the cookie's; the old one is revoked.
   */
  async reauthenticate(reply: FastifyReply, previous: SignedIn): Promise<SignedIn> {
    const { store, clock } = this.deps;
    const value = randomBytes(32).toString("base64url");
    const now = clock.now();
    const sessionId = newGuid();
    await store.createSignInSession({ id: sessionId, tokenHash: hashSecret(value), tenantId: previous.user.tenantId, userId: previous.user.id, authTime: now, expiresAt: now + SESSION_LIFETIME_MS, revokedAt: null, mfaAt: now });
    await store.revokeSignInSession(previous.sessionId, now);
    this.setCookie(reply, SESSION_COOKIE, value);
    return { user: previous.user, sessionId, authTime: now, mfaAt: now };
  }

  /** Signs the browser out: revokes the session behind the cookie (if any) and expires the cookie. */
  async signOut(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const value = this.ownCookie(request, SESSION_COOKIE);
    if (value) {
      const session = await this.deps.store.findSignInSession(hashSecret(value));
      if (session && session.revokedAt === null) await this.deps.store.revokeSignInSession(session.id, this.deps.clock.now());
    }
    this.setCookie(reply, SESSION_COOKIE, "", 0);
  }

  /** Renders an HTML page with the security headers. */
  html(reply: FastifyReply, body: string, status = 200): FastifyReply {
    return reply.status(status).headers(pageHeaders()).send(body);
  }

  /** Renders orgbox's error page for an error that must not be redirected. */
  showError(request: FastifyRequest, reply: FastifyReply, error: AadError): FastifyReply {
    const stamp = aadTimestamp(this.deps.clock.now());
    request.log.info({ aadsts: error.code, status: error.status, reason: error.message }, "browser error page");
    return this.html(reply, errorPage({ message: error.message, code: error.code, traceId: newGuid(), correlationId: request.id, timestamp: stamp }), error.status);
  }

  /** Sends `fields` (plus `state`) back to the client: 302 with query or fragment, or a form_post page. */
  deliver(reply: FastifyReply, target: ReplyTarget, fields: Params): FastifyReply {
    if (target.state !== undefined) fields.state = target.state;
    if (target.responseMode === "form_post") {
      const nonce = randomBytes(16).toString("base64url");
      return reply.status(200).headers(pageHeaders(nonce)).send(formPostPage({ action: target.redirectUri, fields, scriptNonce: nonce }));
    }
    let location: string;
    if (target.responseMode === "fragment") {
      location = `${target.redirectUri.split("#")[0]}#${new URLSearchParams(fields).toString()}`;
    } else {
      const url = new URL(target.redirectUri);
      for (const [k, v] of Object.entries(fields)) url.searchParams.set(k, v);
      location = url.toString();
    }
    return reply.status(302).headers({ "cache-control": "no-store, no-cache", location }).send();
  }

  /** Sends an AADSTS error back to the client's redirect URI (`error`, `error_description`, `error_uri`, `error_subcode`). */
  redirectError(request: FastifyRequest, reply: FastifyReply, target: ReplyTarget, error: AadError): FastifyReply {
    const stamp = aadTimestamp(this.deps.clock.now());
    request.log.info({ aadsts: error.code, error: error.error, reason: error.message }, "browser error redirect");
    const fields: Params = {
      error: error.error,
      error_description: `${error.message}\r\nTrace ID: ${newGuid()}\r\nCorrelation ID: ${request.id}\r\nTimestamp: ${stamp}`,
      error_uri: `${this.deps.grantContext.urls.base}/error?code=${error.code}`,
    };
    if (error.suberror) fields.error_subcode = error.suberror;
    return this.deliver(reply, target, fields);
  }
}
