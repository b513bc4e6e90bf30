import type { OrgboxInstance } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";

/** A Web API response: status, headers and parsed JSON (or `{ text }`). */
export interface ApiResponse {
  status: number;
  headers: Headers;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

/** Registers an app in the org's tenant, makes it an application user in `businessUnitId` with `roleIds`; returns its token. */
export async function appUser(o: OrgboxInstance, org: Org, name: string, businessUnitId: string, roleIds: string[]): Promise<{ token: string; userId: string; appId: string; secret: string }> {
  const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: name });
  const secret = await o.identity.service.addPassword({ appId: application.appId });
  const userId = await o.dataverse.service.createApplicationUser(org, { applicationId: application.appId, businessUnitId, roleIds });
  return { token: await clientToken(o, application.appId, secret.secretText), userId, appId: application.appId, secret: secret.secretText };
}

/** A client-credentials token (v1 endpoint) for the org. */
export async function clientToken(o: OrgboxInstance, clientId: string, secret: string): Promise<string> {
  const res = await fetch(`${o.url}/${o.tenantId}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret, resource: o.orgUrl }) });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`token request failed: ${JSON.stringify(body)}`);
  return body.access_token;
}

/** A Web API call relative to `apiUrl` with a bearer token, JSON in and out. */
export async function api(o: OrgboxInstance, token: string, method: string, path: string, body?: unknown): Promise<ApiResponse> {
  const response = await fetch(`${o.apiUrl}/${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: ApiResponse["body"] = {};
  if (text && (response.headers.get("content-type") ?? "").includes("json")) parsed = JSON.parse(text) as ApiResponse["body"];
  else if (text) parsed = { text };
  return { status: response.status, headers: response.headers, body: parsed };
}
