/**
 * The proxy from the command line: `orgbox start` prints `proxyUrl` in its ready line (off with `--no-proxy`),
 * `orgbox env` prints the shell lines for a proxy at `port + 1` (or `--proxy-port`) and the CA, and refuses when
 * there is no fixed proxy URL to print.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { orgboxCli } from "../helpers/cli.ts";

const CLI = resolve(import.meta.dirname, "../../bin/orgbox.js");
const caDir = mkdtempSync(join(tmpdir(), "orgbox-proxy-cli-"));
const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});
afterAll(() => rmSync(caDir, { recursive: true, force: true }));

async function readyLine(args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; ready: Record<string, unknown> }> {
  const child = spawn(process.execPath, [CLI, "start", "--json", "--port", "0", "--in-memory", "--ca-dir", join(caDir, "ca"), "--log-level", "silent", ...args], { env: { ...process.env, ORGBOX_JSON: "" } });
  children.push(child);
  const next = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
  return { child, ready: JSON.parse(String(next.value)) as Record<string, unknown> };
}

describe("the proxy from the CLI", () => {
  it("start --json: proxyUrl and cloudOrgUrl in the ready line, and the proxy answers as login.microsoftonline.com", async () => {
    const { child, ready } = await readyLine([]);
    expect(ready.proxyUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.cloudOrgUrl).toBe("https://contoso.crm.dynamics.com");
    expect(ready.proxyUrl).not.toBe(ready.url);
    const { execFile } = await import("node:child_process");
    const out = await new Promise<string>((done, fail) =>
      execFile("curl", ["-sS", "--proxy", ready.proxyUrl as string, "--cacert", ready.caCertPath as string, `https://login.microsoftonline.com/${String(ready.tenantId)}/v2.0/.well-known/openid-configuration`], (error, stdout) => (error ? fail(error) : done(stdout))),
    );
    expect(JSON.parse(out).issuer).toBe(`https://login.microsoftonline.com/${String(ready.tenantId)}/v2.0`);
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    expect((await exited)[0]).toBe(0);
  });

  it("start --json --print-env: the variables as an env object in the ready line", async () => {
    const { child, ready } = await readyLine(["--print-env"]);
    expect(ready.env).toMatchObject({ HTTPS_PROXY: ready.proxyUrl, NODE_USE_ENV_PROXY: "1", NODE_EXTRA_CA_CERTS: ready.caCertPath });
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    await exited;
  });

  it("start --no-proxy: proxyUrl null", async () => {
    const { child, ready } = await readyLine(["--no-proxy"]);
    expect(ready.proxyUrl).toBeNull();
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    await exited;
  });

  it("env: HTTPS_PROXY at port + 1, Node's, Python's, OpenSSL's, curl's and Java's variables, and a CA bundle", async () => {
    const dir = join(caDir, "env-ca");
    const result = await orgboxCli(["env", "--port", "9443", "--ca-dir", dir]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split("\n").filter((l) => l.startsWith("export "));
    expect(lines).toEqual([
      "export HTTPS_PROXY=http://127.0.0.1:9444",
      "export https_proxy=http://127.0.0.1:9444",
      "export NO_PROXY=localhost,127.0.0.1,::1",
      "export NODE_USE_ENV_PROXY=1",
      `export NODE_EXTRA_CA_CERTS=${dir}/ca.pem`,
      `export REQUESTS_CA_BUNDLE=${dir}/ca-bundle.pem`,
      `export SSL_CERT_FILE=${dir}/ca-bundle.pem`,
      `export CURL_CA_BUNDLE=${dir}/ca-bundle.pem`,
      expect.stringMatching(/^export JAVA_TOOL_OPTIONS='-Dhttps\.proxyHost=127\.0\.0\.1 -Dhttps\.proxyPort=9444 .*-Djavax\.net\.ssl\.trustStore=/),
    ]);
    const bundle = readFileSync(join(dir, "ca-bundle.pem"), "utf8");
    expect(bundle.endsWith(readFileSync(join(dir, "ca.pem"), "utf8"))).toBe(true);
    expect(bundle.split("BEGIN CERTIFICATE").length).toBeGreaterThan(100);
    const json = await orgboxCli(["env", "--proxy-port", "7000", "--ca-dir", dir, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ HTTPS_PROXY: "http://127.0.0.1:7000", NODE_USE_ENV_PROXY: "1" });
    const ps = await orgboxCli(["env", "--ca-dir", dir, "--shell", "powershell"]);
    expect(ps.stdout).toContain("$env:HTTPS_PROXY = 'http://127.0.0.1:8444'");
  });

  it("env refuses when the proxy is off or its port is chosen at start (exit 2)", async () => {
    const dir = join(caDir, "env-ca2");
    const off = await orgboxCli(["env", "--ca-dir", dir], { ORGBOX_PROXY: "false" });
    expect(off.code).toBe(2);
    expect(off.stderr).toMatch(/the proxy is off/);
    const free = await orgboxCli(["env", "--port", "0", "--ca-dir", dir]);
    expect(free.code).toBe(2);
    expect(free.stderr).toMatch(/chosen at start/);
    expect(existsSync(join(dir, "ca-bundle.pem"))).toBe(false);
  });
});
