import { DEMO, type OrgboxInstance } from "../../src/index.ts";

/** A Graph answer body: Graph's error envelope, a collection's `value`, or an object's properties. */
export type GraphBody = {
  error?: { code: string; message: string; innerError: Record<string, string> };
  value?: Record<string, unknown>[];
  text?: string;
} & Record<string, unknown>;

/** A client-credentials token for Microsoft Graph (`https://graph.microsoft.com/.default`, v2 endpoint, plain fetch); by default the demo Graph admin app's. */
export async function graphToken(o: OrgboxInstance, clientId: string = DEMO.graphAdmin.clientId, secret: string = DEMO.graphAdmin.clientSecret, tenant: string = o.tenantId): Promise<string> {
  const res = await fetch(`${o.url}/${tenant}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret, scope: "https://graph.microsoft.com/.default" }) });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`token request failed: ${JSON.stringify(body)}`);
  return body.access_token;
}

/** Sends `method {url}/graph/v1.0/{path}` (or an absolute URL, e.g. an `@odata.nextLink`) with a bearer token; parses a JSON answer (else `{text}`). */
export async function graph(o: OrgboxInstance, token: string | undefined, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: GraphBody }> {
  const res = await fetch(path.startsWith("http") ? path : `${o.url}/graph/v1.0/${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text && (res.headers.get("content-type") ?? "").includes("json") ? (JSON.parse(text) as GraphBody) : { text } };
}
