// Runs the example test with orgbox started once by vitest.global-setup.mjs.
//   npx vitest run --config examples/runners/vitest.config.mjs
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: fileURLToPath(new URL(".", import.meta.url)),
    include: ["vitest.example.test.mjs"],
    globalSetup: ["./vitest.global-setup.mjs"],
    pool: "forks",
  },
});
