import { X509Certificate, createHash } from "node:crypto";
import { compactVerify, decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from "jose";
import type { Clock } from "../common/clock.ts";
import { AadError } from "./errors.ts";
import type { Application, KeyCredential, Tenant } from "./model.ts";
import type { ApplicationDirectory, AssertionReplayStore, ServicePrincipalDirectory } from "./store.ts";
import type { IdentityUrls } from "./urls.ts";

/** The only `client_assertion_type` Entra accepts (RFC 7523 §2.2). */
const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/** Allowed clock skew on `exp`/`nbf`, seconds (Entra tolerates 5 minutes). */
const SKEW_SECONDS = 300;
const DOCS = "Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .";

/** What assertion checks need from the grant context. */
export interface AssertionDeps {
  store: ApplicationDirectory & ServicePrincipalDirectory & AssertionReplayStore;
  clock: Clock;
  urls: IdentityUrls;
  /** Refuse a `jti` seen before (config `rejectAssertionReplay`; default off, as Entra). */
  rejectAssertionReplay?: boolean;
}

/** A certificate read for a key credential: thumbprints (upper-case hex), DER, subject and validity (ms). */
export interface ParsedCertificate {
  sha1: string;
  sha256: string;
  derB64: string;
  subject: string;
  notBefore: number;
  notAfter: number;
}

/**
 * Reads an X.509 certificate given as PEM or base64 DER. Returns a message
 * (not an exception) when it is not a readable RSA certificate or carries a private key.
 */
export function parseCertificateCredential(text: string): ParsedCertificate | string {
  if (/PRIVATE KEY-----/.test(text)) return "keyCredentials take the public certificate only; remove the private key";
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem ?? Buffer.from(text.replace(/\s+/g, ""), "base64"));
  } catch {
    return "the certificate could not be read (expected PEM or base64 DER X.509)";
  }
  if (cert.publicKey.asymmetricKeyType !== "rsa" && cert.publicKey.asymmetricKeyType !== "rsa-pss") return `only RSA certificates are supported (got ${cert.publicKey.asymmetricKeyType ?? "unknown"})`;
  return {
    sha1: createHash("sha1").update(cert.raw).digest("hex").toUpperCase(),
    sha256: createHash("sha256").update(cert.raw).digest("hex").toUpperCase(),
    derB64: cert.raw.toString("base64"),
    subject: cert.subject.replace(/\n/g, ", "),
    notBefore: Date.parse(cert.validFrom),
    notAfter: Date.parse(cert.validTo),
  };
}

/**
 * Client-assertion errors. Wording of 700027, 700024, 700023 and 700021 follows
 * live Entra responses quoted in public issues (e.g. AzureAD/passport-azure-ad#453,
 * microsoft-authentication-library-for-dotnet#4951 and #2746); the replay code
 * (7000274) is orgbox's choice: Entra documents no code for a reused `jti`.
 */
const assertionErrors = {
  invalidType: (type: string) => new AadError(700026, "invalid_client", `Client assertion type '${type}' is not supported. Use '${CLIENT_ASSERTION_TYPE}'.`),
  malformed: (why: string) => new AadError(50027, "invalid_client", `JWT token is invalid or malformed: ${why}`),
  keyNotFound: (thumbprint: string, appId: string) =>
    new AadError(
      700027,
      "invalid_client",
      `Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${appId}'.] ${DOCS}`,
    ),
  keyExpired: (thumbprint: string, key: KeyCredential) =>
    new AadError(700027, "invalid_client", `Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '${thumbprint}', Found key 'Start=${usDate(key.startDateTime)}, End=${usDate(key.endDateTime)}'] ${DOCS}`),
  badSignature: (thumbprint: string, key: KeyCredential) =>
    new AadError(
      700027,
      "invalid_client",
      `Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '${thumbprint}', Found key 'Start=${usDate(key.startDateTime)}, End=${usDate(key.endDateTime)}'] ${DOCS}`,
    ),
  unsupportedAlgorithm: (alg: string) => new AadError(700027, "invalid_client", `Client assertion contains an invalid signature. [Reason - The signing algorithm '${alg}' is not supported; use RS256 or PS256.] ${DOCS}`),
  wrongIssuer: () => new AadError(700021, "invalid_client", `Client assertion application identifier doesn't match 'client_id' parameter. ${DOCS}`),
  wrongAudience: () => new AadError(700023, "invalid_client", `Client assertion audience claim does not match Realm issuer. ${DOCS}`),
  outsideValidity: (now: number, nbf: number | undefined, exp: number | undefined) =>
    new AadError(
      700024,
      "invalid_client",
      `Client assertion is not within its valid time range. Current time: ${isoTicks(now)}, assertion valid from ${isoTicks((nbf ?? 0) * 1000)}, expiry time of assertion ${isoTicks((exp ?? 0) * 1000)}. ${DOCS}`,
    ),
  replayed: () => new AadError(7000274, "invalid_client", `The client assertion was already used: its 'jti' claim must be unique for each token request. Create a new assertion. ${DOCS}`),
};

/**
 * Authenticates a client by `private_key_jwt` (RFC 7523 §2.2, §3; learn.microsoft.com/entra/identity-platform/certificate-credentials):
 * RS256/PS256 JWT whose header `x5t` (SHA-1) or `x5t#S256` thumbprint selects one of
 * the app's certificate credentials; `iss` = `sub` = the client id; `aud` = the
 * token endpoint (v1 or v2, any name of the tenant) or the v2 issuer; `exp`/`nbf`
 * within 5 minutes of skew; with `rejectAssertionReplay`, `jti` single use until the assertion expires
 * (off by default: MSAL reuses an assertion for up to 10 minutes and Entra accepts that).
 * @throws AadError 700026 (type), 50027 (malformed), 700027 (key unknown/expired, bad signature),
 *   700021 (iss/sub), 700023 (aud), 700024 (time), 7000274 (jti reused).
 */
export async function verifyClientAssertion(deps: AssertionDeps, tenant: Tenant, app: Application, form: Record<string, string>): Promise<void> {
  const type = form.client_assertion_type ?? "";
  if (type !== CLIENT_ASSERTION_TYPE) throw assertionErrors.invalidType(type);
  const assertion = form.client_assertion ?? "";
  let header: ProtectedHeaderParameters;
  let claims: JWTPayload;
  try {
    header = decodeProtectedHeader(assertion);
    claims = decodeJwt(assertion);
  } catch {
    throw assertionErrors.malformed("the client_assertion is not a signed JWT (header.payload.signature).");
  }
  const alg = header.alg ?? "";
  if (alg !== "RS256" && alg !== "PS256") throw assertionErrors.unsupportedAlgorithm(alg);
  const sha256 = typeof header["x5t#S256"] === "string" ? thumbprintHex(header["x5t#S256"]) : undefined;
  const sha1 = typeof header.x5t === "string" ? thumbprintHex(header.x5t) : undefined;
  const used = sha256 ?? sha1 ?? "";
  const keys = await deps.store.listKeyCredentials(app.id);
  const key = keys.find((k) => (sha256 !== undefined ? k.thumbprintSha256 === sha256 : sha1 !== undefined && k.customKeyIdentifier === sha1));
  if (!key) throw assertionErrors.keyNotFound(used, app.appId);
  const now = deps.clock.now();
  if (now < key.startDateTime || now >= key.endDateTime) throw assertionErrors.keyExpired(used, key);
  try {
    await compactVerify(assertion, new X509Certificate(Buffer.from(key.certificateB64, "base64")).publicKey, { algorithms: ["RS256", "PS256"] });
  } catch {
    throw assertionErrors.badSignature(used, key);
  }
  const clientId = app.appId.toLowerCase();
  if (claims.iss?.toLowerCase() !== clientId || claims.sub?.toLowerCase() !== clientId) throw assertionErrors.wrongIssuer();
  const audiences = (Array.isArray(claims.aud) ? claims.aud : [claims.aud ?? ""]).map(normaliseUrl);
  const accepted = acceptedAudiences(deps.urls, tenant);
  if (!audiences.some((a) => accepted.has(a))) throw assertionErrors.wrongAudience();
  // The assertion's times are the client's clock, which time travel does not move (the key's dates above are orgbox's).
  const clientNow = deps.clock.clientNow?.() ?? now;
  const nowSeconds = Math.floor(clientNow / 1000);
  if (typeof claims.exp !== "number" || claims.exp + SKEW_SECONDS <= nowSeconds || (typeof claims.nbf === "number" && claims.nbf - SKEW_SECONDS > nowSeconds)) {
    throw assertionErrors.outsideValidity(clientNow, claims.nbf, claims.exp);
  }
  if (typeof claims.jti !== "string" || claims.jti === "") throw assertionErrors.malformed("the client_assertion has no 'jti' claim.");
  const jtiHash = createHash("sha256").update(`${clientId}:${claims.jti}`, "utf8").digest("hex");
  const fresh = await deps.store.recordAssertionJti(jtiHash, (claims.exp + SKEW_SECONDS) * 1000, clientNow);
  if (!fresh && deps.rejectAssertionReplay) throw assertionErrors.replayed();
}

/** Token endpoints (v1, v2) under every name of the tenant, and the v2 issuer; lower-case, no trailing slash. */
function acceptedAudiences(urls: IdentityUrls, tenant: Tenant): Set<string> {
  const out = new Set<string>([normaliseUrl(urls.issuerV2(tenant.id))]);
  for (const name of [tenant.id, ...tenant.domains, "common", "organizations"]) {
    out.add(normaliseUrl(`${urls.base}/${name}/oauth2/v2.0/token`));
    out.add(normaliseUrl(`${urls.base}/${name}/oauth2/token`));
  }
  return out;
}

function normaliseUrl(value: string): string {
  return value.toLowerCase().replace(/\/+$/, "");
}

/** A base64url thumbprint as upper-case hex (how the portal and Entra's errors show it). */
function thumbprintHex(b64url: string): string {
  return Buffer.from(b64url, "base64url").toString("hex").toUpperCase();
}

/** `MM/DD/YYYY HH:mm:ss` (UTC), as Entra prints key validity in 700027. */
function usDate(ms: number): string {
  const d = new Date(ms).toISOString();
  return `${d.slice(5, 7)}/${d.slice(8, 10)}/${d.slice(0, 4)} ${d.slice(11, 19)}`;
}

/** ISO 8601 with 7 fractional digits, as Entra prints times in 700024. */
function isoTicks(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$10000Z");
}
