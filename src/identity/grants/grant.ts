import type { Clock } from "../../common/clock.ts";
import type { ResourceCatalog } from "../resources.ts";
import type { IdentityStore } from "../store.ts";
import type { TenantRef } from "../tenants.ts";
import type { TokenSigner } from "../tokens/signer.ts";
import type { TokenVerifier } from "../tokens/verifier.ts";
import type { IdentityUrls } from "../urls.ts";

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
  /** Refresh-token inactivity lifetime, seconds (Entra: 90 days); each rotation restarts it. */
  refreshTokenLifetimeSeconds: number;
  /** Authorization-code lifetime, seconds (Entra: 10 minutes). */
  authorizationCodeLifetimeSeconds: number;
}

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
