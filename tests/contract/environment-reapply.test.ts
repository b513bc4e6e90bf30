/**
 * Issue 17: an environment file on a store that already holds it is not applied silently. A start says so (with
 * the flag that changes it), and `--reapply` rebuilds a data folder's store from the file, keeping the old one.
 * Both engines: the warning on SQLite and PostgreSQL, the rebuild on SQLite, the refusal on PostgreSQL.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/common/logger.ts";
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { resolveConfig, type OrgboxConfigInput } from "../../src/config/config.ts";
import { createOrgbox } from "../../src/server/create-orgbox.ts";
import { BACKENDS } from "../helpers/store-backends.ts";

const TENANT = "33330000-0000-4000-8000-000000000001";
const environment = (users: string[]) =>
  ["tenants:", `  - id: ${TENANT}`, "    displayName: Reapply", "    domains: [reapply.onmicrosoft.com]", "    users:", ...users.map((u) => `      - { userPrincipalName: ${u}@reapply.onmicrosoft.com, password: Reapply-pass-1 }`), ""].join("\n");

/** Starts orgbox on `store` with `file`, logging (info) to a capture; returns the log lines and whether each user exists. */
async function startWith(store: OrgboxConfigInput, file: string, users: string[], extra: OrgboxConfigInput = {}): Promise<{ log: string; present: Record<string, boolean> }> {
  const lines: string[] = [];
  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString("utf8"));
      done();
    },
  });
  const config = resolveConfig({ ...store, ...extra, configFile: file, port: 0, http: true, caDir: defaultTempCaDir(), logLevel: "info" }, {});
  const orgbox = await createOrgbox(config, createLogger("info", capture));
  try {
    const present: Record<string, boolean> = {};
    for (const u of users) present[u] = (await orgbox.identity.service.findUser(`${u}@reapply.onmicrosoft.com`)) !== undefined;
    return { log: lines.join(""), present };
  } finally {
    await orgbox.close();
  }
}

describe.each(BACKENDS)("an environment file the store already holds ($name)", ({ name, create }) => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-reapply-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is applied once, then not again with a warning naming --reapply; --reapply rebuilds a data folder, PostgreSQL refuses", { timeout: 60_000 }, async () => {
    const place = await create();
    try {
      const store: OrgboxConfigInput = { inMemory: false, dataDir: place.location.dataDir || dir, ...(place.location.storeUrl ? { storeUrl: place.location.storeUrl } : {}) };
      const file = join(dir, "env.orgbox.yaml");
      writeFileSync(file, environment(["ann"]));
      const first = await startWith(store, file, ["ann"]);
      expect(first.log).toContain(`environment ${file} applied`);
      expect(first.present).toEqual({ ann: true });

      // The file gains a user: a plain start keeps the store and says why.
      writeFileSync(file, environment(["ann", "bob"]));
      const second = await startWith(store, file, ["ann", "bob"]);
      expect(second.present).toEqual({ ann: true, bob: false });
      const warning = second.log.split("\n").find((l) => l.includes("not applied"));
      expect(warning, second.log).toBeDefined();
      expect(JSON.parse(warning as string)).toMatchObject({ level: 40, source: file });
      expect(warning).toContain("already holds its tenant 'reapply.onmicrosoft.com'");
      expect(warning).toContain("--reapply");

      if (name === "postgres") {
        await expect(startWith(store, file, [], { reapply: true })).rejects.toThrow(/--reapply rebuilds a data folder's store; with --store-url/);
        return;
      }
      const third = await startWith(store, file, ["ann", "bob"], { reapply: true });
      expect(third.present).toEqual({ ann: true, bob: true });
      expect(third.log).toContain("--reapply: rebuilding the store");
      expect(existsSync(join(store.dataDir as string, "orgbox.sqlite.before-reapply"))).toBe(true);

      // Again, as ORGBOX_REAPPLY=1 gives it: a user removed from the file is gone.
      writeFileSync(file, environment(["bob"]));
      const fourth = await startWith(store, file, ["ann", "bob"], { reapply: "1" });
      expect(fourth.present).toEqual({ ann: false, bob: true });
    } finally {
      await place.dispose();
    }
  });
});
