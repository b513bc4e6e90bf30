import { DataverseError } from "../errors.ts";

/** What the PrivilegeDenied message says about the principal. */
export interface PrincipalSummary {
  systemUserId: string;
  roleCount: number;
  privilegeCount: number;
  accessMode: number;
}

/**
 * 403 `0x80040220` PrivilegeDenied, in the shape Dataverse uses
 * (learn.microsoft.com/troubleshoot/power-platform/power-apps/dataverse/dataverse-client-errors):
 * `Principal user (Id=…, type=8, roleCount=…, privilegeCount=…, accessMode=…), is missing prvReadAccount
 * privilege (Id=…) on OTC=1 for entity 'account'. context.Caller=…`. Privileges not tied to a
 * table (`prvActOnBehalfOfAnotherUser`) name `OTC=0` and entity `''`.
 */
export function privilegeDenied(principal: PrincipalSummary, privilege: { name: string; id: string }, entity: { objectTypeCode: number; logicalName: string } | undefined, contextCaller: string): DataverseError {
  const otc = entity?.objectTypeCode ?? 0;
  const name = entity?.logicalName ?? "";
  return new DataverseError(
    403,
    "0x80040220",
    `Principal user (Id=${principal.systemUserId}, type=8, roleCount=${principal.roleCount}, privilegeCount=${principal.privilegeCount}, accessMode=${principal.accessMode}), is missing ${privilege.name} privilege (Id=${privilege.id}) on OTC=${otc} for entity '${name}'. context.Caller=${contextCaller}`,
  );
}

/**
 * 403 `0x80048306`: the privilege is held but not at a depth that reaches the record
 * (same troubleshooting page): `Principal with id … does not have ReadAccess right(s) for
 * record with id … of entity account.`
 */
export function accessDenied(systemUserId: string, right: string, recordId: string, entity: string): DataverseError {
  return new DataverseError(403, "0x80048306", `Principal with id ${systemUserId} does not have ${right}Access right(s) for record with id ${recordId} of entity ${entity}.`);
}
