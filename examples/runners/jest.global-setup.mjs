// Jest globalSetup: starts orgbox once for the run. Pair it with jest.global-teardown.mjs, as jest.config.mjs does:
//   export default { globalSetup: "./jest.global-setup.mjs", globalTeardown: "./jest.global-teardown.mjs" };
// Jest runs both in its own process and shares globalThis between them (not with the tests): tests read
// process.env.ORGBOX_*, which the workers inherit. trustCa() makes the tests trust orgbox's CA wherever Jest
// runs them: in this process (one test file, or --runInBand) and in the workers it starts afterwards.
import { fileURLToPath } from "node:url";
import { startOrgbox, trustCa } from "orgbox";

const ENVIRONMENT = fileURLToPath(new URL("../isv-multitenant.orgbox.yaml", import.meta.url));

export default async function globalSetup() {
  const orgbox = await startOrgbox({ config: ENVIRONMENT });
  try {
    trustCa(orgbox);
  } catch (error) {
    await orgbox.close();
    throw error;
  }
  globalThis.__ORGBOX__ = orgbox;
  process.env.ORGBOX_URL = orgbox.url;
  process.env.ORGBOX_AUTHORITY = orgbox.authority;
  process.env.ORGBOX_ORG_URL = orgbox.orgUrl;
}
