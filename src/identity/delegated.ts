import { randomBytes } from "node:crypto";
import { epochSeconds } from "../common/clock.ts";
import { newGuid } from "../common/ids.ts";
import { hashSecret } from "../common/secrets.ts";
import { aad, aadTimestamp, type AadError } from "./errors.ts";
import type { AuthenticatedClient, GrantContext, TokenRequest, TokenResponseBody } from "./grants/grant.ts";
import type { Application, ServicePrincipal, Tenant, User } from "./model.ts";
import { resolveResource, type ResolvedResource } from "./resources.ts";
import type { AppRoleAssignmentDirectory, GroupDirectory, PermissionGrantDirectory, StoredRefreshToken } from "./store.ts";
import { clientInfo, idTokenClaims, userAccessTokenClaims } from "./tokens/claims.ts";
import { MICROSOFT_GRAPH_APP_ID } from "./well-known.ts";

/** The OpenID Connect scopes MSAL always adds; they name no resource. */
export const OIDC_SCOPES: ReadonlySet<string> = new Set(["openid", "profile", "email", "offline_access"]);

/** Microsoft Graph's Application ID URI (`https://graph.microsoft.com/User.Read` names it). */
export const GRAPH_IDENTIFIER = "https://graph.microsoft.com";

/**
 * Resource of bare scopes (`User.Read`) and OIDC-only requests: Microsoft Graph by
 * app id, so their access tokens carry `aud: "00000003-0000-0000-c000-000000000000"` as Entra's do.
 */
export const BARE_SCOPE_RESOURCE = MICROSOFT_GRAPH_APP_ID;

/** id_token lifetime, seconds (Entra: one hour). */
const ID_TOKEN_LIFETIME = 3600;

/** A v2 `scope` parameter split into OIDC scopes and one resource's permissions. */
export interface ParsedScope {
  oidc: Set<string>;
  /** The resource identifier as sent (e.g. `https://host/org/contoso`); Graph for bare or OIDC-only scopes. */
  resource: string;
  /** Permission values as sent, possibly `.default`. */
  permissions: string[];
}

/**
 * Splits a v2 `scope` value (space-separated): `openid profile email offline_access`
 * plus permissions of exactly one resource, written `{resource}/{permission}`
 * (split at the last `/`, so `https://org.crm.dynamics.com//user_impersonation`
 * keeps the trailing-slash resource) or bare (Microsoft Graph, {@link BARE_SCOPE_RESOURCE};
 * `https://graph.microsoft.com/…` is the same resource).
 * Source: learn.microsoft.com/entra/identity-platform/scopes-oidc.
 * @throws AadError 28000 when the scopes name more than one resource, 70011 for an empty permission.
 */
export function parseScope(scope: string): ParsedScope {
  const oidc = new Set<string>();
  let resource: string | undefined;
  let resourceKey: string | undefined;
  const permissions: string[] = [];
  for (const item of scope.split(/\s+/).filter((s) => s.length > 0)) {
    if (OIDC_SCOPES.has(item.toLowerCase())) {
      oidc.add(item.toLowerCase());
      continue;
    }
    const slash = item.lastIndexOf("/");
    const res = slash >= 0 ? item.slice(0, slash) : BARE_SCOPE_RESOURCE;
    const permission = slash >= 0 ? item.slice(slash + 1) : item;
    if (res.length === 0 || permission.length === 0) throw aad.invalidScope(item);
    const trimmed = res.toLowerCase().replace(/\/+$/, "");
    const key = trimmed === GRAPH_IDENTIFIER ? BARE_SCOPE_RESOURCE : trimmed;
    if (resourceKey !== undefined && key !== resourceKey) throw aad.multipleResources(scope);
    resourceKey = key;
    resource ??= res;
    permissions.push(permission);
  }
  return { oidc, resource: resource ?? BARE_SCOPE_RESOURCE, permissions };
}

/** A resolved delegated request: the resource, its service principal and the permissions asked for. */
export interface DelegatedTarget {
  resource: ResolvedResource;
  resourceSp: ServicePrincipal;
  /** Canonical permission values asked for; empty with `isDefault`. */
  requested: string[];
  /** `.default` (v2) or `resource=` (v1): everything statically configured or consented. */
  isDefault: boolean;
}

/**
 * Resolves the resource and permissions of a delegated request.
 * @throws AadError 500011 (unknown resource in the tenant), 650053 (permission not exposed by the resource).
 */
export async function resolveTarget(ctx: GrantContext, tenant: Tenant, clientApp: Application, identifier: string, permissions: string[] | "default"): Promise<DelegatedTarget> {
  const resource = await resolveResource(ctx.store, ctx.resources, identifier);
  const resourceSp = resource ? await ctx.store.findServicePrincipal(tenant.id, resource.app.appId) : undefined;
  if (!resource || !resourceSp) throw aad.resourceNotFound(identifier, tenant.defaultDomain);
  if (permissions === "default" || permissions.some((p) => p === ".default")) {
    return { resource, resourceSp, requested: [], isDefault: true };
  }
  const exposed = resource.app.api.oauth2PermissionScopes;
  const requested: string[] = [];
  for (const permission of permissions) {
    const match = exposed.find((s) => s.value.toLowerCase() === permission.toLowerCase());
    if (!match) throw aad.scopeNotOnResource(clientApp.displayName, permission, resource.app.appId);
    if (!requested.includes(match.value)) requested.push(match.value);
  }
  return { resource, resourceSp, requested, isDefault: false };
}

/** The outcome of a consent check: what is granted, and what still needs consent. */
export interface ConsentState {
  /** Consented permission values, in the resource's declaration order. */
  granted: string[];
  /** Permissions the request needs that nobody consented to. */
  missing: string[];
  /** What the request needs (for a consent page). */
  needed: string[];
}

/**
 * Compares a request with the `oauth2PermissionGrants` of (client, resource):
 * `AllPrincipals` grants plus the user's own `Principal` grants. For `.default`,
 * the need is the client's `requiredResourceAccess` for that resource plus what is
 * already consented. OIDC scopes never need consent here. Without `clientSp`
 * (a multi-tenant app not yet in the tenant) nothing is granted.
 */
export async function evaluateConsent(store: PermissionGrantDirectory, tenantId: string, clientSp: ServicePrincipal | undefined, clientApp: Application, target: DelegatedTarget, userId: string): Promise<ConsentState> {
  const grants = clientSp ? await store.listPermissionGrants(tenantId, clientSp.id, target.resourceSp.id) : [];
  const grantedSet = new Set<string>();
  for (const grant of grants) {
    if (grant.consentType === "AllPrincipals" || grant.principalId === userId) {
      for (const s of grant.scope.split(/\s+/)) if (s) grantedSet.add(s.toLowerCase());
    }
  }
  const declared = target.resource.app.api.oauth2PermissionScopes;
  const granted = declared.filter((s) => grantedSet.has(s.value.toLowerCase())).map((s) => s.value);
  let needed = target.requested;
  if (target.isDefault) {
    const ids = clientApp.requiredResourceAccess.filter((r) => r.resourceAppId === target.resource.app.appId).flatMap((r) => r.resourceAccess.filter((a) => a.type === "Scope").map((a) => a.id));
    needed = [...new Set([...declared.filter((s) => ids.includes(s.id)).map((s) => s.value), ...granted])];
  }
  const missing = needed.filter((s) => !grantedSet.has(s.toLowerCase()));
  return { granted, missing, needed };
}

/**
 * Checks that a user may still get tokens: enabled (AADSTS50057), and, for a
 * grant issued at `authTime` (ms), not revoked by a later password change (AADSTS50173).
 */
export function assertUserActive(user: User, authTime?: number): void {
  if (!user.accountEnabled) throw aad.userDisabled();
  if (authTime !== undefined && user.passwordChangedAt > authTime) throw aad.grantRevokedByPasswordChange(aadTimestamp(authTime), aadTimestamp(user.passwordChangedAt));
}

/**
 * Enforces `appRoleAssignmentRequired` on the client's service principal: the
 * user must be assigned to it directly or through a group it is a member of.
 * Source: learn.microsoft.com/entra/identity/enterprise-apps/assign-user-or-group-access-portal.
 * @throws AadError 50105 when assignment is required and the user has none.
 */
async function assertUserAssigned(store: AppRoleAssignmentDirectory, clientSp: ServicePrincipal, clientApp: Application, user: User): Promise<void> {
  const error = await userAssignmentError(store, clientSp, clientApp, user);
  if (error) throw error;
}

/** The AADSTS50105 error {@link assertUserAssigned} throws, or undefined when the user may sign in (the sign-in page shows it). */
export async function userAssignmentError(store: AppRoleAssignmentDirectory, clientSp: ServicePrincipal, clientApp: Application, user: User): Promise<AadError | undefined> {
  if (!clientSp.appRoleAssignmentRequired || (await store.isUserAssigned(user.id, clientSp.id))) return undefined;
  return aad.userNotAssigned(clientApp.displayName, clientApp.appId, user.userPrincipalName);
}

/**
 * The access-token shape a resource receives: its `api.requestedAccessTokenVersion`
 * (manifest `accessTokenAcceptedVersion`), null/1 → "1.0", 2 → "2.0"; not the endpoint version.
 * Source: learn.microsoft.com/entra/identity-platform/access-tokens#token-formats.
 */
export function accessTokenVersion(resourceApp: Application): "1.0" | "2.0" {
  return resourceApp.api.requestedAccessTokenVersion === 2 ? "2.0" : "1.0";
}

/**
 * The `groups` claim for tokens issued to `clientApp`: the object ids of the user's
 * groups when the manifest's `groupMembershipClaims` is `SecurityGroup` or `All`
 * (orgbox groups are security groups), else undefined (no claim).
 * Source: learn.microsoft.com/entra/identity-platform/reference-app-manifest#groupmembershipclaims-attribute.
 */
async function groupsClaim(store: GroupDirectory, clientApp: Application, userId: string): Promise<string[] | undefined> {
  const setting = clientApp.groupMembershipClaims;
  if (setting !== "SecurityGroup" && setting !== "All") return undefined;
  return store.listMemberGroupIds(userId);
}

/** Everything {@link issueUserTokens} needs. */
export interface IssueUserTokensInput {
  version: 1 | 2;
  tenant: Tenant;
  user: User;
  client: AuthenticatedClient;
  target: DelegatedTarget;
  /** Permissions to put in `scp` (consented). */
  scopes: string[];
  oidc: Set<string>;
  nonce: string | undefined;
  amr: string[];
  /** Original authentication time, ms. */
  authTime: number;
  ipAddress: string | undefined;
  /** `client_info=1` was sent. */
  wantsClientInfo: boolean;
  /** The code a refresh-token chain starts from (revoked on code replay). */
  codeId: string | null;
  /** The refresh token being redeemed: the new one joins its family (and, in strict rotation, replaces it atomically). */
  rotateFrom?: StoredRefreshToken;
  /** The code was issued to an SPA redirect URI: the refresh token gets the fixed SPA lifetime. */
  spa?: boolean;
}

/**
 * Issues a delegated v1.0 access token (plus id_token, refresh token and
 * `client_info` as the endpoint version and scopes call for) and returns the
 * token response body: v2 with numeric `expires_in`, v1 with string
 * `expires_in`/`expires_on`/`not_before` and `resource`
 * (v2-oauth2-auth-code-flow, v1-protocols-oauth-code).
 * Refresh tokens: a new one per response, in the family of `rotateFrom` (or a new family). It
 * expires `refreshTokenLifetimeSeconds` after issue, or, for an SPA chain, when the chain's first
 * token does (`spaRefreshTokenLifetimeSeconds`). With strict rotation `rotateFrom` is revoked in the
 * same transaction; with Entra's behaviour it stays valid.
 * @throws AadError 70000 when, in strict rotation, `rotateFrom` was redeemed concurrently (its family is revoked).
 */
export async function issueUserTokens(ctx: GrantContext, input: IssueUserTokensInput): Promise<TokenResponseBody> {
  const { tenant, user, client, target, version } = input;
  await assertUserAssigned(ctx.store, client.servicePrincipal, client.app, user);
  const issuedAt = epochSeconds(ctx.clock);
  const lifetime = ctx.accessTokenLifetimeSeconds;
  const identifier = target.resource.identifier;
  const isGraph = target.resource.app.appId === MICROSOFT_GRAPH_APP_ID;
  const scp = input.scopes.length > 0 ? input.scopes : isGraph ? [...input.oidc].filter((s) => s !== "offline_access") : [];
  const tokenVersion = accessTokenVersion(target.resource.app);
  const groups = await groupsClaim(ctx.store, client.app, user.id);
  const accessToken = await ctx.signer.sign(
    userAccessTokenClaims({
      version: tokenVersion,
      audience: tokenVersion === "2.0" ? target.resource.app.appId : identifier,
      issuer: tokenVersion === "2.0" ? ctx.urls.issuerV2(tenant.id) : ctx.urls.issuerV1(tenant.id),
      groups,
      user,
      clientAppId: client.app.appId,
      clientAuth: client.clientAuth,
      scopes: scp,
      amr: input.amr,
      ipAddress: input.ipAddress,
      issuedAt,
      lifetimeSeconds: lifetime,
    }),
    tokenVersion,
  );

  const wantsIdToken = version === 1 || input.oidc.has("openid");
  const idToken = wantsIdToken
    ? await ctx.signer.sign(
        idTokenClaims({
          version: version === 1 ? "1.0" : "2.0",
          issuer: version === 1 ? ctx.urls.issuerV1(tenant.id) : ctx.urls.issuerV2(tenant.id),
          user,
          clientAppId: client.app.appId,
          nonce: input.nonce,
          amr: input.amr,
          ipAddress: input.ipAddress,
          groups,
          issuedAt,
          lifetimeSeconds: ID_TOKEN_LIFETIME,
        }),
        version === 1 ? "1.0" : "2.0",
      )
    : undefined;

  const wantsRefresh = version === 1 || input.oidc.has("offline_access") || input.rotateFrom !== undefined;
  let refreshToken: string | undefined;
  if (wantsRefresh) {
    refreshToken = `1.A${randomBytes(96).toString("base64url")}`;
    const now = ctx.clock.now();
    const id = newGuid();
    const from = input.rotateFrom;
    const spa = from ? from.spa : input.spa === true;
    const stored: StoredRefreshToken = {
      id,
      tokenHash: hashSecret(refreshToken),
      tenantId: tenant.id,
      clientId: client.app.appId,
      userId: user.id,
      publicClient: client.publicClient,
      scope: version === 2 ? [...input.oidc, ...scp.map((s) => (isGraph ? s : `${identifier}/${s}`))].join(" ") : scp.join(" "),
      resource: identifier,
      amr: input.amr,
      authTime: input.authTime,
      codeId: input.codeId,
      familyId: from?.familyId ?? id,
      spa,
      issuedAt: now,
      expiresAt: spa ? (from?.expiresAt ?? now + ctx.spaRefreshTokenLifetimeSeconds * 1000) : now + ctx.refreshTokenLifetimeSeconds * 1000,
      revokedAt: null,
    };
    if (from && ctx.refreshTokenRotation === "strict") {
      if (!(await ctx.store.rotateRefreshToken(from.id, stored, now))) {
        // Redeemed by someone else in the meantime: a replay (RFC 9700 §4.14.2).
        await ctx.store.revokeRefreshTokenFamily(from.familyId, now);
        throw aad.invalidGrant();
      }
    } else {
      await ctx.store.createRefreshToken(stored);
    }
  }

  const body: TokenResponseBody = {};
  if (version === 2) {
    const scopeOut = isGraph ? [...scp, ...[...input.oidc].filter((s) => s !== "offline_access" && !scp.includes(s))] : scp.map((s) => `${identifier}/${s}`);
    body.token_type = "Bearer";
    body.scope = scopeOut.join(" ");
    body.expires_in = lifetime;
    body.ext_expires_in = lifetime;
    body.access_token = accessToken;
    if (refreshToken) body.refresh_token = refreshToken;
    if (idToken) body.id_token = idToken;
  } else {
    body.token_type = "Bearer";
    body.scope = scp.join(" ");
    body.expires_in = String(lifetime);
    body.ext_expires_in = String(lifetime);
    body.expires_on = String(issuedAt + lifetime);
    body.not_before = String(issuedAt);
    body.resource = identifier;
    body.access_token = accessToken;
    if (refreshToken) body.refresh_token = refreshToken;
    if (idToken) body.id_token = idToken;
  }
  if (input.wantsClientInfo) body.client_info = clientInfo(user.id, tenant.id);
  return body;
}

/** `ipaddr` as Entra shows it: IPv4-mapped IPv6 addresses unwrapped. */
export function normaliseIp(ip: string | undefined): string | undefined {
  if (!ip) return undefined;
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

/**
 * The tenant a stored grant (code or refresh token) belongs to. On a tenant
 * endpoint it must be that tenant; on `common`/`organizations` it is the grant's.
 * @throws AadError 70000 (`invalid_grant`) when the grant belongs to another tenant.
 */
export async function tenantOfGrant(ctx: GrantContext, request: TokenRequest, grantTenantId: string): Promise<Tenant> {
  if (request.tenant.kind === "tenant") {
    if (request.tenant.tenant.id !== grantTenantId) throw aad.invalidGrant();
    return request.tenant.tenant;
  }
  const tenant = await ctx.store.findTenant(grantTenantId);
  if (!tenant) throw aad.invalidGrant();
  return tenant;
}
