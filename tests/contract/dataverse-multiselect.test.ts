/**
 * Multi-select choice columns (`MultiSelectPicklistAttributeMetadata`), added as a custom column to account, with the real
 * dynamics-web-api client: created through the metadata API, written and read as the comma-separated
 * option values, checked against the options on write, and queried with `ContainValues` /
 * `DoesNotContainValues` (learn.microsoft.com/power-apps/developer/data-platform/multi-select-picklist).
 * No standard table orgbox models has a built-in multi-select column in Dataverse, so none is predefined.
 */
import { DynamicsWebApi } from "dynamics-web-api";
import { beforeAll, describe, expect, it } from "vitest";
import { apiGet, useOrgbox } from "../helpers/orgbox.ts";
import { failure, systemAdministratorToken } from "../helpers/dwa.ts";
import { label } from "../helpers/metadata.ts";

type Row = Record<string, unknown>;

describe("multi-select choice columns with dynamics-web-api", () => {
  const orgbox = useOrgbox();
  let token = "";
  let dwa: DynamicsWebApi;
  const ids: Record<string, string> = {};
  const names = async (filter: string) => (await dwa.retrieveMultiple<Row>({ collection: "accounts", select: ["name"], filter: `startswith(name,'trip ') and ${filter}`, orderBy: ["name"] })).value.map((r) => String(r.name).slice(5));

  beforeAll(async () => {
    const o = orgbox();
    token = await systemAdministratorToken(o, "multi-select admin");
    dwa = new DynamicsWebApi({ serverUrl: `${o.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    await dwa.createAttribute({
      entityKey: "LogicalName='account'",
      data: {
        "@odata.type": "Microsoft.Dynamics.CRM.MultiSelectPicklistAttributeMetadata",
        SchemaName: "new_Transport",
        DisplayName: label("Transport"),
        RequiredLevel: { Value: "None" },
        OptionSet: { "@odata.type": "Microsoft.Dynamics.CRM.OptionSetMetadata", IsGlobal: false, OptionSetType: "Picklist", Options: [1, 2, 3].map((i) => ({ Value: 100000000 + i, Label: label(["Train", "Plane", "Bike"][i - 1] as string) })) },
      },
    });
    for (const [name, transport] of [["rail", "100000001"], ["mixed", "100000003,100000001"], ["air", "100000002"], ["none", null]] as const) {
      ids[name] = (await dwa.create({ collection: "accounts", data: { name: `trip ${name}`, new_transport: transport } })) as string;
    }
  });

  it("reports the column as MultiSelectPicklistAttributeMetadata with its options", async () => {
    const column = await dwa.retrieveAttribute<Row & { OptionSet: { Options: { Value: number }[] } }>({ entityKey: "LogicalName='account'", attributeKey: "LogicalName='new_transport'", castType: "Microsoft.Dynamics.CRM.MultiSelectPicklistAttributeMetadata", expand: [{ property: "OptionSet" }] });
    expect(column).toMatchObject({ AttributeType: "Virtual", AttributeTypeName: { Value: "MultiSelectPicklistType" } });
    expect(column.OptionSet.Options.map((o) => o.Value)).toEqual([100000001, 100000002, 100000003]);
  });

  it("returns the comma-separated values (ascending) with the labels as FormattedValue", async () => {
    const mixed = await dwa.retrieve<Row>({ collection: "accounts", key: ids.mixed as string, select: ["new_transport"] });
    expect(mixed.new_transport).toBe("100000001,100000003");
    const res = await apiGet(orgbox(), token, `accounts(${ids.mixed})?$select=new_transport`, { Prefer: 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"' });
    expect((res.body as Row)["new_transport@OData.Community.Display.V1.FormattedValue"]).toBe("Train; Bike");
  });

  it("filters with ContainValues (any of) and DoesNotContainValues (none of, empty included)", async () => {
    expect(await names("Microsoft.Dynamics.CRM.ContainValues(PropertyName='new_transport',PropertyValues=['100000001'])")).toEqual(["mixed", "rail"]);
    expect(await names("Microsoft.Dynamics.CRM.ContainValues(PropertyName='new_transport',PropertyValues=['100000002','100000003'])")).toEqual(["air", "mixed"]);
    expect(await names("Microsoft.Dynamics.CRM.DoesNotContainValues(PropertyName='new_transport',PropertyValues=['100000001'])")).toEqual(["air", "none"]);
  });

  it("refuses values that are not options, non-strings, and query functions on other columns or unknown options", async () => {
    expect((await failure(dwa.create({ collection: "accounts", data: { name: "bad", new_transport: "100000001,7" } }))).status).toBe(400);
    expect((await failure(dwa.create({ collection: "accounts", data: { name: "bad", new_transport: 100000001 } }))).status).toBe(400);
    expect((await failure(dwa.update({ collection: "accounts", key: ids.rail as string, data: { new_transport: "x" } }))).status).toBe(400);
    const wrongColumn = await failure(dwa.retrieveMultiple({ collection: "accounts", filter: "Microsoft.Dynamics.CRM.ContainValues(PropertyName='name',PropertyValues=['1'])" }));
    expect(wrongColumn.status).toBe(400);
    expect(wrongColumn.message).toContain("multi-select");
    const unknown = await failure(dwa.retrieveMultiple({ collection: "accounts", filter: "Microsoft.Dynamics.CRM.ContainValues(PropertyName='new_transport',PropertyValues=['5'])" }));
    expect(unknown.status).toBe(400);
  });
});
