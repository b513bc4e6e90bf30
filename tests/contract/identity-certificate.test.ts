/**
 * Issue 3: certificate credentials (`keyCredentials`) and `private_key_jwt` client
 * authentication, with msal-node, @azure/identity and hand-made assertions.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPrivateKey, randomUUID } from "node:crypto";
import { ClientCertificateCredential } from "@azure/identity";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { SignJWT, decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO } from "../../src/index.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";
import { createTestCertificate, type TestCertificate } from "../helpers/certificates.ts";
import { apiGet, useOrgbox } from "../helpers/orgbox.ts";

type AadBody = { error: string; error_description: string; error_codes: number[] };

describe("certificate credentials (private_key_jwt)", () => {
  const orgbox = useOrgbox();
  let appId = "";
  let cert: TestCertificate;
  let other: TestCertificate;

  beforeAll(async () => {
    const o = orgbox();
    cert = await createTestCertificate();
    other = await createTestCertificate("CN=not registered");
    const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "Cert daemon" });
    appId = application.appId;
    const credential = await o.identity.service.addKeyCredential({ appId, certificatePem: cert.certificatePem });
    expect(credential).toMatchObject({ customKeyIdentifier: cert.sha1, thumbprintSha256: cert.sha256, type: "AsymmetricX509Cert", usage: "Verify", displayName: "CN=orgbox test client" });
    expect(credential.endDateTime).toBeGreaterThan(Date.now());
    const org = (await o.dataverse.service.findOrg("contoso"))!;
    await o.dataverse.service.createApplicationUser(org, { applicationId: appId, businessUnitId: DEMO.org.rootBusinessUnitId, roleIds: [DEMO.org.integrationRoleId] });
  });

  const tokenUrl = () => `${orgbox().url}/${orgbox().tenantId}/oauth2/v2.0/token`;

  it("msal-node (thumbprintSha256 + x5c, PS256): client credentials, appidacr 2, then the Web API", async () => {
    const cca = new ConfidentialClientApplication({
      auth: { clientId: appId, authority: orgbox().authority, knownAuthorities: [new URL(orgbox().url).host], clientCertificate: { thumbprintSha256: cert.sha256, privateKey: cert.privateKeyPem, x5c: cert.certificatePem } },
    });
    const result = await cca.acquireTokenByClientCredential({ scopes: [`${orgbox().orgUrl}/.default`] });
    const claims = decodeJwt(result!.accessToken);
    expect(claims).toMatchObject({ appid: appId, appidacr: "2", aud: orgbox().orgUrl, idtyp: "app" });
    const api = await apiGet(orgbox(), result!.accessToken, "accounts?$select=name&$top=2");
    expect(api.status).toBe(200);
    expect((api.body as { value: unknown[] }).value).toHaveLength(2);
  });

  it("msal-node with a SHA-1 thumbprint (RS256, x5t) also works", async () => {
    const cca = new ConfidentialClientApplication({ auth: { clientId: appId, authority: orgbox().authority, knownAuthorities: [new URL(orgbox().url).host], clientCertificate: { thumbprint: cert.sha1, privateKey: cert.privateKeyPem } } });
    const result = await cca.acquireTokenByClientCredential({ scopes: [`${orgbox().orgUrl}/.default`] });
    expect(decodeJwt(result!.accessToken).appidacr).toBe("2");
  });

  it("@azure/identity ClientCertificateCredential (PEM with certificate and key) reads Dataverse", async () => {
    const dir = mkdtempSync(join(tmpdir(), "orgbox-cert-"));
    const path = join(dir, "client.pem");
    writeFileSync(path, `${cert.privateKeyPem}\n${cert.certificatePem}`);
    const credential = new ClientCertificateCredential(orgbox().tenantId, appId, path, { authorityHost: orgbox().url, disableInstanceDiscovery: true });
    const { token } = await credential.getToken(`${orgbox().orgUrl}/.default`);
    expect(decodeJwt(token).appidacr).toBe("2");
    const whoami = await apiGet(orgbox(), token, "WhoAmI");
    expect(whoami.status).toBe(200);
  });

  it("a certificate-authenticated confidential client can use a user flow (ROPC): appidacr 2", async () => {
    const o = orgbox();
    await o.identity.service.grantConsent({ tenantId: o.tenantId, clientAppId: appId, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
    const res = await fetch(tokenUrl(), {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", client_id: appId, username: DEMO.admin.username, password: DEMO.admin.password, scope: `${o.orgUrl}/user_impersonation`, ...assertionForm(await assertion({})) }),
    });
    const body = (await res.json()) as { access_token: string };
    expect(res.status).toBe(200);
    expect(decodeJwt(body.access_token)).toMatchObject({ appidacr: "2", upn: DEMO.admin.username, scp: "user_impersonation" });
  });

  // ---------- hand-made assertions: negative paths ----------

  function assertionForm(jwt: string): Record<string, string> {
    return { client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: jwt };
  }
  async function assertion(options: { claims?: Record<string, unknown>; key?: string; x5t?: string; exp?: number; nbf?: number; alg?: string }): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const header: Record<string, string> = { alg: options.alg ?? "RS256", typ: "JWT", x5t: Buffer.from(options.x5t ?? cert.sha1, "hex").toString("base64url") };
    return new SignJWT({ aud: tokenUrl(), iss: appId, sub: appId, jti: randomUUID(), nbf: options.nbf ?? now, exp: options.exp ?? now + 600, ...options.claims })
      .setProtectedHeader(header as { alg: string })
      .sign(createPrivateKey(options.key ?? cert.privateKeyPem));
  }
  async function clientCredentials(form: Record<string, string>): Promise<{ status: number; body: AadBody & { access_token?: string } }> {
    const res = await fetch(tokenUrl(), { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: appId, scope: `${orgbox().orgUrl}/.default`, ...form }) });
    return { status: res.status, body: (await res.json()) as AadBody };
  }
  function expectError(res: { status: number; body: AadBody }, code: number, text: string) {
    expect(res.status).toBe(401);
    expect(res.body.error).toBe("invalid_client");
    expect(res.body.error_codes).toEqual([code]);
    expect(res.body.error_description).toContain(text);
  }

  it("a valid hand-made assertion works; aud may be the v1 token endpoint or the v2 issuer", async () => {
    expect((await clientCredentials(assertionForm(await assertion({})))).status).toBe(200);
    const v1 = await assertion({ claims: { aud: `${orgbox().url}/${DEMO.tenantDomain}/oauth2/token` } });
    expect((await clientCredentials(assertionForm(v1))).status).toBe(200);
    const issuer = await assertion({ claims: { aud: `${orgbox().url}/${orgbox().tenantId}/v2.0` } });
    expect((await clientCredentials(assertionForm(issuer))).status).toBe(200);
  });

  it("a reused assertion is accepted by default, as Entra does (MSAL reuses its assertion for up to 10 minutes)", async () => {
    const jwt = await assertion({});
    expect((await clientCredentials(assertionForm(jwt))).status).toBe(200);
    expect((await clientCredentials(assertionForm(jwt))).status).toBe(200);
  });

  it("one msal-node client making two network token requests (it reuses its assertion) works by default", async () => {
    const cca = new ConfidentialClientApplication({ auth: { clientId: appId, authority: orgbox().authority, knownAuthorities: [new URL(orgbox().url).host], clientCertificate: { thumbprintSha256: cert.sha256, privateKey: cert.privateKeyPem, x5c: cert.certificatePem } } });
    const org = await cca.acquireTokenByClientCredential({ scopes: [`${orgbox().orgUrl}/.default`] });
    const graph = await cca.acquireTokenByClientCredential({ scopes: ["https://graph.microsoft.com/.default"] });
    expect(decodeJwt(org!.accessToken).aud).toBe(orgbox().orgUrl);
    expect(decodeJwt(graph!.accessToken).aud).toBe("https://graph.microsoft.com");
  });

  it("unknown certificate thumbprint → AADSTS700027 (key not found)", async () => {
    expectError(await clientCredentials(assertionForm(await assertion({ key: other.privateKeyPem, x5t: other.sha1 }))), 700027, `Reason - The key was not found., Thumbprint of key used by client: '${other.sha1}'`);
  });

  it("signature by another key → AADSTS700027 (signature mismatch)", async () => {
    expectError(await clientCredentials(assertionForm(await assertion({ key: other.privateKeyPem }))), 700027, "The provided signature value did not match the expected signature value.");
  });

  it("expired assertion → AADSTS700024; not yet valid → 700024", async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    expectError(await clientCredentials(assertionForm(await assertion({ nbf: past - 600, exp: past }))), 700024, "Client assertion is not within its valid time range.");
    const future = Math.floor(Date.now() / 1000) + 3600;
    expectError(await clientCredentials(assertionForm(await assertion({ nbf: future, exp: future + 600 }))), 700024, "not within its valid time range");
  });

  it("wrong audience → AADSTS700023; iss/sub not the client → 700021", async () => {
    expectError(await clientCredentials(assertionForm(await assertion({ claims: { aud: "https://login.microsoftonline.com/common/oauth2/v2.0/token" } }))), 700023, "Client assertion audience claim does not match Realm issuer.");
    expectError(await clientCredentials(assertionForm(await assertion({ claims: { iss: DEMO.app.clientId } }))), 700021, "Client assertion application identifier doesn't match 'client_id' parameter.");
  });

  it("wrong client_assertion_type → 700026; garbage assertion → 50027; HS256 → 700027", async () => {
    expectError(await clientCredentials({ client_assertion_type: "urn:other", client_assertion: await assertion({}) }), 700026, "is not supported");
    expectError(await clientCredentials(assertionForm("not.a.jwt")), 50027, "invalid or malformed");
    const hs = await new SignJWT({ aud: tokenUrl(), iss: appId, sub: appId, jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + 600 }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode("0123456789abcdef0123456789abcdef"));
    expectError(await clientCredentials(assertionForm(hs)), 700027, "'HS256' is not supported");
  });

  it("an expired key credential → AADSTS700027 (key expired)", async () => {
    const o = orgbox();
    const old = await createTestCertificate("CN=expired credential");
    const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "expired cert app" });
    await o.identity.service.addKeyCredential({ appId: application.appId, certificatePem: old.certificatePem, startDateTime: Date.now() - 2 * 86400_000, endDateTime: Date.now() - 86400_000 });
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({ aud: tokenUrl(), iss: application.appId, sub: application.appId, jti: randomUUID(), exp: now + 600 }).setProtectedHeader({ alg: "RS256", x5t: Buffer.from(old.sha1, "hex").toString("base64url") }).sign(createPrivateKey(old.privateKeyPem));
    const res = await clientCredentials({ client_id: application.appId, ...assertionForm(jwt) });
    expectError(res, 700027, "The key used is expired.");
  });

  it("addKeyCredential refuses a private key and an unreadable certificate", async () => {
    const { service } = orgbox().identity;
    await expect(service.addKeyCredential({ appId, certificatePem: `${cert.privateKeyPem}\n${cert.certificatePem}` })).rejects.toThrow(/public certificate only/);
    await expect(service.addKeyCredential({ appId, certificatePem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" })).rejects.toThrow(/could not be read/);
    await expect(service.addKeyCredential({ appId: "11111111-2222-3333-4444-555555555555", certificatePem: cert.certificatePem })).rejects.toThrow(/does not exist/);
    expect(await service.listKeyCredentials(appId)).toHaveLength(1);
  });
});

describe("certificate credentials with rejectAssertionReplay", () => {
  const orgbox = useOrgbox({ rejectAssertionReplay: true });

  it("a replayed jti → AADSTS7000274", async () => {
    const o = orgbox();
    const cert = await createTestCertificate();
    const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "strict daemon" });
    await o.identity.service.addKeyCredential({ appId: application.appId, certificatePem: cert.certificatePem });
    const tokenUrl = `${o.url}/${o.tenantId}/oauth2/v2.0/token`;
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({ aud: tokenUrl, iss: application.appId, sub: application.appId, jti: randomUUID(), nbf: now, exp: now + 600 })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", x5t: Buffer.from(cert.sha1, "hex").toString("base64url") })
      .sign(createPrivateKey(cert.privateKeyPem));
    const send = async () => {
      const res = await fetch(tokenUrl, {
        method: "POST",
        body: new URLSearchParams({ grant_type: "client_credentials", client_id: application.appId, scope: "https://graph.microsoft.com/.default", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: jwt }),
      });
      return { status: res.status, body: (await res.json()) as AadBody };
    };
    expect((await send()).status).toBe(200);
    const replay = await send();
    expect(replay.status).toBe(401);
    expect(replay.body.error_codes).toEqual([7000274]);
    expect(replay.body.error_description).toContain("already used");
  });
});
