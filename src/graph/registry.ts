import type { GraphContext, GraphResult } from "./context.ts";
import { graphError } from "./errors.ts";
import type { QuerySupport } from "./odata.ts";

/** HTTP methods Graph operations use. */
export type GraphMethod = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";

/**
 * Who may run an operation, declared by the operation (Graph's "Permissions" table of each API page,
 * learn.microsoft.com/graph/api/…): app-only callers need one of `application` in the token's `roles`;
 * delegated callers need one of `delegated` in `scp` and, when `directoryRoles` is given, one of those
 * directory roles (template ids) — unless `owners` lets owners of the target object act without one.
 * `ownedOnly` lists application permissions that only reach objects the caller owns
 * (`Application.ReadWrite.OwnedBy`).
 */
export interface PermissionPolicy {
  application: readonly string[];
  delegated: readonly string[];
  directoryRoles?: readonly string[];
  /** Owners of the target object may act without a directory role (delegated), or with an `ownedOnly` permission (app-only). */
  owners?: boolean;
  /** Application permissions that only reach objects the calling service principal owns. */
  ownedOnly?: readonly string[];
}

/** One Graph operation: a method and path template, its permission policy, its query support and its handler. */
export interface GraphOperation {
  /** For logs and errors, e.g. `application: addPassword`. */
  name: string;
  method: GraphMethod;
  /**
   * Path template below the version, `/`-separated: literals (case-insensitive) and `{param}`s. A
   * `{param}` matches a segment (`applications/{id}`) or a key in parentheses
   * (`applications('{id}')`, `applications(appId='…')`); see {@link KeyValue}.
   */
  path: string;
  policy: PermissionPolicy;
  /** Query options it accepts; without, any `$` option is `Request_UnsupportedQuery`. */
  query?: QuerySupport;
  /** Runs the operation once authenticated, authorized and parsed. @throws GraphError */
  handle(context: GraphContext): Promise<GraphResult>;
}

/** A resource module: a name and the operations it adds to the surface. */
export interface GraphResourceModule {
  name: string;
  operations: readonly GraphOperation[];
}

/** A key in the path: a plain id (`applications/{id}`, `applications('{id}')`) or an alternate key (`applications(appId='…')`). */
export type KeyValue = { kind: "id"; value: string } | { kind: "alternate"; property: string; value: string };

/** One parsed path segment: a name, or a key that followed a name in parentheses. */
export type PathSegment = { kind: "name"; value: string } | { kind: "key"; key: KeyValue };

/** A matched operation and the values of its `{param}`s. */
export interface OperationMatch {
  operation: GraphOperation;
  params: Record<string, KeyValue>;
}

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
export class ResourceRegistry {
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
