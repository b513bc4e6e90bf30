import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * No file-level import cycles anywhere in src/ (what `npx madge --circular --extensions ts src`
 * reports, type-only imports included), and identity (with graph) and Dataverse never import each
 * other; checked on every `npm test` without a dependency.
 */

const SRC = dirname(fileURLToPath(import.meta.url));

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

describe("src import graph", () => {
  const graph = new Map(sources(SRC).map((file) => [file, importsOf(file)]));

  it("has no file-level import cycles (type-only imports included)", () => {
    expect(graph.size).toBeGreaterThan(150);
    expect([...graph.values()].flat().length).toBeGreaterThan(600);
    expect(findCycle(graph)).toBeUndefined();
  });

  it("keeps identity (with graph) and Dataverse apart: neither imports the other", () => {
    const inside = (file: string, folder: string) => file.startsWith(join(SRC, folder) + "/");
    for (const folder of ["identity", "graph", "dataverse"]) expect([...graph.keys()].filter((f) => inside(f, folder)).length, folder).toBeGreaterThan(5);
    // The server wires both, so it sees both: the check would catch such an import.
    expect([...graph].some(([file, imports]) => inside(file, "server") && imports.some((i) => inside(i, "dataverse")) && imports.some((i) => inside(i, "identity")))).toBe(true);
    const offenders = [...graph].flatMap(([file, imports]) =>
      imports
        .filter((i) => ((inside(file, "identity") || inside(file, "graph")) && inside(i, "dataverse")) || (inside(file, "dataverse") && (inside(i, "identity") || inside(i, "graph"))))
        .map((i) => `${relative(SRC, file)} -> ${relative(SRC, i)}`),
    );
    expect(offenders).toEqual([]);
  });

  it("finds a cycle when there is one (the check itself works)", () => {
    const a = join(SRC, "store", "a.ts");
    const b = join(SRC, "dataverse", "b.ts");
    expect(findCycle(new Map([[a, [b]], [b, [a]]]))).toEqual(["store/a.ts", "dataverse/b.ts", "store/a.ts"]);
  });

  it("finds the cycles madge found before they were broken (auth ↔ security context)", () => {
    const auth = join(SRC, "dataverse", "auth.ts");
    const context = join(SRC, "dataverse", "security", "context.ts");
    const withCycle = new Map(graph);
    withCycle.set(context, [...(graph.get(context) ?? []), auth]);
    expect(findCycle(withCycle)).toBeDefined();
  });
});
