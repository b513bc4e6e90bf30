/**
 * A Dataverse Web API client for the CLI's remote commands (`orgbox solution … --url`, `orgbox deploy`):
 * an app's client-credentials token for the environment (`{authority}/{tenant}/oauth2/v2.0/token`,
 * `scope={environment URL}/.default`), then `{environment URL}/api/data/v9.2/…`. It uses only what the
 * real service offers, so the same commands work against orgbox and against Dataverse
 * (learn.microsoft.com/power-apps/developer/data-platform/authenticate-oauth#use-client-credentials).
 */
import { ConfigError } from "../common/errors.ts";

/** The flags of a Web API command. */
export interface WebApiFlags {
  /** The environment (org) URL: `https://localhost:8443/org/contoso`, `https://contoso.crm.dynamics.com`. */
  url?: string;
  tenant?: string;
  clientId?: string;
  clientSecret?: string;
  /** The token authority (default: login.microsoftonline.com for `*.dynamics.com`, else the URL's origin: orgbox). */
  authority?: string;
}

/** A Web API error answer: Dataverse's `error.code` and `error.message`, with the HTTP status. */
export class WebApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(message: string, status: number, code: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A Web API client of one environment, holding an app token. */
export class WebApiClient {
  readonly environmentUrl: string;
  private readonly token: string;

  private constructor(environmentUrl: string, token: string) {
    this.environmentUrl = environmentUrl;
    this.token = token;
  }

  /**
   * Gets a client-credentials token (`--tenant`, `--client-id`, `--client-secret`, or ORGBOX_TENANT,
   * ORGBOX_CLIENT_ID, ORGBOX_CLIENT_SECRET) for the environment at `--url`.
   * @throws ConfigError for missing flags or a token refused by the authority (exit 2).
   */
  static async connect(flags: WebApiFlags, env: NodeJS.ProcessEnv = process.env): Promise<WebApiClient> {
    const url = (flags.url ?? env.ORGBOX_URL)?.replace(/\/+$/, "");
    const tenant = flags.tenant ?? env.ORGBOX_TENANT;
    const clientId = flags.clientId ?? env.ORGBOX_CLIENT_ID;
    const clientSecret = flags.clientSecret ?? env.ORGBOX_CLIENT_SECRET;
    if (!url) throw new ConfigError("--url <environment URL> is required (https://localhost:8443/org/contoso, https://contoso.crm.dynamics.com)");
    if (!tenant || !clientId || !clientSecret) throw new ConfigError("with --url, give the app's credentials: --tenant, --client-id and --client-secret (or ORGBOX_TENANT, ORGBOX_CLIENT_ID, ORGBOX_CLIENT_SECRET)");
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(`--url '${url}' is not a URL`);
    }
    const authority = (flags.authority ?? (parsed.hostname.endsWith(".dynamics.com") ? "https://login.microsoftonline.com" : parsed.origin)).replace(/\/+$/, "");
    const response = await fetch(`${authority}/${encodeURIComponent(tenant)}/oauth2/v2.0/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret, scope: `${url}/.default` }),
    });
    const body = (await response.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string };
    if (!response.ok || !body.access_token) throw new ConfigError(`${authority} refused the client credentials (${response.status}): ${body.error_description ?? body.error ?? "no token"}`);
    return new WebApiClient(url, body.access_token);
  }

  /**
   * Calls `{environment}/api/data/v9.2/{path}`; returns the parsed JSON (undefined for 204) and the
   * `OData-EntityId` header.
   * @throws WebApiError with Dataverse's code and message for any status ≥ 400.
   */
  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ body: T; entityId?: string }> {
    const response = await fetch(`${this.environmentUrl}/api/data/v9.2/${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, accept: "application/json", "content-type": "application/json", "odata-version": "4.0", "odata-maxversion": "4.0" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      parsed = text;
    }
    if (response.status >= 400) {
      const error = isObject(parsed) && isObject(parsed.error) ? parsed.error : undefined;
      throw new WebApiError(`${method} ${path}: ${typeof error?.message === "string" ? error.message : `HTTP ${response.status}`}`, response.status, typeof error?.code === "string" ? error.code : "");
    }
    const entityId = response.headers.get("odata-entityid") ?? undefined;
    return { body: parsed as T, ...(entityId ? { entityId } : {}) };
  }
}

/** The id at the end of an `OData-EntityId` (`…/systemusers(<id>)`). */
export function idFromEntityId(entityId: string | undefined): string | undefined {
  return entityId ? /\(([0-9a-fA-F-]{36})\)$/.exec(entityId)?.[1]?.toLowerCase() : undefined;
}

/** An OData string literal (quotes doubled). */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
