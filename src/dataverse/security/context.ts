import type { OrgMetadata } from "../metadata/registry.ts";
import type { EntityMetadata } from "../metadata/types.ts";
import type { Caller, Org, Row } from "../model.ts";
import { ReadScope, type DataverseStore, type Expr } from "../store.ts";
import { accessDenied, privilegeDenied } from "./errors.ts";
import { ACCESS_RIGHTS, DEPTH, PRIVILEGE_PROXY, SYSTEM_ADMINISTRATOR_TEMPLATE_ID, privilegeId, privilegeName, type PrivilegeVerb } from "./privileges.ts";
import { accessFilter, businessUnitSubtree, canAccessRow, type AccessPrincipal, type PrivilegeSource } from "./scope.ts";
import { forgetOnFailure, loadOnce, type PrincipalState, type RoleHolding } from "./cache.ts";

export type { RoleHolding } from "./cache.ts";

const eq = (column: string, value: string): Expr => ({ kind: "compare", op: "eq", left: { kind: "column", name: column }, right: { kind: "value", value } });
const and = (left: Expr, right: Expr): Expr => ({ kind: "and", left, right });
/** The security model's own reads (roles, privileges, team membership) see every row: they decide what the caller may see. */
const SECURITY_MODEL = ReadScope.system("the security model reads roles, privileges and team membership for every caller");

/**
 * The caller of a {@link SecurityContext.system} context: Dataverse's `SYSTEM` user, which no token
 * maps to (the nil GUID as its systemuser and business unit ids; `createdby` of rows it writes stays as given).
 */
export const SYSTEM_CALLER: Caller = Object.freeze({ systemUserId: "00000000-0000-0000-0000-000000000000", businessUnitId: "00000000-0000-0000-0000-000000000000", kind: "application" });

/** Only {@link SecurityContext.system} can make a system context: this module does not export the key. */
const SYSTEM = Symbol("system security context");

/**
 * A system context reads nothing: its checks all pass before any read. Using its store or metadata
 * throws, loudly (serializers' probes — symbols, `toJSON`, `then` — see nothing instead).
 */
function absent<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get(_target, property) {
      if (typeof property === "symbol" || property === "toJSON" || property === "then") return undefined;
      throw new Error(`a system security context has no ${what} (tried to use '${property}')`);
    },
  });
}
const NO_STORE = absent<DataverseStore>("store");
const NO_METADATA = absent<OrgMetadata>("metadata");

function table(md: OrgMetadata, logicalName: string): EntityMetadata {
  const entity = md.entity(logicalName);
  if (!entity) throw new Error(`the standard table '${logicalName}' is missing from the org's metadata`);
  return entity;
}

/**
 * The Dataverse security model for one request: privilege check, then access check
 * (learn.microsoft.com/power-platform/admin/how-record-access-determined). Built once per
 * request for the caller the request acts as. What it reads of the caller (roles, privilege
 * depths, teams, business units) it keeps in a {@link PrincipalState}: the one of the org's
 * {@link SecurityStateCache} when the request reads outside a transaction (shared by the
 * caller's next requests until a security-relevant write drops it, so a role removed between
 * two requests takes effect on the next one), or one for this request only.
 *
 * Roles come from the user (`systemuserroles`) and from the user's teams
 * (`teammembership` → `teamroles`); a privilege is looked up with one SQL statement joining
 * `roleprivileges` to `privilege` by name. A holder of System Administrator passes every
 * privilege check at Global depth (Dataverse adds every new table's privileges to that role).
 *
 * The security context is required wherever a record is read or written (`WriteScope`, the read
 * handlers, `$expand`, OData operations): leaving it out is a type error, not full access. The one
 * bypass is {@link SecurityContext.system}, for the org model's own work (seeding, environments,
 * upgrades, `DataverseService` internals); `src/dataverse/security/system-context.test.ts` keeps its
 * callers to an allow-list, and the Web API pipeline refuses to run a handler with it.
 */
export class SecurityContext {
  /** The user the request acts as (the impersonated user, when impersonating); {@link SYSTEM_CALLER} for a system context. */
  readonly caller: Caller;
  /** Why a system context passes every check ({@link SecurityContext.system}); `undefined` for a caller's context. */
  readonly systemReason: string | undefined;
  private readonly store: DataverseStore;
  private readonly org: Org;
  private readonly md: OrgMetadata;

  /** What is known of the caller: this request's, or shared across requests (see the class comment). */
  private readonly cache: PrincipalState;

  /**
   * @param cache the caller's cached state: pass the org's shared one (`SecurityStateCache`) only
   *   when `deps.store` is outside a transaction; by default a new one for this request.
   */
  constructor(deps: { store: DataverseStore; org: Org; md: OrgMetadata; caller: Caller }, cache: PrincipalState = { sourcesByPrivilege: new Map() }, system?: { readonly [SYSTEM]: string }) {
    this.store = deps.store;
    this.org = deps.org;
    this.md = deps.md;
    this.caller = deps.caller;
    this.cache = cache;
    this.systemReason = system?.[SYSTEM];
  }

  /**
   * The org model's own context: every privilege and access check passes and every join reads all
   * rows ({@link ReadScope.system}`(reason)`). For seeding, environments, upgrades and the
   * `DataverseService` internals only — never a Web API request (the pipeline refuses it). Its
   * caller is {@link SYSTEM_CALLER}. `reason` says why bypassing the caller's security is right.
   */
  static system(org: Org, reason: string): SecurityContext {
    return new SecurityContext({ store: NO_STORE, org, md: NO_METADATA, caller: SYSTEM_CALLER }, { sourcesByPrivilege: new Map() }, { [SYSTEM]: reason });
  }

  /** True for {@link SecurityContext.system}'s context. */
  get isSystem(): boolean {
    return this.systemReason !== undefined;
  }

  /**
   * The same context reading through `store` (a write's transaction: a read through the root
   * store would wait for that transaction to end). It starts from what this context knows; what
   * it reads through a transaction stays its own (the transaction may roll back).
   */
  bind(store: DataverseStore): SecurityContext {
    if (store === this.store || this.isSystem) return this;
    const cache = store.inTransaction ? { ...this.cache, sourcesByPrivilege: new Map(this.cache.sourcesByPrivilege) } : this.cache;
    return new SecurityContext({ store, org: this.org, md: this.md, caller: this.caller }, cache);
  }

  /** The caller's roles: its own (`systemuserroles`) and its teams' (`teamroles`), two SQL statements when not cached. */
  roles(): Promise<RoleHolding[]> {
    if (this.isSystem) return Promise.resolve([]);
    return loadOnce(this.cache, "holdings", () => this.loadRoles());
  }

  private async loadRoles(): Promise<RoleHolding[]> {
    const me = this.caller.systemUserId;
    const role = table(this.md, "role");
    const direct = await this.store.selectRows(this.org, {
      entity: table(this.md, "systemuserroles"),
      columns: ["roleid"],
      related: [{ alias: "roletemplateid", column: "roleid", target: role, targetColumn: "roletemplateid", scope: SECURITY_MODEL }],
      where: eq("systemuserid", me),
      orderBy: [],
    });
    const viaTeams = await this.store.selectRows(this.org, {
      entity: table(this.md, "teamroles"),
      columns: ["teamid", "roleid"],
      related: [
        { alias: "roletemplateid", column: "roleid", target: role, targetColumn: "roletemplateid", scope: SECURITY_MODEL },
        { alias: "teambusinessunitid", column: "teamid", target: table(this.md, "team"), targetColumn: "businessunitid", scope: SECURITY_MODEL },
      ],
      where: { kind: "exists", entity: table(this.md, "teammembership"), innerColumn: "teamid", outerColumn: "teamid", where: eq("systemuserid", me), scope: SECURITY_MODEL },
      orderBy: [],
    });
    const template = (r: Row) => (r.roletemplateid === null || r.roletemplateid === undefined ? null : String(r.roletemplateid).toLowerCase());
    return [
      ...direct.map((r) => ({ roleId: String(r.roleid), roleTemplateId: template(r), businessUnitId: this.caller.businessUnitId })),
      ...viaTeams.map((r) => ({ roleId: String(r.roleid), roleTemplateId: template(r), teamId: String(r.teamid), businessUnitId: String(r.teambusinessunitid ?? this.caller.businessUnitId) })),
    ];
  }

  /** Distinct roles held (the `roleCount` of PrivilegeDenied). */
  async roleCount(): Promise<number> {
    return new Set((await this.roles()).map((h) => h.roleId)).size;
  }

  /** True when one of the caller's roles (own or team) is System Administrator. */
  async isSystemAdministrator(): Promise<boolean> {
    if (this.isSystem) return true;
    return (await this.roles()).some((h) => h.roleTemplateId === SYSTEM_ADMINISTRATOR_TEMPLATE_ID);
  }

  /**
   * Where the caller holds privilege `name`: one source per holding role, with its
   * `privilegedepthmask` and the business unit its depth counts from. Empty: not held.
   */
  sources(name: string): Promise<PrivilegeSource[]> {
    if (this.isSystem) return Promise.resolve([{ mask: DEPTH.Global, businessUnitId: this.caller.businessUnitId }]);
    return this.cache.sourcesByPrivilege.get(name) ?? forgetOnFailure(this.cache.sourcesByPrivilege, name, this.loadSources(name));
  }

  private async loadSources(name: string): Promise<PrivilegeSource[]> {
    const holdings = await this.roles();
    if (holdings.some((h) => h.roleTemplateId === SYSTEM_ADMINISTRATOR_TEMPLATE_ID)) return [{ mask: DEPTH.Global, businessUnitId: this.caller.businessUnitId }];
    if (holdings.length === 0) return [];
    // roleprivileges ⋈ privilege (by name), restricted to the caller's roles: one statement.
    const rows = await this.store.selectRows(this.org, {
      entity: table(this.md, "roleprivileges"),
      columns: ["roleid", "privilegedepthmask"],
      where: and(
        { kind: "in", column: "roleid", values: [...new Set(holdings.map((h) => h.roleId))] },
        { kind: "exists", entity: table(this.md, "privilege"), innerColumn: "privilegeid", outerColumn: "privilegeid", where: eq("name", name), scope: SECURITY_MODEL },
      ),
      orderBy: [],
    });
    const maskByRole = new Map<string, number>();
    for (const r of rows) maskByRole.set(String(r.roleid), (maskByRole.get(String(r.roleid)) ?? 0) | Number(r.privilegedepthmask));
    const sources: PrivilegeSource[] = [];
    for (const h of holdings) {
      const mask = maskByRole.get(h.roleId);
      if (mask) sources.push({ mask, businessUnitId: h.businessUnitId, ...(h.teamId ? { teamId: h.teamId } : {}) });
    }
    return sources;
  }

  /** The table whose privilege guards `entity` (itself, or the table an intersect describes). */
  privilegeEntity(entity: EntityMetadata): EntityMetadata {
    if (this.isSystem) return entity;
    // A custom N:N intersect table is guarded by its relationship's first table.
    const proxy = PRIVILEGE_PROXY[entity.logicalName] ?? (entity.isIntersect ? this.md.manyToManyRelationships().find((r) => r.intersectEntityName === entity.logicalName)?.entity1LogicalName : undefined);
    return (proxy ? this.md.entity(proxy) : undefined) ?? entity;
  }

  /**
   * Privilege check: the caller must hold `prv{verb}{Entity}` at some depth.
   * @returns the sources holding it (for the access check).
   * @throws DataverseError 403 `0x80040220` naming the missing privilege.
   */
  async assertPrivilege(verb: PrivilegeVerb, entity: EntityMetadata): Promise<PrivilegeSource[]> {
    const guard = this.privilegeEntity(entity);
    const name = privilegeName(verb, guard);
    const sources = await this.sources(name);
    if (sources.length === 0) throw await this.denied(name, guard);
    return sources;
  }

  /**
   * Privilege check for a privilege not tied to a table (`prvActOnBehalfOfAnotherUser`).
   * @throws DataverseError 403 `0x80040220` with `OTC=0 for entity ''`.
   */
  async assertNamedPrivilege(name: string): Promise<void> {
    if ((await this.sources(name)).length === 0) throw await this.denied(name, undefined);
  }

  /**
   * Privilege check, then the rows the caller may `verb` as a predicate to AND into
   * the read's SQL (`undefined`: every row). See {@link accessFilter} for the rules.
   */
  async scope(verb: PrivilegeVerb, entity: EntityMetadata): Promise<Expr | undefined> {
    if (this.isSystem) return undefined;
    const sources = await this.assertPrivilege(verb, entity);
    return accessFilter(entity, await this.principal(sources, verb));
  }

  /**
   * The caller's Read scope of `entity` for a join or `EXISTS` into it (a lookup path, a lambda, a
   * link-entity, a `$apply` navigation): privilege check, then {@link accessFilter} as a {@link ReadScope}.
   * @throws DataverseError 403 `0x80040220` when the caller lacks `prvRead` on the table.
   */
  async readScope(entity: EntityMetadata): Promise<ReadScope> {
    if (this.systemReason !== undefined) return ReadScope.system(this.systemReason);
    return ReadScope.caller(await this.scope("Read", entity));
  }

  /**
   * Privilege check, then access check for one record: an id (checked in SQL; an id that
   * does not exist passes, so the caller's 404 stays a 404) or a row in hand with its
   * ownership columns (a record about to be created or assigned).
   * @throws DataverseError 403 `0x80040220` (privilege) or `0x80048306` (access).
   */
  async assertRecordAccess(verb: PrivilegeVerb, entity: EntityMetadata, record: string | Row): Promise<void> {
    if (this.isSystem) return;
    const sources = await this.assertPrivilege(verb, entity);
    const principal = await this.principal(sources, verb);
    if (typeof record === "string") {
      const filter = accessFilter(entity, principal);
      if (!filter) return;
      const byId = eq(entity.primaryIdAttribute, record.toLowerCase());
      if ((await this.store.countRows(this.org, { entity, where: and(byId, filter), limit: 1 })) > 0) return;
      if ((await this.store.countRows(this.org, { entity, where: byId, limit: 1 })) === 0) return;
      throw accessDenied(this.caller.systemUserId, verb, record.toLowerCase(), entity.logicalName);
    }
    if (!canAccessRow(entity, principal, await this.teamIds(), record)) {
      throw accessDenied(this.caller.systemUserId, verb, String(record[entity.primaryIdAttribute] ?? "00000000-0000-0000-0000-000000000000"), entity.logicalName);
    }
  }

  /** Teams the caller is a member of. */
  teamIds(): Promise<string[]> {
    if (this.isSystem) return Promise.resolve([]);
    return loadOnce(this.cache, "teams", () =>
      this.store
        .selectRows(this.org, { entity: table(this.md, "teammembership"), columns: ["teamid"], where: eq("systemuserid", this.caller.systemUserId), orderBy: [] })
        .then((rows) => rows.map((r) => String(r.teamid))),
    );
  }

  private async principal(sources: PrivilegeSource[], verb: PrivilegeVerb): Promise<AccessPrincipal> {
    const needsTree = sources.some((s) => (s.mask & DEPTH.Deep) !== 0 && (s.mask & DEPTH.Global) === 0);
    const units = needsTree ? await this.businessUnits() : [];
    const sharing = this.md.entity("principalobjectaccess");
    return {
      systemUserId: this.caller.systemUserId,
      businessUnitId: this.caller.businessUnitId,
      sources,
      subtree: (root) => businessUnitSubtree(units, root),
      teamMembership: table(this.md, "teammembership"),
      ...(sharing && verb !== "Create" ? { sharing: { table: sharing, right: ACCESS_RIGHTS[verb] } } : {}),
    };
  }

  /** Every business unit with its parent (a small table), for Deep depth; read once while the cache holds. */
  private businessUnits(): Promise<{ id: string; parentId: string | null }[]> {
    return loadOnce(this.cache, "units", () =>
      this.store
        .selectRows(this.org, { entity: table(this.md, "businessunit"), columns: ["businessunitid", "parentbusinessunitid"], orderBy: [] })
        .then((rows) => rows.map((r) => ({ id: String(r.businessunitid), parentId: r.parentbusinessunitid ? String(r.parentbusinessunitid) : null }))),
    );
  }

  /** Builds PrivilegeDenied with the counts Dataverse reports (error path only). */
  private async denied(name: string, entity: EntityMetadata | undefined) {
    const roleIds = [...new Set((await this.roles()).map((h) => h.roleId))];
    const privileges = roleIds.length
      ? await this.store.selectRows(this.org, { entity: table(this.md, "roleprivileges"), columns: ["privilegeid"], where: { kind: "in", column: "roleid", values: roleIds }, orderBy: [] })
      : [];
    const [user] = await this.store.selectRows(this.org, { entity: table(this.md, "systemuser"), columns: ["accessmode"], where: eq("systemuserid", this.caller.systemUserId), orderBy: [], limit: 1 });
    const [privilege] = await this.store.selectRows(this.org, { entity: table(this.md, "privilege"), columns: ["privilegeid"], where: eq("name", name), orderBy: [], limit: 1 });
    return privilegeDenied(
      { systemUserId: this.caller.systemUserId, roleCount: roleIds.length, privilegeCount: new Set(privileges.map((p) => String(p.privilegeid))).size, accessMode: Number(user?.accessmode ?? 0) },
      { name, id: privilege ? String(privilege.privilegeid) : privilegeId(name) },
      entity,
      this.caller.callingUserId ?? this.caller.systemUserId,
    );
  }
}

/**
 * The one call a handler makes before touching a table: privilege check for `verb` on
 * `entity`, and, with `record` (an id, or a row with its ownership columns), the access
 * check for that record. Reads use {@link SecurityContext.scope} instead, to filter in SQL.
 * @throws DataverseError 403 `0x80040220` (missing privilege) or `0x80048306` (record out of reach).
 */
export async function assertPrivilege(ctx: SecurityContext, verb: PrivilegeVerb, entity: EntityMetadata, record?: string | Row): Promise<void> {
  if (record === undefined) await ctx.assertPrivilege(verb, entity);
  else await ctx.assertRecordAccess(verb, entity, record);
}
