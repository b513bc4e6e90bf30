import { Client } from "@microsoft/microsoft-graph-client";
import { MICROSOFT_GRAPH_APP_ID } from "../../src/identity/index.ts";
import type { OrgboxInstance } from "../../src/index.ts";

/** A public client consented (admin consent) to Microsoft Graph's delegated directory scopes, for ROPC in Graph tests. */
export const GRAPH_PUBLIC_CLIENT = "c0de0000-0000-4000-8000-0000000e9a01";

/** Every delegated Graph scope the public client is consented to. */
export const GRAPH_SCOPES = ["User.Read", "Application.ReadWrite.All", "User.Read.All", "User.ReadWrite.All", "Group.ReadWrite.All", "GroupMember.ReadWrite.All", "RoleManagement.ReadWrite.Directory", "Directory.Read.All", "Organization.Read.All"];

/** Registers {@link GRAPH_PUBLIC_CLIENT} in the demo tenant with admin consent to {@link GRAPH_SCOPES}. */
export async function registerGraphPublicClient(o: OrgboxInstance): Promise<void> {
  const { service } = o.identity;
  await service.registerApplication({ tenantId: o.tenantId, appId: GRAPH_PUBLIC_CLIENT, displayName: "Graph ROPC test client", isFallbackPublicClient: true, publicClientRedirectUris: ["http://localhost"] });
  await service.grantConsent({ tenantId: o.tenantId, clientAppId: GRAPH_PUBLIC_CLIENT, resourceAppId: MICROSOFT_GRAPH_APP_ID, scopes: GRAPH_SCOPES });
}

/** A plain token request to the demo tenant's v2 token endpoint: the status and the JSON body. */
export async function tokenRequest(o: OrgboxInstance, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${o.url}/${o.tenantId}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams(form) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** ROPC for Microsoft Graph as `username` (scopes: `https://graph.microsoft.com/{scope}` + offline_access). */
export function ropc(o: OrgboxInstance, username: string, password: string, scopes: string[] = ["User.Read.All"]): Promise<{ status: number; body: Record<string, unknown> }> {
  return tokenRequest(o, { grant_type: "password", client_id: GRAPH_PUBLIC_CLIENT, username, password, scope: [...scopes.map((s) => `https://graph.microsoft.com/${s}`), "offline_access"].join(" ") });
}

/** A delegated Graph access token by ROPC. @throws Error when the token request fails. */
export async function delegatedGraphToken(o: OrgboxInstance, username: string, password: string, scopes?: string[]): Promise<string> {
  const res = await ropc(o, username, password, scopes);
  if (typeof res.body.access_token !== "string") throw new Error(`ROPC failed: ${JSON.stringify(res.body)}`);
  return res.body.access_token;
}

/** Redeems a refresh token of {@link GRAPH_PUBLIC_CLIENT}. */
export function refresh(o: OrgboxInstance, refreshToken: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return tokenRequest(o, { grant_type: "refresh_token", client_id: GRAPH_PUBLIC_CLIENT, refresh_token: refreshToken, scope: "https://graph.microsoft.com/User.Read.All offline_access" });
}

/** The real Microsoft Graph JavaScript client pointed at orgbox's Graph surface with a fixed token. */
export function graphClient(o: OrgboxInstance, token: string): Client {
  // The client sends the token to Graph's own hosts only, unless told of others.
  return Client.init({ authProvider: (done) => done(null, token), baseUrl: `${o.url}/graph`, defaultVersion: "v1.0", customHosts: new Set([new URL(o.url).hostname]) });
}
