import { OrgboxError } from "../common/errors.ts";

/**
 * Why the org model refused an operation. The Web API maps each reason to its Dataverse code in one
 * table (`errors.ts` {@link import("./errors.ts").toDataverseError}); other surfaces (CLI, environment
 * files) print the message.
 * - `refused`: a rule of the model (default; 0x80040203 on the wire)
 * - `notFound`: a referenced row or definition does not exist (0x80040217)
 * - `duplicate`: a name or key is taken (0x80040237)
 * - `invalidDefinition`: a metadata definition breaks a rule (0x80044331)
 * - `dependency`: other components still refer to what is being deleted (0x8004f01f)
 */
export type ModelErrorReason = "refused" | "notFound" | "duplicate" | "invalidDefinition" | "dependency";

/** An operation refused by the org model (duplicate, missing reference, invalid definition). */
export class OrgModelError extends OrgboxError {
  readonly reason: ModelErrorReason;
  /**
   * @param status HTTP status a surface answers with (400 unless given).
   * @param reason why; by default derived from `status` (404 → `notFound`, 412 → `duplicate`, else `refused`).
   */
  constructor(message: string, status = 400, reason?: ModelErrorReason) {
    super(status, message);
    this.reason = reason ?? (status === 404 ? "notFound" : status === 412 ? "duplicate" : "refused");
  }
}
