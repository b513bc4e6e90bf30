#!/usr/bin/env node
// The `orgbox` command. This file must parse on any Node that runs ES modules (no syntax newer than
// Node 14 above the version check), so an old Node gets a clear message instead of a syntax error or
// ERR_UNKNOWN_FILE_EXTENSION ".ts".
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(`orgbox needs Node.js 22.13 or newer (found ${process.versions.node})\n`);
  process.exit(1);
}

// Node's on-disk compile cache (off with NODE_DISABLE_COMPILE_CACHE=1) roughly halves the start-up of
// each later `orgbox …` call; it must be on before the CLI's modules load.
const { default: module } = await import("node:module");
module.enableCompileCache?.();

// In the repository the TypeScript sources run with Node's type stripping (npm scripts use the pinned
// Node 24). The installed package has no src/: it runs the JavaScript that `npm pack` compiled into
// dist/ (Node does not strip types under node_modules).
const { existsSync } = await import("node:fs");
const source = new URL("../src/cli/main.ts", import.meta.url);
if (existsSync(source) && !process.features.typescript) {
  process.stderr.write(`orgbox's TypeScript sources need a Node.js that strips types (22.18 or newer; found ${process.versions.node}): run it with npm (npm start, npm run orgbox -- …), which uses the pinned Node 24\n`);
  process.exit(1);
}
await import(existsSync(source) ? source.href : new URL("../dist/cli/main.js", import.meta.url).href);
