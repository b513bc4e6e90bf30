/**
 * Builds the JavaScript of the npm package into `dist/` (`npm run build:dist`; `npm pack` and
 * `npm publish` run it through `prepack`). The repository itself never needs `dist/`: its npm
 * scripts run the TypeScript sources on the pinned Node 24, while Node refuses to strip types
 * under `node_modules` (ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING), so the installed package
 * runs this output.
 *
 * 1. `tsc -p tsconfig.build.json`: `src/` without its tests, `.ts` import specifiers rewritten
 *    to `.js` (`rewriteRelativeImportExtensions`), with `.d.ts` declarations beside each module.
 * 2. The files that `src/` reads at run time next to its modules (JSON data such as
 *    `dataverse/metadata/data/standard-attributes.json`) are copied to the same place in `dist/`.
 *
 * `dist/` sits at the same depth as `src/`, so paths such as `../../schema/…` resolve the same.
 * @throws when tsc reports an error (its output is on stderr).
 */
import { execFileSync } from "node:child_process";
import { cpSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const SRC = join(ROOT, "src");
const DIST = join(ROOT, "dist");

rmSync(DIST, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json")], { cwd: ROOT, stdio: "inherit" });
// Not the portal's browser sources (src/portal/app): esbuild bundles them into dist/portal (build:portal).
const PORTAL_APP = join(SRC, "portal", "app");
cpSync(SRC, DIST, { recursive: true, filter: (path) => path !== PORTAL_APP && (statSync(path).isDirectory() || !/\.[cm]?tsx?$/.test(path)) });
process.stdout.write(`built ${DIST}\n`);
