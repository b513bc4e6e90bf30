/**
 * Issue 17, "first-hour details": what a new user meets on the command line. One exit code (2) for bad input
 * whoever catches it (commander or orgbox), validation messages in words, `--data` defaulting to `./.orgbox`
 * for every command that opens a store, and a port in use said in words.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { DEMO, startOrgbox } from "../../src/index.ts";
import { orgboxCli } from "../helpers/cli.ts";

const NO_STORE_ENV = { ORGBOX_DATA: "", ORGBOX_STORE_URL: "", ORGBOX_URL: "" };

describe("orgbox CLI: bad input", { timeout: 60_000 }, () => {
  it.each([
    [["start", "--bogus"], /unknown option '--bogus'/],
    [["frob"], /unknown command 'frob'/],
    [["start", "--log-level", "nope"], /argument 'nope' is invalid/],
    [["role", "list", "--bogus"], /unknown option '--bogus'/],
    [["appuser", "create", "--what"], /unknown option '--what'/],
    [["keys", "rotate", "--nope"], /unknown option '--nope'/],
    [["start", "--port", "abc", "--in-memory"], /port: Invalid input: expected number, received NaN/],
  ])("orgbox %j exits 2 with the reason", async (args, message) => {
    const run = await orgboxCli(args as string[], NO_STORE_ENV);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(2);
  });

  it("--help still exits 0", async () => {
    const run = await orgboxCli(["start", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("--port <port>");
  });
});

describe("orgbox CLI: --data defaults to ./.orgbox for every command that opens a store", { timeout: 120_000 }, () => {
  const cwd = mkdtempSync(join(tmpdir(), "orgbox-cwd-"));
  beforeAll(async () => {
    // What `orgbox start` run in `cwd` leaves behind.
    await (await startOrgbox({ dataDir: join(cwd, ".orgbox"), inMemory: false, caDir: defaultTempCaDir(), port: 0 })).close();
  });
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it("directory, security and export commands find the store in ./.orgbox", async () => {
    const tenants = await orgboxCli(["tenant", "list", "--json"], NO_STORE_ENV, cwd);
    expect(tenants.stderr).toBe("");
    expect((JSON.parse(tenants.stdout) as { id: string }[]).map((t) => t.id)).toContain(DEMO.tenantId);
    const roles = await orgboxCli(["role", "list", "--json"], NO_STORE_ENV, cwd);
    expect(roles.code, roles.stderr).toBe(0);
    expect((JSON.parse(roles.stdout) as { name: string }[]).map((r) => r.name)).toContain("System Administrator");
    const exported = await orgboxCli(["export", "--format", "json"], NO_STORE_ENV, cwd);
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ tenants: expect.any(Array) });
  });

  it("without ./.orgbox, says where it looked and exits 2", async () => {
    const empty = mkdtempSync(join(tmpdir(), "orgbox-cwd-empty-"));
    try {
      const run = await orgboxCli(["user", "list", "--tenant", DEMO.tenantDomain], NO_STORE_ENV, empty);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("no orgbox store in './.orgbox'");
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe("orgbox start: port in use", { timeout: 60_000 }, () => {
  let taken: Server;
  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((done) => taken.listen(0, "127.0.0.1", done));
  });
  afterAll(() => new Promise<void>((done) => taken.close(() => done())));

  it("says EADDRINUSE in words, suggests --port 0, exits 1 without a stack trace", async () => {
    const port = (taken.address() as AddressInfo).port;
    const run = await orgboxCli(["start", "--in-memory", "--port", String(port), "--log-level", "silent"]);
    expect(run.stderr).toContain(`port ${port} is already in use on 127.0.0.1 (EADDRINUSE)`);
    expect(run.stderr).toContain("--port 0");
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(1);
  });

  it("startOrgbox rejects with the same words", async () => {
    const port = (taken.address() as AddressInfo).port;
    await expect(startOrgbox({ port, caDir: defaultTempCaDir() })).rejects.toThrow(/already in use .*EADDRINUSE.*--port 0/);
  });
});
