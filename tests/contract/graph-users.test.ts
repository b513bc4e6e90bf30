/**
 * Graph `users` and `me` with the real @microsoft/microsoft-graph-client and plain fetch: create (verified
 * domain, password rules), get by id and UPN, PATCH, delete, revokeSignInSessions, memberOf, OData
 * paging; every change live on the token endpoint (ROPC and refresh); authorization and tenant isolation.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import { MICROSOFT_GRAPH_APP_ID } from "../../src/identity/index.ts";
import { graph, graphToken } from "../helpers/graph.ts";
import { delegatedGraphToken, graphClient, refresh, registerGraphPublicClient, ropc, tokenRequest } from "../helpers/graph-directory.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const PASSWORD = "Str0ng!Passw0rd";

describe("Graph users", () => {
  const orgbox = useOrgbox();
  beforeAll(async () => registerGraphPublicClient(orgbox()));

  const newUser = async (alias: string, extra: Record<string, unknown> = {}) => {
    const o = orgbox();
    const res = await graph(o, await graphToken(o), "POST", "users", { accountEnabled: true, displayName: `User ${alias}`, mailNickname: alias, userPrincipalName: `${alias}@${DEMO.tenantDomain}`, passwordProfile: { password: PASSWORD, forceChangePasswordNextSignIn: false }, ...extra });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; userPrincipalName: string };
  };

  it("microsoft-graph-client: create, get by id and by userPrincipalName, $select, PATCH, delete", async () => {
    const o = orgbox();
    const client = graphClient(o, await graphToken(o));
    const created = (await client.api("/users").post({ accountEnabled: true, displayName: "Adele Vance", givenName: "Adele", surname: "Vance", mailNickname: "adelev", userPrincipalName: `AdeleV@${DEMO.tenantDomain}`, passwordProfile: { forceChangePasswordNextSignIn: true, password: PASSWORD } })) as Record<string, unknown>;
    expect(created).toMatchObject({ displayName: "Adele Vance", givenName: "Adele", surname: "Vance", userPrincipalName: `adelev@${DEMO.tenantDomain}`, businessPhones: [], jobTitle: null });
    expect(created["@odata.context"]).toBe(`${o.url}/graph/v1.0/$metadata#users/$entity`);
    expect(created).not.toHaveProperty("accountEnabled");
    const id = created.id as string;
    expect(((await client.api(`/users/${id}`).get()) as Record<string, unknown>).displayName).toBe("Adele Vance");
    expect(((await client.api(`/users/adelev@${DEMO.tenantDomain}`).get()) as Record<string, unknown>).id).toBe(id);
    expect(await client.api(`/users/${id}`).select(["accountEnabled", "mailNickname"]).get()).toMatchObject({ accountEnabled: true, mailNickname: "adelev" });
    await client.api(`/users/${id}`).patch({ displayName: "Adele V.", surname: "V" });
    expect(await client.api(`/users/${id}`).get()).toMatchObject({ displayName: "Adele V.", surname: "V" });
    await client.api(`/users/${id}`).delete();
    await expect(client.api(`/users/${id}`).get()).rejects.toMatchObject({ statusCode: 404, code: "Request_ResourceNotFound" });
  });

  it("create refuses an unverified domain, a duplicate UPN, a weak password, missing and unknown properties (400 Request_BadRequest)", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    const base = { accountEnabled: true, displayName: "X", mailNickname: "x", userPrincipalName: `x1@${DEMO.tenantDomain}`, passwordProfile: { password: PASSWORD } };
    const domain = await graph(o, token, "POST", "users", { ...base, userPrincipalName: "x1@fabrikam.example" });
    expect(domain.status).toBe(400);
    expect(domain.body.error).toMatchObject({ code: "Request_BadRequest", message: "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization." });
    expect((await graph(o, token, "POST", "users", { ...base, userPrincipalName: DEMO.admin.username })).body.error?.message).toBe("Another object with the same value for property userPrincipalName already exists.");
    expect((await graph(o, token, "POST", "users", { ...base, passwordProfile: { password: "short" } })).body.error?.message).toContain("password complexity requirements");
    const { mailNickname: _m, ...missing } = base;
    expect((await graph(o, token, "POST", "users", missing)).body.error?.message).toContain("'mailNickname'");
    for (const [key, value] of [["favouriteColour", "blue"], ["jobTitle", "CEO"]] as const) {
      const res = await graph(o, token, "POST", "users", { ...base, [key]: value });
      expect(res.status, key).toBe(400);
      expect(res.body.error?.code, key).toBe("Request_BadRequest");
      expect(res.body.error?.message, key).toContain(key);
    }
    const user = await newUser("patchme");
    const unknown = await graph(o, token, "PATCH", `users/${user.id}`, { nope: 1 });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error?.code).toBe("Request_BadRequest");
  });

  it("every change is live: disabled → AADSTS50057, reset password → old fails and refresh 50173, revokeSignInSessions → refresh 50173, delete → refresh and Graph fail", async () => {
    const o = orgbox();
    const admin = await graphToken(o);
    const user = await newUser("live");
    const first = await ropc(o, user.userPrincipalName, PASSWORD);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const rt1 = first.body.refresh_token as string;

    expect((await graph(o, admin, "PATCH", `users/${user.id}`, { accountEnabled: false })).status).toBe(204);
    const disabled = await ropc(o, user.userPrincipalName, PASSWORD);
    expect(disabled.status).toBe(400);
    expect(disabled.body.error_codes).toEqual([50057]);
    expect((await refresh(o, rt1)).body.error_codes).toEqual([50057]);
    expect((await graph(o, admin, "PATCH", `users/${user.id}`, { accountEnabled: true })).status).toBe(204);
    expect((await refresh(o, rt1)).status).toBe(200);

    const second = await ropc(o, user.userPrincipalName, PASSWORD);
    const rt2 = second.body.refresh_token as string;
    expect((await graph(o, admin, "PATCH", `users/${user.id}`, { passwordProfile: { password: "N3w!Password", forceChangePasswordNextSignIn: false } })).status).toBe(204);
    expect((await ropc(o, user.userPrincipalName, PASSWORD)).body.error_codes).toEqual([50126]);
    const third = await ropc(o, user.userPrincipalName, "N3w!Password");
    expect(third.status).toBe(200);
    expect((await refresh(o, rt2)).body.error_codes).toEqual([50173]);

    const rt3 = third.body.refresh_token as string;
    await new Promise((r) => setImmediate(r));
    const revoked = await graph(o, admin, "POST", `users/${user.id}/revokeSignInSessions`);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ "@odata.context": `${o.url}/graph/v1.0/$metadata#Edm.Boolean`, value: true });
    expect((await refresh(o, rt3)).body.error_codes).toEqual([50173]);

    const fourth = await ropc(o, user.userPrincipalName, "N3w!Password", ["User.Read"]);
    const userToken = fourth.body.access_token as string;
    expect((await graph(o, userToken, "GET", "me")).status).toBe(200);
    expect((await graph(o, admin, "DELETE", `users/${user.id}`)).status).toBe(204);
    expect((await refresh(o, fourth.body.refresh_token as string)).status).toBe(400);
    expect((await ropc(o, user.userPrincipalName, "N3w!Password")).status).toBe(400);
    expect((await graph(o, userToken, "GET", "me")).status).toBe(401);
  });

  it("me: the signed-in user (delegated), memberOf its groups and roles; app-only → 400 BadRequest", async () => {
    const o = orgbox();
    const token = await delegatedGraphToken(o, DEMO.admin.username, DEMO.admin.password, ["User.Read"]);
    const me = await graph(o, token, "GET", "me");
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: DEMO.admin.id, userPrincipalName: DEMO.admin.username });
    const group = await o.identity.service.createGroup({ tenantId: o.tenantId, displayName: "Admins of me", members: [DEMO.admin.id] });
    const memberOf = await graph(o, token, "GET", "me/memberOf");
    expect(memberOf.body.value?.map((v) => [v["@odata.type"], v.displayName])).toEqual([["#microsoft.graph.directoryRole", "Global Administrator"], ["#microsoft.graph.group", group.displayName]]);
    const app = await graph(o, await graphToken(o), "GET", "me");
    expect(app.status).toBe(400);
    expect(app.body.error).toMatchObject({ code: "BadRequest", message: "/me request is only valid with delegated authentication flow." });
  });

  it("403 without the permission or without a directory role; a user administrator may create", async () => {
    const o = orgbox();
    const noPermission = await graph(o, await graphToken(o, DEMO.app.clientId, DEMO.app.clientSecret), "GET", "users");
    expect(noPermission.status).toBe(403);
    expect(noPermission.body.error?.code).toBe("Authorization_RequestDenied");
    const plain = await newUser("plainuser");
    const plainToken = await delegatedGraphToken(o, plain.userPrincipalName, PASSWORD, ["User.ReadWrite.All"]);
    expect((await graph(o, plainToken, "GET", "users")).status).toBe(200);
    const body = { accountEnabled: true, displayName: "By plain", mailNickname: "byplain", userPrincipalName: `byplain@${DEMO.tenantDomain}`, passwordProfile: { password: PASSWORD } };
    const denied = await graph(o, plainToken, "POST", "users", body);
    expect(denied.status).toBe(403);
    expect(denied.body.error?.message).toContain("User Administrator");
    expect((await graph(o, plainToken, "PATCH", `users/${DEMO.admin.id}`, { displayName: "Hijacked" })).status).toBe(403);
  });

  it("tenant isolation: tenant B's Graph app cannot see tenant A's users (404) and lists only its own", async () => {
    const o = orgbox();
    const { service } = o.identity;
    const tenantB = await service.createTenant({ displayName: "Fabrikam", defaultDomain: "fabrikam-graph.onmicrosoft.com" });
    const { application } = await service.registerApplication({ tenantId: tenantB.id, displayName: "B admin" });
    const secret = await service.addPassword({ appId: application.appId });
    await service.grantApplicationPermissions({ tenantId: tenantB.id, clientAppId: application.appId, resourceAppId: MICROSOFT_GRAPH_APP_ID, roles: ["User.ReadWrite.All"] });
    const tokenB = await graphToken(o, application.appId, secret.secretText, tenantB.id);
    expect((await graph(o, tokenB, "GET", `users/${DEMO.admin.id}`)).status).toBe(404);
    expect((await graph(o, tokenB, "GET", `users/${DEMO.admin.username}`)).status).toBe(404);
    expect((await graph(o, tokenB, "PATCH", `users/${DEMO.admin.id}`, { accountEnabled: false })).status).toBe(404);
    expect((await graph(o, tokenB, "DELETE", `users/${DEMO.admin.id}`)).status).toBe(404);
    expect((await graph(o, tokenB, "GET", "users")).body.value).toEqual([]);
    const created = await graph(o, tokenB, "POST", "users", { accountEnabled: true, displayName: "B1", mailNickname: "b1", userPrincipalName: `b1@${DEMO.tenantDomain}`, passwordProfile: { password: PASSWORD } });
    expect(created.body.error?.message).toContain("domain portion");
  });

  it("appRoleAssignments: assigning a user to an app that requires assignment lets the user sign in at once (AADSTS50105 before and after removal)", async () => {
    const o = orgbox();
    const admin = await graphToken(o);
    const { service } = o.identity;
    const clientId = "c0de0000-0000-4000-8000-0000000e9a02";
    const { servicePrincipal } = await service.registerApplication({ tenantId: o.tenantId, appId: clientId, displayName: "Assigned only", isFallbackPublicClient: true });
    await service.grantConsent({ tenantId: o.tenantId, clientAppId: clientId, resourceAppId: MICROSOFT_GRAPH_APP_ID, scopes: ["User.Read"] });
    await service.setAppRoleAssignmentRequired(o.tenantId, clientId, true);
    const user = await newUser("assignee");
    const signIn = () => tokenRequest(o, { grant_type: "password", client_id: clientId, username: user.userPrincipalName, password: PASSWORD, scope: "https://graph.microsoft.com/User.Read" });
    expect((await signIn()).body.error_codes).toEqual([50105]);
    const body = { principalId: user.id, resourceId: servicePrincipal.id, appRoleId: "00000000-0000-0000-0000-000000000000" };
    const created = await graph(o, admin, "POST", `users/${user.id}/appRoleAssignments`, body);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ principalId: user.id, principalType: "User", resourceId: servicePrincipal.id, resourceDisplayName: "Assigned only" });
    expect((await graph(o, admin, "POST", `users/${user.id}/appRoleAssignments`, body)).body.error?.message).toBe("Permission being assigned already exists on the object");
    expect((await signIn()).status).toBe(200);
    expect((await graph(o, admin, "GET", `users/${user.id}/appRoleAssignments`)).body.value?.map((a) => a.id)).toEqual([created.body.id]);
    expect((await graph(o, await graphToken(o, DEMO.app.clientId, DEMO.app.clientSecret), "POST", `users/${user.id}/appRoleAssignments`, body)).status).toBe(403);
    expect((await graph(o, admin, "DELETE", `users/${user.id}/appRoleAssignments/${created.body.id as string}`)).status).toBe(204);
    expect((await signIn()).body.error_codes).toEqual([50105]);
    expect((await graph(o, admin, "DELETE", `users/${user.id}/appRoleAssignments/${created.body.id as string}`)).status).toBe(404);
  });

  it("$filter eq / startswith / in, $count with ConsistencyLevel, and $top paging returns every user once", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await newUser(`pager${i}`));
    expect((await graph(o, token, "GET", `users?$filter=userPrincipalName eq 'PAGER1@${DEMO.tenantDomain}'`)).body.value?.map((u) => u.id)).toEqual([made[1]?.id]);
    expect((await graph(o, token, "GET", "users?$filter=startswith(displayName,'user pager')")).body.value).toHaveLength(5);
    expect((await graph(o, token, "GET", `users?$filter=id in ('${made[0]?.id}','${made[4]?.id}')`)).body.value).toHaveLength(2);
    const counted = await graph(o, token, "GET", "users?$filter=startswith(displayName,'User pager')&$count=true", undefined, { ConsistencyLevel: "eventual" });
    expect(counted.body["@odata.count"]).toBe(5);
    expect(Number((await graph(o, token, "GET", "users/$count", undefined, { ConsistencyLevel: "eventual" })).body.text)).toBeGreaterThanOrEqual(6);
    expect((await graph(o, token, "GET", "users?$filter=jobTitle eq 'x'")).body.error?.code).toBe("Request_UnsupportedQuery");
    for (const query of ["$top=2", "$top=2&$orderby=displayName", "$top=3&$orderby=userPrincipalName desc"]) {
      const seen: string[] = [];
      let next: string | undefined = `users?${query}`;
      while (next) {
        const page = await graph(o, token, "GET", next);
        expect(page.status).toBe(200);
        for (const u of page.body.value ?? []) seen.push(u.id as string);
        next = page.body["@odata.nextLink"] as string | undefined;
      }
      const all = (await graph(o, token, "GET", "users?$top=999")).body.value?.map((u) => u.id as string) ?? [];
      expect(seen.length, query).toBe(all.length);
      expect(new Set(seen).size, query).toBe(all.length);
    }
    const client = graphClient(o, token);
    const page = (await client.api("/users").filter("startswith(displayName,'User pager')").top(2).get()) as { value: unknown[]; "@odata.nextLink"?: string };
    expect(page.value).toHaveLength(2);
    expect(page["@odata.nextLink"]).toContain("$skiptoken=");
  });
});
