import { DataverseError, dv } from "../errors.ts";
import type { Operation, OperationContext } from "../functions.ts";
import type { DataverseService } from "../service.ts";
import { newGuid } from "../../common/ids.ts";
import { parseSolutionZip } from "./file.ts";

/**
 * The solution messages of the Web API: `ExportSolution`, `ImportSolution`,
 * `RetrieveFormattedImportJobResults`, `AddSolutionComponent`, `RemoveSolutionComponent`,
 * `UninstallSolutionAsync`, `ImportSolutionAsync`, `ExportSolutionAsync` with `DownloadSolutionExportData`
 * (each run at once, with a finished `asyncoperation`), `PublishXml` / `PublishAllXml` (accepted: orgbox publishes
 * every change at once) (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/{exportsolution,
 * importsolution,retrieveformattedimportjobresults,addsolutioncomponent,removesolutioncomponent,publishallxml}).
 * Importing needs `prvImportCustomization`, exporting `prvExportCustomization` (System Administrator and
 * System Customizer hold both); a caller without them gets 403 `0x80040220`.
 */

const NS = "Microsoft.Dynamics.CRM.";
const invalid = (message: string) => new DataverseError(400, "0x80040203", message);
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function bodyOf(ctx: OperationContext, operation: string): Record<string, unknown> {
  const body = ctx.body;
  if (!body || typeof body !== "object" || Array.isArray(body)) throw invalid(`${operation} needs a JSON object body.`);
  return body as Record<string, unknown>;
}

function requireString(body: Record<string, unknown>, name: string, operation: string): string {
  const value = body[name];
  if (typeof value !== "string" || value.length === 0) throw invalid(`${operation} needs the parameter ${name} (a string).`);
  return value;
}

/** `Edm.Boolean` parameters arrive as JSON booleans (some clients send "true"/"false"). */
function optionalBoolean(body: Record<string, unknown>, name: string, operation: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "boolean") return value;
  if (value === "true" || value === "false") return value === "true";
  throw invalid(`${operation}: ${name} must be a boolean.`);
}

/** Base64 (`Edm.Binary`) → bytes; refuses anything else. */
function decodeBase64(value: string, name: string): Uint8Array {
  const clean = value.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) throw invalid(`${name} must be the solution file in base64.`);
  return new Uint8Array(Buffer.from(clean, "base64"));
}

function exportSolution(service: DataverseService): Operation {
  return {
    name: "ExportSolution",
    kind: "action",
    signature: {
      parameters: [
        { name: "SolutionName", type: "Edm.String", nullable: false },
        { name: "Managed", type: "Edm.Boolean", nullable: false },
      ],
      returnType: "mscrm.ExportSolutionResponse",
      complexTypes: [{ name: "ExportSolutionResponse", properties: [{ name: "ExportSolutionFile", type: "Edm.Binary" }] }],
    },
    async invoke(ctx) {
      await ctx.security.assertNamedPrivilege("prvExportCustomization");
      const body = bodyOf(ctx, "ExportSolution");
      const name = requireString(body, "SolutionName", "ExportSolution");
      const managed = optionalBoolean(body, "Managed", "ExportSolution") ?? false;
      const file = await service.solutions.exportSolution(ctx.org, name, managed, ctx.store);
      return { "@odata.context": `${ctx.apiUrl}/$metadata#${NS}ExportSolutionResponse`, ExportSolutionFile: Buffer.from(file).toString("base64") };
    },
  };
}

function importSolution(service: DataverseService): Operation {
  return {
    name: "ImportSolution",
    kind: "action",
    signature: {
      parameters: [
        { name: "OverwriteUnmanagedCustomizations", type: "Edm.Boolean", nullable: false },
        { name: "PublishWorkflows", type: "Edm.Boolean", nullable: false },
        { name: "CustomizationFile", type: "Edm.Binary", nullable: false },
        { name: "ImportJobId", type: "Edm.Guid", nullable: false },
        { name: "ConvertToManaged", type: "Edm.Boolean" },
      ],
    },
    async invoke(ctx) {
      await ctx.security.assertNamedPrivilege("prvImportCustomization");
      if (ctx.store?.inTransaction) throw invalid("ImportSolution cannot run inside a $batch change set: it runs in a transaction of its own.");
      const body = bodyOf(ctx, "ImportSolution");
      const file = decodeBase64(requireString(body, "CustomizationFile", "ImportSolution"), "CustomizationFile");
      const jobId = body.ImportJobId;
      if (jobId !== undefined && (typeof jobId !== "string" || !GUID.test(jobId))) throw invalid("ImportSolution: ImportJobId must be a GUID.");
      optionalBoolean(body, "PublishWorkflows", "ImportSolution");
      const overwrite = optionalBoolean(body, "OverwriteUnmanagedCustomizations", "ImportSolution");
      const convert = optionalBoolean(body, "ConvertToManaged", "ImportSolution");
      const outcome = await service.solutions.importSolution(ctx.org, file, {
        ...(typeof jobId === "string" ? { importJobId: jobId } : {}),
        ...(overwrite !== undefined ? { overwriteUnmanagedCustomizations: overwrite } : {}),
        ...(convert !== undefined ? { convertToManaged: convert } : {}),
        callerId: ctx.caller.systemUserId,
      });
      if (outcome.error) throw outcome.error;
      return undefined;
    },
  };
}

function retrieveFormattedImportJobResults(service: DataverseService): Operation {
  return {
    name: "RetrieveFormattedImportJobResults",
    kind: "function",
    signature: { parameters: [{ name: "ImportJobId", type: "Edm.Guid", nullable: false }], returnType: "mscrm.RetrieveFormattedImportJobResultsResponse", complexTypes: [{ name: "RetrieveFormattedImportJobResultsResponse", properties: [{ name: "FormattedResults", type: "Edm.String" }] }] },
    async invoke(ctx, args) {
      await ctx.security.assertNamedPrivilege("prvImportCustomization");
      const match = /^\s*ImportJobId\s*=\s*(.+?)\s*$/s.exec(args);
      let raw = match?.[1];
      if (raw?.startsWith("@")) raw = ctx.aliases?.get(raw);
      const id = raw?.replace(/^'|'$/g, "");
      if (!id || !GUID.test(id)) throw dv.querySyntax("RetrieveFormattedImportJobResults needs ImportJobId=<guid>");
      const results = await service.solutions.formattedImportJobResults(ctx.org, id, ctx.store);
      return { "@odata.context": `${ctx.apiUrl}/$metadata#${NS}RetrieveFormattedImportJobResultsResponse`, FormattedResults: results };
    },
  };
}

function addSolutionComponent(service: DataverseService): Operation {
  return {
    name: "AddSolutionComponent",
    kind: "action",
    async invoke(ctx) {
      await ctx.security.assertNamedPrivilege("prvCreateEntity");
      const body = bodyOf(ctx, "AddSolutionComponent");
      const componentId = requireString(body, "ComponentId", "AddSolutionComponent");
      if (!GUID.test(componentId)) throw invalid("AddSolutionComponent: ComponentId must be a GUID (a MetadataId, or a role's id).");
      const componentType = body.ComponentType;
      if (typeof componentType !== "number" || !Number.isInteger(componentType)) throw invalid("AddSolutionComponent needs ComponentType (an integer componenttype code: 1 Entity, 9 OptionSet, 10 EntityRelationship, 20 Role, …).");
      const id = await service.solutions.addComponent(ctx.org, { solutionUniqueName: requireString(body, "SolutionUniqueName", "AddSolutionComponent"), componentType, componentId }, ctx.store);
      return { "@odata.context": `${ctx.apiUrl}/$metadata#${NS}AddSolutionComponentResponse`, id };
    },
  };
}

function removeSolutionComponent(service: DataverseService): Operation {
  return {
    name: "RemoveSolutionComponent",
    kind: "action",
    async invoke(ctx) {
      await ctx.security.assertNamedPrivilege("prvCreateEntity");
      const body = bodyOf(ctx, "RemoveSolutionComponent");
      const component = body.SolutionComponent as Record<string, unknown> | undefined;
      const componentId = typeof body.ComponentId === "string" ? body.ComponentId : typeof component?.objectid === "string" ? component.objectid : undefined;
      if (!componentId || !GUID.test(componentId)) throw invalid("RemoveSolutionComponent needs the component's id (ComponentId, or SolutionComponent.objectid).");
      await service.solutions.removeComponent(ctx.org, { solutionUniqueName: requireString(body, "SolutionUniqueName", "RemoveSolutionComponent"), componentId }, ctx.store);
      return { "@odata.context": `${ctx.apiUrl}/$metadata#${NS}RemoveSolutionComponentResponse`, id: componentId.toLowerCase() };
    },
  };
}

/** `UninstallSolutionAsync {"SolutionUniqueName":…}`: orgbox uninstalls at once and answers with an `AsyncOperationId` that names nothing to poll. */
function uninstallSolutionAsync(service: DataverseService): Operation {
  return {
    name: "UninstallSolutionAsync",
    kind: "action",
    async invoke(ctx) {
      await ctx.security.assertNamedPrivilege("prvImportCustomization");
      const name = requireString(bodyOf(ctx, "UninstallSolutionAsync"), "SolutionUniqueName", "UninstallSolutionAsync");
      const solution = await service.solutions.findSolution(ctx.org, name, ctx.store);
      if (!solution) throw new DataverseError(404, "0x80040217", `solution With Name = ${name} Does Not Exist`);
      await service.solutions.uninstall(ctx.org, String(solution.solutionid), ctx.store);
      return { "@odata.context": `${ctx.apiUrl}/$metadata#${NS}UninstallSolutionAsyncResponse`, AsyncOperationId: "00000000-0000-0000-0000-000000000000" };
    },
  };
}

/**
 * `ImportSolutionAsync` (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/importsolutionasync):
 * the import runs at once; the answer's `AsyncOperationId` names a finished `asyncoperation` (Succeeded,
 * or Failed with the error in `message`), `ImportJobKey` the `importjob`.
 */
function importSolutionAsync(service: DataverseService): Operation {
  return {
    name: "ImportSolutionAsync",
    kind: "action",
    async invoke(ctx) {
      await ctx.security.assertNamedPrivilege("prvImportCustomization");
      if (ctx.store?.inTransaction) throw invalid("ImportSolutionAsync cannot run inside a $batch change set.");
      const body = bodyOf(ctx, "ImportSolutionAsync");
      const file = decodeBase64(requireString(body, "CustomizationFile", "ImportSolutionAsync"), "CustomizationFile");
      const overwrite = optionalBoolean(body, "OverwriteUnmanagedCustomizations", "ImportSolutionAsync");
      const convert = optionalBoolean(body, "ConvertToManaged", "ImportSolutionAsync");
      optionalBoolean(body, "PublishWorkflows", "ImportSolutionAsync");
      const startedOn = service.now();
      const outcome = await service.solutions.importSolution(ctx.org, file, { ...(overwrite !== undefined ? { overwriteUnmanagedCustomizations: overwrite } : {}), ...(convert !== undefined ? { convertToManaged: convert } : {}), callerId: ctx.caller.systemUserId });
      const asyncId = await service.solutions.recordAsyncOperation(ctx.org, { name: "ImportSolution", operationType: 203, startedOn, ...(outcome.error ? { error: outcome.error } : {}), callerId: ctx.caller.systemUserId });
      return { "@odata.context": `${ctx.apiUrl}/$metadata#${NS}ImportSolutionAsyncResponse`, AsyncOperationId: asyncId, ImportJobKey: outcome.importJobId };
    },
  };
}

/**
 * `ExportSolutionAsync` → `{AsyncOperationId, ExportJobId}` (the same id in orgbox), then
 * `DownloadSolutionExportData {"ExportJobId":…}` → `{ExportSolutionFile}`
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/exportsolutionasync).
 */
function exportSolutionAsync(service: DataverseService): Operation {
  return {
    name: "ExportSolutionAsync",
    kind: "action",
    async invoke(ctx) {
      await ctx.security.assertNamedPrivilege("prvExportCustomization");
      const body = bodyOf(ctx, "ExportSolutionAsync");
      const name = requireString(body, "SolutionName", "ExportSolutionAsync");
      const managed = optionalBoolean(body, "Managed", "ExportSolutionAsync") ?? false;
      const startedOn = service.now();
      let file: string | undefined;
      let error: DataverseError | undefined;
      try {
        file = Buffer.from(await service.solutions.exportSolution(ctx.org, name, managed, ctx.store)).toString("base64");
      } catch (caught) {
        if (!(caught instanceof DataverseError) || caught.status === 403) throw caught;
        error = caught;
      }
      const asyncId = await service.solutions.recordAsyncOperation(ctx.org, { name: `ExportSolution ${name}`, operationType: 204, startedOn, ...(error ? { error } : {}), ...(file ? { data: file } : {}), callerId: ctx.caller.systemUserId });
      return { "@odata.context": `${ctx.apiUrl}/$metadata#${NS}ExportSolutionAsyncResponse`, AsyncOperationId: asyncId, ExportJobId: asyncId };
    },
  };
}

function downloadSolutionExportData(service: DataverseService): Operation {
  return {
    name: "DownloadSolutionExportData",
    kind: "action",
    async invoke(ctx) {
      await ctx.security.assertNamedPrivilege("prvExportCustomization");
      const id = requireString(bodyOf(ctx, "DownloadSolutionExportData"), "ExportJobId", "DownloadSolutionExportData");
      if (!GUID.test(id)) throw invalid("DownloadSolutionExportData: ExportJobId must be a GUID.");
      return { "@odata.context": `${ctx.apiUrl}/$metadata#${NS}DownloadSolutionExportDataResponse`, ExportSolutionFile: await service.solutions.exportedFile(ctx.org, id, ctx.store) };
    },
  };
}

/**
 * `StageSolution {"CustomizationFile":…}` → `{"StageSolutionResults":{StageSolutionUploadId, SolutionDetails,
 * MissingDependencies, SolutionValidationResults, StageSolutionStatus}}`: reads the file without importing it
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/stagesolution). orgbox keeps
 * nothing: import with `ImportSolution` and the same file.
 */
function stageSolution(service: DataverseService): Operation {
  return {
    name: "StageSolution",
    kind: "action",
    async invoke(ctx) {
      await ctx.security.assertNamedPrivilege("prvImportCustomization");
      const file = decodeBase64(requireString(bodyOf(ctx, "StageSolution"), "CustomizationFile", "StageSolution"), "CustomizationFile");
      const parsed = parseSolutionZip(file);
      const installed = await service.solutions.findSolution(ctx.org, parsed.uniqueName, ctx.store);
      return {
        "@odata.context": `${ctx.apiUrl}/$metadata#${NS}StageSolutionResponse`,
        StageSolutionResults: {
          StageSolutionUploadId: newGuid(),
          StageSolutionStatus: "Passed",
          SolutionDetails: {
            SolutionUniqueName: parsed.uniqueName,
            SolutionFriendlyName: parsed.displayName,
            SolutionVersion: parsed.version,
            IsManaged: parsed.managed,
            PublisherUniqueName: parsed.publisher.uniqueName,
            ExistingSolutionVersion: installed ? String(installed.version) : null,
            IsExistingSolutionManaged: installed ? installed.ismanaged === true || installed.ismanaged === 1 : null,
          },
          MissingDependencies: [],
          SolutionValidationResults: parsed.ignored.map((what) => ({ SolutionValidationResultType: "Warning", Message: `orgbox does not model ${what}: carried in the file and ignored.`, ErrorCode: 0 })),
        },
      };
    },
  };
}

/** `PublishXml` / `PublishAllXml`: accepted; orgbox publishes every customization at once. */
function publish(name: "PublishXml" | "PublishAllXml"): Operation {
  return {
    name,
    kind: "action",
    async invoke(ctx) {
      if (name === "PublishXml") requireString(bodyOf(ctx, name), "ParameterXml", name);
      return undefined;
    },
  };
}

/** Every solution operation, for the {@link OperationRegistry}. */
export function solutionOperations(service: DataverseService): Operation[] {
  return [exportSolution(service), importSolution(service), retrieveFormattedImportJobResults(service), addSolutionComponent(service), removeSolutionComponent(service), uninstallSolutionAsync(service), importSolutionAsync(service), exportSolutionAsync(service), downloadSolutionExportData(service), stageSolution(service), publish("PublishXml"), publish("PublishAllXml")];
}
