import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { extname, resolve } from "node:path";
import { parseDocument } from "yaml";
import { ConfigError } from "../common/errors.ts";

/**
 * An environment (or config) file that cannot be used. The message names the
 * file, the path inside it and the problem, one per line:
 * `orgbox.yaml: orgs[0].roles[1].privileges.prvReadWidget: the privilege 'prvReadWidget' does not exist`.
 */
export class EnvironmentError extends ConfigError {
  /** Each problem, as `file: path: problem`. */
  readonly problems: string[];

  constructor(problems: string[]) {
    const shown = problems.slice(0, 25);
    const more = problems.length > shown.length ? `\n(and ${problems.length - shown.length} more)` : "";
    super(`invalid environment:\n${shown.join("\n")}${more}`);
    this.name = "EnvironmentError";
    this.problems = problems;
  }
}

const requireModule = createRequire(import.meta.url);

/**
 * Reads a config or environment file into plain data: `.json`, `.yaml`/`.yml`, or
 * a `.ts`/`.js`/`.mjs` module whose default export (or `environment` export) is the object.
 * @throws EnvironmentError naming the file and, for syntax errors, the line and column.
 */
export function readDocument(path: string): unknown {
  const file = resolve(path);
  const ext = extname(file).toLowerCase();
  if (ext === ".ts" || ext === ".js" || ext === ".mjs" || ext === ".mts") {
    let mod: Record<string, unknown>;
    try {
      mod = requireModule(file) as Record<string, unknown>;
    } catch (error) {
      throw new EnvironmentError([`${path}: cannot load the module: ${(error as Error).message}`]);
    }
    const value = mod.default ?? mod.environment;
    if (value === undefined) throw new EnvironmentError([`${path}: the module must export the environment as its default export`]);
    return value;
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new EnvironmentError([`${path}: cannot read the file: ${(error as Error).message}`]);
  }
  if (ext === ".yaml" || ext === ".yml") {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    const error = doc.errors[0];
    if (error) {
      const pos = error.linePos?.[0];
      throw new EnvironmentError([`${path}: ${pos ? `line ${pos.line}, column ${pos.col}: ` : ""}${(error.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "")}`]);
    }
    return doc.toJS({ maxAliasCount: 1000 }) as unknown;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new EnvironmentError([`${path}: not valid JSON: ${(error as Error).message}`]);
  }
}
