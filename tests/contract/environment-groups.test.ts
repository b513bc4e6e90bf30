/**
 * Environment files with groups and app assignments: `tenants[].groups` and
 * `apps[].assignmentRequired` / `assignments` apply (the gate works against
 * ROPC), export writes them back, and the exported file loads to the same gate.
 */
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportEnvironment, PASSWORD_PLACEHOLDER } from "../../src/environment/export.ts";
import { validateEnvironment } from "../../src/environment/load.ts";
import { EnvironmentError, startOrgbox, type OrgboxEnvironment, type OrgboxInstance } from "../../src/index.ts";

const TENANT = "9a000000-0000-4000-8000-000000000001";
const DOMAIN = "groups-env.onmicrosoft.com";
const GATED = "9a000000-0000-4000-8000-00000000a001";
const API = "9a000000-0000-4000-8000-00000000a002";
const SALES = "9a000000-0000-4000-8000-00000000b001";
const PASSWORD = "groups-Env-1";
const user = (name: string) => ({ userPrincipalName: `${name}@${DOMAIN}`, password: PASSWORD });

const ENV: OrgboxEnvironment = {
  tenants: [
    {
      id: TENANT,
      displayName: "Groups env",
      domains: [DOMAIN],
      users: [user("alice"), user("bob"), user("carol")],
      groups: [
        { id: SALES, displayName: "Sales", members: [`bob@${DOMAIN}`] },
        { displayName: "Everyone else", members: [`carol@${DOMAIN}`, `alice@${DOMAIN}`] },
      ],
    },
  ],
  apps: [
    { appId: API, displayName: "Env API", tenant: DOMAIN, identifierUris: ["api://groups-env"], accessTokenAcceptedVersion: 2 },
    {
      appId: GATED,
      displayName: "Env gated app",
      tenant: DOMAIN,
      publicClient: true,
      groupMembershipClaims: "SecurityGroup",
      apiPermissions: [{ resource: "Microsoft Graph", scopes: ["User.Read"] }],
      consentedTenants: [{ tenant: DOMAIN }],
      assignmentRequired: true,
      assignments: [`alice@${DOMAIN}`, "Sales"],
    },
  ],
};

async function ropc(o: OrgboxInstance, name: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${o.url}/${TENANT}/oauth2/v2.0/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", client_id: GATED, username: `${name}@${DOMAIN}`, password: PASSWORD, scope: "User.Read openid" }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The export with the password placeholders put back. */
function withPasswords(environment: OrgboxEnvironment): OrgboxEnvironment {
  const text = JSON.stringify(environment).replaceAll(PASSWORD_PLACEHOLDER, PASSWORD);
  return JSON.parse(text) as OrgboxEnvironment;
}

describe("environment file: groups and assignments", () => {
  let first: OrgboxInstance;
  let second: OrgboxInstance | undefined;
  beforeAll(async () => {
    first = await startOrgbox({ environment: ENV });
  });
  afterAll(async () => {
    await first.close();
    await second?.close();
  });

  it("applies: groups with members, assignment required with a user and a group, groups claim, v2 API", async () => {
    const groups = await first.identity.service.listGroups(TENANT);
    expect(groups.map((g) => [g.displayName, g.members.length])).toEqual([["Everyone else", 2], ["Sales", 1]]);
    expect((await ropc(first, "carol")).body.error_codes).toEqual([50105]);
    expect((await ropc(first, "alice")).status).toBe(200);
    const bob = await ropc(first, "bob");
    expect(bob.status).toBe(200);
    expect(decodeJwt(bob.body.access_token as string).groups).toEqual([SALES]);
    expect((await first.identity.service.findApplication(API))?.api.requestedAccessTokenVersion).toBe(2);
  });

  it("export writes groups and assignments back; the exported file loads to the same directory", async () => {
    const exported = await exportEnvironment(first.identity.service, first.dataverse.service);
    const tenant = exported.environment.tenants?.[0];
    expect(tenant?.groups).toEqual([
      { id: expect.any(String), displayName: "Everyone else", members: [`alice@${DOMAIN}`, `carol@${DOMAIN}`] },
      { id: SALES, displayName: "Sales", members: [`bob@${DOMAIN}`] },
    ]);
    const gated = exported.environment.apps?.find((a) => a.appId === GATED);
    expect(gated).toMatchObject({ assignmentRequired: true, assignments: [`alice@${DOMAIN}`, "Sales"], groupMembershipClaims: "SecurityGroup" });
    expect(exported.environment.apps?.find((a) => a.appId === API)).toMatchObject({ accessTokenAcceptedVersion: 2 });

    second = await startOrgbox({ environment: withPasswords(exported.environment) });
    expect((await ropc(second, "carol")).body.error_codes).toEqual([50105]);
    expect((await ropc(second, "bob")).status).toBe(200);
    const again = await exportEnvironment(second.identity.service, second.dataverse.service);
    expect(again.environment.tenants).toEqual(exported.environment.tenants);
    expect(again.environment.apps).toEqual(exported.environment.apps);
  });

  it("rejects unknown members, unknown assignees and duplicate group names, naming the path", () => {
    const bad: OrgboxEnvironment = {
      tenants: [{ ...ENV.tenants![0]!, groups: [{ displayName: "Sales", members: [`nobody@${DOMAIN}`] }, { displayName: "sales" }] }],
      apps: [{ displayName: "Bad", tenant: DOMAIN, assignments: ["Marketing", `ghost@${DOMAIN}`] }],
    };
    let error: unknown;
    try {
      validateEnvironment(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EnvironmentError);
    const message = (error as Error).message;
    expect(message).toContain(`tenants[0].groups[0].members[0]: no user 'nobody@${DOMAIN}' in this tenant`);
    expect(message).toContain("tenants[0].groups[1].displayName: duplicate group 'sales' in this tenant");
    expect(message).toContain("apps[0].assignments[0]: no user or group 'Marketing'");
    expect(message).toContain(`apps[0].assignments[1]: no user or group 'ghost@${DOMAIN}'`);
  });
});
