import { readFileSync } from "node:fs";

/**
 * orgbox's version, as `orgbox --version` prints it: the `version` of its package.json, which is two
 * folders up both from the sources (src/cli/) and from the installed package's JavaScript (dist/cli/).
 */
export const ORGBOX_VERSION: string = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
