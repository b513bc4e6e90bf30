// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "dist/", ".orgbox/", "coverage/", ".tmp/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", URL: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", fetch: "readonly", structuredClone: "readonly", AbortController: "readonly", TextEncoder: "readonly", TextDecoder: "readonly", URLSearchParams: "readonly", Response: "readonly", Headers: "readonly" } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": ["error", { allow: ["error"] }],
    },
  },
  {
    // Code outside src/identity and src/dataverse uses each surface only through its index.ts (#13), so
    // a surface's internals can move without breaking its users. Exceptions, each a deliberate port:
    // - src/store implements the surfaces' store ports: it imports the port and the shapes the port
    //   speaks (rule below): dataverse/store.ts, dataverse/model.ts, dataverse/metadata/types.ts,
    //   identity/store.ts, identity/model.ts.
    // Tests (src/**/*.test.ts, tests/) may reach internals.
    files: ["src/**/*.ts"],
    ignores: ["src/identity/**", "src/dataverse/**", "src/store/**", "src/**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^(\\.\\.?/)+dataverse/(?!index\\.ts$)",
              message: "Import Dataverse through src/dataverse/index.ts (export what you need there).",
            },
            {
              regex: "^(\\.\\.?/)+identity/(?!index\\.ts$)",
              message: "Import Entra through src/identity/index.ts (export what you need there).",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["src/store/**/*.ts"],
    ignores: ["src/store/**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^(\\.\\.?/)+dataverse/(?!(index|store|model|metadata/types)\\.ts$)",
              message: "src/store imports Dataverse through its index.ts or the store port (store.ts, model.ts, metadata/types.ts).",
            },
            {
              regex: "^(\\.\\.?/)+identity/(?!(index|store|model)\\.ts$)",
              message: "src/store imports Entra through its index.ts or the store port (store.ts, model.ts).",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["src/cli/**", "bench/**", "tests/**", "examples/**", "bin/**"],
    rules: { "no-console": "off" },
  },
);
