/**
 * Graph `groups` (security groups) and `members` with the real @microsoft/microsoft-graph-client and
 * plain fetch: create, get, list, PATCH, delete, members list, `$ref` add (Graph's and orgbox's base
 * URL) and remove, user memberOf; 403 without GroupMember/Group permission or group admin role; tenant isolation.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import { MICROSOFT_GRAPH_APP_ID } from "../../src/identity/index.ts";
import { graph, graphToken } from "../helpers/graph.ts";
import { delegatedGraphToken, graphClient, registerGraphPublicClient } from "../helpers/graph-directory.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const PASSWORD = "Str0ng!Passw0rd";

describe("Graph groups", () => {
  const orgbox = useOrgbox();
  beforeAll(async () => registerGraphPublicClient(orgbox()));

  it("microsoft-graph-client: create a security group, get, list with $filter, PATCH displayName, members $ref add/list/remove, delete", async () => {
    const o = orgbox();
    const client = graphClient(o, await graphToken(o));
    const group = (await client.api("/groups").post({ displayName: "Sales", mailEnabled: false, mailNickname: "sales", securityEnabled: true })) as Record<string, unknown>;
    expect(group).toMatchObject({ displayName: "Sales", mailEnabled: false, mailNickname: "sales", securityEnabled: true, groupTypes: [] });
    const id = group.id as string;
    expect(await client.api(`/groups/${id}`).get()).toMatchObject({ id, displayName: "Sales" });
    expect(((await client.api("/groups").filter("displayName eq 'sales'").get()) as { value: { id: string }[] }).value.map((g) => g.id)).toEqual([id]);
    await client.api(`/groups/${id}`).patch({ displayName: "Sales EMEA" });
    expect(((await client.api(`/groups/${id}`).get()) as Record<string, unknown>).displayName).toBe("Sales EMEA");

    await client.api(`/groups/${id}/members/$ref`).post({ "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${DEMO.admin.id}` });
    const members = (await client.api(`/groups/${id}/members`).get()) as { value: Record<string, unknown>[] };
    expect(members.value.map((m) => [m["@odata.type"], m.id])).toEqual([["#microsoft.graph.user", DEMO.admin.id]]);
    await expect(client.api(`/groups/${id}/members/$ref`).post({ "@odata.id": `${o.url}/graph/v1.0/directoryObjects/${DEMO.admin.id}` })).rejects.toMatchObject({ statusCode: 400, message: "One or more added object references already exist for the following modified properties: 'members'." });
    const memberOf = (await client.api(`/users/${DEMO.admin.id}/memberOf`).get()) as { value: Record<string, unknown>[] };
    expect(memberOf.value.some((m) => m.id === id)).toBe(true);
    // Group membership is live in group claims' source.
    expect(await o.identity.directory.listMemberGroupIds(DEMO.admin.id)).toContain(id);
    await client.api(`/groups/${id}/members/${DEMO.admin.id}/$ref`).delete();
    expect(((await client.api(`/groups/${id}/members`).get()) as { value: unknown[] }).value).toEqual([]);
    await expect(client.api(`/groups/${id}/members/${DEMO.admin.id}/$ref`).delete()).rejects.toMatchObject({ statusCode: 404 });

    await client.api(`/groups/${id}`).delete();
    await expect(client.api(`/groups/${id}`).get()).rejects.toMatchObject({ statusCode: 404, code: "Request_ResourceNotFound" });
  });

  it("orgbox's own base URL in @odata.id; bad bodies are 400; unknown member is 404; Microsoft 365 groups are refused by name", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    const group = await graph(o, token, "POST", "groups", { displayName: "Refs", mailEnabled: false, mailNickname: "refs", securityEnabled: true });
    expect(group.status).toBe(201);
    const id = group.body.id as string;
    expect((await graph(o, token, "POST", `groups/${id}/members/$ref`, { "@odata.id": `${o.url}/graph/v1.0/users/${DEMO.admin.id}` })).status).toBe(204);
    expect((await graph(o, token, "POST", `groups/${id}/members/$ref`, { id: DEMO.admin.id })).body.error?.code).toBe("Request_BadRequest");
    expect((await graph(o, token, "POST", `groups/${id}/members/$ref`, { "@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/00000000-0000-4000-8000-000000000099" })).status).toBe(404);
    const unified = await graph(o, token, "POST", "groups", { displayName: "M365", mailEnabled: true, mailNickname: "m365", securityEnabled: false, groupTypes: ["Unified"] });
    expect(unified.status).toBe(400);
    expect(unified.body.error?.message).toContain("groupTypes");
    expect((await graph(o, token, "POST", "groups", { displayName: "No alias", mailEnabled: false, securityEnabled: true })).body.error?.message).toContain("mailNickname");
    expect((await graph(o, token, "PATCH", `groups/${id}`, { nope: true })).status).toBe(400);
  });

  it("403: an app without group permissions, a delegated user without a group admin role; tenant B sees 404", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    const group = await graph(o, token, "POST", "groups", { displayName: "Guarded", mailEnabled: false, mailNickname: "guarded", securityEnabled: true });
    const id = group.body.id as string;
    expect((await graph(o, await graphToken(o, DEMO.app.clientId, DEMO.app.clientSecret), "GET", "groups")).status).toBe(403);
    await o.identity.service.createUser({ tenantId: o.tenantId, userPrincipalName: `member@${DEMO.tenantDomain}`, displayName: "Member", password: PASSWORD });
    const userToken = await delegatedGraphToken(o, `member@${DEMO.tenantDomain}`, PASSWORD, ["GroupMember.ReadWrite.All"]);
    expect((await graph(o, userToken, "GET", `groups/${id}/members`)).status).toBe(200);
    const denied = await graph(o, userToken, "POST", `groups/${id}/members/$ref`, { "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${DEMO.admin.id}` });
    expect(denied.status).toBe(403);
    expect(denied.body.error?.code).toBe("Authorization_RequestDenied");
    expect((await graph(o, userToken, "DELETE", `groups/${id}`)).status).toBe(403);

    const { service } = o.identity;
    const tenantB = await service.createTenant({ displayName: "Other", defaultDomain: "other-groups.onmicrosoft.com" });
    const { application } = await service.registerApplication({ tenantId: tenantB.id, displayName: "B groups" });
    const secret = await service.addPassword({ appId: application.appId });
    await service.grantApplicationPermissions({ tenantId: tenantB.id, clientAppId: application.appId, resourceAppId: MICROSOFT_GRAPH_APP_ID, roles: ["Group.ReadWrite.All", "GroupMember.ReadWrite.All"] });
    const tokenB = await graphToken(o, application.appId, secret.secretText, tenantB.id);
    expect((await graph(o, tokenB, "GET", `groups/${id}`)).status).toBe(404);
    expect((await graph(o, tokenB, "GET", `groups/${id}/members`)).status).toBe(404);
    expect((await graph(o, tokenB, "DELETE", `groups/${id}`)).status).toBe(404);
    expect((await graph(o, tokenB, "GET", "groups")).body.value).toEqual([]);
  });

  it("paging groups with $top and $orderby returns every group once; $count with ConsistencyLevel", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    for (let i = 0; i < 5; i++) expect((await graph(o, token, "POST", "groups", { displayName: `Page ${i}`, mailEnabled: false, mailNickname: `page${i}`, securityEnabled: true })).status).toBe(201);
    const seen: string[] = [];
    let next: string | undefined = "groups?$top=2&$orderby=displayName&$select=id,displayName";
    while (next) {
      const page = await graph(o, token, "GET", next);
      for (const g of page.body.value ?? []) seen.push(g.displayName as string);
      next = page.body["@odata.nextLink"] as string | undefined;
    }
    expect(seen.filter((n) => n.startsWith("Page "))).toEqual(["Page 0", "Page 1", "Page 2", "Page 3", "Page 4"]);
    expect(new Set(seen).size).toBe(seen.length);
    const counted = await graph(o, token, "GET", "groups?$filter=startswith(displayName,'page')&$count=true", undefined, { ConsistencyLevel: "eventual" });
    expect(counted.body["@odata.count"]).toBe(5);
  });
});
