import { describe, expect, it } from "vitest";
import { DEMO, type OrgboxInstance } from "../../src/index.ts";
import { MICROSOFT_GRAPH_APP_ID } from "../../src/identity/index.ts";
import { demoToken, useOrgbox } from "../helpers/orgbox.ts";

type Denial = { surface: string; method: string; path: string; status: number; code: string; message: string; correlationId: string; caller: Record<string, string> | null };

const GRAPH_ADMIN = { clientId: "c0de0000-0000-4000-8000-00000000b001", secret: "gph8Q~orgbox-graph-admin-secret-not-for-production" };

async function token(o: OrgboxInstance, tenant: string, clientId: string, secret: string, scope: string): Promise<string> {
  const res = await fetch(`${o.url}/${tenant}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret, scope }) });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(JSON.stringify(body));
  return body.access_token;
}

async function denials(o: OrgboxInstance, bearer: string | undefined): Promise<{ status: number; body: { value?: Denial[]; error?: string } }> {
  const res = await fetch(`${o.url}/_orgbox/denials`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
  return { status: res.status, body: (await res.json()) as { value?: Denial[]; error?: string } };
}

/** Recent denials: the last 401/403s of each surface, per tenant, behind a Graph token with directory read rights. */
describe("GET /_orgbox/denials", () => {
  const orgbox = useOrgbox();

  it("records the identity, Graph and Dataverse 401/403s of a tenant, without queries or secrets, newest first", async () => {
    const o = orgbox();
    const wrongSecret = "not-the-secret-Q~1234567890";
    const badClient = await fetch(`${o.url}/${DEMO.tenantId}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: DEMO.app.clientId, client_secret: wrongSecret, scope: `${o.orgUrl}/.default` }) });
    expect(badClient.status).toBe(401);
    const orgToken = await demoToken(o);
    const graphWithOrgToken = await fetch(`${o.url}/graph/v1.0/applications?$top=1`, { headers: { authorization: `Bearer ${orgToken}` } });
    expect(graphWithOrgToken.status).toBe(401);
    const noToken = await fetch(`${o.apiUrl}/accounts?$select=name&secret=${wrongSecret}`);
    expect(noToken.status).toBe(401);

    const admin = await token(o, DEMO.tenantId, GRAPH_ADMIN.clientId, GRAPH_ADMIN.secret, "https://graph.microsoft.com/.default");
    const answer = await denials(o, admin);
    expect(answer.status).toBe(200);
    const list = answer.body.value as Denial[];
    expect(list.map((d) => `${d.surface} ${d.status} ${d.path}`)).toEqual([
      `dataverse 401 /org/${DEMO.org.name}/api/data/v9.2/accounts`,
      "graph 401 /graph/v1.0/applications",
      `identity 401 /${DEMO.tenantId}/oauth2/v2.0/token`,
    ]);
    expect(list[1]).toMatchObject({ method: "GET", code: "InvalidAuthenticationToken", caller: { tid: DEMO.tenantId, appid: DEMO.app.clientId } });
    expect(list[2]).toMatchObject({ method: "POST", code: "invalid_client", caller: null });
    expect(list[2]?.message).toContain("AADSTS7000215");
    for (const d of list) expect(d.correlationId).toMatch(/^[0-9a-f-]{8,}$/);
    expect(JSON.stringify(list)).not.toContain(wrongSecret);
  });

  it("needs a Graph token with directory read rights, and shows each tenant only its own denials", async () => {
    const o = orgbox();
    expect((await denials(o, undefined)).status).toBe(401);
    expect((await denials(o, await demoToken(o))).status).toBe(401);
    const noRights = await token(o, DEMO.tenantId, DEMO.app.clientId, DEMO.app.clientSecret, "https://graph.microsoft.com/.default");
    const forbidden = await denials(o, noRights);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toBe("forbidden");

    const { service } = o.identity;
    const tenant = await service.createTenant({ displayName: "Northwind", defaultDomain: "northwind.onmicrosoft.com" });
    const { application } = await service.registerApplication({ tenantId: tenant.id, displayName: "Northwind auditor" });
    const secret = (await service.addPassword({ appId: application.appId })).secretText;
    await service.grantApplicationPermissions({ tenantId: tenant.id, clientAppId: application.appId, resourceAppId: MICROSOFT_GRAPH_APP_ID, roles: ["Directory.Read.All"] });
    const auditor = await token(o, tenant.id, application.appId, secret, "https://graph.microsoft.com/.default");
    expect((await denials(o, auditor)).body.value).toEqual([]);
    const refused = await fetch(`${o.url}/${tenant.defaultDomain}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: application.appId, client_secret: "wrong", scope: "https://graph.microsoft.com/.default" }) });
    expect(refused.status).toBe(401);
    const theirs = (await denials(o, auditor)).body.value as Denial[];
    expect(theirs.map((d) => d.path)).toEqual([`/${tenant.defaultDomain}/oauth2/v2.0/token`]);
    const contoso = (await denials(o, await token(o, DEMO.tenantId, GRAPH_ADMIN.clientId, GRAPH_ADMIN.secret, "https://graph.microsoft.com/.default"))).body.value as Denial[];
    expect(contoso.some((d) => d.path.includes("northwind"))).toBe(false);
    // The refusals of /_orgbox/denials itself are not recorded.
    expect(contoso.some((d) => d.path.startsWith("/_orgbox"))).toBe(false);
  });
});
