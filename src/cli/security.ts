/**
 * `orgbox appuser create` and `orgbox role create|list`: the security model of a persisted store,
 * as the Power Platform admin center manages it (learn.microsoft.com/power-platform/admin/manage-application-users).
 */
import type { Command } from "commander";
import { ConfigError } from "../common/errors.ts";
import { findRole, offlineStore, parsePrivilegeSpec, withOfflineServices } from "../server/offline.ts";

interface DataFlags {
  data?: string;
  storeUrl?: string;
  org?: string;
  json?: boolean;
}


const collect = (value: string, previous: string[] = []) => [...previous, value];

function write(flags: DataFlags, json: unknown, text: string): void {
  process.stdout.write(flags.json || process.env.ORGBOX_JSON === "1" || process.env.ORGBOX_JSON === "true" ? `${JSON.stringify(json)}\n` : `${text}\n`);
}

/**
 * `orgbox appuser create --data DIR --org NAME --app CLIENT_ID --role ROLE… [--business-unit ID]`:
 * an application user for an app with a service principal in the org's tenant, in the root business
 * unit unless told otherwise, with roles by name or id.
 */
async function appuserCreate(flags: DataFlags & { app?: string; role?: string[]; businessUnit?: string }): Promise<void> {
  if (!flags.app) throw new ConfigError("--app <clientId> is required");
  await withOfflineServices(offlineStore(flags), async ({ dataverse, org: findOrg }) => {
    const org = await findOrg(flags.org ?? "contoso");
    const roles = [];
    for (const role of flags.role ?? []) {
      const { id, name } = await findRole(dataverse, org, role);
      roles.push({ id, name });
    }
    const businessUnitId = flags.businessUnit ?? (await dataverse.rootBusinessUnitId(org));
    const systemUserId = await dataverse.createApplicationUser(org, { applicationId: flags.app as string, businessUnitId, roleIds: roles.map((r) => r.id) });
    write(flags, { systemUserId, applicationId: (flags.app as string).toLowerCase(), org: org.name, businessUnitId, roles }, `  application user ${systemUserId} for app ${flags.app} in org ${org.name}${roles.length ? `, roles: ${roles.map((r) => r.name).join(", ")}` : " (no roles: its tokens get 0x80042f09 until it has one)"}`);
  });
}

/** `orgbox role create --data DIR --org NAME --name NAME --privilege prvReadAccount:Global…`. */
async function roleCreate(flags: DataFlags & { name?: string; privilege?: string[]; businessUnit?: string }): Promise<void> {
  if (!flags.name) throw new ConfigError("--name is required");
  const privileges = (flags.privilege ?? []).map(parsePrivilegeSpec);
  await withOfflineServices(offlineStore(flags), async ({ dataverse, org: findOrg }) => {
    const org = await findOrg(flags.org ?? "contoso");
    const businessUnitId = flags.businessUnit ?? (await dataverse.rootBusinessUnitId(org));
    const roleId = await dataverse.createRole(org, { name: flags.name as string, businessUnitId, privileges });
    write(flags, { roleId, name: flags.name, org: org.name, privileges }, `  role ${roleId} '${flags.name}' in org ${org.name} with ${privileges.length} privilege(s)`);
  });
}

/** `orgbox role list --data DIR --org NAME`. */
async function roleList(flags: DataFlags): Promise<void> {
  await withOfflineServices(offlineStore(flags), async ({ dataverse, org: findOrg }) => {
    const org = await findOrg(flags.org ?? "contoso");
    const roles = await dataverse.listRoles(org);
    write(flags, roles, roles.map((r) => `  ${r.id}  ${r.name}${r.roleTemplateId ? "  (predefined)" : ""}`).join("\n"));
  });
}

/** Adds `appuser` and `role` to the CLI. */
export function registerSecurityCommands(program: Command): void {
  const common = (command: Command) =>
    command
      .option("--data <dir>", "data folder of the store; env ORGBOX_DATA")
      .option("--store-url <url>", "or the PostgreSQL database of the store; env ORGBOX_STORE_URL")
      .option("--org <name>", "org name (default contoso)")
      .option("--json", "machine-readable output on stdout; env ORGBOX_JSON");
  const appuser = program.command("appuser").description("manage application users of a persisted store");
  common(appuser.command("create").description("create an application user for an app (client id) with roles"))
    .option("--app <clientId>", "the app's client id; its service principal must exist in the org's tenant")
    .option("--role <role>", "role name or id (repeatable)", collect)
    .option("--business-unit <id>", "business unit (default: the root)")
    .action(appuserCreate);
  const role = program.command("role").description("manage security roles of a persisted store");
  common(role.command("create").description("create a security role"))
    .option("--name <name>", "role name")
    .option("--privilege <name:depth>", "privilege and depth, e.g. prvReadAccount:Global (repeatable; depth Basic|Local|Deep|Global)", collect)
    .option("--business-unit <id>", "business unit (default: the root)")
    .action(roleCreate);
  common(role.command("list").description("list the security roles of an org")).action(roleList);
}
