import { isGuid } from "../../common/ids.ts";
import { dv } from "../errors.ts";

/** The resource path after `/api/data/vX.Y/`, parsed (OData v4 URL conventions §4). */
export type ResourcePath =
  | { kind: "collection"; name: string }
  | { kind: "entity"; name: string; id: string }
  | { kind: "call"; name: string; args: string }
  /**
   * `accounts(<key>)/name`, `accounts(<key>)/primarycontactid/$ref`,
   * `accounts(<key>)/contact_customer_accounts(<id>)/$ref`: `key` is the raw text
   * inside the parentheses (a GUID or an alternate key, see {@link parseEntityKey}).
   */
  | { kind: "member"; name: string; key: string; segments: string[] }
  /** `accounts/Microsoft.Dynamics.CRM.CreateMultiple`, `accounts/$count`: segments after a collection. */
  | { kind: "bound"; name: string; segments: string[] };

/** A record key: the primary key, or alternate-key column values (`accountnumber='A-1'`). */
export type EntityKey = { kind: "id"; id: string } | { kind: "alternate"; values: { name: string; value: string | number | boolean | null }[] };

const SEGMENT_RE = /^([A-Za-z_][A-Za-z0-9_.]*)(?:\((.*)\))?$/s;

/**
 * Parses the first resource segment: `accounts`, `accounts(<guid>)`, `WhoAmI`,
 * `WhoAmI()`; deeper paths become `member` (after a keyed segment) or `bound`
 * (after a collection) for the handlers to interpret.
 * @throws DataverseError 0x8006088a for a path orgbox cannot address.
 */
export function parseResourcePath(path: string): ResourcePath {
  const segments = path.split("/").filter((s) => s.length > 0).map(decodeSegment);
  const [first, ...rest] = segments;
  if (!first) throw dv.segmentNotFound("");
  const match = SEGMENT_RE.exec(first);
  if (!match) throw dv.segmentNotFound(first);
  const name = match[1] as string;
  const inner = match[2];
  if (rest.length > 0) return inner === undefined ? { kind: "bound", name, segments: rest } : { kind: "member", name, key: inner, segments: rest };
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

const KEY_PART_RE = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^']|'')*'|[^,]+?)\s*(?:,|$)/;

/**
 * Parses the text inside `set(...)`: a GUID, or comma-separated `name=value` pairs
 * with OData literals (`'text'` with `''` escapes, numbers, `true`/`false`, `null`,
 * bare GUIDs) for alternate keys
 * (learn.microsoft.com/power-apps/developer/data-platform/use-alternate-key-reference-record).
 * @throws DataverseError 400 `0x80060888` for malformed key text.
 */
export function parseEntityKey(raw: string): EntityKey {
  const text = raw.trim();
  if (isGuid(text)) return { kind: "id", id: text.toLowerCase() };
  const values: { name: string; value: string | number | boolean | null }[] = [];
  let rest = text;
  while (rest.length > 0) {
    const match = KEY_PART_RE.exec(rest);
    if (!match) throw dv.querySyntax(`the key '${raw}' is neither a GUID nor a list of name=value pairs`);
    const name = match[1] as string;
    const literal = (match[2] as string).trim();
    let value: string | number | boolean | null;
    if (literal.startsWith("'")) value = literal.slice(1, -1).replace(/''/g, "'");
    else if (literal === "null") value = null;
    else if (literal === "true" || literal === "false") value = literal === "true";
    else if (isGuid(literal)) value = literal.toLowerCase();
    else if (/^[+-]?\d+(\.\d+)?$/.test(literal)) value = Number(literal);
    else throw dv.querySyntax(`the key value '${literal}' is not a valid literal`);
    values.push({ name, value });
    rest = rest.slice(match[0].length);
  }
  if (values.length === 0) throw dv.querySyntax(`the key '${raw}' is empty`);
  return { kind: "alternate", values };
}
