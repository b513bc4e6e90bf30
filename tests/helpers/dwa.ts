import { DynamicsWebApi } from "dynamics-web-api";
import { beforeAll } from "vitest";
import type { Org } from "../../src/dataverse/index.ts";
import type { OrgboxInstance } from "../../src/index.ts";
import { DEMO, SAMPLE_ACCOUNTS, sampleId } from "../../src/server/demo.ts";
import { demoToken, useOrgbox } from "./orgbox.ts";
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

/** The demo org's seeded accounts with the values `src/server/seed.ts` gives them (what tests compare query results with). */
export const SEEDED_ACCOUNTS = SAMPLE_ACCOUNTS.map((name, i) => ({
  accountid: sampleId(1, i),
  name,
  revenue: 100000 * (i + 1),
  numberofemployees: 10 * (i + 3),
  industrycode: [1, 7, 13, 25, 33, 27, 31][i % 7] as number,
  creditonhold: i % 5 === 0,
  address1_city: ["Seattle", "Redmond", "London", "Paris", "Berlin", "Sydney", "Toronto", "Tokyo"][i % 8] as string,
}));

/**
 * A fresh orgbox for the test file and a dynamics-web-api client of its demo app (client credentials,
 * seed 001): getters, valid once `beforeAll` ran.
 */
export function useDemoClient(): { orgbox: () => OrgboxInstance; dwa: () => DynamicsWebApi; token: () => string } {
  const orgbox = useOrgbox();
  let client: DynamicsWebApi | undefined;
  let bearer = "";
  beforeAll(async () => {
    bearer = await demoToken(orgbox());
    client = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => bearer });
  });
  return {
    orgbox,
    dwa: () => {
      if (!client) throw new Error("the client exists only after beforeAll");
      return client;
    },
    token: () => bearer,
  };
}
