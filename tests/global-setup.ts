import { defaultTempCaDir, ensureLocalTls } from "../src/common/tls.ts";
import { PG_ERROR_ENV, PG_URL_ENV, startTestPostgres } from "./helpers/postgres.ts";

/**
 * Creates the shared local CA before any worker starts and makes every worker
 * trust it through NODE_EXTRA_CA_CERTS (read at process start), exactly as a
 * user is told to do. In-memory orgbox instances use this same CA folder.
 *
 * Starts one throwaway PostgreSQL server for the run (tests/helpers/postgres.ts) and hands its
 * admin URL to the workers in ORGBOX_TEST_PG_URL (unless that is already set: a server of your
 * own). When it cannot start, only the PostgreSQL tests fail, with the reason.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const tls = await ensureLocalTls(defaultTempCaDir());
  process.env.NODE_EXTRA_CA_CERTS = tls.caCertPath;
  if (process.env[PG_URL_ENV]) return async () => undefined;
  try {
    const server = await startTestPostgres();
    process.env[PG_URL_ENV] = server.url;
    return () => server.stop();
  } catch (error) {
    process.env[PG_ERROR_ENV] = (error as Error).message;
    return async () => undefined;
  }
}
