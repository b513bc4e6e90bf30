import type { Clock } from "../../common/clock.ts";
import type { ResourceCatalog } from "../resources.ts";
import type { IdentityStore } from "../store.ts";
import type { TenantRef } from "../tenants.ts";
import type { TokenSigner } from "../tokens/signer.ts";
import type { TokenVerifier } from "../tokens/verifier.ts";
import type { IdentityUrls } from "../urls.ts";
import type { LockoutPolicy } from "../lockout.ts";

/** One token request, after routing and form parsing. */
export interface TokenRequest {
  /** Endpoint version: `/oauth2/token` (1) or `/oauth2/v2.0/token` (2). */
  version: 1 | 2;
  tenant: TenantRef;
  /** The form body (`application/x-www-form-urlencoded`). */
  form: Record<string, string>;
  /** The `Authorization` header, for `client_secret_basic`. */
  authorization: string | undefined;
  /** The caller's IP address (the `ipaddr` claim of user tokens). */
  clientIp?: string;
}

/** What grants may use. */
export interface GrantContext {
  store: IdentityStore;
  clock: Clock;
  signer: TokenSigner;
  /** Verifies tokens this instance issued (OBO assertions). */
  verifier: TokenVerifier;
  urls: IdentityUrls;
  resources: ResourceCatalog;
  accessTokenLifetimeSeconds: number;
  /** See `OrgboxConfig.rejectAssertionReplay`. */
  rejectAssertionReplay?: boolean;
  /**
   * Refresh-token inactivity lifetime, seconds (Entra: 90 days); each redemption returns a new
   * refresh token with a fresh lifetime (learn.microsoft.com/entra/identity-platform/refresh-tokens).
   */
  refreshTokenLifetimeSeconds: number;
  /**
   * Lifetime of refresh tokens issued through an SPA redirect URI, seconds (Entra: 24 hours). Fixed:
   * the tokens a redemption returns carry the first one's expiry (AADSTS700084 after it).
   */
  spaRefreshTokenLifetimeSeconds: number;
  /** What redeeming a refresh token does to it; see {@link RefreshTokenRotation}. */
  refreshTokenRotation: RefreshTokenRotation;
  /** Smart lockout of password sign-ins (ROPC and the sign-in pages). */
  lockout: LockoutPolicy;
  /** Authorization-code lifetime, seconds (Entra: 10 minutes). */
  authorizationCodeLifetimeSeconds: number;
}

/**
 * `entra`: a redeemed refresh token stays valid until it expires or is revoked; the response carries
 * a new one too (Entra ID's behaviour, learn.microsoft.com/entra/identity-platform/refresh-tokens).
 * `strict`: a redeemed refresh token is revoked, and presenting it again revokes its whole family,
 * every token descended from the same sign-in (RFC 9700 §4.14.2, refresh token rotation).
 */
export type RefreshTokenRotation = "entra" | "strict";

/** The JSON body of a successful token response (shape differs by endpoint version). */
export type TokenResponseBody = Record<string, string | number>;

/** One OAuth grant type. Grants plug in through {@link GrantRegistry}, never through a switch. */
export interface Grant {
  /** The `grant_type` value, e.g. `client_credentials`. */
  readonly type: string;
  handle(request: TokenRequest, context: GrantContext): Promise<TokenResponseBody>;
}

/** The token endpoint's grants, by `grant_type`. */
export class GrantRegistry {
  private readonly grants = new Map<string, Grant>();

  register(grant: Grant): this {
    if (this.grants.has(grant.type)) throw new Error(`grant '${grant.type}' is already registered`);
    this.grants.set(grant.type, grant);
    return this;
  }

  get(type: string): Grant | undefined {
    return this.grants.get(type);
  }

  types(): string[] {
    return [...this.grants.keys()];
  }
}
