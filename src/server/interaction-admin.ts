/**
 * `POST /_orgbox/interaction-requirements` (admin key): orgbox's "require MFA" switch for a user or
 * for a client app in a tenant (identity's `interaction.ts`), what the CLI's `orgbox user|app
 * require-mfa --url` call. Per-user MFA is also on Graph (`PATCH /users/{id}/authentication/requirements`).
 */
import type { FastifyInstance } from "fastify";
import { DirectoryError, type Identity, type InteractionKind } from "../identity/index.ts";

const KINDS: readonly InteractionKind[] = ["mfa", "mfaRegistration"];

/**
 * Body: `{"tenant": "<id|domain>", "user": "<upn|object id>"}` or `{"tenant", "app": "<appId>"}`, plus
 * `"kind"` (`mfa`, default, or `mfaRegistration`) and `"required"` (default true; false clears it).
 * 200 `{subjectId, requirements: [{kind, since (ISO 8601)}]}`; 400 for a bad body; 404 for an unknown
 * tenant, user, or an app without a service principal in the tenant.
 */
export function registerInteractionAdmin(scope: FastifyInstance, service: Identity["service"]): void {
  scope.post("/_orgbox/interaction-requirements", async (request, reply) => {
    const body = request.body as Record<string, unknown> | undefined;
    const refuse = (status: number, message: string) => reply.status(status).send({ error: status === 404 ? "not_found" : "invalid_request", error_description: message });
    if (typeof body !== "object" || body === null || Array.isArray(body)) return refuse(400, 'send a JSON object: {"tenant": "<id|domain>", "user": "<upn>" | "app": "<appId>", "kind": "mfa" | "mfaRegistration", "required": true | false}');
    const unknown = Object.keys(body).filter((k) => !["tenant", "user", "app", "kind", "required"].includes(k));
    if (unknown.length > 0) return refuse(400, `unknown property '${unknown[0] as string}'`);
    const { tenant, user, app } = body;
    const kind = body.kind ?? "mfa";
    const required = body.required ?? true;
    if (typeof tenant !== "string" || tenant.trim() === "") return refuse(400, "tenant (id or domain) is required");
    if ((user === undefined) === (app === undefined)) return refuse(400, "send exactly one of user (UPN or object id) or app (appId)");
    if ((user !== undefined && typeof user !== "string") || (app !== undefined && typeof app !== "string")) return refuse(400, "user and app are strings");
    if (typeof kind !== "string" || !(KINDS as readonly string[]).includes(kind)) return refuse(400, `kind must be one of ${KINDS.join(", ")}`);
    if (typeof required !== "boolean") return refuse(400, "required must be true or false");
    const found = await service.findTenant(tenant.trim());
    if (!found) return refuse(404, `no tenant '${tenant}'`);
    try {
      if (typeof user === "string") {
        const u = await service.findUser(user);
        if (!u || u.tenantId !== found.id) return refuse(404, `no user '${user}' in tenant '${tenant}'`);
      }
      const result = await service.setInteractionRequirement(typeof user === "string" ? { user } : { tenantId: found.id, appId: app as string }, kind as InteractionKind, required);
      request.log.info({ subjectId: result.subjectId, kind, required }, "interaction requirement set");
      return reply.send({ subjectId: result.subjectId, requirements: result.requirements.map((r) => ({ kind: r.kind, since: new Date(r.since).toISOString() })) });
    } catch (error) {
      if (error instanceof DirectoryError && error.status === 404) return refuse(404, error.message);
      throw error;
    }
  });
}
