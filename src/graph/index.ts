import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Clock } from "../common/clock.ts";
import { newGuid } from "../common/ids.ts";
import { DirectoryError, type Identity } from "../identity/index.ts";
import { GRAPH_JSON, runGraphRequest, type GraphDeps } from "./context.ts";
import { GraphError, graphError, graphErrorBody } from "./errors.ts";
import { ResourceRegistry } from "./registry.ts";
import { applicationsModule } from "./resources/applications.ts";
import { oauth2PermissionGrantsModule } from "./resources/oauth2-permission-grants.ts";
import { servicePrincipalsModule } from "./resources/service-principals.ts";
import { groupsModule } from "./resources/groups.ts";
import { organizationModule } from "./resources/organization.ts";
import { rolesModule } from "./resources/roles.ts";
import { userAppRoleAssignmentsModule } from "./resources/user-app-role-assignments.ts";
import { authenticationRequirementsModule } from "./resources/authentication-requirements.ts";
import { usersModule } from "./resources/users.ts";

export { ResourceRegistry, type GraphOperation, type GraphResourceModule, type PermissionPolicy } from "./registry.ts";
export { GraphError, graphError, graphErrorBody } from "./errors.ts";

/** The versions served: `{url}/graph/v1.0/…` and `{url}/graph/beta/…` (same operations). */
const VERSIONS = new Set(["v1.0", "beta"]);

/** The resource modules of the surface. Adding a resource: a module in `resources/` and one line here. */
export function graphRegistry(): ResourceRegistry {
  return new ResourceRegistry()
    .register(applicationsModule)
    .register(servicePrincipalsModule)
    .register(oauth2PermissionGrantsModule)
    .register(usersModule)
    .register(groupsModule)
    .register(organizationModule)
    .register(rolesModule)
    .register(userAppRoleAssignmentsModule)
    .register(authenticationRequirementsModule);
}

/** The Microsoft Graph–compatible directory API over identity's services. */
export interface Graph {
  /** Registers `/graph/{version}/*` on a Fastify scope whose prefix is `/graph`. */
  register(app: FastifyInstance): Promise<void>;
}

/** Builds the Graph surface over identity (its directory, service, verifier and URLs). */
export function createGraph(identity: Pick<Identity, "directory" | "service" | "verifier" | "urls">, clock: Clock, registry: ResourceRegistry = graphRegistry()): Graph {
  const deps: GraphDeps = { directory: identity.directory, service: identity.service, verifier: identity.verifier, urls: identity.urls, clock, registry };
  return {
    register: async (app) => {
      app.addHook("onRequest", async (request, reply) => {
        // Graph answers with its own request-id and echoes the client's (or repeats its own).
        const requestId = newGuid();
        const given = request.headers["client-request-id"];
        reply.header("request-id", requestId).header("client-request-id", typeof given === "string" && given.length <= 128 ? given : requestId);
        reply.header("cache-control", "no-cache");
      });
      app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
        const typed = toGraphError(error);
        if (typed.status >= 500) request.log.error({ err: error }, "Graph request failed");
        const requestId = String(reply.getHeader("request-id") ?? newGuid());
        const clientRequestId = String(reply.getHeader("client-request-id") ?? requestId);
        if (typed.status === 401) {
          reply.header("www-authenticate", `Bearer realm="", authorization_uri="${deps.urls.base}/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`);
        }
        return reply.status(typed.status).headers(typed.headers).type(GRAPH_JSON).send(graphErrorBody(typed, { requestId, clientRequestId, now: clock.now() }));
      });
      const handle = async (request: FastifyRequest, reply: FastifyReply) => {
        const url = request.url;
        const q = url.indexOf("?");
        const path = (q < 0 ? url : url.slice(0, q)).replace(/^\/graph\//, "");
        const slash = path.indexOf("/");
        const version = slash < 0 ? path : path.slice(0, slash);
        if (!VERSIONS.has(version)) throw graphError.badRequest(`Invalid version: '${version}'. orgbox serves v1.0 and beta.`);
        const rest = slash < 0 ? "" : path.slice(slash + 1);
        if (rest === "") throw graphError.unknownSegment(version);
        return runGraphRequest(deps, request, reply, version, rest, q < 0 ? "" : url.slice(q + 1));
      };
      app.route({ method: ["GET", "POST", "PATCH", "PUT", "DELETE"], url: "/*", handler: handle });
    },
  };
}

/** Maps any error to the Graph error family: Fastify's body errors, identity's DirectoryError, else 500. */
function toGraphError(error: unknown): GraphError {
  if (error instanceof GraphError) return error;
  if (error instanceof DirectoryError) {
    if (error.status === 404) return new GraphError(404, "Request_ResourceNotFound", error.message);
    return new GraphError(400, "Request_BadRequest", error.message);
  }
  const fastify = error as Partial<FastifyError>;
  if (fastify.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return graphError.unsupportedMediaType();
  if (fastify.code === "FST_ERR_CTP_EMPTY_JSON_BODY") return graphError.badRequest("Empty Payload. JSON content expected.");
  if (fastify.code === "FST_ERR_CTP_BODY_TOO_LARGE") return new GraphError(413, "Request_EntityTooLarge", "The request body is too large.");
  if (typeof fastify.statusCode === "number" && fastify.statusCode >= 400 && fastify.statusCode < 500) return graphError.badRequest(`Invalid request body: ${fastify.message ?? "malformed JSON"}.`);
  return new GraphError(500, "generalException", "An internal error occurred; see orgbox's log for the request-id.");
}
