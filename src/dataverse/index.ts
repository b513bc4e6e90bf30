import type { FastifyInstance } from "fastify";
import type { Clock } from "../common/clock.ts";
import type { TokenTrust } from "./auth.ts";
import { OperationRegistry, whoAmI } from "./functions.ts";
import { retrieveTotalRecordCount, retrieveVersion } from "./metadata/operations.ts";
import { securityOperations } from "./security/functions.ts";
import { solutionOperations } from "./solutions/operations.ts";
import type { Org } from "./model.ts";
import { dataverseRoutes } from "./routes.ts";
import { DataverseService, type DirectoryLookup } from "./service.ts";
import type { DataverseStore } from "./store.ts";
import { ServiceProtection, type ServiceProtectionLimits } from "./service-protection.ts";

export type { TokenTrust, AccessTokenVerifier } from "./auth.ts";
export type { Caller } from "./model.ts";
export type { DirectoryLookup } from "./service.ts";
export { DataverseService } from "./service.ts";
export { DEFAULT_SERVICE_PROTECTION, ServiceProtection, type ServiceProtectionLimits } from "./service-protection.ts";
export { upgradeOrg } from "./upgrade.ts";
export type { Org } from "./model.ts";
export { sendWebApiUrlError } from "./routes.ts";

// The org model's definitions, for environments (src/environment), the CLI and the server: code outside
// src/dataverse imports Dataverse only through this file (eslint.config.js, no-restricted-imports).
export { DataverseError, errorBody as dataverseErrorBody, ERROR_CONTENT_TYPE as DATAVERSE_ERROR_CONTENT_TYPE } from "./errors.ts";
export type { Row } from "./model.ts";
export { OrgMetadata } from "./metadata/registry.ts";
export { STANDARD_MANY_TO_MANY, STANDARD_TABLES } from "./metadata/standard.ts";
export { isLookupType, type AttributeMetadata, type EntityKeyMetadata, type EntityMetadata, type GlobalOptionSetMetadata, type OneToManyRelationshipMetadata, type RelationshipMetadata } from "./metadata/types.ts";
export { columnsAdded, parseAttributeDefinition, parseEntityDefinition, pluralize } from "./metadata/custom.ts";
export { parseKeyDefinition } from "./metadata/keys.ts";
export { parseGlobalOptionSet, resolveGlobalOptionSet } from "./metadata/option-sets.ts";
export { parseManyToManyDefinition, parseOneToManyDefinition } from "./metadata/relationships.ts";
export { parseEntityKey } from "./odata/path.ts";
export { defaultRoles } from "./security/default-roles.ts";
export { parseSolutionZip } from "./solutions/file.ts";
export { DEPTHS, MISC_PRIVILEGES, SYSTEM_ADMINISTRATOR_TEMPLATE_ID, privilegeDefinitions, privilegesFor, widestDepth, type Depth } from "./security/privileges.ts";

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
  /** Dataverse's service protection limits per org and user (config `serviceProtection*`); `false` turns them off. Default: off. */
  serviceProtection?: ServiceProtectionLimits | false;
  /** Awaited after each write other processes on the store may cache (see `SecurityStateCache`). Default: nothing. */
  onChange?: () => Promise<void>;
}

/** The Dataverse surface: org administration and the Web API routes. */
export interface Dataverse {
  service: DataverseService;
  /** The service protection counters of this web server (process), or undefined when the limits are off. */
  protection: ServiceProtection | undefined;
  register(app: FastifyInstance): Promise<void>;
}

export function createDataverse(options: DataverseOptions): Dataverse {
  const service = new DataverseService(options.store, options.clock, options.directory, { forbidDefaultRolesForApplicationUsers: options.legacyApplicationUserRule ?? false, ...(options.onChange ? { onChange: options.onChange } : {}) });
  // Every read and write goes through the service's store, which tells the security cache about writes.
  const store = service.store;
  const operations = new OperationRegistry().register(whoAmI).register(retrieveVersion).register(retrieveTotalRecordCount(service, store));
  for (const operation of securityOperations(service, store)) operations.register(operation);
  const protection = options.serviceProtection ? new ServiceProtection(options.serviceProtection, options.clock) : undefined;
  for (const operation of solutionOperations(service)) operations.register(operation);
  return {
    service,
    protection,
    register: (app) => dataverseRoutes(app, { store, service, trust: options.trust, operations, orgUrl: options.orgUrl, clock: options.clock, ...(protection ? { protection } : {}) }),
  };
}
