import { AsyncLocalStorage } from "node:async_hooks";

/**
 * The Microsoft cloud host names orgbox answers as (through its proxy, see `src/server/proxy.ts`),
 * and the per-request context that makes every URL orgbox emits carry the cloud's values while a
 * request addressed to one of them is served.
 */

/** Entra ID sign-in hosts (the aliases of Entra's instance discovery for the public cloud). */
export const LOGIN_HOSTS: readonly string[] = ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"];
/** Microsoft Graph. */
export const GRAPH_HOST = "graph.microsoft.com";
/** Azure Resource Manager (only what `az login` reads: `src/arm`). */
export const ARM_HOST = "management.azure.com";
/** The public cloud's authority host: the v2 issuer's and every emitted endpoint's when a request came to another cloud host. */
export const CLOUD_LOGIN_URL = "https://login.microsoftonline.com";
/** The public cloud's v1 token issuer host (`https://sts.windows.net/{tid}/`). */
export const CLOUD_STS_URL = "https://sts.windows.net";
/** Microsoft Graph's root URL (`https://graph.microsoft.com/v1.0`, `/beta`). */
export const CLOUD_GRAPH_URL = `https://${GRAPH_HOST}`;

/**
 * A Dataverse org host: `{org}.crm.dynamics.com`, the regional `{org}.crm2…crm21.dynamics.com`, and the
 * `{org}.api.crm*.dynamics.com` form of each (learn.microsoft.com/power-platform/admin/new-datacenter-regions).
 * Groups: 1 the org label, 2 `api.` or undefined, 3 `crm`…`crm21`.
 */
export const ORG_HOST_RE = /^([a-z0-9][a-z0-9-]{0,62})\.(api\.)?(crm(?:[2-9]|1[0-9]|2[01])?)\.dynamics\.com$/;

/** What a request addressed to a cloud host is served as. */
export type CloudHostKind = "login" | "graph" | "arm" | "org";

/** A request addressed to a Microsoft cloud host name. */
export interface CloudRequest {
  /** The host the client addressed, lower-case, without port (`login.microsoftonline.com`, `contoso.crm.dynamics.com`). */
  host: string;
  kind: CloudHostKind;
}

/** Which cloud service `host` (lower-case, no port) is, or undefined when orgbox does not answer as it. */
export function cloudHostKind(host: string): CloudHostKind | undefined {
  if (LOGIN_HOSTS.includes(host)) return "login";
  if (host === GRAPH_HOST) return "graph";
  if (host === ARM_HOST) return "arm";
  if (ORG_HOST_RE.test(host)) return "org";
  return undefined;
}

/** The host name of a `Host` header or `host:port` authority: lower-case, without port or trailing dot. */
export function hostName(authority: string | undefined): string {
  const value = (authority ?? "").trim().toLowerCase();
  const host = value.startsWith("[") ? value.slice(0, value.indexOf("]") + 1) : (value.split(":")[0] ?? "");
  return host.replace(/\.$/, "");
}

const storage = new AsyncLocalStorage<CloudRequest>();

/** The cloud host the request being served was addressed to; undefined for orgbox's own URLs (`https://localhost:PORT`). */
export function currentCloudRequest(): CloudRequest | undefined {
  return storage.getStore();
}

/** Runs `fn` (and everything it schedules) as serving `request`. */
export function runAsCloudRequest<T>(request: CloudRequest | undefined, fn: () => T): T {
  return request ? storage.run(request, fn) : storage.exit(fn);
}
