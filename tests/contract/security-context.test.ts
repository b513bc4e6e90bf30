/**
 * Security fails closed (#13): every Web API handler runs with the security context of the request's
 * authenticated caller — never the org model's `SecurityContext.system` bypass — for every route
 * kind of the route table, `$batch` parts included. The handlers of `ROUTES` are wrapped to record
 * what they receive; the requests come over HTTP with the demo application user's token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import { ROUTES, type RouteKind } from "../../src/dataverse/route-table.ts";
import type { WebApiHandler } from "../../src/dataverse/request.ts";
import { apiCall, demoToken, useOrgbox } from "../helpers/orgbox.ts";

describe("the security context every Web API handler receives", () => {
  const orgbox = useOrgbox();
  let token = "";
  const seen: { kind: RouteKind; method: string; isSystem: boolean; callerId: string; same: boolean }[] = [];
  const originals = new Map<RouteKind, Record<string, WebApiHandler>>();

  beforeAll(async () => {
    token = await demoToken(orgbox());
    for (const [kind, handlers] of Object.entries(ROUTES) as [RouteKind, Record<string, WebApiHandler>][]) {
      originals.set(kind, { ...handlers });
      for (const [method, handler] of Object.entries(handlers)) {
        handlers[method] = (req) => {
          seen.push({ kind, method: req.method, isSystem: req.security.isSystem, callerId: req.security.caller.systemUserId, same: req.caller === req.security.caller });
          return handler(req);
        };
      }
    }
  });
  afterAll(() => {
    for (const [kind, handlers] of originals) Object.assign(ROUTES[kind] as Record<string, WebApiHandler>, handlers);
  });

  it("is the authenticated caller's, on every route kind", async () => {
    const o = orgbox();
    const created = await apiCall(o, token, "POST", "accounts", { name: "security context probe" });
    expect(created.status).toBe(204);
    const id = /\(([0-9a-f-]{36})\)/.exec(created.headers.get("odata-entityid") ?? "")?.[1] ?? "";
    expect((await apiCall(o, token, "GET", "")).status).toBe(200);
    expect((await fetch(`${o.apiUrl}/$metadata`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect((await apiCall(o, token, "GET", "WhoAmI")).status).toBe(200);
    expect((await apiCall(o, token, "GET", `accounts(${id})?$select=name`)).status).toBe(200);
    expect((await apiCall(o, token, "GET", "accounts?$select=name&$top=1")).status).toBe(200);
    expect((await apiCall(o, token, "GET", "accounts/$count")).status).toBe(200);
    expect((await apiCall(o, token, "GET", "accounts/nothing/here")).status).toBe(404);
    const batch = await fetch(`${o.apiUrl}/$batch`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": 'multipart/mixed; boundary="b"' },
      body: ["--b", "Content-Type: application/http", "Content-Transfer-Encoding: binary", "", `GET ${o.apiUrl}/accounts(${id})?$select=name HTTP/1.1`, "Accept: application/json", "", "--b--", ""].join("\r\n"),
    });
    expect(batch.status).toBe(200);
    expect(await batch.text()).toMatch(/HTTP\/1\.1 200/);

    // Every kind of the route table ran, the `$batch` part too (a second `record`).
    expect(new Set(seen.map((s) => s.kind))).toEqual(new Set(Object.keys(ROUTES)));
    expect(seen.filter((s) => s.kind === "record")).toHaveLength(2);
    for (const s of seen) expect(s).toMatchObject({ isSystem: false, callerId: DEMO.org.applicationUserId, same: true });
  });

  it("never exists without a token: the request is refused before any handler runs", async () => {
    const before = seen.length;
    const res = await fetch(`${orgbox().apiUrl}/accounts`, { headers: { accept: "application/json" } });
    expect(res.status).toBe(401);
    expect(seen.length).toBe(before);
  });
});
