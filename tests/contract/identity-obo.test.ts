/**
 * Issue 3: on-behalf-of (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`,
 * `requested_token_use=on_behalf_of`) with msal-node and plain fetch.
 */
import { ConfidentialClientApplication, PublicClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DEMO, ManualClock } from "../../src/index.ts";
import { DYNAMICS_CRM_APP_ID, MICROSOFT_GRAPH_APP_ID } from "../../src/identity/index.ts";
import { createTestCertificate, type TestCertificate } from "../helpers/certificates.ts";
import { apiGet, demoToken, useOrgbox } from "../helpers/orgbox.ts";

const FRONT = "c0de0000-0000-4000-8000-0000000b0001";
const MID = "c0de0000-0000-4000-8000-0000000b0002";
const OBO = "urn:ietf:params:oauth:grant-type:jwt-bearer";

describe("on-behalf-of flow", () => {
  const clock = new ManualClock();
  const orgbox = useOrgbox({}, { clock });
  let midSecret = "";
  let cert: TestCertificate;
  let userToken = "";

  beforeAll(async () => {
    const { service } = orgbox().identity;
    await service.registerApplication({
      tenantId: DEMO.tenantId,
      appId: MID,
      displayName: "Middle-tier API",
      identifierUris: [`api://${MID}`],
      oauth2PermissionScopes: [{ id: "5a1e0000-0000-4000-8000-0000000b0003", value: "access_as_user", adminConsentDisplayName: "Access the API", adminConsentDescription: "Lets the app call the API as you.", type: "User" }],
    });
    midSecret = (await service.addPassword({ appId: MID })).secretText;
    cert = await createTestCertificate("CN=middle tier");
    await service.addKeyCredential({ appId: MID, certificatePem: cert.certificatePem });
    await service.registerApplication({ tenantId: DEMO.tenantId, appId: FRONT, displayName: "Front-end", isFallbackPublicClient: true });
    await service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: FRONT, resourceAppId: MID, scopes: ["access_as_user"] });
    await service.grantConsent({ tenantId: DEMO.tenantId, clientAppId: MID, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
    const pca = new PublicClientApplication({ auth: { clientId: FRONT, authority: orgbox().authority, knownAuthorities: [new URL(orgbox().url).host] } });
    const front = await pca.acquireTokenByUsernamePassword({ scopes: [`api://${MID}/access_as_user`], username: DEMO.admin.username, password: DEMO.admin.password });
    userToken = front!.accessToken;
    expect(decodeJwt(userToken)).toMatchObject({ aud: `api://${MID}`, scp: "access_as_user", appid: FRONT });
  });

  const midApp = (credential: { clientSecret: string } | { clientCertificate: { thumbprintSha256: string; privateKey: string } }) =>
    new ConfidentialClientApplication({ auth: { clientId: MID, authority: orgbox().authority, knownAuthorities: [new URL(orgbox().url).host], ...credential } });

  it("msal-node acquireTokenOnBehalfOf (secret): a Dataverse token for the same user, which reads the Web API", async () => {
    const result = await midApp({ clientSecret: midSecret }).acquireTokenOnBehalfOf({ oboAssertion: userToken, scopes: [`${orgbox().orgUrl}/user_impersonation`] });
    const claims = decodeJwt(result!.accessToken);
    expect(claims).toMatchObject({ aud: orgbox().orgUrl, appid: MID, appidacr: "1", oid: DEMO.admin.id, upn: DEMO.admin.username, scp: "user_impersonation" });
    const whoami = await apiGet(orgbox(), result!.accessToken, "WhoAmI");
    expect(whoami.status).toBe(200);
  });

  it("the middle tier may authenticate with a certificate (appidacr 2)", async () => {
    const result = await midApp({ clientCertificate: { thumbprintSha256: cert.sha256, privateKey: cert.privateKeyPem } }).acquireTokenOnBehalfOf({ oboAssertion: userToken, scopes: [`${orgbox().orgUrl}/user_impersonation`] });
    expect(decodeJwt(result!.accessToken)).toMatchObject({ appidacr: "2", oid: DEMO.admin.id });
  });

  async function obo(form: Record<string, string>): Promise<{ status: number; body: { error: string; error_codes: number[]; error_description: string; access_token?: string } }> {
    const res = await fetch(`${orgbox().url}/${DEMO.tenantId}/oauth2/v2.0/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: OBO, requested_token_use: "on_behalf_of", client_id: MID, client_secret: midSecret, assertion: userToken, scope: `${orgbox().orgUrl}/user_impersonation`, ...form }),
    });
    return { status: res.status, body: (await res.json()) as never };
  }

  it("v1 endpoint with resource=", async () => {
    const res = await fetch(`${orgbox().url}/${DEMO.tenantId}/oauth2/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: OBO, requested_token_use: "on_behalf_of", client_id: MID, client_secret: midSecret, assertion: userToken, resource: orgbox().orgUrl }),
    });
    const body = (await res.json()) as { access_token: string; resource: string };
    expect(res.status).toBe(200);
    expect(body.resource).toBe(orgbox().orgUrl);
    expect(decodeJwt(body.access_token).oid).toBe(DEMO.admin.id);
  });

  it("an assertion for another audience → AADSTS500131", async () => {
    const direct = await midApp({ clientSecret: midSecret }).acquireTokenOnBehalfOf({ oboAssertion: userToken, scopes: [`${orgbox().orgUrl}/user_impersonation`] });
    const res = await obo({ assertion: direct!.accessToken });
    expect(res.status).toBe(400);
    expect(res.body.error_codes).toEqual([500131]);
    expect(res.body.error_description).toContain(`The audience in the assertion was '${orgbox().orgUrl}' and the expected audience is '${MID}'`);
  });

  it("an app-only token → AADSTS50034; a tampered signature → AADSTS50013", async () => {
    const appOnly = await demoToken(orgbox(), `api://${MID}`);
    expect((await obo({ assertion: appOnly })).body.error_codes).toEqual([50034]);
    const [h, p, s] = userToken.split(".") as [string, string, string];
    const tampered = `${h}.${p}.${s.slice(0, -4)}${s.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
    const res = await obo({ assertion: tampered });
    expect(res.body).toMatchObject({ error: "invalid_grant", error_codes: [50013] });
  });

  it("no consent for the downstream resource → AADSTS65001 (consent_required)", async () => {
    const res = await obo({ scope: "https://graph.microsoft.com/User.Read" });
    expect(res.body).toMatchObject({ error: "invalid_grant", error_codes: [65001], suberror: "consent_required" });
    expect(MICROSOFT_GRAPH_APP_ID).toBeTruthy();
  });

  it("request errors: requested_token_use, missing assertion, no client credential", async () => {
    expect((await obo({ requested_token_use: "something" })).body.error_codes).toEqual([90015]);
    expect((await obo({ assertion: "" })).body.error_codes).toEqual([900144]);
    const res = await obo({ client_secret: "" });
    expect(res.status).toBe(401);
    expect(res.body.error_codes).toEqual([7000218]);
  });

  it("an expired user assertion → AADSTS500133", async () => {
    clock.advance(2 * 3600_000);
    const res = await obo({});
    expect(res.body.error_codes).toEqual([500133]);
    expect(res.body.error_description).toContain("Assertion is not within its valid time range.");
  });
});
