/**
 * Environments as code: a bad file never starts orgbox. Every problem names the
 * file, the path inside it and what is wrong; all are reported at once.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { environmentProblems } from "../helpers/environment.ts";
import { loadEnvironmentFile, startOrgbox } from "../../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "orgbox-env-"));

const BASE = `
tenants:
  - id: 11110000-0000-4000-8000-000000000001
    displayName: Acme
    domains: [acme.onmicrosoft.com]
    users:
      - userPrincipalName: admin@acme.onmicrosoft.com
        password: Acme-Admin-1
apps:
  - appId: 11110000-0000-4000-8000-00000000a001
    displayName: Acme Integration
    tenant: acme.onmicrosoft.com
    secrets: [{ value: acme-secret }]
orgs:
  - name: acme
    tenant: acme.onmicrosoft.com
    users:
      - user: admin@acme.onmicrosoft.com
        roles: [System Administrator]
`;

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const problems = environmentProblems;

describe("environment validation", () => {
  it("accepts the base file", () => {
    const env = loadEnvironmentFile(file("ok.yaml", BASE));
    expect(env.orgs[0]?.users[0]?.roleIds).toEqual(["builtin:System Administrator"]);
  });

  it("names an unknown table", () => {
    const path = file("unknown-table.yaml", `${BASE}    data:\n      widget:\n        - name: x\n      accounts:\n        - name: y\n`);
    expect(problems(path)).toEqual([
      `${path}: orgs[0].data.widget: unknown table 'widget'`,
      `${path}: orgs[0].data.accounts: unknown table 'accounts' (did you mean 'account'? data is keyed by logical name)`,
    ]);
  });

  it("names a duplicate id, in the file and across a CSV file", () => {
    const inline = file("duplicate-id.yaml", `${BASE}    data:\n      account:\n        - accountid: 11110001-0000-4000-8000-000000000001\n          name: One\n        - accountid: 11110001-0000-4000-8000-000000000001\n          name: Two\n`);
    expect(problems(inline)).toEqual([`${inline}: orgs[0].data.account[1].accountid: duplicate id '11110001-0000-4000-8000-000000000001' in table account (also used at orgs[0].data.account[0].accountid)`]);

    file("dup.csv", "accountid,name\n11110001-0000-4000-8000-000000000001,From CSV\n");
    const csv = file("duplicate-csv.yaml", `${BASE}    rootBusinessUnitId: 11110000-0000-4000-8000-000000000001\n    data:\n      account: { file: dup.csv }\n      contact:\n        - contactid: 11110001-0000-4000-8000-000000000001\n          lastname: Fine (other table)\n`);
    expect(loadEnvironmentFile(csv).orgs[0]?.rows).toHaveLength(2);
    const clash = file("duplicate-clash.yaml", `${BASE}    data:\n      account: { file: dup.csv }\n  - name: second\n    tenant: acme.onmicrosoft.com\n    data:\n      account:\n        - accountid: 11110001-0000-4000-8000-000000000001\n          name: Other org, fine\n`);
    expect(loadEnvironmentFile(clash).orgs).toHaveLength(2);
    const dupTenant = file("duplicate-tenant.yaml", `${BASE}  - name: acme\n    tenant: acme.onmicrosoft.com\n`);
    expect(problems(dupTenant)).toEqual([`${dupTenant}: orgs[1].name: duplicate org name 'acme' (also used at orgs[0])`]);
  });

  it("names a role with a missing privilege, and suggests the right spelling", () => {
    const path = file("privilege.yaml", `${BASE}    roles:\n      - name: Integration\n        privileges:\n          prvReadAccount: Global\n          prvReadWidget: Global\n          prvreadcontact: Local\n          prvReadTask: Global\n          prvWriteAnnotation: Basic\n          prvReadActivity: Global\n`);
    expect(problems(path)).toEqual([
      `${path}: orgs[0].roles[0].privileges.prvReadWidget: the privilege 'prvReadWidget' does not exist`,
      `${path}: orgs[0].roles[0].privileges.prvreadcontact: the privilege 'prvreadcontact' does not exist (did you mean 'prvReadContact'?)`,
      // Activity tables share prv{Verb}Activity and notes use prv{Verb}Note.
      `${path}: orgs[0].roles[0].privileges.prvReadTask: the privilege 'prvReadTask' does not exist (did you mean 'prvReadActivity'?)`,
      `${path}: orgs[0].roles[0].privileges.prvWriteAnnotation: the privilege 'prvWriteAnnotation' does not exist (did you mean 'prvWriteNote'?)`,
    ]);
  });

  it("names a lookup to a missing row: @ref keys and literal ids", () => {
    const path = file(
      "lookup.yaml",
      `${BASE}    data:\n      account:\n        - "@key": acme\n          name: Acme\n      contact:\n        - lastname: Smith\n          parentcustomerid: "@ref:acme-typo"\n        - lastname: Jones\n          parentcustomerid: 11110009-0000-4000-8000-000000000009\n        - lastname: Ok\n          parentcustomerid: "@ref:acme"\n`,
    );
    expect(problems(path)).toEqual([
      `${path}: orgs[0].data.contact[0].parentcustomerid: lookup to a missing row: no row has @key 'acme-typo'`,
      `${path}: orgs[0].data.contact[1].parentcustomerid: lookup to a missing row: no account or contact row with id '11110009-0000-4000-8000-000000000009' in this org`,
    ]);
  });

  it("reports problems in CSV data files by file, line and column", () => {
    file("bad.csv", "@key,name,numberofemployees,parentaccountid,colour\na,Alpha,ten,,red\nb,Beta,5,@ref:zzz,\n");
    const path = file("csv.yaml", BASE.replace("orgs:\n  - name: acme", "orgs:\n  - name: acme\n    data:\n      account: { file: bad.csv }"));
    const found = problems(path);
    expect(found).toHaveLength(4);
    expect(found[0]).toMatch(/bad\.csv: line 2, column numberofemployees: expected an integer, got "ten"$/);
    expect(found[1]).toMatch(/bad\.csv: line 2, column colour: table account has no column 'colour'$/);
    expect(found[2]).toMatch(/bad\.csv: line 3, column parentaccountid: lookup to a missing row: no row has @key 'zzz'$/);
    expect(found[3]).toMatch(/bad\.csv: line 3, column colour: table account has no column 'colour'$/);
  });

  it("reports shape errors with their path, and YAML syntax errors with line and column", () => {
    const shape = file("shape.yaml", `${BASE}    colour: blue\n    roles:\n      - name: R\n        privileges: { prvReadAccount: Everywhere }\n`);
    expect(problems(shape)).toEqual([
      `${shape}: orgs[0].roles[0].privileges.prvReadAccount: Invalid option: expected one of "Basic"|"Local"|"Deep"|"Global"`,
      `${shape}: orgs[0]: unknown key 'colour'`,
    ]);
    const syntax = file("syntax.yaml", "tenants:\n  - id: [unclosed\n");
    expect(problems(syntax)[0]).toMatch(new RegExp(`^${syntax.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: line \\d+, column \\d+: `));
  });

  it("checks references between tenants, users, apps and orgs", () => {
    const path = file(
      "refs.yaml",
      `${BASE}    applicationUsers:\n      - app: Acme Integration\n        roles: [Integration]\n      - app: 99990000-0000-4000-8000-000000000000\n  - name: two\n    tenant: nowhere.onmicrosoft.com\n`,
    );
    expect(problems(path)).toEqual([
      `${path}: orgs[0].applicationUsers[0].roles[0]: no role 'Integration' in this org (known: System Administrator, System Customizer, Basic User, Delegate, Environment Maker)`,
      `${path}: orgs[0].applicationUsers[1].app: no app '99990000-0000-4000-8000-000000000000' in apps`,
      `${path}: orgs[1].tenant: no tenant 'nowhere.onmicrosoft.com' in tenants (give its id or one of its domains)`,
    ]);
  });

  it("never starts half-configured: startOrgbox rejects a bad file before applying anything", async () => {
    const path = file("start.yaml", `${BASE}    data:\n      widget: [{ name: x }]\n`);
    await expect(startOrgbox({ config: path })).rejects.toThrow(`${path}: orgs[0].data.widget: unknown table 'widget'`);
  });

  it("loads JSON and TypeScript environment files", async () => {
    const json = file("env.json", JSON.stringify({ tenants: [{ displayName: "J", domains: ["j.onmicrosoft.com"] }] }));
    expect(loadEnvironmentFile(json).tenants[0]?.defaultDomain).toBe("j.onmicrosoft.com");
    const ts = file("env.orgbox.ts", `import type { OrgboxEnvironment } from ${JSON.stringify(join(import.meta.dirname, "../../src/index.ts"))};\nconst env: OrgboxEnvironment = { tenants: [{ displayName: "T", domains: ["t.onmicrosoft.com"] }], orgs: [{ name: "tee", tenant: "t.onmicrosoft.com" }] };\nexport default env;\n`);
    expect(loadEnvironmentFile(ts).orgs[0]?.name).toBe("tee");
    const o = await startOrgbox({ config: ts });
    try {
      expect(await o.dataverse.service.findOrg("tee")).toBeDefined();
      expect(o.orgUrl).toBe(`${o.url}/org/tee`);
    } finally {
      await o.close();
    }
  });
});
