import type { Clock } from "../../common/clock.ts";
import { columnsAdded, definitionErrors } from "../metadata/custom.ts";
import { validateKey } from "../metadata/keys.ts";
import { globalOptionSetId } from "../metadata/option-sets.ts";
import { entityMetadataId, metadataId } from "../metadata/wire.ts";
import { newGuid } from "../../common/ids.ts";
import type { OrgMetadata } from "../metadata/registry.ts";
import type { ManyToManyPlan, OneToManyPlan } from "../metadata/relationships.ts";
import type { AttributeMetadata, EntityKeyMetadata, EntityMetadata, GlobalOptionSetMetadata, RelationshipMetadata } from "../metadata/types.ts";
import type { Org } from "../model.ts";
import { navigationFor } from "../navigation.ts";
import { DEPTH, SYSTEM_ADMINISTRATOR_TEMPLATE_ID, privilegeId, privilegesFor } from "../security/privileges.ts";
import type { DataverseStore, Expr } from "../store.ts";
import { privilegeRow } from "./provisioning.ts";
import type { OrgRuntime } from "./runtime.ts";
import type { RecordStamping } from "./stamping.ts";

/**
 * Customization: what the maker portal and `EntityDefinitions`, `RelationshipDefinitions` and
 * `GlobalOptionSetDefinitions` do — custom tables, columns, alternate keys, relationships and global
 * option sets. Each change runs in one transaction and drops the org's cached metadata.
 */
export class OrgCustomization {
  private readonly runtime: OrgRuntime;
  private readonly records: RecordStamping;
  private readonly clock: Clock;

  constructor(runtime: OrgRuntime, records: RecordStamping, clock: Clock) {
    this.runtime = runtime;
    this.records = records;
    this.clock = clock;
  }

  /**
   * Creates a custom table, what `POST EntityDefinitions` does
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api):
   * its SQL table, its definition in `entity_definitions` (it survives restarts), its privileges
   * (`prvCreatenew_Project`, … from {@link privilegesFor}; none for a table sharing privileges the
   * org has) and those privileges at Global depth in every System Administrator role. One transaction: nothing is left behind on failure.
   * `build` receives the next free object type code (custom tables start at 10000); `outer` is the
   * store to work through (a `$batch` change set's transaction).
   * @throws OrgModelError 400 `duplicate` when the logical or entity set name is taken.
   */
  async createCustomTable(org: Org, build: (objectTypeCode: number) => EntityMetadata, outer: DataverseStore = this.runtime.store): Promise<EntityMetadata> {
    const md = await this.runtime.loadMetadata(org, outer);
    const entity = build(nextObjectTypeCode(md));
    if (md.entity(entity.logicalName)) throw definitionErrors.duplicate(`An entity with the specified name already exists: '${entity.logicalName}'. Specify a unique name.`);
    if (md.entityBySet(entity.entitySetName)) throw definitionErrors.duplicate(`The entity set name '${entity.entitySetName}' is already used by another table. Specify a unique EntitySetName.`);
    const privilegeTable = md.entity("privilege") as EntityMetadata;
    const rolePrivileges = md.entity("roleprivileges") as EntityMetadata;
    try {
      await outer.transaction(async (store) => {
        await store.createRecordTable(org, entity);
        await store.saveEntityDefinition(org, entity, this.clock.now());
        await addToDefaultSolution(org, md, store, this.records, 1, entityMetadataId(entity));
        const admins = await store.selectRows(org, { entity: md.entity("role") as EntityMetadata, columns: ["roleid"], where: eqExpr("roletemplateid", SYSTEM_ADMINISTRATOR_TEMPLATE_ID), orderBy: [] });
        // A table sharing privileges (a custom activity table: `…Activity`) adds none the org does not have.
        const wanted = privilegesFor(entity);
        const existing = wanted.length === 0 ? [] : await store.selectRows(org, { entity: privilegeTable, columns: ["name"], where: { kind: "in", column: "name", values: wanted.map((p) => p.name) }, orderBy: [] });
        const known = new Set(existing.map((r) => String(r.name)));
        for (const p of wanted.filter((w) => !known.has(w.name))) {
          await store.insertRow(org, privilegeTable, this.records.stampNew(privilegeTable, privilegeRow(p)));
          for (const admin of admins) {
            await store.insertRow(org, rolePrivileges, this.records.stampNew(rolePrivileges, { roleid: admin.roleid, privilegeid: privilegeId(p.name), privilegedepthmask: DEPTH.Global }));
          }
        }
      });
    } finally {
      this.runtime.forgetMetadata(org);
    }
    return entity;
  }

  /**
   * Adds a column to a table, what `POST EntityDefinitions(…)/Attributes` does
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-column-definitions-using-web-api):
   * `ALTER TABLE … ADD COLUMN` and the table's updated definition in `entity_definitions`. A
   * money column on a table without a currency also adds `transactioncurrencyid`, as Dataverse does.
   * Standard tables may get custom columns too (their extended definition is stored).
   * @throws OrgModelError 404 for an unknown table, 400 `duplicate` for a taken column name.
   */
  async addCustomColumn(org: Org, entityLogicalName: string, attribute: AttributeMetadata, outer: DataverseStore = this.runtime.store): Promise<AttributeMetadata> {
    const md = await this.runtime.loadMetadata(org, outer);
    const entity = md.entity(entityLogicalName);
    if (!entity) throw definitionErrors.entityNotFound(entityLogicalName);
    if (md.attribute(entity, attribute.logicalName)) throw definitionErrors.duplicate(`An attribute with the specified name already exists: '${attribute.logicalName}' on entity '${entity.logicalName}'. Specify a unique name.`);
    const added = columnsAdded(entity, attribute);
    const updated: EntityMetadata = { ...entity, attributes: [...entity.attributes, ...added] };
    try {
      await outer.transaction(async (store) => {
        for (const a of added) await store.addColumn(org, entity, a);
        await store.saveEntityDefinition(org, updated, this.clock.now());
      });
    } finally {
      this.runtime.forgetMetadata(org);
    }
    return attribute;
  }

  /**
   * Deletes a custom table, what `DELETE EntityDefinitions(…)` does
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-definitions-using-web-api):
   * its SQL table with every row, its definition, the one-to-many relationships of its own lookups,
   * and its privileges (with their grants in every role). One transaction.
   * @throws OrgModelError 404 for an unknown table; 400 `refused` for a standard table; 400
   *   `dependency` while other tables' lookups or N:N relationships refer to it (delete those first).
   */
  async deleteCustomTable(org: Org, entityLogicalName: string, outer: DataverseStore = this.runtime.store): Promise<void> {
    const md = await this.runtime.loadMetadata(org, outer);
    const entity = md.entity(entityLogicalName);
    if (!entity) throw definitionErrors.entityNotFound(entityLogicalName);
    if (!entity.isCustomEntity || entity.isIntersect) throw definitionErrors.notDeletable(`The table '${entity.logicalName}' cannot be deleted: only custom tables can be deleted${entity.isIntersect ? " (delete its N:N relationship instead)" : ""}.`);
    const nav = navigationFor(md);
    // `referencing(t)`: the one-to-many relationships whose rows point at t.
    const referencing = nav.referencing(entity).filter((r) => r.referencingEntity !== entity.logicalName);
    const manyToMany = md.manyToManyRelationships().filter((r) => r.entity1LogicalName === entity.logicalName || r.entity2LogicalName === entity.logicalName);
    const dependents = [...referencing.map((r) => `relationship ${r.schemaName}`), ...manyToMany.map((r) => `relationship ${r.schemaName}`)];
    if (dependents.length > 0) throw definitionErrors.dependency(`Entity(${entity.logicalName})`, dependents);
    const own = md
      .entities()
      .flatMap((e) => nav.referencing(e))
      .filter((r) => r.referencingEntity === entity.logicalName && md.oneToManyDefinition(entity.logicalName, r.referencingAttribute));
    const privileges = privilegesFor(entity).map((p) => privilegeId(p.name));
    try {
      await outer.transaction(async (store) => {
        await store.dropRecordTable(org, entity);
        await store.deleteEntityDefinition(org, entity.logicalName);
        await removeFromSolutions(org, md, store, entityMetadataId(entity));
        for (const r of own) await store.deleteRelationshipDefinition(org, r.schemaName);
        if (privileges.length > 0 && !md.entities().some((e) => e !== entity && privilegesFor(e).some((p) => privileges.includes(privilegeId(p.name))))) {
          await store.deleteRows(org, md.entity("roleprivileges") as EntityMetadata, { kind: "in", column: "privilegeid", values: privileges });
          await store.deleteRows(org, md.entity("privilege") as EntityMetadata, { kind: "in", column: "privilegeid", values: privileges });
        }
      });
    } finally {
      this.runtime.forgetMetadata(org);
    }
  }

  /**
   * Deletes a custom column, what `DELETE EntityDefinitions(…)/Attributes(…)` does: its SQL column
   * with its values, and the column from the table's definition. One transaction.
   * @throws OrgModelError 404 for an unknown table or column; 400 `refused` for a column that is
   *   not custom, a lookup (delete its relationship instead) or the primary name; 400 `dependency`
   *   while an alternate key uses it.
   */
  async deleteCustomColumn(org: Org, entityLogicalName: string, attributeLogicalName: string, outer: DataverseStore = this.runtime.store): Promise<void> {
    const md = await this.runtime.loadMetadata(org, outer);
    const entity = md.entity(entityLogicalName);
    if (!entity) throw definitionErrors.entityNotFound(entityLogicalName);
    const attribute = md.attribute(entity, attributeLogicalName);
    if (!attribute) throw definitionErrors.attributeNotFound(entity.logicalName, attributeLogicalName);
    if (!attribute.isCustomAttribute || attribute.isPrimaryName || attribute.logicalName === entity.primaryIdAttribute) {
      throw definitionErrors.notDeletable(`The column '${attribute.logicalName}' of '${entity.logicalName}' cannot be deleted: only custom columns other than the primary name can be deleted.`);
    }
    if (md.oneToManyDefinition(entity.logicalName, attribute.logicalName)) {
      throw definitionErrors.notDeletable(`The lookup column '${attribute.logicalName}' belongs to a relationship: delete the relationship ${md.oneToManyDefinition(entity.logicalName, attribute.logicalName)?.schemaName ?? ""} instead.`);
    }
    const keys = (entity.keys ?? []).filter((k) => k.keyAttributes.includes(attribute.logicalName));
    if (keys.length > 0) throw definitionErrors.dependency(`Attribute(${attribute.logicalName})`, keys.map((k) => `alternate key ${k.logicalName}`));
    const updated: EntityMetadata = { ...entity, attributes: entity.attributes.filter((a) => a !== attribute) };
    try {
      await outer.transaction(async (store) => {
        await store.dropColumn(org, entity, attribute);
        await store.saveEntityDefinition(org, updated, this.clock.now());
      });
    } finally {
      this.runtime.forgetMetadata(org);
    }
  }

  /**
   * Deletes a custom relationship, what `DELETE RelationshipDefinitions(…)` does: an N:N one with its
   * intersect table and links, a one-to-many one with its lookup column (and the column's values).
   * One transaction.
   * @throws OrgModelError 404 for an unknown relationship; 400 `refused` for a standard one;
   *   400 `dependency` while an alternate key uses the lookup column.
   */
  async deleteRelationship(org: Org, schemaName: string, outer: DataverseStore = this.runtime.store): Promise<void> {
    const md = await this.runtime.loadMetadata(org, outer);
    const lower = schemaName.toLowerCase();
    const manyToMany = md.manyToManyRelationships().find((r) => r.schemaName.toLowerCase() === lower);
    const oneToMany = md
      .entities()
      .flatMap((e) => navigationFor(md).referencing(e))
      .find((r) => r.schemaName.toLowerCase() === lower);
    if (!manyToMany && !oneToMany) throw definitionErrors.relationshipNotFound(`SchemaName = ${schemaName}`);
    try {
      if (manyToMany) {
        if (!manyToMany.isCustomRelationship) throw definitionErrors.notDeletable(`The relationship '${manyToMany.schemaName}' cannot be deleted: only custom relationships can be deleted.`);
        const intersect = md.entity(manyToMany.intersectEntityName) as EntityMetadata;
        await outer.transaction(async (store) => {
          await store.dropRecordTable(org, intersect);
          await store.deleteEntityDefinition(org, intersect.logicalName);
          await store.deleteRelationshipDefinition(org, manyToMany.schemaName);
          await removeFromSolutions(org, md, store, metadataId("relationship", manyToMany.schemaName));
        });
        return;
      }
      const relationship = oneToMany as NonNullable<typeof oneToMany>;
      const definition = md.oneToManyDefinition(relationship.referencingEntity, relationship.referencingAttribute);
      if (!definition) throw definitionErrors.notDeletable(`The relationship '${relationship.schemaName}' cannot be deleted: only custom relationships can be deleted.`);
      const entity = md.entity(relationship.referencingEntity) as EntityMetadata;
      const lookup = md.attribute(entity, relationship.referencingAttribute) as AttributeMetadata;
      const keys = (entity.keys ?? []).filter((k) => k.keyAttributes.includes(lookup.logicalName));
      if (keys.length > 0) throw definitionErrors.dependency(`Attribute(${lookup.logicalName})`, keys.map((k) => `alternate key ${k.logicalName}`));
      await outer.transaction(async (store) => {
        await store.dropColumn(org, entity, lookup);
        await store.saveEntityDefinition(org, { ...entity, attributes: entity.attributes.filter((a) => a !== lookup) }, this.clock.now());
        await store.deleteRelationshipDefinition(org, definition.schemaName);
        await removeFromSolutions(org, md, store, metadataId("relationship", definition.schemaName));
      });
    } finally {
      this.runtime.forgetMetadata(org);
    }
  }

  /**
   * Deletes a global option set, what `DELETE GlobalOptionSetDefinitions(…)` does.
   * @throws OrgModelError 404 for an unknown set; 400 `dependency` while columns use it.
   */
  async deleteGlobalOptionSet(org: Org, name: string, outer: DataverseStore = this.runtime.store): Promise<void> {
    const md = await this.runtime.loadMetadata(org, outer);
    const set = md.optionSet(name);
    if (!set) throw definitionErrors.optionSetNotFound(`Name = ${name}`);
    const users = md.entities().flatMap((e) => e.attributes.filter((a) => a.globalOptionSet === set.name).map((a) => `column ${e.logicalName}.${a.logicalName}`));
    if (users.length > 0) throw definitionErrors.dependency(`OptionSet(${set.name})`, users);
    try {
      await outer.transaction(async (store) => {
        await store.deleteOptionSetDefinition(org, set.name);
        await removeFromSolutions(org, md, store, globalOptionSetId(set));
      });
    } finally {
      this.runtime.forgetMetadata(org);
    }
  }

  /**
   * Adds an alternate key to a table, what `POST EntityDefinitions(…)/Keys` does
   * (learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity): the key's
   * unique index and the table's updated definition in `entity_definitions`, in one transaction.
   * Dataverse builds the index in a system job and marks the key `Failed` when existing rows share
   * values; orgbox builds it at once and refuses the key instead.
   * @throws OrgModelError 404 for an unknown table, 400 for an invalid key (see {@link validateKey}),
   *   400 `duplicate` when existing rows already share the key's values.
   */
  async addAlternateKey(org: Org, entityLogicalName: string, build: (entity: EntityMetadata) => EntityKeyMetadata, outer: DataverseStore = this.runtime.store): Promise<{ entity: EntityMetadata; key: EntityKeyMetadata }> {
    const md = await this.runtime.loadMetadata(org, outer);
    const entity = md.entity(entityLogicalName);
    if (!entity) throw definitionErrors.entityNotFound(entityLogicalName);
    const key = build(entity);
    validateKey(entity, key);
    const updated: EntityMetadata = { ...entity, keys: [...(entity.keys ?? []), key] };
    try {
      await outer.transaction(async (store) => {
        await store.saveEntityDefinition(org, updated, this.clock.now());
        try {
          await store.createKeyIndex(org, entity, key);
        } catch {
          throw definitionErrors.duplicate(`The key '${key.logicalName}' cannot be created: records of table '${entity.logicalName}' already share values of (${key.keyAttributes.join(", ")}). Make the values unique and try again.`);
        }
      });
    } finally {
      this.runtime.forgetMetadata(org);
    }
    return { entity: updated, key };
  }

  /**
   * Removes an alternate key (`DELETE EntityDefinitions(…)/Keys(…)`): its index and its entry in the
   * table's stored definition.
   * @throws OrgModelError 404 for an unknown table or key.
   */
  async removeAlternateKey(org: Org, entityLogicalName: string, keyLogicalName: string, outer: DataverseStore = this.runtime.store): Promise<void> {
    const md = await this.runtime.loadMetadata(org, outer);
    const entity = md.entity(entityLogicalName);
    if (!entity) throw definitionErrors.entityNotFound(entityLogicalName);
    const key = (entity.keys ?? []).find((k) => k.logicalName === keyLogicalName);
    if (!key) throw definitionErrors.keyNotFound(entity.logicalName, keyLogicalName);
    const updated: EntityMetadata = { ...entity, keys: (entity.keys ?? []).filter((k) => k !== key) };
    try {
      await outer.transaction(async (store) => {
        await store.saveEntityDefinition(org, updated, this.clock.now());
        await store.dropKeyIndex(org, entity, key);
      });
    } finally {
      this.runtime.forgetMetadata(org);
    }
  }

  /**
   * Creates a relationship, what `POST RelationshipDefinitions` does
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-entity-relationships-using-web-api):
   * for an N:N relationship its intersect table (SQL table with the pair's indexes, definition in
   * `entity_definitions`), for a one-to-many relationship its lookup column ({@link addCustomColumn});
   * then the relationship's definition in `relationship_definitions`. One transaction; the definitions
   * survive restarts. `build` gets the org's current metadata and the next free object type code.
   * @throws DataverseError from `build` (the definition parser: 404 unknown table, 400 invalid body or taken names).
   */
  async createRelationship(org: Org, build: (md: OrgMetadata, objectTypeCode: number) => ManyToManyPlan | OneToManyPlan, outer: DataverseStore = this.runtime.store): Promise<RelationshipMetadata> {
    const md = await this.runtime.loadMetadata(org, outer);
    const plan = build(md, nextObjectTypeCode(md));
    try {
      await outer.transaction(async (store) => {
        if ("intersect" in plan) {
          const { intersect, relationship } = plan;
          await store.createIntersectTable(org, intersect, [relationship.entity1IntersectAttribute, relationship.entity2IntersectAttribute]);
          await store.saveEntityDefinition(org, intersect, this.clock.now());
        } else {
          await this.addCustomColumn(org, plan.relationship.referencingEntity, plan.lookup, store);
        }
        await store.saveRelationshipDefinition(org, plan.relationship, this.clock.now());
        await addToDefaultSolution(org, md, store, this.records, 10, metadataId("relationship", plan.relationship.schemaName));
      });
    } finally {
      this.runtime.forgetMetadata(org);
    }
    return plan.relationship;
  }

  /**
   * Creates a global option set, what `POST GlobalOptionSetDefinitions` does
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets): its
   * definition in `option_set_definitions`, which survives restarts. Choice columns then use it by
   * `GlobalOptionSet@odata.bind` and copy its options.
   * @throws OrgModelError 400 `duplicate` when the name is taken.
   */
  async createGlobalOptionSet(org: Org, optionSet: GlobalOptionSetMetadata, outer: DataverseStore = this.runtime.store): Promise<GlobalOptionSetMetadata> {
    const md = await this.runtime.loadMetadata(org, outer);
    if (md.optionSet(optionSet.name)) throw definitionErrors.duplicate(`An option set with the name '${optionSet.name}' already exists. Specify a unique name.`);
    try {
      await outer.transaction(async (store) => {
        await store.saveOptionSetDefinition(org, optionSet, this.clock.now());
        await addToDefaultSolution(org, md, store, this.records, 9, globalOptionSetId(optionSet));
      });
    } finally {
      this.runtime.forgetMetadata(org);
    }
    return optionSet;
  }
}

/** The `Default` solution's id (the same in every environment; see src/dataverse/solutions/service.ts). */
const DEFAULT_SOLUTION_ID = "fd140aaf-4df4-11dd-bd17-0019b9312238";

/**
 * Unmanaged customizations live in the Default solution: a new table, relationship or global option set
 * joins its component list (`solutioncomponent`, componenttype 1, 10 or 9), in the caller's transaction.
 */
async function addToDefaultSolution(org: Org, md: OrgMetadata, store: DataverseStore, records: RecordStamping, componentType: number, objectId: string): Promise<void> {
  const sc = md.entity("solutioncomponent");
  if (!sc) return;
  await store.insertRow(org, sc, records.stampNew(sc, { solutioncomponentid: newGuid(), solutionid: DEFAULT_SOLUTION_ID, componenttype: componentType, objectid: objectId, rootcomponentbehavior: 0, ismetadata: true }));
}

/** A deleted component leaves every solution's component list. */
async function removeFromSolutions(org: Org, md: OrgMetadata, store: DataverseStore, objectId: string): Promise<void> {
  const sc = md.entity("solutioncomponent");
  if (sc) await store.deleteRows(org, sc, eqExpr("objectid", objectId));
}

/** The object type code of the org's next custom table (custom tables start at 10000). */
function nextObjectTypeCode(md: OrgMetadata): number {
  const codes = md.entities().filter((e) => e.isCustomEntity).map((e) => e.objectTypeCode);
  return Math.max(9999, ...codes) + 1;
}

function eqExpr(column: string, value: string | null): Expr {
  return { kind: "compare", op: "eq", left: { kind: "column", name: column }, right: { kind: "value", value } };
}
