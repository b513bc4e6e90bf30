/**
 * `orgbox start --workers 2` on PostgreSQL: two processes behind one port (the primary binds port 0
 * and shares it), each answering requests; a write through one is what the other answers from at its
 * next request. Connections are pinned to a worker with keep-alive agents of one socket each
 * (`node:cluster` hands each new connection to the next worker).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import http from "node:http";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config/config.ts";
import { DEMO } from "../../src/index.ts";
import { orgboxCli } from "../helpers/cli.ts";
import { createTestDatabase } from "../helpers/postgres.ts";

const ADMIN_KEY = "workers-test-admin-key";

interface Ready {
  event: string;
  url: string;
  port: number;
  tenantId: string;
  orgUrl: string;
  apiUrl: string;
  workers: number;
}

/** One request on `agent`'s (single, kept-alive) connection; status and parsed JSON. */
function request(agent: http.Agent, url: string, method = "GET", headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((done, fail) => {
    const req = http.request(url, { method, agent, headers: { ...headers, ...(body === undefined ? {} : { "content-length": String(Buffer.byteLength(body)) }) } }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => done({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
    });
    req.on("error", fail);
    req.end(body);
  });
}

describe("orgbox start --workers 2 on PostgreSQL", { timeout: 120_000 }, () => {
  let database: { url: string; drop(): Promise<void> };
  let child: ChildProcess;
  let ready: Ready;
  const agents: http.Agent[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    const cli = resolve(import.meta.dirname, "../../bin/orgbox.js");
    child = spawn(process.execPath, [cli, "start", "--store-url", database.url, "--workers", "2", "--admin-key", ADMIN_KEY, "--http", "--port", "0", "--json", "--log-level", "silent"], { env: { ...process.env, ORGBOX_JSON: "" } });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const [line] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), "line")) as [string];
    ready = JSON.parse(line) as Ready;
    expect(ready.event, stderr).toBe("ready");
  });
  afterAll(async () => {
    for (const agent of agents) agent.destroy();
    if (child && child.exitCode === null) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
    await database?.drop();
  });

  /** Two agents whose connections reached two different worker processes. */
  async function pinned(): Promise<[http.Agent, http.Agent]> {
    const byPid = new Map<number, http.Agent>();
    for (let i = 0; i < 8 && byPid.size < 2; i++) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      agents.push(agent);
      const health = await request(agent, `${ready.url}/_orgbox/health`);
      expect(health.status).toBe(200);
      if (!byPid.has(health.body.pid as number)) byPid.set(health.body.pid as number, agent);
    }
    expect(byPid.size).toBe(2);
    return [...byPid.values()] as [http.Agent, http.Agent];
  }

  it("starts both workers at once on an empty database (one seeds, under the startup lock), prints one ready line for the port the primary bound, and each worker answers on it", async () => {
    expect(ready.workers).toBe(2);
    expect(ready.url).toBe(`http://localhost:${ready.port}`);
    expect(ready.port).toBeGreaterThan(0);
    const [one, two] = await pinned();
    const pids = [(await request(one, `${ready.url}/_orgbox/health`)).body.pid, (await request(two, `${ready.url}/_orgbox/health`)).body.pid];
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(child.pid);
    // One first signing key, not one per worker: both see the same single key.
    for (const agent of [one, two]) {
      const jwks = await request(agent, `${ready.url}/${ready.tenantId}/discovery/v2.0/keys`);
      expect((jwks.body.keys as unknown[]).length).toBe(1);
    }
  });

  it("a secret added with Graph on one worker works on the other at once; a token from one is accepted by the other", async () => {
    const [one, two] = await pinned();
    const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
    const formHeaders = { "content-type": "application/x-www-form-urlencoded" };
    const graph = await request(one, `${ready.url}/${ready.tenantId}/oauth2/v2.0/token`, "POST", formHeaders, form({ grant_type: "client_credentials", client_id: DEMO.graphAdmin.clientId, client_secret: DEMO.graphAdmin.clientSecret, scope: "https://graph.microsoft.com/.default" }));
    const bearer = { authorization: `Bearer ${graph.body.access_token as string}` };
    // Warm the second worker's directory cache for the demo app.
    const tokenOn = (agent: http.Agent, secret: string) => request(agent, `${ready.url}/${ready.tenantId}/oauth2/token`, "POST", formHeaders, form({ grant_type: "client_credentials", client_id: DEMO.app.clientId, client_secret: secret, resource: ready.orgUrl }));
    expect((await tokenOn(two, DEMO.app.clientSecret)).status).toBe(200);

    const app = await request(one, `${ready.url}/graph/v1.0/applications(appId='${DEMO.app.clientId}')?$select=id`, "GET", bearer);
    const added = await request(one, `${ready.url}/graph/v1.0/applications/${String(app.body.id)}/addPassword`, "POST", { ...bearer, "content-type": "application/json" }, JSON.stringify({ passwordCredential: { displayName: "worker one" } }));
    expect(added.status).toBe(200);
    const issued = await tokenOn(two, added.body.secretText as string);
    expect(issued.status).toBe(200);

    const who = await request(one, `${ready.apiUrl}/WhoAmI`, "GET", { authorization: `Bearer ${issued.body.access_token as string}`, accept: "application/json" });
    expect(who.status).toBe(200);
    expect(who.body.UserId).toBeTypeOf("string");
  });

  it("a key rotated by the offline CLI signs on both workers at their next request", async () => {
    const [one, two] = await pinned();
    const run = await orgboxCli(["keys", "rotate", "--store-url", database.url, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const { kid } = JSON.parse(run.stdout) as { kid: string };
    for (const agent of [one, two]) {
      const issued = await request(agent, `${ready.url}/${ready.tenantId}/oauth2/token`, "POST", { "content-type": "application/x-www-form-urlencoded" }, new URLSearchParams({ grant_type: "client_credentials", client_id: DEMO.app.clientId, client_secret: DEMO.app.clientSecret, resource: ready.orgUrl }).toString());
      expect(decodeProtectedHeader(issued.body.access_token as string).kid).toBe(kid);
    }
  });

  it("refuses reset and snapshots on every worker, naming why (409 conflict)", async () => {
    for (const agent of await pinned()) {
      const reset = await request(agent, `${ready.url}/_orgbox/reset`, "POST", { authorization: `Bearer ${ADMIN_KEY}` });
      expect(reset.status).toBe(409);
      expect(reset.body).toMatchObject({ error: "conflict" });
      expect(String(reset.body.error_description)).toMatch(/reset is not available while 2 orgbox processes serve this store/);
      const snapshot = await request(agent, `${ready.url}/_orgbox/snapshots`, "POST", { authorization: `Bearer ${ADMIN_KEY}` });
      expect(snapshot.status).toBe(409);
    }
  });

  it("refuses more than one worker without PostgreSQL, naming why; the default is one per core on PostgreSQL without adminKey", async () => {
    expect(() => resolveConfig({ workers: 2, inMemory: true })).toThrow(/--workers 2 needs a PostgreSQL store \(--store-url\)/);
    expect(() => resolveConfig({ workers: "2" }, {})).toThrow(/SQLITE_BUSY/);
    expect(resolveConfig({}, { ORGBOX_WORKERS: "3", ORGBOX_STORE_URL: database.url }).workers).toBe(3);
    const { workerCount } = await import("../../src/cli/workers.ts");
    const { availableParallelism } = await import("node:os");
    expect(workerCount({ workers: undefined, storeUrl: database.url, adminKey: undefined })).toBe(availableParallelism());
    expect(workerCount({ workers: undefined, storeUrl: database.url, adminKey: "k".repeat(16) })).toBe(1);
    expect(workerCount({ workers: undefined, storeUrl: undefined, adminKey: undefined })).toBe(1);
  });

  it("stops every worker on SIGTERM and exits 0", async () => {
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    expect((await exited)[0]).toBe(0);
    await expect(fetch(`${ready.url}/_orgbox/health`)).rejects.toThrow();
  });
});
