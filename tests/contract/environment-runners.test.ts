/**
 * Issue 6: the drop-in set-ups of `examples/runners/` work as documented: the
 * node:test example, the Vitest globalSetup and the Jest globalSetup/globalTeardown
 * pair run as real test runs (and the Jest pair is also called as Jest calls it), and
 * the GitHub Actions script fills a `$GITHUB_ENV` file. Here `import "orgbox"` is the
 * sources (vitest.config.ts); tests/contract/package-install.test.ts runs the same
 * examples against the installed package.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { processAlive, processGone } from "../helpers/processes.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const RUNNERS = join(ROOT, "examples/runners");
const APP = { clientId: "fab00000-0000-4000-8000-0000f00d0001", secret: "fabrikam-sync-secret-1" };

async function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env } });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, output };
}

async function appToken(url: string, tenant: string, org: string): Promise<string> {
  const res = await fetch(`${url}/${tenant}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: APP.clientId, client_secret: APP.secret, scope: `${org}/.default` }) });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`token: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

describe("examples/runners", () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-runners-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("node:test: before() starts orgbox, the test passes, after() closes it", async () => {
    const result = await run(process.execPath, ["--test", join(RUNNERS, "node-test.example.mjs")]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/pass 1/);
  }, 20_000);

  it("Vitest: the globalSetup provides the URLs and trusts the CA in the workers", async () => {
    const result = await run(process.execPath, [join(ROOT, "node_modules/vitest/vitest.mjs"), "run", "--config", join(ROOT, "tests/helpers/vitest-example.config.mjs")]);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/1 passed/);
  }, 20_000);

  it("Jest: globalSetup starts orgbox and sets ORGBOX_* variables; globalTeardown closes it", async () => {
    const saved = { ...process.env };
    const { default: setup } = (await import(join(RUNNERS, "jest.global-setup.mjs"))) as { default: () => Promise<void> };
    const { default: teardown } = (await import(join(RUNNERS, "jest.global-teardown.mjs"))) as { default: () => Promise<void> };
    try {
      await setup();
      const url = process.env.ORGBOX_URL as string;
      expect(process.env.ORGBOX_AUTHORITY).toBe(`${url}/00a70000-0000-4000-8000-000000000001`); // the first org's tenant (northwind)
      expect(process.env.NODE_EXTRA_CA_CERTS).toMatch(/ca\.pem$/);
      const org = process.env.ORGBOX_ORG_URL as string;
      const who = await fetch(`${org}/api/data/v9.2/WhoAmI`, { headers: { authorization: `Bearer ${await appToken(url, "northwind.onmicrosoft.com", org)}` } });
      expect(who.status).toBe(200);
      await teardown();
      await expect(fetch(`${url}/_orgbox/health`)).rejects.toThrow();
    } finally {
      await teardown();
      process.env = saved;
    }
  });

  it("Jest: the example test passes in Jest's own process (one test file) with no NODE_EXTRA_CA_CERTS set beforehand", async () => {
    const env = { ...process.env };
    delete env.NODE_EXTRA_CA_CERTS;
    const child = spawn(process.execPath, [join(ROOT, "node_modules/jest/bin/jest.js"), "--config", join(RUNNERS, "jest.config.mjs")], { cwd: ROOT, env });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code, output).toBe(0);
    expect(output).toMatch(/Tests:\s+1 passed, 1 total/);
  }, 30_000);

  it("GitHub Actions: the start script (npx orgbox) waits for the ready line and appends the variables to $GITHUB_ENV; ORGBOX_PID is orgbox's own", async () => {
    const githubEnv = join(dir, "github-env");
    // The default ORGBOX_CMD, `npx orgbox`: the background process is npx, not orgbox.
    const result = await run("bash", [join(RUNNERS, "github-actions-start.sh"), "examples/isv-multitenant.orgbox.yaml"], {
      GITHUB_ENV: githubEnv,
      ORGBOX_LOG: join(dir, "orgbox.log"),
      PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`,
    });
    expect(result.code, result.output).toBe(0);
    const vars = Object.fromEntries(readFileSync(githubEnv, "utf8").trim().split("\n").map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]));
    expect(Object.keys(vars).sort()).toEqual(["NODE_EXTRA_CA_CERTS", "ORGBOX_AUTHORITY", "ORGBOX_ORG_URL", "ORGBOX_PID", "ORGBOX_URL"]);
    const pid = Number(vars.ORGBOX_PID);
    try {
      expect(vars.ORGBOX_ORG_URL).toBe(`${vars.ORGBOX_URL}/org/northwind`);
      expect(readFileSync(vars.NODE_EXTRA_CA_CERTS as string, "utf8")).toContain("BEGIN CERTIFICATE");
      const who = await fetch(`${vars.ORGBOX_ORG_URL}/api/data/v9.2/WhoAmI`, { headers: { authorization: `Bearer ${await appToken(vars.ORGBOX_URL as string, "northwind.onmicrosoft.com", vars.ORGBOX_ORG_URL as string)}` } });
      expect(who.status).toBe(200);
      // A later step stops orgbox with `kill "$ORGBOX_PID"`: the server goes away with it.
      process.kill(pid, "SIGTERM");
      expect(await processGone(pid)).toBe(true);
      await expect(fetch(`${vars.ORGBOX_URL}/_orgbox/health`)).rejects.toThrow();
    } finally {
      if (processAlive(pid)) process.kill(pid, "SIGKILL");
    }
  }, 30_000);

  it("GitHub Actions: the start script fails with orgbox's error when the environment file is bad, and without GITHUB_ENV", async () => {
    const githubEnv = join(dir, "github-env-bad");
    const bad = await run("bash", [join(RUNNERS, "github-actions-start.sh"), "examples/no-such-file.orgbox.yaml"], { GITHUB_ENV: githubEnv, ORGBOX_CMD: `${process.execPath} ${join(ROOT, "bin/orgbox.js")}`, ORGBOX_LOG: join(dir, "bad.log") });
    expect(bad.code).toBe(1);
    expect(bad.output).toContain("orgbox exited before it was ready");
    expect(bad.output).toContain("no-such-file.orgbox.yaml");
    const noEnv = await run("bash", [join(RUNNERS, "github-actions-start.sh"), "examples/isv-multitenant.orgbox.yaml"], { GITHUB_ENV: "" });
    expect(noEnv.code).not.toBe(0);
    expect(noEnv.output).toContain("GITHUB_ENV");
  }, 20_000);
});
