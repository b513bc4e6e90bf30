import { randomBytes } from "node:crypto";

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
