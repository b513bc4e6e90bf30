/**
 * `orgbox tenant|user|app|secret|cert|sp|consent …`: the directory of a persisted store, managed as the
 * Entra admin center and Microsoft Graph manage it (learn.microsoft.com/graph/api/resources/application,
 * …/user, …/serviceprincipal, …/oauth2permissiongrant). Each verb is one {@link IdentityService} call
 * (plus look-ups of the names it is given), so `orgbox.identity.service` does the same in code.
 *
 * Output: a table (or a line) for people; with `--json` (or ORGBOX_JSON=1) one JSON document on
 * stdout, times as ISO 8601. Exit codes: 2 for bad input (missing or malformed flags, unknown tenant,
 * user, app, resource or scope), 1 for failures (duplicates, a tenant still bound to an org, I/O).
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { ConfigError } from "../common/errors.ts";
import { RESOURCE_ALIASES } from "../environment/load.ts";
import type { Application, RequiredResourceAccess, Tenant, User } from "../identity/index.ts";
import { GLOBAL_ADMINISTRATOR_ROLE, type IdentityService } from "../identity/index.ts";
import { DirectoryError } from "../identity/index.ts";
import { offlineStore, withOfflineServices } from "../server/offline.ts";
import * as remote from "./directory-remote.ts";
import { adminCall, remoteUrl } from "./remote.ts";

interface Flags {
  data?: string;
  storeUrl?: string;
  json?: boolean;
  /** A running orgbox (`--url`, env ORGBOX_URL): the command goes through its Graph API. */
  url?: string;
  adminKey?: string;
  ca?: string;
  tenant?: string;
}

const DAY_MS = 24 * 3600_000;
const collect = (value: string, previous: string[] = []) => [...previous, value];

function wantsJson(flags: Flags): boolean {
  const env = process.env.ORGBOX_JSON;
  return flags.json === true || env === "1" || env === "true";
}

/** JSON with `…DateTime` / `…At` numbers (ms since the epoch) written as ISO 8601. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (key, v: unknown) => (typeof v === "number" && /(DateTime|At)$/.test(key) ? new Date(v).toISOString() : v));
}

/** Left-aligned columns with a header; `(none)` for no rows. */
export function table(headers: string[], rows: string[][]): string {
  if (rows.length === 0) return "  (none)";
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `  ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ")}`.trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function write(flags: Flags, json: unknown, text: string): void {
  process.stdout.write(wantsJson(flags) ? `${toJson(json)}\n` : `${text}\n`);
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The output helpers of a remote command. */
const output = (flags: Flags): remote.RemoteOutput => ({ write: (json, text) => write(flags, json, text), table });

/** Refuses `--url` for a command that has no remote variant. @throws ConfigError */
function offlineOnly(flags: Flags, command: string): void {
  if (remoteUrl(flags)) throw new ConfigError(`'orgbox ${command}' works on a stopped store only (--data / --store-url), not with --url`);
}

/**
 * Runs `work` on the services of the `--data` store. A {@link DirectoryError} about something missing or
 * malformed (400, 404) becomes bad input (exit 2); a conflict (409) stays a failure (exit 1).
 */
async function withDirectory(flags: Flags, work: (identity: IdentityService) => Promise<void>): Promise<void> {
  try {
    await withOfflineServices(offlineStore(flags), ({ identity }) => work(identity));
  } catch (error) {
    if (error instanceof DirectoryError && error.status !== 409) throw new ConfigError(error.message);
    throw error;
  }
}

async function requireTenant(identity: IdentityService, idOrDomain: string | undefined): Promise<Tenant> {
  if (!idOrDomain) throw new ConfigError("--tenant <id|domain> is required");
  const tenant = await identity.findTenant(idOrDomain);
  if (!tenant) throw new ConfigError(`no tenant '${idOrDomain}' (orgbox tenant list)`);
  return tenant;
}

async function requireApp(identity: IdentityService, appId: string | undefined): Promise<Application> {
  if (!appId) throw new ConfigError("--app <appId> is required");
  const app = await identity.findApplication(appId);
  if (!app) throw new ConfigError(`no application with appId '${appId}' (orgbox app list --tenant …)`);
  return app;
}

async function requireUser(identity: IdentityService, upn: string): Promise<User> {
  const user = await identity.findUser(upn);
  if (!user) throw new ConfigError(`no user '${upn}' (orgbox user list --tenant …)`);
  return user;
}

/** A resource app by app id or by name (`Dynamics CRM`, `Microsoft Graph`, their aliases). */
async function requireResource(identity: IdentityService, nameOrAppId: string): Promise<Application> {
  const app = await identity.findApplication(RESOURCE_ALIASES[nameOrAppId.toLowerCase()] ?? nameOrAppId);
  if (!app) throw new ConfigError(`no resource '${nameOrAppId}': give 'Dynamics CRM', 'Microsoft Graph' or the appId of a registered app`);
  return app;
}

/** `--scope a --scope "b c"` → [a, b, c]. */
const scopesOf = (values: string[] | undefined) => (values ?? []).flatMap((v) => v.split(/[\s,]+/)).filter(Boolean);

// ── tenant ────────────────────────────────────────────────────────────────────────────

async function tenantCreate(flags: Flags & { name?: string; domain?: string; id?: string }): Promise<void> {
  if (!flags.name || !flags.domain) throw new ConfigError("--name and --domain are required");
  if (!/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(flags.domain)) throw new ConfigError(`'${flags.domain}' is not a domain name (e.g. fabrikam.onmicrosoft.com)`);
  offlineOnly(flags, "tenant create");
  if (flags.id && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(flags.id)) throw new ConfigError(`--id must be a GUID (got '${flags.id}')`);
  await withDirectory(flags, async (identity) => {
    const tenant = await identity.createTenant({ displayName: flags.name as string, defaultDomain: flags.domain as string, ...(flags.id ? { id: flags.id } : {}) });
    write(flags, tenant, `  tenant ${tenant.id} '${tenant.displayName}' (${tenant.defaultDomain})`);
  });
}

async function tenantList(flags: Flags): Promise<void> {
  offlineOnly(flags, "tenant list");
  await withDirectory(flags, async (identity) => {
    const tenants = await identity.listTenants();
    write(flags, tenants, table(["ID", "DOMAIN", "NAME"], tenants.map((t) => [t.id, t.defaultDomain, t.displayName])));
  });
}

async function tenantDelete(idOrDomain: string, flags: Flags): Promise<void> {
  offlineOnly(flags, "tenant delete");
  await withDirectory(flags, async (identity) => {
    const tenant = await identity.deleteTenant(idOrDomain);
    write(flags, { deleted: tenant }, `  deleted tenant ${tenant.id} (${tenant.defaultDomain}) and everything in it`);
  });
}

// ── user ──────────────────────────────────────────────────────────────────────────────

async function userCreate(flags: Flags & { tenant?: string; upn?: string; password?: string; displayName?: string; globalAdmin?: boolean }): Promise<void> {
  if (!flags.upn || !flags.password) throw new ConfigError("--upn and --password are required");
  if (!/^[^@\s]+@[^@\s]+$/.test(flags.upn)) throw new ConfigError(`'${flags.upn}' is not a user principal name (name@domain)`);
  const url = remoteUrl(flags);
  if (url) {
    const input = { upn: flags.upn, password: flags.password, ...(flags.displayName ? { displayName: flags.displayName } : {}), ...(flags.globalAdmin ? { globalAdmin: true } : {}) };
    return remote.withRemote(url, flags, flags.tenant, async (graph) => remote.remoteUserCreate(graph, output(flags), { ...input, tenantLabel: flags.tenant ?? graph.tenantId }));
  }
  await withDirectory(flags, async (identity) => {
    const tenant = await requireTenant(identity, flags.tenant);
    const upn = flags.upn as string;
    const user = await identity.createUser({
      tenantId: tenant.id,
      userPrincipalName: upn,
      displayName: flags.displayName ?? upn.split("@")[0] ?? upn,
      password: flags.password as string,
      directoryRoles: flags.globalAdmin ? [GLOBAL_ADMINISTRATOR_ROLE] : [],
    });
    write(flags, user, `  user ${user.id} ${user.userPrincipalName} in ${tenant.defaultDomain}${flags.globalAdmin ? " (Global Administrator)" : ""}`);
  });
}

async function userList(flags: Flags & { tenant?: string }): Promise<void> {
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteUserList(graph, output(flags)));
  await withDirectory(flags, async (identity) => {
    const tenant = await requireTenant(identity, flags.tenant);
    const users = await identity.listUsers(tenant.id);
    write(
      flags,
      users,
      table(
        ["ID", "UPN", "NAME", "ENABLED", "ROLES"],
        users.map((u) => [u.id, u.userPrincipalName, u.displayName, u.accountEnabled ? "yes" : "no", u.directoryRoles.includes(GLOBAL_ADMINISTRATOR_ROLE) ? "Global Administrator" : ""]),
      ),
    );
  });
}

async function userDelete(upn: string, flags: Flags): Promise<void> {
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, remote.tenantOfUpn(flags, upn), (graph) => remote.remoteUserDelete(graph, output(flags), upn));
  await withDirectory(flags, async (identity) => {
    const user = await identity.deleteUser(upn);
    write(flags, { deleted: user }, `  deleted user ${user.userPrincipalName} (${user.id})`);
  });
}

async function userResetPassword(upn: string, flags: Flags & { password?: string }): Promise<void> {
  if (!flags.password) throw new ConfigError("--password is required");
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, remote.tenantOfUpn(flags, upn), (graph) => remote.remoteUserResetPassword(graph, output(flags), upn, flags.password as string));
  await withDirectory(flags, async (identity) => {
    const user = await requireUser(identity, upn);
    await identity.resetPassword(user.id, flags.password as string);
    write(flags, { id: user.id, userPrincipalName: user.userPrincipalName, passwordReset: true }, `  password of ${user.userPrincipalName} reset; its refresh tokens and sessions are revoked`);
  });
}

function userSetEnabled(enabled: boolean) {
  return async (upn: string, flags: Flags): Promise<void> => {
    const url = remoteUrl(flags);
    if (url) return remote.withRemote(url, flags, remote.tenantOfUpn(flags, upn), (graph) => remote.remoteUserSetEnabled(graph, output(flags), upn, enabled));
    await withDirectory(flags, async (identity) => {
      const user = await requireUser(identity, upn);
      await identity.setAccountEnabled(user.id, enabled);
      write(flags, { id: user.id, userPrincipalName: user.userPrincipalName, accountEnabled: enabled }, `  ${user.userPrincipalName} ${enabled ? "enabled" : "disabled (sign-in blocked: AADSTS50057)"}`);
    });
  };
}

// ── app / secret / cert ───────────────────────────────────────────────────────────────

/** `web:URL`, `spa:URL`, `public:URL` → the three redirect URI lists. */
function parseRedirectUris(specs: string[]): { web: string[]; spa: string[]; public: string[] } {
  const out = { web: [] as string[], spa: [] as string[], public: [] as string[] };
  for (const spec of specs) {
    const match = /^(web|spa|public):(.+)$/.exec(spec);
    if (!match) throw new ConfigError(`--redirect-uri '${spec}': use web:URL, spa:URL or public:URL`);
    const [, platform, uri] = match as unknown as [string, "web" | "spa" | "public", string];
    if (!URL.canParse(uri)) throw new ConfigError(`--redirect-uri '${spec}': '${uri}' is not an absolute URI`);
    out[platform].push(uri);
  }
  return out;
}

/** `Dynamics CRM:user_impersonation` → a `requiredResourceAccess` entry (delegated scope, else app role). */
async function parsePermissions(identity: IdentityService, specs: string[]): Promise<RequiredResourceAccess[]> {
  const byResource = new Map<string, RequiredResourceAccess>();
  for (const spec of specs) {
    const at = spec.lastIndexOf(":");
    if (at <= 0 || at === spec.length - 1) throw new ConfigError(`--permission '${spec}': use <resource>:<permission>, e.g. "Dynamics CRM:user_impersonation"`);
    const resource = await requireResource(identity, spec.slice(0, at));
    const value = spec.slice(at + 1).toLowerCase();
    const scope = resource.api.oauth2PermissionScopes.find((s) => s.value.toLowerCase() === value);
    const role = resource.appRoles.find((r) => r.value.toLowerCase() === value);
    if (!scope && !role) {
      const known = [...resource.api.oauth2PermissionScopes.map((s) => s.value), ...resource.appRoles.map((r) => r.value)];
      throw new ConfigError(`${resource.displayName} has no permission '${spec.slice(at + 1)}' (it has ${known.join(", ") || "none"})`);
    }
    const entry = byResource.get(resource.appId) ?? { resourceAppId: resource.appId, resourceAccess: [] };
    entry.resourceAccess.push(scope ? { id: scope.id, type: "Scope" } : { id: (role as { id: string }).id, type: "Role" });
    byResource.set(resource.appId, entry);
  }
  return [...byResource.values()];
}

interface AppCreateFlags extends Flags {
  tenant?: string;
  name?: string;
  appId?: string;
  multiTenant?: boolean;
  redirectUri?: string[];
  publicClient?: boolean;
  identifierUri?: string[];
  permission?: string[];
}

async function appCreate(flags: AppCreateFlags): Promise<void> {
  if (!flags.name) throw new ConfigError("--name is required");
  const redirects = parseRedirectUris(flags.redirectUri ?? []);
  const url = remoteUrl(flags);
  if (url) {
    return remote.withRemote(url, flags, flags.tenant, (graph) =>
      remote.remoteAppCreate(graph, output(flags), { name: flags.name as string, redirects, identifierUris: flags.identifierUri ?? [], permissions: flags.permission ?? [], tenantLabel: flags.tenant ?? graph.tenantId, ...(flags.multiTenant ? { multiTenant: true } : {}), ...(flags.publicClient ? { publicClient: true } : {}), ...(flags.appId ? { appId: flags.appId } : {}) }),
    );
  }
  await withDirectory(flags, async (identity) => {
    const tenant = await requireTenant(identity, flags.tenant);
    const { application, servicePrincipal } = await identity.registerApplication({
      tenantId: tenant.id,
      displayName: flags.name as string,
      ...(flags.appId ? { appId: flags.appId } : {}),
      signInAudience: flags.multiTenant ? "AzureADMultipleOrgs" : "AzureADMyOrg",
      webRedirectUris: redirects.web,
      spaRedirectUris: redirects.spa,
      publicClientRedirectUris: redirects.public,
      isFallbackPublicClient: flags.publicClient === true,
      identifierUris: flags.identifierUri ?? [],
      requiredResourceAccess: await parsePermissions(identity, flags.permission ?? []),
    });
    write(flags, { ...application, servicePrincipalId: servicePrincipal.id }, `  app ${application.appId} '${application.displayName}' in ${tenant.defaultDomain} (object id ${application.id}, service principal ${servicePrincipal.id})`);
  });
}

async function appList(flags: Flags & { tenant?: string }): Promise<void> {
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteAppList(graph, output(flags)));
  await withDirectory(flags, async (identity) => {
    const tenant = await requireTenant(identity, flags.tenant);
    const apps = await identity.listApplications(tenant.id);
    write(flags, apps, table(["APP ID", "NAME", "AUDIENCE", "PUBLIC"], apps.map((a) => [a.appId, a.displayName, a.signInAudience, a.isFallbackPublicClient ? "yes" : "no"])));
  });
}

async function appShow(appId: string, flags: Flags): Promise<void> {
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteAppShow(graph, output(flags), appId));
  await withDirectory(flags, async (identity) => {
    const app = await requireApp(identity, appId);
    const lines = [
      `  appId               ${app.appId}`,
      `  object id           ${app.id}`,
      `  name                ${app.displayName}`,
      `  home tenant         ${app.tenantId}`,
      `  sign-in audience    ${app.signInAudience}`,
      `  public client       ${app.isFallbackPublicClient ? "yes" : "no"}`,
      `  identifier URIs     ${app.identifierUris.join(" ")}`,
      `  redirect URIs       ${[...app.web.redirectUris.map((u) => `web:${u}`), ...app.spa.redirectUris.map((u) => `spa:${u}`), ...app.publicClient.redirectUris.map((u) => `public:${u}`)].join(" ")}`,
      `  permissions         ${app.requiredResourceAccess.map((r) => `${r.resourceAppId}(${r.resourceAccess.length})`).join(" ")}`,
    ];
    write(flags, app, lines.join("\n"));
  });
}

async function appDelete(appId: string, flags: Flags): Promise<void> {
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteAppDelete(graph, output(flags), appId));
  await withDirectory(flags, async (identity) => {
    const app = await identity.deleteApplication(appId);
    write(flags, { deleted: app }, `  deleted app ${app.appId} '${app.displayName}' and its service principals`);
  });
}

interface AppUpdateFlags extends Flags {
  addRedirectUri?: string[];
  removeRedirectUri?: string[];
  publicClient?: string;
  addPermission?: string[];
}

/**
 * `app update <appId>`: redirect URIs added and removed per platform, `--public-client true|false`,
 * API permissions added (`<resource>:<permission>`, the resource an app id or a name). Prints `app show`.
 */
async function appUpdate(appId: string, flags: AppUpdateFlags): Promise<void> {
  const add = parseRedirectUris(flags.addRedirectUri ?? []);
  const remove = parseRedirectUris(flags.removeRedirectUri ?? []);
  if (flags.publicClient !== undefined && flags.publicClient !== "true" && flags.publicClient !== "false") throw new ConfigError(`--public-client must be true or false (got '${flags.publicClient}')`);
  const publicClient = flags.publicClient === undefined ? undefined : flags.publicClient === "true";
  const permissions = flags.addPermission ?? [];
  if (add.web.length + add.spa.length + add.public.length + remove.web.length + remove.spa.length + remove.public.length + permissions.length === 0 && publicClient === undefined) {
    throw new ConfigError("nothing to change: give --add-redirect-uri, --remove-redirect-uri, --public-client or --add-permission");
  }
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteAppUpdate(graph, output(flags), appId, { add, remove, permissions, ...(publicClient !== undefined ? { publicClient } : {}) }));
  await withDirectory(flags, async (identity) => {
    const app = await requireApp(identity, appId);
    const next = remote.applyAppChanges(app, { add, remove }, await parsePermissions(identity, permissions));
    const updated = await identity.updateApplication(app.appId, { ...next, ...(publicClient !== undefined ? { isFallbackPublicClient: publicClient } : {}) });
    write(flags, updated, remote.appShowText(updated));
  });
}

/** `--expires 2027-01-01` or `--days 180` → end time in ms; undefined for the service default. */
function secretEnd(flags: { expires?: string; days?: string }, now: number): number | undefined {
  if (flags.expires !== undefined && flags.days !== undefined) throw new ConfigError("give --expires or --days, not both");
  if (flags.expires !== undefined) {
    const end = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(flags.expires) ? Date.parse(flags.expires) : Number.NaN;
    if (Number.isNaN(end)) throw new ConfigError(`--expires must be a date like 2027-01-01 (got '${flags.expires}')`);
    if (end <= now) throw new ConfigError(`--expires ${flags.expires} is in the past`);
    return end;
  }
  if (flags.days !== undefined) {
    const days = Number(flags.days);
    if (!Number.isInteger(days) || days < 1 || days > 730) throw new ConfigError(`--days must be a whole number from 1 to 730 (got '${flags.days}')`);
    return now + days * DAY_MS;
  }
  return undefined;
}

/** A running orgbox's now (ms, its clock: time travel moves it), from `GET /_orgbox/clock`. @throws ConfigError as `adminCall` does. */
async function remoteNow(url: string, flags: Flags): Promise<number> {
  const answer = await adminCall(url, flags, "GET", "/_orgbox/clock");
  const nowMs = (answer.body as { nowMs?: unknown } | undefined)?.nowMs;
  if (answer.status !== 200 || typeof nowMs !== "number") throw new Error(`${url}/_orgbox/clock answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return nowMs;
}

async function secretAdd(flags: Flags & { app?: string; name?: string; expires?: string; days?: string }): Promise<void> {
  if (!flags.app) throw new ConfigError("--app <appId> is required");
  const url = remoteUrl(flags);
  // --days and --expires count from orgbox's time (time travel moves it), not this machine's.
  if (url) {
    const endDateTime = flags.days !== undefined || flags.expires !== undefined ? secretEnd(flags, await remoteNow(url, flags)) : undefined;
    return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteSecretAdd(graph, output(flags), flags.app as string, { ...(flags.name ? { name: flags.name } : {}), ...(endDateTime !== undefined ? { endDateTime } : {}) }));
  }
  await withDirectory(flags, async (identity) => {
    const endDateTime = secretEnd(flags, identity.now());
    const secret = await identity.addPassword({ appId: flags.app as string, ...(flags.name ? { displayName: flags.name } : {}), ...(endDateTime !== undefined ? { endDateTime } : {}) });
    write(flags, secret, [`  client secret ${secret.keyId} for app ${flags.app}, expires ${day(secret.endDateTime)}`, `  value (shown once, stored as a hash): ${secret.secretText}`].join("\n"));
  });
}

async function secretList(flags: Flags & { app?: string }): Promise<void> {
  if (!flags.app) throw new ConfigError("--app <appId> is required");
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteSecretList(graph, output(flags), flags.app as string));
  await withDirectory(flags, async (identity) => {
    const secrets = await identity.listAppPasswords(flags.app as string);
    write(flags, secrets, table(["KEY ID", "NAME", "HINT", "STARTS", "EXPIRES"], secrets.map((s) => [s.keyId, s.displayName ?? "", `${s.hint}…`, day(s.startDateTime), day(s.endDateTime)])));
  });
}

async function secretRemove(flags: Flags & { app?: string; keyId?: string }): Promise<void> {
  if (!flags.app || !flags.keyId) throw new ConfigError("--app <appId> and --key-id <keyId> are required");
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteSecretRemove(graph, output(flags), flags.app as string, flags.keyId as string));
  await withDirectory(flags, async (identity) => {
    await identity.removePassword(flags.app as string, flags.keyId as string);
    write(flags, { appId: flags.app, keyId: flags.keyId, removed: true }, `  removed client secret ${flags.keyId} of app ${flags.app}`);
  });
}

/** Reads a PEM file named by a flag. @throws ConfigError naming the flag when it cannot be read. */
function readPemFlag(file: string, flag: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read ${flag} ${file}: ${(error as Error).message}`);
  }
}

type CertFlags = Flags & { app?: string; cert?: string; name?: string; keyId?: string; proofKey?: string; tenant?: string };

/**
 * `orgbox app cert add|list|remove` (and the deprecated `orgbox cert add|list`, whose parent `cert` consumes
 * --data and --json: hence optsWithGlobals). With `--url`, Graph's addKey/removeKey with a proof signed by
 * `--proof-key` (learn.microsoft.com/graph/api/application-addkey).
 */
async function certAdd(_flags: unknown, command: Command): Promise<void> {
  const flags = command.optsWithGlobals<CertFlags>();
  if (!flags.app || !flags.cert) throw new ConfigError("--app <appId> and --cert <file.pem> are required");
  const pem = readPemFlag(flags.cert, "--cert");
  const url = remoteUrl(flags);
  if (url) {
    const proofKeyPem = flags.proofKey ? readPemFlag(flags.proofKey, "--proof-key") : undefined;
    return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteCertAdd(graph, output(flags), flags.app as string, { pem, ...(flags.name ? { name: flags.name } : {}), ...(proofKeyPem ? { proofKeyPem } : {}) }));
  }
  await withDirectory(flags, async (identity) => {
    const credential = await identity.addKeyCredential({ appId: flags.app as string, certificatePem: pem, ...(flags.name ? { displayName: flags.name } : {}) });
    write(flags, credential, `  certificate ${credential.keyId} (SHA-1 ${credential.customKeyIdentifier}) for app ${flags.app}, valid ${day(credential.startDateTime)} to ${day(credential.endDateTime)}`);
  });
}

async function certList(_flags: unknown, command: Command): Promise<void> {
  const flags = command.optsWithGlobals<CertFlags>();
  if (!flags.app) throw new ConfigError("--app <appId> is required");
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteCertList(graph, output(flags), flags.app as string));
  await withDirectory(flags, async (identity) => {
    const certs = await identity.listKeyCredentials(flags.app as string);
    write(flags, certs, table(["KEY ID", "THUMBPRINT (SHA-1)", "NAME", "STARTS", "EXPIRES"], certs.map((c) => [c.keyId, c.customKeyIdentifier, c.displayName ?? "", day(c.startDateTime), day(c.endDateTime)])));
  });
}

async function certRemove(_flags: unknown, command: Command): Promise<void> {
  const flags = command.optsWithGlobals<CertFlags>();
  if (!flags.app || !flags.keyId) throw new ConfigError("--app <appId> and --key-id <keyId> are required");
  const url = remoteUrl(flags);
  if (url) {
    const proofKeyPem = flags.proofKey ? readPemFlag(flags.proofKey, "--proof-key") : undefined;
    return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteCertRemove(graph, output(flags), flags.app as string, flags.keyId as string, proofKeyPem));
  }
  await withDirectory(flags, async (identity) => {
    await identity.removeKeyCredential(flags.app as string, flags.keyId as string);
    write(flags, { appId: flags.app, keyId: flags.keyId, removed: true }, `  removed certificate ${flags.keyId} of app ${flags.app}`);
  });
}

/** The action of a deprecated spelling: a warning on stderr naming the new one, then the command. */
function deprecated(oldName: string, newName: string, action: (flags: unknown, command: Command) => Promise<void>) {
  return (flags: unknown, command: Command): Promise<void> => {
    console.error(`orgbox: '${oldName}' is deprecated and will be removed in the next release: use '${newName}' ('orgbox cert' alone is the local CA)`);
    return action(flags, command);
  };
}

// ── sp / consent ──────────────────────────────────────────────────────────────────────

async function spCreate(flags: Flags & { tenant?: string; app?: string }): Promise<void> {
  const url = remoteUrl(flags);
  if (url) {
    if (!flags.app) throw new ConfigError("--app <appId> is required");
    return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteSpCreate(graph, output(flags), flags.app as string, flags.tenant ?? graph.tenantId));
  }
  await withDirectory(flags, async (identity) => {
    const tenant = await requireTenant(identity, flags.tenant);
    const app = await requireApp(identity, flags.app);
    if (app.signInAudience === "AzureADMyOrg" && app.tenantId !== tenant.id) throw new ConfigError(`app ${app.appId} is single-tenant (AzureADMyOrg) in tenant ${app.tenantId}: it cannot have a service principal in ${tenant.defaultDomain} (create it with --multi-tenant)`);
    const sp = await identity.createServicePrincipal(tenant.id, app.appId);
    write(flags, sp, `  service principal ${sp.id} of app ${app.appId} in ${tenant.defaultDomain}`);
  });
}

async function spList(flags: Flags & { tenant?: string }): Promise<void> {
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteSpList(graph, output(flags)));
  await withDirectory(flags, async (identity) => {
    const tenant = await requireTenant(identity, flags.tenant);
    const sps = await identity.listServicePrincipals(tenant.id);
    write(flags, sps, table(["OBJECT ID", "APP ID", "NAME", "OWNER TENANT"], sps.map((s) => [s.id, s.appId, s.displayName, s.appOwnerOrganizationId])));
  });
}

interface ConsentFlags extends Flags {
  tenant?: string;
  app?: string;
  resource?: string;
  scope?: string[];
  user?: string;
  allPrincipals?: boolean;
  id?: string;
}

/** The principal of a grant: a user's id for `--user`, undefined for everyone (the default). */
async function consentPrincipal(identity: IdentityService, tenant: Tenant, flags: ConsentFlags): Promise<string | undefined> {
  if (flags.user && flags.allPrincipals) throw new ConfigError("give --user or --all-principals, not both");
  if (!flags.user) return undefined;
  const user = await requireUser(identity, flags.user);
  if (user.tenantId !== tenant.id) throw new ConfigError(`user ${user.userPrincipalName} is not in tenant ${tenant.defaultDomain}`);
  return user.id;
}

async function consentGrant(flags: ConsentFlags): Promise<void> {
  const scopes = scopesOf(flags.scope);
  if (scopes.length === 0) throw new ConfigError("--scope <permission> is required (e.g. user_impersonation)");
  const url = remoteUrl(flags);
  if (url) {
    if (flags.user && flags.allPrincipals) throw new ConfigError("give --user or --all-principals, not both");
    if (!flags.app) throw new ConfigError("--app <appId> is required");
    return remote.withRemote(url, flags, flags.tenant, (graph) =>
      remote.remoteConsentGrant(graph, output(flags), { appId: flags.app as string, resource: flags.resource ?? "Dynamics CRM", scopes, tenantLabel: flags.tenant ?? graph.tenantId, ...(flags.user ? { user: flags.user } : {}) }),
    );
  }
  await withDirectory(flags, async (identity) => {
    const tenant = await requireTenant(identity, flags.tenant);
    const app = await requireApp(identity, flags.app);
    const resource = await requireResource(identity, flags.resource ?? "Dynamics CRM");
    for (const scope of scopes) {
      if (!resource.api.oauth2PermissionScopes.some((s) => s.value.toLowerCase() === scope.toLowerCase())) throw new ConfigError(`${resource.displayName} has no delegated permission '${scope}' (it has ${resource.api.oauth2PermissionScopes.map((s) => s.value).join(", ") || "none"})`);
    }
    if (!(await identity.findServicePrincipal(tenant.id, app.appId))) throw new ConfigError(`app ${app.appId} has no service principal in ${tenant.defaultDomain}: run 'orgbox sp create --tenant ${tenant.defaultDomain} --app ${app.appId}' first`);
    const principalId = await consentPrincipal(identity, tenant, flags);
    const grant = await identity.grantConsent({ tenantId: tenant.id, clientAppId: app.appId, resourceAppId: resource.appId, scopes, ...(principalId ? { principalId } : {}) });
    write(flags, grant, `  ${grant.consentType === "AllPrincipals" ? "admin consent (all users)" : `consent of ${flags.user}`} for ${app.displayName} on ${resource.displayName}: ${grant.scope} (grant ${grant.id})`);
  });
}

async function consentList(flags: Flags & { tenant?: string }): Promise<void> {
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteConsentList(graph, output(flags)));
  await withDirectory(flags, async (identity) => {
    const tenant = await requireTenant(identity, flags.tenant);
    const grants = await identity.listPermissionGrants(tenant.id);
    // Display only: service principal object ids → names.
    const names = new Map((await identity.listServicePrincipals(tenant.id)).map((sp) => [sp.id, sp.displayName]));
    write(
      flags,
      grants,
      table(
        ["ID", "CLIENT", "RESOURCE", "CONSENT", "SCOPE"],
        grants.map((g) => [g.id, names.get(g.clientId) ?? g.clientId, names.get(g.resourceId) ?? g.resourceId, g.consentType === "AllPrincipals" ? "all users" : `user ${g.principalId ?? ""}`, g.scope]),
      ),
    );
  });
}

async function consentRevoke(flags: ConsentFlags): Promise<void> {
  const url = remoteUrl(flags);
  if (url) {
    if (flags.id && (flags.app || flags.user || flags.resource)) throw new ConfigError("give --id alone, or --app [--resource] [--user|--all-principals]");
    if (flags.user && flags.allPrincipals) throw new ConfigError("give --user or --all-principals, not both");
    return remote.withRemote(url, flags, flags.tenant, (graph) =>
      remote.remoteConsentRevoke(graph, output(flags), { resource: flags.resource ?? "Dynamics CRM", tenantLabel: flags.tenant ?? graph.tenantId, ...(flags.id ? { id: flags.id } : {}), ...(flags.app ? { appId: flags.app } : {}), ...(flags.user ? { user: flags.user } : {}) }),
    );
  }
  await withDirectory(flags, async (identity) => {
    let result;
    if (flags.id) {
      if (flags.app || flags.user || flags.resource) throw new ConfigError("give --id alone, or --app [--resource] [--user|--all-principals]");
      result = await identity.revokeConsent({ id: flags.id });
    } else {
      const tenant = await requireTenant(identity, flags.tenant);
      const app = await requireApp(identity, flags.app);
      const resource = await requireResource(identity, flags.resource ?? "Dynamics CRM");
      const principalId = await consentPrincipal(identity, tenant, flags);
      result = await identity.revokeConsent({ tenantId: tenant.id, clientAppId: app.appId, resourceAppId: resource.appId, ...(principalId ? { principalId } : {}) });
    }
    write(flags, result, `  revoked consent grant ${result.grant.id} (${result.grant.scope}); ${result.revokedRefreshTokens} refresh token(s) revoked`);
  });
}

// ── group ─────────────────────────────────────────────────────────────────────────────

async function groupCreate(flags: Flags & { name?: string; member?: string[] }): Promise<void> {
  if (!flags.name) throw new ConfigError("--name is required");
  const members = flags.member ?? [];
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteGroupCreate(graph, output(flags), { name: flags.name as string, members, tenantLabel: flags.tenant ?? graph.tenantId }));
  await withDirectory(flags, async (identity) => {
    const tenant = await requireTenant(identity, flags.tenant);
    const group = await identity.createGroup({ tenantId: tenant.id, displayName: flags.name as string, members });
    write(flags, group, `  group ${group.id} '${group.displayName}' in ${tenant.defaultDomain} with ${group.members.length} member(s)`);
  });
}

async function groupList(flags: Flags): Promise<void> {
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteGroupList(graph, output(flags)));
  await withDirectory(flags, async (identity) => {
    const tenant = await requireTenant(identity, flags.tenant);
    const groups = await identity.listGroups(tenant.id);
    // Display only: member object ids → UPNs.
    const upns = new Map((await identity.listUsers(tenant.id)).map((u) => [u.id, u.userPrincipalName]));
    write(flags, groups, table(["ID", "NAME", "MEMBERS"], groups.map((g) => [g.id, g.displayName, g.members.map((m) => upns.get(m) ?? m).join(", ")])));
  });
}

async function groupDelete(group: string, flags: Flags): Promise<void> {
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteGroupDelete(graph, output(flags), group));
  await withDirectory(flags, async (identity) => {
    const tenant = await requireTenant(identity, flags.tenant);
    const deleted = await identity.deleteGroup(tenant.id, group);
    write(flags, { deleted }, `  deleted group ${deleted.id} '${deleted.displayName}' (its memberships and app assignments)`);
  });
}

function groupMember(add: boolean) {
  return async (group: string, flags: Flags & { user?: string }): Promise<void> => {
    if (!flags.user) throw new ConfigError("--user <upn> is required");
    const upn = flags.user;
    const url = remoteUrl(flags);
    if (url) return remote.withRemote(url, flags, flags.tenant ?? upn.split("@")[1], (graph) => remote.remoteGroupMember(graph, output(flags), group, upn, add));
    await withDirectory(flags, async (identity) => {
      const tenant = await requireTenant(identity, flags.tenant ?? upn.split("@")[1]);
      if (add) await identity.addGroupMember(tenant.id, group, upn);
      else await identity.removeGroupMember(tenant.id, group, upn);
      const user = await requireUser(identity, upn);
      write(flags, { group, userId: user.id, userPrincipalName: user.userPrincipalName, member: add }, `  ${user.userPrincipalName} ${add ? "added to" : "removed from"} group '${group}'`);
    });
  };
}

// ── app assign (Enterprise applications › Users and groups) ───────────────────────────

async function appAssign(flags: Flags & { app?: string; user?: string; group?: string }): Promise<void> {
  if (!flags.app) throw new ConfigError("--app <appId> is required");
  if (!flags.user === !flags.group) throw new ConfigError("give --user <upn> or --group <id|name> (one of them)");
  const principal = flags.user ? { kind: "user" as const, name: flags.user } : { kind: "group" as const, name: flags.group as string };
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteAppAssign(graph, output(flags), flags.app as string, principal, flags.tenant ?? graph.tenantId));
  await withDirectory(flags, async (identity) => {
    const tenant = await requireTenant(identity, flags.tenant);
    const app = await requireApp(identity, flags.app);
    if (!(await identity.findServicePrincipal(tenant.id, app.appId))) throw new ConfigError(`app ${app.appId} has no service principal in ${tenant.defaultDomain}: run 'orgbox sp create --tenant ${tenant.defaultDomain} --app ${app.appId}' first`);
    const assignment = principal.kind === "user" ? await identity.assignUser(tenant.id, app.appId, principal.name) : await identity.assignGroup(tenant.id, app.appId, principal.name);
    write(flags, assignment, `  ${principal.kind} '${principal.name}' assigned to ${app.displayName} in ${tenant.defaultDomain} (assignment ${assignment.id})`);
  });
}

async function appAssignments(flags: Flags & { app?: string }): Promise<void> {
  if (!flags.app) throw new ConfigError("--app <appId> is required");
  const url = remoteUrl(flags);
  if (url) return remote.withRemote(url, flags, flags.tenant, (graph) => remote.remoteAppAssignments(graph, output(flags), flags.app as string, flags.tenant ?? graph.tenantId));
  await withDirectory(flags, async (identity) => {
    const tenant = await requireTenant(identity, flags.tenant);
    const app = await requireApp(identity, flags.app);
    if (!(await identity.findServicePrincipal(tenant.id, app.appId))) throw new ConfigError(`app ${app.appId} has no service principal in ${tenant.defaultDomain}: run 'orgbox sp create --tenant ${tenant.defaultDomain} --app ${app.appId}' first`);
    const assignments = await identity.listAssignments(tenant.id, app.appId);
    // Display only: principal object ids → UPNs and group names.
    const names = new Map<string, string>([...(await identity.listUsers(tenant.id)).map((u) => [u.id, u.userPrincipalName] as const), ...(await identity.listGroups(tenant.id)).map((g) => [g.id, g.displayName] as const)]);
    write(flags, assignments, table(["ID", "TYPE", "PRINCIPAL", "PRINCIPAL ID"], assignments.map((a) => [a.id, a.principalType ?? "", names.get(a.principalId) ?? "", a.principalId])));
  });
}

/** Adds `tenant`, `user`, `group`, `app` (with `app cert`), `secret`, `sp` and `consent` to the CLI, and the deprecated `cert add|list`. */
export function registerDirectoryCommands(program: Command): void {
  const group = (name: string, description: string) =>
    program
      .command(name)
      .description(description)
      // Commander's own errors (missing argument, unknown option) are bad input: exit 2; --help exits 0.
      .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
  const common = (command: Command) =>
    command
      .option("--data <dir>", "data folder of the store (default ./.orgbox); env ORGBOX_DATA")
      .option("--store-url <url>", "or the PostgreSQL database of the store; env ORGBOX_STORE_URL")
      .option("--url <url>", "or a running orgbox, managed through its Graph API; env ORGBOX_URL")
      .option("--admin-key <key>", "with --url: that orgbox's admin key; env ORGBOX_ADMIN_KEY")
      .option("--ca <file>", "with --url: the CA certificate to trust (default NODE_EXTRA_CA_CERTS, else the data folder's CA)")
      .option("--json", "one JSON document on stdout; env ORGBOX_JSON");
  const tenantFlag = (command: Command) => command.option("--tenant <id|domain>", "tenant id or domain");

  const tenant = group("tenant", "manage the tenants of a persisted store");
  common(tenant.command("create").description("create a tenant (with the first-party service principals)"))
    .option("--name <name>", "display name, e.g. Fabrikam")
    .option("--domain <domain>", "default domain, e.g. fabrikam.onmicrosoft.com")
    .option("--id <guid>", "tenant id (default: a new GUID)")
    .action(tenantCreate);
  common(tenant.command("list").description("list the tenants")).action(tenantList);
  common(tenant.command("delete").description("delete a tenant and everything in it (refused while an org is bound to it)").argument("<id|domain>")).action(tenantDelete);

  const user = group("user", "manage the users of a persisted store");
  tenantFlag(common(user.command("create").description("create a user")))
    .option("--upn <upn>", "user principal name, e.g. alex@fabrikam.onmicrosoft.com")
    .option("--password <password>", "password (stored as a hash)")
    .option("--display-name <name>", "display name (default: the UPN's local part)")
    .option("--global-admin", "make the user a Global Administrator")
    .action(userCreate);
  tenantFlag(common(user.command("list").description("list a tenant's users"))).action(userList);
  common(user.command("delete").description("delete a user (revokes its refresh tokens and sessions)").argument("<upn>")).action(userDelete);
  common(user.command("reset-password").description("set a new password (revokes refresh tokens and sessions)").argument("<upn>"))
    .option("--password <password>", "the new password")
    .action(userResetPassword);
  common(user.command("disable").description("block sign-in (accountEnabled=false)").argument("<upn>")).action(userSetEnabled(false));
  common(user.command("enable").description("allow sign-in again").argument("<upn>")).action(userSetEnabled(true));

  const app = group("app", "manage app registrations of a persisted store");
  tenantFlag(common(app.command("create").description("register an app (and its service principal in its tenant)")))
    .option("--name <name>", "display name")
    .option("--app-id <guid>", "client id (default: a new GUID)")
    .option("--multi-tenant", "signInAudience AzureADMultipleOrgs (default AzureADMyOrg)")
    .option("--redirect-uri <platform:uri>", "web:URL, spa:URL or public:URL (repeatable)", collect)
    .option("--public-client", "allow public client flows (ROPC, device code)")
    .option("--identifier-uri <uri>", "Application ID URI (repeatable)", collect)
    .option("--permission <resource:permission>", 'API permission, e.g. "Dynamics CRM:user_impersonation" (repeatable)', collect)
    .action(appCreate);
  tenantFlag(common(app.command("list").description("list the apps registered in a tenant"))).action(appList);
  common(app.command("show").description("show an app registration").argument("<appId>")).action(appShow);
  common(app.command("update").description("change an app's redirect URIs, public-client flag or API permissions").argument("<appId>"))
    .option("--add-redirect-uri <platform:uri>", "web:URL, spa:URL or public:URL (repeatable)", collect)
    .option("--remove-redirect-uri <platform:uri>", "web:URL, spa:URL or public:URL (repeatable)", collect)
    .option("--public-client <true|false>", "allow public client flows (ROPC, device code)")
    .option("--add-permission <resource:permission>", 'API permission, e.g. "Dynamics CRM:user_impersonation" or 00000007-0000-0000-c000-000000000000:user_impersonation (repeatable)', collect)
    .action(appUpdate);
  common(app.command("delete").description("delete an app registration and its service principals").argument("<appId>")).action(appDelete);

  tenantFlag(common(app.command("assign").description("assign a user or group to an app (Enterprise applications › Users and groups)")))
    .option("--app <appId>", "the app's client id; its service principal must exist in the tenant")
    .option("--user <upn>", "the user to assign")
    .option("--group <id|name>", "the group to assign (its members can sign in)")
    .action(appAssign);
  tenantFlag(common(app.command("assignments").description("list the users and groups assigned to an app in a tenant")))
    .option("--app <appId>", "the app's client id")
    .action(appAssignments);

  const groups = group("group", "manage security groups of a persisted store");
  tenantFlag(common(groups.command("create").description("create a security group")))
    .option("--name <name>", "display name, e.g. Sales")
    .option("--member <upn>", "a member (repeatable)", collect)
    .action(groupCreate);
  tenantFlag(common(groups.command("list").description("list a tenant's groups with their members"))).action(groupList);
  tenantFlag(common(groups.command("delete").description("delete a group (its memberships and app assignments)").argument("<id|name>"))).action(groupDelete);
  common(groups.command("add-member").description("add a user to a group").argument("<id|name>"))
    .option("--user <upn>", "the user")
    .option("--tenant <id|domain>", "tenant id or domain (default: the user's UPN domain)")
    .action(groupMember(true));
  common(groups.command("remove-member").description("remove a user from a group").argument("<id|name>"))
    .option("--user <upn>", "the user")
    .option("--tenant <id|domain>", "tenant id or domain (default: the user's UPN domain)")
    .action(groupMember(false));

  const secret = group("secret", "manage client secrets of an app");
  common(secret.command("add").description("add a client secret; prints the value once"))
    .option("--app <appId>", "the app's client id")
    .option("--name <name>", "description")
    .option("--expires <date>", "expiry date, e.g. 2027-01-01")
    .option("--days <days>", "expiry in days (default 180)")
    .action(secretAdd);
  common(secret.command("list").description("list client secrets (hint, key id, dates; never the value)")).option("--app <appId>", "the app's client id").action(secretList);
  common(secret.command("remove").description("remove a client secret"))
    .option("--app <appId>", "the app's client id")
    .option("--key-id <keyId>", "the secret's key id")
    .action(secretRemove);

  // An app's certificate credentials: `orgbox app cert …` (`orgbox cert` alone is the local CA).
  const appCert = app.command("cert").description("manage an app's certificate credentials (keyCredentials)");
  const certCommon = (command: Command) =>
    common(command)
      .option("--app <appId>", "the app's client id")
      .option("--tenant <id|domain>", "with --url: the app's tenant");
  certCommon(appCert.command("add").description("add a certificate credential to an app"))
    .option("--cert <file>", "PEM file of the public certificate")
    .option("--name <name>", "display name (default: the certificate subject)")
    .option("--proof-key <file>", "with --url, when the app already has a certificate: the PEM private key of one of its current certificates (Graph's addKey proof)")
    .action(certAdd);
  certCommon(appCert.command("list").description("list an app's certificate credentials")).action(certList);
  certCommon(appCert.command("remove").description("remove a certificate credential (client assertions signed with its key fail: AADSTS700027)"))
    .option("--key-id <keyId>", "the certificate's key id (from app cert list)")
    .option("--proof-key <file>", "with --url: the PEM private key of one of the app's current certificates (Graph's removeKey proof)")
    .action(certRemove);

  // The old spelling, for one release.
  const cert = program.commands.find((c) => c.name() === "cert");
  if (cert) {
    cert.exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
    common(cert.command("add").description("deprecated: use 'orgbox app cert add'"))
      .option("--app <appId>", "the app's client id")
      .option("--cert <file>", "PEM file of the public certificate")
      .option("--name <name>", "display name (default: the certificate subject)")
      .action(deprecated("orgbox cert add", "orgbox app cert add", certAdd));
    common(cert.command("list").description("deprecated: use 'orgbox app cert list'")).option("--app <appId>", "the app's client id").action(deprecated("orgbox cert list", "orgbox app cert list", certList));
  }

  const sp = group("sp", "manage service principals (enterprise applications)");
  tenantFlag(common(sp.command("create").description("create an app's service principal in a tenant (what consent creates)")))
    .option("--app <appId>", "the app's client id")
    .action(spCreate);
  tenantFlag(common(sp.command("list").description("list the service principals in a tenant"))).action(spList);

  const consent = group("consent", "manage delegated consent (oauth2PermissionGrants)");
  const consentFlags = (command: Command) =>
    tenantFlag(common(command))
      .option("--app <appId>", "the client app")
      .option("--resource <appId|name>", "the resource (default Dynamics CRM)")
      .option("--user <upn>", "one user's consent")
      .option("--all-principals", "consent for all users (the default)");
  consentFlags(consent.command("grant").description("grant delegated permissions to an app"))
    .option("--scope <permission>", "permission value, e.g. user_impersonation (repeatable)", collect)
    .action(consentGrant);
  tenantFlag(common(consent.command("list").description("list the consent grants in a tenant"))).action(consentList);
  consentFlags(consent.command("revoke").description("delete a consent grant and revoke the refresh tokens issued under it"))
    .option("--id <grantId>", "the grant's id (from consent list)")
    .action(consentRevoke);

  // With --url, commands that name no tenant offline need one (users default to their UPN's domain).
  const sub = (parent: Command, name: string) => parent.commands.find((c) => c.name() === name) as Command;
  for (const [parent, names] of [[user, ["delete", "reset-password", "disable", "enable"]], [app, ["show", "update", "delete"]], [secret, ["add", "list", "remove"]]] as const) {
    for (const name of names) sub(parent, name).option("--tenant <id|domain>", "with --url: the tenant (default for a user: its UPN's domain)");
  }
}
