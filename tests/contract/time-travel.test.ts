/**
 * Time travel through the HTTP surfaces only: `GET`/`POST /_orgbox/clock` with the admin key moves
 * the running orgbox's clock, and access tokens (`iat`/`exp` and their validation at the Web API and
 * Graph), authorization codes, device codes, client-secret expiry, refresh-token inactivity and record
 * timestamps follow it. Bad moves get 400 with a message. The offset is kept in the store: a restart
 * and the offline `orgbox clock` command see it, on SQLite and PostgreSQL; reset keeps the clock.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO, startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { parseDuration } from "../../src/server/time-travel.ts";
import { createTestCertificate } from "../helpers/certificates.ts";
import { orgboxCli } from "../helpers/cli.ts";
import { graph, graphToken } from "../helpers/graph.ts";
import { registerGraphPublicClient, ropc, refresh, tokenRequest } from "../helpers/graph-directory.ts";
import { apiCall, demoToken, useOrgbox } from "../helpers/orgbox.ts";
import { PageSession } from "../helpers/page-session.ts";
import { createTestDatabase } from "../helpers/postgres.ts";
import { openOfflineServices, type OfflineStore } from "../../src/server/offline.ts";

/** What `orgbox clock advance` does offline, in process (the CLI's process start is paid once, on SQLite). */
async function advanceOffline(store: OfflineStore, by: string): Promise<{ offsetSeconds: number }> {
  const services = await openOfflineServices(store);
  try {
    return await services.timeTravel.advance(parseDuration(by));
  } finally {
    await services.close();
  }
}

const ADMIN_KEY = "time-travel-admin-key";
const DAY = 86_400;

/** `GET` or `POST {url}/_orgbox/clock` with the admin key (or another authorization). */
async function clockCall(o: OrgboxInstance, body?: unknown, authorization = `Bearer ${ADMIN_KEY}`): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${o.url}/_orgbox/clock`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function advance(o: OrgboxInstance, seconds: number): Promise<number> {
  const moved = await clockCall(o, { advanceSeconds: seconds });
  expect(moved.status, JSON.stringify(moved.body)).toBe(200);
  return moved.body.nowMs as number;
}

describe("time travel on a running orgbox (POST /_orgbox/clock)", () => {
  const orgbox = useOrgbox({ adminKey: ADMIN_KEY });
  beforeAll(async () => registerGraphPublicClient(orgbox()));

  it("GET shows orgbox's time; only with the admin key", async () => {
    const o = orgbox();
    const shown = await clockCall(o);
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ offsetSeconds: expect.any(Number) });
    expect(Date.parse(shown.body.now as string)).toBe(shown.body.nowMs);
    expect((await clockCall(o, undefined, "Bearer wrong")).status).toBe(401);
    expect((await clockCall(o, { advanceSeconds: 1 }, "")).status).toBe(401);
  });

  it("refuses bad moves with 400 and a message: backwards, negative, malformed, both or neither, unknown keys", async () => {
    const o = orgbox();
    const before = (await clockCall(o)).body.nowMs as number;
    const cases: [unknown, RegExp][] = [
      [{ advanceSeconds: -1 }, /only moves forward/],
      [{ now: "2001-01-01T00:00:00Z" }, /only moves forward: 2001-01-01T00:00:00.000Z is before orgbox's now/],
      [{ now: "2030-01-01" }, /not an ISO 8601 date-time with a time zone/],
      [{ now: "tomorrow" }, /not an ISO 8601/],
      [{ advanceSeconds: "91d" }, /advanceSeconds must be a number/],
      [{ advanceSeconds: 1e12 }, /more than 100 years/],
      [{ advanceSeconds: 1, now: "2099-01-01T00:00:00Z" }, /exactly one of advanceSeconds or now/],
      [{}, /exactly one/],
      [{ days: 3 }, /unknown property 'days'/],
      ["[1,2]", /send a JSON object/],
      ["not json", /send a JSON object/],
    ];
    for (const [body, message] of cases) {
      const res = await clockCall(o, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe("invalid_request");
      expect(res.body.error_description, JSON.stringify(body)).toMatch(message);
    }
    const after = (await clockCall(o)).body.nowMs as number;
    expect(after - before).toBeLessThan(60_000);
  });

  it("access tokens: iat/exp from orgbox's time, and the Web API and Graph reject them once the clock passes exp", async () => {
    const o = orgbox();
    const token = await demoToken(o);
    expect((await apiCall(o, token, "GET", "WhoAmI")).status).toBe(200);
    const graphAdmin = await graphToken(o);
    const now = await advance(o, 2 * 3600);
    expect((await apiCall(o, token, "GET", "WhoAmI")).status).toBe(401);
    expect((await graph(o, graphAdmin, "GET", "organization")).status).toBe(401);
    const fresh = decodeJwt(await demoToken(o));
    expect(Math.abs((fresh.iat as number) - now / 1000)).toBeLessThan(60);
    expect(fresh.exp as number).toBeGreaterThan(now / 1000);
  });

  it("authorization codes expire after 10 minutes of orgbox's time (AADSTS70008)", async () => {
    const o = orgbox();
    const redirect = "https://app.example/tt";
    const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "time travel web", webRedirectUris: [redirect] });
    const secret = (await o.identity.service.addPassword({ appId: application.appId })).secretText;
    const session = new PageSession();
    const url = `${o.url}/${o.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: application.appId, response_type: "code", redirect_uri: redirect, scope: "openid profile" })}`;
    const done = await session.signIn(await session.open(url), DEMO.admin.username, DEMO.admin.password);
    const code = new URL(done.location as string).searchParams.get("code") as string;
    expect(code).toBeTruthy();
    await advance(o, 11 * 60);
    const redeemed = await tokenRequest(o, { grant_type: "authorization_code", client_id: application.appId, client_secret: secret, code, redirect_uri: redirect, scope: "openid profile" });
    expect(redeemed.status).toBe(400);
    expect(redeemed.body.error_codes).toEqual([70008]);
  });

  it("browser sign-in sessions last 24 hours of orgbox's time: then the sign-in page again", async () => {
    const o = orgbox();
    const redirect = "https://app.example/session";
    const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "time travel session", webRedirectUris: [redirect] });
    const url = `${o.url}/${o.tenantId}/oauth2/v2.0/authorize?${new URLSearchParams({ client_id: application.appId, response_type: "code", redirect_uri: redirect, scope: "openid" })}`;
    const session = new PageSession();
    expect((await session.signIn(await session.open(url), DEMO.admin.username, DEMO.admin.password)).status).toBe(302);
    await advance(o, 23 * 3600);
    expect((await session.open(url)).status).toBe(302);
    await advance(o, 2 * 3600);
    const again = await session.open(url);
    expect(again.status).toBe(200);
    expect(again.html).toContain('name="passwd"');
  });

  it("device codes expire after 15 minutes of orgbox's time (expired_token)", async () => {
    const o = orgbox();
    const start = await fetch(`${o.url}/${o.tenantId}/oauth2/v2.0/devicecode`, { method: "POST", body: new URLSearchParams({ client_id: "c0de0000-0000-4000-8000-0000000e9a01", scope: "https://graph.microsoft.com/User.Read" }) });
    const { device_code } = (await start.json()) as { device_code: string };
    const pending = await tokenRequest(o, { grant_type: "urn:ietf:params:oauth:grant-type:device_code", client_id: "c0de0000-0000-4000-8000-0000000e9a01", device_code });
    expect(pending.body.error).toBe("authorization_pending");
    await advance(o, 16 * 60);
    const expired = await tokenRequest(o, { grant_type: "urn:ietf:params:oauth:grant-type:device_code", client_id: "c0de0000-0000-4000-8000-0000000e9a01", device_code });
    expect(expired.body.error).toBe("expired_token");
  });

  it("a client secret that ends in 2 days works until orgbox's clock passes its end (AADSTS7000222)", async () => {
    const o = orgbox();
    const admin = await graphToken(o);
    const app = await graph(o, admin, "POST", "applications", { displayName: "expiring secret" });
    const appId = app.body.appId as string;
    await graph(o, admin, "POST", "servicePrincipals", { appId });
    const now = (await clockCall(o)).body.nowMs as number;
    const added = await graph(o, admin, "POST", `applications/${app.body.id as string}/addPassword`, { passwordCredential: { endDateTime: new Date(now + 2 * DAY * 1000).toISOString() } });
    const secret = added.body.secretText as string;
    const cc = () => tokenRequest(o, { grant_type: "client_credentials", client_id: appId, client_secret: secret, scope: "https://graph.microsoft.com/.default" });
    expect((await cc()).status).toBe(200);
    await advance(o, DAY);
    expect((await cc()).status).toBe(200);
    await advance(o, DAY + 60);
    const expired = await cc();
    expect(expired.status).toBe(401);
    expect(expired.body.error_codes).toEqual([7000222]);
  });

  it("certificate credentials: msal-node's assertions (the client's clock) keep working after a move; the certificate's own expiry follows orgbox's clock (AADSTS700027)", async () => {
    const o = orgbox();
    const cert = await createTestCertificate("CN=time travel", 30);
    const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "time travel certificate" });
    await o.identity.service.addKeyCredential({ appId: application.appId, certificatePem: cert.certificatePem });
    const token = () =>
      new ConfidentialClientApplication({ auth: { clientId: application.appId, authority: o.authority, knownAuthorities: [new URL(o.url).host], clientCertificate: { thumbprintSha256: cert.sha256, privateKey: cert.privateKeyPem } } }).acquireTokenByClientCredential({ scopes: ["https://graph.microsoft.com/.default"] });
    await expect(token()).resolves.toMatchObject({ accessToken: expect.any(String) });
    await advance(o, 10 * DAY);
    await expect(token()).resolves.toMatchObject({ accessToken: expect.any(String) });
    await advance(o, 21 * DAY);
    await expect(token()).rejects.toMatchObject({ errorCode: "invalid_client", errorMessage: expect.stringMatching(/AADSTS700027: .*The key used is expired/) });
  });

  it("refresh tokens expire after 90 days of inactivity (AADSTS700082), one redeemed meanwhile carries on", async () => {
    const o = orgbox();
    const first = await ropc(o, DEMO.admin.username, DEMO.admin.password);
    const rt = first.body.refresh_token as string;
    await advance(o, 89 * DAY);
    const renewed = await refresh(o, rt);
    expect(renewed.status).toBe(200);
    await advance(o, 2 * DAY);
    const expired = await refresh(o, rt);
    expect(expired.body.error).toBe("invalid_grant");
    expect(expired.body.error_codes).toEqual([700082]);
    expect((await refresh(o, renewed.body.refresh_token as string)).status).toBe(200);
  });

  it("records are stamped with orgbox's time (createdon, modifiedon)", async () => {
    const o = orgbox();
    const now = await advance(o, 30 * DAY);
    const token = await demoToken(o);
    const created = await apiCall(o, token, "POST", "accounts", { name: "from the future" });
    expect(created.status, created.text).toBe(204);
    const id = /\(([0-9a-f-]{36})\)/.exec(created.headers.get("odata-entityid") ?? "")?.[1] as string;
    const read = await apiCall(o, token, "GET", `accounts(${id})?$select=createdon,modifiedon`);
    for (const stamp of [read.body.createdon, read.body.modifiedon]) expect(Math.abs(Date.parse(stamp as string) - now)).toBeLessThan(60_000);
  });
});

describe.each([
  { backend: "sqlite" },
  { backend: "postgres" },
])("the clock offset is kept in the store ($backend)", ({ backend }) => {
  let dataDir = "";
  let pg: { url: string; drop(): Promise<void> } | undefined;
  const store = () => (backend === "sqlite" ? { dataDir } : { storeUrl: (pg as { url: string }).url });
  beforeAll(async () => {
    if (backend === "sqlite") dataDir = mkdtempSync(join(tmpdir(), "orgbox-clock-"));
    else pg = await createTestDatabase();
  });
  afterAll(async () => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await pg?.drop();
  });

  it("a restart and the offline `orgbox clock` command see the moved clock; reset keeps it; it never goes back", async () => {
    const first = await startOrgbox({ ...store(), adminKey: ADMIN_KEY, http: true });
    try {
      const moved = await first.clock.advance("10d");
      expect(moved.offsetSeconds).toBeGreaterThanOrEqual(10 * DAY);
      await first.reset();
      expect((await clockCall(first)).body.offsetSeconds).toBe(moved.offsetSeconds);
    } finally {
      await first.close();
    }
    const flags = backend === "sqlite" ? ["--data", dataDir] : ["--store-url", (pg as { url: string }).url];
    const shown = await orgboxCli(["clock", "show", ...flags, "--json"]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ offsetSeconds: 10 * DAY });
    // The CLI's other paths once (each is a process start): on SQLite.
    if (backend === "sqlite") {
      const back = await orgboxCli(["clock", "set", "2001-01-01T00:00:00Z", ...flags]);
      expect(back.code).toBe(2);
      expect(back.stderr).toMatch(/only moves forward/);
    }
    const advanced = await (backend === "sqlite" ? orgboxCli(["clock", "advance", "1d12h", ...flags, "--json"]).then((r) => JSON.parse(r.stdout) as { offsetSeconds: number }) : advanceOffline(store(), "1d12h"));
    expect(advanced.offsetSeconds).toBe(11.5 * DAY);

    const second = await startOrgbox({ ...store(), adminKey: ADMIN_KEY, http: true });
    try {
      expect((await clockCall(second)).body.offsetSeconds).toBe(11.5 * DAY);
      expect(Math.abs(second.clock.now() - (Date.now() + 11.5 * DAY * 1000))).toBeLessThan(60_000);
      // --url against the running one, through the admin surface.
      if (backend === "postgres") return;
      const remote = await orgboxCli(["clock", "advance", "2h", "--url", second.url, "--admin-key", ADMIN_KEY, "--json"]);
      expect(remote.code, remote.stderr).toBe(0);
      expect(JSON.parse(remote.stdout).offsetSeconds).toBe(11.5 * DAY + 7200);
      expect(second.clock.show().offsetSeconds).toBe(11.5 * DAY + 7200);
      // Secret lifetimes from the CLI count from orgbox's time.
      const secret = await orgboxCli(["secret", "add", "--app", DEMO.app.clientId, "--tenant", DEMO.tenantId, "--days", "30", "--url", second.url, "--admin-key", ADMIN_KEY, "--json"]);
      expect(secret.code, secret.stderr).toBe(0);
      expect(Math.abs(Date.parse(JSON.parse(secret.stdout).endDateTime as string) - (second.clock.now() + 30 * DAY * 1000))).toBeLessThan(120_000);
      await expect(second.clock.set(new Date(0))).rejects.toThrow(/only moves forward/);
      if (backend === "sqlite") {
        // Another process on the same data folder moves the clock: the server sees it at its next request.
        const offline = await orgboxCli(["clock", "advance", "1h", ...flags, "--json"]);
        expect(offline.code, offline.stderr).toBe(0);
        expect((await clockCall(second)).body.offsetSeconds).toBe(11.5 * DAY + 3 * 3600);
      }
    } finally {
      await second.close();
    }
  });
});
