import type { OrgMetadata } from "./metadata/registry.ts";
import { ReadScope, type Expr } from "./store.ts";
import { isLookupType, type AttributeMetadata, type CascadeConfiguration, type EntityMetadata, type ManyToManyRelationshipMetadata } from "./metadata/types.ts";

/**
 * What deleting the referenced (parent) record does to the referencing rows of a
 * one-to-many relationship: `CascadeConfiguration.Delete`
 * (learn.microsoft.com/power-apps/developer/data-platform/configure-entity-relationship-cascading-behavior).
 */
export type CascadeDelete = "Cascade" | "RemoveLink" | "Restrict";

/**
 * A one-to-many relationship derived from a lookup column: `referencing.attribute`
 * points at `referenced`.
 */
export interface OneToMany {
  schemaName: string;
  referencedEntity: string;
  referencingEntity: string;
  referencingAttribute: string;
  /** Collection-valued navigation property on the referenced table (`contact_customer_accounts`). */
  referencedNavigation: string;
  /** Single-valued navigation property on the referencing table (`parentcustomerid_account`). */
  referencingNavigation: string;
  cascadeDelete: CascadeDelete;
  /** The full `CascadeConfiguration` of a relationship created through `RelationshipDefinitions`. */
  cascade?: CascadeConfiguration;
}

/** A single-valued navigation property of a table: a lookup column seen from one of its targets. */
export interface SingleNavigation {
  name: string;
  attribute: AttributeMetadata;
  /** Tables the property may point to (two for `ownerid`: systemuser and team). */
  targets: string[];
}

/** One side of a many-to-many relationship: its table, its column in the intersect table and its navigation property. */
export interface ManyToManySide {
  entity: string;
  /** Column of the intersect table holding this side's record id. */
  intersectColumn: string;
  /** Collection-valued navigation property on this side's table (to the other side's records). */
  navigation: string;
}

/**
 * An N:N relationship seen from one of its tables (`self`): `{set}(id)/{self.navigation}` lists
 * the `other` side's records linked through the intersect table
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api).
 * A self-referential relationship with one navigation name for both sides (its schema name, the
 * default) is `symmetric`: a link counts in both directions.
 */
export interface ManyToManyNavigation {
  relationship: ManyToManyRelationshipMetadata;
  intersect: EntityMetadata;
  self: ManyToManySide;
  other: ManyToManySide;
  symmetric: boolean;
}

/**
 * Relationship names and delete behaviour of the standard tables, from the
 * "One-To-Many Relationships" sections of the table reference
 * (learn.microsoft.com/power-apps/developer/data-platform/reference/entities/account#onetomany).
 * Keyed `referencingEntity.attribute.referencedEntity`.
 */
const KNOWN: Record<string, { schemaName: string; cascadeDelete: CascadeDelete }> = {
  "contact.parentcustomerid.account": { schemaName: "contact_customer_accounts", cascadeDelete: "Cascade" },
  "contact.parentcustomerid.contact": { schemaName: "contact_customer_contacts", cascadeDelete: "Cascade" },
  "account.primarycontactid.contact": { schemaName: "account_primary_contact", cascadeDelete: "RemoveLink" },
  "account.parentaccountid.account": { schemaName: "account_parent_account", cascadeDelete: "RemoveLink" },
  "lead.parentaccountid.account": { schemaName: "lead_parent_account", cascadeDelete: "RemoveLink" },
  "lead.parentcontactid.contact": { schemaName: "lead_parent_contact", cascadeDelete: "RemoveLink" },
  "lead.customerid.account": { schemaName: "lead_customer_accounts", cascadeDelete: "Cascade" },
  "lead.customerid.contact": { schemaName: "lead_customer_contacts", cascadeDelete: "Cascade" },
  "lead.qualifyingopportunityid.opportunity": { schemaName: "lead_qualifying_opportunity", cascadeDelete: "RemoveLink" },
  "lead.masterid.lead": { schemaName: "lead_master_lead", cascadeDelete: "RemoveLink" },
  "contact.masterid.contact": { schemaName: "contact_master_contact", cascadeDelete: "RemoveLink" },
  "opportunity.customerid.account": { schemaName: "opportunity_customer_accounts", cascadeDelete: "Cascade" },
  "opportunity.customerid.contact": { schemaName: "opportunity_customer_contacts", cascadeDelete: "Cascade" },
  "opportunity.parentaccountid.account": { schemaName: "opportunity_parent_account", cascadeDelete: "RemoveLink" },
  "opportunity.parentcontactid.contact": { schemaName: "opportunity_parent_contact", cascadeDelete: "RemoveLink" },
  ...regarding("task", "Tasks"),
  ...regarding("email", "Emails"),
  ...regarding("phonecall", "Phonecalls"),
  ...Object.fromEntries(["Account", "Contact", "Lead", "Opportunity"].map((t) => [`annotation.objectid.${t.toLowerCase()}`, { schemaName: `${t}_Annotation`, cascadeDelete: "Cascade" as const }])),
};

/** `Account_Tasks`, `Contact_Emails`, …: the regarding relationships of an activity table (deleting the parent deletes its activities). */
function regarding(activity: string, plural: string): Record<string, { schemaName: string; cascadeDelete: CascadeDelete }> {
  return Object.fromEntries(["Account", "Contact", "Lead", "Opportunity"].map((t) => [`${activity}.regardingobjectid.${t.toLowerCase()}`, { schemaName: `${t}_${plural}`, cascadeDelete: "Cascade" as const }]));
}

/**
 * Name of the single-valued navigation property of `entity` for `attribute` pointing at `target`:
 * the column name for single-target lookups, `{column}_{target}` for Customer and other multi-target
 * lookups (`parentcustomerid_account`, `objectid_contact`), and `regardingobjectid_{target}_{activity}`
 * for an activity's regarding column, as Dataverse names them (`regardingobjectid_account_task`;
 * learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/task#single-valued-navigation-properties).
 */
function singleNavigationName(entity: EntityMetadata, attribute: AttributeMetadata, target: string): string {
  if (attribute.logicalName === "regardingobjectid") return `regardingobjectid_${target}_${entity.logicalName}`;
  return attribute.type === "Customer" || ((attribute.targets?.length ?? 0) > 1 && attribute.type !== "Owner") ? `${attribute.logicalName}_${target}` : attribute.logicalName;
}

/**
 * The navigation model of an org, derived from its lookup columns: single-valued
 * properties per table and one-to-many relationships per referenced table.
 * Built lazily once per {@link OrgMetadata} instance.
 */
export class NavigationModel {
  private readonly single = new Map<string, Map<string, SingleNavigation>>();
  private readonly byReferenced = new Map<string, OneToMany[]>();
  private readonly manyToManyByEntity = new Map<string, Map<string, ManyToManyNavigation>>();

  constructor(md: OrgMetadata) {
    for (const relationship of md.manyToManyRelationships()) {
      const intersect = md.entity(relationship.intersectEntityName) as EntityMetadata;
      const one: ManyToManySide = { entity: relationship.entity1LogicalName, intersectColumn: relationship.entity1IntersectAttribute, navigation: relationship.entity1NavigationPropertyName };
      const two: ManyToManySide = { entity: relationship.entity2LogicalName, intersectColumn: relationship.entity2IntersectAttribute, navigation: relationship.entity2NavigationPropertyName };
      const symmetric = one.entity === two.entity && one.navigation === two.navigation;
      const views: [ManyToManySide, ManyToManySide][] = symmetric ? [[one, two]] : [[one, two], [two, one]];
      for (const [self, other] of views) {
        const navs = this.manyToManyByEntity.get(self.entity) ?? new Map<string, ManyToManyNavigation>();
        navs.set(self.navigation, { relationship, intersect, self, other, symmetric });
        this.manyToManyByEntity.set(self.entity, navs);
      }
    }
    for (const entity of md.entities()) {
      const navs = new Map<string, SingleNavigation>();
      this.single.set(entity.logicalName, navs);
      for (const attribute of entity.attributes) {
        if (!isLookupType(attribute.type) || attribute.logicalName === entity.primaryIdAttribute) continue;
        const targets = attribute.targets ?? [];
        // A lookup created with its relationship (POST RelationshipDefinitions) carries the names and cascade rules given there.
        const defined = md.oneToManyDefinition(entity.logicalName, attribute.logicalName);
        const navigationName = (target: string) => (defined?.referencedEntity === target ? defined.referencingEntityNavigationPropertyName : singleNavigationName(entity, attribute, target));
        if (attribute.type === "Owner") {
          navs.set(attribute.logicalName, { name: attribute.logicalName, attribute, targets });
        } else {
          for (const target of targets) {
            const name = navigationName(target);
            navs.set(name, { name, attribute, targets: [target] });
          }
        }
        for (const target of targets) {
          const known = KNOWN[`${entity.logicalName}.${attribute.logicalName}.${target}`];
          const definition = defined?.referencedEntity === target ? defined : undefined;
          const system = !attribute.isValidForCreate && !attribute.isValidForUpdate;
          const schemaName = definition?.schemaName ?? known?.schemaName ?? `${target}_${entity.logicalName}_${attribute.logicalName}`;
          const relationship: OneToMany = {
            schemaName,
            referencedEntity: target,
            referencingEntity: entity.logicalName,
            referencingAttribute: attribute.logicalName,
            referencedNavigation: definition?.referencedEntityNavigationPropertyName ?? schemaName,
            referencingNavigation: attribute.type === "Owner" ? attribute.logicalName : navigationName(target),
            // Owner and system (audit, owning*) lookups never lose their target silently.
            cascadeDelete: (definition?.cascadeConfiguration.Delete as CascadeDelete | undefined) ?? known?.cascadeDelete ?? (attribute.type === "Owner" || system || entity.isIntersect ? "Restrict" : "RemoveLink"),
            ...(definition ? { cascade: definition.cascadeConfiguration } : {}),
          };
          const list = this.byReferenced.get(target) ?? [];
          list.push(relationship);
          this.byReferenced.set(target, list);
        }
      }
    }
  }

  /** The single-valued navigation property `name` of `entity`, if any. */
  singleValued(entity: EntityMetadata, name: string): SingleNavigation | undefined {
    return this.single.get(entity.logicalName)?.get(name);
  }

  /** The single-valued navigation properties of `entity`. */
  singleValuedAll(entity: EntityMetadata): SingleNavigation[] {
    return [...(this.single.get(entity.logicalName)?.values() ?? [])];
  }

  /** The one-to-many relationship whose collection-valued property on `entity` is `name`. */
  collectionValued(entity: EntityMetadata, name: string): OneToMany | undefined {
    return this.byReferenced.get(entity.logicalName)?.find((r) => r.referencedNavigation === name);
  }

  /** The N:N relationship whose collection-valued navigation property on `entity` is `name`. */
  manyToMany(entity: EntityMetadata, name: string): ManyToManyNavigation | undefined {
    return this.manyToManyByEntity.get(entity.logicalName)?.get(name);
  }

  /** The N:N navigation properties of `entity`. */
  manyToManyAll(entity: EntityMetadata): ManyToManyNavigation[] {
    return [...(this.manyToManyByEntity.get(entity.logicalName)?.values() ?? [])];
  }

  /** Relationships in which `entity` is the referenced (parent) table. */
  referencing(entity: EntityMetadata): OneToMany[] {
    return this.byReferenced.get(entity.logicalName) ?? [];
  }
}

const models = new WeakMap<OrgMetadata, NavigationModel>();

/** The (cached) navigation model of an org's metadata. */
export function navigationFor(md: OrgMetadata): NavigationModel {
  let model = models.get(md);
  if (!model) {
    model = new NavigationModel(md);
    models.set(md, model);
  }
  return model;
}

/**
 * Intersect rows of an N:N relationship carry no ownership: a link is readable when both records it
 * links are, and the reads that cross one scope both ends (the outer row and the linked record).
 */
export const INTERSECT_ROWS = ReadScope.system("N:N intersect rows carry no ownership; both linked records are scoped by the read");

/**
 * The predicate "is linked to record `selfId` through `nn`" on rows of the other side's table
 * (`other`): `EXISTS` over the intersect table, in either direction when the relationship is symmetric.
 */
export function linkedTo(nn: ManyToManyNavigation, other: EntityMetadata, selfId: string): Expr {
  const through = (self: ManyToManySide, far: ManyToManySide): Expr => ({
    kind: "exists",
    entity: nn.intersect,
    innerColumn: far.intersectColumn,
    outerColumn: other.primaryIdAttribute,
    where: { kind: "compare", op: "eq", left: { kind: "column", name: self.intersectColumn }, right: { kind: "value", value: selfId } },
    scope: INTERSECT_ROWS,
  });
  const forward = through(nn.self, nn.other);
  return nn.symmetric ? { kind: "or", left: forward, right: through(nn.other, nn.self) } : forward;
}
