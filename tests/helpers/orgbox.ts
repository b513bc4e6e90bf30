import { afterAll, beforeAll } from "vitest";
import { DEMO, startOrgbox, type OrgboxInstance, type StartOptions, type StartRuntime } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";

/**
 * Starts a fresh in-memory orgbox on port 0 for the current test file and
 * closes it afterwards. Returns a getter (the instance exists only after beforeAll).
 */
export function useOrgbox(options: StartOptions = {}, runtime: StartRuntime = {}): () => OrgboxInstance {
  let instance: OrgboxInstance | undefined;
  beforeAll(async () => {
    instance = await startOrgbox(options, runtime);
  });
  afterAll(async () => {
    await instance?.close();
  });
  return () => {
    if (!instance) throw new Error("orgbox is not started yet");
    return instance;
  };
}

/** Client-credentials token for the demo app through the v1 endpoint (plain fetch, seed 001 style). */
export async function demoToken(orgbox: OrgboxInstance, resource: string = orgbox.orgUrl): Promise<string> {
  const response = await fetch(`${orgbox.url}/${orgbox.tenantId}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: orgbox.demo.clientId, client_secret: orgbox.demo.clientSecret, resource }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!response.ok || !body.access_token) throw new Error(`token request failed: ${response.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** GET a Web API path (relative to `apiUrl`) with a bearer token; returns status, headers and parsed JSON. */
export async function apiGet(orgbox: OrgboxInstance, token: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: unknown }> {
  const response = await fetch(`${orgbox.apiUrl}/${path}`, { headers: { authorization: `Bearer ${token}`, accept: "application/json", ...headers } });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

/**
 * Registers a new app in the demo tenant, makes it an application user holding System Administrator
 * in the demo org, and returns its client-credentials token for the org (plain fetch, v1 endpoint).
 */
export async function adminToken(o: OrgboxInstance): Promise<string> {
  const org = (await o.dataverse.service.findOrg(DEMO.org.name)) as Org;
  const roles = await o.dataverse.service.listRoles(org);
  const admin = roles.find((r) => r.name === "System Administrator");
  const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "metadata admin" });
  const secret = await o.identity.service.addPassword({ appId: application.appId });
  await o.dataverse.service.createApplicationUser(org, { applicationId: application.appId, businessUnitId: DEMO.org.rootBusinessUnitId, roleIds: [admin?.id as string] });
  const res = await fetch(`${o.url}/${o.tenantId}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: application.appId, client_secret: secret.secretText, resource: o.orgUrl }) });
  return ((await res.json()) as { access_token: string }).access_token;
}

/** A Web API response body: any JSON object, with Dataverse's error envelope and collections typed. */
export type ApiBody = Record<string, unknown> & { error?: { code: string; message: string }; value?: Record<string, unknown>[] };

/** Sends `method path` (relative to `apiUrl`) with a bearer token and an optional JSON body; parses a JSON answer. */
export async function apiCall(o: OrgboxInstance, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; body: ApiBody; text: string }> {
  const response = await fetch(`${o.apiUrl}/${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const json = (response.headers.get("content-type") ?? "").includes("json") && text ? (JSON.parse(text) as ApiBody) : {};
  return { status: response.status, headers: response.headers, body: json, text };
}
