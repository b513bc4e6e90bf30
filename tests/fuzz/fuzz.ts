/**
 * The fuzz harness: fast-check properties that send generated HTTP requests to a running orgbox and
 * assert that none is answered with a 5xx (501, documented for what orgbox does not implement, aside)
 * and that the server still answers afterwards.
 *
 * Bounded and reproducible: every target runs `ORGBOX_FUZZ_RUNS` cases (default {@link DEFAULT_RUNS})
 * from the seed `ORGBOX_FUZZ_SEED` (default {@link DEFAULT_SEED}); a failure prints fast-check's seed and
 * path and the shrunk request. `npm run fuzz` runs 60,000 cases per target (16 targets: about a million in all).
 */
import fc from "fast-check";
import { expect } from "vitest";

/** Cases per target in `npm test`: a few seconds per target on a shared 2-core machine. */
export const DEFAULT_RUNS = 150;
export const DEFAULT_SEED = 20_011;
export const RUNS = Number(process.env.ORGBOX_FUZZ_RUNS ?? DEFAULT_RUNS);
export const SEED = Number(process.env.ORGBOX_FUZZ_SEED ?? DEFAULT_SEED);
/** A test's time limit (ms), scaled with the runs (a long run takes hours). */
export const TARGET_TIMEOUT_MS = 60_000 + RUNS * 50;

/** One generated request; `url` is absolute. */
export interface FuzzRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
}

/** What a target checks about each answer, beyond "not a 5xx". */
export type AnswerCheck = (request: FuzzRequest, status: number, text: string, headers: Headers) => void;

/** Counts over a test file, printed as `fuzz: N cases, M 5xx`. */
export class FuzzTally {
  cases = 0;
  serverErrors = 0;
  readonly label: string;
  constructor(label: string) {
    this.label = label;
  }
  print(): void {
    console.log(`fuzz (${this.label}): ${this.cases} cases, ${this.serverErrors} 5xx`);
  }
}

/** Sends a request without following redirects; returns status, body text and headers. */
export async function send(request: FuzzRequest): Promise<{ status: number; text: string; headers: Headers }> {
  const headers = new Headers();
  // Characters a header value cannot carry (controls, non-ASCII) go percent-encoded, as a client would have to send them.
  for (const [name, value] of Object.entries(request.headers ?? {})) headers.set(name, value.replace(/[^\x20-\x7e]/gu, (c) => enc(c)).trim());
  const response = await fetch(request.url, {
    method: request.method,
    redirect: "manual",
    headers,
    ...(request.body !== undefined && request.method !== "GET" ? { body: request.body } : {}),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

/** The status is not a server error (501 aside: orgbox answers it for what it documents as not implemented). */
export const isServerError = (status: number) => status >= 500 && status !== 501;

/**
 * Runs `RUNS` generated requests of one target: each answer must not be a 5xx and must pass `check`.
 * @throws the fast-check failure (seed, path, shrunk counterexample) when a case fails.
 */
export async function fuzzTarget(tally: FuzzTally, arbitrary: fc.Arbitrary<FuzzRequest>, check?: AnswerCheck): Promise<void> {
  await fc.assert(
    fc.asyncProperty(arbitrary, async (request) => {
      tally.cases++;
      const answer = await send(request);
      if (isServerError(answer.status)) {
        tally.serverErrors++;
        throw new Error(`${request.method} ${request.url} → ${answer.status} ${answer.text.slice(0, 300)}`);
      }
      check?.(request, answer.status, answer.text, answer.headers);
    }),
    { numRuns: RUNS, seed: SEED, endOnFailure: false },
  );
}

/** Checks a Web API answer: a 4xx carries Dataverse's envelope `{"error":{"code":"0x…","message":…}}`. */
export const dataverseEnvelope: AnswerCheck = (request, status, text, headers) => {
  // A failed `$batch` answers 400 with a multipart body holding the error part.
  if (status < 400 || (headers.get("content-type") ?? "").startsWith("multipart/mixed")) return;
  let body: { error?: { code?: unknown; message?: unknown } } | undefined;
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = undefined;
  }
  expect(body?.error?.code, `${request.method} ${request.url} → ${status} ${text.slice(0, 200)}`).toMatch(/^0x[0-9a-f]+$/i);
  expect(typeof body?.error?.message).toBe("string");
};

/** Percent-encodes any string for a URL (lone surrogates become U+FFFD first, as a browser would send them). */
export const enc = (s: string) => encodeURIComponent(Buffer.from(s, "utf8").toString("utf8"));

/** Any text: printable ASCII, full Unicode, control characters (U+0000 included) and lone surrogates. */
export const anyText = (maxLength = 40) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: "binary", maxLength }),
    fc.string({ unit: fc.constantFrom("\u0000", "\u0001", "\u001f", "\u007f", "\ud800", "\udfff", "\u2028", "\ufeff", "%", "'", '"', "\\", "&", "=", "<", ">", ";", "(", ")", "/", "$"), maxLength: 8 }),
  );

/** Numbers that break naive code: huge, fractional, negative zero, beyond 2^53 and 2^63, exponents, non-numbers. */
export const edgeNumber = fc.constantFrom(
  "0", "-0", "1", "-1", "1.5", "2147483647", "2147483648", "-2147483649", "9007199254740991", "9007199254740993", "9223372036854775807",
  "9223372036854775808", "99999999999999999999", "1e308", "1e400", "-1e400", "NaN", "Infinity", "0x10", "1_000", "٣", "00000000000000000001",
);

/** One of `items`, or any text in its place. */
export const vocabOrText = (items: readonly string[]) => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...items) }, { weight: 1, arbitrary: anyText(12) }, { weight: 1, arbitrary: edgeNumber });

/** Tokens joined by spaces or nothing: the "token soup" that reaches parser states grammars do not. */
export const soup = (tokens: readonly string[], maxLength = 12) =>
  fc.tuple(fc.array(vocabOrText(tokens), { maxLength }), fc.constantFrom(" ", "", ",")).map(([parts, sep]) => parts.join(sep));
