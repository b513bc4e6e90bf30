import type { FastifyInstance } from "fastify";
import type { Clock } from "../common/clock.ts";
import { epochSeconds } from "../common/clock.ts";
import { randomBytes } from "node:crypto";
import { adminConsentRoutes } from "./admin-consent.ts";
import { authorizeRoutes } from "./authorize.ts";
import { logoutRoutes } from "./logout.ts";
import { userInfoRoutes } from "./userinfo.ts";
import { authorizationCodeGrant } from "./grants/authorization-code.ts";
import { clientCredentialsGrant } from "./grants/client-credentials.ts";
import { passwordGrant } from "./grants/password.ts";
import { refreshTokenGrant } from "./grants/refresh-token.ts";
import { deviceCodeGrantV1, deviceCodeGrantV2 } from "./grants/device-code.ts";
import { jwtBearerGrant } from "./grants/jwt-bearer.ts";
import { deviceRoutes } from "./device-login.ts";
import { GrantRegistry, type RefreshTokenRotation } from "./grants/grant.ts";
import { DEFAULT_LOCKOUT, type LockoutPolicy } from "./lockout.ts";
import type { ResourceCatalog } from "./resources.ts";
import { identityRoutes } from "./routes.ts";
import { TokenThrottle } from "./token-throttle.ts";
import { IdentityService, type OrgBindings } from "./service.ts";
import type { DirectoryStore, IdentityStore } from "./store.ts";
import { CachedIdentityStore } from "./cached-store.ts";
import { KeyRing } from "./tokens/keyring.ts";
import { TokenSigner } from "./tokens/signer.ts";
import { createTokenVerifier, type TokenVerifier } from "./tokens/verifier.ts";
import { IdentityUrls } from "./urls.ts";
import { managementToken, type ManagementToken } from "./management.ts";

export { TokenRejectedError, type TokenVerifier, type TokenExpectations } from "./tokens/verifier.ts";
export type { ResourceCatalog } from "./resources.ts";
export { IdentityService, type OrgBindings } from "./service.ts";
export { AadError, aad, aadErrorBody } from "./errors.ts";
export * from "./well-known.ts";
export * from "./graph-permissions.ts";
export type { DirectoryStore, DirectoryFilter, DirectoryCursor, DirectoryQuery, DirectoryPage, DirectoryObjectRef, InteractionKind, InteractionRequirement } from "./store.ts";
export type { Application, AppRole, AppRoleAssignment, Group, KeyCredential, PasswordCredential, PermissionScope, RequiredResourceAccess, ServicePrincipal, Tenant, User } from "./model.ts";
export { DirectoryError } from "./service.ts";
export { DEFAULT_APP_ROLE_ID } from "./model.ts";
export { parseCertificateCredential } from "./client-assertion.ts";
export type { OAuth2PermissionGrant } from "./model.ts";
export type { IdentityUrls } from "./urls.ts";
export { ORGBOX_CLI_APP_ID, type ManagementToken } from "./management.ts";

/** Options for {@link createIdentity}. */
export interface IdentityOptions {
  store: IdentityStore;
  /** Which Dataverse orgs are bound to a tenant (the composition root wires it). */
  orgs: OrgBindings;
  clock: Clock;
  /** `https://localhost:PORT`, known once listening. */
  baseUrl: () => string;
  resources: ResourceCatalog;
  /** Access-token lifetime, seconds. */
  accessTokenLifetimeSeconds: number;
  /** Refresh-token inactivity lifetime, seconds. Default 90 days (Entra's). */
  refreshTokenLifetimeSeconds?: number;
  /** Fixed lifetime of refresh tokens issued through SPA redirect URIs, seconds. Default 24 hours (Entra's). */
  spaRefreshTokenLifetimeSeconds?: number;
  /** See `OrgboxConfig.refreshTokenRotation`. Default `entra`. */
  refreshTokenRotation?: RefreshTokenRotation;
  /** Smart lockout (see `OrgboxConfig.lockoutThreshold`). Default 10 failures, 60 s. */
  lockout?: LockoutPolicy;
  /** Token requests per tenant and client per minute before AADSTS50196 (see `TokenThrottle`). Default: off. */
  tokenRequestsPerMinute?: number;
  /** Rotate the signing key every this many seconds (the new key signs after half the interval). Default: never. */
  keyRotationIntervalSeconds?: number;
  /** Refuse reused certificate-assertion `jti`s (AADSTS7000274). Default false, as Entra (MSAL reuses assertions). */
  rejectAssertionReplay?: boolean;
  /**
   * Awaited after each write that other processes on the store may cache (directory objects the token
   * path caches, signing keys), before the write returns. Default: nothing (one process).
   */
  onChange?: () => Promise<void>;
  /**
   * Runs the timed key rotation while no other process on the store does (a store-wide lock): the
   * process that gets it reloads the keys and rotates only when no process rotated in the last half
   * interval, so N processes rotate about once per interval, not N times. Default: runs it.
   */
  exclusive?: (name: "key-rotation", work: () => Promise<void>) => Promise<void>;
}

/** The identity surface: admin service, routes, and a verifier for resource servers. */
export interface Identity {
  service: IdentityService;
  /**
   * The directory as other surfaces (the Graph API) read and write it: the same cached store the
   * token path uses, so its writes invalidate the token path's caches at once.
   */
  directory: DirectoryStore;
  urls: IdentityUrls;
  /** Verifies tokens this instance signed (what a resource server does with the JWKS). */
  verifier: TokenVerifier;
  /** The token-signing keys (JWKS); `keys.rotate()` starts a rollover. */
  keys: KeyRing;
  /** Starts a signing-key rollover (see {@link KeyRing.rotate}) with this instance's access-token lifetime. */
  rotateKeys(options?: { activateAfterSeconds?: number }): ReturnType<KeyRing["rotate"]>;
  /** Registers the Entra endpoints on a Fastify scope. */
  register(app: FastifyInstance): Promise<void>;
  /** Stops the key-rotation timer. Idempotent. */
  close(): void;
  /**
   * Forgets the directory lookups cached for the token path (tenants, apps, service principals,
   * credentials, app role assignments). Writes through identity invalidate by themselves; call
   * this after changing the database behind identity's back (a snapshot restore).
   */
  invalidateCaches(): void;
  /**
   * An access token of the "orgbox CLI" management service principal of a tenant, for Microsoft Graph
   * or another `resource` such as an org URL (see {@link managementToken}); for the admin endpoints
   * `POST /_orgbox/graph-token` and `/_orgbox/org-token` only.
   * @throws DirectoryError 404 for an unknown tenant.
   */
  managementToken(tenantIdOrDomain: string, resource?: string): Promise<ManagementToken>;
}

/** Builds the identity surface. Loads (or creates) the signing keys once. */
export async function createIdentity(options: IdentityOptions): Promise<Identity> {
  const { clock } = options;
  // Every identity read and write goes through this one store, so its writes invalidate its cache.
  const store = new CachedIdentityStore(options.store, options.onChange);
  const urls = new IdentityUrls(options.baseUrl);
  const keys = new KeyRing(store, clock);
  await keys.load();
  const signer = new TokenSigner(keys);
  const grants = new GrantRegistry().register(clientCredentialsGrant).register(passwordGrant).register(refreshTokenGrant).register(authorizationCodeGrant).register(deviceCodeGrantV2).register(deviceCodeGrantV1).register(jwtBearerGrant);
  const service = new IdentityService(store, clock, options.orgs);
  await service.ensureFirstPartyApps();
  // One key for every process on the store: a sign-in form served by one may be posted to another.
  const csrfKey = Buffer.from(await store.sharedSecret("csrf", () => randomBytes(32).toString("base64url")), "base64url");
  const verifier = createTokenVerifier(keys, () => epochSeconds(clock));
  const grantContext = { store, clock, signer, verifier, urls, resources: options.resources, accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds, rejectAssertionReplay: options.rejectAssertionReplay ?? false,
    refreshTokenLifetimeSeconds: options.refreshTokenLifetimeSeconds ?? 90 * 24 * 3600,
    spaRefreshTokenLifetimeSeconds: options.spaRefreshTokenLifetimeSeconds ?? 24 * 3600,
    refreshTokenRotation: options.refreshTokenRotation ?? "entra",
    lockout: options.lockout ?? DEFAULT_LOCKOUT,
    authorizationCodeLifetimeSeconds: 600,
    ...(options.tokenRequestsPerMinute ? { tokenThrottle: new TokenThrottle(options.tokenRequestsPerMinute, clock) } : {}),
  };
  const rotateKeys = (o: { activateAfterSeconds?: number } = {}) => keys.rotate({ activateAfterSeconds: o.activateAfterSeconds ?? 0, tokenLifetimeSeconds: options.accessTokenLifetimeSeconds });
  const interval = options.keyRotationIntervalSeconds;
  let timer: NodeJS.Timeout | undefined;
  if (interval !== undefined && interval > 0) {
    const exclusive = options.exclusive ?? ((_name, work) => work());
    timer = setInterval(() => {
      exclusive("key-rotation", async () => {
        await keys.refresh();
        // Another process on the store rotated in the last half interval: its key is the one to use.
        if (keys.newestCreatedAt() > clock.now() - (interval * 1000) / 2) return;
        await rotateKeys({ activateAfterSeconds: Math.floor(interval / 2) });
      }).catch(() => undefined);
    }, interval * 1000);
    timer.unref();
  }
  return {
    service,
    directory: store,
    urls,
    verifier,
    keys,
    rotateKeys,
    close: () => clearInterval(timer),
    invalidateCaches: () => store.invalidateCaches(),
    managementToken: (tenantIdOrDomain, resource) => managementToken(grantContext, tenantIdOrDomain, resource),
    register: async (app) => {
      await identityRoutes(app, { store, clock, urls, keys, grants, grantContext });
      await authorizeRoutes(app, { store, clock, grantContext, csrfKey });
      await adminConsentRoutes(app, { store, clock, grantContext, csrfKey });
      await logoutRoutes(app, { store, clock, grantContext, csrfKey, keys });
      await userInfoRoutes(app, { store, clock, urls, verifier });
      await deviceRoutes(app, { store, clock, grantContext, csrfKey });
    },
  };
}
