import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";

/**
 * A throwaway PostgreSQL server for the test run: `initdb` into a temp folder, `pg_ctl start`
 * listening on a unix socket in that folder only (no TCP port), trust authentication, fsync off.
 * Postgres refuses to run as root, so as root the server runs as the `postgres` user (created by
 * Debian's package), or a system user `orgbox-pg` created here.
 */
export interface TestPostgres {
  /** Admin URL: `postgres://postgres@/postgres?host=/tmp/orgbox-pg-…`. */
  url: string;
  stop(): Promise<void>;
}

/** Environment variables the global setup hands to the test workers. */
export const PG_URL_ENV = "ORGBOX_TEST_PG_URL";
export const PG_ERROR_ENV = "ORGBOX_TEST_PG_ERROR";

function findBinDir(): string {
  const onPath = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" }).stdout.trim();
  if (onPath) return join(onPath, "..");
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions[0] === undefined) throw new Error("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin): run scripts/ensure-test-deps.sh (apt-get install postgresql)");
  return join(root, versions[0], "bin");
}

/** The non-root user to run the server as (when we are root), creating one when needed. */
function serverUser(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ["postgres", "orgbox-pg"]) {
    if (spawnSync("id", ["-u", name]).status === 0) return name;
  }
  execFileSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "orgbox-pg"]);
  return "orgbox-pg";
}

/** Starts the server; takes about 1.5 s (initdb). @throws Error with initdb's or pg_ctl's output. */
export async function startTestPostgres(): Promise<TestPostgres> {
  const bin = findBinDir();
  const user = serverUser();
  // The server's user must reach the folder: as root, /tmp (a TMPDIR under /root would not do).
  const dir = mkdtempSync(join(user ? "/tmp" : tmpdir(), "orgbox-pg-"));
  if (user) {
    const uid = Number(execFileSync("id", ["-u", user], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", user], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  const run = (tool: string, args: string[]) => {
    const command = user ? "runuser" : join(bin, tool);
    const argv = user ? ["-u", user, "--", join(bin, tool), ...args] : args;
    const result = spawnSync(command, argv, { encoding: "utf8", cwd: dir });
    if (result.status !== 0) throw new Error(`${tool} failed (${result.status}): ${result.stderr || result.stdout}`);
  };
  const data = join(dir, "data");
  run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"]);
  const options = `-k ${dir} -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  run("pg_ctl", ["-D", data, "-o", options, "-l", join(dir, "server.log"), "-w", "-t", "30", "start"]);
  return {
    url: socketUrl(dir, "postgres"),
    async stop() {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** `postgres://postgres@/{database}?host={socket dir}` (WHATWG `URL` cannot hold an empty host; pg's parser can). */
function socketUrl(dir: string, database: string): string {
  return `postgres://postgres@/${database}?host=${encodeURIComponent(dir)}`;
}

/** The admin URL the global setup published. @throws Error naming why there is no server. */
export function testPostgresUrl(): string {
  const url = process.env[PG_URL_ENV];
  if (url) return url;
  throw new Error(`no test PostgreSQL server: ${process.env[PG_ERROR_ENV] ?? "the vitest global setup (tests/global-setup.ts) did not run"}`);
}

/**
 * Creates an empty database on the test server for one test file; returns its URL and a
 * function that drops it (closing what still uses it).
 */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = testPostgresUrl();
  const name = `orgbox_t_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name} TEMPLATE template0 STRATEGY file_copy`);
  } finally {
    await client.end();
  }
  const host = new URLSearchParams(admin.split("?")[1] ?? "").get("host");
  return {
    url: host ? socketUrl(host, name) : admin.replace(/\/[^/?]*(\?|$)/, `/${name}$1`),
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
