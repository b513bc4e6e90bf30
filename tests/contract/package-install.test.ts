/**
 * Issue 17, "Installable": what `npm pack` produces is what a user installs, and it works there.
 *
 * `npm pack` runs in this repository (its `prepack` builds dist/, which stays there, gitignored, unused
 * by the repository's own scripts and tests); the tarball is installed with
 * `npm ci --offline` into a fresh project under the temp folder, outside the repository, so nothing of
 * the repository's node_modules is visible to it. The project's lockfile is cut from this repository's
 * package-lock.json (the same versions, whose tarballs are in npm's cache after `npm ci`): only
 * orgbox's `dependencies` and what they need, none of its devDependencies. Then, in that project, on
 * the pinned Node 24: `npx orgbox --version`; `npx orgbox start --json --port 0` answering
 * @azure/msal-node and the Web API; a strict TypeScript check of a file importing "orgbox"; and the
 * test-runner set-ups of examples/runners/ as shipped in the
 * package (Vitest, Jest, node:test), without NODE_EXTRA_CA_CERTS set beforehand. The runners are the
 * user's own dev dependencies: they (and typescript, @types/node) are linked from this repository
 * rather than installed again. The installed bin is also run on the machine's Node 20, for the floor.
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { isBuiltin } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, relative, resolve } from "node:path";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processAlive } from "../helpers/processes.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const PACKAGE = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { name: string; version: string; license: string; bin: Record<string, string>; engines: Record<string, string>; dependencies: Record<string, string> };
const TARBALL = `${PACKAGE.name}-${PACKAGE.version}.tgz`;
/** What a user's project has as dev dependencies (linked from this repository): test runners, TypeScript. */
const DEV_TOOLS = ["vitest", "jest", "typescript", "@types/node"];

/**
 * The environment of the user's shell: the pinned Node first on PATH (for `npx` and the bin's
 * `#!/usr/bin/env node`), and none of what this test process carries: what `npm test` tells its
 * script about this repository (`npm_package_*`, `npm_lifecycle_*`, the local prefix; npm's own
 * settings, `npm_config_*` such as the cache folder, stay), Vitest's, the suite's NODE_OPTIONS (its `orgbox-source`
 * condition would send `import "orgbox"` to the sources, which the package does not have) and
 * NODE_EXTRA_CA_CERTS (the set-ups must trust orgbox's CA on their own).
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_(package|lifecycle)_|npm_(command|execpath|node_execpath|config_local_prefix|config_user_agent)$|VITEST|NODE_OPTIONS$|NODE_EXTRA_CA_CERTS$|INIT_CWD$|ORGBOX_)/i.test(key)) continue;
    env[key] = value;
  }
  env.PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`;
  env.NO_COLOR = "1";
  delete env.FORCE_COLOR;
  return env;
}

/** Runs a command to its end; resolves to its exit code and output. */
async function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = userEnv()): Promise<{ code: number | null; stdout: string; output: string }> {
  const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let output = "";
  child.stdout.on("data", (d: Buffer) => ((stdout += d.toString()), (output += d.toString())));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stdout, output };
}

interface LockEntry {
  name?: string;
  version?: string;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
}

/**
 * package.json and package-lock.json of a project that depends on the tarball (and on `devDependencies`,
 * at this repository's versions): the lockfile holds this repository's entries for exactly what those
 * need, at the same node_modules paths, with registry URLs (this repository's lockfile leaves them out,
 * and `npm ci --offline` needs them to find the tarballs in its cache without the registry's metadata).
 */
function writeProject(dir: string, devDependencies: string[]): void {
  const lock = (JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockEntry> }).packages;
  const picked: Record<string, LockEntry> = {};
  /** Where Node finds `name` from the package at `from` (a lockfile path), walking up its node_modules. */
  const find = (from: string, name: string): string | undefined => {
    for (let at = from; ; at = at.includes("/node_modules/") ? at.slice(0, at.lastIndexOf("/node_modules/")) : "") {
      const path = `${at ? `${at}/` : ""}node_modules/${name}`;
      if (lock[path]) return path;
      if (!at) return undefined;
    }
  };
  const pick = (from: string, deps: Record<string, string>, optional: Set<string>) => {
    for (const name of Object.keys(deps)) {
      const path = find(from, name);
      if (path === undefined) {
        if (optional.has(name)) continue;
        throw new Error(`${name}, needed by '${from || "the project"}', is not in package-lock.json`);
      }
      if (picked[path]) continue;
      const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = lock[path] as LockEntry;
      const packageName = entry.name ?? path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
      picked[path] = { resolved: `https://registry.npmjs.org/${packageName}/-/${packageName.split("/").pop()}-${entry.version}.tgz`, ...entry };
      const optionalPeers = Object.entries(entry.peerDependenciesMeta ?? {}).filter(([, meta]) => meta.optional).map(([peer]) => peer);
      const peers = Object.fromEntries(Object.entries(entry.peerDependencies ?? {}).filter(([peer]) => !optionalPeers.includes(peer)));
      pick(path, { ...entry.dependencies, ...entry.optionalDependencies, ...peers }, new Set(Object.keys(entry.optionalDependencies ?? {})));
    }
  };
  pick("", PACKAGE.dependencies, new Set());
  const dev = Object.fromEntries(devDependencies.map((name) => [name, lock[`node_modules/${name}`]?.version as string]));
  pick("", dev, new Set());
  const project = { name: "orgbox-user", version: "1.0.0", private: true, type: "module", dependencies: { orgbox: `file:${TARBALL}` }, devDependencies: dev };
  const orgbox = { version: PACKAGE.version, resolved: `file:${TARBALL}`, license: PACKAGE.license, dependencies: PACKAGE.dependencies, bin: PACKAGE.bin, engines: PACKAGE.engines };
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(project, null, 2)}\n`);
  writeFileSync(join(dir, "package-lock.json"), `${JSON.stringify({ name: project.name, version: project.version, lockfileVersion: 3, requires: true, packages: { "": project, "node_modules/orgbox": orgbox, ...picked } }, null, 2)}\n`);
}

/** Every file under `dir`, as paths relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

/** The machine's own Node when it is older than 22.13 (Node 20 here), else undefined. */
function oldNode(): { path: string; version: string } | undefined {
  if (!existsSync("/usr/bin/node")) return undefined;
  const version = spawnSync("/usr/bin/node", ["-p", "process.versions.node"], { encoding: "utf8" }).stdout.trim();
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major < 22 || (major === 22 && minor < 13) ? { path: "/usr/bin/node", version } : undefined;
}

describe("the npm package, installed into a project of its own", () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-package-"));
  const project = join(dir, "project");
  const installed = join(project, "node_modules/orgbox");
  let tarballFiles: string[] = [];

  beforeAll(async () => {
    const pack = await run("npm", ["pack", "--pack-destination", dir], ROOT);
    expect(pack.code, pack.output).toBe(0);
    const list = spawnSync("tar", ["-tzf", join(dir, TARBALL)], { encoding: "utf8" });
    tarballFiles = list.stdout.trim().split("\n");
    mkdirSync(project);
    cpSync(join(dir, TARBALL), join(project, TARBALL));
    writeProject(project, []);
    const install = await run("npm", ["ci", "--offline", "--no-audit", "--no-fund"], project);
    expect(install.code, install.output).toBe(0);
    // The user's own dev dependencies, linked (after `npm ci`, which would remove them).
    for (const tool of DEV_TOOLS) {
      mkdirSync(dirname(join(project, "node_modules", tool)), { recursive: true });
      symlinkSync(join(ROOT, "node_modules", tool), join(project, "node_modules", tool), "dir");
    }
    // The set-ups as a user copies them out of the package (examples/runners/ next to the environment files).
    cpSync(join(installed, "examples"), join(project, "examples"), { recursive: true });
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("the tarball holds the compiled JavaScript with declarations, the bin, the JSON Schema and the examples; no sources and no tests", () => {
    for (const file of ["bin/orgbox.js", "dist/index.js", "dist/index.d.ts", "dist/cli/main.js", "dist/dataverse/metadata/data/standard-attributes.json", "schema/orgbox-environment.schema.json", "examples/isv-multitenant.orgbox.yaml", "examples/runners/jest.global-setup.mjs", "package.json", "README.md"]) {
      expect(tarballFiles).toContain(`package/${file}`);
    }
    const unexpected = tarballFiles.filter((f) => /^package\/(src|tests|scripts|bench)\//.test(f) || (/\.test\.[cm]?[jt]s$/.test(f) && !f.startsWith("package/examples/")) || (/\.[cm]?ts$/.test(f) && !/\.d\.ts$/.test(f) && !f.startsWith("package/examples/")));
    expect(unexpected).toEqual([]);
  });

  it("exports point at the compiled entry and its types, which exist in the installed package", () => {
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as { exports: { ".": Record<string, string> } };
    const entry = manifest.exports["."];
    expect(entry.types).toBe("./dist/index.d.ts");
    expect(entry.default).toBe("./dist/index.js");
    expect(existsSync(join(installed, entry.types as string)) && existsSync(join(installed, entry.default as string))).toBe(true);
  });

  it("the compiled modules import only Node built-ins and orgbox's dependencies (none of its devDependencies)", () => {
    const imported = new Map<string, string>();
    for (const file of filesUnder(join(installed, "dist")).filter((f) => f.endsWith(".js"))) {
      // Without comments: TSDoc examples such as `import { startOrgbox } from "orgbox"` are not imports.
      const source = readFileSync(join(installed, "dist", file), "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
      for (const match of source.matchAll(/(?:^|[\s;])(?:import|export)\s[^"']*?from\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|^\s*import\s*["']([^"']+)["']/gm)) {
        const specifier = (match[1] ?? match[2] ?? match[3]) as string;
        if (specifier.startsWith(".")) continue;
        imported.set(specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : (specifier.split("/")[0] as string), file);
      }
    }
    expect(imported.size).toBeGreaterThan(5);
    const outside = [...imported].filter(([name]) => !isBuiltin(name) && !(name in PACKAGE.dependencies)).map(([name, file]) => `${name} (dist/${file})`);
    expect(outside).toEqual([]);
  });

  it("a TypeScript project type-checks against the installed declarations (strict)", async () => {
    writeFileSync(
      join(project, "consumer.ts"),
      [
        `import { startOrgbox, trustCa, ManualClock, DEMO, type OrgboxInstance, type StartOptions } from "orgbox";`,
        `const options: StartOptions = { port: 0, config: "examples/isv-multitenant.orgbox.yaml" };`,
        `const orgbox: OrgboxInstance = await startOrgbox(options, { clock: new ManualClock() });`,
        `const urls: string[] = [orgbox.url, orgbox.authority, orgbox.orgUrl, orgbox.apiUrl, DEMO.app.clientId];`,
        `// @ts-expect-error: the port is a number`,
        `await startOrgbox({ port: [8443] });`,
        `trustCa(orgbox);`,
        `await orgbox.close();`,
        `export { urls };`,
        "",
      ].join("\n"),
    );
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({ compilerOptions: { target: "ES2023", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: ["node"] }, files: ["consumer.ts"] }));
    const result = await run(process.execPath, [join(project, "node_modules/typescript/bin/tsc"), "-p", "."], project);
    expect(result.code, result.output).toBe(0);
  }, 60_000);

  it("npx orgbox --version prints the package version", async () => {
    const result = await run("npx", ["--offline", "orgbox", "--version"], project);
    expect(result.code, result.output).toBe(0);
    expect(result.stdout).toBe(`${PACKAGE.version}\n`);
  });

  it.skipIf(oldNode() === undefined)("the installed bin on Node 20 exits 1 at once with 'orgbox needs Node.js 22.13 or newer'", async () => {
    const node = oldNode() as { path: string; version: string };
    const result = await run(node.path, [join(project, "node_modules/.bin/orgbox"), "start", "--port", "0"], project);
    expect(result.code).toBe(1);
    expect(result.output).toBe(`orgbox needs Node.js 22.13 or newer (found ${node.version})\n`);
  });

  it("npx orgbox start --json --port 0 serves @azure/msal-node and the Web API, and stops on SIGTERM", async () => {
    const server = spawn("npx", ["--offline", "orgbox", "start", "--json", "--port", "0", "--in-memory", "--log-level", "warn"], { cwd: project, env: userEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    server.stderr.on("data", (d: Buffer) => (log += d.toString()));
    const exited = once(server, "exit") as Promise<[number | null]>;
    const ready = await new Promise<{ pid: number; url: string; authority: string; orgUrl: string; demo: { clientId: string; clientSecret: string } }>((done, fail) => {
      let stdout = "";
      server.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        const line = stdout.split("\n").find((l) => l.startsWith('{"event":"ready"'));
        if (line) done(JSON.parse(line));
      });
      void exited.then(([code]) => fail(new Error(`orgbox exited (${code}) before it was ready: ${stdout}${log}`)));
    });
    try {
      // The in-memory store uses the per-user temp CA, which this test process trusts (tests/global-setup.ts).
      const cca = new ConfidentialClientApplication({ auth: { clientId: ready.demo.clientId, clientSecret: ready.demo.clientSecret, authority: ready.authority, knownAuthorities: [new URL(ready.url).host] } });
      const result = await cca.acquireTokenByClientCredential({ scopes: [`${ready.orgUrl}/.default`] });
      const who = await fetch(`${ready.orgUrl}/api/data/v9.2/WhoAmI`, { headers: { authorization: `Bearer ${result?.accessToken}` } });
      expect(who.status).toBe(200);
      expect(((await who.json()) as { UserId: string }).UserId).toBe("c0de0000-0000-4000-8000-00000000d003");
      process.kill(ready.pid, "SIGTERM");
      const [code] = await exited;
      expect(code, log).toBe(0);
    } finally {
      if (processAlive(ready.pid)) process.kill(ready.pid, "SIGKILL");
    }
  }, 60_000);

  it("node:test: examples/runners/node-test.example.mjs passes against the installed package", async () => {
    const result = await run(process.execPath, ["--test", "examples/runners/node-test.example.mjs"], project);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/\bpass 1\b/);
  }, 60_000);

  it("Vitest: examples/runners/vitest.config.mjs runs the example test against the installed package", async () => {
    const result = await run(process.execPath, [join(project, "node_modules/vitest/vitest.mjs"), "run", "--config", "examples/runners/vitest.config.mjs"], project);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/Tests\s+1 passed/);
  }, 60_000);

  it("Jest: examples/runners/jest.config.mjs runs the example test against the installed package, with no NODE_EXTRA_CA_CERTS exported", async () => {
    const result = await run(process.execPath, [join(project, "node_modules/jest/bin/jest.js"), "--config", "examples/runners/jest.config.mjs"], project);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/Tests:\s+1 passed, 1 total/);
  }, 60_000);
});
