/**
 * The commands against a running orgbox (`--url`). Directory commands ask the admin endpoint
 * `POST {url}/_orgbox/graph-token` (with the admin key) for a Microsoft Graph token of the tenant's
 * "orgbox CLI" service principal, then calls `{url}/graph/v1.0/…` with it
 * (learn.microsoft.com/graph/api/resources/application, …/user, …/serviceprincipal, …/oauth2permissiongrant);
 * the security commands (`appuser`, `role`, `user add-to-org`) use an org's Web API through {@link RemoteOrg}.
 */
import { existsSync, readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { ConfigError } from "../common/errors.ts";
import { assertOwnCaDir, defaultTempCaDir } from "../common/tls.ts";
import { DEFAULTS } from "../config/config.ts";

/** The flags of a remote command. */
export interface RemoteFlags {
  url?: string;
  adminKey?: string;
  ca?: string;
  data?: string;
  tenant?: string;
}

/** A Graph error answer, as a failure of the command (exit 1; 2 for 400/404 through {@link ConfigError}). */
export class RemoteError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/** `--url`, else `ORGBOX_URL`; undefined when the command works offline. */
export function remoteUrl(flags: { url?: string }, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const url = flags.url ?? env.ORGBOX_URL;
  return url ? url.replace(/\/+$/, "") : undefined;
}

/**
 * The CA certificate to trust (PEM): `--ca FILE`; else none when `NODE_EXTRA_CA_CERTS` is set (Node trusts it
 * already); else the data folder's `ca/ca.pem` (`--data`/`ORGBOX_DATA`, default `./.orgbox`), `ORGBOX_CA_DIR/ca.pem`, or the
 * in-memory CA folder's, the first that exists. Undefined: the system's roots only.
 * @throws ConfigError when `--ca` cannot be read, or the CA folder found is not this user's own (see `assertOwnCaDir`).
 */
function trustedCa(flags: RemoteFlags, env: NodeJS.ProcessEnv): string | undefined {
  if (flags.ca) {
    try {
      return readFileSync(flags.ca, "utf8");
    } catch (error) {
      throw new ConfigError(`cannot read --ca ${flags.ca}: ${(error as Error).message}`);
    }
  }
  if (env.NODE_EXTRA_CA_CERTS) return undefined;
  const dataDir = flags.data ?? (env.ORGBOX_DATA || DEFAULTS.dataDir);
  const folders = [dataDir ? join(dataDir, "ca") : undefined, env.ORGBOX_CA_DIR, defaultTempCaDir()];
  const found = folders.find((f): f is string => f !== undefined && existsSync(join(f, "ca.pem")));
  if (!found) return undefined;
  // As `start` does: a CA folder another local user could have planted is refused, not trusted.
  assertOwnCaDir(found);
  return readFileSync(join(found, "ca.pem"), "utf8");
}

/** A token answer of an admin token endpoint (`/_orgbox/graph-token`, `/_orgbox/org-token`). */
interface AdminTokenAnswer {
  ca: string | undefined;
  accessToken: string;
  tenantId: string;
  body: Record<string, unknown>;
}

/**
 * Asks an admin token endpoint of the orgbox at `base` for a token.
 * @param notFound what a 404 `not_found` means (an unknown tenant or org), as the ConfigError's message.
 * @throws ConfigError without an admin key, for `notFound`, when the key is refused or there is no admin endpoint (exit 2);
 *   RemoteError 403 when the endpoint refuses (the principal is disabled).
 */
async function adminToken(base: string, flags: RemoteFlags, env: NodeJS.ProcessEnv, endpoint: string, request: Record<string, string>, notFound: string): Promise<AdminTokenAnswer> {
  const adminKey = flags.adminKey ?? env.ORGBOX_ADMIN_KEY;
  if (!adminKey) throw new ConfigError("with --url, give the admin key of that orgbox: --admin-key KEY or ORGBOX_ADMIN_KEY (orgbox start --admin-key …)");
  const ca = trustedCa(flags, env);
  const answer = await send(base, ca, "POST", endpoint, `Bearer ${adminKey}`, request);
  if (answer.status === 401) throw new ConfigError(`${base} refused the admin key (401): check --admin-key / ORGBOX_ADMIN_KEY`);
  if (answer.status === 404 && isObject(answer.body) && answer.body.error === "not_found") throw new ConfigError(notFound);
  if (answer.status === 404) throw new ConfigError(`${base} has no admin endpoint: start it with --admin-key (or ORGBOX_ADMIN_KEY)`);
  if (answer.status === 403 && isObject(answer.body)) throw new RemoteError(String(answer.body.error_description), 403);
  const body = isObject(answer.body) ? answer.body : {};
  if (answer.status !== 200 || typeof body.access_token !== "string" || typeof body.tenant_id !== "string") throw new Error(`${base}${endpoint} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return { ca, accessToken: body.access_token, tenantId: body.tenant_id, body };
}

/** Every item of a collection: `call` GETs `path`, then each `@odata.nextLink` made relative to `root` (e.g. `/graph/v1.0/`). */
async function allPages<T>(call: (path: string) => Promise<{ value: T[]; "@odata.nextLink"?: string }>, path: string, root: string): Promise<T[]> {
  const out: T[] = [];
  let next: string | undefined = path;
  while (next !== undefined) {
    const page: { value: T[]; "@odata.nextLink"?: string } = await call(next);
    out.push(...page.value);
    const link = page["@odata.nextLink"];
    next = link === undefined ? undefined : link.slice(link.indexOf(root) + root.length);
  }
  return out;
}

/** A Graph client of one tenant of a running orgbox. */
export class RemoteDirectory {
  readonly tenantId: string;
  private readonly base: string;
  private readonly ca: string | undefined;
  private readonly token: string;

  private constructor(base: string, ca: string | undefined, token: string, tenantId: string) {
    this.base = base;
    this.ca = ca;
    this.token = token;
    this.tenantId = tenantId;
  }

  /**
   * Gets a Graph token for `tenant` from the admin endpoint.
   * @throws ConfigError without an admin key or tenant, for an unknown tenant, or when the admin key is refused (exit 2).
   */
  static async connect(base: string, flags: RemoteFlags, tenant: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<RemoteDirectory> {
    if (!tenant && (flags.adminKey ?? env.ORGBOX_ADMIN_KEY)) throw new ConfigError("with --url, --tenant <id|domain> is required");
    const token = await adminToken(base, flags, env, "/_orgbox/graph-token", { tenant: tenant ?? "" }, `no tenant '${tenant ?? ""}' (orgbox tenant list)`);
    return new RemoteDirectory(base, token.ca, token.accessToken, token.tenantId);
  }

  /**
   * Calls `{url}/graph/v1.0/{path}`; returns the parsed JSON (undefined for 204).
   * @throws RemoteError with Graph's `error.message` for any status ≥ 400.
   */
  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const answer = await send(this.base, this.ca, method, `/graph/v1.0/${path}`, `Bearer ${this.token}`, body);
    if (answer.status >= 400) {
      const error = isObject(answer.body) && isObject(answer.body.error) ? answer.body.error : undefined;
      throw new RemoteError(typeof error?.message === "string" ? error.message : `Graph answered ${answer.status}`, answer.status);
    }
    return answer.body as T;
  }

  /** Every item of a collection (following `@odata.nextLink`). */
  list<T = Record<string, unknown>>(path: string): Promise<T[]> {
    return allPages((next) => this.call<{ value: T[]; "@odata.nextLink"?: string }>("GET", next), path, "/graph/v1.0/");
  }
}

/**
 * A Dataverse Web API client of one org of a running orgbox, as the "orgbox CLI" principal: its token
 * comes from the admin endpoint `POST {url}/_orgbox/org-token`, which also gives the principal an
 * application user with System Administrator in the org
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/overview).
 */
export class RemoteOrg {
  readonly tenantId: string;
  readonly orgUrl: string;
  private readonly base: string;
  private readonly apiPath: string;
  private readonly ca: string | undefined;
  private readonly token: string;

  private constructor(base: string, ca: string | undefined, token: string, tenantId: string, orgUrl: string) {
    this.base = base;
    this.ca = ca;
    this.token = token;
    this.tenantId = tenantId;
    this.orgUrl = orgUrl;
    // The org's path under the URL the user gave (the server may know itself by another host name).
    this.apiPath = `${new URL(orgUrl).pathname.replace(/\/+$/, "")}/api/data/v9.2/`;
  }

  /**
   * Gets a Web API token for `org` from the admin endpoint.
   * @throws ConfigError without an admin key, for an unknown org, or when the admin key is refused (exit 2).
   */
  static async connect(base: string, flags: RemoteFlags, org: string, env: NodeJS.ProcessEnv = process.env): Promise<RemoteOrg> {
    const token = await adminToken(base, flags, env, "/_orgbox/org-token", { org }, `no org '${org}' at ${base}`);
    if (typeof token.body.org_url !== "string") throw new Error(`${base}/_orgbox/org-token answered without org_url`);
    return new RemoteOrg(base, token.ca, token.accessToken, token.tenantId, token.body.org_url);
  }

  /** The absolute Web API URL of `path` (for `@odata.id` references). */
  url(path: string): string {
    return `${this.orgUrl.replace(/\/+$/, "")}/api/data/v9.2/${path}`;
  }

  /**
   * Calls `{orgUrl}/api/data/v9.2/{path}`; returns the parsed JSON (undefined for 204). A `POST` that
   * creates a record asks for it back (`Prefer: return=representation`).
   * @throws RemoteError with Dataverse's `error.message` (and its code) for any status ≥ 400.
   */
  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    // Creates answer with the record (its id), as `Prefer: return=representation` asks.
    const prefer: Record<string, string> = method === "POST" && !path.includes("/$ref") && !path.includes("Microsoft.Dynamics.CRM.") ? { prefer: "return=representation" } : {};
    const answer = await send(this.base, this.ca, method, `${this.apiPath}${path}`, `Bearer ${this.token}`, body, { "odata-version": "4.0", "odata-maxversion": "4.0", ...prefer });
    if (answer.status >= 400) {
      const error = isObject(answer.body) && isObject(answer.body.error) ? answer.body.error : undefined;
      const code = typeof error?.code === "string" ? ` (${error.code})` : "";
      throw new RemoteError(typeof error?.message === "string" ? `${error.message}${code}` : `the Web API answered ${answer.status}`, answer.status);
    }
    return answer.body as T;
  }

  /** Every row of a query (following `@odata.nextLink`). */
  list<T = Record<string, unknown>>(path: string): Promise<T[]> {
    return allPages((next) => this.call<{ value: T[]; "@odata.nextLink"?: string }>("GET", next), path, "/api/data/v9.2/");
  }
}

/**
 * One call to a running orgbox's admin surface (`{url}/_orgbox/…`) with the admin key (`--admin-key` or
 * ORGBOX_ADMIN_KEY) and the CA `--ca`/the data folder names; the answer's status and parsed JSON body.
 * @throws ConfigError without an admin key, when the key is refused (401), when the orgbox has no such admin endpoint (404 without the endpoint's `not_found` body), or when it cannot be reached.
 */
export async function adminCall(base: string, flags: RemoteFlags, method: string, path: string, body?: unknown, env: NodeJS.ProcessEnv = process.env): Promise<{ status: number; body: unknown }> {
  const adminKey = flags.adminKey ?? env.ORGBOX_ADMIN_KEY;
  if (!adminKey) throw new ConfigError("with --url, give the admin key of that orgbox: --admin-key KEY or ORGBOX_ADMIN_KEY (orgbox start --admin-key …)");
  const answer = await send(base, trustedCa(flags, env), method, path, `Bearer ${adminKey}`, body);
  if (answer.status === 401) throw new ConfigError(`${base} refused the admin key (401): check --admin-key / ORGBOX_ADMIN_KEY`);
  // An admin endpoint's own 404 (`{"error": "not_found"}`) is the caller's to read.
  if (answer.status === 404 && !(isObject(answer.body) && answer.body.error === "not_found")) throw new ConfigError(`${base} has no admin endpoint ${path}: start it with --admin-key (or ORGBOX_ADMIN_KEY)`);
  return answer;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** One HTTP(S) request with a JSON body; the answer's status and parsed JSON body. */
function send(base: string, ca: string | undefined, method: string, path: string, authorization: string, body: unknown, extraHeaders: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const url = new URL(`${base}${path}`);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { authorization, accept: "application/json", ...extraHeaders };
  if (payload !== undefined) headers["content-type"] = "application/json";
  return new Promise((resolve, reject) => {
    const options = { method, headers, ...(ca ? { ca } : {}) };
    const request = (url.protocol === "http:" ? httpRequest : httpsRequest)(url, options, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => {
        let parsed: unknown;
        try {
          parsed = text === "" ? undefined : JSON.parse(text);
        } catch {
          parsed = text;
        }
        resolve({ status: response.statusCode ?? 0, body: parsed });
      });
    });
    request.on("error", (error) => reject(new ConfigError(`cannot reach ${base}: ${error.message}`)));
    request.end(payload);
  });
}
