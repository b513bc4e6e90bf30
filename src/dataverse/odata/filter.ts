import { dv } from "../errors.ts";

/**
 * `$filter` syntax tree, before binding to a table's metadata
 * (OData v4.01 Part 2 URL Conventions §5.1.1; ABNF `boolCommonExpr`).
 */
export type Literal =
  | { type: "string"; value: string }
  | { type: "number"; value: number; raw: string }
  | { type: "boolean"; value: boolean }
  | { type: "null" }
  | { type: "guid"; value: string }
  | { type: "date"; value: string }
  | { type: "datetime"; value: string };

export type ComparisonOperator = "eq" | "ne" | "gt" | "ge" | "lt" | "le";

export type FilterNode =
  | { type: "and" | "or"; left: FilterNode; right: FilterNode }
  | { type: "not"; operand: FilterNode }
  | { type: "compare"; op: ComparisonOperator; left: FilterNode; right: FilterNode }
  | { type: "literal"; literal: Literal }
  | { type: "array"; items: FilterNode[] }
  /** A property path: `name`, `_primarycontactid_value`, `primarycontactid/fullname`. */
  | { type: "property"; path: string[] }
  /** A function call; `named` holds `Name=value` arguments (the `Microsoft.Dynamics.CRM.*` query functions). */
  | { type: "call"; name: string; args: FilterNode[]; named: Map<string, FilterNode> }
  /** `nav/any(x: predicate)` or `nav/all(x: predicate)`. */
  | { type: "lambda"; path: string[]; op: "any" | "all"; variable: string | undefined; predicate: FilterNode | undefined };

type TokenKind = "ident" | "string" | "number" | "guid" | "date" | "datetime" | "alias" | "(" | ")" | "[" | "]" | "," | "/" | "=" | ":" | "eof";

interface Token {
  kind: TokenKind;
  text: string;
  /** Decoded value for strings. */
  value?: string;
  pos: number;
}

/**
 * How deep a `$filter` may nest. Runs of `and`/`or` do not nest (they are parsed iteratively and
 * compiled to balanced SQL), so this bounds only parentheses, `not`, arguments and lambdas, keeping
 * the parser's recursion and the SQL expression depth bounded.
 */
const MAX_NESTING = 100;
const COMPARISON = new Set(["eq", "ne", "gt", "ge", "lt", "le"]);
/** OData operators Dataverse does not support in `$filter`: refused by name. */
const UNSUPPORTED_OPERATORS = new Set(["has", "in", "add", "sub", "mul", "div", "divby", "mod"]);

const GUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![0-9A-Za-z_])/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,7})?)?(?:Z|[+-]\d{2}:\d{2})(?![0-9A-Za-z_])/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}(?![0-9A-Za-z_:T])/;
const NUMBER_RE = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?(?![0-9A-Za-z_])/;
const IDENT_RE = /^[A-Za-z_$][A-Za-z0-9_.$]*/;

function syntax(detail: string): never {
  throw dv.querySyntax(detail);
}

/** Splits a `$filter` into tokens. Strings use `'`, doubled to escape (`'O''Neil'`); arrays may use `"…"`. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === " " || c === "\t" || c === "\r" || c === "\n") {
      i++;
      continue;
    }
    const rest = text.slice(i);
    if (c === "'") {
      let value = "";
      let j = i + 1;
      for (;;) {
        if (j >= text.length) syntax(`unterminated string literal at position ${i} in $filter`);
        if (text[j] === "'") {
          if (text[j + 1] === "'") {
            value += "'";
            j += 2;
            continue;
          }
          break;
        }
        value += text[j];
        j++;
      }
      tokens.push({ kind: "string", text: text.slice(i, j + 1), value, pos: i });
      i = j + 1;
      continue;
    }
    if (c === '"') {
      let value = "";
      let j = i + 1;
      for (;;) {
        if (j >= text.length) syntax(`unterminated string literal at position ${i} in $filter`);
        const d = text[j] as string;
        if (d === "\\" && j + 1 < text.length) {
          value += text[j + 1];
          j += 2;
          continue;
        }
        if (d === '"') break;
        value += d;
        j++;
      }
      tokens.push({ kind: "string", text: text.slice(i, j + 1), value, pos: i });
      i = j + 1;
      continue;
    }
    if ("()[],/=:".includes(c)) {
      tokens.push({ kind: c as TokenKind, text: c, pos: i });
      i++;
      continue;
    }
    if (c === "@") {
      const m = /^@[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
      if (!m) syntax(`invalid parameter alias at position ${i} in $filter`);
      tokens.push({ kind: "alias", text: m[0], pos: i });
      i += m[0].length;
      continue;
    }
    const match = (kind: TokenKind, re: RegExp): boolean => {
      const m = re.exec(rest);
      if (!m) return false;
      tokens.push({ kind, text: m[0], pos: i });
      i += m[0].length;
      return true;
    };
    if (match("guid", GUID_RE) || match("datetime", DATETIME_RE) || match("date", DATE_RE) || match("number", NUMBER_RE) || match("ident", IDENT_RE)) continue;
    syntax(`unexpected character '${c}' at position ${i} in $filter`);
  }
  tokens.push({ kind: "eof", text: "", pos: text.length });
  return tokens;
}

/** Recursive-descent parser over one token list; parameter aliases are parsed from their own text when referenced. */
class Parser {
  private readonly tokens: Token[];
  private index = 0;
  private readonly aliases: ReadonlyMap<string, string>;
  private readonly depth: number;
  private nesting = 0;

  constructor(text: string, aliases: ReadonlyMap<string, string>, depth: number) {
    this.tokens = tokenize(text);
    this.aliases = aliases;
    this.depth = depth;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.index + offset, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== "eof") this.index++;
    return token;
  }

  private expect(kind: TokenKind): Token {
    const token = this.next();
    if (token.kind !== kind) syntax(`expected '${kind}' at position ${token.pos} in $filter but found '${token.text || "end of input"}'`);
    return token;
  }

  private isKeyword(word: string, offset = 0): boolean {
    const token = this.peek(offset);
    return token.kind === "ident" && token.text === word;
  }

  parseAll(): FilterNode {
    const node = this.parseOr();
    const token = this.peek();
    if (token.kind !== "eof") syntax(`unexpected '${token.text}' at position ${token.pos} in $filter`);
    return node;
  }

  parseValueOnly(): FilterNode {
    const node = this.parsePrimary();
    const token = this.peek();
    if (token.kind !== "eof") syntax(`unexpected '${token.text}' in a parameter alias value`);
    return node;
  }

  private parseOr(): FilterNode {
    let left = this.parseAnd();
    while (this.isKeyword("or")) {
      this.next();
      left = { type: "or", left, right: this.parseAnd() };
    }
    return left;
  }

  private parseAnd(): FilterNode {
    let left = this.parseUnary();
    while (this.isKeyword("and")) {
      this.next();
      left = { type: "and", left, right: this.parseUnary() };
    }
    return left;
  }

  /** `not` negates the comparison (or parenthesised expression) that follows it. */
  private parseUnary(): FilterNode {
    if (this.isKeyword("not")) {
      const token = this.next();
      this.enter(token);
      const operand = this.parseUnary();
      this.nesting--;
      return { type: "not", operand };
    }
    return this.parseComparison();
  }

  /** One level deeper (parentheses, `not`, arguments, lambdas, arrays); refuses past {@link MAX_NESTING}. */
  private enter(token: Token): void {
    this.nesting++;
    if (this.nesting > MAX_NESTING) syntax(`the expression nests deeper than ${MAX_NESTING} levels (parentheses, 'not', function arguments, lambdas) at position ${token.pos} in $filter`);
  }

  private parseComparison(): FilterNode {
    const left = this.parsePrimary();
    const token = this.peek();
    if (token.kind === "ident" && COMPARISON.has(token.text)) {
      this.next();
      const right = this.parsePrimary();
      const after = this.peek();
      if (after.kind === "ident" && COMPARISON.has(after.text)) syntax(`comparisons cannot be chained ('${after.text}' at position ${after.pos}); use 'and'`);
      return { type: "compare", op: token.text as ComparisonOperator, left, right };
    }
    if (token.kind === "ident" && UNSUPPORTED_OPERATORS.has(token.text)) {
      throw dv.queryOptionNotSupported(`$filter operator '${token.text}' (Dataverse supports eq, ne, gt, ge, lt, le, and, or, not)`);
    }
    return left;
  }

  private parsePrimary(): FilterNode {
    const token = this.peek();
    this.enter(token);
    const node = this.primary();
    this.nesting--;
    return node;
  }

  private primary(): FilterNode {
    const token = this.next();
    switch (token.kind) {
      case "(": {
        const inner = this.parseOr();
        this.expect(")");
        return inner;
      }
      case "string":
        return { type: "literal", literal: { type: "string", value: token.value ?? "" } };
      case "number": {
        const raw = token.text.replace(/[mMdDfFlL]$/, "");
        return { type: "literal", literal: { type: "number", value: Number(raw), raw } };
      }
      case "guid":
        return { type: "literal", literal: { type: "guid", value: token.text.toLowerCase() } };
      case "date":
        return { type: "literal", literal: { type: "date", value: token.text } };
      case "datetime":
        return { type: "literal", literal: { type: "datetime", value: token.text } };
      case "alias":
        return this.resolveAlias(token);
      case "[":
        return this.parseArray();
      case "ident":
        return this.parseMember(token);
      default:
        return syntax(`unexpected '${token.text || "end of input"}' at position ${token.pos} in $filter`);
    }
  }

  private resolveAlias(token: Token): FilterNode {
    const text = this.aliases.get(token.text);
    if (text === undefined) syntax(`the parameter alias '${token.text}' is used in $filter but has no value in the query string`);
    if (this.depth > 4) syntax(`the parameter alias '${token.text}' refers to itself`);
    return new Parser(text, this.aliases, this.depth + 1).parseValueOnly();
  }

  private parseArray(): FilterNode {
    const items: FilterNode[] = [];
    if (this.peek().kind === "]") {
      this.next();
      return { type: "array", items };
    }
    for (;;) {
      items.push(this.parsePrimary());
      const token = this.next();
      if (token.kind === "]") return { type: "array", items };
      if (token.kind !== ",") syntax(`expected ',' or ']' at position ${token.pos} in $filter`);
    }
  }

  private parseMember(first: Token): FilterNode {
    const word = first.text;
    if (word === "null") return { type: "literal", literal: { type: "null" } };
    if (word === "true" || word === "false") return { type: "literal", literal: { type: "boolean", value: word === "true" } };
    if (this.peek().kind === "(") return this.parseCall(word);
    const path = [word];
    while (this.peek().kind === "/") {
      this.next();
      const segment = this.expect("ident").text;
      if ((segment === "any" || segment === "all") && this.peek().kind === "(") return this.parseLambda(path, segment);
      path.push(segment);
    }
    return { type: "property", path };
  }

  private parseCall(name: string): FilterNode {
    this.expect("(");
    const args: FilterNode[] = [];
    const named = new Map<string, FilterNode>();
    if (this.peek().kind === ")") {
      this.next();
      return { type: "call", name, args, named };
    }
    for (;;) {
      if (this.peek().kind === "ident" && this.peek(1).kind === "=") {
        const key = this.next().text;
        this.next();
        if (named.has(key)) syntax(`the parameter '${key}' is given twice to '${name}'`);
        named.set(key, this.parsePrimary());
      } else {
        args.push(this.parseOr());
      }
      const token = this.next();
      if (token.kind === ")") return { type: "call", name, args, named };
      if (token.kind !== ",") syntax(`expected ',' or ')' at position ${token.pos} in the arguments of '${name}'`);
    }
  }

  private parseLambda(path: string[], op: "any" | "all"): FilterNode {
    this.expect("(");
    if (this.peek().kind === ")") {
      this.next();
      return { type: "lambda", path, op, variable: undefined, predicate: undefined };
    }
    const variable = this.expect("ident").text;
    this.expect(":");
    const predicate = this.parseOr();
    this.expect(")");
    return { type: "lambda", path, op, variable, predicate };
  }
}

/**
 * Parses a `$filter` expression into a syntax tree. Precedence, loosest first: `or`, `and`, `not`,
 * comparison; parentheses group. `@p1` parameter aliases take their value from `aliases`
 * (`?$filter=name eq @p1&@p1='x'`; OData v4.01 Part 2 §5.1.1.13.3, learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows).
 * @throws DataverseError 400 `0x80060888` naming the position of a syntax error.
 */
export function parseFilter(text: string, aliases: ReadonlyMap<string, string> = new Map()): FilterNode {
  if (text.trim() === "") syntax("$filter is empty");
  return new Parser(text, aliases, 0).parseAll();
}
