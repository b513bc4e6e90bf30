/**
 * Graph `$expand` on directory objects, with the real @microsoft/microsoft-graph-client (`.expand()`,
 * `.select()`) and plain fetch: applications → owners, groups → members, users → memberOf; a nested
 * `$select`; `@odata.context`; Graph's refusals (two navigation properties, a property that is not a
 * navigation, nested `$filter`, `$expand` where the request has none).
 */
import { describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import { MICROSOFT_GRAPH_APP_ID } from "../../src/identity/index.ts";
import { graph, graphToken } from "../helpers/graph.ts";
import { graphClient } from "../helpers/graph-directory.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

describe("Graph $expand", () => {
  const orgbox = useOrgbox();

  it("applications?$expand=owners, groups/{id}?$expand=members($select=…), users/{id}?$expand=memberOf, with the Graph client", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    const client = graphClient(o, token);
    const app = (await client.api("/applications").post({ displayName: "Expand me" })) as Record<string, unknown>;
    await client.api(`/applications/${app.id as string}/owners/$ref`).post({ "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${DEMO.admin.id}` });
    const withOwners = (await client.api(`/applications/${app.id as string}`).expand("owners").get()) as Record<string, unknown>;
    expect(withOwners.displayName).toBe("Expand me");
    expect((withOwners.owners as Record<string, unknown>[]).map((x) => [x["@odata.type"], x.id])).toEqual([["#microsoft.graph.user", DEMO.admin.id]]);
    expect(withOwners["@odata.context"]).toBe(`${o.url}/graph/v1.0/$metadata#applications(owners())/$entity`);
    const listed = (await client.api("/applications").filter(`appId eq '${app.appId as string}'`).select(["id", "displayName"]).expand("owners($select=id,userPrincipalName)").get()) as { value: Record<string, unknown>[] };
    expect(listed.value).toEqual([{ id: app.id, displayName: "Expand me", owners: [{ "@odata.type": "#microsoft.graph.user", id: DEMO.admin.id, userPrincipalName: DEMO.admin.username }] }]);

    const group = (await client.api("/groups").post({ displayName: "Expanded", mailEnabled: false, mailNickname: "expanded", securityEnabled: true })) as Record<string, unknown>;
    await client.api(`/groups/${group.id as string}/members/$ref`).post({ "@odata.id": `https://graph.microsoft.com/v1.0/directoryObjects/${DEMO.admin.id}` });
    const withMembers = (await client.api(`/groups/${group.id as string}`).expand("members($select=id,displayName)").get()) as Record<string, unknown>;
    expect(withMembers.members).toEqual([{ "@odata.type": "#microsoft.graph.user", id: DEMO.admin.id, displayName: expect.any(String) }]);

    const user = await graph(o, token, "GET", `users/${DEMO.admin.id}?$select=id&$expand=memberOf`);
    expect(user.status).toBe(200);
    expect(Object.keys(user.body).sort()).toEqual(["@odata.context", "id", "memberOf"]);
    expect((user.body.memberOf as Record<string, unknown>[]).some((m) => m.id === group.id && m["@odata.type"] === "#microsoft.graph.group")).toBe(true);
    expect(user.body["@odata.context"]).toBe(`${o.url}/graph/v1.0/$metadata#users(id,memberOf())/$entity`);
  });

  it("refuses what Graph refuses, in Graph's error shape", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    const two = await graph(o, token, "GET", "groups?$expand=members,owners");
    expect(two.status).toBe(400);
    expect(two.body.error?.code).toBe("Request_UnsupportedQuery");
    const notNavigation = await graph(o, token, "GET", "groups?$expand=displayName");
    expect(notNavigation.status).toBe(400);
    expect(notNavigation.body.error?.code).toBe("Request_BadRequest");
    expect(notNavigation.body.error?.message).toContain("members");
    const nestedFilter = await graph(o, token, "GET", "groups?$expand=members($filter=id eq 'x')");
    expect(nestedFilter.status).toBe(400);
    expect(nestedFilter.body.error?.code).toBe("Request_UnsupportedQuery");
    const nestedUnknown = await graph(o, token, "GET", "applications?$expand=owners($select=nope)");
    expect(nestedUnknown.status).toBe(400);
    expect(nestedUnknown.body.error?.message).toContain("'nope'");
    const none = await graph(o, token, "GET", "organization?$expand=members");
    expect(none.status).toBe(400);
    expect(none.body.error?.code).toBe("Request_UnsupportedQuery");
  });

  it("an expanded navigation follows the caller's tenant: another tenant's token cannot expand Contoso's objects", async () => {
    const o = orgbox();
    const contoso = await graphToken(o);
    const group = await graph(o, contoso, "POST", "groups", { displayName: "Private", mailEnabled: false, mailNickname: "private", securityEnabled: true });
    expect(group.status).toBe(201);
    const others = o.identity.service;
    const tenantId = "e1e10000-0000-4000-8000-00000000e1e1";
    await others.createTenant({ id: tenantId, displayName: "Elsewhere", defaultDomain: "elsewhere.onmicrosoft.com" });
    const appId = "e1e10000-0000-4000-8000-00000000e1a1";
    await others.registerApplication({ tenantId, appId, displayName: "Elsewhere Graph" });
    await others.grantApplicationPermissions({ tenantId, clientAppId: appId, resourceAppId: MICROSOFT_GRAPH_APP_ID, roles: ["Directory.Read.All"] });
    const secret = (await others.addPassword({ appId })).secretText;
    const elsewhere = await graphToken(o, appId, secret, tenantId);
    expect((await graph(o, elsewhere, "GET", `groups/${group.body.id as string}?$expand=members`)).status).toBe(404);
    const list = await graph(o, elsewhere, "GET", "groups?$expand=members");
    expect(list.status).toBe(200);
    expect(list.body.value).toEqual([]);
  });
});
