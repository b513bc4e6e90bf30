import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";
import type { Logger } from "pino";
import { ensureLocalTls } from "../common/tls.ts";
import type { OrgboxConfig } from "../config/config.ts";
import type { DemoInfo, OrgboxInstance } from "../server/create-orgbox.ts";

/** What `orgbox start` prints when it is ready (the `--json` line, and the banner's facts). */
export interface ReadyInfo {
  url: string;
  /** The port listened on (the URLs carry `publicPort` when it is set). */
  port: number;
  tenantId: string;
  tenantDomain: string;
  authority: string;
  orgUrl: string;
  apiUrl: string;
  caCertPath: string | null;
  /** The HTTP proxy that answers as the Microsoft host names (`--no-proxy`: null). */
  proxyUrl: string | null;
  /** The first org's cloud URL (`https://contoso.crm.dynamics.com`), as reached through the proxy. */
  cloudOrgUrl: string;
  demo: DemoInfo;
  /** Processes serving (`--workers`). */
  workers: number;
}

/** The ready facts of a started instance. */
export function readyInfo(orgbox: OrgboxInstance, workers: number): ReadyInfo {
  return {
    url: orgbox.url,
    port: orgbox.port,
    tenantId: orgbox.tenantId,
    tenantDomain: orgbox.tenantDomain,
    authority: orgbox.authority,
    orgUrl: orgbox.orgUrl,
    apiUrl: orgbox.apiUrl,
    caCertPath: orgbox.caCertPath ?? null,
    proxyUrl: orgbox.proxyUrl ?? null,
    cloudOrgUrl: orgbox.cloudOrgUrl,
    demo: orgbox.demo,
    workers,
  };
}

/**
 * How many processes `orgbox start` runs: `config.workers` when set (more than one only on
 * PostgreSQL, see `resolveConfig`), else one per core (`os.availableParallelism()`) on PostgreSQL
 * without `adminKey` (reset and snapshots live in one process, see `Checkpoints`), else 1. A worker
 * process (`node:cluster`) gets the same answer from the same flags and environment.
 */
export function workerCount(config: Pick<OrgboxConfig, "workers" | "storeUrl" | "adminKey">): number {
  if (config.workers !== undefined) return config.workers;
  return config.storeUrl !== undefined && config.adminKey === undefined ? availableParallelism() : 1;
}

/** True in a process `orgbox start --workers` forked (see {@link runPrimary}). */
export function isWorker(): boolean {
  return cluster.isWorker;
}

/** Messages a worker sends the primary. */
type WorkerMessage = { type: "ready"; ready: ReadyInfo } | { type: "failed"; message: string };

/** In a worker: tells the primary this process listens (or why it could not start). */
export function reportToPrimary(message: WorkerMessage): void {
  process.send?.(message);
}

/**
 * The primary of `orgbox start --workers N`: prepares what workers must not race for (the local CA
 * and server certificate), forks `workers` processes of this command with `node:cluster` (each one
 * opens the store and listens; the primary holds the listening socket and hands connections round
 * robin, so port 0 gives every worker the same port), and resolves with the first worker's ready facts
 * once all listen. A worker that exits later is replaced; SIGINT/SIGTERM stop them all, then the primary.
 * @throws Error with the worker's message when one fails to start (the others are stopped first).
 */
export async function runPrimary(config: OrgboxConfig, workers: number, logger: Logger): Promise<ReadyInfo> {
  if (!config.http) await ensureLocalTls(config.caDir, config.publicHost === "localhost" ? [] : [config.publicHost], (message) => logger.warn(message));
  let stopping = false;
  const fork = (): Worker => cluster.fork({ ORGBOX_JSON: "" });
  const ready = await new Promise<ReadyInfo>((resolve, reject) => {
    const waiting = new Set<Worker>();
    let first: ReadyInfo | undefined;
    const fail = (message: string) => {
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
      reject(new Error(message));
    };
    for (let i = 0; i < workers; i++) waiting.add(fork());
    cluster.on("message", (worker, message: WorkerMessage) => {
      if (message.type === "failed") return fail(message.message);
      if (message.type !== "ready" || !waiting.delete(worker)) return;
      first ??= message.ready;
      if (waiting.size === 0) resolve({ ...first, workers });
    });
    cluster.on("exit", (worker, code, signal) => {
      if (stopping) return;
      if (waiting.has(worker)) return fail(`a worker process exited before it was ready (code ${code ?? signal})`);
      logger.warn({ pid: worker.process.pid, code, signal }, "worker process exited; starting another");
      fork();
    });
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
    let left = alive.length;
    if (left === 0) process.exit(0);
    for (const worker of alive) {
      worker.once("exit", () => {
        if (--left === 0) {
          logger.flush();
          process.exit(0);
        }
      });
      worker.process.kill("SIGTERM");
    }
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  return ready;
}
