/** A `Label` with one en-US `LocalizedLabel`, as metadata bodies carry it. */
export const label = (text: string) => ({ "@odata.type": "Microsoft.Dynamics.CRM.Label", LocalizedLabels: [{ "@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel", Label: text, LanguageCode: 1033 }] });

/** The EntityMetadata body of the Web API sample (create-update-entity-definitions-using-web-api): a user-owned table with a string primary name column. */
export function projectTable(schemaName: string, primary = "new_Name") {
  return {
    "@odata.type": "Microsoft.Dynamics.CRM.EntityMetadata",
    SchemaName: schemaName,
    DisplayName: label("Project"),
    DisplayCollectionName: label("Projects"),
    Description: label("A project"),
    OwnershipType: "UserOwned",
    HasActivities: false,
    HasNotes: false,
    IsActivity: false,
    Attributes: [
      {
        "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        AttributeType: "String",
        AttributeTypeName: { Value: "StringType" },
        SchemaName: primary,
        IsPrimaryName: true,
        RequiredLevel: { Value: "None", CanBeChanged: true, ManagedPropertyLogicalName: "canmodifyrequirementlevelsettings" },
        MaxLength: 100,
        FormatName: { Value: "Text" },
        DisplayName: label("Name"),
      },
    ],
  };
}
