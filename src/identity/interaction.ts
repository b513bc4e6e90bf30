/**
 * orgbox's "require MFA" switch: an interaction requirement on a user (Graph
 * `PATCH /users/{id}/authentication/requirements` `{"perUserMfaState": "enforced"}`, as per-user MFA
 * is set in Entra: learn.microsoft.com/graph/api/authentication-update, beta) or on a client app's
 * service principal (`POST /_orgbox/interaction-requirements`, `orgbox app require-mfa`), standing
 * for a Conditional Access policy. From the moment it is set, every sign-in authenticated before it
 * (a refresh-token chain, a browser session) must pass the sign-in page's extra step once: the next
 * refresh answers as Entra does (learn.microsoft.com/entra/identity-platform/reference-error-codes):
 *
 * - `mfa`: AADSTS50076 (UserStrongAuthClientAuthNRequired), `error` `interaction_required`;
 * - `mfaRegistration`: AADSTS50079 (UserStrongAuthEnrollmentRequired), `error` `invalid_grant`;
 *
 * both with `suberror` `basic_action` (MSAL maps it to InteractionRequiredAuthError). ROPC cannot pass
 * the step: it fails while the requirement is set, as Entra's ROPC does under MFA.
 */
import { aad, type AadError } from "./errors.ts";
import type { InteractionKind, InteractionRequirement, InteractionRequirementStore } from "./store.ts";

/** The kinds, in the order the sign-in page asks for them (registration first). */
export const INTERACTION_KINDS: readonly InteractionKind[] = ["mfaRegistration", "mfa"];

/**
 * The requirement a sign-in still has to satisfy: one on the user or on the client's service
 * principal set after `authTime` (ms), or any of them when `authTime` is undefined (a grant that can
 * never interact, ROPC). Undefined when none is pending.
 */
export async function pendingInteraction(store: Pick<InteractionRequirementStore, "findInteractionRequirements">, subjects: { userId: string; servicePrincipalId?: string | undefined }, authTime: number | undefined): Promise<InteractionRequirement | undefined> {
  const ids = [subjects.userId, ...(subjects.servicePrincipalId ? [subjects.servicePrincipalId] : [])];
  const found = await store.findInteractionRequirements(ids);
  const pending = found.filter((r) => authTime === undefined || r.since > authTime);
  return INTERACTION_KINDS.map((kind) => pending.find((r) => r.kind === kind)).find((r) => r !== undefined);
}

/** The token endpoint's answer to a pending requirement, naming the resource's app id as Entra does. */
export function interactionRequiredError(requirement: Pick<InteractionRequirement, "kind">, resourceAppId: string): AadError {
  return requirement.kind === "mfaRegistration" ? aad.mfaRegistrationRequired(resourceAppId) : aad.mfaRequired(resourceAppId);
}
