/**
 * Issue 17: `trustCa(orgbox)` makes a running process trust orgbox's local CA (what a Jest globalSetup
 * needs when Jest runs the tests in its own process), and the processes it starts afterwards
 * (NODE_EXTRA_CA_CERTS, bundled with a file that variable already named). Each case runs in a fresh
 * Node process that did not start trusting the CA: this test process does (tests/global-setup.ts).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createTestCertificate } from "../helpers/certificates.ts";

const INDEX = resolve(import.meta.dirname, "../../src/index.ts");

/** The child: fetch before and after trustCa(), then a grandchild's fetch; prints one JSON line. */
const SCRIPT = `
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startOrgbox, trustCa } from ${JSON.stringify(INDEX)};
const orgbox = await startOrgbox({ http: process.env.CASE_HTTP === "1" });
const health = () => fetch(orgbox.url + "/_orgbox/health").then((r) => r.status, (e) => e.cause?.code ?? String(e));
const before = await health();
trustCa(orgbox);
const after = await health();
// Not spawnSync: orgbox answers from this process's event loop.
const child = await promisify(execFile)(process.execPath, ["-e", "fetch(process.argv[1]).then((r) => console.log(r.status), (e) => console.log(e.cause?.code ?? e))", orgbox.url + "/_orgbox/health"], { encoding: "utf8" });
await orgbox.close();
console.log(JSON.stringify({ before, after, child: child.stdout.trim(), extra: process.env.NODE_EXTRA_CA_CERTS ?? null, caCertPath: orgbox.caCertPath ?? null }));
`;

describe("trustCa", () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-trust-test-"));
  const script = join(dir, "child.mts");
  writeFileSync(script, SCRIPT);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function child(env: Record<string, string | undefined>): Promise<{ before: number | string; after: number | string; child: string; extra: string | null; caCertPath: string | null }> {
    const childEnv = { ...process.env, ...env };
    for (const [key, value] of Object.entries(env)) if (value === undefined) delete childEnv[key];
    const proc = spawn(process.execPath, [script], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(proc, "exit")) as [number | null];
    expect(code, stderr).toBe(0);
    return JSON.parse(stdout.trim().split("\n").pop() as string);
  }

  it("a process that did not start trusting the CA trusts it from then on, and so do the processes it starts", async () => {
    const result = await child({ NODE_EXTRA_CA_CERTS: undefined });
    expect(result.before).toBe("SELF_SIGNED_CERT_IN_CHAIN");
    expect(result.after).toBe(200);
    expect(result.child).toBe("200");
    expect(result.extra).toBe(result.caCertPath);
  });

  it("NODE_EXTRA_CA_CERTS that named another file becomes a private bundle of that file and orgbox's CA", async () => {
    const other = join(dir, "other-ca.pem");
    const otherPem = (await createTestCertificate()).certificatePem.trim();
    writeFileSync(other, `${otherPem}\n`);
    const result = await child({ NODE_EXTRA_CA_CERTS: other });
    expect(result.before).toBe("SELF_SIGNED_CERT_IN_CHAIN");
    expect(result.after).toBe(200);
    expect(result.child).toBe("200");
    expect(result.extra).not.toBe(other);
    const bundle = readFileSync(result.extra as string, "utf8");
    expect(bundle).toContain(otherPem);
    expect(bundle).toContain(readFileSync(result.caCertPath as string, "utf8").trim());
    expect(statSync(result.extra as string).mode & 0o077).toBe(0);
  });

  it("does nothing for an orgbox served over plain HTTP", async () => {
    const result = await child({ NODE_EXTRA_CA_CERTS: undefined, CASE_HTTP: "1" });
    expect(result).toMatchObject({ before: 200, after: 200, child: "200", extra: null, caCertPath: null });
  });
});
