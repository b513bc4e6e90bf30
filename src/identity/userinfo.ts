import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { decodeJwt } from "jose";
import { newGuid } from "../common/ids.ts";
import type { Clock } from "../common/clock.ts";
import { GRAPH_IDENTIFIER } from "./delegated.ts";
import type { UserDirectory } from "./store.ts";
import { pairwiseSubject } from "./tokens/claims.ts";
import { TokenRejectedError, type TokenVerifier } from "./tokens/verifier.ts";
import type { IdentityUrls } from "./urls.ts";
import { MICROSOFT_GRAPH_APP_ID } from "./well-known.ts";

/** What the userinfo endpoint needs. */
export interface UserInfoDeps {
  store: UserDirectory;
  clock: Clock;
  urls: IdentityUrls;
  verifier: TokenVerifier;
}

/** The userinfo response (OpenID Connect Core §5.3.2; Entra's subset). */
export interface UserInfo {
  sub: string;
  name: string;
  family_name?: string;
  given_name?: string;
  email: string;
}

/**
 * Registers `GET|POST {base}/oidc/userinfo` (the v2 discovery's `userinfo_endpoint`,
 * served by Microsoft Graph in Entra) and v1's `{base}/{tenant}/openid/userinfo`. Takes a delegated access token for
 * Microsoft Graph (`aud` `https://graph.microsoft.com` or `00000003-0000-0000-c000-000000000000`)
 * as `Authorization: Bearer`, and returns `{sub, name, family_name, given_name, email}`;
 * `sub` is the same pairwise subject as the client's id_token. `email` is the
 * user principal name (orgbox users have no separate mail attribute).
 * Errors are Graph's: 401 `{"error":{"code":"InvalidAuthenticationToken","message"}}`
 * with a `WWW-Authenticate: Bearer` challenge.
 * Source: learn.microsoft.com/entra/identity-platform/userinfo, OpenID Connect Core 1.0 §5.3.
 */
export async function userInfoRoutes(app: FastifyInstance, deps: UserInfoDeps): Promise<void> {
  const reject = (request: FastifyRequest, reply: FastifyReply, message: string) => {
    const challenge = `Bearer realm="", authorization_uri="${deps.urls.base}/common/oauth2/authorize", client_id="${MICROSOFT_GRAPH_APP_ID}", error="invalid_token"`;
    return reply
      .status(401)
      .headers({ "www-authenticate": challenge, "cache-control": "no-store", "content-type": "application/json" })
      .send({ error: { code: "InvalidAuthenticationToken", message, innerError: { date: new Date(deps.clock.now()).toISOString().replace(/\.\d{3}Z$/, ""), "request-id": newGuid(), "client-request-id": request.id } } });
  };

  const userinfo = async (request: FastifyRequest, reply: FastifyReply) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? "");
    if (!match) return reject(request, reply, "Access token is empty.");
    const token = match[1] as string;
    let tid: string;
    try {
      tid = String(decodeJwt(token).tid ?? "");
    } catch {
      return reject(request, reply, "Access token validation failure. The token is malformed.");
    }
    let claims: Record<string, unknown>;
    try {
      claims = await deps.verifier(token, { issuers: deps.urls.acceptedIssuers(tid), audiences: [GRAPH_IDENTIFIER, `${GRAPH_IDENTIFIER}/`, MICROSOFT_GRAPH_APP_ID] });
    } catch (error) {
      if (error instanceof TokenRejectedError) return reject(request, reply, `Access token validation failure. ${error.reason[0]?.toUpperCase()}${error.reason.slice(1)}.`);
      throw error;
    }
    const clientAppId = typeof claims.appid === "string" ? claims.appid : typeof claims.azp === "string" ? claims.azp : undefined;
    const user = typeof claims.oid === "string" && claims.idtyp !== "app" ? await deps.store.findUserById(claims.oid) : undefined;
    if (!user || !clientAppId || user.tenantId !== tid || !user.accountEnabled) return reject(request, reply, "Access token validation failure. The token was not issued to a user of this directory.");
    const body: UserInfo = { sub: pairwiseSubject(user.id, clientAppId), name: user.displayName, email: user.userPrincipalName };
    if (user.surname) body.family_name = user.surname;
    if (user.givenName) body.given_name = user.givenName;
    return reply.headers({ "cache-control": "no-store", "content-type": "application/json; charset=utf-8" }).send(body);
  };
  app.get("/oidc/userinfo", userinfo);
  app.post("/oidc/userinfo", userinfo);
  // the v1 discovery's `userinfo_endpoint`
  app.get("/:tenant/openid/userinfo", userinfo);
  app.post("/:tenant/openid/userinfo", userinfo);
}
