/**
 * Several orgbox processes on one PostgreSQL database serve as one orgbox: a write acknowledged by one
 * (Web API, Graph, a key rotation, an offline `orgbox` command) is what the other answers from at its
 * very next request (README "Several orgbox processes on one store"). Node A runs in this test process
 * (so the test can rotate its keys), node B is a real `orgbox start --store-url` child process; requests
 * alternate between them, with real clients (msal-node, fetch with real tokens).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { DEMO, startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import type { Org } from "../../src/dataverse/index.ts";
import { orgboxCli } from "../helpers/cli.ts";
import { PageSession } from "../helpers/page-session.ts";
import { createTestDatabase } from "../helpers/postgres.ts";

/** What a test needs of a node: where it answers (`url`, `apiUrl`) and the org URL it emits (the same on every node). */
interface Node {
  url: string;
  tenantId: string;
  orgUrl: string;
  apiUrl: string;
}

const ADMIN_KEY = "multi-process-admin-key";
const CA_DIR = dirname(process.env.NODE_EXTRA_CA_CERTS ?? join(defaultTempCaDir(), "ca.pem"));

/**
 * Starts `orgbox start` as a child process on the store, emitting the URLs of `publicPort` (as behind
 * one load balancer); resolves with where it listens.
 */
async function startChild(storeUrl: string, publicPort: number): Promise<{ child: ChildProcess; node: Node }> {
  const cli = resolve(import.meta.dirname, "../../bin/orgbox.js");
  const args = ["start", "--store-url", storeUrl, "--port", "0", "--public-port", String(publicPort), "--workers", "1", "--ca-dir", CA_DIR, "--admin-key", ADMIN_KEY, "--json", "--log-level", "silent"];
  const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ORGBOX_JSON: "" } });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const [line] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), "line")) as [string];
  const ready = JSON.parse(line) as { event: string; port: number } & Node;
  if (ready.event !== "ready") throw new Error(`orgbox did not start: ${line} ${stderr}`);
  const url = `https://localhost:${ready.port}`;
  return { child, node: { url, tenantId: ready.tenantId, orgUrl: ready.orgUrl, apiUrl: ready.apiUrl.replace(ready.url, url) } };
}

/** A client-credentials token (v1 endpoint, plain fetch) for the org from `node`: the token, or the AAD error. */
async function token(node: Node, clientId: string, secret: string): Promise<{ status: number; accessToken?: string; aadsts?: string }> {
  const res = await fetch(`${node.url}/${node.tenantId}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret, resource: node.orgUrl }) });
  const body = (await res.json()) as { access_token?: string; error_description?: string };
  return { status: res.status, ...(body.access_token ? { accessToken: body.access_token } : {}), ...(body.error_description ? { aadsts: /^AADSTS\d+/.exec(body.error_description)?.[0] ?? "" } : {}) };
}

/** A Web API call on `node` with a bearer token; status and parsed JSON. */
async function api(node: Node, bearer: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> & { error?: { code: string } } }> {
  const res = await fetch(`${node.apiUrl}/${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A Graph call on `node` (`{url}/graph/v1.0/{path}`). */
async function graph(node: Node, bearer: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${node.url}/graph/v1.0/${path}`, { method, headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A Graph token of the tenant's management principal, from `node`'s admin endpoint. */
async function graphToken(node: Node): Promise<string> {
  const res = await fetch(`${node.url}/_orgbox/graph-token`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" }, body: JSON.stringify({ tenant: node.tenantId }) });
  return ((await res.json()) as { access_token: string }).access_token;
}

describe("two orgbox processes on one PostgreSQL database", { timeout: 120_000 }, () => {
  let database: { url: string; drop(): Promise<void> };
  let a: OrgboxInstance;
  let b: Node;
  let child: ChildProcess | undefined;
  let org: Org;

  beforeAll(async () => {
    database = await createTestDatabase();
    a = await startOrgbox({ storeUrl: database.url, caDir: CA_DIR, adminKey: ADMIN_KEY });
    // Both emit A's URLs, as two nodes behind one load balancer would emit the balancer's.
    ({ child, node: b } = await startChild(database.url, a.port));
    org = (await a.dataverse.service.findOrg(DEMO.org.name)) as Org;
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
    await a?.close();
    await database?.drop();
  });

  it("serves one tenant: the second process found the demo seeded by the first, and tokens from either are accepted by both", async () => {
    expect(b.tenantId).toBe(a.tenantId);
    expect(b.orgUrl).toBe(a.orgUrl);
    const cca = new ConfidentialClientApplication({ auth: { clientId: DEMO.app.clientId, clientSecret: DEMO.app.clientSecret, authority: a.authority, knownAuthorities: [new URL(a.url).host] } });
    const fromA = (await cca.acquireTokenByClientCredential({ scopes: [`${a.orgUrl}/.default`] }))?.accessToken as string;
    const fromB = (await token(b, DEMO.app.clientId, DEMO.app.clientSecret)).accessToken as string;
    const who = await api(b, fromA, "GET", "WhoAmI");
    expect(who.status).toBe(200);
    expect((await api(a, fromB, "GET", "WhoAmI")).body.UserId).toBe(who.body.UserId);
  });

  it("a role removed through one node's Web API is enforced by the other at its next request", async () => {
    const roles = await a.dataverse.service.listRoles(org);
    const sysadmin = roles.find((r) => r.name === "System Administrator")?.id as string;
    const reader = await a.dataverse.service.createRole(org, { name: "Multi-process contact reader", businessUnitId: DEMO.org.rootBusinessUnitId, privileges: [{ name: "prvReadContact", depth: "Global" }] });
    const adminApp = await a.identity.service.registerApplication({ tenantId: a.tenantId, displayName: "multi admin" });
    const adminSecret = await a.identity.service.addPassword({ appId: adminApp.application.appId });
    await a.dataverse.service.createApplicationUser(org, { applicationId: adminApp.application.appId, businessUnitId: DEMO.org.rootBusinessUnitId, roleIds: [sysadmin] });
    const workerApp = await a.identity.service.registerApplication({ tenantId: a.tenantId, displayName: "multi worker" });
    const workerSecret = await a.identity.service.addPassword({ appId: workerApp.application.appId });
    const workerId = await a.dataverse.service.createApplicationUser(org, { applicationId: workerApp.application.appId, businessUnitId: DEMO.org.rootBusinessUnitId, roleIds: [reader] });

    // Tokens from B for apps A created a moment ago: B's directory cache knew nothing of them.
    const admin = (await token(b, adminApp.application.appId, adminSecret.secretText)).accessToken as string;
    const worker = (await token(b, workerApp.application.appId, workerSecret.secretText)).accessToken as string;
    // Warm both nodes' security caches with "may read contacts".
    expect((await api(a, worker, "GET", "contacts?$select=fullname&$top=1")).status).toBe(200);
    expect((await api(b, worker, "GET", "contacts?$select=fullname&$top=1")).status).toBe(200);

    expect((await api(b, admin, "DELETE", `systemusers(${workerId})/systemuserroles_association(${reader})/$ref`)).status).toBe(204);
    const denied = await api(a, worker, "GET", "contacts?$select=fullname&$top=1");
    expect(denied.status).toBe(403);
    expect(denied.body.error?.code).toBe("0x80042f09");

    // And back, the other way round.
    expect((await api(a, admin, "POST", `systemusers(${workerId})/systemuserroles_association/$ref`, { "@odata.id": `${a.apiUrl}/roles(${reader})` })).status).toBe(204);
    expect((await api(b, worker, "GET", "contacts?$select=fullname&$top=1")).status).toBe(200);
  });

  it("a secret added with Graph addPassword on one node works on the other at once; one removed there fails at once", async () => {
    const graphB = await graphToken(b);
    const app = (await graph(b, graphB, "GET", `applications(appId='${DEMO.app.clientId}')?$select=id`)).body;
    // Warm A's credential cache for the demo app.
    expect((await token(a, DEMO.app.clientId, DEMO.app.clientSecret)).status).toBe(200);

    const added = await graph(b, graphB, "POST", `applications/${String(app.id)}/addPassword`, { passwordCredential: { displayName: "added on B" } });
    expect(added.status).toBe(200);
    const fresh = String(added.body.secretText);
    expect((await token(a, DEMO.app.clientId, fresh)).status).toBe(200);

    const graphA = await graphToken(a);
    expect((await graph(a, graphA, "POST", `applications/${String(app.id)}/removePassword`, { keyId: added.body.keyId })).status).toBe(204);
    expect(await token(b, DEMO.app.clientId, fresh)).toEqual({ status: 401, aadsts: "AADSTS7000215" });
  });

  it("a signing key rotated on one node is published by, and its tokens are accepted by, the other at once", async () => {
    const before = await token(a, DEMO.app.clientId, DEMO.app.clientSecret);
    // Warm B's key ring use with a token of the current key.
    expect((await api(b, before.accessToken as string, "GET", "WhoAmI")).status).toBe(200);

    const rotated = await a.identity.rotateKeys();
    const signed = await token(a, DEMO.app.clientId, DEMO.app.clientSecret);
    expect(decodeProtectedHeader(signed.accessToken as string).kid).toBe(rotated.kid);
    expect((await api(b, signed.accessToken as string, "GET", "WhoAmI")).status).toBe(200);
    const jwks = (await (await fetch(`${b.url}/${b.tenantId}/discovery/v2.0/keys`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(rotated.kid);
    // B signs with the new key too.
    expect(decodeProtectedHeader((await token(b, DEMO.app.clientId, DEMO.app.clientSecret)).accessToken as string).kid).toBe(rotated.kid);
  });

  it("what the offline CLI writes into the store while both serve is seen by both at their next request", async () => {
    const { application } = await a.identity.service.registerApplication({ tenantId: a.tenantId, displayName: "multi offline" });
    const first = await a.identity.service.addPassword({ appId: application.appId });
    const firstToken = (await token(b, application.appId, first.secretText)).accessToken as string;
    // Fills B's security cache with "no such systemuser" for this app.
    expect((await api(b, firstToken, "GET", "WhoAmI")).status).toBe(403);

    const run = await orgboxCli(["secret", "add", "--app", application.appId, "--store-url", database.url, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const added = JSON.parse(run.stdout) as { secretText: string };
    expect((await token(b, application.appId, added.secretText)).status).toBe(200);
    expect((await token(a, application.appId, added.secretText)).status).toBe(200);

    const user = await orgboxCli(["appuser", "create", "--org", "contoso", "--app", application.appId, "--role", "System Administrator", "--store-url", database.url, "--json"]);
    expect(user.code, user.stderr).toBe(0);
    const who = await api(b, firstToken, "GET", "WhoAmI");
    expect(who.status).toBe(200);
    expect(who.body.UserId).toBe((JSON.parse(user.stdout) as { systemUserId: string }).systemUserId);
  });

  it("a sign-in page served by one node is accepted when posted to the other (one anti-forgery key in the store)", async () => {
    const msal = new ConfidentialClientApplication({ auth: { clientId: DEMO.app.clientId, clientSecret: DEMO.app.clientSecret, authority: a.authority, knownAuthorities: [new URL(a.url).host] } });
    const scopes = [`${a.orgUrl}/user_impersonation`];
    const browser = new PageSession();
    const page = await browser.open(await msal.getAuthCodeUrl({ scopes, redirectUri: "http://localhost:3000/callback", state: "multi" }));
    expect(page.html).toContain('name="csrf"');
    // The same form, posted to the other node (a load balancer without sticky sessions): B accepts A's form.
    const consent = await browser.signIn({ ...page, url: page.url.replace(a.url, b.url) }, DEMO.admin.username, DEMO.admin.password);
    expect(consent.status).toBe(200);
    expect(consent.html).toContain("Permissions requested");
    // And A accepts B's consent form.
    const back = await browser.submit({ ...consent, url: consent.url.replace(b.url, a.url) }, { decision: "accept" });
    expect(back.status, back.html.slice(0, 300)).toBe(302);
    const redirect = new URL(back.location as string);
    expect(`${redirect.origin}${redirect.pathname}`).toBe("http://localhost:3000/callback");
    const code = redirect.searchParams.get("code") as string;
    expect(code).toBeTruthy();
    // Redeemed at the first node: the code is in the store, not in the memory of the node that issued it.
    const result = await msal.acquireTokenByCode({ code, scopes, redirectUri: "http://localhost:3000/callback" });
    expect((await api(b, result.accessToken, "GET", "WhoAmI")).status).toBe(200);
  });

  it("a forged sign-in post is refused by either node", async () => {
    const msal = new ConfidentialClientApplication({ auth: { clientId: DEMO.app.clientId, clientSecret: DEMO.app.clientSecret, authority: a.authority, knownAuthorities: [new URL(a.url).host] } });
    const browser = new PageSession();
    const page = await browser.open(await msal.getAuthCodeUrl({ scopes: [`${a.orgUrl}/user_impersonation`], redirectUri: "http://localhost:3000/callback" }));
    const forged = await browser.submit({ ...page, url: page.url.replace(a.url, b.url), html: page.html.replace(/name="csrf" value="[^"]*"/, 'name="csrf" value="forged"') }, { login: DEMO.admin.username, passwd: DEMO.admin.password });
    expect(forged.status).not.toBe(302);
    expect(forged.location).toBeNull();
  });

  it("reset and snapshots refuse with a clear message while two processes serve; reset works again once one stops", async () => {
    const refused = await fetch(`${b.url}/_orgbox/reset`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(refused.status).toBe(409);
    const body = (await refused.json()) as { error: string; error_description: string };
    expect(body.error).toBe("conflict");
    expect(body.error_description).toMatch(/reset is not available while 2 orgbox processes serve this store/);
    await expect(a.snapshot("x")).rejects.toThrow(/taking a snapshot is not available while 2 orgbox processes/);

    const exited = once(child as ChildProcess, "exit");
    child?.kill("SIGTERM");
    await exited;
    await a.reset();
    // The demo app's first secret, removed by no test here, still works after the reset.
    expect((await token(a, DEMO.app.clientId, DEMO.app.clientSecret)).status).toBe(200);
  });
});
