import { isGuid } from "../common/ids.ts";
import { aad } from "./errors.ts";
import type { Tenant } from "./model.ts";
import type { TenantDirectory } from "./store.ts";

/** The tenant segment of a URL: a real tenant, or one of the multi-tenant aliases. */
export type TenantRef = { kind: "tenant"; tenant: Tenant; segment: string } | { kind: "alias"; alias: "common" | "organizations" | "consumers"; segment: string };

const DOMAIN_RE = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/i;

/**
 * Resolves the `{tenant}` path segment: GUID, verified domain (case-insensitive;
 * MSAL lowercases authorities), `common`, `organizations` or `consumers`.
 * @throws AadError 900023 for a malformed segment, 90002 for an unknown tenant.
 */
export async function resolveTenant(store: TenantDirectory, segment: string): Promise<TenantRef> {
  const lower = segment.toLowerCase();
  if (lower === "common" || lower === "organizations" || lower === "consumers") return { kind: "alias", alias: lower, segment: lower };
  if (!isGuid(lower) && !DOMAIN_RE.test(lower)) throw aad.malformedTenant(segment);
  const tenant = await store.findTenant(lower);
  if (!tenant) throw aad.tenantNotFound(segment);
  return { kind: "tenant", tenant, segment: lower };
}
