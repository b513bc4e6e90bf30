/**
 * Issue 17, "knowing why": at the default level (info) one access-log line per request (method, path with secrets
 * redacted, status, duration, correlation id, client or user, tenant, org), and every 401/403 of the identity,
 * Dataverse and Graph surfaces with its reason; the bodies say what was expected and what came (`aud`/`iss` and
 * the accepted values; for 0x80072560 the app id with no application user and the command that creates one).
 * `--log-format pretty` writes readable lines through pino-pretty.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { ConfidentialClientApplication, PublicClientApplication } from "@azure/msal-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/common/logger.ts";
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { resolveConfig } from "../../src/config/config.ts";
import { createOrgbox, type OrgboxInstance } from "../../src/server/create-orgbox.ts";
import { DEMO } from "../../src/server/demo.ts";
import { DYNAMICS_CRM_APP_ID } from "../../src/identity/index.ts";

type Line = Record<string, unknown> & { msg: string; level: number };

describe("access log and refusals (info level)", () => {
  const lines: Line[] = [];
  let raw = "";
  let orgbox: OrgboxInstance;
  const accessLines = () => lines.filter((l) => typeof l.path === "string" && typeof l.durationMs === "number");

  beforeAll(async () => {
    const capture = new Writable({
      write(chunk: Buffer, _encoding, done) {
        const text = chunk.toString("utf8");
        raw += text;
        for (const l of text.split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Line);
        done();
      },
    });
    const config = resolveConfig({ inMemory: true, port: 0, logLevel: "info", caDir: defaultTempCaDir() }, {});
    orgbox = await createOrgbox(config, createLogger("info", capture));
  });
  afterAll(async () => {
    await orgbox?.close();
  });

  const msal = (clientId: string, clientSecret: string) => new ConfidentialClientApplication({ auth: { clientId, clientSecret, authority: orgbox.authority, knownAuthorities: [new URL(orgbox.url).host] } });
  const token = async (clientId: string, clientSecret: string, scope: string) => (await msal(clientId, clientSecret).acquireTokenByClientCredential({ scopes: [scope], skipCache: true }))!.accessToken;

  it("one line per request: method, redacted path, status, duration, correlation id, client, tenant, org; no secret", async () => {
    const access = await token(DEMO.app.clientId, DEMO.app.clientSecret, `${orgbox.orgUrl}/.default`);
    const before = accessLines().length;
    const res = await fetch(`${orgbox.apiUrl}/accounts?$select=name&$top=1&code=not-a-secret-but-redacted`, { headers: { authorization: `Bearer ${access}` } });
    expect(res.status).toBe(200);
    const mine = accessLines().filter((l) => l.correlationId === res.headers.get("REQ_ID"));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ level: 30, method: "GET", path: "/org/contoso/api/data/v9.2/accounts?$select=name&$top=1&code=[redacted]", status: 200, clientId: DEMO.app.clientId, tenant: DEMO.tenantId, org: "contoso" });
    expect(mine[0]?.durationMs).toEqual(expect.any(Number));
    expect(mine[0]?.msg).toMatch(/^GET \/org\/contoso\/api\/data\/v9\.2\/accounts\?\S+ 200 [\d.]+ms client /);
    expect(accessLines().length - before).toBe(1);
    // The token request's line names the client; neither the secret nor the token is logged.
    expect(accessLines().some((l) => l.method === "POST" && String(l.path).includes("/oauth2/v2.0/token") && l.status === 200 && l.clientId === DEMO.app.clientId)).toBe(true);
    expect(raw).not.toContain(DEMO.app.clientSecret);
    expect(raw).not.toContain(access);
  });

  it("a token for another audience: Dataverse's 401 says the aud and the accepted ones; so does its log line; Graph's too", async () => {
    const graphToken = await token(DEMO.app.clientId, DEMO.app.clientSecret, "https://graph.microsoft.com/.default");
    const res = await fetch(`${orgbox.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${graphToken}` } });
    expect(res.status).toBe(401);
    const message = ((await res.json()) as { error: { message: string } }).error.message;
    // The org's path URL first, then its cloud host URLs (reached through the proxy).
    expect(message).toMatch(/^The access token is not valid for this organization: the token's 'aud' claim is not valid here: it is "https:\/\/graph\.microsoft\.com"; accepted: /);
    expect(message).toContain(`accepted: "${orgbox.orgUrl}", "${orgbox.orgUrl}/", "https://contoso.crm.dynamics.com"`);
    const line = accessLines().find((l) => l.correlationId === res.headers.get("REQ_ID"));
    expect(line).toMatchObject({ status: 401, reason: message, clientId: DEMO.app.clientId });
    expect(line?.msg).toContain(`refused: ${message}`);

    const dataverseToken = await token(DEMO.app.clientId, DEMO.app.clientSecret, `${orgbox.orgUrl}/.default`);
    const graph = await fetch(`${orgbox.url}/graph/v1.0/users`, { headers: { authorization: `Bearer ${dataverseToken}` } });
    expect(graph.status).toBe(401);
    const graphMessage = ((await graph.json()) as { error: { message: string } }).error.message;
    expect(graphMessage).toContain(`Invalid audience. The token's aud is "${orgbox.orgUrl}"; accepted: "https://graph.microsoft.com"`);
    expect(accessLines().find((l) => l.path === "/graph/v1.0/users" && l.status === 401)).toMatchObject({ reason: graphMessage });
  });

  it("a token of another tenant: the iss that came and the accepted issuers", async () => {
    const other = await orgbox.identity.service.createTenant({ displayName: "Elsewhere", defaultDomain: "elsewhere.onmicrosoft.com" });
    const { application } = await orgbox.identity.service.registerApplication({ tenantId: other.id, displayName: "elsewhere app" });
    const secret = await orgbox.identity.service.addPassword({ appId: application.appId });
    const res = await fetch(`${orgbox.url}/${other.id}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: application.appId, client_secret: secret.secretText, resource: orgbox.orgUrl }) });
    const { access_token } = (await res.json()) as { access_token: string };
    const api = await fetch(`${orgbox.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(api.status).toBe(401);
    const message = ((await api.json()) as { error: { message: string } }).error.message;
    expect(message).toContain(`the token's 'iss' claim is not valid here: it is "${orgbox.url}/sts/${other.id}/"; accepted: "${orgbox.url}/sts/${DEMO.tenantId}/", "${orgbox.url}/${DEMO.tenantId}/v2.0"`);
    // Also the cloud issuers a token asked for through the proxy carries.
    expect(message).toContain(`"https://sts.windows.net/${DEMO.tenantId}/"`);
    expect(accessLines().find((l) => l.correlationId === api.headers.get("REQ_ID"))).toMatchObject({ status: 401, reason: message });
  });

  it("0x80072560 names the app id without an application user and the command that creates one; logged", async () => {
    const { application } = await orgbox.identity.service.registerApplication({ tenantId: orgbox.tenantId, displayName: "no app user" });
    const secret = await orgbox.identity.service.addPassword({ appId: application.appId });
    const access = await token(application.appId, secret.secretText, `${orgbox.orgUrl}/.default`);
    const res = await fetch(`${orgbox.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${access}` } });
    expect(res.status).toBe(403);
    const error = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe("0x80072560");
    expect(error.message).toContain(`No application user in org 'contoso' has the application id '${application.appId}'`);
    expect(error.message).toContain(`orgbox appuser create --org contoso --app ${application.appId} --role`);
    expect(accessLines().find((l) => l.correlationId === res.headers.get("REQ_ID"))).toMatchObject({ status: 403, reason: error.message, clientId: application.appId });
  });

  it("0x80072560 for a directory user with no systemuser names its object id and 'orgbox user add-to-org'", async () => {
    const upn = "newcomer@contoso.onmicrosoft.com";
    const user = await orgbox.identity.service.createUser({ tenantId: orgbox.tenantId, userPrincipalName: upn, displayName: "Newcomer", password: "Newcomer-pass-1", directoryRoles: [] });
    const { application } = await orgbox.identity.service.registerApplication({ tenantId: orgbox.tenantId, displayName: "ROPC client", isFallbackPublicClient: true, publicClientRedirectUris: ["http://localhost"] });
    await orgbox.identity.service.grantConsent({ tenantId: orgbox.tenantId, clientAppId: application.appId, resourceAppId: DYNAMICS_CRM_APP_ID, scopes: ["user_impersonation"] });
    const pca = new PublicClientApplication({ auth: { clientId: application.appId, authority: orgbox.authority, knownAuthorities: [new URL(orgbox.url).host] } });
    const result = await pca.acquireTokenByUsernamePassword({ scopes: [`${orgbox.orgUrl}/user_impersonation`], username: upn, password: "Newcomer-pass-1" });
    const res = await fetch(`${orgbox.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${result!.accessToken}` } });
    expect(res.status).toBe(403);
    const error = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(error).toEqual({
      code: "0x80072560",
      message: `The user is not a member of the organization. No user in org 'contoso' has the object id '${user.id}' (${upn}) (the token's oid): add the directory user with 'orgbox user add-to-org --org contoso --user ${upn} --role "<role name>"', or POST systemusers with azureactivedirectoryobjectid.`,
    });
    expect(accessLines().find((l) => l.correlationId === res.headers.get("REQ_ID"))).toMatchObject({ status: 403, user: upn, reason: error.message });
  });

  it("an identity 401 (wrong client secret) is logged with its AADSTS reason", async () => {
    await expect(token(DEMO.app.clientId, "wrong-secret-value", `${orgbox.orgUrl}/.default`)).rejects.toThrow(/AADSTS7000215/);
    const line = accessLines().find((l) => l.status === 401 && String(l.path).includes("/oauth2/v2.0/token"));
    expect(line).toMatchObject({ clientId: DEMO.app.clientId, reason: expect.stringMatching(/^AADSTS7000215: Invalid client secret provided\./) });
    expect(raw).not.toContain("wrong-secret-value");
  });
});

describe("--log-format pretty", () => {
  it("orgbox start --log-format pretty writes readable access lines on stderr", { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, [resolve(import.meta.dirname, "../../bin/orgbox.js"), "start", "--in-memory", "--http", "--port", "0", "--json", "--log-format", "pretty"], { env: { ...process.env, ORGBOX_LOG_LEVEL: "", ORGBOX_LOG_FORMAT: "" } });
    try {
      const ready = JSON.parse((await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next()).value as string) as { url: string };
      const stderr = createInterface({ input: child.stderr })[Symbol.asyncIterator]();
      expect((await fetch(`${ready.url}/_orgbox/health`)).status).toBe(200);
      let line = "";
      while (!line.includes("/_orgbox/health")) {
        const next = await stderr.next();
        if (next.done) throw new Error("stderr ended");
        line = next.value;
      }
      expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: GET \/_orgbox\/health 200 [\d.]+ms \{"correlationId":"[0-9a-f-]+"\}$/);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
