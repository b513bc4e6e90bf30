import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";

/** The parts of a started orgbox that {@link trustCa} reads (both `undefined` when it serves plain HTTP). */
export interface OrgboxCa {
  /** The local CA certificate, PEM. */
  caCert: string | undefined;
  /** Absolute path of the file holding {@link OrgboxCa.caCert}. */
  caCertPath: string | undefined;
}

const pem = (text: string) => text.replace(/\r\n/g, "\n").trim();

/**
 * Makes HTTPS clients trust orgbox's local CA without restarting anything, for test-runner set-ups
 * such as a Jest `globalSetup`, whose tests may run in the same process (one test file, or
 * `--runInBand`) or in workers started afterwards:
 *
 * - this process (this thread), from now on: `fetch`, `node:https` and the clients built on them
 *   (MSAL, `@azure/identity`, `dynamics-web-api`). The CA is added to the default CA certificates
 *   with `tls.setDefaultCACertificates` (Node 22.19 / 24.5 or newer); connections an HTTPS agent
 *   already keeps open are not affected.
 * - processes started from now on (Jest and Vitest workers, `child_process`): `NODE_EXTRA_CA_CERTS`
 *   names the CA, which Node reads when a process starts
 *   (https://nodejs.org/api/cli.html#node_extra_ca_certsfile). When it already names another file,
 *   it is replaced by a bundle of that file and the CA, in a new private temporary folder.
 *
 * Does nothing for an orgbox served over plain HTTP (`caCert` undefined).
 * @throws Error on a Node without `tls.setDefaultCACertificates` whose process did not start
 *   trusting the CA, naming the `NODE_EXTRA_CA_CERTS` value to start it with instead.
 */
export function trustCa(orgbox: OrgboxCa): void {
  const { caCert, caCertPath } = orgbox;
  if (caCert === undefined || caCertPath === undefined) return;
  const startedWith = process.env.NODE_EXTRA_CA_CERTS;
  if (typeof tls.setDefaultCACertificates === "function") {
    const current = tls.getCACertificates("default");
    if (!current.some((c) => pem(c) === pem(caCert))) tls.setDefaultCACertificates([...current, caCert]);
  } else if (startedWith !== caCertPath) {
    throw new Error(`Node.js ${process.versions.node} cannot add orgbox's CA to a running process (tls.setDefaultCACertificates needs Node.js 22.19 or 24.5): start this process with NODE_EXTRA_CA_CERTS=${caCertPath}`);
  }
  if (startedWith === undefined || startedWith === "" || startedWith === caCertPath) {
    process.env.NODE_EXTRA_CA_CERTS = caCertPath;
    return;
  }
  let previous = "";
  try {
    previous = readFileSync(startedWith, "utf8");
  } catch {
    // Node ignores an unreadable NODE_EXTRA_CA_CERTS file (with a warning): so does the bundle.
  }
  if (previous.includes(pem(caCert))) return;
  const bundle = join(mkdtempSync(join(tmpdir(), "orgbox-trust-")), "ca-bundle.pem");
  writeFileSync(bundle, `${previous.trimEnd()}\n${pem(caCert)}\n`, { mode: 0o600 });
  process.env.NODE_EXTRA_CA_CERTS = bundle;
}
