import type { OrgMetadata } from "./metadata/registry.ts";
import { isLookupType, type AttributeMetadata, type EntityMetadata } from "./metadata/types.ts";

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
}

/** A single-valued navigation property of a table: a lookup column seen from one of its targets. */
export interface SingleNavigation {
  name: string;
  attribute: AttributeMetadata;
  /** Tables the property may point to (two for `ownerid`: systemuser and team). */
  targets: string[];
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

  constructor(md: OrgMetadata) {
    for (const entity of md.entities()) {
      const navs = new Map<string, SingleNavigation>();
      this.single.set(entity.logicalName, navs);
      for (const attribute of entity.attributes) {
        if (!isLookupType(attribute.type) || attribute.logicalName === entity.primaryIdAttribute) continue;
        const targets = attribute.targets ?? [];
        if (attribute.type === "Owner") {
          navs.set(attribute.logicalName, { name: attribute.logicalName, attribute, targets });
        } else {
          for (const target of targets) {
            const name = singleNavigationName(entity, attribute, target);
            navs.set(name, { name, attribute, targets: [target] });
          }
        }
        for (const target of targets) {
          const known = KNOWN[`${entity.logicalName}.${attribute.logicalName}.${target}`];
          const system = !attribute.isValidForCreate && !attribute.isValidForUpdate;
          const schemaName = known?.schemaName ?? `${target}_${entity.logicalName}_${attribute.logicalName}`;
          const relationship: OneToMany = {
            schemaName,
            referencedEntity: target,
            referencingEntity: entity.logicalName,
            referencingAttribute: attribute.logicalName,
            referencedNavigation: schemaName,
            referencingNavigation: attribute.type === "Owner" ? attribute.logicalName : singleNavigationName(entity, attribute, target),
            // Owner and system (audit, owning*) lookups never lose their target silently.
            cascadeDelete: known?.cascadeDelete ?? (attribute.type === "Owner" || system || entity.isIntersect ? "Restrict" : "RemoveLink"),
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
