/**
 * Graph `roleManagement/directory` (roleDefinitions, roleAssignments), `organization` and `domains`:
 * real template ids, Entra's assignment ids, assignments live on the user's next Graph request,
 * Privileged Role Administrator required for delegated writes, tenant isolation.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import { graph, graphToken } from "../helpers/graph.ts";
import { delegatedGraphToken, graphClient, registerGraphPublicClient } from "../helpers/graph-directory.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

const PASSWORD = "Str0ng!Passw0rd";
const GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10";
const APP_ADMIN = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
const CLOUD_APP_ADMIN = "158c047a-c907-4556-b7ef-446551a6b5f7";
const PRIVILEGED_ROLE_ADMIN = "e8611ab8-c189-46e8-94e1-60213ab1f814";

describe("Graph directory roles, organization and domains", () => {
  const orgbox = useOrgbox();
  beforeAll(async () => registerGraphPublicClient(orgbox()));

  it("roleDefinitions: the built-in roles with their real template ids", async () => {
    const o = orgbox();
    const client = graphClient(o, await graphToken(o));
    const list = (await client.api("/roleManagement/directory/roleDefinitions").get()) as { value: Record<string, unknown>[] };
    const byName = Object.fromEntries(list.value.map((r) => [r.displayName, r.templateId]));
    expect(byName).toMatchObject({ "Global Administrator": GLOBAL_ADMIN, "Application Administrator": APP_ADMIN, "Cloud Application Administrator": CLOUD_APP_ADMIN, "Privileged Role Administrator": PRIVILEGED_ROLE_ADMIN });
    expect(await client.api(`/roleManagement/directory/roleDefinitions/${APP_ADMIN}`).get()).toMatchObject({ id: APP_ADMIN, isBuiltIn: true, isEnabled: true, displayName: "Application Administrator" });
    await expect(client.api("/roleManagement/directory/roleDefinitions/00000000-0000-4000-8000-000000000000").get()).rejects.toMatchObject({ statusCode: 404 });
  });

  it("roleAssignments: list by principalId, create, the role counts on the user's next Graph request, delete takes it away", async () => {
    const o = orgbox();
    const admin = await graphToken(o);
    const client = graphClient(o, admin);
    const existing = (await client.api("/roleManagement/directory/roleAssignments").filter(`principalId eq '${DEMO.admin.id}'`).get()) as { value: Record<string, unknown>[] };
    // Entra's id of a tenant-wide assignment: base64url(role template id) + base64url(principal id) + "-1".
    expect(existing.value).toEqual([expect.objectContaining({ roleDefinitionId: GLOBAL_ADMIN, principalId: DEMO.admin.id, directoryScopeId: "/", id: expect.stringMatching(/^lAPpYvVpN0KRkAEhdxReE[A-Za-z0-9_-]{23}-1$/) })]);

    const user = await o.identity.service.createUser({ tenantId: o.tenantId, userPrincipalName: `appdev@${DEMO.tenantDomain}`, displayName: "App Dev", password: PASSWORD });
    const userToken = await delegatedGraphToken(o, user.userPrincipalName, PASSWORD, ["Application.ReadWrite.All"]);
    const before = await graph(o, userToken, "PATCH", `applications/${DEMO.graphAdmin.objectId}`, { displayName: "renamed by app dev" });
    expect(before.status).toBe(403);
    expect(before.body.error?.message).toContain("needs one of the directory roles Cloud Application Administrator");

    const assignment = (await client.api("/roleManagement/directory/roleAssignments").post({ "@odata.type": "#microsoft.graph.unifiedRoleAssignment", principalId: user.id, roleDefinitionId: CLOUD_APP_ADMIN, directoryScopeId: "/" })) as Record<string, unknown>;
    expect(assignment).toMatchObject({ principalId: user.id, roleDefinitionId: CLOUD_APP_ADMIN, directoryScopeId: "/" });
    const again = await graph(o, admin, "POST", "roleManagement/directory/roleAssignments", { principalId: user.id, roleDefinitionId: CLOUD_APP_ADMIN, directoryScopeId: "/" });
    expect(again.status).toBe(400);
    // The same token: the core reads the user's directory roles live on each request.
    const grantedName = await graph(o, userToken, "PATCH", `applications/${DEMO.graphAdmin.objectId}`, { displayName: "orgbox Graph admin" });
    expect(grantedName.status).toBe(204);
    const holders = await graph(o, admin, "GET", `roleManagement/directory/roleAssignments?$filter=roleDefinitionId eq '${CLOUD_APP_ADMIN}'`);
    expect(holders.body.value?.map((a) => a.principalId)).toEqual([user.id]);
    expect((await graph(o, admin, "GET", `roleManagement/directory/roleAssignments/${assignment.id as string}`)).body.roleDefinitionId).toBe(CLOUD_APP_ADMIN);
    const memberOf = await graph(o, admin, "GET", `users/${user.id}/memberOf`);
    expect(memberOf.body.value?.map((m) => m.displayName)).toEqual(["Cloud Application Administrator"]);

    await client.api(`/roleManagement/directory/roleAssignments/${assignment.id as string}`).delete();
    expect((await graph(o, userToken, "PATCH", `applications/${DEMO.graphAdmin.objectId}`, { displayName: "again" })).status).toBe(403);
    expect((await graph(o, admin, "DELETE", `roleManagement/directory/roleAssignments/${assignment.id as string}`)).status).toBe(404);
    expect((await graph(o, admin, "GET", "roleManagement/directory/roleAssignments?$filter=startswith(principalId,'a')")).status).toBe(400);
    expect((await graph(o, admin, "GET", "roleManagement/directory/roleAssignments?$count=true", undefined, { ConsistencyLevel: "eventual" })).body.error?.code).toBe("Request_UnsupportedQuery");
    expect((await graph(o, admin, "POST", "roleManagement/directory/roleAssignments", { principalId: user.id, roleDefinitionId: CLOUD_APP_ADMIN, directoryScopeId: "/administrativeUnits/x" })).status).toBe(400);
  });

  it("delegated role writes need Privileged Role Administrator; an app needs RoleManagement.ReadWrite.Directory", async () => {
    const o = orgbox();
    const user = await o.identity.service.createUser({ tenantId: o.tenantId, userPrincipalName: `climber@${DEMO.tenantDomain}`, displayName: "Climber", password: PASSWORD });
    const userToken = await delegatedGraphToken(o, user.userPrincipalName, PASSWORD, ["RoleManagement.ReadWrite.Directory"]);
    const self = await graph(o, userToken, "POST", "roleManagement/directory/roleAssignments", { principalId: user.id, roleDefinitionId: GLOBAL_ADMIN, directoryScopeId: "/" });
    expect(self.status).toBe(403);
    expect(self.body.error?.message).toContain("Privileged Role Administrator");
    expect((await graph(o, await graphToken(o, DEMO.app.clientId, DEMO.app.clientSecret), "GET", "roleManagement/directory/roleAssignments")).status).toBe(403);
    const adminDelegated = await delegatedGraphToken(o, DEMO.admin.username, DEMO.admin.password, ["RoleManagement.ReadWrite.Directory"]);
    expect((await graph(o, adminDelegated, "POST", "roleManagement/directory/roleAssignments", { principalId: user.id, roleDefinitionId: PRIVILEGED_ROLE_ADMIN, directoryScopeId: "/" })).status).toBe(201);
    // Now the user may assign roles.
    expect((await graph(o, userToken, "POST", "roleManagement/directory/roleAssignments", { principalId: user.id, roleDefinitionId: APP_ADMIN, directoryScopeId: "/" })).status).toBe(201);
  });

  it("organization and domains: the tenant, its verified domains; another tenant's are 404", async () => {
    const o = orgbox();
    const client = graphClient(o, await graphToken(o));
    const org = (await client.api("/organization").get()) as { value: Record<string, unknown>[] };
    expect(org.value).toEqual([expect.objectContaining({ id: DEMO.tenantId, displayName: DEMO.tenantDisplayName, tenantType: "AAD", verifiedDomains: [{ capabilities: "None", isDefault: true, isInitial: true, name: DEMO.tenantDomain, type: "Managed" }] })]);
    expect(await client.api(`/organization/${DEMO.tenantId}`).get()).toMatchObject({ id: DEMO.tenantId });
    const domains = (await client.api("/domains").get()) as { value: Record<string, unknown>[] };
    expect(domains.value).toEqual([expect.objectContaining({ id: DEMO.tenantDomain, isDefault: true, isInitial: true, isVerified: true, authenticationType: "Managed" })]);
    expect(await client.api(`/domains/${DEMO.tenantDomain}`).get()).toMatchObject({ id: DEMO.tenantDomain });
    const other = await o.identity.service.createTenant({ displayName: "Elsewhere", defaultDomain: "elsewhere-org.onmicrosoft.com" });
    await expect(client.api(`/organization/${other.id}`).get()).rejects.toMatchObject({ statusCode: 404 });
    await expect(client.api("/domains/elsewhere-org.onmicrosoft.com").get()).rejects.toMatchObject({ statusCode: 404 });
    const me = await delegatedGraphToken(o, DEMO.admin.username, DEMO.admin.password, ["User.Read"]);
    expect((await graph(o, me, "GET", "organization")).status).toBe(200);
    expect((await graph(o, await graphToken(o, DEMO.app.clientId, DEMO.app.clientSecret), "GET", "domains")).status).toBe(403);
  });
});
