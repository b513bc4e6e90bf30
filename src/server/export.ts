import { exportEnvironment, type ExportedEnvironment, type ExportOptions } from "../environment/export.ts";
import { openOfflineServices, type OfflineStore } from "./offline.ts";

/**
 * Exports a persisted store (a data folder, or a PostgreSQL database) as an environment
 * (see `environment/export.ts`) without starting a server: opens the store and its services
 * (as every offline command, see `openOfflineServices`), reads it through the directory and org
 * services, and closes it.
 * @throws ConfigError when the folder holds no orgbox store.
 */
export async function exportStore(store: OfflineStore, options: ExportOptions = {}): Promise<ExportedEnvironment> {
  const services = await openOfflineServices(store);
  try {
    return await exportEnvironment(services.identity.service, services.dataverse.service, options);
  } finally {
    await services.close();
  }
}
