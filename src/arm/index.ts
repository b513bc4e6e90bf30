import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { decodeJwt } from "jose";
import { AZURE_SERVICE_MANAGEMENT_APP_ID, TokenRejectedError, type Identity } from "../identity/index.ts";

/** The identifiers of Azure Resource Manager: a token's `aud` (v1 tokens keep the form the client asked for). */
const ARM_AUDIENCES = ["https://management.core.windows.net/", "https://management.core.windows.net", "https://management.azure.com/", "https://management.azure.com", AZURE_SERVICE_MANAGEMENT_APP_ID];

/** ARM's error envelope (learn.microsoft.com/azure/azure-resource-manager/templates/common-deployment-errors). */
function armError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply.status(status).header("content-type", "application/json; charset=utf-8").send({ error: { code, message } });
}

/**
 * The part of Azure Resource Manager (`https://management.azure.com`) that `az login` reads: `GET /subscriptions`
 * (orgbox has none: `{"value":[]}`, so `az login --allow-no-subscriptions` makes a tenant-level account) and
 * `GET /tenants` (the caller's tenant). Bearer tokens are verified as ARM does (signature, lifetime, issuer of the
 * token's tenant, `aud` ARM). Anything else is 404 `NotSupported`, naming itself. Register with prefix `/arm`.
 * Sources: learn.microsoft.com/rest/api/resources/subscriptions/list, …/tenants/list.
 */
export async function armRoutes(app: FastifyInstance, identity: Identity): Promise<void> {
  const authenticate = async (request: FastifyRequest, reply: FastifyReply): Promise<string | undefined> => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? "");
    const challenge = `Bearer authorization_uri="${identity.urls.base}/common/oauth2/authorize", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`;
    if (!match) {
      armError(reply.header("www-authenticate", challenge), 401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.");
      return undefined;
    }
    const token = match[1] as string;
    let tid = "";
    try {
      tid = String(decodeJwt(token).tid ?? "").toLowerCase();
      await identity.verifier(token, { issuers: identity.urls.acceptedIssuers(tid), audiences: ARM_AUDIENCES });
    } catch (error) {
      const why = error instanceof TokenRejectedError ? error.reason : "the token is not a JWT";
      armError(reply.header("www-authenticate", challenge), 401, "InvalidAuthenticationToken", `The access token is invalid: ${why}.`);
      return undefined;
    }
    return tid;
  };

  app.get("/subscriptions", async (request, reply) => {
    if ((await authenticate(request, reply)) === undefined) return reply;
    return { value: [], count: { type: "Total", value: 0 } };
  });
  app.get("/tenants", async (request, reply) => {
    const tid = await authenticate(request, reply);
    if (tid === undefined) return reply;
    const tenant = await identity.directory.findTenant(tid);
    if (!tenant) return { value: [] };
    return {
      value: [{ id: `/tenants/${tenant.id}`, tenantId: tenant.id, countryCode: "US", displayName: tenant.displayName, domains: tenant.domains, tenantCategory: "Home", defaultDomain: tenant.defaultDomain, tenantType: "AAD" }],
      count: { type: "Total", value: 1 },
    };
  });
  app.setNotFoundHandler((request, reply) =>
    armError(reply, 404, "NotSupported", `orgbox answers as Azure Resource Manager only for GET /subscriptions and GET /tenants (what az login reads); not ${request.method} ${request.url.replace(/^\/arm/, "").split("?")[0]}.`),
  );
}
