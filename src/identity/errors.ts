import { OrgboxError } from "../common/errors.ts";

/**
 * An Entra (AADSTS) protocol error. Rendered by the identity error hook as
 * `{error, error_description, error_codes, timestamp, trace_id, correlation_id, error_uri}`.
 * Source: learn.microsoft.com/entra/identity-platform/reference-error-codes;
 * wording from live responses quoted in `shared/reference/identity.md` §3.
 */
export class AadError extends OrgboxError {
  /** The AADSTS number, e.g. 7000215. */
  readonly code: number;
  /** The OAuth `error` value, e.g. `invalid_client`. */
  readonly error: string;
  /** Optional `suberror` (MSAL maps `consent_required` to interaction required). */
  readonly suberror: string | undefined;

  constructor(code: number, error: string, message: string, options?: { status?: number; suberror?: string; headers?: Record<string, string> }) {
    super(options?.status ?? (error === "invalid_client" ? 401 : 400), `AADSTS${code}: ${message}`, options?.headers ? { headers: options.headers } : undefined);
    this.code = code;
    this.error = error;
    this.suberror = options?.suberror;
  }
}

/** Constructors for the AADSTS errors orgbox raises, one per code. */
export const aad = {
  /**
   * LoopDetected: the app asks for tokens too often. Message and statuses from
   * learn.microsoft.com/entra/msal/dotnet/advanced/client-and-server-throttling ("Server throttling").
   */
  loopDetected: (options: { status?: number; headers?: Record<string, string> } = {}) =>
    new AadError(50196, "invalid_grant", "The server terminated an operation because it encountered a loop while processing a request.", options),
  missingParameter: (name: string) => new AadError(900144, "invalid_request", `The request body must contain the following parameter: '${name}'.`),
  unsupportedGrantType: (grant: string) => new AadError(70003, "unsupported_grant_type", `The app requested an unsupported grant type '${grant}'.`),
  resourceParameterNotSupported: () => new AadError(901002, "invalid_request", "The 'resource' request parameter isn't supported."),
  invalidScope: (scope: string) => new AadError(70011, "invalid_scope", `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`),
  scopeNeedsDefault: (scope: string) =>
    new AadError(1002012, "invalid_scope", `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`),
  tenantNotFound: (tenant: string) =>
    new AadError(90002, "invalid_tenant", `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`),
  malformedTenant: (tenant: string) => new AadError(900023, "invalid_request", `Specified tenant identifier '${tenant}' is neither a valid DNS name, nor a valid external domain.`),
  noTenantForAppOnly: () => new AadError(50059, "invalid_request", "No tenant-identifying information found in either the request or implied by any provided credentials."),
  applicationNotFound: (appId: string, tenant: string) =>
    new AadError(
      700016,
      "unauthorized_client",
      `Application with identifier '${appId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    ),
  /**
   * The client's service principal in the tenant has `accountEnabled` false (UnauthorizedClientApplicationDisabled).
   * Source: learn.microsoft.com/troubleshoot/entra/entra-id/app-integration/error-code-aadsts7000112-application-is-disabled.
   */
  applicationDisabled: (appId: string, displayName: string) => new AadError(7000112, "unauthorized_client", `Application '${appId}'(${displayName}) is disabled.`),
  invalidClientSecret: (appId: string) =>
    new AadError(7000215, "invalid_client", `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${appId}'.`),
  expiredClientSecret: (appId: string) =>
    new AadError(
      7000222,
      "invalid_client",
      `The provided client secret keys for app '${appId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
    ),
  /** Source: reference-error-codes (AADSTS70002 InvalidClient); RFC 6749 §2.3.1 for the encoding. */
  malformedBasicCredentials: () =>
    new AadError(70002, "invalid_client", "Error validating credentials. The client_id or client_secret in the 'Authorization: Basic' header is not valid application/x-www-form-urlencoded text (RFC 6749 section 2.3.1)."),
  missingClientCredential: () => new AadError(7000218, "invalid_client", "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."),
  resourceNotFound: (resource: string, tenantName: string) =>
    new AadError(
      500011,
      "invalid_resource",
      `The resource principal named ${resource} was not found in the tenant named ${tenantName}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
    ),
  invalidInstance: () => new AadError(50049, "invalid_instance", "Unknown or invalid instance."),
  publicClientSentSecret: () => new AadError(700025, "invalid_client", "Client is public so neither 'client_assertion' nor 'client_secret' should be presented."),
  invalidCredentials: () => new AadError(50126, "invalid_grant", "Error validating credentials due to invalid username or password."),
  userNotFound: (tenantName: string) =>
    new AadError(
      50034,
      "invalid_grant",
      `The user account {EmailHidden} does not exist in the ${tenantName} directory. To sign into this application, the account must be added to the directory.`,
    ),
  /**
   * AADSTS50076 UserStrongAuthClientAuthNRequired (reference-error-codes); `interaction_required` and the wording
   * as in live refresh answers (microsoft/vscode-azureappservice#2592); suberror `basic_action` (MSAL.NET #559).
   */
  mfaRequired: (resourceAppId: string) =>
    new AadError(50076, "interaction_required", `Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '${resourceAppId}'.`, { suberror: "basic_action" }),
  /** AADSTS50079 UserStrongAuthEnrollmentRequired: `invalid_grant` with suberror `basic_action`, as a live body shows (MSAL.NET #559). */
  mfaRegistrationRequired: (resourceAppId: string) =>
    new AadError(50079, "invalid_grant", `Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '${resourceAppId}'.`, { suberror: "basic_action" }),
  /** AADSTS50074 StrongAuthRequired: the user cancelled the (simulated) MFA step. */
  strongAuthDeclined: () => new AadError(50074, "access_denied", "Strong Authentication is required.", { suberror: "basic_action" }),
  userDisabled: () => new AadError(50057, "invalid_grant", "The user account is disabled."),
  consentRequired: (appId: string, appName: string) =>
    new AadError(
      65001,
      "invalid_grant",
      `The user or administrator has not consented to use the application with ID '${appId}' named '${appName}'. Send an interactive authorization request for this user and resource.`,
      { suberror: "consent_required" },
    ),
  scopeNotOnResource: (appName: string, scope: string, resourceAppId: string) =>
    new AadError(650053, "invalid_client", `The application '${appName}' asked for scope '${scope}' that doesn't exist on the resource '${resourceAppId}'. Contact the app vendor.`),
  multipleResources: (scope: string) => new AadError(28000, "invalid_scope", `Provided value for the input parameter scope is not valid because it contains more than one resource. Scope ${scope} is not valid.`),
  invalidGrant: () => new AadError(70000, "invalid_grant", "Provided grant is invalid or malformed."),
  refreshTokenExpired: (issuedAt: string, inactive: string) =>
    new AadError(700082, "invalid_grant", `The refresh token has expired due to inactivity. The token was issued on ${issuedAt} and was inactive for ${inactive}.`),
  /** AADSTS700084 (reference-error-codes): an SPA refresh-token chain reached its fixed lifetime. */
  spaRefreshTokenExpired: (lifetime: string, issuedAt: string) =>
    new AadError(
      700084,
      "invalid_grant",
      `The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of ${lifetime}, which can't be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page. The token was issued on ${issuedAt}.`,
    ),
  grantRevokedByPasswordChange: (issuedAt: string, validFrom: string) =>
    new AadError(
      50173,
      "invalid_grant",
      `The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '${issuedAt}' and the TokensValidFrom date (before which tokens are not valid) for this user is '${validFrom}'.`,
    ),
  codeExpired: () => new AadError(70008, "invalid_grant", "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."),
  codeRedeemed: () => new AadError(54005, "invalid_grant", "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."),
  pkceMismatch: () => new AadError(501481, "invalid_grant", "The Code_Verifier does not match the code_challenge supplied in the authorization request."),
  redirectUriMismatchOnRedeem: (sent: string, original: string) =>
    new AadError(500112, "invalid_grant", `The reply address '${sent}' does not match the reply address '${original}' provided when requesting Authorization code.`),
  redirectUriNotRegistered: (uri: string, appId: string) =>
    new AadError(
      50011,
      "invalid_request",
      `The redirect URI '${uri}' specified in the request does not match the redirect URIs configured for the application '${appId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this.`,
    ),
  pkceRequired: () => new AadError(9002325, "invalid_request", "Proof Key for Code Exchange is required for cross-origin authorization code redemption."),
  invalidCodeChallengeMethod: () => new AadError(50149, "invalid_request", "Invalid Code_Challenge_method parameter."),
  invalidCodeChallengeSize: () => new AadError(501491, "invalid_request", "Invalid size of Code_Challenge parameter."),
  unsupportedResponseType: (type: string) => new AadError(700054, "unsupported_response_type", `response_type '${type}' is not enabled for the application.`),
  unsupportedResponseMode: (mode: string) => new AadError(900005, "invalid_request", `The response_mode '${mode}' is not supported.`),
  loginRequired: () => new AadError(50058, "login_required", "A silent sign-in request was sent but no user is signed in."),
  interactionRequired: (appId: string, appName: string) =>
    new AadError(
      65001,
      "interaction_required",
      `The user or administrator has not consented to use the application with ID '${appId}' named '${appName}'. Send an interactive authorization request for this user and resource.`,
      { suberror: "consent_required" },
    ),
  consentDeclined: () => new AadError(65004, "access_denied", "User declined to consent to access the app.", { suberror: "cancel" }),
  notMultiTenant: (appId: string, appName: string) =>
    new AadError(
      50194,
      "invalid_request",
      `Application '${appId}'(${appName}) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.`,
    ),
  adminConsentRequired: () => new AadError(90094, "access_denied", "The grant requires admin permission. Sign in with an administrator of the tenant (Global Administrator, Privileged Role Administrator, Cloud Application Administrator or Application Administrator) to consent for the organization.", { status: 403 }),
  serviceNotSubscribed: (resource: string, tenantName: string) =>
    new AadError(650052, "invalid_client", `The app needs access to a service ("${resource}") that your organization "${tenantName}" has not subscribed to or enabled. Contact your IT Admin to review the configuration of your service subscriptions.`),
  /** The app requires assignment (`appRoleAssignmentRequired`) and the user has none, directly or through a group. */
  userNotAssigned: (appName: string, appId: string, upn: string) =>
    new AadError(
      50105,
      "invalid_grant",
      `Your administrator has configured the application ${appName} ('${appId}') to block users unless they are specifically granted ('assigned') access to the application. The signed in user '${upn}' is blocked because they are not a direct member of a group with access, nor had access directly assigned by an administrator. Please contact your administrator to assign access to this application.`,
    ),
};

/** Formats a timestamp the way Entra does in error bodies: `2023-05-06 06:03:00Z`. */
export function aadTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "Z");
}

/**
 * The JSON body of an AADSTS error, as Entra sends it (`shared/reference/identity.md` §3):
 * `error`, `error_description` (message plus trace, correlation id and timestamp lines),
 * `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`, and `suberror` when set.
 * @param now ms since the epoch (UTC).
 */
export function aadErrorBody(error: AadError, ids: { traceId: string; correlationId: string; now: number; baseUrl: string }): Record<string, unknown> {
  const stamp = aadTimestamp(ids.now);
  const body: Record<string, unknown> = {
    error: error.error,
    error_description: `${error.message}\r\nTrace ID: ${ids.traceId}\r\nCorrelation ID: ${ids.correlationId}\r\nTimestamp: ${stamp}`,
    error_codes: [error.code],
    timestamp: stamp,
    trace_id: ids.traceId,
    correlation_id: ids.correlationId,
    error_uri: `${ids.baseUrl}/error?code=${error.code}`,
  };
  if (error.suberror) body.suberror = error.suberror;
  return body;
}
