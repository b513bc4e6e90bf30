import type { IncomingHttpHeaders } from "node:http";
import { DataverseError, dv } from "./errors.ts";
import type { Org } from "./model.ts";
import type { DataverseStore, Expr, RecordStore } from "./store.ts";
import { SecurityContext } from "./security/context.ts";
import type { CallerRecord, OrgSecurityState, SecurityStateCache } from "./security/cache.ts";
import type { OrgMetadata } from "./metadata/registry.ts";
import type { EntityMetadata } from "./metadata/types.ts";

/**
 * Verifies an access token's signature, lifetime, issuer and audience, and
 * returns its claims. Identity supplies it; Dataverse trusts Entra only through it.
 * @throws any error with a human-readable message when the token is refused.
 */
export type AccessTokenVerifier = (token: string, expected: { issuers: string[]; audiences: string[] }) => Promise<Record<string, unknown>>;

/** How an org trusts its tenant's identity provider. */
export interface TokenTrust {
  verify: AccessTokenVerifier;
  /** Issuers accepted for tokens of `tenantId` (v1 and v2 forms). */
  issuers(tenantId: string): string[];
  /**
   * Every URL of `org` a token's `aud` may name (no trailing slash; the slash form is accepted too), besides
   * the org URL of the request: e.g. its path URL on orgbox and its cloud host URL. Default: only that one.
   */
  audiences?(org: Org): string[];
  /** The name of the org whose other URL (see `audiences`, e.g. its cloud host URL) a token's `aud` is, for Web API URLs that name no org. */
  orgForAudience?(aud: string): string | undefined;
  /** The `authorization_uri` advertised in `WWW-Authenticate` (`…/{tenantId}/oauth2/authorize`). */
  authorizationUri(tenantId: string): string;
}

const eq = (column: string, value: string): Expr => ({ kind: "compare", op: "eq", left: { kind: "column", name: column }, right: { kind: "value", value } });

/**
 * Authenticates a Web API request: bearer token → verified claims → systemuser, then
 * impersonation. App-only tokens map `appid` (v1) or `azp` (v2) to an enabled application
 * user; delegated tokens map `oid` to `azureactivedirectoryobjectid`. The user needs at least
 * one role, its own or a team's.
 *
 * Impersonation (learn.microsoft.com/power-apps/developer/data-platform/impersonate-another-user-web-api):
 * `MSCRMCallerID: <systemuserid>` or `CallerObjectId: <Entra object id>` makes the request act as
 * that user, when the authenticated user holds `prvActOnBehalfOfAnotherUser` (Delegate role).
 *
 * With `cache` and a `store` outside a transaction, the systemuser a token maps to and the
 * user's roles and privileges come from the org's cached security state (see
 * {@link SecurityStateCache}); inside a transaction (a `$batch` change set) they are read
 * through it and not kept.
 *
 * @returns a {@link SecurityContext} for the user the request acts as (one per request).
 * @throws DataverseError 401 (no or bad token), 403 `0x80072560` (not a member), 403 `0x80042f09` (no roles),
 *   403 `0x80040220` (impersonation without `prvActOnBehalfOfAnotherUser`), 404 `0x80040217` (no such user to impersonate).
 */
export async function authorizeRequest(headers: IncomingHttpHeaders, org: Org, orgUrl: string, trust: TokenTrust, store: DataverseStore, md: OrgMetadata, cache?: SecurityStateCache): Promise<SecurityContext> {
  const challenge = `Bearer authorization_uri=${trust.authorizationUri(org.tenantId)}, resource_id=${orgUrl}/`;
  const header = headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) throw new DataverseError(401, "0x0", "The request has no bearer token. Request a token for this organization's URL and send it in the Authorization header.", { "www-authenticate": challenge });
  let claims: Record<string, unknown>;
  try {
    claims = await trust.verify(match[1] as string, { issuers: trust.issuers(org.tenantId), audiences: orgAudiences(org, orgUrl, trust) });
  } catch (error) {
    throw new DataverseError(401, "0x0", `The access token is not valid for this organization: ${(error as Error).message}.`, { "www-authenticate": `${challenge}, error="invalid_token"` });
  }
  if (String(claims.tid ?? "").toLowerCase() !== org.tenantId) {
    throw new DataverseError(401, "0x0", `The access token was issued for another tenant: its 'tid' is ${JSON.stringify(claims.tid ?? null)}; organization '${org.name}' belongs to tenant '${org.tenantId}'.`, { "www-authenticate": `${challenge}, error="invalid_token"` });
  }

  const shared = cache && !store.inTransaction ? cache.forOrg(org.id) : undefined;
  const appOnly = claims.idtyp === "app" || (claims.scp === undefined && claims.roles !== undefined) || (claims.scp === undefined && claims.upn === undefined);
  const user = appOnly
    ? await findUser(store, org, md, shared, "applicationid", String(claims.appid ?? claims.azp ?? ""))
    : await findUser(store, org, md, shared, "azureactivedirectoryobjectid", String(claims.oid ?? ""));
  if (!user || user.isDisabled) throw dv.notMember(notMemberDetail(org, claims, appOnly, user !== undefined));
  const kind = appOnly ? "application" : "user";
  const authenticated = new SecurityContext({ store, org, md, caller: { systemUserId: user.systemUserId, businessUnitId: user.businessUnitId, kind } }, shared?.principal(user.systemUserId));
  if ((await authenticated.roleCount()) === 0) throw dv.noRoles(user.systemUserId);

  const byId = single(headers.mscrmcallerid);
  const byObjectId = single(headers.callerobjectid);
  if (byId === undefined && byObjectId === undefined) return authenticated;
  await authenticated.assertNamedPrivilege("prvActOnBehalfOfAnotherUser");
  const target = (byId ?? byObjectId ?? "").trim();
  const impersonated = await findUser(store, org, md, shared, byId !== undefined ? "systemuserid" : "azureactivedirectoryobjectid", target);
  if (!impersonated) throw dv.recordNotFound("systemuser", target.toLowerCase());
  if (impersonated.isDisabled) {
    // Dataverse refuses to act as a disabled user; code as observed for disabled callers (unverified).
    throw new DataverseError(403, "0x80040225", `The specified user(Id = ${impersonated.systemUserId}) is disabled. Consider enabling this user.`);
  }
  return new SecurityContext(
    { store, org, md, caller: { systemUserId: impersonated.systemUserId, businessUnitId: impersonated.businessUnitId, kind, callingUserId: user.systemUserId } },
    shared?.principal(impersonated.systemUserId),
  );
}

/** The audiences a token for `org` may carry: `orgUrl` and {@link TokenTrust.audiences}, each with and without a trailing slash. */
function orgAudiences(org: Org, orgUrl: string, trust: TokenTrust): string[] {
  const urls = new Set([orgUrl, ...(trust.audiences?.(org) ?? [])]);
  return [...urls].flatMap((url) => [url, `${url}/`]);
}

/**
 * What orgbox adds to 0x80072560: which application id or object id has no enabled systemuser in the org, and
 * the `orgbox` command that creates one (Dataverse's own message says only that the user is not a member).
 */
function notMemberDetail(org: Org, claims: Record<string, unknown>, appOnly: boolean, disabled: boolean): string {
  const quoted = (value: unknown) => (typeof value === "string" ? value : "");
  if (appOnly) {
    const appId = quoted(claims.appid ?? claims.azp);
    if (disabled) return `The application user of application id '${appId}' in org '${org.name}' is disabled (isdisabled = true): enable it (PATCH systemusers(...) {"isdisabled": false}).`;
    return `No application user in org '${org.name}' has the application id '${appId}' (the token's appid): create one with 'orgbox appuser create --org ${org.name} --app ${appId} --role "<role name>"', or POST systemusers with applicationid.`;
  }
  const oid = quoted(claims.oid);
  const upn = quoted(claims.upn ?? claims.unique_name);
  const who = upn ? ` (${upn})` : "";
  if (disabled) return `The systemuser of object id '${oid}'${who} in org '${org.name}' is disabled (isdisabled = true): enable it (PATCH systemusers(...) {"isdisabled": false}).`;
  return `No user in org '${org.name}' has the object id '${oid}'${who} (the token's oid): add the directory user with 'orgbox user add-to-org --org ${org.name} --user ${upn || oid} --role "<role name>"', or POST systemusers with azureactivedirectoryobjectid.`;
}

/** The systemuser whose `column` is `value` (lower-cased), from the org's cached state when there is one. */
function findUser(store: RecordStore, org: Org, md: OrgMetadata, shared: OrgSecurityState | undefined, column: "applicationid" | "azureactivedirectoryobjectid" | "systemuserid", value: string): Promise<CallerRecord | undefined> {
  const wanted = value.toLowerCase();
  const load = async (): Promise<CallerRecord | undefined> => {
    const entity = md.entity("systemuser") as EntityMetadata;
    const [row] = await store.selectRows(org, { entity, columns: ["systemuserid", "businessunitid", "isdisabled"], where: eq(column, wanted), orderBy: [], limit: 1 });
    return row ? { systemUserId: String(row.systemuserid), businessUnitId: String(row.businessunitid), isDisabled: row.isdisabled === 1 || row.isdisabled === true } : undefined;
  };
  return shared ? shared.caller(`${column}:${wanted}`, load) : load();
}

function single(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  return v === undefined || v.trim() === "" ? undefined : v;
}
