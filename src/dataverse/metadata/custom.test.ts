import { describe, expect, it } from "vitest";
import { DataverseError } from "../errors.ts";
import { customLogicalName, labelText, parseAttributeDefinition, parseEntityDefinition, pluralize } from "./custom.ts";
import { filterObjects, parseMetadataQuery, selectProperties } from "./query.ts";

const label = (text: string) => ({ LocalizedLabels: [{ Label: text, LanguageCode: 1033 }] });

describe("custom definitions", () => {
  it("derives entity set names as Dataverse does", () => {
    expect(["new_project", "new_category", "new_box", "new_key", "cr123_batch"].map(pluralize)).toEqual(["new_projects", "new_categories", "new_boxes", "new_keys", "cr123_batches"]);
  });

  it("requires a publisher prefix", () => {
    expect(customLogicalName("new_Project", "Entity")).toBe("new_project");
    expect(customLogicalName("cr123_Phase", "Attribute")).toBe("cr123_phase");
    for (const bad of ["Project", "n_Project", "1ab_X", "mscrmx_X", "new_", "", 42]) expect(() => customLogicalName(bad, "Entity"), String(bad)).toThrow(DataverseError);
  });

  it("reads labels, 1033 first", () => {
    expect(labelText({ LocalizedLabels: [{ Label: "Projet", LanguageCode: 1036 }, { Label: "Project", LanguageCode: 1033 }] })).toBe("Project");
    expect(labelText(undefined)).toBeUndefined();
  });

  it("parses column bodies by @odata.type and refuses lookups and unknown types", () => {
    expect(parseAttributeDefinition({ "@odata.type": "#Microsoft.Dynamics.CRM.StringAttributeMetadata", SchemaName: "new_Code", MaxLength: 20 })).toMatchObject({ logicalName: "new_code", type: "String", maxLength: 20, isCustomAttribute: true });
    expect(parseAttributeDefinition({ "@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata", SchemaName: "new_P", OptionSet: { Options: [{ Value: 1, Label: label("One") }] } }).options).toEqual([{ value: 1, label: "One" }]);
    expect(() => parseAttributeDefinition({ "@odata.type": "Microsoft.Dynamics.CRM.LookupAttributeMetadata", SchemaName: "new_L" })).toThrow(/RelationshipDefinitions/);
    expect(() => parseAttributeDefinition({ SchemaName: "new_X" })).toThrow(/not supported/);
    expect(() => parseAttributeDefinition({ "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", SchemaName: "new_S", MaxLength: 0 })).toThrow(/MaxLength/);
    expect(() => parseAttributeDefinition({ "@odata.type": "Microsoft.Dynamics.CRM.PicklistAttributeMetadata", SchemaName: "new_P", OptionSet: { Options: [{ Value: 1 }, { Value: 1 }] } })).toThrow(/twice/);
  });

  it("builds a custom table with its platform columns", () => {
    const entity = parseEntityDefinition({ SchemaName: "new_Project", DisplayName: label("Project"), OwnershipType: "UserOwned", Attributes: [{ "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata", SchemaName: "new_Name", IsPrimaryName: true }] }, 10000);
    expect(entity).toMatchObject({ logicalName: "new_project", entitySetName: "new_projects", primaryIdAttribute: "new_projectid", primaryNameAttribute: "new_name", isCustomEntity: true, objectTypeCode: 10000 });
    expect(entity.attributes.map((a) => a.logicalName)).toEqual(expect.arrayContaining(["new_projectid", "new_name", "statecode", "statuscode", "createdon", "versionnumber", "ownerid", "owningbusinessunit"]));
    expect(() => parseEntityDefinition({ SchemaName: "new_X", DisplayName: label("X"), Attributes: [] }, 10000)).toThrow(/primary name/);
    expect(() => parseEntityDefinition({ SchemaName: "new_X", DisplayName: label("X"), OwnershipType: "None", Attributes: [] }, 10000)).toThrow(/OwnershipType/);
  });
});

describe("definition query options", () => {
  const objects = [
    { LogicalName: "account", IsCustomEntity: false, ObjectTypeCode: 1, IsAuditEnabled: { Value: true } },
    { LogicalName: "new_project", IsCustomEntity: true, ObjectTypeCode: 10000, IsAuditEnabled: { Value: false } },
  ];
  const names = (filter: string) => filterObjects(objects, filter, new Map(), "EntityMetadata").map((o) => o.LogicalName);

  it("evaluates eq/ne/gt/and/or/not, managed-property values and enum literals", () => {
    expect(names("IsCustomEntity eq true")).toEqual(["new_project"]);
    expect(names("not (LogicalName eq 'account') or ObjectTypeCode gt 5000")).toEqual(["new_project"]);
    expect(names("IsAuditEnabled/Value eq true and LogicalName ne 'x'")).toEqual(["account"]);
    expect(names("LogicalName eq Microsoft.Dynamics.CRM.Whatever'account'")).toEqual(["account"]);
  });

  it("refuses functions and unknown properties by name", () => {
    expect(() => names("startswith(LogicalName,'a')")).toThrow(/startswith/);
    expect(() => names("Nope eq 1")).toThrow(/Could not find a property named 'Nope'/);
  });

  it("parses $expand with nested options and selects properties", () => {
    const q = parseMetadataQuery(new Map([["$select", "LogicalName"], ["$expand", "Attributes($select=LogicalName,MaxLength;$filter=AttributeType eq 'String'),Keys"]]));
    expect(q.expand).toEqual([{ name: "Attributes", select: ["LogicalName", "MaxLength"], filter: "AttributeType eq 'String'" }, { name: "Keys" }]);
    expect(() => parseMetadataQuery(new Map([["$top", "1"]]))).toThrow(/\$top/);
    expect(selectProperties({ MetadataId: "m", LogicalName: "a", SchemaName: "A" }, ["LogicalName"], new Set(["LogicalName", "SchemaName"]), "EntityMetadata")).toEqual({ MetadataId: "m", LogicalName: "a" });
  });
});
