import { afterAll, beforeAll } from "vitest";
import { startOrgbox, type OrgboxInstance, type StartOptions, type StartRuntime } from "../../src/index.ts";

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
