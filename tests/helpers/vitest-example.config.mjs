// examples/runners/vitest.config.mjs as tests/contract/environment-runners.test.ts runs it: against this
// repository's sources. The example is written for the installed package, where "orgbox" is the compiled
// dist/; here Vite resolves it to src/index.ts (as vitest.config.ts does for the suite).
import { fileURLToPath } from "node:url";
import { mergeConfig } from "vitest/config";
import example from "../../examples/runners/vitest.config.mjs";

export default mergeConfig(example, { resolve: { alias: [{ find: /^orgbox$/, replacement: fileURLToPath(new URL("../../src/index.ts", import.meta.url)) }] } });
