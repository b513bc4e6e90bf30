/**
 * Row-level security part of the Web API section: the same page read with the token of an
 * application user whose only role reads accounts at Local (business unit) or Basic (user)
 * depth, against the System Administrator's (Global) read. Target: RLS makes the read at
 * most 25% slower (Local ≥ 80% of the admin's rate).
 */
import { DEMO, type OrgboxInstance } from "../src/index.ts";
import { clientCredentialsForm, fetchToken, httpsRequest } from "./http.ts";

/** An application user's token and how many rows its first page returned. */
export interface ScopedReader {
  depth: "Local" | "Basic";
  token: string;
  rows: number;
}

/**
 * Registers an app in the demo tenant, gives it an application user in the demo org holding one
 * role with `prvReadAccount` at `depth` (plus nothing else), and returns a token for it.
 * @param query the page-read query string, to count the rows the user sees.
 */
export async function scopedReader(orgbox: OrgboxInstance, depth: "Local" | "Basic", query: string): Promise<ScopedReader> {
  const org = await orgbox.dataverse.service.findOrg(DEMO.org.name);
  if (!org) throw new Error(`org ${DEMO.org.name} is missing`);
  const { application } = await orgbox.identity.service.registerApplication({ tenantId: orgbox.tenantId, displayName: `Bench ${depth} reader` });
  const { secretText } = await orgbox.identity.service.addPassword({ appId: application.appId });
  const businessUnitId = DEMO.org.rootBusinessUnitId;
  const roleId = await orgbox.dataverse.service.createRole(org, { name: `Bench ${depth} account reader`, businessUnitId, privileges: [{ name: "prvReadAccount", depth }] });
  await orgbox.dataverse.service.createApplicationUser(org, { applicationId: application.appId, businessUnitId, roleIds: [roleId] });
  const form = clientCredentialsForm(application.appId, secretText, { scope: `${orgbox.orgUrl}/.default` });
  const { accessToken } = await fetchToken(`${orgbox.url}/${orgbox.tenantId}/oauth2/v2.0/token`, form, orgbox.caCert);
  const first = await httpsRequest(`${orgbox.apiUrl}/accounts?${query}`, { ca: orgbox.caCert, headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" } });
  if (first.status !== 200) throw new Error(`GET accounts as the ${depth} reader answered ${first.status}: ${first.text}`);
  return { depth, token: accessToken, rows: (JSON.parse(first.text) as { value: unknown[] }).value.length };
}
