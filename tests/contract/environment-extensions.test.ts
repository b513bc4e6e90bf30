/**
 * Issue 6: what environment files can express beyond issue 5 — app certificates
 * (`apps[].certificates`) and owner teams (`orgs[].teams`). The certificate is a
 * PEM file next to the environment file; msal-node then signs client assertions
 * with its key. A team's role gives its members (here an application user with
 * no role of its own) their privileges.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfidentialClientApplication } from "@azure/msal-node";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environmentProblems } from "../helpers/environment.ts";
import { exportEnvironment, SECRET_PLACEHOLDER } from "../../src/environment/export.ts";
import { startOrgbox, type OrgboxEnvironment, type OrgboxInstance } from "../../src/index.ts";
import { createTestCertificate, type TestCertificate } from "../helpers/certificates.ts";

const TENANT = "9b000000-0000-4000-8000-000000000001";
const DOMAIN = "ext-env.onmicrosoft.com";
const APP = "9b000000-0000-4000-8000-00000000a001";
const TEAM_APP = "9b000000-0000-4000-8000-00000000a002";
const TEAM = "9b000000-0000-4000-8000-00000000c001";
const SECRET = "team-app-secret";

const envText = (certificates: string) => `
tenants:
  - id: ${TENANT}
    displayName: Extensions
    domains: [${DOMAIN}]
apps:
  - appId: ${APP}
    displayName: Cert daemon
    tenant: ${DOMAIN}
    certificates: ${certificates}
  - appId: ${TEAM_APP}
    displayName: Team daemon
    tenant: ${DOMAIN}
    secrets: [{ value: ${SECRET} }]
orgs:
  - name: ext
    tenant: ${DOMAIN}
    roles:
      - name: Reader
        privileges: { prvReadAccount: Global }
    applicationUsers:
      - app: ${APP}
        roles: [Reader]
      - app: ${TEAM_APP}
    teams:
      - id: ${TEAM}
        name: Readers
        members: [${TEAM_APP}]
        roles: [Reader]
    defaultOwner: ${APP}
    data:
      account:
        - { name: Fabrikam }
`;

const problems = environmentProblems;

describe("environment file: app certificates", () => {
  let dir: string;
  let cert: TestCertificate;
  let first: OrgboxInstance;
  let second: OrgboxInstance | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "orgbox-env-ext-"));
    mkdirSync(join(dir, "certs"));
    cert = await createTestCertificate("CN=env daemon");
    writeFileSync(join(dir, "certs", "client.pem"), cert.certificatePem);
    writeFileSync(join(dir, "env.yaml"), envText(`[{ path: certs/client.pem }]`));
    first = await startOrgbox({ config: join(dir, "env.yaml") });
  });
  afterAll(async () => {
    await first?.close();
    await second?.close();
  });

  async function readAccounts(o: OrgboxInstance): Promise<unknown> {
    const cca = new ConfidentialClientApplication({
      auth: { clientId: APP, authority: `${o.url}/${TENANT}`, knownAuthorities: [new URL(o.url).host], clientCertificate: { thumbprintSha256: cert.sha256, privateKey: cert.privateKeyPem, x5c: cert.certificatePem } },
    });
    const result = await cca.acquireTokenByClientCredential({ scopes: [`${o.orgUrlOf("ext")}/.default`] });
    expect(decodeJwt(result!.accessToken)).toMatchObject({ appid: APP, appidacr: "2" });
    const res = await fetch(`${o.orgUrlOf("ext")}/api/data/v9.2/accounts?$select=name`, { headers: { authorization: `Bearer ${result!.accessToken}`, accept: "application/json" } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { value: { name: string }[] }).value.map((a) => a.name);
  }

  it("applies the certificate: msal-node client credentials with its key read the Web API", async () => {
    const credentials = await first.identity.service.listKeyCredentials(APP);
    expect(credentials).toMatchObject([{ customKeyIdentifier: cert.sha1, thumbprintSha256: cert.sha256, displayName: "CN=env daemon" }]);
    expect(await readAccounts(first)).toEqual(["Fabrikam"]);
  });

  it("export writes the certificate inline as PEM; the exported environment loads to the same credential", async () => {
    const exported = await exportEnvironment(first.identity.service, first.dataverse.service);
    const app = exported.environment.apps?.find((a) => a.appId === APP);
    expect(app?.certificates).toEqual([{ pem: expect.stringContaining("-----BEGIN CERTIFICATE-----"), keyId: expect.any(String), displayName: "CN=env daemon" }]);
    expect(exported.warnings.join("\n")).not.toContain("certificate");
    second = await startOrgbox({ environment: exported.environment });
    expect((await second.identity.service.listKeyCredentials(APP)).map((c) => c.thumbprintSha256)).toEqual([cert.sha256]);
    expect(await readAccounts(second)).toEqual(["Fabrikam"]);
  });

  async function teamAppReads(o: OrgboxInstance): Promise<number> {
    const cca = new ConfidentialClientApplication({ auth: { clientId: TEAM_APP, clientSecret: SECRET, authority: `${o.url}/${TENANT}`, knownAuthorities: [new URL(o.url).host] } });
    const result = await cca.acquireTokenByClientCredential({ scopes: [`${o.orgUrlOf("ext")}/.default`] });
    const res = await fetch(`${o.orgUrlOf("ext")}/api/data/v9.2/accounts?$select=name`, { headers: { authorization: `Bearer ${result!.accessToken}`, accept: "application/json" } });
    return res.status;
  }

  it("applies teams: an application user without roles reads through its team's role", async () => {
    expect(await teamAppReads(first)).toBe(200);
    const org = (await first.dataverse.service.findOrg("ext"))!;
    await first.dataverse.service.removeTeamMember(org, TEAM, first.environment!.orgs[0]!.applicationUsers[1]!.id);
    expect(await teamAppReads(first)).toBe(403);
    await first.dataverse.service.addTeamMembers(org, TEAM, [first.environment!.orgs[0]!.applicationUsers[1]!.id]);
  });

  it("export writes the team back; the exported environment applies it again", async () => {
    const exported = await exportEnvironment(first.identity.service, first.dataverse.service);
    expect(exported.environment.orgs?.[0]?.teams).toEqual([{ id: TEAM, name: "Readers", members: [TEAM_APP], roles: ["Reader"] }]);
    expect(exported.warnings.join("\n")).not.toContain("team");
    const again = await startOrgbox({ environment: JSON.parse(JSON.stringify(exported.environment).replaceAll(SECRET_PLACEHOLDER, SECRET)) as OrgboxEnvironment });
    try {
      expect(await teamAppReads(again)).toBe(200);
      expect((await exportEnvironment(again.identity.service, again.dataverse.service)).environment.orgs?.[0]?.teams).toEqual(exported.environment.orgs?.[0]?.teams);
    } finally {
      await again.close();
    }
  });

  it("rejects a team member or role that does not exist, naming the path", () => {
    const bad = join(dir, "bad-team.yaml");
    writeFileSync(bad, envText(`[{ path: certs/client.pem }]`).replace(`members: [${TEAM_APP}]`, "members: [ghost@ext-env.onmicrosoft.com]").replace("roles: [Reader]\n    defaultOwner", "roles: [Writer]\n    defaultOwner"));
    const found = problems(bad).join("\n");
    expect(found).toContain("bad-team.yaml: orgs[0].teams[0].members[0]: 'ghost@ext-env.onmicrosoft.com' is neither a user principal name in users nor a client id in applicationUsers");
    expect(found).toContain("orgs[0].teams[0].roles[0]: no role 'Writer' in this org");
  });

  it("refuses a certificate file that holds a private key, naming the file and the path", () => {
    writeFileSync(join(dir, "certs", "with-key.pem"), cert.certificatePem + cert.privateKeyPem);
    const bad = join(dir, "bad-key.yaml");
    writeFileSync(bad, envText(`[{ path: certs/with-key.pem }]`));
    const found = problems(bad);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/bad-key\.yaml: apps\[0\]\.certificates\[0\]\.path: certificate file '.*certs[/\\]with-key\.pem' contains a private key/);
  });

  it("refuses a missing file, a file that is no certificate, and neither path nor pem", () => {
    writeFileSync(join(dir, "certs", "junk.pem"), "hello");
    const bad = join(dir, "bad-cert.yaml");
    writeFileSync(bad, envText(`[{ path: certs/missing.pem }, { path: certs/junk.pem }, { displayName: nothing }]`));
    const found = problems(bad).join("\n");
    expect(found).toContain("apps[0].certificates[0].path: cannot read certificate file 'certs/missing.pem'");
    expect(found).toMatch(/apps\[0\]\.certificates\[1\]\.path: certificate file '.*junk\.pem': /);
    expect(found).toContain("apps[0].certificates[2]: give either path (a PEM file) or pem (inline PEM text)");
  });
});
