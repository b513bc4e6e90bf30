#!/usr/bin/env node
// The `orgbox` command. This file must parse and run up to the version check on any Node that runs
// ES modules (no top-level await, no syntax newer than ES2018), so an old Node gets a clear message
// instead of a syntax error or ERR_UNKNOWN_FILE_EXTENSION ".ts".
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(`orgbox needs Node.js 22.13 or newer (found ${process.versions.node})\n`);
  process.exit(1);
}

Promise.all([import("node:module"), import("node:fs")]).then(([{ default: module }, { existsSync }]) => {
  // Node's on-disk compile cache (off with NODE_DISABLE_COMPILE_CACHE=1) roughly halves the start-up
  // of each later `orgbox …` call; it must be on before the CLI's modules load.
  if (module.enableCompileCache) module.enableCompileCache();
  // In the repository the TypeScript sources run with Node's type stripping (npm scripts use the
  // pinned Node 24). The installed package has no src/: it runs the JavaScript that `npm pack`
  // compiled into dist/ (Node does not strip types under node_modules).
  const source = new URL("../src/cli/main.ts", import.meta.url);
  if (!existsSync(source)) return import(new URL("../dist/cli/main.js", import.meta.url).href);
  if (!process.features.typescript) {
    process.stderr.write(`orgbox's TypeScript sources need Node.js type stripping (on by default from Node 22.18; this is ${process.versions.node} without it): run them with npm (npm start, npm run orgbox -- …), which uses the pinned Node 24\n`);
    process.exit(1);
  }
  return import(source.href);
});
