import { parseScope } from "../delegated.ts";
import { aad } from "../errors.ts";
import type { TokenRequest } from "./grant.ts";

/** What a delegated token request asks for: one resource, its permissions (or all consented), and OIDC scopes. */
export interface RequestedDelegation {
  resource: string;
  permissions: string[] | "default";
  oidc: Set<string>;
}

/**
 * Reads the resource of a delegated token request: v1 `resource=` (every
 * consented permission, like `.default`), v2 `scope=` (AADSTS901002 for `resource=`).
 * `fallback` supplies the scope/resource stored with a code or refresh token.
 * @throws AadError 900144 when neither the form nor the fallback names one.
 */
export function requestedDelegation(request: TokenRequest, fallback?: { scope: string | null; resource: string | null }): RequestedDelegation {
  const { form } = request;
  if (request.version === 1) {
    const resource = form.resource ?? fallback?.resource ?? undefined;
    if (!resource) throw aad.missingParameter("resource");
    const oidc = new Set((form.scope ?? "").split(/\s+/).filter((s) => s === "openid" || s === "offline_access" || s === "profile" || s === "email"));
    return { resource, permissions: "default", oidc };
  }
  if (form.resource !== undefined) throw aad.resourceParameterNotSupported();
  const scope = form.scope ?? fallback?.scope ?? undefined;
  if (!scope) throw aad.missingParameter("scope");
  const parsed = parseScope(scope);
  return { resource: parsed.resource, permissions: parsed.permissions, oidc: parsed.oidc };
}
