/**
 * Environments as code: examples/demo.orgbox.yaml is the demo seed as a file
 * (same ids, credentials and rows), the published JSON Schema is current, and
 * environments combine with the demo and with server settings.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { environmentJsonSchemaText, SCHEMA_PATH } from "../../src/environment/json-schema.ts";
import { DEMO, startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { readDocument } from "../../src/environment/read.ts";
import { demoEnvironment } from "../../src/server/demo.ts";
import { apiGet, demoToken, useOrgbox } from "../helpers/orgbox.ts";

const DEMO_FILE = resolve(import.meta.dirname, "../../examples/demo.orgbox.yaml");
const QUERIES = [
  "accounts?$select=accountid,name,accountnumber,telephone1,emailaddress1,address1_city,revenue,numberofemployees,industrycode,creditonhold,_transactioncurrencyid_value,_ownerid_value&$orderby=accountnumber",
  "contacts?$select=contactid,fullname,emailaddress1,jobtitle,_parentcustomerid_value,_ownerid_value&$orderby=emailaddress1",
  "leads?$select=leadid,subject,fullname,companyname,leadsourcecode,leadqualitycode,estimatedamount&$orderby=subject",
  "WhoAmI",
];

async function snapshotOf(o: OrgboxInstance): Promise<unknown[]> {
  const token = await demoToken(o);
  const out: unknown[] = [];
  for (const query of QUERIES) {
    const res = await apiGet(o, token, query, { prefer: "odata.maxpagesize=500" });
    expect(res.status, query).toBe(200);
    const body = res.body as Record<string, unknown>;
    out.push(Array.isArray(body.value) ? (body.value as Record<string, unknown>[]).map(({ "@odata.etag": _etag, ...rest }) => rest) : { ...body, "@odata.context": undefined });
  }
  return out;
}

describe("examples/demo.orgbox.yaml", () => {
  const fromFile = useOrgbox({ config: DEMO_FILE });
  const seeded = useOrgbox();

  it("gives the same tenant, credentials and rows as the built-in demo seed", async () => {
    const f = fromFile();
    expect(f.tenantId).toBe(DEMO.tenantId);
    expect(f.demo).toEqual(seeded().demo);
    const [fileRows, seedRows] = [await snapshotOf(f), await snapshotOf(seeded())];
    expect((fileRows[0] as unknown[]).length).toBe(20);
    expect((fileRows[1] as unknown[]).length).toBe(40);
    expect((fileRows[2] as unknown[]).length).toBe(24);
    expect(fileRows).toEqual(seedRows);
  });

  it("is the demo of src/server/demo.ts, the one definition the seed builds from too", () => {
    expect(readDocument(DEMO_FILE)).toEqual(demoEnvironment());
  });
});

describe("environment files and the rest of the configuration", () => {
  it("reads server settings from the file's server section (here: the admin key)", async () => {
    const path = resolve(mkdtempSync(resolve(tmpdir(), "orgbox-env-")), "with-server.yaml");
    writeFileSync(path, "server:\n  adminKey: from-the-file-123\n  logLevel: silent\ntenants:\n  - displayName: S\n    domains: [s.onmicrosoft.com]\n");
    const o = await startOrgbox({ config: path });
    try {
      expect(o.config.adminKey).toBe("from-the-file-123");
      expect(o.config.seedDemo).toBe(false);
      expect((await fetch(`${o.url}/_orgbox/reset`, { method: "POST", headers: { authorization: "Bearer from-the-file-123" } })).status).toBe(200);
    } finally {
      await o.close();
    }
  });

  it("seeds the demo too when the environment says seedDemo: true", async () => {
    const o = await startOrgbox({
      environment: {
        seedDemo: true,
        tenants: [{ id: "aaaa0000-0000-4000-8000-000000000001", displayName: "Extra", domains: ["extra.onmicrosoft.com"] }],
        orgs: [{ name: "extra", tenant: "extra.onmicrosoft.com" }],
      },
    });
    try {
      expect(o.tenantId).toBe(DEMO.tenantId);
      expect(await o.dataverse.service.findOrg("contoso")).toBeDefined();
      expect(await o.dataverse.service.findOrg("extra")).toBeDefined();
      const token = await demoToken(o);
      expect((await apiGet(o, token, "WhoAmI")).status).toBe(200);
    } finally {
      await o.close();
    }
  });

  it("publishes a JSON Schema that matches the zod schema", () => {
    expect(readFileSync(SCHEMA_PATH, "utf8")).toBe(environmentJsonSchemaText());
  });
});
