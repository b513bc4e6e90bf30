/**
 * The directory commands against a running orgbox (`--url`): each command asks the admin endpoint
 * `POST {url}/_orgbox/graph-token` (with the admin key) for a Microsoft Graph token of the tenant's
 * "orgbox CLI" service principal, then calls `{url}/graph/v1.0/…` with it
 * (learn.microsoft.com/graph/api/resources/application, …/user, …/serviceprincipal, …/oauth2permissiongrant).
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
    const adminKey = flags.adminKey ?? env.ORGBOX_ADMIN_KEY;
    if (!adminKey) throw new ConfigError("with --url, give the admin key of that orgbox: --admin-key KEY or ORGBOX_ADMIN_KEY (orgbox start --admin-key …)");
    if (!tenant) throw new ConfigError("with --url, --tenant <id|domain> is required");
    const ca = trustedCa(flags, env);
    const answer = await send(base, ca, "POST", "/_orgbox/graph-token", `Bearer ${adminKey}`, { tenant });
    if (answer.status === 401) throw new ConfigError(`${base} refused the admin key (401): check --admin-key / ORGBOX_ADMIN_KEY`);
    if (answer.status === 404 && isObject(answer.body) && answer.body.error === "not_found") throw new ConfigError(`no tenant '${tenant}' (orgbox tenant list)`);
    if (answer.status === 404) throw new ConfigError(`${base} has no admin endpoint: start it with --admin-key (or ORGBOX_ADMIN_KEY)`);
    const body = answer.body as { access_token?: string; tenant_id?: string } | undefined;
    if (answer.status !== 200 || !body?.access_token || !body.tenant_id) throw new Error(`${base}/_orgbox/graph-token answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return new RemoteDirectory(base, ca, body.access_token, body.tenant_id);
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
  async list<T = Record<string, unknown>>(path: string): Promise<T[]> {
    const out: T[] = [];
    let next: string | undefined = path;
    while (next !== undefined) {
      const page: { value: T[]; "@odata.nextLink"?: string } = await this.call("GET", next);
      out.push(...page.value);
      const link = page["@odata.nextLink"];
      next = link === undefined ? undefined : link.slice(link.indexOf("/graph/v1.0/") + "/graph/v1.0/".length);
    }
    return out;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** One HTTP(S) request with a JSON body; the answer's status and parsed JSON body. */
function send(base: string, ca: string | undefined, method: string, path: string, authorization: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const url = new URL(`${base}${path}`);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { authorization, accept: "application/json" };
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
