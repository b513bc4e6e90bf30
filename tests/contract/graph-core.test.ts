/**
 * The Microsoft Graph–compatible surface's core over plain fetch: bearer-token authentication (401
 * InvalidAuthenticationToken), authorization by application permission (403 Authorization_RequestDenied),
 * OData query options ($select, $filter, $top + @odata.nextLink keyset paging, $count with
 * ConsistencyLevel, /$count, $orderby), Graph's error shape with request-id headers, and unknown paths.
 */
import { describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import { graph, graphToken } from "../helpers/graph.ts";
import { demoToken, useOrgbox } from "../helpers/orgbox.ts";

describe("Graph core", () => {
  const orgbox = useOrgbox();

  it("401 InvalidAuthenticationToken without a token, with a malformed one, and with a Dataverse token; Graph's error shape and headers", async () => {
    const o = orgbox();
    const none = await graph(o, undefined, "GET", "applications", undefined, { "client-request-id": "3f1d2c6e-0000-4000-8000-000000000001" });
    expect(none.status).toBe(401);
    expect(none.body.error?.code).toBe("InvalidAuthenticationToken");
    expect(none.body.error?.innerError["client-request-id"]).toBe("3f1d2c6e-0000-4000-8000-000000000001");
    expect(none.body.error?.innerError["request-id"]).toBe(none.headers.get("request-id"));
    expect(none.body.error?.innerError.date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    expect(none.headers.get("client-request-id")).toBe("3f1d2c6e-0000-4000-8000-000000000001");
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect((await graph(o, "not.a.jwt", "GET", "applications")).body.error?.code).toBe("InvalidAuthenticationToken");
    const dataverse = await graph(o, await demoToken(o), "GET", "applications");
    expect(dataverse.status).toBe(401);
    expect(dataverse.body.error).toMatchObject({ code: "InvalidAuthenticationToken", message: expect.stringMatching(/^Access token validation failure\. Invalid audience\. The token's aud is "[^"]+\/org\/contoso"; accepted: "https:\/\/graph\.microsoft\.com"/) });
  });

  it("a URL the router cannot decode is a 400 in Graph's error shape, not an AADSTS body", async () => {
    const o = orgbox();
    const res = await fetch(`${o.url}/graph/v1.0/applications/%E0%A4%A`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error?: { code: string; innerError?: Record<string, string> } };
    expect(body.error?.code).toBe("Request_BadRequest");
    expect(body.error?.innerError?.["request-id"]).toBe(res.headers.get("request-id"));
  });

  it("403 Authorization_RequestDenied for an app without Graph application permissions, naming them", async () => {
    const o = orgbox();
    const token = await graphToken(o, DEMO.app.clientId, DEMO.app.clientSecret);
    const res = await graph(o, token, "GET", "applications");
    expect(res.status).toBe(403);
    expect(res.body.error?.code).toBe("Authorization_RequestDenied");
    expect(res.body.error?.message).toContain("Insufficient privileges to complete the operation.");
    expect(res.body.error?.message).toContain("Application.Read.All");
  });

  it("the Graph admin app lists applications: $select, @odata.context, $top with keyset @odata.nextLink to the end", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    for (let i = 0; i < 5; i++) expect((await graph(o, token, "POST", "applications", { displayName: `paging ${i}` })).status).toBe(201);
    const seen: string[] = [];
    let next: string | undefined = "applications?$select=id,displayName&$top=2&$orderby=displayName";
    let pages = 0;
    while (next) {
      const page = await graph(o, token, "GET", next);
      expect(page.status).toBe(200);
      expect(page.body["@odata.context"]).toBe(`${o.url}/graph/v1.0/$metadata#applications(id,displayName)`);
      for (const item of page.body.value ?? []) {
        expect(Object.keys(item).sort()).toEqual(["displayName", "id"]);
        seen.push(String(item.displayName));
      }
      next = page.body["@odata.nextLink"] as string | undefined;
      pages++;
    }
    expect(seen).toEqual([...seen].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)));
    expect(seen.filter((n) => n.startsWith("paging "))).toEqual(["paging 0", "paging 1", "paging 2", "paging 3", "paging 4"]);
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toBe(Math.ceil(seen.length / 2));
  });

  it("$filter eq / startswith / in / any, $count with ConsistencyLevel eventual, /$count, and advanced queries", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    const created = await graph(o, token, "POST", "applications", { displayName: "Filter Target", identifierUris: ["api://filter-target"] });
    const appId = created.body.appId as string;
    expect((await graph(o, token, "GET", `applications?$filter=appId eq '${appId}'`)).body.value?.map((a) => a.displayName)).toEqual(["Filter Target"]);
    expect((await graph(o, token, "GET", "applications?$filter=startswith(displayName,'filter t')")).body.value).toHaveLength(1);
    expect((await graph(o, token, "GET", `applications?$filter=appId in ('${appId}','${DEMO.app.clientId}')`)).body.value).toHaveLength(2);
    expect((await graph(o, token, "GET", "applications?$filter=identifierUris/any(x:x eq 'api://filter-target')")).body.value?.map((a) => a.appId)).toEqual([appId]);
    const counted = await graph(o, token, "GET", "applications?$filter=startswith(displayName,'Filter')&$count=true", undefined, { ConsistencyLevel: "eventual" });
    expect(counted.body["@odata.count"]).toBe(1);
    const total = await graph(o, token, "GET", "applications/$count", undefined, { ConsistencyLevel: "eventual" });
    expect(total.status).toBe(200);
    expect(Number(total.body.text)).toBeGreaterThanOrEqual(3);
    expect((await graph(o, token, "GET", "applications?$count=true")).body.error?.code).toBe("Request_BadRequest");
    // ne is an advanced query: only with ConsistencyLevel eventual and $count=true.
    expect((await graph(o, token, "GET", `applications?$filter=appId ne '${appId}'`)).body.error?.code).toBe("Request_UnsupportedQuery");
    const ne = await graph(o, token, "GET", `applications?$filter=appId ne '${appId}'&$count=true`, undefined, { ConsistencyLevel: "eventual" });
    expect(ne.body.value?.some((a) => a.appId === appId)).toBe(false);
  });

  it("400 Request_UnsupportedQuery for unsupported query options and operators; Request_BadRequest for bad values", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    for (const query of ["$search=\"displayName:x\"", "$expand=owners($filter=id eq 'x')", "$filter=displayName gt 'a'", "$filter=contains(displayName,'a')", "$orderby=appId", "$skip=2"]) {
      const res = await graph(o, token, "GET", `applications?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error?.code, query).toBe("Request_UnsupportedQuery");
    }
    for (const query of ["$top=0", "$top=1000", "$select=nope", "$filter=displayName eq", "$skiptoken=garbage"]) {
      const res = await graph(o, token, "GET", `applications?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.body.error?.code, query).toBe("Request_BadRequest");
    }
  });

  it("unknown segments are 400 BadRequest, a wrong method 405, an unknown version 400", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    expect((await graph(o, token, "GET", "nothingHere")).body.error).toMatchObject({ code: "BadRequest", message: "Resource not found for the segment 'nothingHere'." });
    expect((await graph(o, token, "PUT", "applications", {})).status).toBe(405);
    const v = await graph(o, token, "GET", `${o.url}/graph/v9.9/applications`);
    expect(v.status).toBe(400);
  });
});
