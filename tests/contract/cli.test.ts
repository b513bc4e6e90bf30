/**
 * Issue 2: `orgbox start --json --port 0 --in-memory` as a real child process.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";

const CLI = resolve(import.meta.dirname, "../../bin/orgbox.js");

interface Ready {
  event: string;
  url: string;
  tenantId: string;
  tenantDomain: string;
  authority: string;
  orgUrl: string;
  apiUrl: string;
  caCertPath: string | null;
  demo: { clientId: string; clientSecret: string; username: string; password: string };
}

const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

function run(args: string[], env: NodeJS.ProcessEnv = {}): { child: ChildProcessWithoutNullStreams; lines: AsyncIterableIterator<string>; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
  children.push(child);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, lines, stderr: () => stderr };
}

async function firstLine(lines: AsyncIterableIterator<string>, stderr: () => string): Promise<string> {
  const next = await lines.next();
  if (next.done) throw new Error(`no output; stderr: ${stderr()}`);
  return next.value;
}

describe("orgbox CLI", () => {
  it("start --json prints one ready line, serves requests, and exits 0 on SIGTERM", async () => {
    const { child, lines, stderr } = run(["start", "--json", "--port", "0", "--in-memory"]);
    const ready = JSON.parse(await firstLine(lines, stderr)) as Ready;
    expect(ready.event).toBe("ready");
    expect(ready.url).toMatch(/^https:\/\/localhost:\d+$/);
    expect(ready.authority).toBe(`${ready.url}/${ready.tenantId}`);
    expect(ready.orgUrl).toBe(`${ready.url}/org/contoso`);
    expect(ready.apiUrl).toBe(`${ready.orgUrl}/api/data/v9.2`);
    expect(ready.tenantDomain).toBe("contoso.onmicrosoft.com");
    expect(readFileSync(ready.caCertPath as string, "utf8")).toContain("BEGIN CERTIFICATE");

    const token = await fetch(`${ready.authority}/oauth2/v2.0/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: ready.demo.clientId, client_secret: ready.demo.clientSecret, scope: `${ready.orgUrl}/.default` }),
    });
    expect(token.status).toBe(200);
    const { access_token } = (await token.json()) as { access_token: string };
    const leads = await fetch(`${ready.apiUrl}/leads?$select=subject`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(leads.status).toBe(200);

    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(0);
    // Only the ready line went to stdout.
    expect((await lines.next()).done).toBe(true);
  });

  it("reads ORGBOX_* variables, serves plain HTTP with --http, and persists to --data", async () => {
    const dir = mkdtempSync(join(tmpdir(), "orgbox-cli-"));
    try {
      const { child, lines, stderr } = run(["start", "--http", "--port", "0", "--data", dir], { ORGBOX_JSON: "1", ORGBOX_LOG_LEVEL: "silent" });
      const ready = JSON.parse(await firstLine(lines, stderr)) as Ready;
      expect(ready.url).toMatch(/^http:\/\/localhost:\d+$/);
      expect(ready.caCertPath).toBeNull();
      const health = await fetch(`${ready.url}/_orgbox/health`);
      expect(await health.json()).toEqual({ status: "ok", pid: child.pid });
      const exited = once(child, "exit");
      child.kill("SIGINT");
      expect((await exited)[0]).toBe(0);
      expect(readFileSync(join(dir, "orgbox.sqlite")).length).toBeGreaterThan(0);

      // A second start on the same data reuses the seeded store.
      const again = run(["start", "--http", "--port", "0", "--data", dir, "--json", "--log-level", "silent"]);
      const ready2 = JSON.parse(await firstLine(again.lines, again.stderr)) as Ready;
      expect(ready2.tenantId).toBe(ready.tenantId);
      const exited2 = once(again.child, "exit");
      again.child.kill("SIGTERM");
      expect((await exited2)[0]).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails at start with exit code 2 and a clear message for a bad combination", async () => {
    const { child, stderr } = run(["start", "--in-memory", "--data", "/tmp/x", "--port", "0"]);
    const [code] = await once(child, "exit");
    expect(code).toBe(2);
    expect(stderr()).toContain("--in-memory and --data cannot be combined");
  });

  it("fails with exit code 2 for an invalid port from the environment", async () => {
    const { child, stderr } = run(["start", "--in-memory"], { ORGBOX_PORT: "70000" });
    const [code] = await once(child, "exit");
    expect(code).toBe(2);
    expect(stderr()).toMatch(/invalid configuration in environment.*port/);
  });

  it("start without --json prints a banner with the URLs, demo credentials and the trust line", async () => {
    const { child, lines, stderr } = run(["start", "--port", "0", "--in-memory", "--log-level", "silent"]);
    const banner: string[] = [];
    for (let line = await firstLine(lines, stderr); !line.includes("Stop with Ctrl+C"); line = await firstLine(lines, stderr)) banner.push(line);
    const text = banner.join("\n");
    expect(text).toMatch(/Identity URL +https:\/\/localhost:\d+/);
    expect(text).toMatch(/Org URL +https:\/\/localhost:\d+\/org\/contoso/);
    expect(text).toContain("contoso.onmicrosoft.com");
    expect(text).toContain("Demo client id  c0de0000-0000-4000-8000-00000000a001");
    expect(text).toMatch(/export NODE_EXTRA_CA_CERTS=\S+ca\.pem/);
    const exited = once(child, "exit");
    child.kill("SIGINT");
    expect((await exited)[0]).toBe(0);
  });

  it("cert prints the CA path and trust steps for Node, Python and curl", async () => {
    const { child, lines, stderr } = run(["cert", "--in-memory", "--json"]);
    const info = JSON.parse(await firstLine(lines, stderr)) as { caCertPath: string; node: string; python: string; curl: string };
    expect(info.node).toBe(`NODE_EXTRA_CA_CERTS=${info.caCertPath}`);
    expect(info.python).toBe(`REQUESTS_CA_BUNDLE=${info.caCertPath}`);
    expect(info.curl).toBe(`--cacert ${info.caCertPath}`);
    expect((await once(child, "exit"))[0]).toBe(0);
  });
});
