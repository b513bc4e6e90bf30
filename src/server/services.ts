import type { Logger } from "pino";
import type { Clock } from "../common/clock.ts";
import { systemClock, TravelClock } from "../common/clock.ts";
import { DEFAULTS, type OrgboxConfig } from "../config/config.ts";
import { createDataverse, upgradeOrg, type Dataverse, type Org } from "../dataverse/index.ts";
import { createIdentity, DYNAMICS_CRM_APP_ID, type Identity } from "../identity/index.ts";
import { openDatabase, type Database } from "../store/database.ts";
import { SqlDataverseStore } from "../store/dataverse-store.ts";
import { SqlIdentityStore } from "../store/identity-store.ts";
import { SqlOrgBindings } from "../store/org-bindings.ts";
import { currentCloudRequest, hostName } from "../common/cloud-hosts.ts";
import { OrgHosts } from "./org-hosts.ts";
import { TimeTravel } from "./time-travel.ts";

/** The store to open: an in-memory SQLite, a data folder (`{dataDir}/orgbox.sqlite`), or a PostgreSQL database (`storeUrl`). */
export type ServicesStore = Pick<OrgboxConfig, "inMemory" | "dataDir"> & Partial<Pick<OrgboxConfig, "storeUrl">>;

/** The settings {@link openServices} reads: the store, and the identity and Dataverse options (each defaults as in `config.ts`). */
export type ServicesConfig = ServicesStore &
  Partial<
    Pick<
      OrgboxConfig,
      | "accessTokenLifetimeSeconds"
      | "keyRotationIntervalSeconds"
      | "rejectAssertionReplay"
      | "refreshTokenLifetimeSeconds"
      | "spaRefreshTokenLifetimeSeconds"
      | "refreshTokenRotation"
      | "lockoutThreshold"
      | "lockoutDurationSeconds"
      | "legacyApplicationUserRule"
      | "serviceProtection"
      | "serviceProtectionRequests"
      | "serviceProtectionExecutionSeconds"
      | "serviceProtectionConcurrency"
      | "serviceProtectionWindowSeconds"
      | "tokenRequestsPerMinute"
    >
  >;

/** What is not configuration: the clock, the log, and where the services are reachable. */
export interface ServicesRuntime {
  /** Source of "now" for every service (token lifetimes, record timestamps, key rotation). Default: the wall clock. */
  clock?: Clock;
  /** Receives the store's permission warnings and the upgrade of an older data folder. Default: silent. */
  logger?: Pick<Logger, "info" | "warn">;
  /**
   * The public base URL (`https://localhost:8443`), read on every use: a server learns its port only
   * after it listens. Default `""` (offline commands emit no URL).
   */
  baseUrl?: () => string;
  /** The cloud host name of each org (`{name}.crm.dynamics.com` unless the environment names another). Default: that rule for every org. */
  orgHosts?: OrgHosts;
}

/** The opened store and the services over it. */
export interface Services {
  database: Database;
  identity: Identity;
  dataverse: Dataverse;
  /** orgbox's clock: the runtime clock (default the wall clock) plus the time-travel offset kept in the store. */
  clock: TravelClock;
  /** Moves {@link clock} forward and keeps the offset in the store (see `time-travel.ts`). */
  timeTravel: TimeTravel;
  /**
   * Drops the identity directory cache and Dataverse's caches (security state, org lookups, custom
   * definitions) and reloads the signing keys when another process (an offline `orgbox` command,
   * another orgbox on the same store) committed a change to the store since the previous call, so the
   * next answer reads what it wrote. Call once per request, before any cached read: costs one
   * `PRAGMA data_version` on a SQLite file (microseconds, no I/O, answered synchronously: `undefined`
   * when there is nothing to wait for) and one read of the change counter on PostgreSQL (see
   * `store/postgres/changes.ts`). It then also re-reads the clock offset (an offline `orgbox clock
   * advance`, another process's move). The promise settles once the caches reflect the store.
   * @throws (rejects with) the store's error when the counter cannot be read.
   */
  syncWithStore(): Promise<void> | undefined;
  /** Stops the key-rotation timer and closes the store. Idempotent. */
  close(): Promise<void>;
}

/**
 * The one place the services are wired, for `start` and every offline command (`export`, `keys rotate`,
 * the directory and security commands): opens the store for `config` (running its migrations), builds the
 * identity services (store cache, key ring: a first signing key on an empty store) and the Dataverse
 * services (with their caches), wires Dataverse's trust in identity's tokens and its directory lookups of
 * service principals, and upgrades the orgs of an older data folder to this build's standard tables
 * (see `dataverse/upgrade.ts`).
 * @throws when the store cannot be opened, a migration fails, or the data folder is not writable; the store is closed again.
 */
export async function openServices(config: ServicesConfig, runtime: ServicesRuntime = {}): Promise<Services> {
  const clock = new TravelClock(runtime.clock ?? systemClock);
  const logger = runtime.logger;
  const baseUrl = runtime.baseUrl ?? (() => "");
  const database = await openDatabase({ inMemory: config.inMemory, dataDir: config.dataDir, storeUrl: config.storeUrl, onPermissions: (message) => logger?.warn(message) });
  let identity: Identity | undefined;
  try {
    // Two processes starting on one store: one at a time creates the first key, first-party apps and upgrades.
    return await database.exclusive("startup", () => wire());
  } catch (error) {
    identity?.close();
    await database.close().catch(() => undefined);
    throw error;
  }

  async function wire(): Promise<Services> {
    // The time-travel offset first: the key ring reads the clock when it is created.
    const timeTravel = new TimeTravel(clock, database.db, () => database.announceChange());
    await timeTravel.reload();
    const identityStore = new SqlIdentityStore(database.db);
    const dataverseStore = new SqlDataverseStore(database.db, database.adapter);
    const orgHosts = runtime.orgHosts ?? new OrgHosts();
    // The org URL answers carry: `{base}/org/{name}`, or `https://{host}` for a request addressed to the org's cloud host (the proxy).
    const orgUrl = (org: Pick<Org, "name">) => {
      const cloud = currentCloudRequest();
      if (!cloud) return `${baseUrl()}/org/${org.name}`;
      return cloud.kind === "org" && orgHosts.orgFor(cloud.host) === org.name ? `https://${cloud.host}` : `https://${orgHosts.hostOf(org.name)}`;
    };

    identity = await createIdentity({
      store: identityStore,
      orgs: new SqlOrgBindings(database.db),
      clock,
      baseUrl,
      accessTokenLifetimeSeconds: config.accessTokenLifetimeSeconds ?? DEFAULTS.accessTokenLifetimeSeconds,
      keyRotationIntervalSeconds: config.keyRotationIntervalSeconds,
      rejectAssertionReplay: config.rejectAssertionReplay ?? DEFAULTS.rejectAssertionReplay,
      refreshTokenLifetimeSeconds: config.refreshTokenLifetimeSeconds ?? DEFAULTS.refreshTokenLifetimeSeconds,
      spaRefreshTokenLifetimeSeconds: config.spaRefreshTokenLifetimeSeconds ?? DEFAULTS.spaRefreshTokenLifetimeSeconds,
      refreshTokenRotation: config.refreshTokenRotation ?? DEFAULTS.refreshTokenRotation,
      onChange: () => database.announceChange(),
      exclusive: (name, work) => database.exclusive(name, work),
      lockout: { threshold: config.lockoutThreshold ?? DEFAULTS.lockoutThreshold, durationSeconds: config.lockoutDurationSeconds ?? DEFAULTS.lockoutDurationSeconds },
      ...(config.tokenRequestsPerMinute ? { tokenRequestsPerMinute: config.tokenRequestsPerMinute } : {}),
      resources: {
        async appIdForIdentifier(uri) {
          const base = baseUrl();
          const match = /^(https?:\/\/[^/]+)\/org\/([a-z0-9]+)$/i.exec(uri);
          // An org's cloud URL (`https://contoso.crm.dynamics.com`, its `api` form) names it as well, however the token is asked for.
          const cloud = /^https:\/\/([^/:]+)$/i.exec(uri);
          const name = match && (match[1] as string).toLowerCase() === base.toLowerCase() ? (match[2] as string) : cloud ? orgHosts.orgFor(hostName(cloud[1])) : undefined;
          if (name === undefined) return undefined;
          return (await dataverseStore.findOrg(name)) ? DYNAMICS_CRM_APP_ID : undefined;
        },
      },
    });
    const ready = identity;
    const dataverse = createDataverse({
      store: dataverseStore,
      legacyApplicationUserRule: config.legacyApplicationUserRule ?? DEFAULTS.legacyApplicationUserRule,
      serviceProtection: (config.serviceProtection ?? DEFAULTS.serviceProtection) && {
        requestsPerWindow: config.serviceProtectionRequests ?? DEFAULTS.serviceProtectionRequests,
        executionTimeSecondsPerWindow: config.serviceProtectionExecutionSeconds ?? DEFAULTS.serviceProtectionExecutionSeconds,
        concurrentRequests: config.serviceProtectionConcurrency ?? DEFAULTS.serviceProtectionConcurrency,
        windowSeconds: config.serviceProtectionWindowSeconds ?? DEFAULTS.serviceProtectionWindowSeconds,
      },
      onChange: () => database.announceChange(),
      clock,
      orgUrl,
      trust: {
        verify: ready.verifier,
        issuers: (tid) => ready.urls.acceptedIssuers(tid),
        // Whichever way the token was asked for: the org's path URL on orgbox and its cloud host URLs.
        audiences: (org) => [`${baseUrl()}/org/${org.name}`, ...orgHosts.urlsOf(org.name)],
        orgForAudience: (aud) => {
          const cloud = /^https:\/\/([^/:]+)\/?$/i.exec(aud);
          return cloud ? orgHosts.orgFor(hostName(cloud[1])) : undefined;
        },
        authorizationUri: (tid) => `${ready.urls.base}/${tid}/oauth2/authorize`,
      },
      directory: {
        async servicePrincipal(tenantId, appId) {
          const sp = await ready.service.findServicePrincipal(tenantId, appId);
          if (!sp) return undefined;
          const app = await ready.service.findApplication(appId);
          return { objectId: sp.id, applicationIdUri: app?.identifierUris[0] ?? null, displayName: sp.displayName };
        },
        async user(tenantId, objectId) {
          const user = await ready.service.findUser(objectId);
          if (!user || user.id !== objectId.toLowerCase() || user.tenantId !== tenantId) return undefined;
          return { objectId: user.id, userPrincipalName: user.userPrincipalName, displayName: user.displayName, givenName: user.givenName, surname: user.surname };
        },
      },
    });

    // A data folder from an older build: add the standard tables, columns and privileges added since.
    for (const org of await dataverse.service.listOrgs()) {
      const added = await upgradeOrg(dataverse.service, dataverseStore, org);
      if (added.tables.length + added.columns.length + added.privileges > 0) logger?.info({ org: org.name, ...added }, "upgraded the org's standard tables to this build");
    }

    let closing: Promise<void> | undefined;
    // A key reload in progress (after a change elsewhere): every request waits for it, not only the one that saw the change.
    let refreshing: Promise<void> | undefined;
    // A reload that failed (the store unreachable) is tried again by the next request.
    let stale = false;
    const drop = (): Promise<void> => {
      ready.invalidateCaches();
      dataverse.service.invalidateCaches();
      const run = timeTravel.reload().then(() => ready.keys.refresh()).catch((error: unknown) => {
        stale = true;
        throw error;
      });
      refreshing = run;
      const settle = () => {
        if (refreshing === run) refreshing = undefined;
      };
      run.then(settle, settle);
      return run;
    };
    return {
      database,
      identity: ready,
      dataverse,
      clock,
      timeTravel,
      syncWithStore() {
        if (stale) {
          stale = false;
          return drop();
        }
        const changed = database.changedElsewhere();
        if (changed === true) return drop();
        if (changed === false) return refreshing;
        return changed.then((moved) => (moved ? drop() : refreshing));
      },
      close() {
        closing ??= (async () => {
          ready.close();
          await database.close();
        })();
        return closing;
      },
    };
  }
}
