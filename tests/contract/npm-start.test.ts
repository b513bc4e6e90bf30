/**
 * Issue 17, "Stopping": `npm start` is how the README starts orgbox, and supervisors (a CI step, a
 * process manager, Ctrl+C in a terminal that signals only npm) stop it by signalling npm's process.
 * npm forwards SIGTERM and SIGINT to its script's shell; the script `exec`s orgbox, so the signal
 * reaches orgbox, which closes and exits, instead of being left running under pid 1.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { processAlive, processGone } from "../helpers/processes.ts";

const ROOT = resolve(import.meta.dirname, "../..");

describe("npm start", () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-npm-start-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal} to npm's process stops orgbox (no orphan left running)`, async () => {
      const npm = spawn("npm", ["start", "--", "--port", "0", "--data", join(dir, signal), "--http", "--json", "--log-level", "warn"], {
        cwd: ROOT,
        env: { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`, ORGBOX_JSON: "" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      npm.stderr.on("data", (d: Buffer) => (output += d.toString()));
      const exited = once(npm, "exit") as Promise<[number | null, string | null]>;
      // The ready line is orgbox's JSON among npm's own "> orgbox@… start" lines.
      const ready = await new Promise<{ pid: number; url: string }>((done, fail) => {
        let stdout = "";
        npm.stdout.on("data", (d: Buffer) => {
          stdout += d.toString();
          const line = stdout.split("\n").find((l) => l.startsWith('{"event":"ready"'));
          if (line) done(JSON.parse(line) as { pid: number; url: string });
        });
        void exited.then(([code]) => fail(new Error(`npm start exited (${code}) before orgbox was ready: ${stdout}${output}`)));
      });
      try {
        expect(ready.pid).not.toBe(npm.pid);
        expect((await fetch(`${ready.url}/_orgbox/health`)).status).toBe(200);
        npm.kill(signal);
        expect(await processGone(ready.pid), `orgbox (pid ${ready.pid}) still runs after npm got ${signal}`).toBe(true);
        await expect(fetch(`${ready.url}/_orgbox/health`)).rejects.toThrow();
        await exited;
      } finally {
        if (processAlive(ready.pid)) process.kill(ready.pid, "SIGKILL");
        if (npm.exitCode === null && npm.signalCode === null) npm.kill("SIGKILL");
      }
    }, 30_000);
  }
});
