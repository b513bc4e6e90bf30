import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { compactVerify, decodeProtectedHeader } from "jose";
import { BrowserKit, type BrowserDeps } from "./browser.ts";
import { AadError } from "./errors.ts";
import type { Application } from "./model.ts";
import { signedOutPage } from "./pages/html.ts";
import { matchesAnyRedirectUri } from "./redirect-uris.ts";
import { resolveTenant } from "./tenants.ts";
import type { KeyRing } from "./tokens/keyring.ts";

type TenantParams = { tenant: string };

/** What the logout endpoints need: the browser kit's deps and the signing keys (to check `id_token_hint`). */
export interface LogoutDeps extends BrowserDeps {
  keys: KeyRing;
}

/**
 * Registers the sign-out endpoints `GET|POST /{tenant}/oauth2/v2.0/logout` and
 * v1 `/{tenant}/oauth2/logout` (OpenID Connect RP-Initiated Logout 1.0).
 * Revokes the browser's orgbox session and expires its cookie. Then, when
 * `post_logout_redirect_uri` is one of the redirect URIs registered on the app (the port of a
 * localhost URI is not compared, as for `redirect_uri`: see redirect-uris.ts)
 * named by `client_id` (or by the `aud` of a validly signed `id_token_hint`; an
 * expired hint is accepted), redirects there with `state`; otherwise shows a
 * signed-out page. Sources: learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#send-a-sign-out-request,
 * openid.net/specs/openid-connect-rpinitiated-1_0.html §2–3.
 */
export async function logoutRoutes(app: FastifyInstance, deps: LogoutDeps): Promise<void> {
  const kit = new BrowserKit(deps);

  /** The app an `id_token_hint` was issued to, if the hint is a token signed by one of our keys. */
  const hintedClient = async (hint: string): Promise<string | undefined> => {
    try {
      const { kid } = decodeProtectedHeader(hint);
      const key = kid ? deps.keys.publicKey(kid) : undefined;
      if (!key) return undefined;
      const { payload } = await compactVerify(hint, key, { algorithms: ["RS256"] });
      const aud = (JSON.parse(new TextDecoder().decode(payload)) as { aud?: unknown }).aud;
      return typeof aud === "string" ? aud : undefined;
    } catch {
      return undefined;
    }
  };
  const registered = (client: Application, uri: string) => matchesAnyRedirectUri([...client.web.redirectUris, ...client.spa.redirectUris, ...client.publicClient.redirectUris], uri);

  const logout = async (request: FastifyRequest<{ Params: TenantParams }>, reply: FastifyReply) => {
    try {
      await resolveTenant(deps.store, request.params.tenant);
    } catch (error) {
      if (error instanceof AadError) return kit.showError(request, reply, error);
      throw error;
    }
    const params = kit.params(request);
    await kit.signOut(request, reply);
    const target = params.post_logout_redirect_uri;
    if (target) {
      const clientId = params.client_id ?? (params.id_token_hint ? await hintedClient(params.id_token_hint) : undefined);
      const client = clientId ? await deps.store.findApplicationByAppId(clientId) : undefined;
      if (client && registered(client, target)) return kit.deliver(reply, { redirectUri: target, responseMode: "query", state: params.state }, {});
      request.log.info({ clientId, postLogoutRedirectUri: target }, "post_logout_redirect_uri not registered; showing the signed-out page");
    }
    return kit.html(reply, signedOutPage());
  };
  app.get("/:tenant/oauth2/v2.0/logout", logout);
  app.post("/:tenant/oauth2/v2.0/logout", logout);
  app.get("/:tenant/oauth2/logout", logout);
  app.post("/:tenant/oauth2/logout", logout);
}
