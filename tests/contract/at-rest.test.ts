/**
 * Issue 11, at rest and on the machine: the data folder and the SQLite file (which holds the
 * token-signing private keys) are owner-only; an older, looser data folder is tightened on start;
 * a CA folder another user created or can write is refused; the in-memory CA folder is per user.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/common/errors.ts";
import { defaultTempCaDir, ensureLocalTls } from "../../src/common/tls.ts";
import { resolveConfig } from "../../src/config/config.ts";
import { startOrgbox } from "../../src/index.ts";
import { openDatabase } from "../../src/store/database.ts";

const mode = (path: string) => statSync(path).mode & 0o777;
const isRoot = process.getuid?.() === 0;
/** A uid that is not ours (nobody). */
const OTHER_UID = 65534;

describe.skipIf(typeof process.getuid !== "function")("files at rest", () => {
  const root = mkdtempSync(join(tmpdir(), "orgbox-at-rest-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("a new data folder is 0700; orgbox.sqlite, -wal and -shm are 0600; the CA folder 0700 and its keys 0600", async () => {
    const dataDir = join(root, "fresh", "data");
    const orgbox = await startOrgbox({ inMemory: false, dataDir });
    try {
      expect(mode(dataDir)).toBe(0o700);
      const file = join(dataDir, "orgbox.sqlite");
      expect(mode(file)).toBe(0o600);
      // WAL mode: the companions exist while the store is open, with the database file's mode.
      expect(existsSync(`${file}-wal`)).toBe(true);
      expect(mode(`${file}-wal`)).toBe(0o600);
      expect(mode(`${file}-shm`)).toBe(0o600);
      const caDir = join(dataDir, "ca");
      expect(orgbox.caCertPath).toBe(join(caDir, "ca.pem"));
      expect(mode(caDir)).toBe(0o700);
      expect(mode(join(caDir, "ca-key.pem"))).toBe(0o600);
      expect(mode(join(caDir, "server-key.pem"))).toBe(0o600);
    } finally {
      await orgbox.close();
    }
  });

  it("tightens a data folder and files an older build created 0755 / 0644, and says so", async () => {
    const dataDir = join(root, "legacy");
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    const file = join(dataDir, "orgbox.sqlite");
    writeFileSync(file, "", { mode: 0o644 });
    chmodSync(file, 0o644);
    writeFileSync(`${file}-wal`, "", { mode: 0o644 });
    chmodSync(`${file}-wal`, 0o644);
    const reports: string[] = [];
    const database = await openDatabase({ inMemory: false, dataDir, onPermissions: (m) => reports.push(m) });
    await database.close();
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(file)).toBe(0o600);
    expect(reports).toEqual(expect.arrayContaining([expect.stringContaining(`tightened ${dataDir} from 0755 to 0700`), expect.stringContaining(`tightened ${file} from 0644 to 0600`)]));
    // nothing to say the second time
    const again: string[] = [];
    await (await openDatabase({ inMemory: false, dataDir, onPermissions: (m) => again.push(m) })).close();
    expect(again).toEqual([]);
  });

  it.skipIf(!isRoot)("warns about a loose data folder owned by someone else (cannot chmod it for them)", async () => {
    const dataDir = join(root, "foreign-data");
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    chownSync(dataDir, OTHER_UID, OTHER_UID);
    const reports: string[] = [];
    await (await openDatabase({ inMemory: false, dataDir, onPermissions: (m) => reports.push(m) })).close();
    expect(mode(dataDir)).toBe(0o755);
    expect(reports).toContainEqual(expect.stringContaining(`${dataDir} is 0755 and owned by uid ${OTHER_UID}, not by this user`));
  });

  describe("the local CA folder", () => {
    it("in memory, the default CA folder is per user ({tmpdir}/orgbox-ca-{uid})", () => {
      expect(defaultTempCaDir()).toBe(join(tmpdir(), `orgbox-ca-${process.getuid?.()}`));
      expect(resolveConfig({ inMemory: true }).caDir).toBe(defaultTempCaDir());
    });

    it.skipIf(!isRoot)("refuses a CA folder created by another user, naming the folder and the fix", async () => {
      const caDir = join(root, "their-ca");
      await ensureLocalTls(caDir);
      chownSync(caDir, OTHER_UID, OTHER_UID);
      const refused = ensureLocalTls(caDir);
      await expect(refused).rejects.toThrow(ConfigError);
      await expect(refused).rejects.toThrow(`the local CA folder ${caDir} is owned by uid ${OTHER_UID}, not by this user`);
      await expect(refused).rejects.toThrow("--ca-dir");
      // end to end: an in-memory orgbox pointed at it does not start
      await expect(startOrgbox({ caDir })).rejects.toThrow(/owned by uid 65534/);
    });

    it("refuses a CA folder writable by group or others, and a symbolic link", async () => {
      const caDir = join(root, "open-ca");
      await ensureLocalTls(caDir);
      chmodSync(caDir, 0o777);
      await expect(ensureLocalTls(caDir)).rejects.toThrow(`the local CA folder ${caDir} is writable by group or others (mode 0777)`);
      chmodSync(caDir, 0o700);
      await expect(ensureLocalTls(caDir)).resolves.toMatchObject({ caCertPath: join(caDir, "ca.pem") });
      const link = join(root, "linked-ca");
      symlinkSync(caDir, link);
      await expect(ensureLocalTls(link)).rejects.toThrow("is not a folder (a symbolic link or a file)");
    });

    it("tightens a CA private key left readable by an older build", async () => {
      const caDir = join(root, "old-ca");
      await ensureLocalTls(caDir);
      chmodSync(join(caDir, "ca-key.pem"), 0o644);
      const reports: string[] = [];
      await ensureLocalTls(caDir, [], (m) => reports.push(m));
      expect(mode(join(caDir, "ca-key.pem"))).toBe(0o600);
      expect(reports).toContainEqual(expect.stringContaining("ca-key.pem from 0644 to 0600"));
    });
  });
});
