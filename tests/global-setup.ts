import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureLocalTls } from "../src/common/tls.ts";

/**
 * Creates the shared local CA before any worker starts and makes every worker
 * trust it through NODE_EXTRA_CA_CERTS (read at process start), exactly as a
 * user is told to do. In-memory orgbox instances use this same CA folder.
 */
export default async function setup(): Promise<void> {
  const tls = await ensureLocalTls(join(tmpdir(), "orgbox-ca"));
  process.env.NODE_EXTRA_CA_CERTS = tls.caCertPath;
}
