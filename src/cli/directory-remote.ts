/**
 * The remote (`--url`) variants of the directory commands, over Microsoft Graph (see remote.ts). Each
 * prints what its offline twin in directory.ts prints: the same text, and with `--json` the same
 * document (Graph's ISO 8601 times written back as they are, object shapes as identity's model).
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { SignJWT } from "jose";
import { ConfigError } from "../common/errors.ts";
import { RESOURCE_ALIASES } from "../environment/load.ts";
import { GLOBAL_ADMINISTRATOR_ROLE, type RequiredResourceAccess } from "../identity/index.ts";
import { RemoteDirectory, RemoteError, type RemoteFlags } from "./remote.ts";

type Json = Record<string, unknown>;

/** What directory.ts gives a remote command: its output helpers. */
export interface RemoteOutput {
  write(json: unknown, text: string): void;
  table(headers: string[], rows: string[][]): string;
}

const enc = encodeURIComponent;
/** Graph's default user properties leave out `accountEnabled`: ask for what identity's `User` shape shows. */
const USER_SELECT = `$select=${["id", "userPrincipalName", "displayName", "givenName", "surname", "accountEnabled"].join(",")}`;
const quote = (value: string) => `'${value.replace(/'/g, "''")}'`;
const day = (iso: unknown) => (typeof iso === "string" ? iso.slice(0, 10) : "");
const ms = (iso: unknown) => (typeof iso === "string" ? Date.parse(iso) : iso);

/**
 * Connects to `url` for `tenant` and runs `work`; Graph's 400/404 become bad input (exit 2), other errors stay failures.
 * @throws ConfigError, RemoteError
 */
export async function withRemote(url: string, flags: RemoteFlags, tenant: string | undefined, work: (graph: RemoteDirectory) => Promise<void>): Promise<void> {
  const graph = await RemoteDirectory.connect(url, flags, tenant);
  try {
    await work(graph);
  } catch (error) {
    if (error instanceof RemoteError && (error.status === 400 || error.status === 404)) throw new ConfigError(error.message);
    throw error;
  }
}

/** The tenant of a remote command: `--tenant`, else the domain of a UPN argument. */
export const tenantOfUpn = (flags: { tenant?: string }, upn: string): string | undefined => flags.tenant ?? upn.split("@")[1];

// ── users ─────────────────────────────────────────────────────────────────────────────

/** Graph user → identity's `User` shape (directoryRoles from role assignments). */
function toUser(u: Json, tenantId: string, roles: string[]): Json {
  return { id: u.id, tenantId, userPrincipalName: u.userPrincipalName, displayName: u.displayName, givenName: u.givenName ?? null, surname: u.surname ?? null, accountEnabled: u.accountEnabled, directoryRoles: roles };
}

async function requireUser(graph: RemoteDirectory, upn: string): Promise<Json> {
  try {
    return await graph.call("GET", `users/${enc(upn)}?${USER_SELECT}`);
  } catch (error) {
    if (error instanceof RemoteError && error.status === 404) throw new ConfigError(`no user '${upn}' (orgbox user list --tenant …)`);
    throw error;
  }
}

export async function remoteUserCreate(graph: RemoteDirectory, out: RemoteOutput, input: { upn: string; password: string; displayName?: string; globalAdmin?: boolean; tenantLabel: string }): Promise<void> {
  const displayName = input.displayName ?? input.upn.split("@")[0] ?? input.upn;
  const user = await graph.call("POST", "users", {
    accountEnabled: true,
    displayName,
    mailNickname: (input.upn.split("@")[0] ?? "user").replace(/[^A-Za-z0-9._-]/g, "") || "user",
    userPrincipalName: input.upn,
    passwordProfile: { password: input.password, forceChangePasswordNextSignIn: false },
  });
  if (input.globalAdmin) await graph.call("POST", "roleManagement/directory/roleAssignments", { roleDefinitionId: GLOBAL_ADMINISTRATOR_ROLE, principalId: user.id, directoryScopeId: "/" });
  out.write(toUser({ ...user, accountEnabled: true }, graph.tenantId, input.globalAdmin ? [GLOBAL_ADMINISTRATOR_ROLE] : []), `  user ${String(user.id)} ${String(user.userPrincipalName)} in ${input.tenantLabel}${input.globalAdmin ? " (Global Administrator)" : ""}`);
}

export async function remoteUserList(graph: RemoteDirectory, out: RemoteOutput): Promise<void> {
  const users = await graph.list(`users?${USER_SELECT}`);
  const admins = new Set((await graph.list(`roleManagement/directory/roleAssignments?$filter=${enc(`roleDefinitionId eq '${GLOBAL_ADMINISTRATOR_ROLE}'`)}`)).map((a) => String(a.principalId)));
  const shaped = users.map((u) => toUser(u, graph.tenantId, admins.has(String(u.id)) ? [GLOBAL_ADMINISTRATOR_ROLE] : []));
  out.write(shaped, out.table(["ID", "UPN", "NAME", "ENABLED", "ROLES"], shaped.map((u) => [String(u.id), String(u.userPrincipalName), String(u.displayName), u.accountEnabled ? "yes" : "no", admins.has(String(u.id)) ? "Global Administrator" : ""])));
}

export async function remoteUserDelete(graph: RemoteDirectory, out: RemoteOutput, upn: string): Promise<void> {
  const user = await graph.call("GET", `users/${enc(upn)}?${USER_SELECT}`).catch((error: unknown) => {
    if (error instanceof RemoteError && error.status === 404) throw new ConfigError(`user '${upn}' does not exist`);
    throw error;
  });
  await graph.call("DELETE", `users/${enc(String(user.id))}`);
  out.write({ deleted: toUser(user, graph.tenantId, []) }, `  deleted user ${String(user.userPrincipalName)} (${String(user.id)})`);
}

export async function remoteUserResetPassword(graph: RemoteDirectory, out: RemoteOutput, upn: string, password: string): Promise<void> {
  const user = await requireUser(graph, upn);
  await graph.call("PATCH", `users/${enc(String(user.id))}`, { passwordProfile: { password, forceChangePasswordNextSignIn: false } });
  out.write({ id: user.id, userPrincipalName: user.userPrincipalName, passwordReset: true }, `  password of ${String(user.userPrincipalName)} reset; its refresh tokens and sessions are revoked`);
}

export async function remoteUserSetEnabled(graph: RemoteDirectory, out: RemoteOutput, upn: string, enabled: boolean): Promise<void> {
  const user = await requireUser(graph, upn);
  await graph.call("PATCH", `users/${enc(String(user.id))}`, { accountEnabled: enabled });
  out.write({ id: user.id, userPrincipalName: user.userPrincipalName, accountEnabled: enabled }, `  ${String(user.userPrincipalName)} ${enabled ? "enabled" : "disabled (sign-in blocked: AADSTS50057)"}`);
}

// ── apps ──────────────────────────────────────────────────────────────────────────────

type Platform = "web" | "spa" | "public";
interface RedirectLists {
  web: string[];
  spa: string[];
  public: string[];
}

/** Graph application → identity's `Application` shape (`tenantId` the tenant the CLI manages). */
function toApp(a: Json, tenantId: string): Json {
  const uris = (v: unknown) => ((v as { redirectUris?: string[] } | undefined)?.redirectUris ?? []);
  return {
    id: a.id,
    appId: a.appId,
    tenantId,
    displayName: a.displayName,
    signInAudience: a.signInAudience,
    identifierUris: a.identifierUris ?? [],
    publisherDomain: a.publisherDomain,
    web: { redirectUris: uris(a.web) },
    spa: { redirectUris: uris(a.spa) },
    publicClient: { redirectUris: uris(a.publicClient) },
    isFallbackPublicClient: a.isFallbackPublicClient === true,
    requiredResourceAccess: a.requiredResourceAccess ?? [],
    appRoles: a.appRoles ?? [],
    api: { oauth2PermissionScopes: (a.api as Json | undefined)?.oauth2PermissionScopes ?? [] },
  };
}

const appPath = (appId: string) => `applications(appId=${enc(quote(appId))})`;

async function requireApp(graph: RemoteDirectory, appId: string): Promise<Json> {
  try {
    return await graph.call("GET", appPath(appId));
  } catch (error) {
    if (error instanceof RemoteError && error.status === 404) throw new ConfigError(`no application with appId '${appId}' (orgbox app list --tenant …)`);
    throw error;
  }
}

/** A resource app (by alias or app id) as Graph knows it: its service principal in the tenant. */
async function requireResource(graph: RemoteDirectory, nameOrAppId: string): Promise<Json> {
  const appId = RESOURCE_ALIASES[nameOrAppId.toLowerCase()] ?? nameOrAppId;
  try {
    return await graph.call("GET", `servicePrincipals(appId=${enc(quote(appId))})`);
  } catch (error) {
    if (error instanceof RemoteError && (error.status === 404 || error.status === 400)) throw new ConfigError(`no resource '${nameOrAppId}': give 'Dynamics CRM', 'Microsoft Graph' or the appId of a registered app`);
    throw error;
  }
}

/** `Dynamics CRM:user_impersonation` → requiredResourceAccess entries, over the resources' service principals. */
export async function remotePermissions(graph: RemoteDirectory, specs: string[]): Promise<Json[]> {
  const byResource = new Map<string, { resourceAppId: string; resourceAccess: { id: string; type: string }[] }>();
  for (const spec of specs) {
    const at = spec.lastIndexOf(":");
    if (at <= 0 || at === spec.length - 1) throw new ConfigError(`--permission '${spec}': use <resource>:<permission>, e.g. "Dynamics CRM:user_impersonation"`);
    const resource = await requireResource(graph, spec.slice(0, at));
    const value = spec.slice(at + 1).toLowerCase();
    const scopes = (resource.oauth2PermissionScopes ?? []) as { id: string; value: string }[];
    const roles = (resource.appRoles ?? []) as { id: string; value: string }[];
    const scope = scopes.find((s) => s.value.toLowerCase() === value);
    const role = roles.find((r) => r.value.toLowerCase() === value);
    if (!scope && !role) throw new ConfigError(`${String(resource.displayName)} has no permission '${spec.slice(at + 1)}' (it has ${[...scopes, ...roles].map((s) => s.value).join(", ") || "none"})`);
    const appId = String(resource.appId);
    const entry = byResource.get(appId) ?? { resourceAppId: appId, resourceAccess: [] };
    entry.resourceAccess.push(scope ? { id: scope.id, type: "Scope" } : { id: (role as { id: string }).id, type: "Role" });
    byResource.set(appId, entry);
  }
  return [...byResource.values()];
}

export async function remoteAppCreate(graph: RemoteDirectory, out: RemoteOutput, input: { name: string; multiTenant?: boolean; redirects: RedirectLists; publicClient?: boolean; identifierUris: string[]; permissions: string[]; tenantLabel: string; appId?: string }): Promise<void> {
  if (input.appId) throw new ConfigError("--app-id is not supported with --url (Graph assigns the appId)");
  const app = await graph.call("POST", "applications", {
    displayName: input.name,
    signInAudience: input.multiTenant ? "AzureADMultipleOrgs" : "AzureADMyOrg",
    web: { redirectUris: input.redirects.web },
    spa: { redirectUris: input.redirects.spa },
    publicClient: { redirectUris: input.redirects.public },
    isFallbackPublicClient: input.publicClient === true,
    identifierUris: input.identifierUris,
    requiredResourceAccess: await remotePermissions(graph, input.permissions),
  });
  // The Entra admin center creates the service principal with the registration; Graph needs a second call.
  const sp = await graph.call("POST", "servicePrincipals", { appId: app.appId });
  out.write({ ...toApp(app, graph.tenantId), servicePrincipalId: sp.id }, `  app ${String(app.appId)} '${String(app.displayName)}' in ${input.tenantLabel} (object id ${String(app.id)}, service principal ${String(sp.id)})`);
}

export async function remoteAppList(graph: RemoteDirectory, out: RemoteOutput): Promise<void> {
  const apps = (await graph.list("applications")).map((a) => toApp(a, graph.tenantId));
  out.write(apps, out.table(["APP ID", "NAME", "AUDIENCE", "PUBLIC"], apps.map((a) => [String(a.appId), String(a.displayName), String(a.signInAudience), a.isFallbackPublicClient ? "yes" : "no"])));
}

/** `app show` text for an identity-shaped app. */
export function appShowText(app: { appId: string; id: string; displayName: string; tenantId: string; signInAudience: string; isFallbackPublicClient: boolean; identifierUris: string[]; web: { redirectUris: string[] }; spa: { redirectUris: string[] }; publicClient: { redirectUris: string[] }; requiredResourceAccess: { resourceAppId: string; resourceAccess: unknown[] }[] }): string {
  return [
    `  appId               ${app.appId}`,
    `  object id           ${app.id}`,
    `  name                ${app.displayName}`,
    `  home tenant         ${app.tenantId}`,
    `  sign-in audience    ${app.signInAudience}`,
    `  public client       ${app.isFallbackPublicClient ? "yes" : "no"}`,
    `  identifier URIs     ${app.identifierUris.join(" ")}`,
    `  redirect URIs       ${[...app.web.redirectUris.map((u) => `web:${u}`), ...app.spa.redirectUris.map((u) => `spa:${u}`), ...app.publicClient.redirectUris.map((u) => `public:${u}`)].join(" ")}`,
    `  permissions         ${app.requiredResourceAccess.map((r) => `${r.resourceAppId}(${r.resourceAccess.length})`).join(" ")}`,
  ].join("\n");
}

export async function remoteAppShow(graph: RemoteDirectory, out: RemoteOutput, appId: string): Promise<void> {
  const app = toApp(await requireApp(graph, appId), graph.tenantId);
  out.write(app, appShowText(app as unknown as Parameters<typeof appShowText>[0]));
}

export async function remoteAppDelete(graph: RemoteDirectory, out: RemoteOutput, appId: string): Promise<void> {
  const app = await requireApp(graph, appId);
  await graph.call("DELETE", appPath(appId));
  out.write({ deleted: toApp(app, graph.tenantId) }, `  deleted app ${String(app.appId)} '${String(app.displayName)}' and its service principals`);
}

/** The changes of `app update`. */
export interface AppChanges {
  add: RedirectLists;
  remove: RedirectLists;
  publicClient?: boolean;
  permissions: string[];
}

/**
 * Applies `app update` changes to an identity-shaped app's lists (pure): redirect URIs added (once) and removed
 * per platform, `isFallbackPublicClient`, permissions merged into `requiredResourceAccess`.
 */
export function applyAppChanges(app: { web: { redirectUris: string[] }; spa: { redirectUris: string[] }; publicClient: { redirectUris: string[] }; requiredResourceAccess: RequiredResourceAccess[] }, changes: { add: RedirectLists; remove: RedirectLists }, permissions: RequiredResourceAccess[]) {
  const lists: Record<Platform, string[]> = { web: app.web.redirectUris, spa: app.spa.redirectUris, public: app.publicClient.redirectUris };
  const next = {} as Record<Platform, string[]>;
  for (const platform of ["web", "spa", "public"] as const) {
    const kept = lists[platform].filter((u) => !changes.remove[platform].includes(u));
    next[platform] = [...kept, ...changes.add[platform].filter((u) => !kept.includes(u))];
  }
  const rra: RequiredResourceAccess[] = app.requiredResourceAccess.map((r) => ({ resourceAppId: r.resourceAppId, resourceAccess: [...r.resourceAccess] }));
  for (const p of permissions) {
    let entry = rra.find((r) => r.resourceAppId === p.resourceAppId);
    if (!entry) rra.push((entry = { resourceAppId: p.resourceAppId, resourceAccess: [] }));
    for (const access of p.resourceAccess) if (!entry.resourceAccess.some((a) => a.id === access.id && a.type === access.type)) entry.resourceAccess.push(access);
  }
  return { webRedirectUris: next.web, spaRedirectUris: next.spa, publicClientRedirectUris: next.public, requiredResourceAccess: rra };
}

export async function remoteAppUpdate(graph: RemoteDirectory, out: RemoteOutput, appId: string, changes: AppChanges): Promise<void> {
  const current = toApp(await requireApp(graph, appId), graph.tenantId) as unknown as Parameters<typeof applyAppChanges>[0] & Parameters<typeof appShowText>[0];
  const next = applyAppChanges(current, changes, (await remotePermissions(graph, changes.permissions)) as unknown as Parameters<typeof applyAppChanges>[2]);
  await graph.call("PATCH", appPath(appId), {
    web: { redirectUris: next.webRedirectUris },
    spa: { redirectUris: next.spaRedirectUris },
    publicClient: { redirectUris: next.publicClientRedirectUris },
    requiredResourceAccess: next.requiredResourceAccess,
    ...(changes.publicClient !== undefined ? { isFallbackPublicClient: changes.publicClient } : {}),
  });
  const app = toApp(await requireApp(graph, appId), graph.tenantId);
  out.write(app, appShowText(app as unknown as Parameters<typeof appShowText>[0]));
}

// ── secrets ───────────────────────────────────────────────────────────────────────────

/** Graph passwordCredential → identity's shape (`applicationId` the app's object id; `secretText` only when given). */
const toSecret = (s: Json, applicationId: unknown): Json => ({
  keyId: s.keyId,
  applicationId,
  displayName: s.displayName ?? null,
  hint: s.hint,
  startDateTime: ms(s.startDateTime),
  endDateTime: ms(s.endDateTime),
  ...(typeof s.secretText === "string" ? { secretText: s.secretText } : {}),
});

export async function remoteSecretAdd(graph: RemoteDirectory, out: RemoteOutput, appId: string, input: { name?: string; endDateTime?: number }): Promise<void> {
  const app = await requireApp(graph, appId);
  const secret = await graph.call("POST", `${appPath(appId)}/addPassword`, { passwordCredential: { ...(input.name ? { displayName: input.name } : {}), ...(input.endDateTime !== undefined ? { endDateTime: new Date(input.endDateTime).toISOString() } : {}) } });
  out.write(toSecret(secret, app.id), [`  client secret ${String(secret.keyId)} for app ${appId}, expires ${day(secret.endDateTime)}`, `  value (shown once, stored as a hash): ${String(secret.secretText)}`].join("\n"));
}

export async function remoteSecretList(graph: RemoteDirectory, out: RemoteOutput, appId: string): Promise<void> {
  const app = await requireApp(graph, appId);
  const secrets = ((app.passwordCredentials ?? []) as Json[]).map((c) => toSecret(c, app.id));
  out.write(secrets, out.table(["KEY ID", "NAME", "HINT", "STARTS", "EXPIRES"], secrets.map((s) => [String(s.keyId), typeof s.displayName === "string" ? s.displayName : "", `${String(s.hint)}…`, day(new Date(s.startDateTime as number).toISOString()), day(new Date(s.endDateTime as number).toISOString())])));
}

export async function remoteSecretRemove(graph: RemoteDirectory, out: RemoteOutput, appId: string, keyId: string): Promise<void> {
  await requireApp(graph, appId);
  await graph.call("POST", `${appPath(appId)}/removePassword`, { keyId });
  out.write({ appId, keyId, removed: true }, `  removed client secret ${keyId} of app ${appId}`);
}

// ── certificates ───────────────────────────────────────────────────────────────────────

/** Audience of Graph's addKey/removeKey proof: Azure AD Graph's app id (learn.microsoft.com/graph/application-rollkey-prooftoken). */
const PROOF_AUDIENCE = "00000002-0000-0000-c000-000000000000";

/**
 * The `proof` of addKey/removeKey (learn.microsoft.com/graph/application-rollkey-prooftoken): a JWT signed (RS256)
 * with the private key of one of the app's current certificates, `aud` {@link PROOF_AUDIENCE}, `iss` the
 * application's object id, valid for 10 minutes.
 * @throws ConfigError when the key is missing or cannot be read.
 */
async function proofToken(objectId: string, proofKeyPem: string | undefined, what: string): Promise<string> {
  if (!proofKeyPem) throw new ConfigError(`Graph's ${what} needs a proof signed by one of the app's current certificates: pass --proof-key FILE (the PEM private key of a certificate the app already has)`);
  let key: KeyObject;
  try {
    key = createPrivateKey(proofKeyPem);
  } catch (error) {
    throw new ConfigError(`--proof-key is not a PEM private key: ${(error as Error).message}`);
  }
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({}).setProtectedHeader({ alg: "RS256", typ: "JWT" }).setAudience(PROOF_AUDIENCE).setIssuer(objectId).setNotBefore(now).setIssuedAt(now).setExpirationTime(now + 600).sign(key);
}

/** Graph keyCredential → identity's `KeyCredential` shape as far as Graph shows it (thumbprint as upper-case hex, no certificate bytes). */
const toKey = (k: Json, applicationId: unknown): Json => ({
  keyId: k.keyId,
  applicationId,
  displayName: k.displayName ?? null,
  customKeyIdentifier: typeof k.customKeyIdentifier === "string" ? Buffer.from(k.customKeyIdentifier, "base64").toString("hex").toUpperCase() : null,
  type: k.type,
  usage: k.usage,
  startDateTime: ms(k.startDateTime),
  endDateTime: ms(k.endDateTime),
});

/** The base64 DER of a PEM certificate (Graph's `keyCredential.key`); other text is sent as it is (the server refuses it). */
const derB64 = (pem: string) => /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem)?.[1]?.replace(/\s+/g, "") ?? pem;

/** `app cert add --url`: Graph's addKey, with a proof when the app already has a current certificate. */
export async function remoteCertAdd(graph: RemoteDirectory, out: RemoteOutput, appId: string, input: { pem: string; name?: string; proofKeyPem?: string }): Promise<void> {
  const app = await requireApp(graph, appId);
  const current = ((app.keyCredentials ?? []) as Json[]).filter((k) => Date.parse(String(k.endDateTime)) > Date.now());
  const proof = current.length > 0 ? await proofToken(String(app.id), input.proofKeyPem, "addKey") : undefined;
  const added = await graph.call("POST", `${appPath(appId)}/addKey`, { keyCredential: { type: "AsymmetricX509Cert", usage: "Verify", key: derB64(input.pem), ...(input.name ? { displayName: input.name } : {}) }, passwordCredential: null, ...(proof ? { proof } : {}) });
  const key = toKey(added, app.id);
  out.write(key, `  certificate ${String(key.keyId)} (SHA-1 ${String(key.customKeyIdentifier)}) for app ${appId}, valid ${day(added.startDateTime)} to ${day(added.endDateTime)}`);
}

export async function remoteCertList(graph: RemoteDirectory, out: RemoteOutput, appId: string): Promise<void> {
  const app = await requireApp(graph, appId);
  const keys = ((app.keyCredentials ?? []) as Json[]).map((k) => toKey(k, app.id));
  out.write(keys, out.table(["KEY ID", "THUMBPRINT (SHA-1)", "NAME", "STARTS", "EXPIRES"], keys.map((k) => [String(k.keyId), String(k.customKeyIdentifier), typeof k.displayName === "string" ? k.displayName : "", day(new Date(k.startDateTime as number).toISOString()), day(new Date(k.endDateTime as number).toISOString())])));
}

/** `app cert remove --url`: Graph's removeKey, which always needs a proof (any current certificate, the removed one too). */
export async function remoteCertRemove(graph: RemoteDirectory, out: RemoteOutput, appId: string, keyId: string, proofKeyPem: string | undefined): Promise<void> {
  const app = await requireApp(graph, appId);
  const proof = await proofToken(String(app.id), proofKeyPem, "removeKey");
  await graph.call("POST", `${appPath(appId)}/removeKey`, { keyId, proof });
  out.write({ appId, keyId, removed: true }, `  removed certificate ${keyId} of app ${appId}`);
}

// ── service principals and consent ────────────────────────────────────────────────────

const toSp = (s: Json, tenantId: string) => ({ id: s.id, tenantId, appId: s.appId, appOwnerOrganizationId: s.appOwnerOrganizationId, displayName: s.displayName, appRoleAssignmentRequired: s.appRoleAssignmentRequired === true, accountEnabled: s.accountEnabled !== false });

export async function remoteSpCreate(graph: RemoteDirectory, out: RemoteOutput, appId: string, tenantLabel: string): Promise<void> {
  const sp = await graph.call("POST", "servicePrincipals", { appId });
  out.write(toSp(sp, graph.tenantId), `  service principal ${String(sp.id)} of app ${appId} in ${tenantLabel}`);
}

export async function remoteSpList(graph: RemoteDirectory, out: RemoteOutput): Promise<void> {
  const sps = (await graph.list("servicePrincipals")).map((s) => toSp(s, graph.tenantId));
  out.write(sps, out.table(["OBJECT ID", "APP ID", "NAME", "OWNER TENANT"], sps.map((s) => [String(s.id), String(s.appId), String(s.displayName), String(s.appOwnerOrganizationId)])));
}

const toGrant = (g: Json, tenantId: string) => ({ id: g.id, tenantId, clientId: g.clientId, resourceId: g.resourceId, consentType: g.consentType, principalId: g.principalId ?? null, scope: g.scope });

/** The client app's service principal in the tenant. @throws ConfigError when the app has none. */
async function clientSp(graph: RemoteDirectory, appId: string, tenantLabel: string): Promise<Json> {
  try {
    return await graph.call("GET", `servicePrincipals(appId=${enc(quote(appId))})`);
  } catch (error) {
    if (error instanceof RemoteError && error.status === 404) throw new ConfigError(`app ${appId} has no service principal in ${tenantLabel}: run 'orgbox sp create --tenant ${tenantLabel} --app ${appId}' first`);
    throw error;
  }
}

export async function remoteConsentGrant(graph: RemoteDirectory, out: RemoteOutput, input: { appId: string; resource: string; scopes: string[]; user?: string; tenantLabel: string }): Promise<void> {
  const resource = await requireResource(graph, input.resource);
  const known = ((resource.oauth2PermissionScopes ?? []) as { value: string }[]).map((s) => s.value);
  for (const scope of input.scopes) if (!known.some((k) => k.toLowerCase() === scope.toLowerCase())) throw new ConfigError(`${String(resource.displayName)} has no delegated permission '${scope}' (it has ${known.join(", ") || "none"})`);
  const client = await clientSp(graph, input.appId, input.tenantLabel);
  const principalId = input.user ? String((await requireUser(graph, input.user)).id) : undefined;
  const filter = `clientId eq '${String(client.id)}' and resourceId eq '${String(resource.id)}'`;
  const existing = (await graph.list(`oauth2PermissionGrants?$filter=${enc(filter)}`)).find((g) => (principalId ? g.principalId === principalId : g.consentType === "AllPrincipals"));
  let grant: Json;
  if (existing) {
    const merged = [...String(existing.scope).split(/\s+/).filter(Boolean)];
    for (const s of input.scopes) if (!merged.some((m) => m.toLowerCase() === s.toLowerCase())) merged.push(s);
    await graph.call("PATCH", `oauth2PermissionGrants/${enc(String(existing.id))}`, { scope: merged.join(" ") });
    grant = await graph.call("GET", `oauth2PermissionGrants/${enc(String(existing.id))}`);
  } else {
    grant = await graph.call("POST", "oauth2PermissionGrants", { clientId: client.id, resourceId: resource.id, consentType: principalId ? "Principal" : "AllPrincipals", ...(principalId ? { principalId } : {}), scope: input.scopes.join(" ") });
  }
  out.write(toGrant(grant, graph.tenantId), `  ${grant.consentType === "AllPrincipals" ? "admin consent (all users)" : `consent of ${input.user ?? ""}`} for ${String(client.displayName)} on ${String(resource.displayName)}: ${String(grant.scope)} (grant ${String(grant.id)})`);
}

export async function remoteConsentList(graph: RemoteDirectory, out: RemoteOutput): Promise<void> {
  const grants = (await graph.list("oauth2PermissionGrants")).map((g) => toGrant(g, graph.tenantId));
  const names = new Map((await graph.list("servicePrincipals")).map((s) => [String(s.id), String(s.displayName)]));
  out.write(grants, out.table(["ID", "CLIENT", "RESOURCE", "CONSENT", "SCOPE"], grants.map((g) => [String(g.id), names.get(String(g.clientId)) ?? String(g.clientId), names.get(String(g.resourceId)) ?? String(g.resourceId), g.consentType === "AllPrincipals" ? "all users" : `user ${String(g.principalId ?? "")}`, String(g.scope)])));
}

/** Deletes a grant (Graph revokes the refresh tokens issued under it; it does not say how many). */
export async function remoteConsentRevoke(graph: RemoteDirectory, out: RemoteOutput, input: { id?: string; appId?: string; resource: string; user?: string; tenantLabel: string }): Promise<void> {
  let grant: Json;
  if (input.id) {
    grant = await graph.call("GET", `oauth2PermissionGrants/${enc(input.id)}`);
  } else {
    if (!input.appId) throw new ConfigError("--app <appId> is required");
    const resource = await requireResource(graph, input.resource);
    const client = await clientSp(graph, input.appId, input.tenantLabel);
    const principalId = input.user ? String((await requireUser(graph, input.user)).id) : undefined;
    const filter = `clientId eq '${String(client.id)}' and resourceId eq '${String(resource.id)}'`;
    const found = (await graph.list(`oauth2PermissionGrants?$filter=${enc(filter)}`)).find((g) => (principalId ? g.principalId === principalId : g.consentType === "AllPrincipals"));
    if (!found) throw new ConfigError(`no consent grant of app ${input.appId} on ${String(resource.displayName)}${input.user ? ` for ${input.user}` : " for all users"}`);
    grant = found;
  }
  await graph.call("DELETE", `oauth2PermissionGrants/${enc(String(grant.id))}`);
  out.write({ grant: toGrant(grant, graph.tenantId) }, `  revoked consent grant ${String(grant.id)} (${String(grant.scope)}); its refresh tokens are revoked`);
}

// ── groups ────────────────────────────────────────────────────────────────────────────

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Graph group + member ids → identity's `Group` shape. */
const toGroup = (g: Json, tenantId: string, members: string[]) => ({ id: g.id, tenantId, displayName: g.displayName, members, ...(typeof g.mailNickname === "string" ? { mailNickname: g.mailNickname } : {}) });
const memberRef = (id: string) => ({ "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${id}` });

/** A group by id or display name (as the offline commands take it). @throws ConfigError when there is none. */
async function requireGroup(graph: RemoteDirectory, idOrName: string): Promise<Json> {
  const [found] = await graph.list(`groups?$filter=${enc(GUID.test(idOrName) ? `id eq ${quote(idOrName.toLowerCase())}` : `displayName eq ${quote(idOrName)}`)}`);
  if (!found) throw new ConfigError(`group '${idOrName}' does not exist in tenant '${graph.tenantId}'`);
  return found;
}

const memberIds = async (graph: RemoteDirectory, groupId: string) => (await graph.list(`groups/${enc(groupId)}/members?$select=id`)).map((m) => String(m.id));

export async function remoteGroupCreate(graph: RemoteDirectory, out: RemoteOutput, input: { name: string; members: string[]; tenantLabel: string }): Promise<void> {
  const users = [];
  for (const upn of input.members) users.push(await requireUser(graph, upn));
  const nickname = input.name.replace(/[^A-Za-z0-9._-]/g, "") || "group";
  const group = await graph.call("POST", "groups", { displayName: input.name, mailEnabled: false, mailNickname: nickname, securityEnabled: true });
  const members = [...new Set(users.map((u) => String(u.id)))];
  for (const id of members) await graph.call("POST", `groups/${enc(String(group.id))}/members/$ref`, memberRef(id));
  out.write(toGroup(group, graph.tenantId, members), `  group ${String(group.id)} '${String(group.displayName)}' in ${input.tenantLabel} with ${members.length} member(s)`);
}

export async function remoteGroupList(graph: RemoteDirectory, out: RemoteOutput): Promise<void> {
  const groups = await graph.list("groups?$orderby=displayName");
  const upns = new Map((await graph.list(`users?$select=id,userPrincipalName`)).map((u) => [String(u.id), String(u.userPrincipalName)]));
  const shaped = [];
  // One members call per group: a CLI listing, not a request path.
  for (const g of groups) shaped.push(toGroup(g, graph.tenantId, await memberIds(graph, String(g.id))));
  out.write(shaped, out.table(["ID", "NAME", "MEMBERS"], shaped.map((g) => [String(g.id), String(g.displayName), g.members.map((m) => upns.get(m) ?? m).join(", ")])));
}

export async function remoteGroupDelete(graph: RemoteDirectory, out: RemoteOutput, idOrName: string): Promise<void> {
  const group = await requireGroup(graph, idOrName);
  const members = await memberIds(graph, String(group.id));
  await graph.call("DELETE", `groups/${enc(String(group.id))}`);
  out.write({ deleted: toGroup(group, graph.tenantId, members) }, `  deleted group ${String(group.id)} '${String(group.displayName)}' (its memberships and app assignments)`);
}

export async function remoteGroupMember(graph: RemoteDirectory, out: RemoteOutput, idOrName: string, upn: string, add: boolean): Promise<void> {
  const group = await requireGroup(graph, idOrName);
  const user = await requireUser(graph, upn);
  const gid = enc(String(group.id));
  if (add) {
    await graph.call("POST", `groups/${gid}/members/$ref`, memberRef(String(user.id)));
  } else {
    await graph.call("DELETE", `groups/${gid}/members/${enc(String(user.id))}/$ref`).catch((error: unknown) => {
      if (error instanceof RemoteError && error.status === 404) throw new ConfigError(`user '${String(user.userPrincipalName)}' is not a member of group '${String(group.displayName)}'`);
      throw error;
    });
  }
  out.write({ group: idOrName, userId: user.id, userPrincipalName: user.userPrincipalName, member: add }, `  ${String(user.userPrincipalName)} ${add ? "added to" : "removed from"} group '${idOrName}'`);
}

// ── app assignments ───────────────────────────────────────────────────────────────────

/** The default app role ("User", all zeros) an assignment without app roles gets (serviceprincipal-post-approleassignedto). */
const DEFAULT_APP_ROLE = "00000000-0000-0000-0000-000000000000";
const toAssignment = (a: Json, tenantId: string) => ({ id: a.id, tenantId, principalId: a.principalId, resourceId: a.resourceId, appRoleId: a.appRoleId, principalType: a.principalType });

export async function remoteAppAssign(graph: RemoteDirectory, out: RemoteOutput, appId: string, principal: { kind: "user" | "group"; name: string }, tenantLabel: string): Promise<void> {
  const sp = await clientSp(graph, appId, tenantLabel);
  const target = principal.kind === "user" ? await requireUser(graph, principal.name) : await requireGroup(graph, principal.name);
  const assignment = await graph.call("POST", `servicePrincipals/${enc(String(sp.id))}/appRoleAssignedTo`, { principalId: target.id, resourceId: sp.id, appRoleId: DEFAULT_APP_ROLE });
  out.write(toAssignment(assignment, graph.tenantId), `  ${principal.kind} '${principal.name}' assigned to ${String(sp.displayName)} in ${tenantLabel} (assignment ${String(assignment.id)})`);
}

export async function remoteAppAssignments(graph: RemoteDirectory, out: RemoteOutput, appId: string, tenantLabel: string): Promise<void> {
  const sp = await clientSp(graph, appId, tenantLabel);
  const assignments = await graph.list(`servicePrincipals/${enc(String(sp.id))}/appRoleAssignedTo`);
  out.write(assignments.map((a) => toAssignment(a, graph.tenantId)), out.table(["ID", "TYPE", "PRINCIPAL", "PRINCIPAL ID"], assignments.map((a) => [String(a.id), String(a.principalType), String(a.principalDisplayName ?? ""), String(a.principalId)])));
}
