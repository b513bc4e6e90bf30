import { createHash, timingSafeEqual } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { FastifyInstance } from "fastify";
import type { Clock } from "../common/clock.ts";
import { OrgboxError } from "../common/errors.ts";
import type { Dataverse } from "../dataverse/index.ts";
import { DirectoryError, type Identity } from "../identity/index.ts";
import type { Database } from "../store/database.ts";
import { UnknownOrgError, type OrgManagementToken } from "./org-token.ts";
import { registerFaultRoutes, type FaultInjector } from "./faults.ts";
import { registerClockAdmin } from "./clock-admin.ts";
import { registerInteractionAdmin } from "./interaction-admin.ts";
import type { TimeTravel } from "./time-travel.ts";

/** A named checkpoint of a running orgbox (see `OrgboxInstance.snapshot` in create-orgbox.ts). */
export interface OrgboxSnapshot {
  name: string;
  /** When it was taken (ms since the epoch, orgbox's clock). */
  takenAt: number;
}

const SNAPSHOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The start checkpoint and the named ones, over the store's dialect-neutral snapshots.
 *
 * One process only: a checkpoint lives in the process that took it (PostgreSQL: temporary tables of
 * its snapshot connection; SQLite: tables of its attached file), and each process's start checkpoint
 * is the store as that process found it. So while more than one process serves the store (several
 * `orgbox start` on one PostgreSQL database, or `start --workers N`), `reset`, `take` and `restore`
 * refuse with a {@link SharedStoreError} naming why, instead of restoring one process's idea of the
 * store under the others.
 */
export class Checkpoints {
  private readonly database: Database;
  private readonly dataverse: Dataverse;
  private readonly identity: Identity;
  private readonly clock: Clock;
  private readonly baseline: string | undefined;
  private readonly named = new Map<string, { handle: string; takenAt: number }>();
  private counter = 0;
  private readonly workers: number;
  private readonly afterRestore: () => Promise<void>;

  /**
   * @param baseline the start checkpoint's handle; undefined only with `workers` above 1 (reset then always refuses).
   * @param workers processes `start --workers` runs on this store (each one a `Checkpoints`); default 1.
   * @param afterRestore runs after every reset and restore (time travel writes its offset back: the clock never goes back).
   */
  constructor(database: Database, dataverse: Dataverse, identity: Identity, clock: Clock, baseline: string | undefined, workers = 1, afterRestore: () => Promise<void> = async () => undefined) {
    this.afterRestore = afterRestore;
    this.database = database;
    this.dataverse = dataverse;
    this.identity = identity;
    this.clock = clock;
    this.baseline = baseline;
    this.workers = workers;
  }

  /** @throws SharedStoreError when another process serves the store too. */
  private async refuseWhenShared(action: string): Promise<void> {
    const serving = Math.max(this.workers, await this.database.servingProcesses());
    if (serving <= 1) return;
    throw new SharedStoreError(
      `${action} is not available while ${serving} orgbox processes serve this store: checkpoints are kept by the process that took them, and each process's start checkpoint is the store as it found it. Run a single orgbox process (without --workers) for tests that reset or snapshot.`,
    );
  }

  /**
   * Restores the start checkpoint; the service protection counters start over too, as right after start
   * (fault rules stay). @throws SharedStoreError while other processes serve the store.
   */
  async reset(): Promise<void> {
    await this.refuseWhenShared("reset");
    if (this.baseline === undefined) throw new SharedStoreError("reset is not available: this process took no start checkpoint (it runs under start --workers)");
    await this.database.snapshots.restore(this.baseline);
    await this.changed();
  }

  /**
   * The store changed behind the caches: drop this process's, and tell the others (offline commands).
   * The key ring is kept (tokens already issued stay valid, see `OrgboxInstance.reset`).
   */
  private async changed(): Promise<void> {
    this.dataverse.service.invalidateCaches();
    this.identity.invalidateCaches();
    this.dataverse.protection?.clear();
    await this.afterRestore();
    await this.database.announceChange();
  }

  /** @throws SnapshotNameError for a bad name; SharedStoreError while other processes serve the store. */
  async take(name?: string): Promise<OrgboxSnapshot> {
    const chosen = name ?? `snapshot-${++this.counter}`;
    if (!SNAPSHOT_NAME.test(chosen)) throw new SnapshotNameError(`snapshot names are 1–64 letters, digits, '.', '_' or '-' (got '${chosen}')`);
    await this.refuseWhenShared("taking a snapshot");
    const handle = await this.database.snapshots.take();
    const previous = this.named.get(chosen);
    const takenAt = this.clock.now();
    this.named.set(chosen, { handle, takenAt });
    if (previous) await this.database.snapshots.drop(previous.handle);
    return { name: chosen, takenAt };
  }

  /** @throws UnknownSnapshotError for a name nobody took; SharedStoreError while other processes serve the store. */
  async restore(name: string): Promise<void> {
    await this.refuseWhenShared("restoring a snapshot");
    const found = this.named.get(name);
    if (!found) throw new UnknownSnapshotError(`no snapshot named '${name}'`);
    await this.database.snapshots.restore(found.handle);
    await this.changed();
  }
}

/** Reset or a snapshot while several processes serve the store: 409 `conflict` on the admin surface. */
export class SharedStoreError extends OrgboxError {
  constructor(message: string) {
    super(409, message);
  }
}

/** A snapshot name outside `[A-Za-z0-9._-]{1,64}`: 400 `invalid_request` on the admin surface. */
export class SnapshotNameError extends OrgboxError {
  constructor(message: string) {
    super(400, message);
  }
}

/** A snapshot name nobody took: 404 `not_found` on the admin surface. */
export class UnknownSnapshotError extends OrgboxError {
  constructor(message: string) {
    super(404, message);
  }
}

/** `Authorization: Bearer {key}`, compared in constant time (digests of equal length). */
function adminAuthorized(header: string | undefined, key: string): boolean {
  const match = /^Bearer (.+)$/i.exec(header ?? "");
  if (!match) return false;
  const given = createHash("sha256").update(match[1] as string).digest();
  const expected = createHash("sha256").update(key).digest();
  return timingSafeEqual(given, expected);
}

/** What the admin surface serves (see {@link registerAdmin}); each optional part adds its endpoints. */
export interface AdminOptions {
  /** The admin key every request must send as `Authorization: Bearer {key}`. */
  key: string;
  checkpoints: Checkpoints;
  /** `POST /_orgbox/graph-token` and `/_orgbox/interaction-requirements`. */
  identity?: Pick<Identity, "managementToken" | "service">;
  /** `POST /_orgbox/org-token`. */
  orgToken?: (org: string) => Promise<OrgManagementToken>;
  /** `/_orgbox/faults`. */
  faults?: FaultInjector;
  /** `GET`/`POST /_orgbox/clock`. */
  timeTravel?: TimeTravel;
}

/**
 * The admin surface, only when `adminKey` is configured (404 otherwise, as for any
 * unknown path): `POST /_orgbox/reset`, `POST /_orgbox/snapshots` (`{"name"?}` → `{name}`),
 * `POST /_orgbox/snapshots/{name}/restore` (each 409 `conflict` while several processes serve the store,
 * see {@link Checkpoints}), and `POST /_orgbox/graph-token` (`{"tenant": "<id|domain>"}` →
 * `{token_type, access_token, expires_in (seconds), tenant_id}`: a Microsoft Graph token of the tenant's
 * "orgbox CLI" management service principal, see `Identity.managementToken`; 400 without a tenant, 404 for
 * an unknown one), `POST /_orgbox/org-token` (`{"org": "<name>"}` → the same plus `org_url`: a Web API
 * token of that principal for the org, whose application user it ensures; see `orgManagementToken`; 400
 * without an org, 404 for an unknown one), and `/_orgbox/faults` (fault injection, see
 * `registerFaultRoutes` in faults.ts), `GET`/`POST /_orgbox/clock` (time travel, clock-admin.ts) and
 * `/_orgbox/interaction-requirements` (interaction-admin.ts). Every one needs `Authorization: Bearer {adminKey}` (401 otherwise).
 */
export async function registerAdmin(app: FastifyInstance, options: AdminOptions): Promise<void> {
  const { key, checkpoints, identity, orgToken, faults, timeTravel } = options;
  await app.register(async (scope) => {
    // Bodies are optional: accept an empty body whatever the content type says.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "string" }, (_request, body, done) => {
      const text = typeof body === "string" ? body.trim() : "";
      if (text === "") return done(null, undefined);
      try {
        done(null, JSON.parse(text) as unknown);
      } catch {
        done(null, undefined);
      }
    });
    scope.addHook("onRequest", async (request, reply) => {
      if (!adminAuthorized(request.headers.authorization, key)) {
        return reply.status(401).header("www-authenticate", 'Bearer realm="orgbox-admin"').send({ error: "unauthorized", error_description: "send Authorization: Bearer {adminKey}" });
      }
      return undefined;
    });
    if (faults) registerFaultRoutes(scope, faults);
    if (timeTravel) registerClockAdmin(scope, timeTravel);
    if (identity) registerInteractionAdmin(scope, identity.service);
    scope.post("/_orgbox/reset", async (_request, reply) => {
      const started = performance.now();
      try {
        await checkpoints.reset();
      } catch (error) {
        if (error instanceof SharedStoreError) return reply.status(error.status).send({ error: "conflict", error_description: error.message });
        throw error;
      }
      return reply.send({ status: "reset", ms: Math.round((performance.now() - started) * 100) / 100 });
    });
    scope.post("/_orgbox/snapshots", async (request, reply) => {
      const body = request.body as { name?: unknown } | undefined;
      const query = request.query as { name?: string };
      const name = typeof body?.name === "string" ? body.name : query.name;
      try {
        const snapshot = await checkpoints.take(name);
        return reply.status(201).send({ name: snapshot.name });
      } catch (error) {
        if (error instanceof SnapshotNameError) return reply.status(error.status).send({ error: "invalid_request", error_description: error.message });
        if (error instanceof SharedStoreError) return reply.status(error.status).send({ error: "conflict", error_description: error.message });
        throw error;
      }
    });
    if (identity) {
      scope.post("/_orgbox/graph-token", async (request, reply) => {
        const body = request.body as { tenant?: unknown } | undefined;
        const tenant = typeof body?.tenant === "string" ? body.tenant.trim() : "";
        if (tenant === "") return reply.status(400).send({ error: "invalid_request", error_description: 'send {"tenant": "<tenant id or domain>"}' });
        try {
          const token = await identity.managementToken(tenant);
          return reply.header("cache-control", "no-store").send({ token_type: "Bearer", access_token: token.accessToken, expires_in: token.expiresIn, tenant_id: token.tenantId });
        } catch (error) {
          if (error instanceof DirectoryError && error.status === 404) return reply.status(404).send({ error: "not_found", error_description: error.message });
          if (error instanceof DirectoryError && error.status === 403) return reply.status(403).send({ error: "forbidden", error_description: error.message });
          throw error;
        }
      });
    }
    if (orgToken) {
      scope.post("/_orgbox/org-token", async (request, reply) => {
        const body = request.body as { org?: unknown } | undefined;
        const org = typeof body?.org === "string" ? body.org.trim() : "";
        if (org === "") return reply.status(400).send({ error: "invalid_request", error_description: 'send {"org": "<org name>"}' });
        try {
          const token = await orgToken(org);
          return reply.header("cache-control", "no-store").send({ token_type: "Bearer", access_token: token.accessToken, expires_in: token.expiresIn, tenant_id: token.tenantId, org_url: token.orgUrl });
        } catch (error) {
          if (error instanceof UnknownOrgError) return reply.status(404).send({ error: "not_found", error_description: error.message });
          if (error instanceof DirectoryError && error.status === 403) return reply.status(403).send({ error: "forbidden", error_description: error.message });
          throw error;
        }
      });
    }
    scope.post("/_orgbox/snapshots/:name/restore", async (request, reply) => {
      try {
        await checkpoints.restore((request.params as { name: string }).name);
        return reply.send({ status: "restored" });
      } catch (error) {
        if (error instanceof UnknownSnapshotError) return reply.status(error.status).send({ error: "not_found", error_description: error.message });
        if (error instanceof SharedStoreError) return reply.status(error.status).send({ error: "conflict", error_description: error.message });
        throw error;
      }
    });
  });
}
