/**
 * Matching a requested `redirect_uri` (or `post_logout_redirect_uri`) against an app's registered
 * redirect URIs, as Microsoft Entra does.
 *
 * Exact, case-sensitive string comparison, with Entra's one documented exception for
 * **localhost redirect URIs**: "Due to ephemeral port ranges often required by native
 * applications, the port component (for example, `:5001` or `:443`) is ignored for the purposes
 * of matching a redirect URI", so a registered `http://localhost/MyApp` accepts
 * `http://localhost:1234/MyApp`. Scheme, host and path (and query) are still compared exactly:
 * `http://localhost/MyWebApp` does not match `http://localhost/MyNativeApp`, and `localhost`
 * does not match `127.0.0.1` (register the one the app uses; Entra recommends `127.0.0.1`).
 * The rule is not tied to a platform: it applies to web, single-page and public client (mobile
 * and desktop) redirect URIs alike; Entra warns not to register URIs that differ only by port,
 * because it then picks one of them (and its platform) arbitrarily — orgbox picks in the order
 * web, SPA, public client, an exact match first.
 * The IPv6 loopback `[::1]` is, per the same page, not supported by Entra: it is compared exactly.
 *
 * Source: learn.microsoft.com/entra/identity-platform/reply-url, "Redirect URI (reply URL)
 * restrictions and limitations" § "Localhost exceptions" (which follows RFC 8252 §7.3 and §8.3).
 * The token endpoint still requires the very `redirect_uri` sent to /authorize, port included
 * (RFC 6749 §4.1.3): that comparison is exact and does not use this module.
 */

/** `http(s)://localhost` or `http(s)://127.0.0.1`, an optional port, then the path/query. */
const LOOPBACK = /^(https?:\/\/(?:localhost|127\.0\.0\.1))(?::\d{1,5})?([/?][^#]*)?$/;

/** The URI without its port (and with an empty path as `/`), or undefined when it is not a localhost URI. */
function withoutPort(uri: string): string | undefined {
  const match = LOOPBACK.exec(uri);
  if (!match) return undefined;
  const rest = match[2] ?? "";
  return `${match[1]}${rest.startsWith("/") ? rest : `/${rest}`}`;
}

/** True when `requested` matches the registered redirect URI `registered` (see the module comment). */
function redirectUriMatches(registered: string, requested: string): boolean {
  if (registered === requested) return true;
  const a = withoutPort(registered);
  return a !== undefined && a === withoutPort(requested);
}

/** True when `requested` matches one of `registered` (exact first, then the localhost port rule). */
export function matchesAnyRedirectUri(registered: readonly string[], requested: string): boolean {
  return registered.includes(requested) || registered.some((uri) => redirectUriMatches(uri, requested));
}
