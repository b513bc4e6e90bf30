/**
 * The page every AADSTS error body links to: `error_uri` is `{base}/error?code=N`, as Entra's
 * `https://login.microsoftonline.com/error?code=N`. `GET /error?code=7000215` (or `AADSTS7000215`) answers an
 * HTML page with the code, what Entra means by it (learn.microsoft.com/entra/identity-platform/reference-error-codes,
 * in orgbox's words) and orgbox's hint: what to check or which `orgbox` command fixes it.
 * One entry per code orgbox raises; a test checks every code in src/identity has one.
 */
import type { FastifyInstance } from "fastify";
import { esc, page, pageHeaders } from "./pages/html.ts";

/** What the page says about one code. */
export interface AadstsEntry {
  /** The error name Entra's reference lists (e.g. `InvalidClientSecretProvided`), when it lists one. */
  name?: string;
  /** What the error means in Entra ID. */
  meaning: string;
  /** What to check in orgbox (commands, settings). */
  hint: string;
}

const SECRET_CMD = "orgbox secret add --app {appId}";
const ASSERTION = "Build the assertion as MSAL does (msal-node's clientCertificate, @azure/identity's ClientCertificateCredential): iss and sub the client id, aud the token endpoint, a fresh jti, exp within 10 minutes.";

/** Every AADSTS code orgbox raises → its explanation. */
export const AADSTS_CODES: ReadonlyMap<number, AadstsEntry> = new Map<number, AadstsEntry>([
  [28000, { meaning: "The scope parameter names more than one resource; a token is for one resource.", hint: "Ask for one resource's scopes per token request (e.g. only https://localhost:8443/org/contoso/.default)." }],
  [50000, { name: "TokenIssuanceError", meaning: "The sign-in service could not issue the token.", hint: "An orgbox failure: the server log (stderr) has the line with this correlation id; please report it." }],
  [50011, { name: "InvalidReplyTo", meaning: "The redirect URI of the request is not one of the app's registered redirect URIs.", hint: "Register it: orgbox app update {appId} --add-redirect-uri web:URL (spa:URL, public:URL), or redirectUris in the environment file." }],
  [50013, { name: "InvalidAssertion", meaning: "The user assertion (on-behalf-of) failed signature validation.", hint: "Send an access token this orgbox issued (signed by its current keys, see /{tenant}/discovery/v2.0/keys); tokens of an earlier store stop validating after --reapply or a new data folder." }],
  [50027, { name: "InvalidJwtToken", meaning: "The JWT (client assertion) is not valid or is malformed.", hint: ASSERTION }],
  [50034, { name: "UserAccountNotFound", meaning: "The user does not exist in the tenant's directory.", hint: "Create the user: orgbox user create --tenant {domain} --upn name@domain --password …, or check the UPN's domain is the tenant's." }],
  [50049, { name: "NoSuchInstanceForDiscovery", meaning: "Unknown or invalid instance (authority host).", hint: "Use orgbox's own URL as the authority host (https://localhost:8443/{tenant}); with MSAL, also pass knownAuthorities: ['localhost:8443'] or set the cloud discovery metadata." }],
  [50053, { name: "IdsLocked", meaning: "The account is locked: too many wrong passwords (smart lockout).", hint: "Wait lockoutDurationSeconds (default 60 s), then use the right password; lockoutThreshold 0 turns lockout off." }],
  [50057, { name: "UserDisabled", meaning: "The user account is disabled.", hint: "orgbox user enable {upn}" }],
  [50058, { name: "UserInformationNotProvided", meaning: "A silent sign-in (prompt=none) found no signed-in user.", hint: "Sign in interactively first; the session is a cookie of orgbox's sign-in page." }],
  [50059, { name: "MissingTenantRealmAndNoUserInformationProvided", meaning: "No tenant could be found in the request (an app-only request to /common or /organizations).", hint: "Use the tenant's authority: https://localhost:8443/{tenantId or domain}." }],
  [50074, { name: "StrongAuthRequired", meaning: "Strong authentication (MFA) is required, and the user did not complete it.", hint: "Complete the MFA step on orgbox's sign-in page (Approve); orgbox user require-mfa {upn} --off turns the requirement off." }],
  [50076, { name: "UserStrongAuthClientAuthNRequired", meaning: "Multi-factor authentication is required: the user must sign in again interactively.", hint: "Send the user through the browser sign-in (interaction_required); the requirement comes from orgbox user|app require-mfa or Graph PATCH users/{id}/authentication/requirements." }],
  [50079, { name: "UserStrongAuthEnrollmentRequired", meaning: "The user must register for multi-factor authentication.", hint: "Send the user through the browser sign-in, where orgbox's Register step completes it; set by orgbox user require-mfa {upn} --registration." }],
  [50105, { name: "EntitlementGrantsNotFound", meaning: "The app requires assignment and the user is not assigned (directly or through a group).", hint: "orgbox app assign --tenant {domain} --app {appId} --user {upn} (or --group)." }],
  [50126, { name: "InvalidUserNameOrPassword", meaning: "Wrong user name or password.", hint: "orgbox user reset-password {upn} --password …; the demo admin is printed in orgbox's banner." }],
  [50149, { meaning: "The code_challenge_method is not valid.", hint: "Use code_challenge_method=S256 (or plain)." }],
  [50173, { name: "FreshTokenNeeded", meaning: "The grant was revoked (the user's password changed or was reset after it was issued).", hint: "Sign in again; orgbox user reset-password revokes refresh tokens and sessions, as Entra." }],
  [50196, { name: "LoopDetected", meaning: "The client asked for too many tokens in a short time (a token-request loop) and was throttled.", hint: "Cache tokens until they expire (MSAL does); orgbox throttles only with tokenRequestsPerMinute set, or a fault rule." }],
  [50194, { meaning: "A single-tenant app used the /common endpoint.", hint: "Use the tenant's authority, or make the app multi-tenant (orgbox app create --multi-tenant, signInAudience AzureADMultipleOrgs)." }],
  [54005, { meaning: "The authorization code was already redeemed.", hint: "A code is single use: start a new authorization request, or use the refresh token." }],
  [65001, { name: "DelegationDoesNotExist", meaning: "The user or an administrator has not consented to the app.", hint: "orgbox consent grant --tenant {domain} --app {appId} --scope user_impersonation, or consent on the sign-in page." }],
  [65004, { name: "UserDeclinedConsent", meaning: "The user declined consent.", hint: "Sign in again and accept, or grant consent: orgbox consent grant …" }],
  [70000, { name: "InvalidGrant", meaning: "The grant (code, refresh token, device code, assertion) is not valid or is malformed.", hint: "Send the value exactly as orgbox issued it, to the tenant and client it was issued for." }],
  [70002, { name: "InvalidClient", meaning: "The client credentials are not valid.", hint: "Check the Authorization: Basic header: client_id:client_secret, each form-urlencoded (RFC 6749 §2.3.1)." }],
  [70003, { name: "UnsupportedGrantType", meaning: "The grant type is not supported.", hint: "orgbox supports client_credentials, authorization_code, refresh_token, password, device_code and jwt-bearer (on-behalf-of)." }],
  [70008, { name: "ExpiredOrRevokedGrant", meaning: "The code or refresh token has expired or was revoked.", hint: "Start a new sign-in." }],
  [70011, { name: "InvalidScope", meaning: "The scope is not valid.", hint: "Use {resource}/.default or {resource}/user_impersonation with the org URL as the resource, e.g. https://localhost:8443/org/contoso/.default." }],
  [70016, { name: "AuthorizationPending", meaning: "Device code flow: the user has not finished signing in yet.", hint: "Keep polling at the interval given; this is not a failure." }],
  [70018, { name: "BadVerificationCode", meaning: "The device code or user code is not valid.", hint: "Start a new device code request." }],
  [70019, { name: "CodeExpired", meaning: "The device code expired.", hint: "Start a new device code request." }],
  [90002, { name: "InvalidTenantName", meaning: "The tenant was not found.", hint: "orgbox tenant list shows the tenants (ids and domains); the demo tenant is contoso.onmicrosoft.com." }],
  [90015, { meaning: "The on-behalf-of request's requested_token_use is not supported.", hint: "Send requested_token_use=on_behalf_of." }],
  [90023, { name: "InvalidRequest", meaning: "The request is not valid.", hint: "For the sign-in pages: start the sign-in again from the application (the form expired or was altered)." }],
  [90094, { name: "AdminConsentRequired", meaning: "The grant needs an administrator's consent.", hint: "Sign in with a Global Administrator (orgbox user create … --global-admin), or grant it: orgbox consent grant --tenant {domain} --app {appId} …" }],
  [500011, { name: "InvalidResourceServicePrincipalNotFound", meaning: "The resource (the API the token is for) was not found in the tenant.", hint: "Use an org URL of this orgbox (https://localhost:8443/org/{name}), Microsoft Graph, or an app's Application ID URI; orgbox app show {appId} lists identifierUris." }],
  [500112, { meaning: "The redirect URI of the token request differs from the one of the authorization request.", hint: "Send the same redirect_uri to /authorize and /token." }],
  [500131, { meaning: "The assertion's audience does not match the client (on-behalf-of).", hint: "The incoming token must be issued for the middle-tier app (its aud the app id or Application ID URI)." }],
  [500133, { meaning: "The assertion is not within its valid time range (on-behalf-of).", hint: "The incoming access token expired: get a new one." }],
  [501481, { meaning: "The code_verifier does not match the code_challenge of the authorization request.", hint: "Send the verifier the challenge was made from (PKCE, RFC 7636)." }],
  [501491, { meaning: "The code_challenge has an invalid size.", hint: "A code_challenge is 43 to 128 characters (RFC 7636 §4.2)." }],
  [650052, { meaning: "The app needs access to a service the organization has not subscribed to or enabled.", hint: "The resource has no service principal in the tenant: orgbox sp create --tenant {domain} --app {resourceAppId}." }],
  [650053, { meaning: "The app asked for a scope that the resource does not have.", hint: "orgbox app show {resourceAppId} lists the resource's scopes; Dataverse has user_impersonation." }],
  [700016, { name: "UnauthorizedClient_DoesNotMatchRequest", meaning: "The application was not found in the tenant.", hint: "orgbox app list --tenant {domain}; a multi-tenant app needs a service principal in the other tenant: orgbox sp create --tenant {domain} --app {appId} (or consent)." }],
  [700021, { meaning: "The client assertion's iss/sub does not match client_id.", hint: ASSERTION }],
  [700023, { meaning: "The client assertion's audience does not match the token endpoint.", hint: ASSERTION }],
  [700024, { meaning: "The client assertion is not within its valid time range.", hint: ASSERTION }],
  [700025, { name: "InvalidClientPublicClientWithCredential", meaning: "A public client sent a client secret or assertion.", hint: "Drop the credential, or turn public client flows off: orgbox app update {appId} --public-client false." }],
  [700026, { meaning: "The client assertion type is not supported.", hint: "Use client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer." }],
  [700027, { meaning: "The client assertion failed signature validation, or its certificate is not registered.", hint: "Register the certificate: orgbox app cert add --app {appId} --cert cert.pem; x5t/x5t#S256 in the header must be its thumbprint." }],
  [700054, { meaning: "The response_type is not enabled for the application.", hint: "Use response_type=code (with PKCE)." }],
  [700082, { name: "ExpiredOrRevokedGrantInactiveToken", meaning: "The refresh token expired due to inactivity.", hint: "Sign in again; refreshTokenLifetimeSeconds (default 90 days) sets the inactivity lifetime." }],
  [700084, { meaning: "A single-page app's refresh token reached its fixed lifetime.", hint: "Sign in again; spaRefreshTokenLifetimeSeconds (default 24 hours) sets it." }],
  [7000112, { name: "UnauthorizedClientApplicationDisabled", meaning: "The application's service principal is disabled in the tenant.", hint: "Enable the service principal (Graph: PATCH servicePrincipals/{id} accountEnabled true)." }],
  [7000215, { meaning: "The client secret is not valid.", hint: `Send the secret's value (printed once by ${SECRET_CMD}), not its key id; orgbox secret list --app {appId} shows each secret's first characters.` }],
  [7000218, { meaning: "The request has neither client_secret nor client_assertion.", hint: `A confidential client sends a credential: ${SECRET_CMD}, or mark the app as a public client.` }],
  [7000222, { name: "InvalidClientSecretExpiredKeysProvided", meaning: "The client secret has expired.", hint: `Add a new one: ${SECRET_CMD} --days 365.` }],
  [7000274, { meaning: "orgbox's own code: the client assertion's jti was already used (Entra documents none).", hint: "Raised only with rejectAssertionReplay (--reject-assertion-replay); make a new assertion per request, or turn the setting off." }],
  [900005, { meaning: "The response_mode is not supported.", hint: "Use response_mode query, fragment or form_post." }],
  [900023, { meaning: "The tenant identifier is neither a valid DNS name nor a valid external domain.", hint: "Use the tenant id (a GUID) or a domain such as contoso.onmicrosoft.com." }],
  [900144, { meaning: "A required parameter is missing from the request body.", hint: "The message names the parameter; send the body as application/x-www-form-urlencoded." }],
  [900561, { meaning: "The endpoint only accepts other HTTP methods.", hint: "The token endpoint takes POST." }],
  [901002, { meaning: "The v2.0 endpoint does not take the resource parameter.", hint: "Use scope={resource}/.default on /oauth2/v2.0/token, or resource= on the v1 endpoint /oauth2/token." }],
  [1002012, { meaning: "Client credentials need a scope ending in /.default.", hint: "Ask for {resource}/.default, e.g. https://localhost:8443/org/contoso/.default." }],
  [9002325, { meaning: "PKCE is required for a cross-origin (single-page app) code redemption.", hint: "Send code_challenge at /authorize and code_verifier at /token (MSAL.js does)." }],
]);

const REFERENCE = "https://learn.microsoft.com/entra/identity-platform/reference-error-codes";

/**
 * `GET /error?code=N` (N with or without `AADSTS`): the explanation page, with the sign-in pages' security headers.
 * 200 for a code orgbox raises; 404 (same page style, naming the code) for any other or no code.
 */
export function registerErrorPage(app: FastifyInstance): void {
  app.get<{ Querystring: { code?: string } }>("/error", async (request, reply) => {
    const raw = typeof request.query.code === "string" ? request.query.code.trim() : "";
    const match = /^(?:AADSTS)?(\d{1,9})$/i.exec(raw);
    const code = match ? Number(match[1]) : undefined;
    const entry = code === undefined ? undefined : AADSTS_CODES.get(code);
    reply.status(entry ? 200 : 404).headers(pageHeaders());
    if (!entry) {
      const what = code === undefined ? "No error code was given (use /error?code=7000215)." : `orgbox does not raise AADSTS${code}.`;
      return page("Unknown error code", `<h1>Unknown error code</h1><p>${esc(what)}</p><p class="muted">Entra's codes: <a href="${REFERENCE}">${REFERENCE}</a></p>`);
    }
    const title = `AADSTS${code}${entry.name ? ` ${entry.name}` : ""}`;
    return page(
      title,
      `<h1>${esc(title)}</h1><h2 style="font-size:16px">In Microsoft Entra ID</h2><p>${esc(entry.meaning)}</p><h2 style="font-size:16px">In orgbox</h2><p>${esc(entry.hint)}</p>` +
        `<p class="muted">The error_description of the response, and orgbox's log line with its correlation id, say what was found. Entra's reference: <a href="${REFERENCE}#aadsts-error-codes">${REFERENCE}</a></p>`,
    );
  });
}
