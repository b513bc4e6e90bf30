import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = dirname(fileURLToPath(import.meta.url));
const SRC = resolve(ROOT, "..");

/** Every non-test `.ts` file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

/** The files a module imports by relative path (`import`, `import type`, `export … from`), resolved. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"|^\s*import\s+"(\.[^"]+)"/gms)].map((m) => m[1] ?? m[2] ?? "");
  return specifiers.map((s) => resolve(dirname(file), s));
}

/** One import cycle in `graph` (file → the files it imports), as paths relative to src/; undefined when there is none. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === "open") return [...stack.slice(stack.indexOf(next)), next];
      if (state.get(next) === undefined) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(node, "done");
    return undefined;
  };
  for (const node of graph.keys()) {
    if (state.get(node) === undefined) {
      const found = visit(node);
      if (found) return found.map((f) => relative(SRC, f));
    }
  }
  return undefined;
}

describe("src/identity import graph", () => {
  const graph = new Map(sources(ROOT).map((file) => [file, importsOf(file)]));

  it("has no file-level import cycles (type-only imports included)", () => {
    expect(graph.size).toBeGreaterThan(20);
    expect([...graph.values()].flat().length).toBeGreaterThan(100);
    expect(findCycle(graph)).toBeUndefined();
  });

  it("never imports Dataverse", () => {
    const dataverse = join(SRC, "dataverse");
    const offenders = [...graph].flatMap(([file, imports]) => imports.filter((i) => i.startsWith(dataverse)).map((i) => `${relative(SRC, file)} -> ${relative(SRC, i)}`));
    expect(offenders).toEqual([]);
  });

  it("finds a cycle when there is one (the check itself works)", () => {
    const a = join(ROOT, "a.ts");
    const b = join(ROOT, "b.ts");
    expect(findCycle(new Map([[a, [b]], [b, [a]]]))).toEqual(["identity/a.ts", "identity/b.ts", "identity/a.ts"]);
  });
});
