/**
 * Sign-in for the portal: OAuth 2.0 authorization code with PKCE (RFC 7636, S256) against orgbox's
 * own v2 endpoints, as a single-page app (learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow).
 * Access tokens live in memory only; the refresh token (24 h for SPA redirect URIs) and the PKCE
 * verifier in sessionStorage, which the tab alone sees and which ends with it. No cookies are used
 * for API calls: every call carries `Authorization: Bearer`, so cross-site requests cannot ride on it.
 */

export interface PortalInfo {
  identityUrl: string;
  graphUrl: string;
  portalClientId: string;
  graphScopes: string[];
  tenants: { id: string; displayName: string; defaultDomain: string; authority: string }[];
  orgs: { id: string; name: string; displayName: string; tenantId: string; url: string; webApiUrl: string }[];
  demo: { tenantId: string; username: string; password: string; clientId: string; clientSecret: string } | null;
  ca: { path: string; downloadUrl: string } | null;
}

export interface Account {
  tenantId: string;
  username: string;
  name: string;
  objectId: string;
  /** Directory role template ids (`wids`). */
  roles: string[];
}

const PENDING = "orgbox.portal.pending";
const SESSION = "orgbox.portal.session";

interface Session {
  tenantId: string;
  refreshToken: string;
  account: Account;
}

const accessTokens = new Map<string, { token: string; expiresAt: number }>();

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The payload of a JWT (no verification: the portal only reads its own id token's claims). */
export function jwtPayload(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((part.length + 3) % 4));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))) as Record<string, unknown>;
}

function redirectUri(): string {
  return `${location.origin}/`;
}

function graphScope(info: PortalInfo): string {
  return [...info.graphScopes.map((s) => `https://graph.microsoft.com/${s}`), "openid", "profile", "offline_access"].join(" ");
}

/** Starts a sign-in to `tenantId` (a full-page redirect to orgbox's /authorize). */
export async function signIn(info: PortalInfo, tenantId: string, returnTo: string, prompt = "select_account"): Promise<void> {
  const verifier = random(48);
  const state = random(16);
  const challenge = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, tenantId, returnTo }));
  const query = new URLSearchParams({
    client_id: info.portalClientId,
    response_type: "code",
    redirect_uri: redirectUri(),
    response_mode: "query",
    scope: graphScope(info),
    state,
    nonce: random(16),
    code_challenge: challenge,
    code_challenge_method: "S256",
    prompt,
  });
  location.assign(`${info.identityUrl}/${encodeURIComponent(tenantId)}/oauth2/v2.0/authorize?${query}`);
}

/** An error of the sign-in (AADSTS…): its code and description as Entra sent them. */
export class SignInError extends Error {
  readonly code: string;
  constructor(code: string, description: string) {
    super(description);
    this.code = code;
  }
}

async function tokenRequest(info: PortalInfo, tenantId: string, form: Record<string, string>): Promise<Record<string, unknown>> {
  const response = await fetch(`${info.identityUrl}/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: info.portalClientId, ...form }),
    credentials: "omit",
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new SignInError(String(body.error ?? response.status), String(body.error_description ?? "the token request failed"));
  return body;
}

function loadSession(): Session | undefined {
  const raw = sessionStorage.getItem(SESSION);
  return raw ? (JSON.parse(raw) as Session) : undefined;
}

/**
 * Finishes a sign-in when the page is the redirect back from /authorize (`?code=…&state=…`, or
 * `?error=…`): checks `state`, redeems the code with the PKCE verifier, and removes the query from
 * the address bar. Returns the signed-in account (also on later loads of the same tab), and the
 * route to go back to.
 * @throws SignInError for an error answer or a state mismatch.
 */
export async function completeSignIn(info: PortalInfo): Promise<{ account: Account | undefined; returnTo?: string }> {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return { account: loadSession()?.account };
  history.replaceState(null, "", `${location.pathname}${location.hash}`);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? "null") as { verifier: string; state: string; tenantId: string; returnTo: string } | null;
  sessionStorage.removeItem(PENDING);
  if (params.has("error")) throw new SignInError(params.get("error") ?? "error", params.get("error_description") ?? "");
  if (!pending || pending.state !== params.get("state")) throw new SignInError("state_mismatch", "The sign-in answer does not belong to a sign-in this tab started. Sign in again.");
  const body = await tokenRequest(info, pending.tenantId, { grant_type: "authorization_code", code: params.get("code") ?? "", redirect_uri: redirectUri(), code_verifier: pending.verifier, scope: graphScope(info) });
  const claims = jwtPayload(String(body.id_token));
  const account: Account = {
    tenantId: String(claims.tid),
    username: String(claims.preferred_username ?? ""),
    name: String(claims.name ?? claims.preferred_username ?? ""),
    objectId: String(claims.oid),
    roles: Array.isArray(jwtPayload(String(body.access_token)).wids) ? (jwtPayload(String(body.access_token)).wids as string[]) : [],
  };
  accessTokens.clear();
  accessTokens.set("graph", { token: String(body.access_token), expiresAt: Date.now() + Number(body.expires_in) * 1000 - 60_000 });
  sessionStorage.setItem(SESSION, JSON.stringify({ tenantId: account.tenantId, refreshToken: String(body.refresh_token), account } satisfies Session));
  return { account, returnTo: pending.returnTo };
}

/**
 * An access token for `resource` ("graph" or an org URL), from memory or by redeeming the refresh token
 * for that resource's scopes (a refresh token is good for any resource the user consented to).
 * @throws SignInError when not signed in or the refresh token is refused.
 */
export async function accessToken(info: PortalInfo, resource: string): Promise<string> {
  const cached = accessTokens.get(resource);
  if (cached && cached.expiresAt > Date.now()) return cached.token;
  const session = loadSession();
  if (!session) throw new SignInError("not_signed_in", "Sign in first.");
  const scope = resource === "graph" ? graphScope(info) : `${resource}/user_impersonation offline_access`;
  const body = await tokenRequest(info, session.tenantId, { grant_type: "refresh_token", refresh_token: session.refreshToken, scope });
  if (typeof body.refresh_token === "string") sessionStorage.setItem(SESSION, JSON.stringify({ ...session, refreshToken: body.refresh_token }));
  accessTokens.set(resource, { token: String(body.access_token), expiresAt: Date.now() + Number(body.expires_in) * 1000 - 60_000 });
  return String(body.access_token);
}

/** Forgets every token of this tab and signs out of orgbox (front-channel, v2 logout). */
export function signOut(info: PortalInfo): void {
  const session = loadSession();
  accessTokens.clear();
  sessionStorage.removeItem(SESSION);
  const tenant = session?.tenantId ?? "organizations";
  // client_id names the app whose registered redirect URIs post_logout_redirect_uri must be one of (OIDC RP-Initiated Logout §2).
  location.assign(`${info.identityUrl}/${tenant}/oauth2/v2.0/logout?client_id=${encodeURIComponent(info.portalClientId)}&post_logout_redirect_uri=${encodeURIComponent(redirectUri())}`);
}
