#!/usr/bin/env node
// Runs the TypeScript CLI with Node's built-in type stripping (Node >= 22.18 / 24).
// Node's on-disk compile cache (Node >= 22.1; off with NODE_DISABLE_COMPILE_CACHE=1) roughly halves
// the start-up of each later `orgbox …` call; it must be on before the CLI's modules load.
import module from "node:module";

module.enableCompileCache?.();
await import("../src/cli/main.ts");
