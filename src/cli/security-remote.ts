/**
 * `orgbox appuser|role|user add-to-org … --url`: the security commands against a RUNNING orgbox, through
 * the org's Dataverse Web API as the "orgbox CLI" principal ({@link RemoteOrg}), doing what an admin
 * script does: `systemusers` with `applicationid` or `azureactivedirectoryobjectid`
 * (learn.microsoft.com/power-platform/admin/manage-application-users#create-an-application-user),
 * `systemuserroles_association/$ref` (learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api),
 * `roles` and `AddPrivilegesRole` (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/addprivilegesrole).
 * The JSON each prints is the offline command's.
 */
import { ConfigError } from "../common/errors.ts";
import type { Depth } from "../dataverse/index.ts";
import { RemoteDirectory, RemoteError, RemoteOrg, type RemoteFlags } from "./remote.ts";

type Row = Record<string, unknown>;

/** A role as the commands print it. */
interface RoleRef {
  id: string;
  name: string;
}

/** An OData string literal (quotes doubled). */
const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Connects to `org` and runs `work`; the Web API's refusals of bad input (400, 404) become bad input
 * (exit 2), others stay failures (exit 1).
 * @throws ConfigError, RemoteError
 */
export async function withRemoteOrg<T>(base: string, flags: RemoteFlags, org: string, work: (api: RemoteOrg) => Promise<T>): Promise<T> {
  const api = await RemoteOrg.connect(base, flags, org);
  try {
    return await work(api);
  } catch (error) {
    if (error instanceof RemoteError && (error.status === 400 || error.status === 404)) throw new ConfigError(error.message);
    throw error;
  }
}

/** The root business unit (the one without a parent). */
async function rootBusinessUnit(api: RemoteOrg): Promise<string> {
  const rows = await api.call<{ value: Row[] }>("GET", "businessunits?$select=businessunitid&$filter=_parentbusinessunitid_value eq null");
  const root = rows.value[0];
  if (!root) throw new Error("the org has no root business unit");
  return String(root.businessunitid);
}

/** Roles by id or case-insensitive name, as the offline commands resolve them. @throws ConfigError */
export async function resolveRoles(api: RemoteOrg, org: string, names: readonly string[]): Promise<RoleRef[]> {
  if (names.length === 0) return [];
  const roles = (await api.list<Row>("roles?$select=roleid,name")).map((r) => ({ id: String(r.roleid), name: String(r.name) }));
  return names.map((nameOrId) => {
    const byId = roles.find((r) => r.id === nameOrId.toLowerCase());
    if (byId) return byId;
    const byName = roles.filter((r) => r.name.toLowerCase() === nameOrId.toLowerCase());
    if (byName.length === 1) return byName[0] as RoleRef;
    if (byName.length > 1) throw new ConfigError(`several roles are named '${nameOrId}': give the role id`);
    throw new ConfigError(`no role '${nameOrId}' in org '${org}' (orgbox role list --org ${org})`);
  });
}

/** Associates roles with a systemuser (`systemuserroles_association/$ref`). */
async function associateRoles(api: RemoteOrg, systemUserId: string, roles: readonly RoleRef[]): Promise<void> {
  for (const role of roles) await api.call("POST", `systemusers(${systemUserId})/systemuserroles_association/$ref`, { "@odata.id": api.url(`roles(${role.id})`) });
}

/** `appuser create --url`: `POST systemusers {applicationid, businessunitid@odata.bind}`, then its roles. */
export async function remoteAppuserCreate(api: RemoteOrg, org: string, input: { app: string; roles: readonly string[]; businessUnit?: string }): Promise<Row> {
  if (!GUID.test(input.app)) throw new ConfigError(`--app '${input.app}' is not a client id (a GUID)`);
  const roles = await resolveRoles(api, org, input.roles);
  const businessUnitId = (input.businessUnit ?? (await rootBusinessUnit(api))).toLowerCase();
  const created = await api.call<Row>("POST", "systemusers?$select=systemuserid", { applicationid: input.app.toLowerCase(), "businessunitid@odata.bind": `/businessunits(${businessUnitId})` });
  const systemUserId = String(created.systemuserid);
  await associateRoles(api, systemUserId, roles);
  return { systemUserId, applicationId: input.app.toLowerCase(), org, businessUnitId, roles };
}

/** `appuser list --url`: the org's application users with their roles, ordered by full name. */
export async function remoteAppuserList(api: RemoteOrg): Promise<Row[]> {
  const users = await api.list<Row>("systemusers?$select=systemuserid,applicationid,fullname,isdisabled,_businessunitid_value&$filter=applicationid ne null&$orderby=fullname&$expand=systemuserroles_association($select=roleid,name)");
  return users.map((u) => {
    const roles = ((u.systemuserroles_association as Row[] | undefined) ?? []).map((r) => ({ id: String(r.roleid), name: String(r.name) }));
    return { systemUserId: String(u.systemuserid), applicationId: String(u.applicationid), fullName: String(u.fullname), businessUnitId: String(u._businessunitid_value), isDisabled: u.isdisabled === true, roleIds: roles.map((r) => r.id), roles };
  });
}

/** The application user of an app. @throws ConfigError when the org has none. */
async function appUser(api: RemoteOrg, org: string, app: string): Promise<{ systemUserId: string; roleIds: string[] }> {
  if (!GUID.test(app)) throw new ConfigError(`--app '${app}' is not a client id (a GUID)`);
  const rows = await api.call<{ value: Row[] }>("GET", `systemusers?$select=systemuserid&$filter=applicationid eq ${app.toLowerCase()}&$expand=systemuserroles_association($select=roleid)`);
  const found = rows.value[0];
  if (!found) throw new ConfigError(`org ${org} has no application user for app '${app}' (orgbox appuser create --app …)`);
  return { systemUserId: String(found.systemuserid), roleIds: ((found.systemuserroles_association as Row[] | undefined) ?? []).map((r) => String(r.roleid)) };
}

/** `appuser add-role|remove-role --url`: associates or disassociates roles. */
export async function remoteAppuserRole(api: RemoteOrg, org: string, add: boolean, input: { app: string; roles: readonly string[] }): Promise<Row> {
  const user = await appUser(api, org, input.app);
  const roles = await resolveRoles(api, org, input.roles);
  for (const role of roles) {
    if (add) {
      if (!user.roleIds.includes(role.id)) await associateRoles(api, user.systemUserId, [role]);
    } else {
      if (!user.roleIds.includes(role.id)) throw new ConfigError(`the application user of app ${input.app} does not have the role '${role.name}'`);
      await api.call("DELETE", `systemusers(${user.systemUserId})/systemuserroles_association(${role.id})/$ref`);
    }
  }
  return { systemUserId: user.systemUserId, applicationId: input.app.toLowerCase(), org, [add ? "added" : "removed"]: roles };
}

/**
 * `user add-to-org --url`: finds the user in the org's tenant through Graph, then
 * `POST systemusers {azureactivedirectoryobjectid, businessunitid@odata.bind}` and its roles.
 */
export async function remoteUserAddToOrg(base: string, flags: RemoteFlags, api: RemoteOrg, org: string, input: { user: string; roles: readonly string[]; businessUnit?: string }): Promise<Row> {
  const directory = await RemoteDirectory.connect(base, flags, api.tenantId);
  let user: Row;
  try {
    user = await directory.call<Row>("GET", `users/${encodeURIComponent(input.user)}?$select=id,userPrincipalName`);
  } catch (error) {
    if (error instanceof RemoteError && error.status === 404) throw new ConfigError(`no user '${input.user}' in the tenant of org ${org} (orgbox user list --tenant ${api.tenantId})`);
    throw error;
  }
  const roles = await resolveRoles(api, org, input.roles);
  const businessUnitId = (input.businessUnit ?? (await rootBusinessUnit(api))).toLowerCase();
  const created = await api.call<Row>("POST", "systemusers?$select=systemuserid", { azureactivedirectoryobjectid: String(user.id), "businessunitid@odata.bind": `/businessunits(${businessUnitId})` });
  const systemUserId = String(created.systemuserid);
  await associateRoles(api, systemUserId, roles);
  return { systemUserId, userId: String(user.id), userPrincipalName: String(user.userPrincipalName), org, businessUnitId, roles };
}

/** `role create --url`: `POST roles`, then `AddPrivilegesRole` with the privileges looked up by name. */
export async function remoteRoleCreate(api: RemoteOrg, org: string, input: { name: string; privileges: readonly { name: string; depth: Depth }[]; businessUnit?: string }): Promise<Row> {
  const ids = new Map<string, string>();
  for (const privilege of input.privileges) {
    const rows = await api.call<{ value: Row[] }>("GET", `privileges?$select=privilegeid,name&$filter=name eq ${literal(privilege.name)}`);
    const found = rows.value[0];
    if (!found) throw new ConfigError(`no privilege '${privilege.name}' in org ${org}`);
    ids.set(privilege.name, String(found.privilegeid));
  }
  const businessUnitId = (input.businessUnit ?? (await rootBusinessUnit(api))).toLowerCase();
  const created = await api.call<Row>("POST", "roles?$select=roleid", { name: input.name, "businessunitid@odata.bind": `/businessunits(${businessUnitId})` });
  const roleId = String(created.roleid);
  if (input.privileges.length > 0) {
    await api.call("POST", `roles(${roleId})/Microsoft.Dynamics.CRM.AddPrivilegesRole`, { Privileges: input.privileges.map((p) => ({ PrivilegeId: ids.get(p.name), Depth: p.depth, BusinessUnitId: businessUnitId })) });
  }
  return { roleId, name: input.name, org, privileges: input.privileges };
}

/** `role list --url`: the org's roles, ordered by name. */
export async function remoteRoleList(api: RemoteOrg): Promise<Row[]> {
  const roles = await api.list<Row>("roles?$select=roleid,name,roletemplateid,_businessunitid_value&$orderby=name");
  return roles.map((r) => ({ id: String(r.roleid), name: String(r.name), roleTemplateId: r.roletemplateid ? String(r.roletemplateid) : null, businessUnitId: String(r._businessunitid_value) }));
}
