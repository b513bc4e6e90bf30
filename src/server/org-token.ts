/**
 * `POST /_orgbox/org-token` (admin key): a Dataverse Web API token of the "orgbox CLI" management
 * principal for one org, so `orgbox appuser|role|user add-to-org … --url` act through the Web API as an
 * admin script would. The one place that joins identity and Dataverse for it: identity mints the token
 * (`Identity.managementToken` with the org URL as resource), Dataverse gets, once, an application user
 * for the principal with the System Administrator role, as the Power Platform admin center creates one
 * for an admin's app (learn.microsoft.com/power-platform/admin/manage-application-users).
 */
import { SYSTEM_ADMINISTRATOR_TEMPLATE_ID, type Dataverse, type Org } from "../dataverse/index.ts";
import { ORGBOX_CLI_APP_ID, type Identity } from "../identity/index.ts";

/** The answer of `POST /_orgbox/org-token`. */
export interface OrgManagementToken {
  accessToken: string;
  /** Lifetime, seconds. */
  expiresIn: number;
  tenantId: string;
  /** The org's URL (the token's audience); its Web API is `{orgUrl}/api/data/v9.2/`. */
  orgUrl: string;
}

/** An org that does not exist (the endpoint answers 404). */
export class UnknownOrgError extends Error {
  readonly status = 404;
}

/**
 * Builds the function behind `POST /_orgbox/org-token`.
 * @returns `(orgName) => token`; it throws {@link UnknownOrgError} for an unknown org.
 */
export function orgManagementToken(identity: Pick<Identity, "managementToken">, dataverse: Dataverse, orgUrl: (org: Pick<Org, "name">) => string): (orgName: string) => Promise<OrgManagementToken> {
  return async (orgName) => {
    const org = await dataverse.service.findOrg(orgName.trim().toLowerCase());
    if (!org) throw new UnknownOrgError(`no org '${orgName}'`);
    const url = orgUrl(org);
    // First: the principal's service principal in the org's tenant, which the application user is filled from.
    const token = await identity.managementToken(org.tenantId, url);
    const users = await dataverse.service.listApplicationUsers(org);
    if (!users.some((u) => u.applicationId === ORGBOX_CLI_APP_ID)) {
      const roles = await dataverse.service.listRoles(org);
      const admin = roles.find((r) => r.roleTemplateId === SYSTEM_ADMINISTRATOR_TEMPLATE_ID);
      if (!admin) throw new Error(`org ${org.name} has no System Administrator role`);
      await dataverse.service.createApplicationUser(org, { applicationId: ORGBOX_CLI_APP_ID, businessUnitId: await dataverse.service.rootBusinessUnitId(org), roleIds: [admin.id], fullName: "# orgbox CLI" });
    }
    return { accessToken: token.accessToken, expiresIn: token.expiresIn, tenantId: token.tenantId, orgUrl: url };
  };
}
