import type { IncomingHttpHeaders } from "node:http";
import { DataverseError, dv } from "./errors.ts";
import type { Org } from "./model.ts";
import type { DataverseStore } from "./store.ts";
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
  /** The `authorization_uri` advertised in `WWW-Authenticate` (`…/{tenantId}/oauth2/authorize`). */
  authorizationUri(tenantId: string): string;
}

/** The systemuser a request acts as. */
export interface Caller {
  systemUserId: string;
  businessUnitId: string;
  /** `application` for app-only (S2S) tokens, `user` for delegated ones. */
  kind: "application" | "user";
}

/**
 * Authenticates a Web API request: bearer token → verified claims → systemuser.
 * App-only tokens map `appid` (v1) or `azp` (v2) to an enabled application user;
 * delegated tokens map `oid` to `azureactivedirectoryobjectid`.
 * @throws DataverseError 401 (no or bad token), 403 `0x80072560` (not a member), 403 `0x80042f09` (no roles).
 */
export async function authenticate(headers: IncomingHttpHeaders, org: Org, orgUrl: string, trust: TokenTrust, store: DataverseStore, md: OrgMetadata): Promise<Caller> {
  const challenge = `Bearer authorization_uri=${trust.authorizationUri(org.tenantId)}, resource_id=${orgUrl}/`;
  const header = headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) throw new DataverseError(401, "0x0", "The request has no bearer token. Request a token for this organization's URL and send it in the Authorization header.", { "www-authenticate": challenge });
  let claims: Record<string, unknown>;
  try {
    claims = await trust.verify(match[1] as string, { issuers: trust.issuers(org.tenantId), audiences: [orgUrl, `${orgUrl}/`] });
  } catch (error) {
    throw new DataverseError(401, "0x0", `The access token is not valid for this organization: ${(error as Error).message}.`, { "www-authenticate": `${challenge}, error="invalid_token"` });
  }
  if (String(claims.tid ?? "").toLowerCase() !== org.tenantId) throw new DataverseError(401, "0x0", "The access token was issued for another tenant.", { "www-authenticate": `${challenge}, error="invalid_token"` });

  const systemuser = md.entity("systemuser") as EntityMetadata;
  const appOnly = claims.idtyp === "app" || (claims.scp === undefined && claims.roles !== undefined) || (claims.scp === undefined && claims.upn === undefined);
  const where = appOnly
    ? { kind: "compare" as const, op: "eq" as const, left: { kind: "column" as const, name: "applicationid" }, right: { kind: "value" as const, value: String(claims.appid ?? claims.azp ?? "").toLowerCase() } }
    : { kind: "compare" as const, op: "eq" as const, left: { kind: "column" as const, name: "azureactivedirectoryobjectid" }, right: { kind: "value" as const, value: String(claims.oid ?? "").toLowerCase() } };
  const [user] = await store.selectRows(org, { entity: systemuser, columns: ["systemuserid", "businessunitid", "isdisabled"], where, orderBy: [], limit: 1 });
  if (!user || user.isdisabled === 1 || user.isdisabled === true) throw dv.notMember();
  const systemUserId = String(user.systemuserid);
  const roleCount = await store.countRows(org, { entity: md.entity("systemuserroles") as EntityMetadata, where: { kind: "compare", op: "eq", left: { kind: "column", name: "systemuserid" }, right: { kind: "value", value: systemUserId } } });
  if (roleCount === 0) throw dv.noRoles(systemUserId);
  return { systemUserId, businessUnitId: String(user.businessunitid), kind: appOnly ? "application" : "user" };
}
