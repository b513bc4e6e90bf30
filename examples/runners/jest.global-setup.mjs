// Jest globalSetup: starts orgbox once for the run. Pair it with jest.global-teardown.mjs:
//   jest.config.mjs: export default { globalSetup: "./jest.global-setup.mjs", globalTeardown: "./jest.global-teardown.mjs" };
// Jest runs both in the same process and shares globalThis between them (not with the tests):
// tests read process.env.ORGBOX_*, which the workers inherit.
import { fileURLToPath } from "node:url";
import { startOrgbox } from "orgbox";

const ENVIRONMENT = fileURLToPath(new URL("../isv-multitenant.orgbox.yaml", import.meta.url));

export default async function globalSetup() {
  const orgbox = await startOrgbox({ config: ENVIRONMENT });
  globalThis.__ORGBOX__ = orgbox;
  process.env.ORGBOX_URL = orgbox.url;
  process.env.ORGBOX_AUTHORITY = orgbox.authority;
  process.env.ORGBOX_ORG_URL = orgbox.orgUrl;
  // Read when each worker process starts: the workers' fetch trusts orgbox's CA.
  if (orgbox.caCertPath) process.env.NODE_EXTRA_CA_CERTS = orgbox.caCertPath;
}
