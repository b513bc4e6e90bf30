import { DIRECTORY_ROLE_TEMPLATES } from "../../identity/index.ts";
import type { GraphContext, GraphResult } from "../context.ts";
import { filled } from "../context.ts";
import { graphError } from "../errors.ts";
import type { GraphOperation, GraphResourceModule, PermissionPolicy } from "../registry.ts";
import { findUser, isObject } from "./directory-common.ts";

/**
 * Per-user MFA, Graph's `strongAuthenticationRequirements` (learn.microsoft.com/graph/api/authentication-get
 * and authentication-update, beta; also served on v1.0): `GET /users/{id}/authentication/requirements` →
 * `{perUserMfaState}`, `PATCH` with `{"perUserMfaState": "enforced" | "enabled" | "disabled"}` (204).
 * `enforced` and `enabled` set orgbox's `mfa` interaction requirement on the user (identity's
 * `interaction.ts`): refresh-token chains and browser sessions from before it answer AADSTS50076 until the
 * user passes the sign-in page's (simulated) MFA step; `disabled` clears it. orgbox keeps one state:
 * `enabled` reads back as `enforced`.
 */

const STATES = ["disabled", "enabled", "enforced"] as const;

/** Graph documents Policy.ReadWrite.AuthenticationMethod; orgbox's Graph app does not model it (README "Differences from the cloud"). */
const POLICY: PermissionPolicy = {
  application: ["User.ReadWrite.All", "Directory.ReadWrite.All"],
  delegated: ["User.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"],
  directoryRoles: [DIRECTORY_ROLE_TEMPLATES.globalAdministrator],
};

const READ: PermissionPolicy = {
  application: ["User.Read.All", ...POLICY.application],
  delegated: ["User.Read.All", ...POLICY.delegated],
};

const keyOf = (x: GraphContext): string => filled(x.params?.id, "id").value;

const get: GraphOperation = {
  name: "user: authentication requirements",
  method: "GET",
  path: "users/{id}/authentication/requirements",
  policy: READ,
  async handle(x): Promise<GraphResult> {
    const user = await findUser(x, keyOf(x));
    const requirements = await x.deps.service.interactionRequirements(user.id);
    const state = requirements.some((r) => r.kind === "mfa") ? "enforced" : "disabled";
    return { kind: "entity", context: `users('${user.id}')/authentication/requirements/$entity`, value: { perUserMfaState: state } };
  },
};

const update: GraphOperation = {
  name: "user: update authentication requirements",
  method: "PATCH",
  path: "users/{id}/authentication/requirements",
  policy: POLICY,
  async handle(x): Promise<GraphResult> {
    const user = await findUser(x, keyOf(x));
    const body = x.http.body;
    if (!isObject(body)) throw graphError.badRequest("A JSON object is expected as the request body.");
    const unknown = Object.keys(body).filter((k) => k !== "perUserMfaState" && k !== "@odata.type");
    if (unknown.length > 0) throw graphError.badRequest(`Property '${unknown[0] as string}' does not exist on type 'microsoft.graph.strongAuthenticationRequirements'. Make sure to only use property names that are defined by the type.`);
    const state = body.perUserMfaState;
    if (typeof state !== "string" || !(STATES as readonly string[]).includes(state)) throw graphError.badRequest(`Invalid value for property 'perUserMfaState': use ${STATES.join(", ")}.`);
    await x.deps.service.setInteractionRequirement({ user: user.id }, "mfa", state !== "disabled");
    return { kind: "empty" };
  },
};

/** The per-user MFA module (`users/{id}/authentication/requirements`). */
export const authenticationRequirementsModule: GraphResourceModule = {
  name: "authentication requirements",
  operations: [get, update],
};
