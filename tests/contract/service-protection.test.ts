/**
 * Dataverse's service protection limits (learn.microsoft.com/power-apps/developer/data-platform/api-limits):
 * per user and web server, a number of requests and a combined execution time over a sliding window, and
 * a number of concurrent requests; 429 with `Retry-After` (seconds) and the documented code and message.
 * The window follows orgbox's injected ManualClock: a client "waits" Retry-After by advancing it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamicsWebApi } from "dynamics-web-api";
import { afterAll, describe, expect, it } from "vitest";
import { ManualClock, startOrgbox } from "../../src/index.ts";
import { adminToken, demoToken, useOrgbox } from "../helpers/orgbox.ts";

const START = Date.UTC(2026, 0, 1, 0, 0, 0);

/** A plain-fetch client with the retry policy Microsoft's WebAPIService sample uses: on 429, wait Retry-After seconds and resend. */
async function fetchWithRetries(url: string, init: RequestInit, clock: ManualClock, log: { status: number; retryAfter: string | null; code?: string }[], maxRetries = 3): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(url, init);
    if (response.status !== 429 || attempt === maxRetries) return response;
    const body = (await response.json()) as { error: { code: string } };
    const retryAfter = response.headers.get("retry-after");
    log.push({ status: 429, retryAfter, code: body.error.code });
    // The "wait": the client's timer is orgbox's clock here, so no wall-clock sleep.
    clock.advance(Number(retryAfter) * 1000);
  }
}

describe("service protection: number of requests (0x80072322)", () => {
  const clock = new ManualClock(START);
  const orgbox = useOrgbox({ serviceProtectionRequests: 5, serviceProtectionWindowSeconds: 60 }, { clock });

  it("counts down x-ms-ratelimit-burst-remaining-xrm-requests, refuses the 6th request with 429 and Retry-After, and admits it after the wait", async () => {
    const token = await demoToken(orgbox());
    const init = { headers: { authorization: `Bearer ${token}`, accept: "application/json" } };
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${orgbox().apiUrl}/WhoAmI`, init);
      expect(response.status).toBe(200);
      remaining.push(response.headers.get("x-ms-ratelimit-burst-remaining-xrm-requests") ?? "");
      // The execution time left, formatted as the service does: "1,199.46".
      expect(response.headers.get("x-ms-ratelimit-time-remaining-xrm-requests")).toMatch(/^1,19\d\.\d\d$|^1,200\.00$/);
      clock.advance(10_000);
    }
    expect(remaining).toEqual(["4", "3", "2", "1", "0"]);

    const refused = await fetch(`${orgbox().apiUrl}/WhoAmI`, init);
    expect(refused.status).toBe(429);
    // The first request (at START) leaves the 60-second window at START + 60 s; the clock is at START + 50 s.
    expect(refused.headers.get("retry-after")).toBe("10");
    expect(await refused.json()).toEqual({ error: { code: "0x80072322", message: "Number of requests exceeded the limit of 5 over time window of 60 seconds." } });

    const log: { status: number; retryAfter: string | null; code?: string }[] = [];
    const recovered = await fetchWithRetries(`${orgbox().apiUrl}/WhoAmI`, init, clock, log);
    expect(recovered.status).toBe(200);
    expect(log).toEqual([{ status: 429, retryAfter: "10", code: "0x80072322" }]);
    // One request left the window, one came in.
    expect(recovered.headers.get("x-ms-ratelimit-burst-remaining-xrm-requests")).toBe("0");
  });

  it("counts per user: another application user of the org is not limited by the first one's requests", async () => {
    clock.advance(120_000);
    const o = orgbox();
    const first = await demoToken(o);
    for (let i = 0; i < 5; i++) expect((await fetch(`${o.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${first}` } })).status).toBe(200);
    expect((await fetch(`${o.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${first}` } })).status).toBe(429);
    const other = await adminToken(o);
    const response = await fetch(`${o.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${other}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-ms-ratelimit-burst-remaining-xrm-requests")).toBe("4");
  });

  it("reset() starts the counters over, as right after start", async () => {
    const o = orgbox();
    const token = await demoToken(o);
    const whoAmI = () => fetch(`${o.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${token}` } });
    clock.advance(120_000);
    for (let i = 0; i < 5; i++) await whoAmI();
    expect((await whoAmI()).status).toBe(429);
    await o.reset();
    const after = await whoAmI();
    expect(after.status).toBe(200);
    expect(after.headers.get("x-ms-ratelimit-burst-remaining-xrm-requests")).toBe("4");
  });

  it("counts a $batch once, whatever its number of parts, as Dataverse does", async () => {
    clock.advance(120_000);
    const o = orgbox();
    const token = await demoToken(o);
    const part = (n: number) => `--b1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET ${o.apiUrl}/WhoAmI HTTP/1.1\r\nAccept: application/json\r\n\r\n`.replace("WhoAmI", n % 2 ? "WhoAmI" : "WhoAmI()");
    const body = `${[1, 2, 3, 4, 5, 6, 7].map(part).join("")}--b1--\r\n`;
    const response = await fetch(`${o.apiUrl}/$batch`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "multipart/mixed; boundary=b1" }, body });
    expect(response.status).toBe(200);
    expect((await response.text()).match(/HTTP\/1\.1 200/g)).toHaveLength(7);
    expect(response.headers.get("x-ms-ratelimit-burst-remaining-xrm-requests")).toBe("4");
  });

  it("dynamics-web-api surfaces the 429 (status, code, Retry-After header); a retry wrapper around it recovers after the wait", async () => {
    clock.advance(120_000);
    const o = orgbox();
    const api = new DynamicsWebApi({ serverUrl: `${o.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => demoToken(o) });
    for (let i = 0; i < 5; i++) await api.callFunction("WhoAmI");
    const refusals: { status: number; code: string; retryAfter: string }[] = [];
    const withRetries = async <T>(call: () => Promise<T>): Promise<T> => {
      for (;;) {
        try {
          return await call();
        } catch (error) {
          const e = error as { status?: number; code?: string; headers?: Record<string, string> };
          if (e.status !== 429 || refusals.length >= 3) throw error;
          const retryAfter = e.headers?.["retry-after"] ?? "";
          refusals.push({ status: e.status, code: e.code ?? "", retryAfter });
          clock.advance(Number(retryAfter) * 1000);
        }
      }
    };
    const me = await withRetries(() => api.callFunction<{ UserId: string }>("WhoAmI"));
    expect(me.UserId).toMatch(/^[0-9a-f-]{36}$/);
    // All five requests came at the same instant: the window frees up a whole window later.
    expect(refusals).toEqual([{ status: 429, code: "0x80072322", retryAfter: "60" }]);
  });
});

describe("service protection: execution time (0x80072321)", () => {
  const clock = new ManualClock(START);
  // One microsecond of execution time per window: the first request uses it up.
  const orgbox = useOrgbox({ serviceProtectionExecutionSeconds: "0.000001" }, { clock });

  it("refuses the next request once the window's combined execution time exceeds the limit, and admits it after Retry-After", async () => {
    const token = await demoToken(orgbox());
    const init = { headers: { authorization: `Bearer ${token}` } };
    const first = await fetch(`${orgbox().apiUrl}/WhoAmI`, init);
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ms-ratelimit-time-remaining-xrm-requests")).toBe("0.00");
    const refused = await fetch(`${orgbox().apiUrl}/WhoAmI`, init);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({
      error: {
        code: "0x80072321",
        message: "Combined execution time of incoming requests exceeded limit of 0 milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.",
      },
    });
    // The default 300-second window: the first request's bucket leaves it 300 s after START.
    expect(refused.headers.get("retry-after")).toBe("300");
    const log: { status: number; retryAfter: string | null; code?: string }[] = [];
    expect((await fetchWithRetries(`${orgbox().apiUrl}/WhoAmI`, init, clock, log)).status).toBe(200);
    expect(log).toEqual([{ status: 429, retryAfter: "300", code: "0x80072321" }]);
  });
});

describe("service protection: turned off", () => {
  const orgbox = useOrgbox({ serviceProtection: false, serviceProtectionRequests: 1 });

  it("sends no x-ms-ratelimit headers and refuses nothing", async () => {
    const token = await demoToken(orgbox());
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${orgbox().apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      expect(response.headers.get("x-ms-ratelimit-burst-remaining-xrm-requests")).toBeNull();
    }
  });
});

describe("Entra token throttling (tokenRequestsPerMinute, off by default)", () => {
  const clock = new ManualClock(START);
  const orgbox = useOrgbox({ tokenRequestsPerMinute: 2 }, { clock });
  const tokenRequest = (form: Record<string, string>) => fetch(`${orgbox().url}/${orgbox().tenantId}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams(form) });

  it("answers an app's client-credentials requests beyond the limit 429 AADSTS50196 with Retry-After: 60, and other grants invalid_grant; the next minute it issues again", async () => {
    const o = orgbox();
    const form = { grant_type: "client_credentials", client_id: o.demo.clientId, client_secret: o.demo.clientSecret, scope: `${o.orgUrl}/.default` };
    expect((await tokenRequest(form)).status).toBe(200);
    expect((await tokenRequest(form)).status).toBe(200);
    const throttled = await tokenRequest(form);
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get("retry-after")).toBe("60");
    const body = (await throttled.json()) as { error: string; error_codes: number[]; error_description: string };
    expect(body.error).toBe("invalid_grant");
    expect(body.error_codes).toEqual([50196]);
    expect(body.error_description).toMatch(/^AADSTS50196: The server terminated an operation because it encountered a loop while processing a request\.\r\n/);

    const password = await tokenRequest({ grant_type: "password", client_id: o.demo.clientId, client_secret: o.demo.clientSecret, username: o.demo.username, password: o.demo.password, scope: `${o.orgUrl}/.default` });
    expect(password.status).toBe(400);
    expect(((await password.json()) as { error_codes: number[] }).error_codes).toEqual([50196]);

    clock.advance(60_000);
    expect((await tokenRequest(form)).status).toBe(200);
  });
});

describe("service protection and faults from an environment file", () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-limits-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("takes the limits and fault rules from the file (top-level keys, as any server setting)", async () => {
    const path = join(dir, "limits.orgbox.yaml");
    writeFileSync(path, ["seedDemo: true", "serviceProtectionRequests: 2", "faults:", "  - surface: dataverse", "    path: /accounts", "    status: 503", "    count: 1", ""].join("\n"));
    const o = await startOrgbox({ config: path });
    try {
      const token = await demoToken(o);
      const first = await fetch(`${o.apiUrl}/accounts?$select=name&$top=1`, { headers: { authorization: `Bearer ${token}` } });
      expect(first.status).toBe(503);
      expect(((await first.json()) as { error: { code: string } }).error.code).toBe("0x80040216");
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${o.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${token}` } })).status);
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await o.close();
    }
  });
});
