/**
 * Directory objects, named as Microsoft Graph names them
 * (learn.microsoft.com/graph/api/resources/application, …/serviceprincipal).
 * Times are ms since the Unix epoch (UTC).
 */

/** `signInAudience` values orgbox supports. */
export type SignInAudience = "AzureADMyOrg" | "AzureADMultipleOrgs";

export interface Tenant {
  id: string;
  displayName: string;
  /** The initial `*.onmicrosoft.com` domain. */
  defaultDomain: string;
  /** All verified domains, lower-case, default first. */
  domains: string[];
}

export interface User {
  id: string;
  tenantId: string;
  userPrincipalName: string;
  displayName: string;
  givenName: string | null;
  surname: string | null;
  accountEnabled: boolean;
  /** Directory role template ids (the `wids` claim), e.g. Global Administrator. */
  directoryRoles: string[];
  /**
   * When the password last changed, or sign-in sessions were last revoked (Graph
   * `revokeSignInSessions`): Entra's "TokensValidFrom", ms since the epoch (UTC).
   */
  passwordChangedAt: number;
  /** Graph `mailNickname` (the mail alias); absent or null when not set. */
  mailNickname?: string | null;
}

/** A delegated permission (`api.oauth2PermissionScopes`). */
export interface PermissionScope {
  id: string;
  value: string;
  adminConsentDisplayName: string;
  adminConsentDescription: string;
  type: "User" | "Admin";
}

/** An application permission / app role (`appRoles`). */
export interface AppRole {
  id: string;
  value: string;
  displayName: string;
  description: string;
  allowedMemberTypes: ("Application" | "User")[];
}

/** `requiredResourceAccess` entry: permissions the app asks of one resource. */
export interface RequiredResourceAccess {
  resourceAppId: string;
  resourceAccess: { id: string; type: "Scope" | "Role" }[];
}

export interface Application {
  /** Object id. */
  id: string;
  /** Client id. */
  appId: string;
  /** Home tenant (where it was registered). */
  tenantId: string;
  displayName: string;
  signInAudience: SignInAudience;
  identifierUris: string[];
  /** `web.implicitGrantSettings` is stored and returned by the Graph API (orgbox issues no implicit-flow tokens). */
  /** `web.logoutUrl`: the front-channel logout URL, stored and returned by the Graph API (orgbox's sign-out does not call it). */
  web: { redirectUris: string[]; implicitGrantSettings?: ImplicitGrantSettings; logoutUrl?: string };
  spa: { redirectUris: string[] };
  publicClient: { redirectUris: string[] };
  /** The manifest's `allowPublicClient`. */
  isFallbackPublicClient: boolean;
  requiredResourceAccess: RequiredResourceAccess[];
  appRoles: AppRole[];
  /**
   * `api.requestedAccessTokenVersion` (the manifest's `accessTokenAcceptedVersion`):
   * the access-token shape this app receives as a resource. null or 1 → v1.0, 2 → v2.0.
   */
  api: { oauth2PermissionScopes: PermissionScope[]; requestedAccessTokenVersion?: 1 | 2 | null };
  publisherDomain: string | null;
  /** Manifest `groupMembershipClaims`: whether tokens for this client carry `groups`. null → none. */
  groupMembershipClaims?: GroupMembershipClaims | null;
  /** When it was registered (ms since the epoch, UTC); set by the store on reads. */
  createdDateTime?: number;
}

/** `web.implicitGrantSettings` (learn.microsoft.com/graph/api/resources/implicitgrantsettings). */
export interface ImplicitGrantSettings {
  enableAccessTokenIssuance: boolean;
  enableIdTokenIssuance: boolean;
}

/** `groupMembershipClaims` values orgbox supports (learn.microsoft.com/entra/identity-platform/reference-app-manifest). */
export type GroupMembershipClaims = "None" | "SecurityGroup" | "All";

/** A security group (learn.microsoft.com/graph/api/resources/group); members are users. */
export interface Group {
  id: string;
  tenantId: string;
  displayName: string;
  /** Member user object ids. */
  members: string[];
  /** Graph `mailNickname`; absent or null when not set. */
  mailNickname?: string | null;
}

/** Who an app role is assigned to (Graph `appRoleAssignment.principalType`). */
export type PrincipalType = "User" | "Group" | "ServicePrincipal";


/** A client secret's public shape; the value itself is only ever returned once. */
export interface PasswordCredential {
  keyId: string;
  applicationId: string;
  displayName: string | null;
  /** First three characters of the value. */
  hint: string;
  startDateTime: number;
  endDateTime: number;
}

/**
 * A certificate credential's public shape (learn.microsoft.com/graph/api/resources/keycredential):
 * an X.509 public certificate used to sign client assertions.
 */
export interface KeyCredential {
  keyId: string;
  applicationId: string;
  displayName: string | null;
  /** SHA-1 thumbprint of the certificate, upper-case hex (what the portal shows). */
  customKeyIdentifier: string;
  /** SHA-256 thumbprint, upper-case hex (`x5t#S256` selects by it). */
  thumbprintSha256: string;
  /** The DER certificate, base64. */
  certificateB64: string;
  type: "AsymmetricX509Cert";
  usage: "Verify";
  startDateTime: number;
  endDateTime: number;
}

export interface ServicePrincipal {
  id: string;
  tenantId: string;
  appId: string;
  appOwnerOrganizationId: string;
  displayName: string;
  appRoleAssignmentRequired: boolean;
  /**
   * Whether the app can sign in and get tokens in this tenant ("Enabled for users to sign in?" in
   * Enterprise applications; Graph `servicePrincipal.accountEnabled`). false: every token request of
   * the app in this tenant is refused with AADSTS7000112.
   */
  accountEnabled: boolean;
}

/**
 * An application permission granted to a service principal
 * (learn.microsoft.com/graph/api/resources/approleassignment): `principalId` is
 * the client's service principal, `resourceId` the resource's, `appRoleId` one of
 * the resource app's `appRoles`.
 */
export interface AppRoleAssignment {
  id: string;
  tenantId: string;
  principalId: string;
  resourceId: string;
  appRoleId: string;
  /** What `principalId` is; "ServicePrincipal" for application permissions. */
  principalType?: PrincipalType;
}

/** The default app role id: "assigned, with no particular role" (Users and Groups in the portal). */
export const DEFAULT_APP_ROLE_ID = "00000000-0000-0000-0000-000000000000";

/**
 * Delegated consent (learn.microsoft.com/graph/api/resources/oauth2permissiongrant):
 * `clientId` and `resourceId` are service principal object ids; `scope` is space-separated.
 */
export interface OAuth2PermissionGrant {
  id: string;
  tenantId: string;
  clientId: string;
  consentType: "AllPrincipals" | "Principal";
  /** The user, for `Principal` grants; null for `AllPrincipals`. */
  principalId: string | null;
  resourceId: string;
  scope: string;
}
