import type { IncomingHttpHeaders } from "node:http";
import { DataverseError } from "./errors.ts";

/**
 * Limits on what a Web API request may carry, checked before anything parses or stores it.
 *
 * - JSON nesting: at most {@link MAX_JSON_DEPTH} levels of objects and arrays. ODataLib, which the service
 *   reads payloads with, stops at 100 levels by default (`ODataMessageQuotas.MaxNestingDepth`,
 *   learn.microsoft.com/dotnet/api/microsoft.odata.odatamessagequotas.maxnestingdepth); orgbox's own
 *   readers recurse, so deeper bodies would overflow the stack.
 * - U+0000: refused in the URL (decoded once: `%00`), in header values and in bodies (raw, or `\u0000` in a
 *   JSON string). PostgreSQL text cannot hold it, and SQLite would store it; refusing it on both stores keeps
 *   them alike (see the README, "Differences from the cloud").
 */
const MAX_JSON_DEPTH = 100;

/** The 400 the service answers for a payload it cannot read (`0x80048d19`, as for malformed JSON). */
function payloadError(detail: string): DataverseError {
  return new DataverseError(
    400,
    "0x80048d19",
    `Error identified in Payload provided by the user for Entity :'', For more information on this error please follow this help link https://go.microsoft.com/fwlink/?linkid=2195293  ----> InnerException : ${detail}`,
  );
}

const nulInBody = () => payloadError("The payload contains the character U+0000, which orgbox does not accept in any value.");

/**
 * Checks JSON text before `JSON.parse` (and before any code that recurses over the result): nesting of
 * at most {@link MAX_JSON_DEPTH} levels, and no U+0000, raw or as the escape `\u0000`. One pass over the
 * characters; it stops at the first problem. Malformed JSON passes (the parser reports it).
 * @throws DataverseError 400 `0x80048d19` for a body nested too deeply or holding U+0000.
 */
export function checkJsonText(text: string): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) throw nulInBody();
    if (inString) {
      if (c === 0x22 /* " */) inString = false;
      else if (c === 0x5c /* \ */) {
        if (text.charCodeAt(i + 1) === 0x75 /* u */ && text.startsWith("0000", i + 2)) throw nulInBody();
        i++;
      }
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > MAX_JSON_DEPTH) throw payloadError(`The JSON payload is nested more than ${MAX_JSON_DEPTH} levels deep (objects and arrays).`);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
}

/**
 * Checks a request (a top-level one or a `$batch` part) for U+0000 in its URL (raw or `%00`), its header
 * values and a text body. JSON bodies are checked as text by {@link checkJsonText} before they are parsed.
 * @throws DataverseError 400 `0x80060888` for the URL or a header, `0x80048d19` for a text body.
 */
export function checkRequestText(url: string, headers: IncomingHttpHeaders, body: unknown): void {
  if (url.includes("\0") || url.includes("%00")) throw new DataverseError(400, "0x80060888", "Bad Request - Error in query syntax: the URL contains the character U+0000 (%00), which orgbox does not accept.");
  for (const [name, value] of Object.entries(headers)) {
    const values = Array.isArray(value) ? value : [value ?? ""];
    if (values.some((v) => v.includes("\0"))) throw new DataverseError(400, "0x80060888", `Bad Request: the header '${name}' contains the character U+0000, which orgbox does not accept.`);
  }
  if (typeof body === "string" && body.includes("\0")) throw nulInBody();
}
