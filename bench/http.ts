import { request } from "node:https";

/** A response read whole: status, headers and body text. */
export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * One HTTPS request trusting `ca` (orgbox's local CA), no keep-alive: for setup
 * steps only (fetching a token, probing a URL), never for measurement.
 */
export function httpsRequest(url: string, options: { ca: string | undefined; method?: string; headers?: Record<string, string>; body?: string }): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? "GET", headers: options.headers, ca: options.ca, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** The form body of a client_credentials request (v2: `scope`; v1: `resource`). */
export function clientCredentialsForm(clientId: string, clientSecret: string, target: { scope: string } | { resource: string }): string {
  return new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret, ...target }).toString();
}

/** Requests a token; throws with the body on any non-200. */
export async function fetchToken(tokenUrl: string, form: string, ca: string | undefined): Promise<{ accessToken: string; responseBytes: number }> {
  const res = await httpsRequest(tokenUrl, { ca, method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form });
  if (res.status !== 200) throw new Error(`token request to ${tokenUrl} failed: ${res.status} ${res.text}`);
  const body = JSON.parse(res.text) as { access_token?: string };
  if (!body.access_token) throw new Error(`token response has no access_token: ${res.text}`);
  return { accessToken: body.access_token, responseBytes: Buffer.byteLength(res.text) };
}

/** The payload of a JWT, decoded without verification (to copy real claims into the raw benchmarks). */
export function decodePayload(token: string): Record<string, unknown> {
  const part = token.split(".")[1];
  if (!part) throw new Error("not a JWT");
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
}

/** The protected header of a JWT, decoded without verification. */
export function decodeHeader(token: string): Record<string, unknown> {
  const part = token.split(".")[0];
  if (!part) throw new Error("not a JWT");
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
}
