import { isGuid } from "../../common/ids.ts";
import { dv } from "../errors.ts";

/** The resource path after `/api/data/vX.Y/`, parsed (OData v4 URL conventions §4). */
export type ResourcePath =
  | { kind: "collection"; name: string }
  | { kind: "entity"; name: string; id: string }
  | { kind: "call"; name: string; args: string };

const SEGMENT_RE = /^([A-Za-z_][A-Za-z0-9_.]*)(?:\((.*)\))?$/s;

/**
 * Parses the first resource segment: `accounts`, `accounts(<guid>)`, `WhoAmI`,
 * `WhoAmI()`. Deeper paths are not supported yet and fail naming the segment.
 * @throws DataverseError 0x8006088a for a path orgbox cannot address.
 */
export function parseResourcePath(path: string): ResourcePath {
  const segments = path.split("/").filter((s) => s.length > 0).map(decodeSegment);
  const [first, ...rest] = segments;
  if (!first) throw dv.segmentNotFound("");
  if (rest.length > 0) throw dv.segmentNotFound(rest[0] as string);
  const match = SEGMENT_RE.exec(first);
  if (!match) throw dv.segmentNotFound(first);
  const name = match[1] as string;
  const inner = match[2];
  if (inner === undefined) return { kind: "collection", name };
  const key = inner.trim();
  if (isGuid(key)) return { kind: "entity", name, id: key.toLowerCase() };
  return { kind: "call", name, args: inner };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw dv.querySyntax(`the segment '${segment}' is not valid percent-encoding`);
  }
}
