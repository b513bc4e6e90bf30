/**
 * Issue 5: a disabled systemuser is refused on its next request (403 0x80072560), and works
 * again once re-enabled. Disabling is done over the Web API by a System Administrator.
 */
import { describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import { api, appUser } from "../helpers/security.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

describe("disabled users", () => {
  const orgbox = useOrgbox();

  it("a disabled application user is refused, and accepted again when re-enabled", async () => {
    const o = orgbox();
    const org = (await o.dataverse.service.findOrg("contoso"))!;
    const sysadmin = (await o.dataverse.service.listRoles(org)).find((r) => r.name === "System Administrator")!;
    const admin = await appUser(o, org, "admin app", DEMO.org.rootBusinessUnitId, [sysadmin.id]);
    const worker = await appUser(o, org, "worker app", DEMO.org.rootBusinessUnitId, [DEMO.org.integrationRoleId]);
    expect((await api(o, worker.token, "GET", "WhoAmI")).status).toBe(200);

    expect((await api(o, admin.token, "PATCH", `systemusers(${worker.userId})`, { isdisabled: true })).status).toBe(204);
    const refused = await api(o, worker.token, "GET", "accounts?$select=name&$top=1");
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: "0x80072560", message: expect.stringMatching(/^The user is not a member of the organization\. The application user of application id '[0-9a-f-]+' in org 'contoso' is disabled/) });

    expect((await api(o, admin.token, "PATCH", `systemusers(${worker.userId})`, { isdisabled: false })).status).toBe(204);
    expect((await api(o, worker.token, "GET", "WhoAmI")).status).toBe(200);
  });
});
