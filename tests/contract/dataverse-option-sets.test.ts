/**
 * Global option sets (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets)
 * with the real dynamics-web-api client: createGlobalOptionSet, retrieveGlobalOptionSet(s), a choice column
 * bound to the set (`GlobalOptionSet@odata.bind`), records using its values with formatted values, and the
 * refusals; and the same from an environment file, exported back.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamicsWebApi } from "dynamics-web-api";
import { beforeAll, describe, expect, it } from "vitest";
import { exportEnvironment } from "../../src/environment/export.ts";
import { startOrgbox } from "../../src/index.ts";
import { environmentProblems } from "../helpers/environment.ts";
import { label } from "../helpers/metadata.ts";
import { adminToken, apiCall, demoToken, useOrgbox } from "../helpers/orgbox.ts";

const colors = { "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata", Name: "new_colors", DisplayName: label("Colors"), IsGlobal: true, OptionSetType: "Picklist", Options: [{ Value: 100000000, Label: label("Red") }, { Value: 100000001, Label: label("Green") }] };

describe("global option sets over the Web API", () => {
  const orgbox = useOrgbox();
  let api: DynamicsWebApi;
  let token = "";
  let id = "";

  beforeAll(async () => {
    token = await adminToken(orgbox());
    api = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
  });

  it("createGlobalOptionSet, then retrieveGlobalOptionSet by MetadataId and by Name, and retrieveGlobalOptionSets", async () => {
    id = (await api.createGlobalOptionSet({ data: colors })) as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const byId = await api.retrieveGlobalOptionSet<Record<string, unknown>>({ key: id });
    expect(byId).toMatchObject({ MetadataId: id, Name: "new_colors", IsGlobal: true, OptionSetType: "Picklist" });
    expect((byId.Options as { Value: number; Label: { UserLocalizedLabel: { Label: string } } }[]).map((o) => [o.Value, o.Label.UserLocalizedLabel.Label])).toEqual([
      [100000000, "Red"],
      [100000001, "Green"],
    ]);
    const byName = await api.retrieveGlobalOptionSet<{ MetadataId: string }>({ key: "Name='new_colors'", castType: "Microsoft.Dynamics.CRM.OptionSetMetadata", select: ["Name"] });
    expect(byName.MetadataId).toBe(id);
    const all = await api.retrieveGlobalOptionSets<{ Name: string }>({ select: ["Name"], filter: "Name eq 'new_colors'" });
    expect(all.value.map((s) => s.Name)).toEqual(["new_colors"]);
  });

  it("a choice column bound to the set takes its values; records show its labels as formatted values", async () => {
    const column = { "@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata", SchemaName: "new_Color", DisplayName: label("Color"), RequiredLevel: { Value: "None" }, "GlobalOptionSet@odata.bind": `/GlobalOptionSetDefinitions(${id})` };
    const res = await apiCall(orgbox(), token, "POST", "EntityDefinitions(LogicalName='account')/Attributes", column);
    expect(res.status).toBe(204);
    const attribute = await apiCall(orgbox(), token, "GET", "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='new_color')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=GlobalOptionSet($select=Name)");
    expect(attribute.body.GlobalOptionSet).toMatchObject({ Name: "new_colors", IsGlobal: true });
    const account = (await api.create({ collection: "accounts", data: { name: "Painted", new_color: 100000001 } })) as string;
    const read = await api.retrieve<Record<string, unknown>>({ collection: "accounts", key: account, select: ["new_color"], includeAnnotations: "OData.Community.Display.V1.FormattedValue" });
    expect(read["new_color@OData.Community.Display.V1.FormattedValue"]).toBe("Green");
    await expect(api.create({ collection: "accounts", data: { name: "Off palette", new_color: 7 } })).rejects.toMatchObject({ status: 400 });
  });

  it("deleteGlobalOptionSet: refused while a column uses the set; after the column is deleted, the set goes", async () => {
    const inUse = await apiCall(orgbox(), token, "DELETE", "GlobalOptionSetDefinitions(Name='new_colors')");
    expect(inUse.status).toBe(400);
    expect(inUse.body.error).toMatchObject({ code: "0x8004f01f", message: expect.stringContaining("column account.new_color") });
    // A custom column of a standard table can be deleted; the table keeps its rows.
    expect((await apiCall(orgbox(), token, "DELETE", "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='new_color')")).status).toBe(204);
    expect((await api.retrieveMultiple({ collection: "accounts", select: ["name"], filter: "name eq 'Painted'" })).value).toHaveLength(1);
    await api.deleteGlobalOptionSet({ key: "Name='new_colors'" });
    expect((await apiCall(orgbox(), token, "GET", `GlobalOptionSetDefinitions(${id})`)).status).toBe(404);
    expect((await apiCall(orgbox(), token, "DELETE", "GlobalOptionSetDefinitions(Name='new_colors')")).status).toBe(404);
    // Recreated for the tests that follow.
    id = (await api.createGlobalOptionSet({ data: colors })) as string;
  });

  it("refuses a taken name, bad bodies, unknown sets and callers without prvCreateEntity", async () => {
    const cases: [unknown, number, string][] = [
      [colors, 400, "0x80040237"],
      [{ ...colors, Name: "colors" }, 400, "0x80044331"],
      [{ ...colors, Name: "new_empty", Options: [] }, 400, "0x80044331"],
      [{ ...colors, Name: "new_local", IsGlobal: false }, 400, "0x80044331"],
      [{ ...colors, Name: "new_bool", OptionSetType: "Boolean" }, 400, "0x80044331"],
    ];
    for (const [body, status, code] of cases) {
      const res = await apiCall(orgbox(), token, "POST", "GlobalOptionSetDefinitions", body);
      expect({ status: res.status, code: res.body.error?.code }, JSON.stringify(body).slice(0, 60)).toEqual({ status, code });
    }
    const missing = await apiCall(orgbox(), token, "GET", "GlobalOptionSetDefinitions(Name='new_nosuch')");
    expect(missing.status).toBe(404);
    expect(missing.body.error?.code).toBe("0x80040217");
    const unbound = await apiCall(orgbox(), token, "POST", "EntityDefinitions(LogicalName='account')/Attributes", { "@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata", SchemaName: "new_Other", DisplayName: label("Other"), "GlobalOptionSet@odata.bind": "/GlobalOptionSetDefinitions(Name='new_nosuch')" });
    expect(unbound.status).toBe(400);
    expect(unbound.body.error?.message).toContain("new_nosuch");
    const demo = await apiCall(orgbox(), await demoToken(orgbox()), "POST", "GlobalOptionSetDefinitions", { ...colors, Name: "new_bydemo" });
    expect(demo.status).toBe(403);
    expect((await apiCall(orgbox(), token, "PUT", `GlobalOptionSetDefinitions(${id})`, {})).status).toBe(501);
  });
});

describe("global option sets in environment files", () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-env-optionsets-"));
  const base = `
tenants:
  - id: 9d000000-0000-4000-8000-000000000001
    displayName: Choices
    domains: [choices-env.onmicrosoft.com]
apps:
  - appId: 9d000000-0000-4000-8000-00000000a001
    displayName: Choices daemon
    tenant: choices-env.onmicrosoft.com
    secrets: [{ value: choices-secret }]
orgs:
  - name: choices
    tenant: choices-env.onmicrosoft.com
    applicationUsers:
      - app: 9d000000-0000-4000-8000-00000000a001
        roles: [System Administrator]
    defaultOwner: 9d000000-0000-4000-8000-00000000a001
`;

  it("creates the sets before the tables; columns use them; export writes them back", async () => {
    const path = join(dir, "ok.yaml");
    writeFileSync(path, `${base}    optionSets:
      new_sizes: { displayName: Sizes, options: { 1: Small, 2: Large } }
    tables:
      new_box:
        displayName: Box
        columns:
          new_size: { type: Picklist, globalOptionSet: new_sizes }
      account:
        columns:
          new_size: { type: MultiSelectPicklist, globalOptionSet: new_sizes }
    data:
      new_box:
        - { new_name: Crate, new_size: 2 }
`);
    const o = await startOrgbox({ config: path });
    try {
      const res = await fetch(`${o.url}/9d000000-0000-4000-8000-000000000001/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: "9d000000-0000-4000-8000-00000000a001", client_secret: "choices-secret", resource: o.orgUrlOf("choices") }) });
      const bearer = ((await res.json()) as { access_token: string }).access_token;
      const api = new DynamicsWebApi({ serverUrl: `${o.orgUrlOf("choices")}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => bearer });
      const boxes = await api.retrieveMultiple<Record<string, unknown>>({ collection: "new_boxes", select: ["new_size"], includeAnnotations: "OData.Community.Display.V1.FormattedValue" });
      expect(boxes.value[0]?.["new_size@OData.Community.Display.V1.FormattedValue"]).toBe("Large");
      expect((await api.retrieveGlobalOptionSet<{ Name: string }>({ key: "Name='new_sizes'" })).Name).toBe("new_sizes");
      const exported = await exportEnvironment(o.identity.service, o.dataverse.service);
      const org = exported.environment.orgs?.[0];
      expect(org?.optionSets).toEqual({ new_sizes: { displayName: "Sizes", options: { 1: "Small", 2: "Large" } } });
      expect(org?.tables?.new_box?.columns?.new_size).toEqual({ type: "Picklist", globalOptionSet: "new_sizes" });
      expect(org?.tables?.account?.columns?.new_size).toEqual({ type: "MultiSelectPicklist", globalOptionSet: "new_sizes" });
    } finally {
      await o.close();
    }
  });

  it("names bad sets and columns that use a missing set or mix options with a set", () => {
    const path = join(dir, "bad.yaml");
    writeFileSync(path, `${base}    optionSets:
      sizes: { options: { 1: Small } }
      new_empty: { options: {} }
    tables:
      account:
        columns:
          new_a: { type: Picklist, globalOptionSet: new_nosuch }
          new_b: { type: Picklist, globalOptionSet: new_empty, options: { 1: X } }
          new_c: { type: Integer, globalOptionSet: new_empty }
`);
    expect(environmentProblems(path)).toEqual([
      expect.stringMatching(/orgs\[0\]\.optionSets\.sizes: The schema name 'sizes' of the OptionSet is not valid/),
      `${path}: orgs[0].optionSets.new_empty: The OptionSet of 'new_empty' has no Options.`,
      `${path}: orgs[0].tables.account.columns.new_a: The choice column 'new_a' refers to the global option set '/GlobalOptionSetDefinitions(Name='new_nosuch')', which does not exist. Create it first with POST GlobalOptionSetDefinitions.`,
      `${path}: orgs[0].tables.account.columns.new_b.globalOptionSet: only Picklist and MultiSelectPicklist columns take a globalOptionSet, and never with options (new_b is Picklist)`,
      `${path}: orgs[0].tables.account.columns.new_c.globalOptionSet: only Picklist and MultiSelectPicklist columns take a globalOptionSet, and never with options (new_c is Integer)`,
    ]);
  });
});
