import { verifySecret } from "../common/secrets.ts";
import type { Clock } from "../common/clock.ts";
import { verifyClientAssertion, type AssertionDeps } from "./client-assertion.ts";
import { aad } from "./errors.ts";
import type { AuthenticatedClient, ClientAuthPolicy, ConfidentialClient } from "./grants/grant.ts";
import type { Application, Tenant } from "./model.ts";
import type { ApplicationDirectory, ServicePrincipalDirectory } from "./store.ts";

/**
 * Reads client credentials from the form body (`client_secret_post`) or the
 * `Authorization: Basic` header (`client_secret_basic`, RFC 6749 §2.3.1: id and
 * secret each `application/x-www-form-urlencoded`, then `id:secret` in base64).
 * @throws AadError 70002 (`invalid_client`, HTTP 401) when the Basic id or secret is
 * not valid form-urlencoding (e.g. `%zz`): the client cannot be identified.
 */
export function readClientCredentials(form: Record<string, string>, authorization: string | undefined): { clientId?: string; clientSecret?: string } {
  if (authorization?.toLowerCase().startsWith("basic ")) {
    const decoded = Buffer.from(authorization.slice(6).trim(), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon > 0) {
      const clientId = formDecode(decoded.slice(0, colon));
      const clientSecret = formDecode(decoded.slice(colon + 1));
      if (clientId === undefined || clientSecret === undefined) throw aad.malformedBasicCredentials();
      return { clientId, clientSecret };
    }
  }
  return { clientId: form.client_id, clientSecret: form.client_secret };
}

/** `application/x-www-form-urlencoded` decoding of one value (`+` is a space); undefined for bad percent-encoding. */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

/**
 * Authenticates a confidential client in `tenant`: the app must exist and have
 * a service principal there (else AADSTS700016), and the secret must match an
 * unexpired password credential (AADSTS7000215 / 7000222), compared in constant time.
 */
async function authenticateConfidentialClient(
  store: ApplicationDirectory & ServicePrincipalDirectory,
  clock: Clock,
  tenant: Tenant,
  clientId: string,
  clientSecret: string | undefined,
): Promise<ConfidentialClient> {
  const app = await store.findApplicationByAppId(clientId);
  const servicePrincipal = app ? await store.findServicePrincipal(tenant.id, app.appId) : undefined;
  if (!app || !servicePrincipal) throw aad.applicationNotFound(clientId, tenant.defaultDomain);
  if (!servicePrincipal.accountEnabled) throw aad.applicationDisabled(app.appId, servicePrincipal.displayName);
  if (clientSecret === undefined || clientSecret === "") throw aad.missingClientCredential();
  const credentials = await store.listPasswordCredentials(app.id);
  const now = clock.now();
  let expiredMatch = false;
  for (const credential of credentials) {
    if (!verifySecret(clientSecret, credential.secretHash)) continue;
    if (credential.endDateTime <= now || credential.startDateTime > now) {
      expiredMatch = true;
      continue;
    }
    return { app, servicePrincipal, clientAuth: "1", publicClient: false };
  }
  if (expiredMatch) throw aad.expiredClientSecret(app.appId);
  throw aad.invalidClientSecret(app.appId);
}

/**
 * Authenticates a confidential client by whichever credential it sent: a
 * certificate-signed `client_assertion` (`appidacr` "2", see {@link verifyClientAssertion})
 * or a client secret (`appidacr` "1", {@link authenticateConfidentialClient}).
 * @throws AadError 900144 (no client_id), 700016, and the credential's own errors.
 */
export async function authenticateClient(deps: AssertionDeps, tenant: Tenant, form: Record<string, string>, authorization: string | undefined): Promise<ConfidentialClient> {
  const { clientId, clientSecret } = readClientCredentials(form, authorization);
  if (!clientId) throw aad.missingParameter("client_id");
  if (form.client_assertion === undefined && form.client_assertion_type === undefined) return authenticateConfidentialClient(deps.store, deps.clock, tenant, clientId, clientSecret);
  const app = await deps.store.findApplicationByAppId(clientId);
  const servicePrincipal = app ? await deps.store.findServicePrincipal(tenant.id, app.appId) : undefined;
  if (!app || !servicePrincipal) throw aad.applicationNotFound(clientId, tenant.defaultDomain);
  if (!servicePrincipal.accountEnabled) throw aad.applicationDisabled(app.appId, servicePrincipal.displayName);
  if (form.client_assertion === undefined) throw aad.missingParameter("client_assertion");
  await verifyClientAssertion(deps, tenant, app, form);
  return { app, servicePrincipal, clientAuth: "2", publicClient: false };
}

/**
 * Authenticates the client of a delegated grant. Public clients must not send a
 * secret or assertion (AADSTS700025); confidential clients must authenticate
 * (AADSTS7000218 / 7000215 / 7000222). `isPublic` decides which applies; by default
 * the app's `isFallbackPublicClient` (ROPC, device code).
 * @throws AadError 900144 (no client_id), 700016 (app unknown in tenant), 700025, 70002xx.
 */
async function authenticatePublicOrConfidentialClient(
  deps: AssertionDeps,
  tenant: Tenant,
  form: Record<string, string>,
  authorization: string | undefined,
  isPublic?: (app: Application) => boolean,
): Promise<AuthenticatedClient> {
  const { clientId, clientSecret } = readClientCredentials(form, authorization);
  if (!clientId) throw aad.missingParameter("client_id");
  const app = await deps.store.findApplicationByAppId(clientId);
  const sp = app ? await deps.store.findServicePrincipal(tenant.id, app.appId) : undefined;
  if (!app || !sp) throw aad.applicationNotFound(clientId, tenant.defaultDomain);
  if (!sp.accountEnabled) throw aad.applicationDisabled(app.appId, sp.displayName);
  const publicClient = isPublic ? isPublic(app) : app.isFallbackPublicClient;
  if (publicClient) {
    if ((clientSecret !== undefined && clientSecret !== "") || form.client_assertion) throw aad.publicClientSentSecret();
    return { app, servicePrincipal: sp, clientAuth: "0", publicClient: true };
  }
  return authenticateClient(deps, tenant, form, authorization);
}

/** What a {@link ClientAuthPolicy} is given: the tenant the client authenticates in, the form and `Authorization` header. */
export interface ClientAuthInput {
  tenant: Tenant;
  form: Record<string, string>;
  authorization: string | undefined;
  /** See `PreparedGrant.isPublicClient`. */
  isPublicClient?: (app: Application) => boolean;
}

/** The token endpoint's client authentication, by the policy a grant declares (a registry, not a switch). */
export const clientAuthPolicies: { readonly [P in ClientAuthPolicy]: (deps: AssertionDeps, input: ClientAuthInput) => Promise<P extends "confidential" ? ConfidentialClient : AuthenticatedClient> } = {
  confidential: (deps, input) => authenticateClient(deps, input.tenant, input.form, input.authorization),
  "public-or-confidential": (deps, input) => authenticatePublicOrConfidentialClient(deps, input.tenant, input.form, input.authorization, input.isPublicClient),
};
