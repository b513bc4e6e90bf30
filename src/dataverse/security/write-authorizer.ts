import type { WriteAuthorizer } from "../writer.ts";
import { assertPrivilege } from "./context.ts";

/**
 * The security model on the write path: the {@link WriteAuthorizer} behind `RecordWriter.authorize()`
 * (learn.microsoft.com/power-platform/admin/how-record-access-determined,
 * …/security-roles-privileges):
 *
 * - **Create**: `prvCreate{Entity}`; with the new row, its owner (user-owned tables) or business
 *   unit (business-owned) must be within the caller's Create depth.
 * - **Write / Delete / Assign / Share**: the privilege, and the existing record within its depth
 *   (ownership, business unit, sharing), the same rules as reads.
 * - **Append / AppendTo**: on the source and the target of every lookup set through `@odata.bind`
 *   or `$ref`, and Append on both records of an N:N link.
 *
 * The scope's security context is required; the org model's own writes carry
 * `SecurityContext.system(org, reason)`, whose checks all pass.
 * @throws DataverseError 403 `0x80040220` (privilege missing) or `0x80048306` (record out of reach).
 */
export const securityAuthorizer: WriteAuthorizer = async (scope, verb, entity, record) => {
  await assertPrivilege(scope.security.bind(scope.store), verb, entity, record);
};
