import { newGuid } from "../common/ids.ts";
import type { Caller } from "./model.ts";
import { DataverseError, dv } from "./errors.ts";
import type { OrgMetadata } from "./metadata/registry.ts";
import type { EntityMetadata } from "./metadata/types.ts";
import { changeTrackingEnabled } from "./metadata/standard.ts";
import type { Org, Row } from "./model.ts";
import type { SecurityContext } from "./security/context.ts";
import type { PrivilegeVerb } from "./security/privileges.ts";
import { MANY_TO_MANY_HOOKS } from "./security/relationships.ts";
import { navigationFor, type ManyToManyNavigation, type OneToMany, type SingleNavigation } from "./navigation.ts";
import type { EntityKey } from "./odata/path.ts";
import type { DataverseService } from "./service.ts";
import type { DataverseStore, Expr, Scalar } from "./store.ts";
import { writeErrors, type ParsedRecord, type RecordReference } from "./validation.ts";
import { currencyColumns } from "./currency.ts";
import { solutionErrors } from "./solutions/service.ts";

/** The privileges a write needs (`prv<Verb><Entity>`). */
export type WriteVerb = Exclude<PrivilegeVerb, "Read">;

/** One write request's context; `store` is bound to the request's transaction. */
export interface WriteScope {
  store: DataverseStore;
  org: Org;
  md: OrgMetadata;
  caller: Caller;
  /** The caller's security context, for the {@link WriteAuthorizer} (required: {@link SecurityContext.system} is the one bypass). */
  security: SecurityContext;
  /** Directory columns of application users to create, by app id (see {@link RecordWriter.resolveDirectory}). */
  directory?: ReadonlyMap<string, Row>;
}

/**
 * The privilege check of the write path: every record the request creates, changes,
 * deletes or links passes through it. `record` is an existing record's id (access check
 * in SQL), a new record's row with its owner columns (Create), or absent (privilege only).
 * Throw a 403 `DataverseError` to refuse.
 * (learn.microsoft.com/power-platform/admin/how-record-access-determined)
 */
export type WriteAuthorizer = (scope: WriteScope, verb: WriteVerb, entity: EntityMetadata, record?: string | Row) => Promise<void>;

/** Tables the Web API cannot create, update or delete rows of. */
const PLATFORM_ONLY = new Set(["organization", "privilege", "principalobjectaccess", "solutioncomponent", "importjob", "asyncoperation"]);
const UNDELETABLE = new Set(["organization", "privilege", "systemuser", "principalobjectaccess", "solutioncomponent", "importjob", "asyncoperation"]);

/**
 * Columns the platform fills on Create for some tables, by logical name (after the payload,
 * before the platform columns): an application user's read-only directory columns, a role's root.
 */
const CREATE_DEFAULTS: Readonly<Record<string, (service: DataverseService, scope: WriteScope, values: Row, id: string) => Promise<Row>>> = {
  systemuser: async (service, scope, values) => {
    if (typeof values.applicationid !== "string") {
      if (typeof values.azureactivedirectoryobjectid !== "string") return {};
      // An interactive user: its names come from the directory (see DataverseService.interactiveUserColumns).
      const user = scope.directory?.get(`oid:${values.azureactivedirectoryobjectid.toLowerCase()}`);
      if (!user) throw new DataverseError(400, "0x80040203", "A user with azureactivedirectoryobjectid can only be created by a request of its own: POST systemusers, outside $batch change sets, deep inserts and bulk operations.");
      await service.assertDirectoryUserFree(scope.org, values.azureactivedirectoryobjectid, scope.store);
      return user;
    }
    // The platform fills an application user's object id (its service principal's).
    if (values.azureactivedirectoryobjectid !== undefined) throw new DataverseError(400, "0x80040203", "The attribute 'azureactivedirectoryobjectid' of 'systemuser' cannot be set on Create of an application user: the platform sets it from the application's service principal.");
    const columns = scope.directory?.get(values.applicationid.toLowerCase());
    if (!columns) throw new DataverseError(400, "0x80040203", "An application user (a systemuser with applicationid) can only be created by a request of its own: POST systemusers, outside $batch change sets, deep inserts and bulk operations.");
    await service.assertApplicationUserFree(scope.org, values.applicationid as string, scope.store);
    return columns;
  },
  role: async (_service, _scope, _values, id) => ({ parentrootroleid: id }),
};

const eq = (column: string, value: Scalar): Expr => ({ kind: "compare", op: "eq", left: { kind: "column", name: column }, right: { kind: "value", value } });

/**
 * A managed role (or another record of a managed solution with `ismanaged`) cannot be changed or
 * deleted outside its solution: Dataverse's `0x8004F032` (orgbox models managed components as not
 * customizable). A managed solution's own record is changed by importing a new version (`0x8004F024`).
 * @throws DataverseError 400 `0x8004F032`.
 */
async function refuseManaged(scope: WriteScope, entity: EntityMetadata, id: string, operation: "Update" | "Delete"): Promise<void> {
  if (entity.logicalName === "solution" && operation === "Update") {
    const [solution] = await scope.store.selectRows(scope.org, { entity, columns: ["ismanaged", "uniquename"], where: eq(entity.primaryIdAttribute, id), orderBy: [], limit: 1 });
    if (solution && (solution.ismanaged === true || solution.ismanaged === 1)) throw solutionErrors.managedSolution(String(solution.uniquename));
    return;
  }
  if (entity.logicalName === "publisher" && operation === "Delete") {
    const [publisher] = await scope.store.selectRows(scope.org, { entity, columns: ["uniquename"], where: eq(entity.primaryIdAttribute, id), orderBy: [], limit: 1 });
    const solutions = scope.md.entity("solution") as EntityMetadata;
    const used = await scope.store.countRows(scope.org, { entity: solutions, where: eq("publisherid", id), limit: 1 });
    if (publisher && used > 0) throw new DataverseError(400, "0x8004F006", `Attempting to delete a restricted publisher: '${String(publisher.uniquename)}' publishes solutions of this org.`);
    return;
  }
  if (entity.logicalName !== "role") return;
  const [row] = await scope.store.selectRows(scope.org, { entity, columns: ["ismanaged", "name"], where: eq(entity.primaryIdAttribute, id), orderBy: [], limit: 1 });
  if (row && (row.ismanaged === true || row.ismanaged === 1)) throw solutionErrors.managed(operation, "Role", String(row.name), id);
}

/**
 * Record writes with Dataverse semantics: Create (with lookups, deep insert and
 * associate-on-create), Update, Delete (with the relationships' cascade rules) and
 * lookup (dis)association. Runs inside the caller's transaction (`scope.store`);
 * platform columns come from {@link DataverseService.stampNew}/`stampUpdate`.
 */
export class RecordWriter {
  private readonly service: DataverseService;
  private readonly authorizer: WriteAuthorizer;

  /**
   * @param authorizer the write path's privilege check (the Web API's: `securityAuthorizer`); required,
   *   so that no writer exists without one.
   */
  constructor(service: DataverseService, authorizer: WriteAuthorizer) {
    this.service = service;
    this.authorizer = authorizer;
  }

  /** Now on the service's clock (ms since the epoch, UTC), for the reads a write answers with. */
  now(): number {
    return this.service.now();
  }

  /**
   * Asks the directory, before the write's transaction opens, for the columns of an application user
   * `record` would create (`systemuser` with `applicationid`; keyed by app id), or of an interactive user
   * (`systemuser` with `azureactivedirectoryobjectid`; keyed `oid:{objectId}`): the directory lives in the same store,
   * which a transaction holds. Empty for other records, and inside a transaction (`$batch` change sets).
   * @throws OrgModelError 400 when the app has no service principal, or the object id no user, in the org's tenant (0x80040203 on the wire).
   */
  async resolveDirectory(store: DataverseStore, org: Org, record: ParsedRecord): Promise<ReadonlyMap<string, Row>> {
    const appId = record.values.applicationid;
    const objectId = record.values.azureactivedirectoryobjectid;
    if (record.entity.logicalName !== "systemuser" || store.inTransaction === true) return new Map();
    if (typeof appId === "string") return new Map([[appId.toLowerCase(), await this.service.directoryColumns(org, appId)]]);
    if (typeof objectId === "string") return new Map([[`oid:${objectId.toLowerCase()}`, await this.service.interactiveUserColumns(org, objectId)]]);
    return new Map();
  }

  /** The single privilege-check point of the write path (see {@link WriteAuthorizer}). */
  async authorize(scope: WriteScope, verb: WriteVerb, entity: EntityMetadata, record?: string | Row): Promise<void> {
    await this.authorizer(scope, verb, entity, record);
  }

  /**
   * Finds a record by primary or alternate key. Alternate keys must match one of the
   * table's `keys` exactly (lookups may be named `_x_value`).
   * @throws DataverseError 400 when the key columns are not an alternate key of the table.
   */
  async find(scope: WriteScope, entity: EntityMetadata, key: EntityKey, columns: string[] = []): Promise<Row | undefined> {
    const cols = [...new Set([entity.primaryIdAttribute, ...columns])];
    const where = key.kind === "id" ? eq(entity.primaryIdAttribute, key.id) : alternateKeyWhere(scope.md, entity, key.values);
    const [row] = await scope.store.selectRows(scope.org, { entity, columns: cols, where, orderBy: [], limit: 2 });
    return row;
  }

  /** Like {@link find}, but a missing record is a 404 `0x80040217`. */
  async require(scope: WriteScope, entity: EntityMetadata, key: EntityKey, columns: string[] = []): Promise<Row> {
    const row = await this.find(scope, entity, key, columns);
    if (!row) throw dv.recordNotFound(entity.logicalName, key.kind === "id" ? key.id : key.values.map((v) => `${v.name}=${String(v.value)}`).join(","));
    return row;
  }

  /**
   * Creates a record and what hangs off it: bound lookups are checked to exist,
   * nested single-valued records are created first, nested children and bound
   * children after. `implicit` holds columns set by a parent (deep insert).
   * @returns the new record's id.
   * @throws DataverseError 412 `0x80040237` for a taken primary key, 404 for a missing bound record.
   */
  async create(scope: WriteScope, record: ParsedRecord, implicit: Row = {}): Promise<string> {
    const { entity } = record;
    if (PLATFORM_ONLY.has(entity.logicalName) || entity.isIntersect) throw writeErrors.notSupported("Create", entity.logicalName);
    await this.authorize(scope, "Create", entity);
    const values: Row = { ...record.values, ...implicit };
    const requestedId = values[entity.primaryIdAttribute];
    if (typeof requestedId === "string" && (await this.find(scope, entity, { kind: "id", id: requestedId }))) throw writeErrors.duplicate();
    for (const bind of record.binds) Object.assign(values, await this.lookupColumns(scope, entity, bind.navigation, bind.reference));
    for (const deep of record.deepSingles) {
      const childId = await this.create(scope, deep.record);
      Object.assign(values, lookupValues(entity, deep.navigation, deep.record.entity, childId, undefined));
    }
    const newId = typeof requestedId === "string" ? requestedId.toLowerCase() : newGuid();
    const defaults = (await CREATE_DEFAULTS[entity.logicalName]?.(this.service, scope, values, newId)) ?? {};
    Object.assign(values, await currencyColumns(scope.store, scope.org, scope.md, entity, values));
    const row = this.service.stampNew(entity, { ...defaults, ...values, [entity.primaryIdAttribute]: newId }, scope.caller.systemUserId, { id: scope.caller.systemUserId, businessUnitId: scope.caller.businessUnitId });
    // Access check of Create: the new record's owner (or business unit) must be within the caller's Create depth.
    await this.authorize(scope, "Create", entity, row);
    await checkAlternateKeysFree(scope, entity, row, undefined);
    await scope.store.insertRow(scope.org, entity, row);
    const id = String(row[entity.primaryIdAttribute]);
    for (const deep of record.deepCollections) {
      for (const child of deep.records) await this.create(scope, child, childLink(scope.md, deep.relationship, entity, id));
    }
    for (const bind of record.collectionBinds) {
      for (const reference of bind.references) await this.linkChild(scope, bind.relationship, entity, id, reference);
    }
    for (const bind of record.manyToManyBinds) {
      for (const reference of bind.references) {
        const related = await this.require(scope, reference.entity, reference.key);
        await this.associate(scope, bind.navigation, id, String(related[reference.entity.primaryIdAttribute]));
      }
      // Deep insert through an N:N navigation property: each new record, then its link.
      for (const child of bind.records ?? []) await this.associate(scope, bind.navigation, id, await this.create(scope, child));
    }
    return id;
  }

  /**
   * Updates an existing record (`existing` holds at least its primary key).
   * Sets `modifiedon`, `modifiedby` and a new `versionnumber`.
   */
  async update(scope: WriteScope, record: ParsedRecord, existing: Row): Promise<void> {
    const { entity } = record;
    if (PLATFORM_ONLY.has(entity.logicalName) || entity.isIntersect) throw writeErrors.notSupported("Update", entity.logicalName);
    const id = String(existing[entity.primaryIdAttribute]);
    // Setting `ownerid` is an Assign; anything else needs Write.
    const assigns = record.binds.some((b) => b.navigation.attribute.type === "Owner");
    const writes = record.binds.some((b) => b.navigation.attribute.type !== "Owner") || record.deepSingles.length > 0 || Object.keys(record.values).some((k) => k !== entity.primaryIdAttribute);
    if (writes || !assigns) await this.authorize(scope, "Write", entity, id);
    await refuseManaged(scope, entity, id, "Update");
    if (assigns) await this.authorize(scope, "Assign", entity, id);
    const values: Row = { ...record.values };
    delete values[entity.primaryIdAttribute];
    for (const bind of record.binds) Object.assign(values, await this.lookupColumns(scope, entity, bind.navigation, bind.reference, id));
    Object.assign(values, await currencyColumns(scope.store, scope.org, scope.md, entity, values, (columns) => this.find(scope, entity, { kind: "id", id }, columns)));
    const names = await this.find(scope, entity, { kind: "id", id }, entity.attributes.filter((a) => a.logicalName === "firstname" || a.logicalName === "lastname").map((a) => a.logicalName));
    const row = this.service.stampUpdate(entity, values, names ?? existing, scope.caller.systemUserId);
    await checkAlternateKeysFree(scope, entity, { ...existing, ...row }, id);
    await scope.store.updateRows(scope.org, entity, eq(entity.primaryIdAttribute, id), row);
  }

  /**
   * Deletes a record, applying each one-to-many relationship's delete rule to the
   * rows that point at it: `Cascade` deletes them (parental, e.g. an account's
   * contacts through `contact_customer_accounts`), `RemoveLink` clears the lookup,
   * `Restrict` refuses while such rows exist.
   * @throws DataverseError 400 for tables Dataverse never deletes from, or a restricted delete.
   */
  async delete(scope: WriteScope, entity: EntityMetadata, id: string, visited: Set<string> = new Set()): Promise<void> {
    if (UNDELETABLE.has(entity.logicalName) || entity.isIntersect) throw writeErrors.notSupported("Delete", entity.logicalName);
    if (visited.has(id)) return;
    visited.add(id);
    await this.authorize(scope, "Delete", entity, id);
    // Deleting a solution uninstalls it (a managed one with its components); see OrgSolutions.uninstall.
    if (entity.logicalName === "solution") return this.service.solutions.uninstall(scope.org, id, scope.store);
    await refuseManaged(scope, entity, id, "Delete");
    for (const rel of navigationFor(scope.md).referencing(entity)) {
      const child = scope.md.entity(rel.referencingEntity) as EntityMetadata;
      const where = eq(rel.referencingAttribute, id);
      if (rel.cascadeDelete === "Restrict") {
        const count = await scope.store.countRows(scope.org, { entity: child, where });
        if (count > 0) throw new DataverseError(400, "0x80040203", `The ${entity.logicalName} record ${id} cannot be deleted: ${count} ${child.logicalName} record(s) reference it through '${rel.referencingAttribute}' (relationship ${rel.schemaName}, delete behaviour Restrict).`);
      } else if (rel.cascadeDelete === "Cascade") {
        const rows = await scope.store.selectRows(scope.org, { entity: child, columns: [child.primaryIdAttribute], where, orderBy: [] });
        for (const row of rows) await this.delete(scope, child, String(row[child.primaryIdAttribute]), visited);
      } else {
        const cleared = this.service.stampUpdate(child, clearedLookup(child, rel.referencingAttribute), {}, scope.caller.systemUserId);
        await scope.store.updateRows(scope.org, child, where, cleared);
      }
    }
    // Its N:N links go with it (both directions of a self-referential relationship).
    for (const nn of navigationFor(scope.md).manyToManyAll(entity)) {
      for (const side of nn.symmetric ? [nn.self, nn.other] : [nn.self]) await scope.store.deleteRows(scope.org, nn.intersect, eq(side.intersectColumn, id));
    }
    await scope.store.deleteRows(scope.org, entity, eq(entity.primaryIdAttribute, id));
    // Change tracking reports it as a `$deletedEntity` to delta reads after this version.
    if (changeTrackingEnabled(entity)) await scope.store.recordDeletion(scope.org, entity, id, this.service.nextVersion());
    // The record's shares go with it.
    const shares = scope.md.entity("principalobjectaccess");
    if (shares && entity.ownershipType === "UserOwned") await scope.store.deleteRows(scope.org, shares, eq("objectid", id));
  }

  /**
   * Links two records through an N:N relationship (`POST set(id)/rel/$ref`, `rel@odata.bind` on
   * create): a new intersect row. Needs Append on both records
   * (learn.microsoft.com/power-platform/admin/how-record-access-determined).
   * @throws DataverseError 404 for a missing record, 412 `0x80040237` when already linked, 400 when the org refuses it.
   */
  async associate(scope: WriteScope, nn: ManyToManyNavigation, selfId: string, otherId: string): Promise<void> {
    const ids = await this.manyToManyEnds(scope, nn, selfId, otherId);
    const where = linkWhere(nn, ids);
    if ((await scope.store.countRows(scope.org, { entity: nn.intersect, where, limit: 1 })) > 0) throw writeErrors.duplicate();
    const byColumn = { [nn.self.intersectColumn]: ids.self, [nn.other.intersectColumn]: ids.other };
    const hooks = MANY_TO_MANY_HOOKS[nn.relationship.schemaName];
    await hooks?.beforeAssociate?.(this.service, scope.org, scope.store, byColumn);
    const extra = (await hooks?.extraColumns?.(this.service, scope.org, scope.store, byColumn)) ?? {};
    await scope.store.insertRow(scope.org, nn.intersect, this.service.stampNew(nn.intersect, { ...extra, ...byColumn }, scope.caller.systemUserId));
  }

  /**
   * Removes an N:N link (`DELETE set(id)/rel(otherId)/$ref`). Needs Append on both records.
   * @throws DataverseError 404 when either record is missing.
   * @returns false when the records were not linked (Dataverse answers 204 all the same).
   */
  async disassociate(scope: WriteScope, nn: ManyToManyNavigation, selfId: string, otherId: string): Promise<boolean> {
    const ids = await this.manyToManyEnds(scope, nn, selfId, otherId);
    return (await scope.store.deleteRows(scope.org, nn.intersect, linkWhere(nn, ids))) > 0;
  }

  /** Checks both records of an N:N link exist and the caller may Append each; returns their stored ids. */
  private async manyToManyEnds(scope: WriteScope, nn: ManyToManyNavigation, selfId: string, otherId: string): Promise<{ self: string; other: string }> {
    const ends = [
      { entity: scope.md.entity(nn.self.entity) as EntityMetadata, id: selfId },
      { entity: scope.md.entity(nn.other.entity) as EntityMetadata, id: otherId },
    ];
    const ids: string[] = [];
    for (const end of ends) ids.push(String((await this.require(scope, end.entity, { kind: "id", id: end.id }))[end.entity.primaryIdAttribute]));
    for (const [i, end] of ends.entries()) await this.authorize(scope, "Append", end.entity, ids[i]);
    return { self: ids[0] as string, other: ids[1] as string };
  }

  /**
   * Points the child of a one-to-many relationship at a parent (`POST …/{collection}/$ref`,
   * associate-on-create): an update of the child's lookup.
   */
  async linkChild(scope: WriteScope, relationship: OneToMany, parent: EntityMetadata, parentId: string, reference: RecordReference): Promise<void> {
    const child = await this.require(scope, reference.entity, reference.key);
    await this.authorize(scope, "AppendTo", parent, parentId);
    await this.authorize(scope, "Append", reference.entity, String(child[reference.entity.primaryIdAttribute]));
    const values = childLink(scope.md, relationship, parent, parentId);
    await this.update(scope, { entity: reference.entity, values, binds: [], deepSingles: [], deepCollections: [], collectionBinds: [], manyToManyBinds: [] }, child);
  }

  /** Clears the child's lookup of a one-to-many relationship if it points at the parent. */
  async unlinkChild(scope: WriteScope, relationship: OneToMany, parentId: string, child: EntityMetadata, childRow: Row): Promise<void> {
    if (String(childRow[relationship.referencingAttribute] ?? "").toLowerCase() !== parentId) {
      throw dv.recordNotFound(child.logicalName, String(childRow[child.primaryIdAttribute]));
    }
    await this.update(scope, { entity: child, values: clearedLookup(child, relationship.referencingAttribute), binds: [], deepSingles: [], deepCollections: [], collectionBinds: [], manyToManyBinds: [] }, childRow);
  }

  /** SQL columns for setting (or clearing) a lookup through a navigation property; checks the target exists. */
  private async lookupColumns(scope: WriteScope, entity: EntityMetadata, navigation: SingleNavigation, reference: RecordReference | null, sourceId?: string): Promise<Row> {
    if (!reference) return clearedLookup(entity, navigation.attribute.logicalName);
    const target = reference.entity;
    const extra = navigation.attribute.type === "Owner" && target.attributes.some((a) => a.logicalName === "businessunitid") ? ["businessunitid"] : [];
    const row = await this.require(scope, target, reference.key, extra);
    const targetId = String(row[target.primaryIdAttribute]);
    // The owner is not an Append/AppendTo link: Create's depth check and Assign cover it.
    if (navigation.attribute.type !== "Owner") {
      await this.authorize(scope, "Append", entity, sourceId);
      await this.authorize(scope, "AppendTo", target, targetId);
    }
    return lookupValues(entity, navigation, target, targetId, row.businessunitid === undefined || row.businessunitid === null ? undefined : String(row.businessunitid));
  }
}

/** Columns that make `navigation` of `entity` point at `targetId`, including type and owning* columns. */
function lookupValues(entity: EntityMetadata, navigation: SingleNavigation, target: EntityMetadata, targetId: string, targetBusinessUnit: string | undefined): Row {
  const name = navigation.attribute.logicalName;
  const values: Row = { [name]: targetId };
  const has = (column: string) => entity.attributes.some((a) => a.logicalName === column);
  if (navigation.attribute.type === "Owner") {
    values.owneridtype = target.logicalName;
    if (has("owninguser")) values.owninguser = target.logicalName === "systemuser" ? targetId : null;
    if (has("owningteam")) values.owningteam = target.logicalName === "team" ? targetId : null;
    if (has("owningbusinessunit") && targetBusinessUnit) values.owningbusinessunit = targetBusinessUnit;
  } else {
    const typeColumn = lookupTypeColumn(entity, name);
    if (typeColumn) values[typeColumn] = target.logicalName;
  }
  return values;
}

/**
 * The EntityName column holding the target table of polymorphic lookup `attribute`, if `entity` has one:
 * `{column}type` (`parentcustomeridtype`, `customeridtype`) or, for `…objectid`, `…objecttypecode`
 * (`regardingobjecttypecode`, `objecttypecode`).
 */
function lookupTypeColumn(entity: EntityMetadata, attribute: string): string | undefined {
  const candidates = [`${attribute}type`, attribute.endsWith("id") ? `${attribute.slice(0, -2)}typecode` : undefined];
  return candidates.find((c) => c !== undefined && entity.attributes.some((a) => a.logicalName === c && a.type === "EntityName"));
}

/** WHERE of the intersect row linking `self` to `other` (either way round when the relationship is symmetric). */
function linkWhere(nn: ManyToManyNavigation, ids: { self: string; other: string }): Expr {
  const pair = (a: string, b: string): Expr => ({ kind: "and", left: eq(nn.self.intersectColumn, a), right: eq(nn.other.intersectColumn, b) });
  return nn.symmetric ? { kind: "or", left: pair(ids.self, ids.other), right: pair(ids.other, ids.self) } : pair(ids.self, ids.other);
}

/** Columns that clear lookup `attribute` of `entity` (and its type column). */
function clearedLookup(entity: EntityMetadata, attribute: string): Row {
  const values: Row = { [attribute]: null };
  const typeColumn = lookupTypeColumn(entity, attribute);
  if (typeColumn) values[typeColumn] = null;
  return values;
}

/** The child's lookup columns for a one-to-many relationship pointing at `parentId`. */
function childLink(md: OrgMetadata, relationship: OneToMany, parent: EntityMetadata, parentId: string): Row {
  const child = md.entity(relationship.referencingEntity) as EntityMetadata;
  const values: Row = { [relationship.referencingAttribute]: parentId };
  const typeColumn = lookupTypeColumn(child, relationship.referencingAttribute);
  if (typeColumn) values[typeColumn] = parent.logicalName;
  return values;
}

/** WHERE for an alternate key; the names must be exactly one of the table's keys. */
function alternateKeyWhere(md: OrgMetadata, entity: EntityMetadata, values: { name: string; value: Scalar }[]): Expr {
  const columns = values.map((v) => {
    const lookup = /^_(.+)_value$/.exec(v.name);
    return { column: lookup ? (lookup[1] as string) : v.name, value: typeof v.value === "string" ? v.value.toLowerCase() : v.value, raw: v };
  });
  const names = columns.map((c) => c.column).sort();
  const key = (entity.keys ?? []).find((k) => k.keyAttributes.length === names.length && [...k.keyAttributes].sort().every((n, i) => n === names[i]));
  if (!key) {
    const defined = (entity.keys ?? []).map((k) => `(${k.keyAttributes.join(",")})`).join(", ") || "none";
    throw new DataverseError(400, "0x80060888", `The key (${names.join(",")}) is not an alternate key of the table '${entity.logicalName}'. Alternate keys defined: ${defined}.`);
  }
  let where: Expr | undefined;
  for (const c of columns) {
    const attribute = md.attribute(entity, c.column);
    const value = attribute && attribute.type !== "String" && attribute.type !== "Memo" ? c.raw.value : c.value;
    const part: Expr = { kind: "compare", op: "eq", left: { kind: "column", name: c.column }, right: { kind: "value", value }, caseInsensitive: attribute?.type === "String" };
    where = where ? { kind: "and", left: where, right: part } : part;
  }
  return where as Expr;
}

/** Alternate keys are unique: a create or update may not take another record's key values. */
async function checkAlternateKeysFree(scope: WriteScope, entity: EntityMetadata, row: Row, ownId: string | undefined): Promise<void> {
  for (const key of entity.keys ?? []) {
    const values = key.keyAttributes.map((name) => ({ name, value: (row[name] ?? null) as Scalar }));
    if (values.some((v) => v.value === null || v.value === undefined)) continue;
    const where = alternateKeyWhere(scope.md, entity, values);
    const rows = await scope.store.selectRows(scope.org, { entity, columns: [entity.primaryIdAttribute], where, orderBy: [], limit: 2 });
    if (rows.some((r) => String(r[entity.primaryIdAttribute]) !== ownId)) throw new DataverseError(412, "0x80060892", "A record that has the attribute values " + values.map((v) => `${v.name}=${String(v.value)}`).join(", ") + " already exists. The entity key " + key.logicalName + " requires that this set of attributes contains unique values.");
  }
}
