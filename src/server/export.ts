import { systemClock } from "../common/clock.ts";
import { DataverseService } from "../dataverse/index.ts";
import { exportEnvironment, type ExportedEnvironment, type ExportOptions } from "../environment/export.ts";
import { IdentityService } from "../identity/service.ts";
import { openOfflineStore, type OfflineStore } from "./offline.ts";
import { SqlDataverseStore } from "../store/dataverse-store.ts";
import { SqlIdentityStore } from "../store/identity-store.ts";
import { SqlOrgBindings } from "../store/org-bindings.ts";

/**
 * Exports a persisted store (a data folder, or a PostgreSQL database) as an environment
 * (see `environment/export.ts`) without starting a server: opens the store, reads
 * it through the directory and org services, and closes it.
 * @throws ConfigError when the folder holds no orgbox store.
 */
export async function exportStore(store: OfflineStore, options: ExportOptions = {}): Promise<ExportedEnvironment> {
  const database = await openOfflineStore(store);
  try {
    const identity = new IdentityService(new SqlIdentityStore(database.db), systemClock, new SqlOrgBindings(database.db));
    const dataverse = new DataverseService(new SqlDataverseStore(database.db, database.adapter), systemClock, {
      async servicePrincipal() {
        return undefined; // export only reads: application users are never created here
      },
    });
    return await exportEnvironment(identity, dataverse, options);
  } finally {
    await database.close();
  }
}
