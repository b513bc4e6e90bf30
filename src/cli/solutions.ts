/**
 * `orgbox solution import|export|list|uninstall` and `orgbox deploy PACKAGE`.
 *
 * The solution commands work on a stopped store (`--data` / `--store-url`, `--org`), or with `--url`
 * against a running environment through the Web API (`ImportSolution`, `ExportSolution`, `solutions`,
 * `UninstallSolutionAsync`) with an app's client credentials — orgbox or real Dataverse.
 *
 * `orgbox deploy` installs a package in Package Deployer's layout (learn.microsoft.com/power-platform/alm/package-deployer-tool):
 * `ImportConfig.xml` lists the solution files to import in order (`<configsolutionfile
 * solutionpackagefilename="…"/>`); `orgbox.deploy.yaml` (or `.json`) declares what a solution cannot
 * carry — application users with their business unit and security roles by name. It uses only the
 * Web API with a token, so it deploys to real Dataverse too.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { ConfigError, OrgboxError } from "../common/errors.ts";
import { newGuid } from "../common/ids.ts";
import { offlineStore, withOfflineServices } from "../server/offline.ts";
import { idFromEntityId, odataString, WebApiClient, WebApiError, type WebApiFlags } from "./webapi.ts";

interface SolutionFlags extends WebApiFlags {
  data?: string;
  storeUrl?: string;
  org?: string;
  json?: boolean;
  managed?: boolean;
  out?: string;
  overwrite?: boolean;
  convertToManaged?: boolean;
}

function write(flags: { json?: boolean }, json: unknown, text: string): void {
  process.stdout.write(flags.json || process.env.ORGBOX_JSON === "1" || process.env.ORGBOX_JSON === "true" ? `${JSON.stringify(json)}\n` : `${text}\n`);
}

const remote = (flags: SolutionFlags) => (flags.url ?? process.env.ORGBOX_URL) !== undefined;

/** Bad input from the service (400/404) is bad input of the command (exit 2); the rest a failure (exit 1). */
function asCommandError(error: unknown): Error {
  if (error instanceof WebApiError && (error.status === 400 || error.status === 404 || error.status === 403)) return new ConfigError(`${error.message}${error.code ? ` (${error.code})` : ""}`);
  // The org model's errors (DataverseError, OrgModelError) are OrgboxErrors carrying their HTTP status and, for Dataverse's, a code.
  if (error instanceof OrgboxError && (error.status === 400 || error.status === 404)) {
    const code = (error as OrgboxError & { code?: unknown }).code;
    return new ConfigError(typeof code === "string" ? `${error.message} (${code})` : error.message);
  }
  return error as Error;
}

function readZip(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

/** `orgbox solution import FILE`: imports a solution zip; the import job id is printed either way. */
async function solutionImport(file: string, flags: SolutionFlags): Promise<void> {
  const bytes = readZip(file);
  const importJobId = newGuid();
  try {
    if (remote(flags)) {
      const api = await WebApiClient.connect(flags);
      await api.call("POST", "ImportSolution", { CustomizationFile: bytes.toString("base64"), OverwriteUnmanagedCustomizations: flags.overwrite === true, PublishWorkflows: true, ImportJobId: importJobId, ...(flags.convertToManaged ? { ConvertToManaged: true } : {}) });
    } else {
      await withOfflineServices(offlineStore(flags), async ({ dataverse, org }) => {
        const outcome = await dataverse.solutions.importSolution(await org(flags.org ?? "contoso"), new Uint8Array(bytes), { importJobId, ...(flags.overwrite ? { overwriteUnmanagedCustomizations: true } : {}), ...(flags.convertToManaged ? { convertToManaged: true } : {}) });
        if (outcome.error) throw outcome.error;
      });
    }
  } catch (error) {
    const failure = asCommandError(error);
    failure.message = `${failure.message} (import job ${importJobId})`;
    throw failure;
  }
  write(flags, { imported: file, importJobId }, `  imported ${file} (import job ${importJobId})`);
}

/** `orgbox solution export NAME --out FILE [--managed]`. */
async function solutionExport(name: string, flags: SolutionFlags): Promise<void> {
  if (!flags.out) throw new ConfigError("--out <file.zip> is required");
  let bytes: Buffer;
  try {
    if (remote(flags)) {
      const api = await WebApiClient.connect(flags);
      const { body } = await api.call<{ ExportSolutionFile: string }>("POST", "ExportSolution", { SolutionName: name, Managed: flags.managed === true });
      bytes = Buffer.from(body.ExportSolutionFile, "base64");
    } else {
      bytes = await withOfflineServices(offlineStore(flags), async ({ dataverse, org }) => Buffer.from(await dataverse.solutions.exportSolution(await org(flags.org ?? "contoso"), name, flags.managed === true)));
    }
  } catch (error) {
    throw asCommandError(error);
  }
  writeFileSync(flags.out, bytes);
  write(flags, { solution: name, managed: flags.managed === true, file: flags.out, bytes: bytes.length }, `  exported ${name} (${flags.managed ? "managed" : "unmanaged"}) to ${flags.out}`);
}

/** `orgbox solution list`: the org's solutions with version and package type. */
async function solutionList(flags: SolutionFlags): Promise<void> {
  let solutions: { uniqueName: string; friendlyName: string; version: string; managed: boolean }[];
  if (remote(flags)) {
    const api = await WebApiClient.connect(flags);
    const { body } = await api.call<{ value: Record<string, unknown>[] }>("GET", "solutions?$select=uniquename,friendlyname,version,ismanaged&$orderby=uniquename");
    solutions = body.value.map((s) => ({ uniqueName: String(s.uniquename), friendlyName: String(s.friendlyname), version: String(s.version), managed: s.ismanaged === true }));
  } else {
    solutions = await withOfflineServices(offlineStore(flags), async ({ dataverse, org }) => dataverse.solutions.listSolutions(await org(flags.org ?? "contoso")));
  }
  write(flags, solutions, solutions.map((s) => `  ${s.uniqueName.padEnd(28)} ${s.version.padEnd(12)} ${s.managed ? "managed  " : "unmanaged"}  ${s.friendlyName}`).join("\n"));
}

/** `orgbox solution uninstall NAME`: a managed solution with its components; an unmanaged one leaves them. */
async function solutionUninstall(name: string, flags: SolutionFlags): Promise<void> {
  try {
    if (remote(flags)) {
      const api = await WebApiClient.connect(flags);
      await api.call("POST", "UninstallSolutionAsync", { SolutionUniqueName: name });
    } else {
      await withOfflineServices(offlineStore(flags), async ({ dataverse, org }) => {
        const found = await org(flags.org ?? "contoso");
        const solution = await dataverse.solutions.findSolution(found, name);
        if (!solution) throw new ConfigError(`no solution named '${name}' in org ${found.name}`);
        await dataverse.solutions.uninstall(found, String(solution.solutionid));
      });
    }
  } catch (error) {
    throw asCommandError(error);
  }
  write(flags, { uninstalled: name }, `  uninstalled ${name}`);
}

// ── orgbox deploy ──────────────────────────────────────────────────────────────

/** An application user a package declares (`orgbox.deploy.yaml`). */
interface DeclaredApplicationUser {
  appId: string;
  /** Business unit name; the root business unit when absent. */
  businessUnit?: string;
  /** Security role names (in the user's business unit), typically from the package's solutions. */
  roles: string[];
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The solution files `ImportConfig.xml` lists, in order, with their import options. */
async function readImportConfig(folder: string): Promise<{ file: string; overwrite: boolean; publish: boolean }[]> {
  const { XMLParser } = await import("fast-xml-parser");
  const path = join(folder, "ImportConfig.xml");
  if (!existsSync(path)) throw new ConfigError(`${folder} is not a package: it has no ImportConfig.xml (Package Deployer's layout)`);
  let root: Record<string, unknown>;
  try {
    const text = readFileSync(path).toString(readFileSync(path).subarray(0, 2).equals(Buffer.from([0xff, 0xfe])) ? "utf16le" : "utf8").replace(/^\uFEFF/, "").replace(/encoding="utf-16"/i, 'encoding="utf-8"');
    root = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@_", isArray: (name) => name === "configsolutionfile" }).parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError(`${path} is not well-formed XML: ${(error as Error).message}`);
  }
  const storage = root.configdatastorage as Record<string, unknown> | undefined;
  if (!storage) throw new ConfigError(`${path} has no <configdatastorage> root`);
  const data = storage["@_crmmigdataimportfile"];
  if (typeof data === "string" && data !== "") throw new ConfigError(`${path} names configuration data (crmmigdataimportfile="${data}"): orgbox deploy does not import configuration data yet`);
  const files = ((storage.solutions as Record<string, unknown> | undefined)?.configsolutionfile as Record<string, unknown>[] | undefined) ?? [];
  return files.map((f) => {
    const file = f["@_solutionpackagefilename"];
    if (typeof file !== "string" || file === "") throw new ConfigError(`${path}: a <configsolutionfile> has no solutionpackagefilename`);
    return { file, overwrite: f["@_overwriteunmanagedcustomizations"] === "true", publish: f["@_publishworkflowsandactivateplugins"] !== "false" };
  });
}

/** The package's declaration of what solutions cannot carry (`orgbox.deploy.yaml` / `.json`); none when absent. */
async function readDeclaration(folder: string): Promise<DeclaredApplicationUser[]> {
  const { parse: parseYaml } = await import("yaml");
  const file = ["orgbox.deploy.yaml", "orgbox.deploy.yml", "orgbox.deploy.json"].map((n) => join(folder, n)).find((p) => existsSync(p));
  if (!file) return [];
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ConfigError(`${file}: ${(error as Error).message}`);
  }
  const users = (doc as { applicationUsers?: unknown } | null)?.applicationUsers ?? [];
  if (!Array.isArray(users)) throw new ConfigError(`${file}: applicationUsers must be a list`);
  return users.map((u: unknown, i) => {
    const entry = u as Record<string, unknown>;
    if (typeof entry?.appId !== "string" || !GUID.test(entry.appId)) throw new ConfigError(`${file}: applicationUsers[${i}].appId must be the app's client id (a GUID)`);
    const roles = entry.roles ?? [];
    if (!Array.isArray(roles) || roles.some((r) => typeof r !== "string")) throw new ConfigError(`${file}: applicationUsers[${i}].roles must be a list of role names`);
    if (entry.businessUnit !== undefined && typeof entry.businessUnit !== "string") throw new ConfigError(`${file}: applicationUsers[${i}].businessUnit must be a business unit name`);
    return { appId: entry.appId.toLowerCase(), roles: roles as string[], ...(typeof entry.businessUnit === "string" ? { businessUnit: entry.businessUnit } : {}) };
  });
}

/**
 * Ensures an application user for `user.appId` exists in the business unit with the declared roles
 * (what the Power Platform admin center or a deployment program does: `POST systemusers` with
 * `applicationid`, then `systemuserroles_association/$ref` per role). Idempotent.
 */
async function deployApplicationUser(api: WebApiClient, user: DeclaredApplicationUser): Promise<{ systemUserId: string; created: boolean; roles: string[] }> {
  const buFilter = user.businessUnit ? `name eq ${odataString(user.businessUnit)}` : "_parentbusinessunitid_value eq null";
  const units = (await api.call<{ value: { businessunitid: string }[] }>("GET", `businessunits?$select=businessunitid&$filter=${encodeURIComponent(buFilter)}`)).body.value;
  if (units.length !== 1) throw new ConfigError(`business unit '${user.businessUnit ?? "(root)"}' ${units.length === 0 ? "does not exist" : "is ambiguous"} in ${api.environmentUrl}`);
  const businessUnitId = (units[0] as { businessunitid: string }).businessunitid;
  const existing = (await api.call<{ value: { systemuserid: string }[] }>("GET", `systemusers?$select=systemuserid&$filter=${encodeURIComponent(`applicationid eq ${user.appId}`)}`)).body.value[0];
  let systemUserId = existing?.systemuserid;
  if (!systemUserId) {
    const created = await api.call("POST", "systemusers", { applicationid: user.appId, "businessunitid@odata.bind": `/businessunits(${businessUnitId})` });
    systemUserId = idFromEntityId(created.entityId);
    if (!systemUserId) throw new Error("POST systemusers answered without OData-EntityId");
  }
  const held = new Set((await api.call<{ value: { roleid: string }[] }>("GET", `systemusers(${systemUserId})/systemuserroles_association?$select=roleid`)).body.value.map((r) => r.roleid));
  for (const name of user.roles) {
    const filter = `name eq ${odataString(name)} and _businessunitid_value eq ${businessUnitId}`;
    const roles = (await api.call<{ value: { roleid: string }[] }>("GET", `roles?$select=roleid&$filter=${encodeURIComponent(filter)}`)).body.value;
    if (roles.length === 0) throw new ConfigError(`no security role named '${name}' in the business unit of app ${user.appId} (did a solution of the package install it?)`);
    const roleId = (roles[0] as { roleid: string }).roleid;
    if (held.has(roleId)) continue;
    await api.call("POST", `systemusers(${systemUserId})/systemuserroles_association/$ref`, { "@odata.id": `${api.environmentUrl}/api/data/v9.2/roles(${roleId})` });
  }
  return { systemUserId, created: !existing, roles: user.roles };
}

/** `orgbox deploy PACKAGE --url … --tenant … --client-id … --client-secret …`. */
async function deploy(folder: string, flags: SolutionFlags): Promise<void> {
  const solutions = await readImportConfig(folder);
  const users = await readDeclaration(folder);
  for (const s of solutions) if (!existsSync(join(folder, s.file))) throw new ConfigError(`ImportConfig.xml lists ${s.file}, which is not in ${folder}`);
  const api = await WebApiClient.connect(flags);
  const imported: { file: string; importJobId: string }[] = [];
  try {
    for (const s of solutions) {
      const importJobId = newGuid();
      await api.call("POST", "ImportSolution", { CustomizationFile: readFileSync(join(folder, s.file)).toString("base64"), OverwriteUnmanagedCustomizations: s.overwrite, PublishWorkflows: s.publish, ImportJobId: importJobId });
      imported.push({ file: s.file, importJobId });
    }
    const deployed = [];
    for (const user of users) deployed.push({ appId: user.appId, ...(await deployApplicationUser(api, user)) });
    write(flags, { solutions: imported, applicationUsers: deployed }, [...imported.map((i) => `  imported ${i.file} (import job ${i.importJobId})`), ...deployed.map((d) => `  application user ${d.systemUserId} for app ${d.appId}${d.created ? " (created)" : ""}, roles: ${d.roles.join(", ") || "none"}`)].join("\n"));
  } catch (error) {
    throw asCommandError(error);
  }
}

function webApiOptions(command: Command): Command {
  return command
    .option("--url <environment-url>", "with a running environment (orgbox or Dataverse): its URL, e.g. https://localhost:8443/org/contoso; env ORGBOX_URL")
    .option("--tenant <id|domain>", "with --url: the app's tenant; env ORGBOX_TENANT")
    .option("--client-id <id>", "with --url: the app's client id; env ORGBOX_CLIENT_ID")
    .option("--client-secret <secret>", "with --url: the app's client secret; env ORGBOX_CLIENT_SECRET")
    .option("--authority <url>", "with --url: the token authority (default https://login.microsoftonline.com for *.dynamics.com, else the URL's origin)")
    .option("--json", "machine-readable output on stdout; env ORGBOX_JSON");
}

function storeOptions(command: Command): Command {
  return webApiOptions(command)
    .option("--data <dir>", "data folder of a stopped store; env ORGBOX_DATA")
    .option("--store-url <url>", "or its PostgreSQL database; env ORGBOX_STORE_URL")
    .option("--org <name>", "the org (default contoso)");
}

/** Registers `orgbox solution …` and `orgbox deploy`. */
export function registerSolutionCommands(program: Command): void {
  const solution = program.command("solution").description("import, export, list and uninstall solutions (a stopped store, or --url through the Web API)");
  storeOptions(solution.command("import <file>").description("import a solution zip (all or nothing; the import job id is printed)"))
    .option("--overwrite", "OverwriteUnmanagedCustomizations")
    .option("--convert-to-managed", "ConvertToManaged")
    .action(solutionImport);
  storeOptions(solution.command("export <name>").description("export a solution to a zip").option("--out <file>", "the zip to write").option("--managed", "export as managed")).action(solutionExport);
  storeOptions(solution.command("list").description("list the org's solutions")).action(solutionList);
  storeOptions(solution.command("uninstall <name>").description("uninstall a managed solution with its components (an unmanaged one leaves them)")).action(solutionUninstall);
  webApiOptions(program.command("deploy <package>").description("deploy a Package Deployer folder (ImportConfig.xml, solution zips, orgbox.deploy.yaml application users) through the Web API")).action(deploy);
}
