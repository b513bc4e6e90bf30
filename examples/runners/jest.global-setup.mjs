// Jest globalSetup: starts orgbox once for the run. Pair it with jest.global-teardown.mjs:
//   jest.config.mjs: export default { globalSetup: "./jest.global-setup.mjs", globalTeardown: "./jest.global-teardown.mjs" };
// Jest runs both in the same process and shares globalThis between them (not with the tests):
// tests read process.env.ORGBOX_*, which the workers inherit. Start Jest with NODE_EXTRA_CA_CERTS set:
//   export NODE_EXTRA_CA_CERTS="$(npx orgbox cert --in-memory --json | jq -r .caCertPath)"; npx jest
import { fileURLToPath } from "node:url";
import { startOrgbox } from "orgbox";

const ENVIRONMENT = fileURLToPath(new URL("../isv-multitenant.orgbox.yaml", import.meta.url));

export default async function globalSetup() {
  const orgbox = await startOrgbox({ config: ENVIRONMENT });
  // Node reads NODE_EXTRA_CA_CERTS only at process start, and Jest runs the tests in this process when there
  // is one test file (or --runInBand): it must name orgbox's CA before Jest starts. Fail loudly instead of
  // "self-signed certificate in certificate chain" in the tests.
  if (orgbox.caCertPath && process.env.NODE_EXTRA_CA_CERTS !== orgbox.caCertPath) {
    await orgbox.close();
    throw new Error(`start Jest with NODE_EXTRA_CA_CERTS=${orgbox.caCertPath} (export NODE_EXTRA_CA_CERTS="$(npx orgbox cert --in-memory --json | jq -r .caCertPath)")`);
  }
  globalThis.__ORGBOX__ = orgbox;
  process.env.ORGBOX_URL = orgbox.url;
  process.env.ORGBOX_AUTHORITY = orgbox.authority;
  process.env.ORGBOX_ORG_URL = orgbox.orgUrl;
}
