import { existsSync } from "node:fs";
import { join } from "node:path";
import { systemClock } from "../common/clock.ts";
import { ConfigError } from "../common/errors.ts";
import { DataverseService, type Org } from "../dataverse/index.ts";
import { IdentityService } from "../identity/service.ts";
import { openDatabase, type Database } from "../store/database.ts";
import { SqlDataverseStore } from "../store/dataverse-store.ts";
import { SqlIdentityStore } from "../store/identity-store.ts";
import { SqlOrgBindings } from "../store/org-bindings.ts";
import type { Depth } from "../dataverse/security/privileges.ts";
import { DEPTHS } from "../dataverse/security/privileges.ts";

/** The directory and org services over a persisted store, without a server. */
export interface OfflineServices {
  identity: IdentityService;
  dataverse: DataverseService;
  /** The org named `name`. @throws ConfigError when there is none. */
  org(name: string): Promise<Org>;
}

/** The store of an offline command: a data folder (`{dataDir}/orgbox.sqlite`), or a PostgreSQL database. */
export type OfflineStore = { dataDir: string } | { storeUrl: string };

/**
 * The store an offline command's flags name: `--store-url`, else `--data`, else `ORGBOX_STORE_URL`,
 * else `ORGBOX_DATA` (flags before the environment, as everywhere).
 * @throws ConfigError when none is given.
 */
export function offlineStore(flags: { data?: string; storeUrl?: string }, env: NodeJS.ProcessEnv = process.env): OfflineStore {
  if (flags.storeUrl) return { storeUrl: flags.storeUrl };
  if (flags.data) return { dataDir: flags.data };
  if (env.ORGBOX_STORE_URL) return { storeUrl: env.ORGBOX_STORE_URL };
  if (env.ORGBOX_DATA) return { dataDir: env.ORGBOX_DATA };
  throw new ConfigError("this command works on a persisted store: pass --data DIR or --store-url URL (or set ORGBOX_DATA or ORGBOX_STORE_URL)");
}

/**
 * Opens an offline command's store (without creating one).
 * @throws ConfigError when the folder holds no orgbox store, or the URL is not a `postgres://` URL.
 */
export async function openOfflineStore(store: OfflineStore): Promise<Database> {
  if ("storeUrl" in store) {
    if (!/^postgres(ql)?:\/\//.test(store.storeUrl)) throw new ConfigError("--store-url must be a postgres:// or postgresql:// URL");
    return openDatabase({ inMemory: false, dataDir: "", storeUrl: store.storeUrl });
  }
  const file = join(store.dataDir, "orgbox.sqlite");
  if (!existsSync(file)) throw new ConfigError(`no orgbox store in '${store.dataDir}' (expected ${file}); give the --data folder of an orgbox that ran`);
  return openDatabase({ inMemory: false, dataDir: store.dataDir });
}

/**
 * Opens the store (a data folder or a PostgreSQL database), builds the identity and Dataverse
 * services as `start` does (application users get their directory columns from the same
 * service principals) but listens on nothing, runs `work`, and closes the store.
 * @throws ConfigError when the folder holds no orgbox store.
 */
export async function withOfflineServices<T>(store: OfflineStore, work: (services: OfflineServices) => Promise<T>): Promise<T> {
  const database = await openOfflineStore(store);
  const where = "storeUrl" in store ? "the PostgreSQL store" : `'${store.dataDir}'`;
  try {
    const identity = new IdentityService(new SqlIdentityStore(database.db), systemClock, new SqlOrgBindings(database.db));
    const dataverse = new DataverseService(new SqlDataverseStore(database.db, database.adapter), systemClock, {
      async servicePrincipal(tenantId, appId) {
        const sp = await identity.findServicePrincipal(tenantId, appId);
        if (!sp) return undefined;
        const app = await identity.findApplication(appId);
        return { objectId: sp.id, applicationIdUri: app?.identifierUris[0] ?? null, displayName: sp.displayName };
      },
    });
    const org = async (name: string) => {
      const found = await dataverse.findOrg(name);
      if (!found) throw new ConfigError(`no org named '${name}' in ${where}`);
      return found;
    };
    return await work({ identity, dataverse, org });
  } finally {
    await database.close();
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
