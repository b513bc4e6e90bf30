import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * Time travel works only if nothing in src/ reads the wall clock behind orgbox's clock's back: no
 * `Date.now()`, no argument-less `new Date()` / `Date()`, no `systemClock` outside the files listed
 * here with the reason each may. Everything else takes the injected `Clock` (common/clock.ts).
 */

const SRC = dirname(fileURLToPath(import.meta.url));

/** Files that may read the wall clock, and why. */
const ALLOWED: Record<string, string> = {
  "common/clock.ts": "defines systemClock, the one wall-clock reader",
  "common/tls.ts": "the local CA and server certificate: TLS clients check their validity against the real time",
  "server/services.ts": "systemClock as the default base clock of the services",
  "server/create-orgbox.ts": "systemClock as the default base clock",
  "index.ts": "systemClock as the default base clock of startOrgbox",
  "cli/directory-remote.ts": "a client of a running orgbox: the proof token Graph's addKey wants is signed on the client's own clock, as Graph checks it",
  "portal/app/auth.ts": "browser code: the portal's token cache expires on the browser's clock, as any SPA's",
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts") ? [path] : [];
  });
}

const WALL_CLOCK = /\bDate\.now\s*\(|\bnew\s+Date\s*\(\s*\)|(?<![.\w])Date\s*\(\s*\)|\bsystemClock\b|\bperformance\.timeOrigin\b/;

describe("the wall clock", () => {
  it("is read only through orgbox's clock (common/clock.ts), apart from the files allowed with a reason", () => {
    const offenders: string[] = [];
    for (const file of sources(SRC)) {
      const name = relative(SRC, file).split("\\").join("/");
      if (name in ALLOWED) continue;
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          const code = line.replace(/\/\/.*$/, "");
          if (!/^\s*\*/.test(code) && WALL_CLOCK.test(code)) offenders.push(`${name}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders, "use the injected Clock (clock.now()) instead").toEqual([]);
  });

  it("the allowed files still need their exception (an unused one is removed)", () => {
    const stale = Object.keys(ALLOWED).filter((name) => !WALL_CLOCK.test(readFileSync(join(SRC, name), "utf8")));
    expect(stale).toEqual([]);
  });
});
