/** A parsed CSV record with the 1-based line it starts on. */
export interface CsvRecord {
  line: number;
  values: Record<string, string>;
}

/**
 * Parses CSV (RFC 4180: comma separated, `"` quoting with `""` escapes, CRLF or LF)
 * whose first line names the columns.
 * @throws Error with the line number for an unterminated quote or a row with too many fields.
 */
export function parseCsv(text: string): CsvRecord[] {
  const rows: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = "";
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let fieldStarted = false;
  for (; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === "\n") line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && !fieldStarted) {
      quoted = true;
      fieldStarted = true;
    } else if (c === ",") {
      fields.push(field);
      field = "";
      fieldStarted = false;
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      fields.push(field);
      if (fields.length > 1 || fields[0] !== "") rows.push({ line: rowLine, fields });
      fields = [];
      field = "";
      fieldStarted = false;
      line++;
      rowLine = line;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (quoted) throw new Error(`line ${rowLine}: unterminated quoted field`);
  if (fieldStarted || fields.length > 0) {
    fields.push(field);
    rows.push({ line: rowLine, fields });
  }
  const header = rows.shift();
  if (!header) return [];
  const names = header.fields.map((h) => h.trim());
  return rows.map((row) => {
    if (row.fields.length > names.length) throw new Error(`line ${row.line}: ${row.fields.length} fields, but the header names ${names.length} columns`);
    const values: Record<string, string> = {};
    names.forEach((name, index) => {
      values[name] = row.fields[index] ?? "";
    });
    return { line: row.line, values };
  });
}
