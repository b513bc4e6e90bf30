import type { FastifyInstance } from "fastify";
import type { Clock } from "../common/clock.ts";
import type { TokenTrust } from "./auth.ts";
import { OperationRegistry, whoAmI } from "./functions.ts";
import { retrieveTotalRecordCount, retrieveVersion } from "./metadata/operations.ts";
import { securityOperations } from "./security/functions.ts";
import type { Org } from "./model.ts";
import { dataverseRoutes } from "./routes.ts";
import { DataverseService, type DirectoryLookup } from "./service.ts";
import type { DataverseStore } from "./store.ts";

export type { TokenTrust, AccessTokenVerifier, Caller } from "./auth.ts";
export type { DirectoryLookup } from "./service.ts";
export { DataverseService } from "./service.ts";
export { upgradeOrg } from "./upgrade.ts";
export type { Org } from "./model.ts";
export { sendWebApiUrlError } from "./routes.ts";

/** Options for {@link createDataverse}. */
export interface DataverseOptions {
  store: DataverseStore;
  clock: Clock;
  trust: TokenTrust;
  directory: DirectoryLookup;
  /** `{base}/org/{name}`. */
  orgUrl: (org: Org) => string;
  /** Refuse default roles for application users (config `legacyApplicationUserRule`). Default false. */
  legacyApplicationUserRule?: boolean;
}

/** The Dataverse surface: org administration and the Web API routes. */
export interface Dataverse {
  service: DataverseService;
  register(app: FastifyInstance): Promise<void>;
}

export function createDataverse(options: DataverseOptions): Dataverse {
  const service = new DataverseService(options.store, options.clock, options.directory, { forbidDefaultRolesForApplicationUsers: options.legacyApplicationUserRule ?? false });
  // Every read and write goes through the service's store, which tells the security cache about writes.
  const store = service.store;
  const operations = new OperationRegistry().register(whoAmI).register(retrieveVersion).register(retrieveTotalRecordCount(service, store));
  for (const operation of securityOperations(service, store)) operations.register(operation);
  return {
    service,
    register: (app) => dataverseRoutes(app, { store, service, trust: options.trust, operations, orgUrl: options.orgUrl, clock: options.clock }),
  };
}
