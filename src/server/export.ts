import { existsSync } from "node:fs";
import { join } from "node:path";
import { systemClock } from "../common/clock.ts";
import { ConfigError } from "../common/errors.ts";
import { DataverseService } from "../dataverse/index.ts";
import { exportEnvironment, type ExportedEnvironment, type ExportOptions } from "../environment/export.ts";
import { IdentityService } from "../identity/service.ts";
import { openDatabase } from "../store/database.ts";
import { SqlDataverseStore } from "../store/dataverse-store.ts";
import { SqlIdentityStore } from "../store/identity-store.ts";

/**
 * Exports the store in `dataDir` (`{dataDir}/orgbox.sqlite`) as an environment
 * (see `environment/export.ts`) without starting a server: opens the store, reads
 * it through the directory and org services, and closes it.
 * @throws ConfigError when the folder holds no orgbox store.
 */
export async function exportDataDir(dataDir: string, options: ExportOptions = {}): Promise<ExportedEnvironment> {
  if (!existsSync(join(dataDir, "orgbox.sqlite"))) throw new ConfigError(`no orgbox store in '${dataDir}' (expected ${join(dataDir, "orgbox.sqlite")}); give the --data folder of an orgbox that ran`);
  const database = await openDatabase({ inMemory: false, dataDir });
  try {
    const identity = new IdentityService(new SqlIdentityStore(database.db), systemClock);
    const dataverse = new DataverseService(new SqlDataverseStore(database.db, () => database.afterDdl(), { dialect: database.dialect }), systemClock, {
      async servicePrincipal() {
        return undefined; // export only reads: application users are never created here
      },
    });
    return await exportEnvironment(identity, dataverse, options);
  } finally {
    await database.close();
  }
}
