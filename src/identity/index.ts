import type { FastifyInstance } from "fastify";
import type { Clock } from "../common/clock.ts";
import { epochSeconds } from "../common/clock.ts";
import { clientCredentialsGrant } from "./grants/client-credentials.ts";
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
  const grants = new GrantRegistry().register(clientCredentialsGrant);
  const service = new IdentityService(store, clock);
  await service.ensureFirstPartyApps();
  const grantContext = { store, clock, signer, urls, resources: options.resources, accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds };
  return {
    service,
    urls,
    verifier: createTokenVerifier(keys, () => epochSeconds(clock)),
    register: (app) => identityRoutes(app, { store, clock, urls, keys, grants, grantContext }),
  };
}
