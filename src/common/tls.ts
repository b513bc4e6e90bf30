import { mkdir, readFile, rename, rm, writeFile, mkdtemp } from "node:fs/promises";
import { existsSync, lstatSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join, dirname } from "node:path";
import { webcrypto } from "node:crypto";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { ConfigError } from "./errors.ts";
import { PRIVATE_DIR_MODE, tightenIfPresent, type PermissionReport } from "./private-files.ts";
import { x509, newSerial, privateKeyPem } from "./x509.ts";

/**
 * The CA folder of an in-memory orgbox: `{tmpdir}/orgbox-ca-{uid}` (POSIX), or
 * `{tmpdir}/orgbox-ca-{username}` (Windows). Per user, so that one user never adopts a
 * CA another user created in the shared temporary folder (whose key they hold).
 */
export function defaultTempCaDir(): string {
  const who = typeof process.getuid === "function" ? String(process.getuid()) : userInfo().username.replace(/[^A-Za-z0-9._-]/g, "_");
  return join(tmpdir(), `orgbox-ca-${who}`);
}

/**
 * Refuses a CA folder that another local user could have planted or can change: it must be a
 * real folder (not a symbolic link), owned by the current user, and not writable by group or
 * others. Whoever controls the folder holds the CA key that clients are told to trust.
 * POSIX only (skipped where `process.getuid` does not exist).
 * @throws ConfigError naming the folder and the fix.
 */
export function assertOwnCaDir(caDir: string): void {
  if (typeof process.getuid !== "function") return;
  const stats = lstatSync(caDir);
  const fix = `remove it (rm -r '${caDir}') if you do not trust it, or choose another folder with --ca-dir / ORGBOX_CA_DIR`;
  if (stats.isSymbolicLink() || !stats.isDirectory()) throw new ConfigError(`the local CA folder ${caDir} is not a folder (a symbolic link or a file): refusing to use it; ${fix}`);
  if (stats.uid !== process.getuid()) throw new ConfigError(`the local CA folder ${caDir} is owned by uid ${stats.uid}, not by this user (uid ${process.getuid()}): its owner holds the CA key; refusing to use it; ${fix}`);
  if ((stats.mode & 0o022) !== 0) {
    throw new ConfigError(`the local CA folder ${caDir} is writable by group or others (mode ${(stats.mode & 0o777).toString(8).padStart(4, "0")}): another user may have replaced its CA; refusing to use it; ${fix}`);
  }
}

/** The local certificate authority and the server certificate it signed. */
export interface LocalTls {
  /** Absolute path of the CA certificate (PEM): what clients trust. */
  caCertPath: string;
  /** CA certificate, PEM. */
  caCert: string;
  /** Server certificate chain (leaf then CA), PEM. */
  cert: string;
  /** Server private key, PEM. */
  key: string;
  /** CA private key, PEM (PKCS#8): signs the leaf certificates of the cloud host names ({@link LeafCertificates}). Never leaves the process. */
  caKey: string;
}

const EC = { name: "ECDSA", namedCurve: "P-256" } as const;
const EC_SIGN = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY = 24 * 3600_000;

/**
 * Loads the local CA from `caDir`, creating it on first use, and issues a
 * server certificate for `localhost`, `127.0.0.1` and `::1` (plus `extraNames`).
 *
 * Creation is atomic (a temporary folder renamed into place), so several
 * processes starting at once agree on one CA.
 *
 * Files: `ca.pem` (trust this), `ca-key.pem` and `server-key.pem` (`0600`), `server.pem`;
 * the folder is created `0700`.
 * @throws ConfigError when the folder is not this user's own (see {@link assertOwnCaDir});
 * an Error when it cannot be written.
 */
export async function ensureLocalTls(caDir: string, extraNames: string[] = [], onPermissions: PermissionReport = () => undefined): Promise<LocalTls> {
  const caCertPath = join(caDir, "ca.pem");
  if (existsSync(caDir)) assertOwnCaDir(caDir);
  if (!existsSync(caCertPath)) await createCa(caDir);
  assertOwnCaDir(caDir);
  // Private keys from an older build: owner-only.
  for (const key of ["ca-key.pem", "server-key.pem"]) tightenIfPresent(join(caDir, key), onPermissions);
  const caCert = await readFile(caCertPath, "utf8");
  const caKeyPem = await readFile(join(caDir, "ca-key.pem"), "utf8");
  const names = ["localhost", "127.0.0.1", "::1", ...extraNames];
  const serverPath = join(caDir, "server.pem");
  const serverKeyPath = join(caDir, "server-key.pem");
  const namesPath = join(caDir, "server-names.txt");
  const wanted = names.join(",");
  if (existsSync(serverPath) && existsSync(serverKeyPath) && existsSync(namesPath) && (await readFile(namesPath, "utf8")) === wanted) {
    const cert = await readFile(serverPath, "utf8");
    if (certValid(cert)) return { caCertPath, caCert, cert: `${cert}${caCert}`, key: await readFile(serverKeyPath, "utf8"), caKey: caKeyPem };
  }
  const issued = await issueServerCert(caCert, caKeyPem, names);
  await atomicWrite(serverKeyPath, issued.key);
  await atomicWrite(serverPath, issued.cert);
  await atomicWrite(namesPath, wanted);
  return { caCertPath, caCert, cert: `${issued.cert}${caCert}`, key: issued.key, caKey: caKeyPem };
}

function certValid(pem: string): boolean {
  try {
    const cert = new x509.X509Certificate(pem);
    return cert.notAfter.getTime() > Date.now() + DAY;
  } catch {
    return false;
  }
}

async function createCa(caDir: string): Promise<void> {
  await mkdir(dirname(caDir), { recursive: true, mode: PRIVATE_DIR_MODE });
  const tmp = await mkdtemp(`${caDir}.tmp-`);
  const keys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name: "CN=orgbox local CA, O=orgbox",
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 10 * 365 * DAY),
    signingAlgorithm: EC_SIGN,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  await writeFile(join(tmp, "ca-key.pem"), await privateKeyPem(keys.privateKey), { mode: 0o600 });
  await writeFile(join(tmp, "ca.pem"), cert.toString("pem") + "\n");
  try {
    await rename(tmp, caDir);
  } catch (error) {
    // Another process won the race (or an empty folder exists): keep theirs.
    await rm(tmp, { recursive: true, force: true });
    if (!existsSync(join(caDir, "ca.pem"))) {
      await mkdir(caDir, { recursive: true });
      const again = await mkdtemp(`${caDir}.tmp-`);
      await rm(again, { recursive: true, force: true });
      throw Object.assign(new Error(`cannot create the local CA in ${caDir}: the folder exists without ca.pem`), { cause: error });
    }
  }
}

async function issueServerCert(caCertPem: string, caKeyPem: string, names: string[], subject = "CN=localhost"): Promise<{ cert: string; key: string }> {
  const caCert = new x509.X509Certificate(caCertPem);
  const caKey = await webcrypto.subtle.importKey("pkcs8", x509.PemConverter.decodeFirst(caKeyPem), EC, false, ["sign"]);
  const keys = (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject,
    issuer: caCert.subject,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 397 * DAY),
    signingAlgorithm: EC_SIGN,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: /^[\d.]+$|:/.test(value) ? "ip" : "dns", value }))),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: cert.toString("pem") + "\n", key: await privateKeyPem(keys.privateKey) };
}

async function atomicWrite(path: string, data: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, data, { mode: 0o600 });
  await rename(tmp, path);
}

/**
 * TLS contexts for the Microsoft host names orgbox answers as (`login.microsoftonline.com`,
 * `contoso.crm.dynamics.com`, …): one leaf certificate per host name (subject `CN={host}`, SAN
 * `DNS:{host}`, server auth, ECDSA P-256, valid 397 days), issued on first use by the local CA and
 * kept in memory (not written to disk), up to {@link LeafCertificates.MAX_CACHED} host names.
 */
export class LeafCertificates {
  /** Default of `maxCached`: host names kept (the org host names are open-ended: `*.crm.dynamics.com`); the oldest goes first. */
  static readonly MAX_CACHED = 512;
  private readonly contexts = new Map<string, Promise<SecureContext>>();
  private readonly tls: LocalTls;
  private readonly maxCached: number;

  constructor(tls: LocalTls, maxCached = LeafCertificates.MAX_CACHED) {
    this.tls = tls;
    this.maxCached = maxCached;
  }

  /**
   * The secure context for `host` (lower-case DNS name), issued once.
   * @throws Error when the certificate cannot be issued (the CA key cannot be read).
   */
  context(host: string): Promise<SecureContext> {
    let context = this.contexts.get(host);
    if (!context) {
      context = issueServerCert(this.tls.caCert, this.tls.caKey, [host], `CN=${host}`).then((issued) => createSecureContext({ key: issued.key, cert: `${issued.cert}${this.tls.caCert}` }));
      // A failed issue is not cached: the next handshake tries again.
      context.catch(() => this.contexts.delete(host));
      if (this.contexts.size >= this.maxCached) this.contexts.delete(this.contexts.keys().next().value as string);
      this.contexts.set(host, context);
    }
    return context;
  }
}

/** SHA-256 of the CA certificate's SubjectPublicKeyInfo, base64: what Chromium's `--ignore-certificate-errors-spki-list` takes. */
export async function caSpkiHash(caCertPem: string): Promise<string> {
  const cert = new x509.X509Certificate(caCertPem);
  const spki = cert.publicKey.rawData;
  return Buffer.from(await webcrypto.subtle.digest("SHA-256", spki)).toString("base64");
}

/**
 * Writes `{caDir}/ca-bundle.pem`: Node's bundled Mozilla root certificates followed by the local CA, for the
 * variables that replace a runtime's trust store instead of adding to it (`REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE`):
 * hosts the proxy tunnels through unchanged stay trusted. Rewritten when its content would change.
 * @returns the file's absolute path.
 */
export async function ensureCaBundle(local: Pick<LocalTls, "caCertPath" | "caCert">): Promise<string> {
  const path = join(dirname(local.caCertPath), "ca-bundle.pem");
  const content = `${rootCertificates.join("\n")}\n${local.caCert}`;
  if (!existsSync(path) || (await readFile(path, "utf8")) !== content) await atomicWrite(path, content);
  return path;
}
