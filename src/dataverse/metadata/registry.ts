import type { AttributeMetadata, EntityMetadata } from "./types.ts";

/** One org's tables, indexed by logical name and entity set name. Built once per metadata change. */
export class OrgMetadata {
  private readonly byLogical = new Map<string, EntityMetadata>();
  private readonly bySet = new Map<string, EntityMetadata>();
  private readonly attrs = new Map<string, Map<string, AttributeMetadata>>();

  constructor(entities: EntityMetadata[]) {
    for (const entity of entities) {
      this.byLogical.set(entity.logicalName, entity);
      this.bySet.set(entity.entitySetName, entity);
      this.attrs.set(entity.logicalName, new Map(entity.attributes.map((a) => [a.logicalName, a])));
    }
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
}
