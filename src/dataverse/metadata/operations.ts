import { dv } from "../errors.ts";
import type { Operation } from "../functions.ts";
import { parseFilter } from "../odata/filter.ts";
import type { DataverseService } from "../service.ts";
import type { DataverseStore } from "../store.ts";
import { metadataErrors } from "./custom.ts";

/** The server version orgbox reports: a Dataverse 9.2 online build number. */
const SERVER_VERSION = "9.2.25044.180";

/**
 * `RetrieveVersion()`: the server version
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrieveversion).
 * Returns `{"@odata.context":"…$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse","Version":"9.2.…"}`.
 */
export const retrieveVersion: Operation = {
  name: "RetrieveVersion",
  kind: "function",
  signature: { returnType: "mscrm.RetrieveVersionResponse", complexTypes: [{ name: "RetrieveVersionResponse", properties: [{ name: "Version", type: "Edm.String" }] }] },
  async invoke({ apiUrl }, args) {
    if (args.trim() !== "") throw dv.querySyntax("RetrieveVersion takes no parameters");
    return { "@odata.context": `${apiUrl}/$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse`, Version: SERVER_VERSION };
  },
};

/**
 * The `EntityNames` parameter: `EntityNames=['account','contact']` or `EntityNames=@p1` with
 * `?@p1=["account","contact"]` (parameter aliases, as dynamics-web-api sends them).
 * @throws DataverseError 400 for other parameters or a value that is not a list of strings.
 */
function parseEntityNames(args: string, aliases: ReadonlyMap<string, string>): string[] {
  const match = /^\s*EntityNames\s*=\s*(.+?)\s*$/s.exec(args);
  if (!match) throw dv.querySyntax(`RetrieveTotalRecordCount needs exactly one parameter, EntityNames (got '${args}')`);
  const node = parseFilter(match[1] as string, aliases);
  if (node.type !== "array") throw dv.querySyntax("EntityNames must be a list of table logical names, e.g. ['account','contact']");
  return node.items.map((item) => {
    if (item.type !== "literal" || item.literal.type !== "string") throw dv.querySyntax("EntityNames must hold strings (table logical names)");
    return item.literal.value;
  });
}

/**
 * `RetrieveTotalRecordCount(EntityNames=[…])`: the number of rows per table
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrievetotalrecordcount;
 * response `RetrieveTotalRecordCountResponse` → `EntityRecordCountCollection`
 * `{"Count","IsReadOnly":false,"Keys":[names],"Values":[counts]}`). Dataverse reports a snapshot
 * taken within the last 24 hours; orgbox counts live (one SQL COUNT per table). The caller needs
 * read privilege on each table.
 * @throws DataverseError 404 `0x80040217` for an unknown table, 403 without read privilege.
 */
export function retrieveTotalRecordCount(service: DataverseService, defaultStore: DataverseStore): Operation {
  return {
    name: "RetrieveTotalRecordCount",
    kind: "function",
    signature: {
      parameters: [{ name: "EntityNames", type: "Collection(Edm.String)", nullable: false }],
      returnType: "mscrm.RetrieveTotalRecordCountResponse",
      complexTypes: [
        {
          name: "EntityRecordCountCollection",
          properties: [
            { name: "Count", type: "Edm.Int32", nullable: false },
            { name: "IsReadOnly", type: "Edm.Boolean", nullable: false },
            { name: "Keys", type: "Collection(Edm.String)" },
            { name: "Values", type: "Collection(Edm.Int64)" },
          ],
        },
        { name: "RetrieveTotalRecordCountResponse", properties: [{ name: "EntityRecordCountCollection", type: "mscrm.EntityRecordCountCollection" }] },
      ],
    },
    async invoke({ org, apiUrl, aliases, store = defaultStore, security }, args) {
      const names = parseEntityNames(args, aliases ?? new Map());
      const md = await service.loadMetadata(org, store);
      const values: number[] = [];
      for (const name of names) {
        const entity = md.entity(name);
        if (!entity) throw metadataErrors.entityNotFound(name);
        await security.assertPrivilege("Read", entity);
        values.push(await store.countRows(org, { entity }));
      }
      return {
        "@odata.context": `${apiUrl}/$metadata#Microsoft.Dynamics.CRM.RetrieveTotalRecordCountResponse`,
        EntityRecordCountCollection: { Count: names.length, IsReadOnly: false, Keys: names, Values: values },
      };
    },
  };
}
