import type { FastifyInstance } from "fastify";
import type { Clock } from "../common/clock.ts";
import { epochSeconds } from "../common/clock.ts";
import { randomBytes } from "node:crypto";
import { authorizeRoutes } from "./authorize.ts";
import { authorizationCodeGrant } from "./grants/authorization-code.ts";
import { clientCredentialsGrant } from "./grants/client-credentials.ts";
import { passwordGrant } from "./grants/password.ts";
import { refreshTokenGrant } from "./grants/refresh-token.ts";
import { GrantRegistry } from "./grants/grant.ts";
import type { ResourceCatalog } from "./resources.ts";
import { identityRoutes } from "./routes.ts";
import { IdentityService } from "./service.ts";
import type { IdentityStore } from "./store.ts";
import { KeyRing } from "./tokens/keyring.ts";
import { TokenSigner } from "./tokens/signer.ts";
import { createTokenVerifier, type TokenVerifier } from "./tokens/verifier.ts";
import { IdentityUrls } from "./urls.ts";

export { TokenRejectedError, type TokenVerifier, type TokenExpectations } from "./tokens/verifier.ts";
export type { ResourceCatalog } from "./resources.ts";
export { IdentityService } from "./service.ts";
export * from "./well-known.ts";

/** Options for {@link createIdentity}. */
export interface IdentityOptions {
  store: IdentityStore;
  clock: Clock;
  /** `https://localhost:PORT`, known once listening. */
  baseUrl: () => string;
  resources: ResourceCatalog;
  /** Access-token lifetime, seconds. */
  accessTokenLifetimeSeconds: number;
  /** Refresh-token inactivity lifetime, seconds. Default 90 days (Entra's). */
  refreshTokenLifetimeSeconds?: number;
}

/** The identity surface: admin service, routes, and a verifier for resource servers. */
export interface Identity {
  service: IdentityService;
  urls: IdentityUrls;
  /** Verifies tokens this instance signed (what a resource server does with the JWKS). */
  verifier: TokenVerifier;
  /** Registers the Entra endpoints on a Fastify scope. */
  register(app: FastifyInstance): Promise<void>;
}

/** Builds the identity surface. Loads (or creates) the signing keys once. */
export async function createIdentity(options: IdentityOptions): Promise<Identity> {
  const { store, clock } = options;
  const urls = new IdentityUrls(options.baseUrl);
  const keys = new KeyRing(store, clock);
  await keys.load();
  const signer = new TokenSigner(keys);
  const grants = new GrantRegistry().register(clientCredentialsGrant).register(passwordGrant).register(refreshTokenGrant).register(authorizationCodeGrant);
  const service = new IdentityService(store, clock);
  await service.ensureFirstPartyApps();
  const csrfKey = randomBytes(32);
  const grantContext = { store, clock, signer, urls, resources: options.resources, accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds,
    refreshTokenLifetimeSeconds: options.refreshTokenLifetimeSeconds ?? 90 * 24 * 3600,
    authorizationCodeLifetimeSeconds: 600,
  };
  return {
    service,
    urls,
    verifier: createTokenVerifier(keys, () => epochSeconds(clock)),
    register: async (app) => {
      await identityRoutes(app, { store, clock, urls, keys, grants, grantContext });
      await authorizeRoutes(app, { store, clock, grantContext, csrfKey });
    },
  };
}
