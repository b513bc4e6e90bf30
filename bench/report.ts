/** One line of the result table. `ratio` is orgbox / reference; absent when there is no reference. */
export interface Row {
  section: string;
  metric: string;
  orgbox: string;
  reference: string;
  ratio: number | undefined;
  target: number | undefined;
}

/** Formats a rate: thousands separated, no decimals. */
export function rate(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Formats milliseconds. */
export function ms(n: number): string {
  return `${n.toFixed(n < 10 ? 2 : 1)} ms`;
}

function ratioText(row: Row): string {
  if (row.ratio === undefined) return "";
  const pct = `${(row.ratio * 100).toFixed(1)}%`;
  if (row.target === undefined) return pct;
  return `${pct} (target ≥ ${Math.round(row.target * 100)}%: ${row.ratio >= row.target ? "met" : "below"})`;
}

/** Renders rows as a fixed-width text table. */
export function table(rows: Row[]): string {
  const header = ["section", "metric", "orgbox", "reference", "orgbox / reference"];
  const cells = rows.map((r) => [r.section, r.metric, r.orgbox, r.reference, ratioText(r)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]) => c.map((v, i) => (i >= 2 && i <= 3 ? v.padStart(widths[i] as number) : v.padEnd(widths[i] as number))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}
