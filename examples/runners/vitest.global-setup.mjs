// Vitest globalSetup: one orgbox for the whole run, started from an environment file.
// vitest.config: test: { globalSetup: ["./vitest.global-setup.mjs"] }
// Tests read the URLs with inject("orgbox") (or process.env.ORGBOX_*).
import { fileURLToPath } from "node:url";
import { startOrgbox } from "orgbox";

const ENVIRONMENT = fileURLToPath(new URL("../isv-multitenant.orgbox.yaml", import.meta.url));

/** @param {import("vitest/node").TestProject} project */
export default async function setup(project) {
  const orgbox = await startOrgbox({ config: ENVIRONMENT });
  const info = { url: orgbox.url, authority: orgbox.authority, orgUrl: orgbox.orgUrl, apiUrl: orgbox.apiUrl, caCertPath: orgbox.caCertPath ?? "" };
  // Workers start after this runs, so they inherit the variables: NODE_EXTRA_CA_CERTS makes their fetch trust orgbox's CA.
  process.env.ORGBOX_URL = info.url;
  process.env.ORGBOX_AUTHORITY = info.authority;
  process.env.ORGBOX_ORG_URL = info.orgUrl;
  if (info.caCertPath) process.env.NODE_EXTRA_CA_CERTS = info.caCertPath;
  project.provide("orgbox", info);
  return async () => {
    await orgbox.close();
  };
}
