import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../common/errors.ts";
import { DEFAULTS } from "../config/config.ts";
import { DEPTHS, type DataverseService, type Depth, type Org } from "../dataverse/index.ts";
import type { IdentityService } from "../identity/index.ts";
import { openServices, type Services, type ServicesStore } from "./services.ts";

/** The directory and org services over a persisted store, without a server. */
export interface OfflineServices {
  identity: IdentityService;
  dataverse: DataverseService;
  /** The org named `name`. @throws ConfigError when there is none. */
  org(name: string): Promise<Org>;
}

/** The store of an offline command: a data folder (`{dataDir}/orgbox.sqlite`), or a PostgreSQL database. */
export type OfflineStore = { dataDir: string } | { storeUrl: string };

/** The data folder of a command given neither `--data`, `--store-url` nor their variables: `./.orgbox`, as `orgbox start`'s. */
export const DEFAULT_DATA_DIR: string = DEFAULTS.dataDir;

/**
 * The store an offline command's flags name: `--store-url`, else `--data`, else `ORGBOX_STORE_URL`,
 * else `ORGBOX_DATA` (flags before the environment, as everywhere), else {@link DEFAULT_DATA_DIR}
 * (the folder `orgbox start` persists to by default).
 */
export function offlineStore(flags: { data?: string; storeUrl?: string }, env: NodeJS.ProcessEnv = process.env): OfflineStore {
  if (flags.storeUrl) return { storeUrl: flags.storeUrl };
  if (flags.data) return { dataDir: flags.data };
  if (env.ORGBOX_STORE_URL) return { storeUrl: env.ORGBOX_STORE_URL };
  if (env.ORGBOX_DATA) return { dataDir: env.ORGBOX_DATA };
  return { dataDir: DEFAULT_DATA_DIR };
}

/**
 * Opens an offline command's store (without creating one) and the services over it, as `start` does
 * ({@link openServices}: migrations, the upgrade of an older data folder), listening on nothing.
 * @throws ConfigError when the folder holds no orgbox store, or the URL is not a `postgres://` URL.
 */
export async function openOfflineServices(store: OfflineStore): Promise<Services> {
  return openServices(offlineConfig(store));
}

/**
 * The settings {@link openServices} opens an offline command's store with.
 * @throws ConfigError when the folder holds no orgbox store, or the URL is not a `postgres://` URL.
 */
function offlineConfig(store: OfflineStore): ServicesStore {
  if ("storeUrl" in store) {
    if (!/^postgres(ql)?:\/\//.test(store.storeUrl)) throw new ConfigError("--store-url must be a postgres:// or postgresql:// URL");
    return { inMemory: false, dataDir: "", storeUrl: store.storeUrl };
  }
  const file = join(store.dataDir, "orgbox.sqlite");
  if (!existsSync(file)) throw new ConfigError(`no orgbox store in '${store.dataDir}' (expected ${file}); give the --data folder of an orgbox that ran (default ${DEFAULT_DATA_DIR}), or --store-url`);
  return { inMemory: false, dataDir: store.dataDir };
}

/**
 * Opens the store (a data folder or a PostgreSQL database) and the services over it with
 * {@link openServices}, as `start` does, but listens on nothing; runs `work`, and closes the store.
 * @throws ConfigError when the folder holds no orgbox store.
 */
export async function withOfflineServices<T>(store: OfflineStore, work: (services: OfflineServices) => Promise<T>): Promise<T> {
  const services = await openOfflineServices(store);
  const where = "storeUrl" in store ? "the PostgreSQL store" : `'${store.dataDir}'`;
  try {
    const identity = services.identity.service;
    const dataverse = services.dataverse.service;
    const org = async (name: string) => {
      const found = await dataverse.findOrg(name);
      if (!found) throw new ConfigError(`no org named '${name}' in ${where}`);
      return found;
    };
    return await work({ identity, dataverse, org });
  } finally {
    await services.close();
  }
}

/**
 * Parses `prvReadAccount:Global` (the depth defaults to Global) for `orgbox role create --privilege`.
 * @throws ConfigError for a depth other than Basic, Local, Deep or Global.
 */
export function parsePrivilegeSpec(spec: string): { name: string; depth: Depth } {
  const [name = "", depth = "Global"] = spec.split(":");
  if (!/^prv\w+$/.test(name)) throw new ConfigError(`'${spec}' is not a privilege: use prvReadAccount:Global`);
  if (!(DEPTHS as readonly string[]).includes(depth)) throw new ConfigError(`'${depth}' is not a depth: use ${DEPTHS.join(", ")}`);
  return { name, depth: depth as Depth };
}

/** A role by id or (case-insensitive) name. @throws ConfigError when none or several match. */
export async function findRole(dataverse: DataverseService, org: Org, nameOrId: string): Promise<{ id: string; name: string }> {
  const roles = await dataverse.listRoles(org);
  const byId = roles.find((r) => r.id === nameOrId.toLowerCase());
  if (byId) return byId;
  const byName = roles.filter((r) => r.name.toLowerCase() === nameOrId.toLowerCase());
  if (byName.length === 1) return byName[0] as { id: string; name: string };
  if (byName.length > 1) throw new ConfigError(`several roles are named '${nameOrId}': give the role id`);
  throw new ConfigError(`no role '${nameOrId}' in org '${org.name}' (orgbox role list --org ${org.name})`);
}
