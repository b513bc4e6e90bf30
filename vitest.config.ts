import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

/**
 * In this repository `import "orgbox"` (the examples, the README recipes) means the TypeScript sources:
 * package.json's exports send the `orgbox-source` condition to src/index.ts, while the published
 * package has only the compiled dist/. Every Node process the tests start inherits the condition;
 * Vite, which resolves the test files' imports itself, gets an alias.
 */
process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, "--conditions=orgbox-source"].filter(Boolean).join(" ");

export default defineConfig({
  resolve: { alias: [{ find: /^orgbox$/, replacement: resolve(import.meta.dirname, "src/index.ts") }] },
  test: {
    include: ["src/**/*.test.ts", "tests/**/*.test.ts"],
    globalSetup: ["tests/global-setup.ts", "tests/portal-setup.ts"],
    pool: "forks",
    // One worker per core (vitest's default is one fewer): much of a contract test's time is spent waiting on
    // the orgbox it started, CLI child processes and browsers, so the second core would otherwise idle
    // (measured on 2 cores: 767 s with one worker, 436 s with two).
    maxWorkers: "100%",
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
