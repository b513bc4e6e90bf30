/**
 * `orgbox appuser create|list|add-role|remove-role`, `orgbox user add-to-org` and `orgbox role create|list`:
 * the security model of an org, as the Power Platform admin center manages it
 * (learn.microsoft.com/power-platform/admin/manage-application-users, …/create-users): on a stopped
 * store (`--data`/`--store-url`), or on a running orgbox (`--url`) through its Web API (security-remote.ts).
 */
import type { Command } from "commander";
import { ConfigError, OrgboxError } from "../common/errors.ts";
import type { DataverseService, Org } from "../dataverse/index.ts";
import type { User } from "../identity/index.ts";
import { findRole, offlineStore, parsePrivilegeSpec, withOfflineServices, type OfflineServices } from "../server/offline.ts";
import { remoteUrl, type RemoteFlags } from "./remote.ts";
import { remoteAppuserCreate, remoteAppuserList, remoteAppuserRole, remoteRoleCreate, remoteRoleList, remoteUserAddToOrg, withRemoteOrg } from "./security-remote.ts";

interface DataFlags extends RemoteFlags {
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
  const ran = await ranRemotely(flags, (base, org) =>
    withRemoteOrg(base, flags, org, async (api) => {
      const out = await remoteAppuserCreate(api, org, { app: flags.app as string, roles: flags.role ?? [], ...(flags.businessUnit ? { businessUnit: flags.businessUnit } : {}) });
      const roles = out.roles as { name: string }[];
      return { json: out, text: `  application user ${String(out.systemUserId)} for app ${flags.app as string} in org ${org}${roles.length ? `, roles: ${roles.map((r) => r.name).join(", ")}` : " (no roles: its tokens get 0x80042f09 until it has one)"}` };
    }),
  );
  if (ran) return;
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

/**
 * Runs the command's remote variant when `--url` (or ORGBOX_URL) is given.
 * @returns true when it ran remotely (then the offline body must not run).
 */
async function ranRemotely(flags: DataFlags, work: (base: string, org: string) => Promise<{ json: unknown; text: string }>): Promise<boolean> {
  const base = remoteUrl(flags);
  if (!base) return false;
  const { json, text } = await work(base, (flags.org ?? "contoso").toLowerCase());
  write(flags, json, text);
  return true;
}

/**
 * Runs `work` on the offline services; the org model's refusals about bad input (400, 404) become
 * bad input (exit 2), a duplicate (412) stays a failure (exit 1).
 */
async function withSecurity(flags: DataFlags, work: (services: OfflineServices) => Promise<void>): Promise<void> {
  try {
    await withOfflineServices(offlineStore(flags), work);
  } catch (error) {
    // The org model's OrgModelError (an OrgboxError carrying its HTTP status).
    if (error instanceof OrgboxError && (error.status === 400 || error.status === 404)) throw new ConfigError(error.message);
    throw error;
  }
}

async function requireRoles(dataverse: DataverseService, org: Org, names: string[]): Promise<{ id: string; name: string }[]> {
  const roles = [];
  for (const role of names) {
    const { id, name } = await findRole(dataverse, org, role);
    roles.push({ id, name });
  }
  return roles;
}

/** `orgbox appuser list --data DIR --org NAME`: the org's application users with their roles. */
async function appuserList(flags: DataFlags): Promise<void> {
  const listText = (users: { systemUserId: string; applicationId: string; fullName: string; isDisabled: boolean; roles: { name: string }[] }[]) =>
    users.length === 0 ? "  (none)" : users.map((u) => `  ${u.systemUserId}  app ${u.applicationId}  ${u.fullName}${u.isDisabled ? "  (disabled)" : ""}  roles: ${u.roles.map((r) => r.name).join(", ") || "(none)"}`).join("\n");
  const ran = await ranRemotely(flags, (base, org) =>
    withRemoteOrg(base, flags, org, async (api) => {
      const users = await remoteAppuserList(api);
      return { json: users, text: listText(users as unknown as Parameters<typeof listText>[0]) };
    }),
  );
  if (ran) return;
  await withSecurity(flags, async ({ dataverse, org: findOrg }) => {
    const org = await findOrg(flags.org ?? "contoso");
    const names = new Map((await dataverse.listRoles(org)).map((r) => [r.id, r.name]));
    const users = (await dataverse.listApplicationUsers(org)).map((u) => ({ ...u, roles: u.roleIds.map((id) => ({ id, name: names.get(id) ?? id })) }));
    write(flags, users, listText(users));
  });
}

/** The application user of `--app` in `org`. @throws ConfigError when there is none. */
async function requireAppUser(dataverse: DataverseService, org: Org, appId: string): Promise<{ systemUserId: string; roleIds: string[] }> {
  const found = (await dataverse.listApplicationUsers(org)).find((u) => u.applicationId === appId.toLowerCase());
  if (!found) throw new ConfigError(`org ${org.name} has no application user for app '${appId}' (orgbox appuser create --app …)`);
  return found;
}

/** `orgbox appuser add-role|remove-role --org NAME --app CLIENT_ID --role ROLE…`. */
function appuserRole(add: boolean) {
  return async (flags: DataFlags & { app?: string; role?: string[] }): Promise<void> => {
    if (!flags.app) throw new ConfigError("--app <clientId> is required");
    if (!flags.role?.length) throw new ConfigError("--role <role> is required (name or id; repeatable)");
    const roleText = (systemUserId: string, roles: { name: string }[]) => `  ${add ? "gave" : "took"} role(s) ${roles.map((r) => r.name).join(", ")} ${add ? "to" : "from"} the application user ${systemUserId} of app ${flags.app as string}`;
    const ran = await ranRemotely(flags, (base, org) =>
      withRemoteOrg(base, flags, org, async (api) => {
        const out = await remoteAppuserRole(api, org, add, { app: flags.app as string, roles: flags.role ?? [] });
        return { json: out, text: roleText(String(out.systemUserId), (out[add ? "added" : "removed"] ?? []) as { name: string }[]) };
      }),
    );
    if (ran) return;
    await withSecurity(flags, async ({ dataverse, org: findOrg }) => {
      const org = await findOrg(flags.org ?? "contoso");
      const user = await requireAppUser(dataverse, org, flags.app as string);
      const roles = await requireRoles(dataverse, org, flags.role ?? []);
      for (const role of roles) {
        if (add) {
          if (!user.roleIds.includes(role.id)) await dataverse.assignRole(org, user.systemUserId, role.id);
        } else if (!(await dataverse.removeRole(org, user.systemUserId, role.id))) {
          throw new ConfigError(`the application user of app ${flags.app as string} does not have the role '${role.name}'`);
        }
      }
      write(flags, { systemUserId: user.systemUserId, applicationId: (flags.app as string).toLowerCase(), org: org.name, [add ? "added" : "removed"]: roles }, roleText(user.systemUserId, roles));
    });
  };
}

/**
 * `orgbox user add-to-org --org NAME --user UPN [--business-unit ID] [--role ROLE…]`: makes a directory
 * user of the org's tenant a user of the org (its systemuser), as assigning a license does.
 */
async function userAddToOrg(flags: DataFlags & { user?: string; role?: string[]; businessUnit?: string }): Promise<void> {
  if (!flags.user) throw new ConfigError("--user <upn> is required");
  const ran = await ranRemotely(flags, (base, org) =>
    withRemoteOrg(base, flags, org, async (api) => {
      const out = await remoteUserAddToOrg(base, flags, api, org, { user: flags.user as string, roles: flags.role ?? [], ...(flags.businessUnit ? { businessUnit: flags.businessUnit } : {}) });
      const roles = out.roles as { name: string }[];
      return { json: out, text: `  ${String(out.userPrincipalName)} is user ${String(out.systemUserId)} of org ${org}${roles.length ? `, roles: ${roles.map((r) => r.name).join(", ")}` : " (no roles: its requests get 0x80042f09 until it has one)"}` };
    }),
  );
  if (ran) return;
  await withSecurity(flags, async ({ identity, dataverse, org: findOrg }) => {
    const org = await findOrg(flags.org ?? "contoso");
    const user: User | undefined = await identity.findUser(flags.user as string);
    if (!user || user.tenantId !== org.tenantId) throw new ConfigError(`no user '${flags.user as string}' in the tenant of org ${org.name} (orgbox user list --tenant ${org.tenantId})`);
    const roles = await requireRoles(dataverse, org, flags.role ?? []);
    const businessUnitId = flags.businessUnit ?? (await dataverse.rootBusinessUnitId(org));
    const systemUserId = await dataverse.createInteractiveUser(org, { objectId: user.id, businessUnitId, roleIds: roles.map((r) => r.id) });
    write(flags, { systemUserId, userId: user.id, userPrincipalName: user.userPrincipalName, org: org.name, businessUnitId, roles }, `  ${user.userPrincipalName} is user ${systemUserId} of org ${org.name}${roles.length ? `, roles: ${roles.map((r) => r.name).join(", ")}` : " (no roles: its requests get 0x80042f09 until it has one)"}`);
  });
}

/** `orgbox role create --data DIR --org NAME --name NAME --privilege prvReadAccount:Global…`. */
async function roleCreate(flags: DataFlags & { name?: string; privilege?: string[]; businessUnit?: string }): Promise<void> {
  if (!flags.name) throw new ConfigError("--name is required");
  const privileges = (flags.privilege ?? []).map(parsePrivilegeSpec);
  const ran = await ranRemotely(flags, (base, org) =>
    withRemoteOrg(base, flags, org, async (api) => {
      const out = await remoteRoleCreate(api, org, { name: flags.name as string, privileges, ...(flags.businessUnit ? { businessUnit: flags.businessUnit } : {}) });
      return { json: out, text: `  role ${String(out.roleId)} '${flags.name as string}' in org ${org} with ${privileges.length} privilege(s)` };
    }),
  );
  if (ran) return;
  await withOfflineServices(offlineStore(flags), async ({ dataverse, org: findOrg }) => {
    const org = await findOrg(flags.org ?? "contoso");
    const businessUnitId = flags.businessUnit ?? (await dataverse.rootBusinessUnitId(org));
    const roleId = await dataverse.createRole(org, { name: flags.name as string, businessUnitId, privileges });
    write(flags, { roleId, name: flags.name, org: org.name, privileges }, `  role ${roleId} '${flags.name}' in org ${org.name} with ${privileges.length} privilege(s)`);
  });
}

/** `orgbox role list --data DIR --org NAME`. */
async function roleList(flags: DataFlags): Promise<void> {
  const ran = await ranRemotely(flags, (base) =>
    withRemoteOrg(base, flags, (flags.org ?? "contoso").toLowerCase(), async (api) => {
      const roles = await remoteRoleList(api);
      return { json: roles, text: roles.map((r) => `  ${String(r.id)}  ${String(r.name)}${r.roleTemplateId ? "  (predefined)" : ""}`).join("\n") };
    }),
  );
  if (ran) return;
  await withOfflineServices(offlineStore(flags), async ({ dataverse, org: findOrg }) => {
    const org = await findOrg(flags.org ?? "contoso");
    const roles = await dataverse.listRoles(org);
    write(flags, roles, roles.map((r) => `  ${r.id}  ${r.name}${r.roleTemplateId ? "  (predefined)" : ""}`).join("\n"));
  });
}

/** Adds `appuser`, `user add-to-org` and `role` to the CLI (after the directory commands, which add `user`). */
export function registerSecurityCommands(program: Command): void {
  const common = (command: Command) =>
    command
      .option("--data <dir>", "data folder of the store (default ./.orgbox); env ORGBOX_DATA")
      .option("--store-url <url>", "or the PostgreSQL database of the store; env ORGBOX_STORE_URL")
      .option("--org <name>", "org name (default contoso)")
      .option("--json", "machine-readable output on stdout; env ORGBOX_JSON")
      .option("--url <url>", "or a running orgbox, managed through the org's Web API; env ORGBOX_URL")
      .option("--admin-key <key>", "with --url: that orgbox's admin key; env ORGBOX_ADMIN_KEY")
      .option("--ca <file>", "with --url: the CA certificate to trust (default NODE_EXTRA_CA_CERTS, else the data folder's CA)");
  const appuser = program.command("appuser").description("manage the application users of an org (a store, or a running orgbox with --url)");
  common(appuser.command("create").description("create an application user for an app (client id) with roles"))
    .option("--app <clientId>", "the app's client id; its service principal must exist in the org's tenant")
    .option("--role <role>", "role name or id (repeatable)", collect)
    .option("--business-unit <id>", "business unit (default: the root)")
    .action(appuserCreate);
  common(appuser.command("list").description("list the application users of an org with their roles")).action(appuserList);
  common(appuser.command("add-role").description("give an application user roles"))
    .option("--app <clientId>", "the app's client id")
    .option("--role <role>", "role name or id (repeatable)", collect)
    .action(appuserRole(true));
  common(appuser.command("remove-role").description("take roles from an application user"))
    .option("--app <clientId>", "the app's client id")
    .option("--role <role>", "role name or id (repeatable)", collect)
    .action(appuserRole(false));
  const user = program.commands.find((c) => c.name() === "user") ?? program.command("user");
  common(user.command("add-to-org").description("make a directory user a user of an org (its systemuser), as assigning a license does"))
    .option("--user <upn>", "the user principal name; the user must be in the org's tenant")
    .option("--role <role>", "role name or id (repeatable)", collect)
    .option("--business-unit <id>", "business unit (default: the root)")
    .action(userAddToOrg);
  const role = program.command("role").description("manage the security roles of an org (a store, or a running orgbox with --url)");
  common(role.command("create").description("create a security role"))
    .option("--name <name>", "role name")
    .option("--privilege <name:depth>", "privilege and depth, e.g. prvReadAccount:Global (repeatable; depth Basic|Local|Deep|Global)", collect)
    .option("--business-unit <id>", "business unit (default: the root)")
    .action(roleCreate);
  common(role.command("list").description("list the security roles of an org")).action(roleList);
}
