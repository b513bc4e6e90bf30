import type { TokenThrottle } from "../token-throttle.ts";
import type { Clock } from "../../common/clock.ts";
import type { ResourceCatalog } from "../resources.ts";
import type { IdentityStore } from "../store.ts";
import type { TenantRef } from "../tenants.ts";
import type { TokenSigner } from "../tokens/signer.ts";
import type { TokenVerifier } from "../tokens/verifier.ts";
import type { IdentityUrls } from "../urls.ts";
import type { LockoutPolicy } from "../lockout.ts";
import type { Application, ServicePrincipal, Tenant } from "../model.ts";

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
  /** Throttling of token requests per tenant and client (config `tokenRequestsPerMinute`); none when off. */
  tokenThrottle?: TokenThrottle;
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

/**
 * How the token endpoint authenticates the client before a grant issues tokens
 * (the grant declares it; the endpoint's `authenticateClient` step applies it):
 * - `confidential`: the client must prove itself with a secret (form or `Authorization: Basic`)
 *   or a certificate-signed `client_assertion` (`appidacr` "1" or "2"). Client credentials, on-behalf-of.
 * - `public-or-confidential`: a public client sends no secret or assertion (AADSTS700025 if it
 *   does, `appidacr` "0"); a confidential one authenticates as above. Which applies is decided by
 *   {@link PreparedGrant.isPublicClient}, by default the app's `isFallbackPublicClient`.
 */
export type ClientAuthPolicy = "confidential" | "public-or-confidential";

/** A client the token endpoint authenticated (see {@link ClientAuthPolicy}). */
export interface AuthenticatedClient {
  app: Application;
  /** The client's service principal in the request's tenant. */
  servicePrincipal: ServicePrincipal;
  /** `appidacr`: "0" public, "1" secret, "2" certificate. */
  clientAuth: "0" | "1" | "2";
  publicClient: boolean;
}

/** A client that proved itself with a secret or certificate (policy `confidential`). */
export interface ConfidentialClient extends AuthenticatedClient {
  clientAuth: "1" | "2";
  publicClient: false;
}

/** The client a policy yields. */
export type ClientOf<P extends ClientAuthPolicy> = P extends "confidential" ? ConfidentialClient : AuthenticatedClient;

/** What a grant learned before client authentication: the tenant the client authenticates in, and grant state. */
export interface PreparedGrant<S> {
  tenant: Tenant;
  /**
   * For `public-or-confidential`: whether the client is public (e.g. a code issued to an SPA redirect
   * URI). Default: the app's `isFallbackPublicClient`.
   */
  isPublicClient?: (app: Application) => boolean;
  /** What {@link Grant.prepare} read (a stored code, a user), handed to {@link Grant.issue}. */
  state: S;
}

/**
 * One OAuth grant type. Grants plug in through {@link GrantRegistry}, never through a switch.
 * The token endpoint runs `prepare` (validate the form, load what is redeemed, name the tenant),
 * authenticates the client by the declared {@link ClientAuthPolicy}, then runs `issue`.
 */
export interface Grant<S = unknown, P extends ClientAuthPolicy = ClientAuthPolicy> {
  /** The `grant_type` value, e.g. `client_credentials`. */
  readonly type: string;
  /** How the client authenticates for this grant. */
  readonly clientAuth: P;
  /** Checks the request and loads what the grant redeems, up to (not including) client authentication. */
  prepare(request: TokenRequest, context: GrantContext): Promise<PreparedGrant<S>>;
  /** Issues tokens for an authenticated client. */
  issue(request: TokenRequest, context: GrantContext, prepared: PreparedGrant<S>, client: ClientOf<P>): Promise<TokenResponseBody>;
}

/** The token endpoint's grants, by `grant_type`. */
export class GrantRegistry {
  private readonly grants = new Map<string, Grant>();

  register<S, P extends ClientAuthPolicy>(grant: Grant<S, P>): this {
    if (this.grants.has(grant.type)) throw new Error(`grant '${grant.type}' is already registered`);
    // Method parameters are bivariant: a grant's own state and client types meet only in its own methods.
    this.grants.set(grant.type, grant as unknown as Grant);
    return this;
  }

  get(type: string): Grant | undefined {
    return this.grants.get(type);
  }
}
