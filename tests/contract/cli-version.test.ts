/**
 * Issue 17: `orgbox --version` / `-V` print the package's version, and the `orgbox` command on a Node
 * older than the floor (22.13) exits at once with a message naming both versions, instead of
 * ERR_UNKNOWN_FILE_EXTENSION ".ts" or a syntax error. The machine's own Node (/usr/bin/node, 20 here)
 * plays the old Node; the installed package's bin is checked the same way in package-install.test.ts.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { orgboxCli } from "../helpers/cli.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const VERSION = (JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")) as { version: string }).version;

/** The machine's own Node when it is older than 22.13, else undefined. */
function oldNode(): { path: string; version: string } | undefined {
  const path = "/usr/bin/node";
  if (!existsSync(path)) return undefined;
  const version = spawnSync(path, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout.trim();
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major < 22 || (major === 22 && minor < 13) ? { path, version } : undefined;
}

describe("orgbox --version", () => {
  for (const flag of ["--version", "-V"]) {
    it(`${flag} prints the package version and exits 0`, async () => {
      const result = await orgboxCli([flag]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe(`${VERSION}\n`);
    });
  }
});

describe("on a Node older than 22.13", () => {
  const node = oldNode();
  it.skipIf(node === undefined)("the CLI exits 1 at once with 'orgbox needs Node.js 22.13 or newer (found …)' on stderr", () => {
    const { path, version } = node as { path: string; version: string };
    for (const args of [["--version"], ["start", "--port", "0", "--in-memory"]]) {
      const result = spawnSync(path, [resolve(ROOT, "bin/orgbox.js"), ...args], { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } });
      expect(result.status).toBe(1);
      expect(result.stderr).toBe(`orgbox needs Node.js 22.13 or newer (found ${version})\n`);
      expect(result.stdout).toBe("");
    }
  });
});
