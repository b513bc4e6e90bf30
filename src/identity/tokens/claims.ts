import { createHash, randomBytes } from "node:crypto";

/** Claims of an app-only access token, v1.0 or v2.0 shape. */
export interface AppOnlyClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  aio: string;
  idp: string;
  idtyp: "app";
  oid: string;
  rh: string;
  sub: string;
  tid: string;
  uti: string;
  ver: "1.0" | "2.0";
  appid?: string;
  appidacr?: "1" | "2";
  azp?: string;
  azpacr?: "1" | "2";
  roles?: string[];
}

/** Inputs for {@link appOnlyClaims}. Times are whole seconds since the epoch (UTC). */
export interface AppOnlyInput {
  version: "1.0" | "2.0";
  audience: string;
  issuer: string;
  tenantId: string;
  clientAppId: string;
  /** "1" client secret, "2" certificate. */
  clientAuth: "1" | "2";
  servicePrincipalId: string;
  roles: string[];
  issuedAt: number;
  lifetimeSeconds: number;
}

const opaque = (bytes: number): string => randomBytes(bytes).toString("base64url");

/**
 * Builds app-only (client credentials) access-token claims the way Entra does.
 * v1.0 carries `appid`/`appidacr`; v2.0 carries `azp`/`azpacr`. `oid` and `sub`
 * are the client's service principal in the token's tenant, `idtyp` is "app".
 * Source: learn.microsoft.com/entra/identity-platform/access-token-claims-reference.
 */
export function appOnlyClaims(input: AppOnlyInput): AppOnlyClaims {
  const claims: AppOnlyClaims = {
    aud: input.audience,
    iss: input.issuer,
    iat: input.issuedAt,
    nbf: input.issuedAt,
    exp: input.issuedAt + input.lifetimeSeconds,
    aio: opaque(48),
    idp: input.version === "1.0" ? input.issuer : input.issuer,
    idtyp: "app",
    oid: input.servicePrincipalId,
    rh: `1.${opaque(40)}.`,
    sub: input.servicePrincipalId,
    tid: input.tenantId,
    uti: opaque(16),
    ver: input.version,
  };
  if (input.version === "1.0") {
    claims.appid = input.clientAppId;
    claims.appidacr = input.clientAuth;
  } else {
    claims.azp = input.clientAppId;
    claims.azpacr = input.clientAuth;
  }
  if (input.roles.length > 0) claims.roles = input.roles;
  return claims;
}

/** Role template id every member user carries in `wids` ("User"). */
export const MEMBER_USER_ROLE = "b79fbf4d-3ef9-4689-8143-76b194e85509";

/** The signed-in user, as the claim builders need it. */
export interface TokenUser {
  id: string;
  tenantId: string;
  userPrincipalName: string;
  displayName: string;
  givenName: string | null;
  surname: string | null;
  /** Directory role template ids (`wids`). */
  directoryRoles: string[];
}

/**
 * The pairwise `sub` of a user for one client app: base64url SHA-256 of
 * `{userId}:{clientAppId}` (43 characters, as Entra's). Stable per (user, app),
 * different across apps. Source: access-token-claims-reference ("sub … pairwise").
 */
export function pairwiseSubject(userId: string, clientAppId: string): string {
  return createHash("sha256").update(`${userId.toLowerCase()}:${clientAppId.toLowerCase()}`, "utf8").digest("base64url");
}

/** `client_info`: base64url of `{"uid":oid,"utid":tid}` (MSAL builds `home_account_id` from it). */
export function clientInfo(userId: string, tenantId: string): string {
  return Buffer.from(JSON.stringify({ uid: userId, utid: tenantId }), "utf8").toString("base64url");
}

/** Inputs for {@link userAccessTokenClaims}. Times are whole seconds since the epoch (UTC). */
export interface UserAccessInput {
  /** Token shape, from the resource's `requestedAccessTokenVersion`; default "1.0". */
  version?: "1.0" | "2.0";
  /** v1: the resource identifier exactly as requested; v2: the resource's app id (becomes `aud`). */
  audience: string;
  /** v1 issuer `{base}/sts/{tid}/`, v2 `{base}/{tid}/v2.0`. */
  issuer: string;
  user: TokenUser;
  clientAppId: string;
  /** `appidacr` / `azpacr`: "0" public client, "1" secret, "2" certificate. */
  clientAuth: "0" | "1" | "2";
  /** Granted delegated permissions (bare values, e.g. `user_impersonation`). */
  scopes: string[];
  /** Authentication methods, e.g. `["pwd"]`. */
  amr: string[];
  /** Caller IP (`ipaddr`). */
  ipAddress: string | undefined;
  /** Group object ids for the `groups` claim (client's `groupMembershipClaims`); omitted when undefined. */
  groups?: string[];
  issuedAt: number;
  lifetimeSeconds: number;
}

/** Claims of a delegated (user) access token; v1.0-only and v2.0-only claims are optional. */
export interface UserAccessClaims {
  aud: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  acr?: "1";
  aio: string;
  amr?: string[];
  appid?: string;
  appidacr?: "0" | "1" | "2";
  azp?: string;
  azpacr?: "0" | "1" | "2";
  family_name?: string;
  given_name?: string;
  groups?: string[];
  ipaddr?: string;
  name: string;
  oid: string;
  preferred_username?: string;
  puid?: string;
  rh: string;
  scp: string;
  sub: string;
  tid: string;
  unique_name?: string;
  upn?: string;
  uti: string;
  ver: "1.0" | "2.0";
  wids: string[];
}

/**
 * The claims every user token (access and id token) carries: issuer, times (whole seconds,
 * UTC), opaque `aio`/`rh`/`uti`, the user's name, `oid`, `tid`, and the pairwise `sub`.
 */
function userTokenBase(input: { user: TokenUser; issuer: string; issuedAt: number; lifetimeSeconds: number; clientAppId: string }) {
  const { user } = input;
  return {
    iss: input.issuer,
    iat: input.issuedAt,
    nbf: input.issuedAt,
    exp: input.issuedAt + input.lifetimeSeconds,
    aio: opaque(48),
    name: user.displayName,
    oid: user.id,
    rh: `1.${opaque(40)}.`,
    sub: pairwiseSubject(user.id, input.clientAppId),
    tid: user.tenantId,
    uti: opaque(16),
  };
}

/**
 * Builds a delegated access token's claims. v1.0 (Dataverse, Graph, APIs without
 * `requestedAccessTokenVersion: 2`): `aud` as requested, `appid`/`appidacr`,
 * `upn`/`unique_name`, names, `acr`, `amr`, `ipaddr`, `puid`. v2.0: `azp`/`azpacr`
 * and `preferred_username` instead. Both: `scp` space-separated, user `oid`,
 * pairwise `sub`, `wids`, `groups` when asked for. `idp` is omitted for home-tenant users, as Entra does.
 * Source: learn.microsoft.com/entra/identity-platform/access-token-claims-reference.
 */
export function userAccessTokenClaims(input: UserAccessInput): UserAccessClaims {
  const { user } = input;
  const v2 = input.version === "2.0";
  const claims: UserAccessClaims = {
    aud: input.audience,
    ...userTokenBase(input),
    scp: input.scopes.join(" "),
    ver: v2 ? "2.0" : "1.0",
    wids: [...new Set([...user.directoryRoles, MEMBER_USER_ROLE])],
  };
  if (input.groups) claims.groups = input.groups;
  if (v2) {
    claims.azp = input.clientAppId;
    claims.azpacr = input.clientAuth;
    claims.preferred_username = user.userPrincipalName;
    return claims;
  }
  claims.acr = "1";
  claims.amr = input.amr;
  claims.appid = input.clientAppId;
  claims.appidacr = input.clientAuth;
  claims.puid = puid(user.id);
  claims.unique_name = user.userPrincipalName;
  claims.upn = user.userPrincipalName;
  if (user.surname) claims.family_name = user.surname;
  if (user.givenName) claims.given_name = user.givenName;
  if (input.ipAddress) claims.ipaddr = input.ipAddress;
  return claims;
}

/** Inputs for {@link idTokenClaims}. Times are whole seconds since the epoch (UTC). */
export interface IdTokenInput {
  version: "1.0" | "2.0";
  /** v1 `{base}/sts/{tid}/` or v2 `{base}/{tid}/v2.0`. */
  issuer: string;
  user: TokenUser;
  clientAppId: string;
  nonce: string | undefined;
  amr: string[];
  ipAddress: string | undefined;
  /** Group object ids for the `groups` claim; omitted when undefined. */
  groups?: string[];
  issuedAt: number;
  lifetimeSeconds: number;
}

/** Claims of an id_token (v1.0 or v2.0 shape). */
export type IdTokenClaims = Record<string, string | number | string[]>;

/**
 * Builds id_token claims. Both: `aud` (client id), `iss`, `iat`/`nbf`/`exp`,
 * `aio`, `name`, `nonce` (when sent), `oid`, `rh`, `sub` (pairwise), `tid`,
 * `uti`, `ver`, `groups` (when asked for). v2.0 adds `preferred_username`; v1.0 adds `upn`,
 * `unique_name`, `amr`, `family_name`, `given_name`, `ipaddr`.
 * Source: learn.microsoft.com/entra/identity-platform/id-token-claims-reference.
 */
export function idTokenClaims(input: IdTokenInput): IdTokenClaims {
  const { user } = input;
  const claims: IdTokenClaims = {
    aud: input.clientAppId,
    ...userTokenBase(input),
    ver: input.version,
  };
  if (input.nonce !== undefined) claims.nonce = input.nonce;
  if (input.groups) claims.groups = input.groups;
  if (input.version === "2.0") {
    claims.preferred_username = user.userPrincipalName;
  } else {
    claims.amr = input.amr;
    if (user.surname) claims.family_name = user.surname;
    if (user.givenName) claims.given_name = user.givenName;
    if (input.ipAddress) claims.ipaddr = input.ipAddress;
    claims.unique_name = user.userPrincipalName;
    claims.upn = user.userPrincipalName;
  }
  return claims;
}

/** A stable 16-hex-digit `puid` (Entra's legacy user id) derived from the object id. */
function puid(userId: string): string {
  return createHash("sha256").update(userId, "utf8").digest("hex").slice(0, 16).toUpperCase();
}
