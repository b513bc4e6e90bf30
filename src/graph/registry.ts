import { graphError } from "./errors.ts";
import type { GraphOperation, GraphResourceModule, KeyValue, OperationMatch, OperationRegistry, PathSegment } from "./types.ts";

export type { ExpandNavigation, GraphMethod, GraphOperation, GraphResourceModule, KeyValue, OperationMatch, PathSegment, PermissionPolicy } from "./types.ts";

const KEY_IN_PARENS = /^([^()]+)\((.*)\)$/s;
const ALTERNATE_KEY = /^([A-Za-z][A-Za-z0-9]*)=(?:'((?:[^']|'')*)'|([^']*))$/s;

/**
 * Splits the path below `/graph/{version}/` into segments, percent-decoded; `name(key)` becomes a
 * name and a key segment. @throws GraphError 400 for undecodable escapes or empty segments.
 */
export function parsePath(raw: string): PathSegment[] {
  const out: PathSegment[] = [];
  for (const piece of raw.split("/")) {
    let text: string;
    try {
      text = decodeURIComponent(piece);
    } catch {
      throw graphError.badRequest(`Invalid request path segment '${piece}'.`);
    }
    if (text === "") throw graphError.badRequest("Invalid request: empty path segment.");
    const parens = KEY_IN_PARENS.exec(text);
    if (!parens) {
      out.push({ kind: "name", value: text });
      continue;
    }
    out.push({ kind: "name", value: parens[1] as string });
    const inner = (parens[2] as string).trim();
    const alternate = ALTERNATE_KEY.exec(inner);
    if (alternate) {
      out.push({ kind: "key", key: { kind: "alternate", property: alternate[1] as string, value: (alternate[2] ?? alternate[3] ?? "").replaceAll("''", "'") } });
    } else {
      const quoted = /^'((?:[^']|'')*)'$/s.exec(inner);
      out.push({ kind: "key", key: { kind: "id", value: quoted ? (quoted[1] as string).replaceAll("''", "'") : inner } });
    }
  }
  return out;
}

type TemplatePart = { literal: string } | { param: string };

interface Registered {
  operation: GraphOperation;
  parts: TemplatePart[];
}

/**
 * The operations of the Graph surface, added by resource modules ({@link register}); requests are
 * dispatched by matching their path against each operation's template. Adding a resource is a new
 * module plus one `register` line in `src/graph/index.ts`.
 */
export class ResourceRegistry implements OperationRegistry {
  private readonly entries: Registered[] = [];

  /** Adds a module's operations. @throws Error when a method and path template is already registered. */
  register(module: GraphResourceModule): this {
    for (const operation of module.operations) {
      const parts: TemplatePart[] = operation.path.split("/").map((p) => (/^\{\w+\}$/.test(p) ? { param: p.slice(1, -1) } : { literal: p.toLowerCase() }));
      const clash = this.entries.find((e) => e.operation.method === operation.method && e.operation.path.toLowerCase() === operation.path.toLowerCase());
      if (clash) throw new Error(`Graph operation ${operation.method} ${operation.path} is registered twice (${clash.operation.name}, ${operation.name})`);
      this.entries.push({ operation, parts });
    }
    return this;
  }

  /**
   * The operation for `method` and `segments`: a template of literals matches before one with a
   * parameter at the same place.
   * @throws GraphError 405 when the path exists for other methods only, 400 for a path no operation has.
   */
  match(method: string, segments: PathSegment[]): OperationMatch {
    let pathKnown = false;
    let best: { match: OperationMatch; score: number } | undefined;
    for (const entry of this.entries) {
      const params = matchTemplate(entry.parts, segments);
      if (!params) continue;
      pathKnown = true;
      if (entry.operation.method !== method) continue;
      const score = entry.parts.filter((p) => "literal" in p).length;
      if (!best || score > best.score) best = { match: { operation: entry.operation, params }, score };
    }
    if (best) return best.match;
    if (pathKnown) throw graphError.methodNotAllowed(method);
    const first = segments[0];
    throw graphError.unknownSegment(first?.kind === "name" ? first.value : "");
  }
}

function matchTemplate(parts: TemplatePart[], segments: PathSegment[]): Record<string, KeyValue> | undefined {
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, KeyValue> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as TemplatePart;
    const segment = segments[i] as PathSegment;
    if ("literal" in part) {
      if (segment.kind !== "name" || segment.value.toLowerCase() !== part.literal) return undefined;
    } else {
      params[part.param] = segment.kind === "key" ? segment.key : { kind: "id", value: segment.value };
    }
  }
  return params;
}
