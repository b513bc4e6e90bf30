/**
 * "Bring your own certificate" (`tlsCert` + `tlsKey`, as Azurite's `--cert`/`--key`): the server certificate (with
 * its chain) and private key come from PEM files instead of the local CA. Clients trust it as they trust its
 * issuer; orgbox creates no CA for it and prints no trust steps.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { ConfigError } from "./errors.ts";

/** A server certificate chain and key, PEM, as the HTTPS server takes them. */
export interface OwnTls {
  /** Certificate chain (leaf first), PEM, as read from `tlsCert`. */
  cert: string;
  /** Private key, PEM. */
  key: string;
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(error as Error).message}`);
  }
}

/**
 * Reads and checks `certPath` (PEM certificate, leaf first, then any intermediates) and `keyPath` (PEM private
 * key): both readable, the first block a certificate, the key the certificate's (Node's TLS context refuses a
 * mismatch). Warns (does not refuse) when the certificate is expired or not yet valid at `now`, or does not name
 * `host` (clients will then refuse it).
 * @param now ms since the epoch (UTC).
 * @throws ConfigError naming the setting (`tlsCert`, `tlsKey`) that is wrong.
 */
export function loadOwnTls(certPath: string, keyPath: string, host: string, now: number, warn: (message: string) => void): OwnTls {
  const cert = read(certPath, "--tls-cert (tlsCert)");
  const key = read(keyPath, "--tls-key (tlsKey)");
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new ConfigError(`--tls-cert (tlsCert) ${certPath} is not a PEM certificate: ${(error as Error).message}`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    const message = (error as Error).message;
    const mismatch = /key values mismatch|KEY_VALUES_MISMATCH/i.test(message);
    throw new ConfigError(mismatch ? `--tls-key (tlsKey) ${keyPath} is not the private key of the --tls-cert certificate ${certPath}` : `--tls-cert / --tls-key cannot be used: ${message}`);
  }
  if (Date.parse(leaf.validTo) <= now) warn(`the --tls-cert certificate expired on ${new Date(leaf.validTo).toISOString()}: clients will refuse it`);
  if (Date.parse(leaf.validFrom) > now) warn(`the --tls-cert certificate is valid only from ${new Date(leaf.validFrom).toISOString()}: clients will refuse it until then`);
  const named = /^[\d.]+$|:/.test(host) ? leaf.checkIP(host.replace(/^\[|\]$/g, "")) : leaf.checkHost(host);
  if (named === undefined) warn(`the --tls-cert certificate does not name '${host}' (publicHost), the host in orgbox's URLs: clients will refuse it (subject alternative names: ${leaf.subjectAltName ?? "none"})`);
  return { cert, key };
}
