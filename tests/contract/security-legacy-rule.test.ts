/**
 * Issue 5: the legacy rule "an application user cannot hold a default security role"
 * is a config switch (`legacyApplicationUserRule`, default off), enforced on the
 * Web API association `systemusers(id)/systemuserroles_association/$ref`.
 */
import { describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import type { OrgboxInstance } from "../../src/index.ts";
import { api, appUser } from "../helpers/security.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

async function associateSystemAdministrator(o: OrgboxInstance): Promise<{ status: number; message: string | undefined; target: string }> {
  const org = (await o.dataverse.service.findOrg("contoso"))!;
  const bu = DEMO.org.rootBusinessUnitId;
  const verbs = ["Read", "Write", "Append", "AppendTo"];
  const adminRole = await o.dataverse.service.createRole(org, { name: "Provisioner", businessUnitId: bu, privileges: verbs.flatMap((v) => [`prv${v}User`, `prv${v}Role`]).map((name) => ({ name, depth: "Global" as const })) });
  const provisioner = await appUser(o, org, "provisioner", bu, [adminRole]);
  const target = await appUser(o, org, "integration", bu, [DEMO.org.integrationRoleId]);
  const roles = await api(o, provisioner.token, "GET", "roles?$select=roleid&$filter=name eq 'System Administrator'");
  const roleId = (roles.body.value as { roleid: string }[])[0]?.roleid as string;
  const res = await api(o, provisioner.token, "POST", `systemusers(${target.userId})/systemuserroles_association/$ref`, { "@odata.id": `${o.apiUrl}/roles(${roleId})` });
  return { status: res.status, message: res.body.error?.message, target: target.userId };
}

describe("legacy application-user rule, switched on", () => {
  const orgbox = useOrgbox({ legacyApplicationUserRule: true });

  it("refuses System Administrator for an application user with Dataverse's message", async () => {
    const { status, message, target } = await associateSystemAdministrator(orgbox());
    expect(status).toBe(400);
    expect(message).toBe(`The application user ${target} cannot be associated with the default security role 'System Administrator'. You must create a custom security role.`);
  });
});

describe("legacy application-user rule, default (off)", () => {
  const orgbox = useOrgbox();

  it("lets an application user hold System Administrator, as current Dataverse does", async () => {
    const { status } = await associateSystemAdministrator(orgbox());
    expect(status).toBe(204);
  });
});
