import { STANDARD_MANY_TO_MANY } from "./standard.ts";
import type { AttributeMetadata, EntityMetadata, GlobalOptionSetMetadata, ManyToManyRelationshipMetadata, OneToManyRelationshipMetadata, RelationshipMetadata } from "./types.ts";

/**
 * One org's tables and stored relationship definitions, indexed by logical name and entity set
 * name. Built once per metadata change.
 */
export class OrgMetadata {
  private readonly byLogical = new Map<string, EntityMetadata>();
  private readonly bySet = new Map<string, EntityMetadata>();
  private readonly attrs = new Map<string, Map<string, AttributeMetadata>>();
  private readonly nn: ManyToManyRelationshipMetadata[];
  private readonly oneToMany = new Map<string, OneToManyRelationshipMetadata>();
  private readonly globalOptionSets: Map<string, GlobalOptionSetMetadata>;

  /**
   * @param relationships the N:N relationships (the standard ones by default) and the one-to-many
   *   relationships created through `RelationshipDefinitions`; those naming a missing table are left out.
   */
  constructor(entities: EntityMetadata[], relationships: readonly RelationshipMetadata[] = STANDARD_MANY_TO_MANY, optionSets: readonly GlobalOptionSetMetadata[] = []) {
    this.globalOptionSets = new Map(optionSets.map((o) => [o.name, o]));
    for (const entity of entities) {
      this.byLogical.set(entity.logicalName, entity);
      this.bySet.set(entity.entitySetName, entity);
      this.attrs.set(entity.logicalName, new Map(entity.attributes.map((a) => [a.logicalName, a])));
    }
    this.nn = relationships.filter((r): r is ManyToManyRelationshipMetadata => r.kind === "ManyToMany" && [r.entity1LogicalName, r.entity2LogicalName, r.intersectEntityName].every((n) => this.byLogical.has(n)));
    for (const r of relationships) if (r.kind === "OneToMany") this.oneToMany.set(`${r.referencingEntity}.${r.referencingAttribute}`, r);
  }

  /** A global option set by name (`new_colors`). */
  optionSet(name: string): GlobalOptionSetMetadata | undefined {
    return this.globalOptionSets.get(name);
  }

  /** The org's global option sets, in creation order. */
  optionSets(): GlobalOptionSetMetadata[] {
    return [...this.globalOptionSets.values()];
  }

  /** Table by logical name (`account`). */
  entity(logicalName: string): EntityMetadata | undefined {
    return this.byLogical.get(logicalName);
  }

  /** Table by entity set name (`accounts`); case-sensitive, as Dataverse is. */
  entityBySet(setName: string): EntityMetadata | undefined {
    return this.bySet.get(setName);
  }

  attribute(entity: EntityMetadata, logicalName: string): AttributeMetadata | undefined {
    return this.attrs.get(entity.logicalName)?.get(logicalName);
  }

  entities(): EntityMetadata[] {
    return [...this.byLogical.values()];
  }

  /** The N:N relationships (standard and custom) whose tables exist. */
  manyToManyRelationships(): readonly ManyToManyRelationshipMetadata[] {
    return this.nn;
  }

  /** The one-to-many relationship created for lookup `attribute` of `entity` (`RelationshipDefinitions`), if any. */
  oneToManyDefinition(entity: string, attribute: string): OneToManyRelationshipMetadata | undefined {
    return this.oneToMany.get(`${entity}.${attribute}`);
  }
}
