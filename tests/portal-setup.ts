import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { PORTAL_DIST } from "../src/portal/server.ts";
import { buildPortal } from "../src/portal/build.ts";

const SOURCES = join(import.meta.dirname, "../src/portal/app");

/** Newest mtime (ms) of the files under `dir`. */
function newest(dir: string): number {
  return Math.max(0, ...readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => statSync(join(e.parentPath, e.name)).mtimeMs));
}

/** Builds the portal's browser bundle once per run when it is missing or older than its sources (esbuild, about a second). */
export default async function setup(): Promise<void> {
  const built = statSync(join(PORTAL_DIST, "app.js"), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (built < newest(SOURCES)) await buildPortal();
}
