/**
 * Fault injection for resilience tests: rules set at start (config `faults`), at runtime through
 * `/_orgbox/faults` (admin key) or on the handle answer a share of a surface's requests — or one client's,
 * or the next N — in that surface's own error format, or delay them. Real clients meet them: msal-node
 * meets a scripted AADSTS failure and succeeds after it; plain fetch meets Dataverse and Graph faults.
 */
import { ConfidentialClientApplication } from "@azure/msal-node";
import { describe, expect, it, vi } from "vitest";
import { DEMO, startOrgbox } from "../../src/index.ts";
import { graph, graphToken } from "../helpers/graph.ts";
import { adminToken, demoToken, useOrgbox } from "../helpers/orgbox.ts";

const ADMIN_KEY = "fault-admin-key-0123";

describe("fault injection", () => {
  const orgbox = useOrgbox({ adminKey: ADMIN_KEY, faults: JSON.stringify([{ surface: "graph", path: "/v1.0/organization", status: 503, count: 1 }]) });
  const admin = (method: string, path: string, body?: string, key: string | undefined = ADMIN_KEY) =>
    fetch(`${orgbox().url}/_orgbox/faults${path}`, { method, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) }, ...(body === undefined ? {} : { body }) });

  it("a rule from start answers the Graph request it names with 503 and Graph's error resource, once", async () => {
    const o = orgbox();
    const token = await graphToken(o);
    const failed = await graph(o, token, "GET", "organization");
    expect(failed.status).toBe(503);
    expect(failed.headers.get("retry-after")).toBe("5");
    expect(failed.body.error).toMatchObject({ code: "serviceNotAvailable", innerError: { "request-id": expect.any(String), date: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/) } });
    expect((await graph(o, token, "GET", "organization")).status).toBe(200);
    expect(o.faults.list()).toEqual([]);
  });

  it("msal-node meets the next 2 token requests of its app failing with AADSTS50196 and gets a token on the 3rd; other apps are not affected", async () => {
    const o = orgbox();
    const added = await admin("POST", "", JSON.stringify({ surface: "identity", clientId: o.demo.clientId, path: "/token", count: 2, status: 400, error: "invalid_grant", code: "AADSTS50196" }));
    expect(added.status).toBe(201);
    const rule = ((await added.json()) as { value: { id: string; hits: number }[] }).value[0];
    expect(rule).toMatchObject({ id: expect.stringMatching(/^fault-\d+$/), hits: 0 });

    // Another app's token requests go through while the rule is in force.
    expect(await graphToken(o)).toMatch(/^ey/);

    const cca = new ConfidentialClientApplication({ auth: { clientId: o.demo.clientId, clientSecret: o.demo.clientSecret, authority: o.authority, knownAuthorities: [new URL(o.url).host] } });
    const failures: { errorCode: string; message: string }[] = [];
    let token: string | undefined;
    for (let attempt = 0; attempt < 5 && !token; attempt++) {
      try {
        token = (await cca.acquireTokenByClientCredential({ scopes: [`${o.orgUrl}/.default`] }))?.accessToken;
      } catch (error) {
        const e = error as { errorCode: string; errorMessage: string };
        failures.push({ errorCode: e.errorCode, message: /AADSTS\d+: [^\r\n]*/.exec(e.errorMessage)?.[0] ?? e.errorMessage });
      }
    }
    expect(token).toMatch(/^ey/);
    expect(failures).toEqual([
      { errorCode: "invalid_grant", message: "AADSTS50196: The server terminated an operation because it encountered a loop while processing a request." },
      { errorCode: "invalid_grant", message: "AADSTS50196: The server terminated an operation because it encountered a loop while processing a request." },
    ]);
    // The scripted rule is used up and gone.
    expect(((await (await admin("GET", "")).json()) as { value: unknown[] }).value).toEqual([]);
  });

  it("msal-node honours an injected 429's Retry-After: it refuses locally, sending nothing, until the wait is over", async () => {
    const o = orgbox();
    o.faults.add({ surface: "identity", clientId: o.demo.clientId, path: "/token", count: 1, status: 429, retryAfterSeconds: 30 });
    // A delay-only rule counts the token requests that reach orgbox.
    const counter = o.faults.add({ surface: "identity", clientId: o.demo.clientId, path: "/token", delayMs: 1 });
    const cca = new ConfidentialClientApplication({ auth: { clientId: o.demo.clientId, clientSecret: o.demo.clientSecret, authority: o.authority, knownAuthorities: [new URL(o.url).host] } });
    const acquire = () => cca.acquireTokenByClientCredential({ scopes: [`${o.orgUrl}/.default`], skipCache: true });
    // msal-node keeps its throttle in Date.now() time: fake only Date to move past Retry-After.
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    try {
      await expect(acquire()).rejects.toMatchObject({ errorCode: "invalid_grant" });
      // msal's own throttle (ThrottlingUtils) answers from its cache: the error codes of the 429, no request sent.
      await expect(acquire()).rejects.toMatchObject({ errorCode: "50196" });
      expect(o.faults.list().find((r) => r.id === counter.id)?.hits).toBe(0);
      vi.setSystemTime(Date.now() + 31_000);
      expect((await acquire())?.accessToken).toMatch(/^ey/);
      expect(o.faults.list().find((r) => r.id === counter.id)?.hits).toBe(1);
    } finally {
      vi.useRealTimers();
      o.faults.remove(counter.id);
    }
  });

  it("answers a Dataverse request 429 in the Dataverse envelope with Retry-After; a plain-fetch client retries and succeeds", async () => {
    const o = orgbox();
    const token = await demoToken(o);
    const added = o.faults.add({ surface: "dataverse", count: 2, retryAfterSeconds: 0 });
    let attempts = 0;
    const refusals: unknown[] = [];
    let response: Response;
    for (;;) {
      attempts++;
      response = await fetch(`${o.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${token}` } });
      if (response.status !== 429) break;
      refusals.push({ retryAfter: response.headers.get("retry-after"), odataVersion: response.headers.get("odata-version"), body: await response.json() });
    }
    expect(response.status).toBe(200);
    expect(attempts).toBe(3);
    const refusal = { retryAfter: "0", odataVersion: "4.0", body: { error: { code: "0x80072322", message: "Number of requests exceeded the limit of 6000 over time window of 300 seconds." } } };
    expect(refusals).toEqual([refusal, refusal]);
    expect(o.faults.list().some((r) => r.id === added.id)).toBe(false);
  });

  it("a share of 0.5 fails exactly every 2nd matching request, only for the client it names", async () => {
    const o = orgbox();
    const token = await demoToken(o);
    const other = await adminToken(o);
    const rule = o.faults.add({ surface: "dataverse", clientId: DEMO.app.clientId, share: 0.5, status: 503 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await fetch(`${o.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${token}` } })).status);
      expect(statuses).toEqual([200, 503, 200, 503, 200, 503]);
      for (let i = 0; i < 3; i++) expect((await fetch(`${o.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${other}` } })).status).toBe(200);
      expect(o.faults.list().find((r) => r.id === rule.id)?.hits).toBe(3);
    } finally {
      o.faults.remove(rule.id);
    }
  });

  it("matches a client sending HTTP Basic credentials, and leaves malformed Basic credentials to the identity surface's own error", async () => {
    const o = orgbox();
    const rule = o.faults.add({ surface: "identity", clientId: o.demo.clientId, path: "/token", status: 503 });
    try {
      const basic = (id: string) => fetch(`${o.url}/${o.tenantId}/oauth2/v2.0/token`, { method: "POST", headers: { authorization: `Basic ${Buffer.from(`${id}:${o.demo.clientSecret}`).toString("base64")}` }, body: new URLSearchParams({ grant_type: "client_credentials", scope: `${o.orgUrl}/.default` }) });
      const refused = await basic(o.demo.clientId);
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ error: "temporarily_unavailable", error_codes: [90033] });
      const malformed = await basic("%zz");
      expect(malformed.status).toBe(401);
      expect(((await malformed.json()) as { error_codes: number[] }).error_codes).toEqual([70002]);
    } finally {
      o.faults.remove(rule.id);
    }
  });

  it("delays a request and then lets it through (a delay-only rule)", async () => {
    const o = orgbox();
    const token = await demoToken(o);
    const rule = o.faults.add({ surface: "dataverse", delayMs: 5, count: 1 });
    const response = await fetch(`${o.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    expect(o.faults.list().some((r) => r.id === rule.id)).toBe(false);
  });

  it("admin endpoint: 401 without the admin key, 400 naming the problem for a bad body or rule, 404 for an unknown rule, and DELETE clears", async () => {
    expect((await admin("GET", "", undefined, "")).status).toBe(401);
    expect((await admin("POST", "", JSON.stringify({ surface: "dataverse" }), "wrong-key-0000")).status).toBe(401);

    const notJson = await admin("POST", "", "{not json");
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: "invalid_request", error_description: expect.stringContaining("send a JSON fault rule") });

    const badSurface = await admin("POST", "", JSON.stringify({ surface: "sharepoint" }));
    expect(badSurface.status).toBe(400);
    expect(((await badSurface.json()) as { error_description: string }).error_description).toMatch(/^invalid fault rule: surface: /);

    const badShare = await admin("POST", "", JSON.stringify({ rules: [{ surface: "graph" }, { surface: "graph", share: 2 }] }));
    expect(badShare.status).toBe(400);
    expect(((await badShare.json()) as { error_description: string }).error_description).toMatch(/share/);
    // All or nothing: the valid first rule was not added.
    expect(((await (await admin("GET", "")).json()) as { value: unknown[] }).value).toEqual([]);

    const needsCode = await admin("POST", "", JSON.stringify({ surface: "identity", status: 400 }));
    expect(needsCode.status).toBe(400);
    expect(((await needsCode.json()) as { error_description: string }).error_description).toMatch(/code: a status of 400 needs the error code/);

    const badCode = await admin("POST", "", JSON.stringify({ surface: "dataverse", code: "AADSTS50196" }));
    expect(badCode.status).toBe(400);
    expect(((await badCode.json()) as { error_description: string }).error_description).toBe("invalid fault rule: code: a hexadecimal Dataverse code (0x80072322) for the dataverse surface (got 'AADSTS50196')");

    const unknownField = await admin("POST", "", JSON.stringify({ surface: "graph", statuss: 429 }));
    expect(unknownField.status).toBe(400);

    expect((await admin("DELETE", "/fault-999")).status).toBe(404);
    expect((await admin("POST", "", JSON.stringify([{ surface: "graph", status: 429 }, { surface: "dataverse", status: 503 }]))).status).toBe(201);
    expect(((await (await admin("GET", "")).json()) as { value: unknown[] }).value).toHaveLength(2);
    expect((await admin("DELETE", "")).status).toBe(204);
    expect(orgbox().faults.list()).toEqual([]);
  });
});

describe("fault injection at start", () => {
  it("refuses to start with an invalid rule, naming it", async () => {
    await expect(startOrgbox({ faults: JSON.stringify([{ surface: "dataverse", share: -1 }]) })).rejects.toThrow(/invalid fault rule: share/);
    await expect(startOrgbox({ faults: "not json" })).rejects.toThrow(/faults: a JSON array of fault rules/);
  });
});
