/**
 * Issue 3: signing-key rotation. Tokens signed before a rotation keep working,
 * both keys are published during the overlap, new tokens switch `kid` at
 * activation, and requests in flight during a rotation do not fail.
 */
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { decodeProtectedHeader } from "jose";
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config/config.ts";
import { ManualClock, startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { apiGet, demoToken, useOrgbox } from "../helpers/orgbox.ts";

const CLI = resolve(import.meta.dirname, "../../bin/orgbox.js");
type Jwks = { keys: { kid: string; x5t: string; issuer?: string }[] };

async function jwks(o: OrgboxInstance, path = `/${o.tenantId}/discovery/v2.0/keys`): Promise<string[]> {
  const body = (await (await fetch(`${o.url}${path}`)).json()) as Jwks;
  return body.keys.map((k) => k.kid);
}
const kidOf = (token: string) => decodeProtectedHeader(token).kid as string;

describe("signing-key rotation with a manual clock", () => {
  const clock = new ManualClock();
  const orgbox = useOrgbox({}, { clock });

  it("publishes the new key at once, signs with it after activation, retires the old one after its tokens expire", async () => {
    const o = orgbox();
    const before = await demoToken(o);
    const oldKid = kidOf(before);
    expect(await jwks(o)).toEqual([oldKid]);

    const rotation = await o.identity.rotateKeys({ activateAfterSeconds: 600 });
    expect(rotation.kid).not.toBe(oldKid);
    expect(rotation.previousRetireAt).toBe(rotation.activatesAt + (3599 + 60) * 1000);
    expect((await jwks(o)).sort()).toEqual([oldKid, rotation.kid].sort());
    expect((await jwks(o, "/common/discovery/keys")).sort()).toEqual([oldKid, rotation.kid].sort());
    expect(kidOf(await demoToken(o))).toBe(oldKid); // not active yet
    expect((await apiGet(o, before, "WhoAmI")).status).toBe(200);

    clock.advance(601_000);
    const after = await demoToken(o);
    expect(kidOf(after)).toBe(rotation.kid);
    expect((await apiGet(o, before, "WhoAmI")).status).toBe(200); // signed by the old key, still valid
    expect((await apiGet(o, after, "WhoAmI")).status).toBe(200);
    expect((await jwks(o)).sort()).toEqual([oldKid, rotation.kid].sort());

    clock.advance(rotation.previousRetireAt - clock.now() + 1000);
    expect(await jwks(o)).toEqual([rotation.kid]);
    const late = await demoToken(o);
    expect(kidOf(late)).toBe(rotation.kid);
    expect((await apiGet(o, late, "WhoAmI")).status).toBe(200);
    expect((await apiGet(o, before, "WhoAmI")).status).toBe(401);
  });

  it("requests in flight during a rotation all succeed", async () => {
    const o = orgbox();
    const tokens = await Promise.all(Array.from({ length: 10 }, () => demoToken(o)));
    const work = Array.from({ length: 40 }, async (_, i) => {
      const token = i % 2 === 0 ? (tokens[i % tokens.length] as string) : await demoToken(o);
      return (await apiGet(o, token, "accounts?$select=name&$top=1")).status;
    });
    const rotations = [o.identity.rotateKeys({ activateAfterSeconds: 0 }), o.identity.rotateKeys({ activateAfterSeconds: 0 })];
    const statuses = await Promise.all(work);
    await Promise.all(rotations);
    expect(statuses.every((s) => s === 200)).toBe(true);
    for (const token of tokens) expect((await apiGet(o, token, "WhoAmI")).status).toBe(200);
    expect((await apiGet(o, await demoToken(o), "WhoAmI")).status).toBe(200);
  });

  it("rejects a negative activation delay", async () => {
    await expect(orgbox().identity.rotateKeys({ activateAfterSeconds: -1 })).rejects.toThrow(RangeError);
  });
});

describe("keyRotationIntervalSeconds and `orgbox keys rotate`", () => {
  it("rotates on a timer (published at once), and stops on close", async () => {
    const o = await startOrgbox({ keyRotationIntervalSeconds: 1 });
    try {
      expect(await jwks(o)).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 1600));
      expect((await jwks(o)).length).toBeGreaterThanOrEqual(2);
    } finally {
      await o.close();
    }
  });

  it("refuses a bad interval; ORGBOX_KEY_ROTATION_INTERVAL sets it; default off", async () => {
    await expect(startOrgbox({ keyRotationIntervalSeconds: 0 })).rejects.toThrow(/keyRotationIntervalSeconds/);
    expect(resolveConfig({}, { ORGBOX_KEY_ROTATION_INTERVAL: "86400" }).keyRotationIntervalSeconds).toBe(86400);
    expect(resolveConfig({}, {}).keyRotationIntervalSeconds).toBeUndefined();
    expect(() => resolveConfig({}, { ORGBOX_KEY_ROTATION_INTERVAL: "soon" })).toThrow(/keyRotationIntervalSeconds/);
  });

  it("the CLI rotates the keys of a persisted store; the next start publishes both", async () => {
    const dir = mkdtempSync(join(tmpdir(), "orgbox-keys-"));
    try {
      const first = await startOrgbox({ dataDir: dir, caDir: defaultTempCaDir() });
      const oldKid = kidOf(await demoToken(first));
      await first.close();
      const { stdout } = await promisify(execFile)(process.execPath, [CLI, "keys", "rotate", "--data", dir, "--activate-after", "0", "--json"]);
      const out = JSON.parse(stdout) as { kid: string; activatesAt: string; previousKeysRetireAt: string };
      expect(out.kid).not.toBe(oldKid);
      const second = await startOrgbox({ dataDir: dir, caDir: defaultTempCaDir() });
      try {
        expect((await jwks(second)).sort()).toEqual([oldKid, out.kid].sort());
        expect(kidOf(await demoToken(second))).toBe(out.kid);
      } finally {
        await second.close();
      }
      const bad = promisify(execFile)(process.execPath, [CLI, "keys", "rotate", "--data", join(dir, "missing")]);
      await expect(bad).rejects.toMatchObject({ code: 2 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
