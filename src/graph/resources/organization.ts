import type { Tenant } from "../../identity/index.ts";
import type { GraphContext, GraphResult } from "../context.ts";
import { filled } from "../context.ts";
import { graphError } from "../errors.ts";
import type { GraphOperation, GraphResourceModule, PermissionPolicy } from "../registry.ts";
import type { Json } from "./directory-common.ts";

/**
 * The tenant as Graph's `organization` (learn.microsoft.com/graph/api/resources/organization) and its
 * verified domains as `domains` (…/resources/domain): read-only. orgbox tenants' domains are all
 * verified, managed and cloud-only; the initial (`*.onmicrosoft.com`) one is the default.
 */

const ORG_PROPERTIES = ["id", "deletedDateTime", "businessPhones", "city", "country", "countryLetterCode", "createdDateTime", "displayName", "onPremisesSyncEnabled", "postalCode", "preferredLanguage", "state", "street", "tenantType", "technicalNotificationMails", "verifiedDomains", "assignedPlans", "privacyProfile"] as const;
const DOMAIN_PROPERTIES = ["id", "authenticationType", "availabilityStatus", "isAdminManaged", "isDefault", "isInitial", "isRoot", "isVerified", "passwordNotificationWindowInDays", "passwordValidityPeriodInDays", "supportedServices", "state"] as const;

/** Reading the organization (organization-get "Permissions"): any signed-in user with `User.Read`. */
const READ_ORGANIZATION: PermissionPolicy = {
  application: ["Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  delegated: ["User.Read", "Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
};

/** Reading domains (domain-list, domain-get "Permissions"). */
const READ_DOMAINS: PermissionPolicy = {
  application: ["Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"],
  delegated: ["Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
};

const isInitial = (tenant: Tenant, domain: string): boolean => domain === tenant.defaultDomain.toLowerCase();

function organizationJson(t: Tenant): Json {
  return {
    id: t.id,
    deletedDateTime: null,
    businessPhones: [],
    city: null,
    country: null,
    countryLetterCode: null,
    createdDateTime: null,
    displayName: t.displayName,
    onPremisesSyncEnabled: null,
    postalCode: null,
    preferredLanguage: null,
    state: null,
    street: null,
    tenantType: "AAD",
    technicalNotificationMails: [],
    assignedPlans: [],
    privacyProfile: null,
    verifiedDomains: t.domains.map((name) => ({ capabilities: "None", isDefault: isInitial(t, name), isInitial: isInitial(t, name), name, type: "Managed" })),
  };
}

function domainJson(t: Tenant, name: string): Json {
  return {
    id: name,
    authenticationType: "Managed",
    availabilityStatus: null,
    isAdminManaged: true,
    isDefault: isInitial(t, name),
    isInitial: isInitial(t, name),
    isRoot: true,
    isVerified: true,
    passwordNotificationWindowInDays: null,
    passwordValidityPeriodInDays: null,
    supportedServices: [],
    state: null,
  };
}

const listOrganization: GraphOperation = {
  name: "organization: list",
  method: "GET",
  path: "organization",
  policy: READ_ORGANIZATION,
  query: { typeName: "microsoft.graph.organization", select: ORG_PROPERTIES },
  async handle(x): Promise<GraphResult> {
    return { kind: "collection", context: "organization", items: [organizationJson(filled(x.tenant, "tenant"))] };
  },
};

const getOrganization: GraphOperation = {
  name: "organization: get",
  method: "GET",
  path: "organization/{id}",
  policy: READ_ORGANIZATION,
  query: { typeName: "microsoft.graph.organization", select: ORG_PROPERTIES },
  async handle(x): Promise<GraphResult> {
    const tenant = filled(x.tenant, "tenant");
    const id = filled(x.params?.id, "id").value.toLowerCase();
    if (id !== tenant.id) throw graphError.notFound(id);
    return { kind: "entity", context: "organization/$entity", value: organizationJson(tenant) };
  },
};

const listDomains: GraphOperation = {
  name: "domain: list",
  method: "GET",
  path: "domains",
  policy: READ_DOMAINS,
  query: { typeName: "microsoft.graph.domain", select: DOMAIN_PROPERTIES },
  async handle(x): Promise<GraphResult> {
    const tenant = filled(x.tenant, "tenant");
    return { kind: "collection", context: "domains", items: tenant.domains.map((d) => domainJson(tenant, d)) };
  },
};

const getDomain: GraphOperation = {
  name: "domain: get",
  method: "GET",
  path: "domains/{id}",
  policy: READ_DOMAINS,
  query: { typeName: "microsoft.graph.domain", select: DOMAIN_PROPERTIES },
  async handle(x: GraphContext): Promise<GraphResult> {
    const tenant = filled(x.tenant, "tenant");
    const name = filled(x.params?.id, "id").value.toLowerCase();
    if (!tenant.domains.includes(name)) throw graphError.notFound(name);
    return { kind: "entity", context: "domains/$entity", value: domainJson(tenant, name) };
  },
};

/** The `organization` and `domains` resource module. */
export const organizationModule: GraphResourceModule = {
  name: "organization",
  operations: [listOrganization, getOrganization, listDomains, getDomain],
};
