/**
 * What a start does with an environment file on a persisted store that already holds it (a store an earlier start
 * applied the file to): by default it says so and keeps the store as it is; with `reapply` it rebuilds a data
 * folder's store from the file, the old store kept beside it as a backup.
 */
import { existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { ConfigError } from "../common/errors.ts";
import type { OrgboxConfig } from "../config/config.ts";

/** Suffix of the backup of a store rebuilt by `--reapply`: `orgbox.sqlite.before-reapply` (with its `-wal`). */
export const REAPPLY_BACKUP_SUFFIX = ".before-reapply";

/** The settings the decision reads. */
export type ReapplyConfig = Pick<OrgboxConfig, "inMemory" | "dataDir" | "storeUrl" | "reapply">;

/**
 * Decides, for an environment the store already holds, whether the store is rebuilt from the file.
 * Without `reapply`: logs (warn) that the file was not applied again and names `--reapply`; returns false.
 * With `reapply` on a data folder: moves `orgbox.sqlite` (and its `-wal`, `-shm`) aside to
 * `orgbox.sqlite.before-reapply` (replacing an older backup), logs it, and returns true: the caller opens the
 * store again (empty) and applies the environment (the demo too, when it is wanted). The token-signing keys are in
 * the store, so tokens issued before no longer validate; the local CA (`{dataDir}/ca`) stays.
 * @param source the environment's file (for the messages).
 * @param holds what shows the store holds the environment (e.g. `tenant 'fabrikam.onmicrosoft.com'`).
 * @throws ConfigError with `reapply` on a PostgreSQL store (`storeUrl`): orgbox does not drop a database's
 *   contents; recreate the database to start again.
 */
export function rebuildForReapply(config: ReapplyConfig, source: string, holds: string, logger: Pick<Logger, "warn" | "info">): boolean {
  const where = config.storeUrl !== undefined ? "the PostgreSQL store" : `the store in ${config.dataDir}`;
  if (!config.reapply) {
    logger.warn(
      { source, store: config.storeUrl !== undefined ? "postgres" : config.dataDir },
      `environment file ${source} not applied: ${where} already holds its ${holds} from an earlier start, so edits made to the file since then are not in the store. Start with --reapply (ORGBOX_REAPPLY=1) to rebuild the store from the file (the old store is kept as orgbox.sqlite${REAPPLY_BACKUP_SUFFIX}), or with an empty --data folder`,
    );
    return false;
  }
  if (config.storeUrl !== undefined) {
    throw new ConfigError(`--reapply rebuilds a data folder's store; with --store-url, orgbox does not drop a PostgreSQL database's contents: drop and recreate the database (or use a new one), then start again`);
  }
  const file = join(config.dataDir, "orgbox.sqlite");
  const backup = `${file}${REAPPLY_BACKUP_SUFFIX}`;
  for (const companion of ["", "-wal", "-shm", "-journal"]) rmSync(`${backup}${companion}`, { force: true });
  for (const companion of ["", "-wal", "-shm", "-journal"]) if (existsSync(`${file}${companion}`)) renameSync(`${file}${companion}`, `${backup}${companion}`);
  logger.info({ source, backup }, `--reapply: rebuilding the store in ${config.dataDir} from ${source}; the previous store is kept as ${backup}`);
  return true;
}
