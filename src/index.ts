/**
 * orgbox's programmatic API, for test suites:
 *
 * ```ts
 * import { startOrgbox } from "orgbox";
 * const orgbox = await startOrgbox();          // in memory, free port, silent
 * // orgbox.authority, orgbox.orgUrl, orgbox.demo.clientId, orgbox.caCert …
 * await orgbox.close();
 * ```
 */
import { defaultTempCaDir } from "./common/tls.ts";
import { createLogger } from "./common/logger.ts";
import { systemClock, type Clock } from "./common/clock.ts";
import { resolveConfig, type OrgboxConfigInput } from "./config/config.ts";
import { createOrgbox, type OrgboxInstance } from "./server/create-orgbox.ts";
import type { OrgboxEnvironment } from "./environment/schema.ts";

export type { OrgboxConfig, OrgboxConfigInput } from "./config/config.ts";
export type { OrgboxInstance, DemoInfo, OrgboxSnapshot, OrgboxClock, FaultInjector, FaultRule, FaultRuleInput } from "./server/create-orgbox.ts";
export type { ClockState } from "./server/time-travel.ts";
export type { OrgboxEnvironment } from "./environment/schema.ts";
export { defineEnvironment } from "./environment/schema.ts";
export type { LoadedEnvironment } from "./environment/load.ts";
export { loadEnvironmentFile } from "./environment/load.ts";
export { EnvironmentError } from "./environment/read.ts";
export { DEMO } from "./server/demo.ts";
export { ManualClock, type Clock } from "./common/clock.ts";
export { trustCa, type OrgboxCa } from "./common/trust-ca.ts";

/** Options of {@link startOrgbox}: the same keys as the CLI flags (see the README's configuration table). */
export type StartOptions = OrgboxConfigInput & {
  /** Config or environment file (`.json`, `.yaml`, `.ts`/`.js`): the same as `configFile`, as `--config`. */
  config?: string;
  /** An environment given as data, applied at start (the demo is then skipped unless it says `seedDemo: true`). */
  environment?: OrgboxEnvironment;
};

/** Runtime hooks that are not configuration: for tests that move time. */
export interface StartRuntime {
  /** Source of "now" for token lifetimes, secret expiry and record timestamps. Default: the wall clock. */
  clock?: Clock;
}

/**
 * Starts orgbox in process. Defaults differ from the CLI for test suites:
 * in memory, port 0 (a free port), logs silent, no proxy (`proxy: true` starts it). `ORGBOX_*` variables are not read;
 * pass options explicitly.
 * @throws ConfigError for invalid options; errors from listening (port in use).
 */
export async function startOrgbox(options: StartOptions = {}, runtime: StartRuntime = {}): Promise<OrgboxInstance> {
  const { config: configPath, environment, ...rest } = options;
  const input: OrgboxConfigInput = configPath !== undefined && rest.configFile === undefined ? { ...rest, configFile: configPath } : rest;
  // In memory unless given a data folder or a PostgreSQL store; the CA is the shared temp one unless given a data folder.
  const base = { inMemory: options.dataDir === undefined && options.storeUrl === undefined, port: 0, logLevel: "silent" as const, proxy: false, ...(options.dataDir === undefined ? { caDir: defaultTempCaDir() } : {}) };
  const config = resolveConfig(input, {}, base);
  return createOrgbox(config, createLogger(config.logLevel, undefined, config.logFormat), runtime.clock ?? systemClock, environment ? { environment } : {});
}
