import type { Org } from "../../src/dataverse/index.ts";
import type { OrgboxInstance } from "../../src/index.ts";
import { DEMO } from "../../src/server/demo.ts";
import { appUser } from "./security.ts";

/** What dynamics-web-api rejects with: the HTTP status and the Dataverse error message. */
export type DwaError = { status?: number; code?: string; message: string };

/** The error a dynamics-web-api call rejects with; throws when the call succeeds. */
export async function failure(promise: Promise<unknown>): Promise<DwaError> {
  try {
    await promise;
  } catch (error) {
    return error as DwaError;
  }
  throw new Error("expected the request to fail");
}

/** A token for a new application user of the demo org holding the root business unit's System Administrator role (as `createOrg` made it). */
export async function systemAdministratorToken(o: OrgboxInstance, name: string): Promise<string> {
  const org = (await o.dataverse.service.findOrg("contoso")) as Org;
  const admin = (await o.dataverse.service.listRoles(org)).find((r) => r.name === "System Administrator" && r.businessUnitId === DEMO.org.rootBusinessUnitId);
  if (!admin) throw new Error("the demo org has no System Administrator role");
  return (await appUser(o, org, name, DEMO.org.rootBusinessUnitId, [admin.id])).token;
}
