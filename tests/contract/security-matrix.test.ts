/**
 * Issue 5 proof: depth × operation × ownership. For Read (collection and single record,
 * see security-model.test.ts), Write (PATCH) and Delete (DELETE), each depth
 * (Basic/Local/Deep/Global) against records that are the caller's own, in the caller's
 * business unit, in a child unit, in another unit, owned by one of the caller's teams,
 * or shared with the caller: the expected allow or deny.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";
import { appUser } from "../helpers/security.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

type Owner = "own" | "sameBu" | "childBu" | "otherBu" | "team" | "shared";
type Depth = "Basic" | "Local" | "Deep" | "Global";
const OWNERS: Owner[] = ["own", "sameBu", "childBu", "otherBu", "team", "shared"];
/** Which owners each depth reaches; team-owned and shared records are reachable at any depth. */
const REACH: Record<Depth, Owner[]> = {
  Basic: ["own", "team", "shared"],
  Local: ["own", "sameBu", "team", "shared"],
  Deep: ["own", "sameBu", "childBu", "team", "shared"],
  Global: OWNERS,
};
/** AccessRights: ReadAccess | WriteAccess | DeleteAccess. */
const SHARE_MASK = 1 | 2 | 65536;

describe("write and delete access by depth × ownership", () => {
  const orgbox = useOrgbox();
  let org: Org;
  const people: Record<"sameBu" | "childBu" | "otherBu", { id: string; bu: string }> = { sameBu: { id: "", bu: "" }, childBu: { id: "", bu: "" }, otherBu: { id: "", bu: "" } };
  let teamId = "";
  let serviceBu = "";

  beforeAll(async () => {
    const o = orgbox();
    org = (await o.dataverse.service.findOrg("contoso"))!;
    const svc = o.dataverse.service;
    const sales = await svc.createBusinessUnit(org, { name: "Sales", parentBusinessUnitId: DEMO.org.rootBusinessUnitId });
    const west = await svc.createBusinessUnit(org, { name: "Sales West", parentBusinessUnitId: sales.businessUnitId });
    const service = await svc.createBusinessUnit(org, { name: "Service", parentBusinessUnitId: DEMO.org.rootBusinessUnitId });
    serviceBu = service.businessUnitId;
    people.sameBu = { id: await svc.createSystemUser(org, { businessUnitId: sales.businessUnitId, lastName: "Colleague" }), bu: sales.businessUnitId };
    people.childBu = { id: await svc.createSystemUser(org, { businessUnitId: west.businessUnitId, lastName: "West" }), bu: west.businessUnitId };
    people.otherBu = { id: await svc.createSystemUser(org, { businessUnitId: service.businessUnitId, lastName: "Service" }), bu: service.businessUnitId };
    teamId = await svc.createTeam(org, { name: "Key accounts", businessUnitId: service.businessUnitId });
    salesBu = sales.businessUnitId;
  });
  let salesBu = "";

  /** A fresh account owned as `owner` says, for the caller `me` in the Sales unit. */
  async function record(owner: Owner, me: string): Promise<string> {
    const svc = orgbox().dataverse.service;
    if (owner === "own") return svc.insert(org, "account", { name: "Mine" }, me, { id: me, businessUnitId: salesBu });
    if (owner === "team") return svc.insert(org, "account", { name: "Team's", ownerid: teamId, owneridtype: "team", owningteam: teamId, owninguser: null }, me, { id: teamId, businessUnitId: serviceBu });
    const person = owner === "shared" ? people.otherBu : people[owner];
    const id = await svc.insert(org, "account", { name: `${owner}'s` }, person.id, { id: person.id, businessUnitId: person.bu });
    if (owner === "shared") {
      await svc.insert(org, "principalobjectaccess", { objectid: id, objecttypecode: "account", principalid: me, principaltypecode: "systemuser", accessrightsmask: SHARE_MASK, inheritedaccessrightsmask: 0 });
    }
    return id;
  }

  it.each(["Basic", "Local", "Deep", "Global"] as const)("%s", async (depth) => {
    const o = orgbox();
    const svc = o.dataverse.service;
    const role = await svc.createRole(org, {
      name: `Account editor ${depth}`,
      businessUnitId: DEMO.org.rootBusinessUnitId,
      privileges: (["Read", "Write", "Delete"] as const).map((verb) => ({ name: `prv${verb}Account`, depth })),
    });
    const me = await appUser(o, org, `matrix ${depth}`, salesBu, [role]);
    await svc.addTeamMembers(org, teamId, [me.userId]);
    const call = (method: string, id: string, body?: unknown) =>
      fetch(`${o.apiUrl}/accounts(${id})`, { method, headers: { authorization: `Bearer ${me.token}`, "content-type": "application/json", "if-match": "*" }, ...(body ? { body: JSON.stringify(body) } : {}) });

    for (const owner of OWNERS) {
      const allowed = REACH[depth].includes(owner);
      const writeTarget = await record(owner, me.userId);
      const write = await call("PATCH", writeTarget, { telephone1: "+1 555 0199" });
      expect(write.status, `${depth} Write ${owner}`).toBe(allowed ? 204 : 403);
      if (!allowed) expect(((await write.json()) as { error: { code: string } }).error.code, `${depth} Write ${owner}`).toBe("0x80048306");

      const deleteTarget = await record(owner, me.userId);
      const del = await call("DELETE", deleteTarget);
      expect(del.status, `${depth} Delete ${owner}`).toBe(allowed ? 204 : 403);
      if (!allowed) expect(((await del.json()) as { error: { code: string } }).error.code, `${depth} Delete ${owner}`).toBe("0x80048306");
      const after = await fetch(`${o.apiUrl}/accounts(${deleteTarget})`, { headers: { authorization: `Bearer ${me.token}` } });
      if (allowed) expect(after.status, `${depth} deleted ${owner}`).toBe(404);
    }
  });
});
