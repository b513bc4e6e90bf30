/**
 * The `Prefer` request header preferences orgbox honours on reads
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors#http-headers, RFC 7240).
 */
export interface ReadPreferences {
  /** `odata.maxpagesize=N`, when given and positive. */
  maxPageSize?: number;
  /** `odata.include-annotations="…"` raw list, when given. */
  includeAnnotations?: string;
  /** `odata.track-changes`: return an `@odata.deltaLink` (change tracking). */
  trackChanges?: boolean;
}

/** Splits a Prefer header on commas outside double quotes. */
function splitPreferences(header: string): string[] {
  const out: string[] = [];
  let current = "";
  let quoted = false;
  for (const c of header) {
    if (c === '"') quoted = !quoted;
    if (c === "," && !quoted) {
      out.push(current.trim());
      current = "";
    } else current += c;
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

/** Parses the read preferences of a `Prefer` header (several headers arrive comma-joined). */
export function parsePrefer(header: string | undefined): ReadPreferences {
  const prefs: ReadPreferences = {};
  if (!header) return prefs;
  for (const pref of splitPreferences(header)) {
    const eq = pref.indexOf("=");
    const name = (eq < 0 ? pref : pref.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? "" : pref.slice(eq + 1).trim().replace(/^"(.*)"$/s, "$1");
    if (name === "odata.maxpagesize" && /^\d+$/.test(value) && Number(value) > 0) prefs.maxPageSize = Number(value);
    else if (name === "odata.include-annotations" && value) prefs.includeAnnotations = value;
    else if (name === "odata.track-changes") prefs.trackChanges = true;
  }
  return prefs;
}

/**
 * Which instance annotations a client asked for: `*`, names, `namespace.*` wildcards and
 * `-name` exclusions (OData v4.01 Part 1 §8.2.8.4 `odata.include-annotations`).
 */
export class AnnotationSelection {
  private readonly include: string[];
  private readonly exclude: string[];

  constructor(list: string | undefined) {
    const items = (list ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0);
    this.include = items.filter((s) => !s.startsWith("-"));
    this.exclude = items.filter((s) => s.startsWith("-")).map((s) => s.slice(1));
  }

  private static matches(pattern: string, term: string): boolean {
    if (pattern === "*") return true;
    if (pattern.endsWith(".*")) return term.startsWith(pattern.slice(0, -1));
    return pattern === term;
  }

  /** True when the annotation `term` (e.g. `OData.Community.Display.V1.FormattedValue`) is wanted. */
  has(term: string): boolean {
    if (this.exclude.some((p) => AnnotationSelection.matches(p, term))) return false;
    return this.include.some((p) => AnnotationSelection.matches(p, term));
  }

  get any(): boolean {
    return this.include.length > 0;
  }
}
