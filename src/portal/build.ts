/**
 * Builds the admin portal's browser bundle with esbuild: src/portal/app/main.tsx →
 * dist/portal/app.js (ESM, minified, React and Fluent UI inlined) and app.css when any.
 * Run by `npm run build:portal` (and so by `npm ci` through `prepare`). Under a second.
 */
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** Builds the bundle into `outdir` (default dist/portal). @throws when esbuild reports errors. */
export async function buildPortal(outdir = join(here, "../../dist/portal")): Promise<void> {
  await build({
    entryPoints: { app: join(here, "app/main.tsx") },
    outdir,
    bundle: true,
    minify: true,
    format: "esm",
    target: ["es2022"],
    platform: "browser",
    jsx: "automatic",
    legalComments: "none",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
    tsconfig: join(here, "app/tsconfig.json"),
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildPortal();
