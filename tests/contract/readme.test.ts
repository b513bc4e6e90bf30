/**
 * Issue 12: README recipes are tests. Every fenced code block of README.md tagged `ts`, `js`,
 * `python`, `sh` or `bash` runs here, verbatim, in a child process, against an orgbox started for
 * this file (in memory, HTTPS, the demo seeded). A block that is not meant to run says so.
 *
 * ## Markers (HTML comments on the lines just above a fence; blank lines in between are fine)
 *
 * - `<!-- not-a-test: REASON -->`: the block is not run (a long-running server, a browser sign-in,
 *   a fragment, a synopsis with `[optional]` arguments, …). The reason is required; say which test
 *   covers the flow instead, if one does.
 * - `<!-- readme-test: with-orgbox -->` (ts/js only): the block runs against an orgbox of its own,
 *   started in the child process with `startOrgbox()` and closed after it, and may use it as `orgbox`
 *   (`orgbox.identity.service…`). Its `URL`, `TENANT` and `ORG` are that orgbox's.
 * - `<!-- readme-test: check: EXPRESSION -->`: after the block, EXPRESSION (in the block's language;
 *   a shell command for sh/bash) must hold, e.g. `res.status === 200`.
 *
 * Blocks in other languages (yaml, untagged output) are not run. A block that installs packages
 * (`npm ci`), runs the suite (`npm test`) or starts a server (`npm start`, `orgbox start`) is never
 * run: without a `not-a-test` marker it fails (see `NEVER_RUN`).
 *
 * ## Placeholders (the only things filled in)
 *
 * ts/js and python blocks get these variables, each only when the block uses it and does not declare
 * it: `URL` (identity URL), `TENANT` (tenant id), `ORG` (org URL, as the banner prints it), `CA` (the CA
 * certificate's path), `accessToken` (a demo-app token for `ORG`, "from any of the recipes above") and
 * `appId` (the demo app's client id). sh/bash blocks get `URL`, `TENANT`, `ORG` and `CA` as environment
 * variables, `ORGBOX_DATA` pointing at a scratch folder, and the machine's own `PATH` (without
 * `node_modules/.bin`, so `node` is the machine's Node, as for a reader). Every block runs with
 * `NODE_EXTRA_CA_CERTS` and `REQUESTS_CA_BUNDLE` set to the CA, in a scratch folder inside the
 * repository (`.tmp/readme-…`) that holds `cert.pem`/`key.pem` (a client certificate and its key) and
 * links to `examples/`. ts files run on this test's Node (type stripping), python on Debian's `/usr/bin/python3` (else `python3`), shell
 * blocks on `bash -e -o pipefail`.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import { createTestCertificate } from "../helpers/certificates.ts";
import { demoToken, useOrgbox } from "../helpers/orgbox.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const RUNNABLE = new Set(["ts", "js", "python", "sh", "bash"]);
/** Debian's python3, where `scripts/ensure-test-deps.sh` installs python3-msal (a pyenv `python3` first on PATH may lack it). */
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
const PLACEHOLDERS = ["URL", "TENANT", "ORG", "CA", "accessToken", "appId"] as const;

/** One fenced block of README.md. */
interface Block {
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  heading: string;
  skip: string | undefined;
  withOrgbox: boolean;
  check: string | undefined;
}

/** The fenced blocks of a Markdown text, with the markers above them. */
function fencedBlocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  let heading = "(top)";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^#{1,6} /.test(line)) heading = line.replace(/^#+ /, "");
    const open = /^(\s*)(`{3,})([\w-]*)\s*$/.exec(line);
    if (!open) continue;
    const [, indent = "", fence = "", lang = ""] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !new RegExp(`^\\s*${fence}\\s*$`).test(lines[j] as string); j++) body.push((lines[j] as string).startsWith(indent) ? (lines[j] as string).slice(indent.length) : (lines[j] as string));
    const markers: string[] = [];
    for (let k = i - 1; k >= 0; k--) {
      const above = (lines[k] as string).trim();
      if (above === "") continue;
      const comment = /^<!--\s*(.*?)\s*-->$/.exec(above);
      if (!comment) break;
      markers.push(comment[1] as string);
    }
    const skip = markers.map((m) => /^not-a-test:\s*(.*)$/.exec(m)?.[1]).find((r) => r !== undefined);
    const options = markers.map((m) => /^readme-test:\s*(.*)$/.exec(m)?.[1]).filter((o): o is string => o !== undefined);
    blocks.push({
      lang: lang.toLowerCase(),
      code: body.join("\n"),
      line: i + 1,
      heading,
      skip,
      withOrgbox: options.includes("with-orgbox"),
      check: options.map((o) => /^check:\s*(.*)$/.exec(o)?.[1]).find((c) => c !== undefined),
    });
    i = j;
  }
  return blocks;
}

/** True when `code` declares `name` (`const name`, `let { name }`, `name = …` in Python, `import name`). */
function declares(code: string, name: string, lang: string): boolean {
  if (lang === "python") return new RegExp(`^\\s*${name}\\s*=`, "m").test(code);
  return new RegExp(`\\b(?:const|let|var)\\s+(?:${name}\\b|[{[][^=]*\\b${name}\\b[^=]*[}\\]])|\\bimport\\s+(?:[^;]*[{,\\s])?${name}\\b`).test(code);
}

const uses = (code: string, name: string) => new RegExp(`(?<![.\\w])${name}\\b`).test(code);

/**
 * Commands a README block must never run here, even when unmarked: they install or remove packages
 * (`npm ci` empties `node_modules`, which in a worktree may be a link to a shared folder), run the
 * whole suite, or start a server that does not stop. Such a block needs a `not-a-test` marker; without
 * one the test fails before running anything.
 */
const NEVER_RUN = /\bnpm\s+(?:ci|install|i|uninstall|update|start|test)\b|\bnpm\s+run\s+(?:orgbox\s+--\s+)?start\b|\borgbox\s+start\b|\bapt-get\b|\brm\s+-r/;

const README = readFileSync(join(ROOT, "README.md"), "utf8");
const BLOCKS = fencedBlocks(README).filter((b) => RUNNABLE.has(b.lang));

describe("README.md code blocks", () => {
  const orgbox = useOrgbox();
  let dir: string;
  let values: Record<(typeof PLACEHOLDERS)[number], string>;
  let python: { ok: boolean; why: string };

  beforeAll(async () => {
    const o = orgbox();
    mkdirSync(join(ROOT, ".tmp"), { recursive: true });
    dir = mkdtempSync(join(ROOT, ".tmp", "readme-"));
    symlinkSync(join(ROOT, "examples"), join(dir, "examples"));
    const certificate = await createTestCertificate();
    writeFileSync(join(dir, "cert.pem"), certificate.certificatePem);
    writeFileSync(join(dir, "key.pem"), certificate.privateKeyPem);
    values = { URL: o.url, TENANT: o.tenantId, ORG: o.orgUrl, CA: o.caCertPath as string, accessToken: await demoToken(o), appId: DEMO.app.clientId };
    const probe = await run(PYTHON, ["-c", "import msal, requests"], {});
    python = { ok: probe.code === 0, why: probe.output.trim().split("\n").pop() ?? "" };
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a command in the scratch folder; resolves to its exit code and combined output. */
  async function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
    const child = spawn(command, args, { cwd: dir ?? ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    const [code] = (await once(child, "exit")) as [number | null];
    clearTimeout(timer);
    return { code, output };
  }

  it("finds the recipes, and every block that is not run says why", () => {
    expect(BLOCKS.length).toBeGreaterThan(10);
    for (const block of BLOCKS) expect(block.skip === undefined || block.skip.trim().length > 0, `README.md:${block.line}: not-a-test needs a reason`).toBe(true);
    expect(BLOCKS.filter((b) => b.skip === undefined).length).toBeGreaterThanOrEqual(8);
  });

  for (const block of BLOCKS) {
    const title = `README.md:${block.line} (${block.heading}, ${block.lang})`;
    if (block.skip !== undefined) {
      it.skip(`${title}: not a test: ${block.skip}`, () => {});
      continue;
    }
    it(`${title} runs as printed`, async (context) => {
      const forbidden = NEVER_RUN.exec(block.code);
      if (forbidden) throw new Error(`${title} runs '${forbidden[0]}': give it a <!-- not-a-test: reason --> marker (see the top of tests/contract/readme.test.ts)`);
      const env: NodeJS.ProcessEnv = { NODE_EXTRA_CA_CERTS: values.CA, REQUESTS_CA_BUNDLE: values.CA };
      let result: { code: number | null; output: string };
      if (block.lang === "ts" || block.lang === "js") {
        const names = PLACEHOLDERS.filter((n) => uses(block.code, n) && !declares(block.code, n, block.lang));
        const preamble = block.withOrgbox
          ? [
              `import { startOrgbox as __startOrgbox } from "orgbox";`,
              `const orgbox = await __startOrgbox();`,
              ...names.map((n) => `const ${n} = ${n === "URL" ? "orgbox.url" : n === "TENANT" ? "orgbox.tenantId" : n === "ORG" ? "orgbox.orgUrl" : JSON.stringify(values[n])};`),
              "try {",
            ]
          : names.map((n) => `const ${n} = ${JSON.stringify(values[n])};`);
        const check = block.check ? [`if (!(${block.check})) throw new Error(${JSON.stringify(`check failed: ${block.check}`)});`] : [];
        const postlude = block.withOrgbox ? ["} finally {", "  await orgbox.close();", "}"] : [];
        // Imports are hoisted; in a try block they are not allowed, so they move above it.
        const imports = block.code.split("\n").filter((l) => /^import\s/.test(l));
        const rest = block.code.split("\n").filter((l) => !/^import\s/.test(l));
        const file = join(dir, `block-${block.line}.${block.lang === "ts" ? "mts" : "mjs"}`);
        writeFileSync(file, [...imports, ...preamble, ...rest, ...check, ...postlude, ""].join("\n"));
        result = await run(process.execPath, [file], env);
      } else if (block.lang === "python") {
        if (!python.ok) {
          context.skip(`python3 (${PYTHON}) with msal and requests is not installed here (${python.why}); tests/contract/python-msal.test.ts runs this flow where it is`);
          return;
        }
        const names = PLACEHOLDERS.filter((n) => uses(block.code, n) && !declares(block.code, n, "python"));
        const file = join(dir, `block-${block.line}.py`);
        writeFileSync(file, [...names.map((n) => `${n} = ${JSON.stringify(values[n])}`), block.code, ...(block.check ? [`assert ${block.check}, ${JSON.stringify(`check failed: ${block.check}`)}`] : []), ""].join("\n"));
        result = await run(PYTHON, [file], env);
      } else {
        const path = (process.env.PATH ?? "").split(delimiter).filter((p) => !p.includes(`node_modules${"/"}.bin`) && !p.includes("node_modules/node/bin")).join(delimiter);
        const script = [block.code, ...(block.check ? [block.check] : []), ""].join("\n");
        result = await run("bash", ["-e", "-o", "pipefail", "-c", script], { ...env, PATH: path, URL: values.URL, TENANT: values.TENANT, ORG: values.ORG, CA: values.CA, ORGBOX_DATA: join(dir, "data") });
      }
      expect(result.code, `${title} failed:\n${result.output}`).toBe(0);
    }, 120_000);
  }
});
