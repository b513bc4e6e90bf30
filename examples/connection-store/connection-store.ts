/**
 * A reference connection store: what an integration platform (seeds 001 and 002: "connect your Dynamics
 * 365", Bizible's key icon) keeps for each connection, written with msal-node only.
 *
 * - connect: authorization code + PKCE with a loopback redirect (`http://localhost:{port}/callback`), for a
 *   chosen tenant and Dataverse org (scope `{orgUrl}/user_impersonation`, plus `offline_access`);
 * - keep the tokens per connection in msal-node's token cache, persisted through an `ICachePlugin`
 *   (one file per connection, `0600`), with the connection's record (tenant, org, account, status) beside it;
 * - use: `acquireTokenSilent`, again with `forceRefresh` when the cached token expires within
 *   `refreshAheadSeconds` (refresh ahead of expiry); a `401`
 *   from the org forces one refresh (the token was revoked or the server's clock is ahead);
 * - on `invalid_grant`, `interaction_required` (`InteractionRequiredAuthError`), `invalid_client` or
 *   `unauthorized_client`, the connection is flagged `needs-reauthentication` with Entra's error code, and
 *   {@link ConnectionStore.reconnect} gives the sign-in link that repairs it.
 *
 * Nothing here knows orgbox: against the real cloud only the settings change
 * (`authorityHost: "https://login.microsoftonline.com"`, the org URL `https://{org}.crm.dynamics.com`).
 * Against orgbox, Node must trust orgbox's CA (`NODE_EXTRA_CA_CERTS`, see `orgbox cert`).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { AuthError, ConfidentialClientApplication, CryptoProvider, InteractionRequiredAuthError, type AccountInfo, type ICachePlugin, type TokenCacheContext } from "@azure/msal-node";

/** The app registration and where connections live. */
export interface ConnectionStoreSettings {
  /** `https://login.microsoftonline.com`, or orgbox's URL (`https://localhost:8443`). */
  authorityHost: string;
  /** The app registration's Application (client) ID. */
  clientId: string;
  /** Its client secret (a web app with the redirect URI `http://localhost/callback`). */
  clientSecret: string;
  /** Folder of the token-cache and record files (created `0700`). */
  directory: string;
  /**
   * Refresh when the cached access token expires within this many seconds. Default 600 (msal-node itself
   * refreshes 300 s ahead, its DEFAULT_TOKEN_RENEWAL_OFFSET_SEC, and when the token's `refresh_in` passes).
   */
  refreshAheadSeconds?: number;
}

/** What the store remembers of a connection (the tokens are in msal's cache file). */
export interface ConnectionRecord {
  name: string;
  /** Tenant id or domain of the authority. */
  tenant: string;
  /** The Dataverse org URL, e.g. `https://contoso.crm.dynamics.com`. */
  orgUrl: string;
  /** msal's `homeAccountId` of the signed-in user (empty before the first sign-in). */
  homeAccountId: string;
  username: string;
  status: "connected" | "needs-reauthentication";
  /** Why the connection needs re-authentication: Entra's `error`, its AADSTS number and message. */
  problem?: { error: string; aadsts: number | undefined; message: string; at: string };
}

/** A sign-in in progress: send the user to `url`; `done` settles when the browser comes back. */
export interface PendingSignIn {
  url: string;
  done: Promise<ConnectionRecord>;
}

/** Entra's answers that only a new sign-in (or new app credentials) repairs. */
const NEEDS_REAUTH = new Set(["invalid_grant", "interaction_required", "consent_required", "login_required", "bad_token", "invalid_client", "unauthorized_client"]);

/** Persists one connection's msal token cache in a file (msal-node's ICachePlugin). */
function fileCachePlugin(file: string): ICachePlugin {
  return {
    async beforeCacheAccess(context: TokenCacheContext) {
      if (existsSync(file)) context.tokenCache.deserialize(readFileSync(file, "utf8"));
    },
    async afterCacheAccess(context: TokenCacheContext) {
      if (!context.cacheHasChanged) return;
      writeFileSync(file, context.tokenCache.serialize(), { mode: 0o600 });
      chmodSync(file, 0o600);
    },
  };
}

export class ConnectionStore {
  private readonly settings: ConnectionStoreSettings;

  constructor(settings: ConnectionStoreSettings) {
    this.settings = settings;
    mkdirSync(settings.directory, { recursive: true, mode: 0o700 });
  }

  /**
   * Starts connecting `name` to `orgUrl` in `tenant`: a loopback listener on 127.0.0.1 (a free port),
   * and the sign-in URL (auth code + PKCE S256, state). `done` resolves once the code is redeemed.
   * @throws from `done`: AuthError for an error redirect (e.g. `access_denied`) or a failed redemption.
   */
  async connect(name: string, tenant: string, orgUrl: string, loginHint?: string): Promise<PendingSignIn> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new Error(`connection names are 1-64 letters, digits, '_' or '-' (got '${name}')`);
    const crypto = new CryptoProvider();
    const pkce = await crypto.generatePkceCodes();
    const state = crypto.createNewGuid();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const redirectUri = `http://localhost:${(server.address() as AddressInfo).port}/callback`;
    const msal = this.client(name, tenant);
    const scopes = [`${orgUrl}/user_impersonation`];
    const url = await msal.getAuthCodeUrl({ scopes, redirectUri, codeChallenge: pkce.challenge, codeChallengeMethod: "S256", state, prompt: "login", ...(loginHint ? { loginHint } : {}) });
    const done = this.awaitCallback(server, state).then(async (code) => {
      const result = await msal.acquireTokenByCode({ code, scopes, redirectUri, codeVerifier: pkce.verifier, state }, { code, state });
      const account = result.account as AccountInfo;
      const record: ConnectionRecord = { name, tenant, orgUrl, homeAccountId: account.homeAccountId, username: account.username, status: "connected" };
      this.save(record);
      return record;
    });
    return { url, done };
  }

  /** The sign-in link that repairs a flagged connection (same tenant, org and user). @throws Error for an unknown connection. */
  reconnect(name: string): Promise<PendingSignIn> {
    const record = this.record(name);
    return this.connect(name, record.tenant, record.orgUrl, record.username || undefined);
  }

  /** A connection's record. @throws Error for an unknown connection. */
  record(name: string): ConnectionRecord {
    const file = this.recordFile(name);
    if (!existsSync(file)) throw new Error(`no connection '${name}'`);
    return JSON.parse(readFileSync(file, "utf8")) as ConnectionRecord;
  }

  /**
   * An access token for the connection's org: from the cache, refreshed ahead of expiry (or now with
   * `forceRefresh`). A refresh that Entra refuses for good flags the connection and returns undefined.
   * @throws Error for an unknown connection; other errors (network, 5xx) as msal-node throws them.
   */
  async accessToken(name: string, options: { forceRefresh?: boolean } = {}): Promise<string | undefined> {
    const record = this.record(name);
    if (record.status !== "connected") return undefined;
    const msal = this.client(name, record.tenant);
    const account = await msal.getTokenCache().getAccountByHomeId(record.homeAccountId);
    if (!account) return this.flag(record, { error: "no_account", aadsts: undefined, message: "the token cache holds no account for this connection" });
    try {
      const scopes = [`${record.orgUrl}/user_impersonation`];
      let result = await msal.acquireTokenSilent({ account, scopes, forceRefresh: options.forceRefresh ?? false });
      const ahead = (this.settings.refreshAheadSeconds ?? 600) * 1000;
      if (!options.forceRefresh && result.fromCache && result.expiresOn !== null && result.expiresOn.getTime() - Date.now() < ahead) {
        result = await msal.acquireTokenSilent({ account, scopes, forceRefresh: true });
      }
      return result.accessToken;
    } catch (error) {
      if (error instanceof InteractionRequiredAuthError || (error instanceof AuthError && NEEDS_REAUTH.has(error.errorCode))) {
        const aadsts = /AADSTS(\d+)/.exec(error.errorMessage)?.[1];
        return this.flag(record, { error: error.errorCode, aadsts: aadsts ? Number(aadsts) : undefined, message: error.errorMessage.split("\n")[0] ?? "" });
      }
      throw error;
    }
  }

  /**
   * Calls the org's Web API (`{orgUrl}/api/data/v9.2/{path}`) as the connection's user: once with the
   * cached token and, on `401`, once more after a forced refresh.
   * @returns the response, or undefined when the connection needs re-authentication.
   */
  async call(name: string, path: string, init: RequestInit = {}): Promise<Response | undefined> {
    const record = this.record(name);
    for (const forceRefresh of [false, true]) {
      const token = await this.accessToken(name, { forceRefresh });
      if (!token) return undefined;
      const response = await fetch(`${record.orgUrl}/api/data/v9.2/${path}`, { ...init, headers: { accept: "application/json", ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${token}` } });
      if (response.status !== 401 || forceRefresh) return response;
    }
    return undefined;
  }

  private flag(record: ConnectionRecord, problem: Omit<NonNullable<ConnectionRecord["problem"]>, "at">): undefined {
    this.save({ ...record, status: "needs-reauthentication", problem: { ...problem, at: new Date().toISOString() } });
    return undefined;
  }

  private client(name: string, tenant: string): ConfidentialClientApplication {
    const { authorityHost, clientId, clientSecret } = this.settings;
    const host = new URL(authorityHost).host;
    // knownAuthorities skips instance discovery for a host that is not a Microsoft cloud (orgbox); harmless for login.microsoftonline.com.
    return new ConfidentialClientApplication({
      auth: { clientId, clientSecret, authority: `${authorityHost.replace(/\/+$/, "")}/${tenant}`, knownAuthorities: [host] },
      cache: { cachePlugin: fileCachePlugin(join(this.settings.directory, `${name}.tokens.json`)) },
    });
  }

  private recordFile(name: string): string {
    return join(this.settings.directory, `${name}.connection.json`);
  }

  private save(record: ConnectionRecord): void {
    writeFileSync(this.recordFile(record.name), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  }

  /** Serves the loopback redirect once: the code (state checked), or the error redirect as an AuthError; gives up after 10 minutes. */
  private awaitCallback(server: Server, state: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        server.close();
        reject(new AuthError("timed_out", "nobody came back from the sign-in page within 10 minutes"));
      }, 600_000);
      timer.unref();
      server.on("request", (req, res) => {
        const url = new URL(req.url ?? "/", "http://localhost");
        if (url.pathname !== "/callback") {
          res.writeHead(404).end();
          return;
        }
        const code = url.searchParams.get("code");
        const error = url.searchParams.get("error");
        const ok = code !== null && url.searchParams.get("state") === state;
        res.writeHead(ok ? 200 : 400, { "content-type": "text/plain; charset=utf-8" }).end(ok ? "Connected. You can close this window." : `Sign-in failed: ${error ?? "state mismatch"}`);
        server.close();
        clearTimeout(timer);
        if (ok) resolve(code);
        else reject(new AuthError(error ?? "state_mismatch", url.searchParams.get("error_description") ?? "the redirect did not carry this sign-in's state"));
      });
    });
  }
}
