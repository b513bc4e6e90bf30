import { accessToken, type PortalInfo } from "./auth.ts";

/** An API's own error answer: HTTP status, the service's code (`Authorization_RequestDenied`, `0x80040220`) and message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function send(url: string, token: string, method: string, body: unknown, headers: Record<string, string>): Promise<unknown> {
  const response = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    credentials: "omit",
  });
  const text = await response.text();
  const json = text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  if (!response.ok) {
    const error = (json?.error ?? {}) as { code?: string; message?: string };
    throw new ApiError(response.status, error.code ?? String(response.status), error.message ?? (text || response.statusText));
  }
  return json;
}

/** Calls orgbox's Microsoft Graph API (`{url}/graph/v1.0{path}`) as the signed-in user. @throws ApiError with Graph's error. */
export async function graph<T = Record<string, unknown>>(info: PortalInfo, method: string, path: string, body?: unknown): Promise<T> {
  return (await send(`${info.graphUrl}${path}`, await accessToken(info, "graph"), method, body, {})) as T;
}

/** A Graph collection (`value`), following `@odata.nextLink` up to `max` items. */
export async function graphList<T = Record<string, unknown>>(info: PortalInfo, path: string, max = 500): Promise<T[]> {
  const items: T[] = [];
  let next: string | undefined = path;
  while (next && items.length < max) {
    const page: { value: T[]; "@odata.nextLink"?: string } = await graph(info, "GET", next);
    items.push(...page.value);
    const link = page["@odata.nextLink"];
    next = link ? link.slice(info.graphUrl.length) : undefined;
  }
  return items;
}

/** Calls an org's Dataverse Web API (`{orgUrl}/api/data/v9.2{path}`) as the signed-in user. @throws ApiError with the `0x…` error. */
export async function webApi<T = Record<string, unknown>>(info: PortalInfo, orgUrl: string, method: string, path: string, body?: unknown): Promise<T> {
  const headers = { "OData-MaxVersion": "4.0", "OData-Version": "4.0", Prefer: 'odata.include-annotations="*",return=representation' };
  return (await send(`${orgUrl}/api/data/v9.2${path}`, await accessToken(info, orgUrl), method, body, headers)) as T;
}

/** Calls one of orgbox's own `/_orgbox/…` endpoints that take the signed-in user's Graph token. @throws ApiError. */
export async function orgboxApi<T = Record<string, unknown>>(info: PortalInfo, path: string): Promise<T> {
  const response = await fetch(`${info.identityUrl}${path}`, { headers: { authorization: `Bearer ${await accessToken(info, "graph")}`, accept: "application/json" }, credentials: "omit" });
  const body = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new ApiError(response.status, String(body.error ?? response.status), String(body.error_description ?? ""));
  return body as T;
}
