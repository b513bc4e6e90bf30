import { newGuid } from "../../common/ids.ts";
import { DataverseError, dv } from "../errors.ts";
import type { Operation, OperationContext } from "../functions.ts";
import type { OrgMetadata } from "../metadata/registry.ts";
import type { EntityMetadata } from "../metadata/types.ts";
import type { Row } from "../model.ts";
import type { DataverseService } from "../service.ts";
import { ReadScope, type DataverseStore, type Expr } from "../store.ts";
import { parseReference } from "../validation.ts";
import { SecurityContext } from "./context.ts";
import { solutionErrors } from "../solutions/service.ts";
import { ACCESS_RIGHTS, DEPTH, DEPTHS, SYSTEM_ADMINISTRATOR_TEMPLATE_ID, privilegesFor, widestDepth, type Depth, type PrivilegeVerb } from "./privileges.ts";

/**
 * The security messages of the Web API: sharing (`GrantAccess`, `ModifyAccess`, `RevokeAccess`),
 * `RetrievePrincipalAccess`, `RetrieveUserPrivileges`, team membership (`AddMembersTeam`,
 * `RemoveMembersTeam`), `AddPrivilegesRole`, `ReplacePrivilegesRole` and `RetrieveRolePrivilegesRole`
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/{grantaccess,modifyaccess,revokeaccess,
 * retrieveprincipalaccess,retrieveuserprivileges,addmembersteam,removememembersteam,addprivilegesrole}).
 */

const NS = "Microsoft.Dynamics.CRM.";
const invalid = (message: string) => new DataverseError(400, "0x80040203", message);
const eq = (column: string, value: string): Expr => ({ kind: "compare", op: "eq", left: { kind: "column", name: column }, right: { kind: "value", value } });
const and = (left: Expr, right: Expr): Expr => ({ kind: "and", left, right });

/** `AccessRights` flag names in the order .NET formats the flags (ascending value). */
const RIGHT_NAMES: readonly [PrivilegeVerb, string][] = (Object.entries(ACCESS_RIGHTS) as [PrivilegeVerb, number][])
  .sort((a, b) => a[1] - b[1])
  .map(([verb]) => [verb, `${verb}Access`]);

/**
 * Parses an `AccessRights` value: `"ReadAccess, WriteAccess"` (flag names, as the Web API
 * serialises enum flags), a single name, or the numeric mask.
 * @throws DataverseError 400 naming an unknown right.
 */
function parseAccessMask(value: unknown): number {
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
  if (typeof value !== "string") throw invalid(`AccessMask must be a string of AccessRights names ("ReadAccess, WriteAccess") or a number, got ${JSON.stringify(value)}.`);
  let mask = 0;
  for (const part of value.split(",").map((p) => p.trim()).filter((p) => p.length > 0)) {
    if (part === "None") continue;
    const right = RIGHT_NAMES.find(([, name]) => name === part);
    if (!right) throw invalid(`'${part}' is not an AccessRights value. Use ${RIGHT_NAMES.map(([, n]) => n).join(", ")}.`);
    mask |= ACCESS_RIGHTS[right[0]];
  }
  return mask;
}

/** Formats an `AccessRights` mask as the Web API does: `"ReadAccess, WriteAccess"`, or `"None"`. */
function formatAccessMask(mask: number): string {
  const names = RIGHT_NAMES.filter(([verb]) => (mask & ACCESS_RIGHTS[verb]) !== 0).map(([, name]) => name);
  return names.length > 0 ? names.join(", ") : "None";
}

/** `PrivilegeDepth` of a `RolePrivilege`: a name (`"Global"`) or its enum value (Basic 0 … Global 3). */
function parseDepth(value: unknown): Depth {
  if (typeof value === "string" && (DEPTHS as readonly string[]).includes(value)) return value as Depth;
  if (typeof value === "number" && DEPTHS[value]) return DEPTHS[value] as Depth;
  if (typeof value === "string" && /^[0-3]$/.test(value)) return DEPTHS[Number(value)] as Depth;
  throw invalid(`Depth must be one of ${DEPTHS.join(", ")} (or 0–3), got ${JSON.stringify(value)}.`);
}

/** What every security operation works with: the store (transaction), the org's tables and the caller's context. */
interface Env {
  ctx: OperationContext;
  store: DataverseStore;
  md: OrgMetadata;
  security: SecurityContext;
}

function table(md: OrgMetadata, name: string): EntityMetadata {
  return md.entity(name) as EntityMetadata;
}

/** An entity reference of an action body: `{"accountid":"…","@odata.type":"Microsoft.Dynamics.CRM.account"}`. */
function entityReference(md: OrgMetadata, value: unknown, parameter: string, allowed?: readonly string[]): { entity: EntityMetadata; id: string } {
  const body = value as Record<string, unknown> | null;
  if (!body || typeof body !== "object") throw invalid(`${parameter} must be an entity reference {"<table>id":"<guid>","@odata.type":"${NS}<table>"}.`);
  const type = typeof body["@odata.type"] === "string" ? (body["@odata.type"] as string).replace(/^#/, "").replace(NS, "") : undefined;
  if (!type) throw invalid(`${parameter} needs "@odata.type" naming its table, e.g. "${NS}account".`);
  const entity = md.entity(type);
  if (!entity) throw new DataverseError(404, "0x80040217", `${parameter}: the table '${type}' does not exist.`);
  if (allowed && !allowed.includes(entity.logicalName)) throw invalid(`${parameter} must be a ${allowed.join(" or ")}, got '${entity.logicalName}'.`);
  const id = body[entity.primaryIdAttribute];
  if (typeof id !== "string" || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw invalid(`${parameter} needs its primary key '${entity.primaryIdAttribute}' (a GUID).`);
  return { entity, id: id.toLowerCase() };
}

async function requireRow(env: Env, entity: EntityMetadata, id: string, columns: string[] = []): Promise<Row> {
  const [row] = await env.store.selectRows(env.ctx.org, { entity, columns: [entity.primaryIdAttribute, ...columns], where: eq(entity.primaryIdAttribute, id), orderBy: [], limit: 1 });
  if (!row) throw dv.recordNotFound(entity.logicalName, id);
  return row;
}

function bodyOf(ctx: OperationContext, operation: string): Record<string, unknown> {
  const body = ctx.body;
  if (!body || typeof body !== "object" || Array.isArray(body)) throw invalid(`${operation} needs a JSON object body.`);
  return body as Record<string, unknown>;
}

/** The target record of a bound operation (`systemusers(<id>)/Microsoft.Dynamics.CRM.X`). */
function boundTarget(ctx: OperationContext, operation: string): { entity: EntityMetadata; id: string } {
  if (!ctx.target) throw dv.segmentNotFound(operation);
  return ctx.target;
}

/** Runs `work` in one transaction with the caller's context bound to it. */
function inEnv<T>(service: DataverseService, defaultStore: DataverseStore, ctx: OperationContext, work: (env: Env) => Promise<T>): Promise<T> {
  const root = ctx.store ?? defaultStore;
  return root.transaction(async (store) => {
    const md = await service.loadMetadata(ctx.org, store);
    return work({ ctx, store, md, security: ctx.security.bind(store) });
  });
}

/** A shared record: must be user-owned, exist, and the caller must hold Share on it. */
async function shareTarget(env: Env, value: unknown): Promise<{ entity: EntityMetadata; id: string }> {
  const target = entityReference(env.md, value, "Target");
  if (target.entity.ownershipType !== "UserOwned") throw invalid(`Records of '${target.entity.logicalName}' cannot be shared: only user- or team-owned tables support sharing.`);
  await requireRow(env, target.entity, target.id);
  await env.security.assertRecordAccess("Share", target.entity, target.id);
  return target;
}

async function principal(env: Env, value: unknown, parameter: string): Promise<{ entity: EntityMetadata; id: string }> {
  const ref = entityReference(env.md, value, parameter, ["systemuser", "team"]);
  await requireRow(env, ref.entity, ref.id);
  return ref;
}

/** Sets (or ORs into) the share of `target` with `who`; a share left with no rights is deleted. */
async function writeShare(env: Env, target: { entity: EntityMetadata; id: string }, who: { entity: EntityMetadata; id: string }, mask: number, mode: "add" | "replace"): Promise<void> {
  const poa = table(env.md, "principalobjectaccess");
  const where = and(eq("objectid", target.id), eq("principalid", who.id));
  const [existing] = await env.store.selectRows(env.ctx.org, { entity: poa, columns: ["principalobjectaccessid", "accessrightsmask"], where, orderBy: [], limit: 1 });
  const next = mode === "add" ? Number(existing?.accessrightsmask ?? 0) | mask : mask;
  if (existing && next === 0) await env.store.deleteRows(env.ctx.org, poa, where);
  else if (existing) await env.store.updateRows(env.ctx.org, poa, where, { accessrightsmask: next });
  else if (next !== 0) {
    await env.store.insertRow(env.ctx.org, poa, {
      principalobjectaccessid: newGuid(),
      objectid: target.id,
      objecttypecode: target.entity.logicalName,
      principalid: who.id,
      principaltypecode: who.entity.logicalName,
      accessrightsmask: next,
      inheritedaccessrightsmask: 0,
    });
  }
}

/** `GrantAccess` / `ModifyAccess` (unbound actions): `{"Target":{…},"PrincipalAccess":{"Principal":{…},"AccessMask":"ReadAccess, …"}}`. */
function shareAction(service: DataverseService, defaultStore: DataverseStore, name: "GrantAccess" | "ModifyAccess"): Operation {
  return {
    name,
    kind: "action",
    async invoke(ctx) {
      const body = bodyOf(ctx, name);
      const access = body.PrincipalAccess as Record<string, unknown> | undefined;
      if (!access || typeof access !== "object") throw invalid(`${name} needs PrincipalAccess {"Principal":{…},"AccessMask":"ReadAccess"}.`);
      const mask = parseAccessMask(access.AccessMask);
      await inEnv(service, defaultStore, ctx, async (env) => {
        const target = await shareTarget(env, body.Target);
        const who = await principal(env, access.Principal, "PrincipalAccess.Principal");
        await writeShare(env, target, who, mask, name === "GrantAccess" ? "add" : "replace");
      });
      return undefined;
    },
  };
}

/** `RevokeAccess` (unbound action): `{"Target":{…},"Revokee":{…}}` removes the share. */
function revokeAccess(service: DataverseService, defaultStore: DataverseStore): Operation {
  return {
    name: "RevokeAccess",
    kind: "action",
    async invoke(ctx) {
      const body = bodyOf(ctx, "RevokeAccess");
      await inEnv(service, defaultStore, ctx, async (env) => {
        const target = await shareTarget(env, body.Target);
        const who = await principal(env, body.Revokee, "Revokee");
        await writeShare(env, target, who, 0, "replace");
      });
      return undefined;
    },
  };
}

/** A security context for a user other than the caller (RetrievePrincipalAccess, RetrieveUserPrivileges). */
async function contextFor(env: Env, systemUserId: string): Promise<SecurityContext> {
  const user = await requireRow(env, table(env.md, "systemuser"), systemUserId, ["businessunitid"]);
  return new SecurityContext({ store: env.store, org: env.ctx.org, md: env.md, caller: { systemUserId, businessUnitId: String(user.businessunitid), kind: "user" } });
}

/** The `Target=@t` parameter of a function, with `?@t={'@odata.id':'accounts(<id>)'}` (or JSON quotes). */
function functionTarget(md: OrgMetadata, self: EntityMetadata, args: string, aliases: ReadonlyMap<string, string>): { entity: EntityMetadata; id: string } {
  const match = /^\s*Target\s*=\s*(.+?)\s*$/s.exec(args);
  if (!match) throw dv.querySyntax(`RetrievePrincipalAccess needs the parameter Target (got '${args}')`);
  let raw = match[1] as string;
  if (raw.startsWith("@")) {
    const value = aliases.get(raw);
    if (value === undefined) throw dv.querySyntax(`the parameter alias ${raw} has no value`);
    raw = value;
  }
  const id = /['"]@odata\.id['"]\s*:\s*['"]([^'"]+)['"]/.exec(raw);
  if (!id) throw dv.querySyntax(`Target must be an entity reference {'@odata.id':'accounts(<id>)'}, got '${raw}'`);
  const reference = parseReference(md, self, id[1]);
  if (reference.key.kind !== "id") throw dv.querySyntax("Target must address a record by its id");
  return { entity: reference.entity, id: reference.key.id };
}

/**
 * `systemusers(<id>)/Microsoft.Dynamics.CRM.RetrievePrincipalAccess(Target=@t)?@t={'@odata.id':'accounts(<id>)'}`
 * → `{"AccessRights":"ReadAccess, WriteAccess, …"}`: the rights the user has on the record through
 * roles (privilege and depth), ownership and sharing. The caller needs Read on the user.
 */
function retrievePrincipalAccess(service: DataverseService, defaultStore: DataverseStore): Operation {
  return {
    name: "RetrievePrincipalAccess",
    kind: "function",
    boundTo: "systemuser",
    async invoke(ctx, args) {
      const self = boundTarget(ctx, "RetrievePrincipalAccess");
      const rights = await inEnv(service, defaultStore, ctx, async (env) => {
        await env.security.assertRecordAccess("Read", self.entity, self.id);
        const target = functionTarget(env.md, self.entity, args, ctx.aliases ?? new Map());
        await requireRow(env, target.entity, target.id);
        const who = await contextFor(env, self.id);
        let mask = 0;
        for (const { verb } of privilegesFor(target.entity)) {
          try {
            await who.assertRecordAccess(verb, target.entity, target.id);
            mask |= ACCESS_RIGHTS[verb];
          } catch (error) {
            if (!(error instanceof DataverseError) || error.status !== 403) throw error;
          }
        }
        return mask;
      });
      return { "@odata.context": `${ctx.apiUrl}/$metadata#${NS}RetrievePrincipalAccessResponse`, AccessRights: formatAccessMask(rights) };
    },
  };
}

/**
 * `systemusers(<id>)/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()` → `{"RolePrivileges":[{"Depth":"Global",
 * "PrivilegeId":…,"BusinessUnitId":…,"PrivilegeName":…}]}`: the privileges of the user's roles and its
 * teams' roles, the widest depth per privilege and business unit. The caller needs Read on the user.
 */
function retrieveUserPrivileges(service: DataverseService, defaultStore: DataverseStore): Operation {
  return {
    name: "RetrieveUserPrivileges",
    kind: "function",
    boundTo: "systemuser",
    async invoke(ctx, args) {
      if (args.trim() !== "") throw dv.querySyntax("RetrieveUserPrivileges takes no parameters");
      const self = boundTarget(ctx, "RetrieveUserPrivileges");
      const privileges = await inEnv(service, defaultStore, ctx, async (env) => {
        await env.security.assertRecordAccess("Read", self.entity, self.id);
        const holdings = await (await contextFor(env, self.id)).roles();
        if (holdings.length === 0) return [];
        const rows = await env.store.selectRows(env.ctx.org, {
          entity: table(env.md, "roleprivileges"),
          columns: ["roleid", "privilegeid", "privilegedepthmask"],
          related: [{ alias: "privilegename", column: "privilegeid", target: table(env.md, "privilege"), targetColumn: "name", scope: ReadScope.system("privilege names of roles the caller may read (privilege is organization-owned reference data)") }],
          where: { kind: "in", column: "roleid", values: [...new Set(holdings.map((h) => h.roleId))] },
          orderBy: [],
        });
        const merged = new Map<string, { mask: number; privilegeId: string; name: string; businessUnitId: string }>();
        for (const row of rows) {
          for (const holding of holdings.filter((h) => h.roleId === String(row.roleid))) {
            const key = `${String(row.privilegeid)}|${holding.businessUnitId}`;
            const entry = merged.get(key) ?? { mask: 0, privilegeId: String(row.privilegeid), name: String(row.privilegename), businessUnitId: holding.businessUnitId };
            entry.mask |= Number(row.privilegedepthmask);
            merged.set(key, entry);
          }
        }
        return [...merged.values()].sort((a, b) => a.name.localeCompare(b.name));
      });
      return {
        "@odata.context": `${ctx.apiUrl}/$metadata#${NS}RetrieveUserPrivilegesResponse`,
        RolePrivileges: privileges.map((p) => ({ Depth: widestDepth(p.mask) ?? "Basic", PrivilegeId: p.privilegeId, BusinessUnitId: p.businessUnitId, PrivilegeName: p.name })),
      };
    },
  };
}

/** `teams(<id>)/Microsoft.Dynamics.CRM.AddMembersTeam|RemoveMembersTeam {"Members":[{"systemuserid":…}]}`; needs Write on the team. */
function teamMembers(service: DataverseService, defaultStore: DataverseStore, name: "AddMembersTeam" | "RemoveMembersTeam"): Operation {
  return {
    name,
    kind: "action",
    boundTo: "team",
    async invoke(ctx) {
      const team = boundTarget(ctx, name);
      const members = bodyOf(ctx, name).Members;
      if (!Array.isArray(members) || members.length === 0) throw invalid(`${name} needs Members: a non-empty array of {"systemuserid":"<guid>"}.`);
      await inEnv(service, defaultStore, ctx, async (env) => {
        const row = await requireRow(env, team.entity, team.id, ["isdefault"]);
        await env.security.assertRecordAccess("Write", team.entity, team.id);
        if (row.isdefault === 1 || row.isdefault === true) throw invalid(`The team ${team.id} is the default team of its business unit: its members are the business unit's users and cannot be changed.`);
        const membership = table(env.md, "teammembership");
        for (const member of members) {
          const user = entityReference(env.md, { "@odata.type": `${NS}systemuser`, ...(member as Record<string, unknown>) }, "Members[]", ["systemuser"]);
          await requireRow(env, user.entity, user.id);
          const where = and(eq("teamid", team.id), eq("systemuserid", user.id));
          const present = (await env.store.countRows(env.ctx.org, { entity: membership, where, limit: 1 })) > 0;
          if (name === "AddMembersTeam" && !present) await env.store.insertRow(env.ctx.org, membership, { teammembershipid: newGuid(), teamid: team.id, systemuserid: user.id });
          if (name === "RemoveMembersTeam" && present) await env.store.deleteRows(env.ctx.org, membership, where);
        }
      });
      return undefined;
    },
  };
}

/**
 * Writes `Privileges` (`[{"PrivilegeId":…,"Depth":"Global",…}]`, a `RolePrivilege` collection) to a role: each
 * privilege at its depth, a privilege the role already has gets the new depth; with `replace`, the role's other
 * privileges are removed first (in the same transaction). Needs Write on the role.
 * @throws DataverseError 400 for an empty list, a missing `PrivilegeId`, an unknown depth or one the privilege cannot have; 404 for an unknown role or privilege.
 */
function writeRolePrivileges(service: DataverseService, defaultStore: DataverseStore, name: "AddPrivilegesRole" | "ReplacePrivilegesRole"): Operation {
  return {
    name,
    kind: "action",
    boundTo: "role",
    async invoke(ctx) {
      const role = boundTarget(ctx, name);
      const privileges = bodyOf(ctx, name).Privileges;
      if (!Array.isArray(privileges) || (name === "AddPrivilegesRole" && privileges.length === 0)) throw invalid(`${name} needs Privileges: a${name === "AddPrivilegesRole" ? " non-empty" : "n"} array of {"PrivilegeId":"<guid>","Depth":"Global"}.`);
      await inEnv(service, defaultStore, ctx, async (env) => {
        const row = await requireRow(env, role.entity, role.id, ["ismanaged", "name", "roletemplateid"]);
        await env.security.assertRecordAccess("Write", role.entity, role.id);
        if (row.ismanaged === true || row.ismanaged === 1) throw solutionErrors.managed("Update", "Role", String(row.name), role.id);
        // Emptying System Administrator would lock every administrator out of the org.
        if (name === "ReplacePrivilegesRole" && String(row.roletemplateid ?? "").toLowerCase() === SYSTEM_ADMINISTRATOR_TEMPLATE_ID) throw invalid("The privileges of the System Administrator role cannot be replaced.");
        const rp = table(env.md, "roleprivileges");
        const wanted: { privilegeId: string; depth: Depth }[] = [];
        for (const item of privileges as Record<string, unknown>[]) {
          const depth = parseDepth(item?.Depth);
          if (typeof item?.PrivilegeId !== "string") throw invalid("Each RolePrivilege needs PrivilegeId (a GUID).");
          const privilege = await requireRow(env, table(env.md, "privilege"), item.PrivilegeId.toLowerCase(), ["name", "canbebasic", "canbelocal", "canbedeep", "canbeglobal"]);
          const allowed = privilege[`canbe${depth.toLowerCase()}`];
          if (!(allowed === 1 || allowed === true)) throw invalid(`The privilege ${String(privilege.name)} cannot be given at ${depth} depth.`);
          wanted.push({ privilegeId: String(privilege.privilegeid), depth });
        }
        if (name === "ReplacePrivilegesRole") await env.store.deleteRows(env.ctx.org, rp, eq("roleid", role.id));
        for (const { privilegeId, depth } of wanted) {
          const where = and(eq("roleid", role.id), eq("privilegeid", privilegeId));
          if ((await env.store.countRows(env.ctx.org, { entity: rp, where, limit: 1 })) > 0) await env.store.updateRows(env.ctx.org, rp, where, { privilegedepthmask: DEPTH[depth] });
          else await env.store.insertRow(env.ctx.org, rp, { roleprivilegeid: newGuid(), roleid: role.id, privilegeid: privilegeId, privilegedepthmask: DEPTH[depth] });
        }
      });
      return undefined;
    },
  };
}

/**
 * `roles(<id>)/Microsoft.Dynamics.CRM.RetrieveRolePrivilegesRole()` → `{"RolePrivileges":[{"Depth":"Global",
 * "PrivilegeId":…,"BusinessUnitId":…,"PrivilegeName":…}]}`: the role's own privileges, each at its widest depth,
 * with the role's business unit, by privilege name
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrieveroleprivilegesrole). Needs Read on the role.
 */
function retrieveRolePrivilegesRole(service: DataverseService, defaultStore: DataverseStore): Operation {
  return {
    name: "RetrieveRolePrivilegesRole",
    kind: "function",
    boundTo: "role",
    async invoke(ctx, args) {
      if (args.trim() !== "") throw dv.querySyntax("RetrieveRolePrivilegesRole takes no parameters");
      const role = boundTarget(ctx, "RetrieveRolePrivilegesRole");
      const privileges = await inEnv(service, defaultStore, ctx, async (env) => {
        const row = await requireRow(env, role.entity, role.id, ["businessunitid"]);
        await env.security.assertRecordAccess("Read", role.entity, role.id);
        const rows = await env.store.selectRows(env.ctx.org, {
          entity: table(env.md, "roleprivileges"),
          columns: ["privilegeid", "privilegedepthmask"],
          related: [{ alias: "privilegename", column: "privilegeid", target: table(env.md, "privilege"), targetColumn: "name", scope: ReadScope.system("privilege names of a role the caller may read (privilege is organization-owned reference data)") }],
          where: eq("roleid", role.id),
          orderBy: [],
        });
        return rows.map((r) => ({ Depth: widestDepth(Number(r.privilegedepthmask)) ?? "Basic", PrivilegeId: String(r.privilegeid), BusinessUnitId: String(row.businessunitid), PrivilegeName: String(r.privilegename) })).sort((a, b) => a.PrivilegeName.localeCompare(b.PrivilegeName));
      });
      return { "@odata.context": `${ctx.apiUrl}/$metadata#${NS}RetrieveRolePrivilegesRoleResponse`, RolePrivileges: privileges };
    },
  };
}

/** Every security operation, for the {@link OperationRegistry}; `defaultStore` serves requests outside `$batch`. */
export function securityOperations(service: DataverseService, defaultStore: DataverseStore): Operation[] {
  return [
    shareAction(service, defaultStore, "GrantAccess"),
    shareAction(service, defaultStore, "ModifyAccess"),
    revokeAccess(service, defaultStore),
    retrievePrincipalAccess(service, defaultStore),
    retrieveUserPrivileges(service, defaultStore),
    teamMembers(service, defaultStore, "AddMembersTeam"),
    teamMembers(service, defaultStore, "RemoveMembersTeam"),
    writeRolePrivileges(service, defaultStore, "AddPrivilegesRole"),
    writeRolePrivileges(service, defaultStore, "ReplacePrivilegesRole"),
    retrieveRolePrivilegesRole(service, defaultStore),
  ];
}
