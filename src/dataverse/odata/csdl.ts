import type { Operation, TypedName } from "../functions.ts";
import type { OrgMetadata } from "../metadata/registry.ts";
import type { AttributeMetadata, EntityMetadata } from "../metadata/types.ts";
import { navigationFor } from "../navigation.ts";
import { edmType } from "../validation.ts";
import { propertyName } from "./serializer.ts";

/**
 * The `$metadata` document: CSDL XML (OData v4.0 Part 3 CSDL, §3 `edmx:Edmx`, §6 `EntityType`,
 * §12 `Function`/`Action`, §13 `EntityContainer`), shaped like Dataverse's
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-service-documents):
 * one schema `Microsoft.Dynamics.CRM` (alias `mscrm`), an abstract `crmbaseentity` every table
 * derives from, one `EntityType` per table with its key, properties (lookups as `_x_value`) and
 * navigation properties, the operations with their response complex types, and the `System`
 * entity container.
 */

/** Escapes text for an XML attribute value. */
export function xmlEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

function element(name: string, attributes: Record<string, string | undefined>, children: string[] = []): string {
  const attrs = Object.entries(attributes)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${xmlEscape(v)}"`)
    .join("");
  return children.length === 0 ? `<${name}${attrs}/>` : `<${name}${attrs}>${children.join("")}</${name}>`;
}

function property(attribute: AttributeMetadata): string {
  const type = edmType(attribute);
  return element("Property", {
    Name: propertyName(attribute),
    Type: type,
    ...(type === "Edm.String" ? { Unicode: "false" } : {}),
    ...(type === "Edm.Decimal" ? { Scale: "Variable" } : {}),
  });
}

function typed(tag: "Parameter" | "Property", t: TypedName): string {
  return element(tag, { Name: t.name, Type: t.type, ...(t.nullable === false ? { Nullable: "false" } : {}) });
}

function entityType(md: OrgMetadata, entity: EntityMetadata): string {
  const nav = navigationFor(md);
  const children = [element("Key", {}, [element("PropertyRef", { Name: entity.primaryIdAttribute })]), ...entity.attributes.map(property)];
  for (const single of nav.singleValuedAll(entity)) {
    const target = single.targets.length === 1 ? md.entity(single.targets[0] as string) : undefined;
    // Polymorphic owner lookups point at the base type, as Dataverse's `ownerid` → `mscrm.principal`.
    const type = target ? `mscrm.${target.logicalName}` : "mscrm.crmbaseentity";
    const constraint = target ? [element("ReferentialConstraint", { Property: propertyName(single.attribute), ReferencedProperty: target.primaryIdAttribute })] : [];
    children.push(element("NavigationProperty", { Name: single.name, Type: type }, constraint));
  }
  for (const relationship of nav.referencing(entity)) {
    if (!md.entity(relationship.referencingEntity)) continue;
    children.push(element("NavigationProperty", { Name: relationship.referencedNavigation, Type: `Collection(mscrm.${relationship.referencingEntity})`, Partner: relationship.referencingNavigation }));
  }
  // N:N: a collection on each side, partnered with the other side's (a symmetric self-referential one is its own partner: none).
  for (const link of nav.manyToManyAll(entity)) {
    children.push(element("NavigationProperty", { Name: link.self.navigation, Type: `Collection(mscrm.${link.other.entity})`, ...(link.symmetric ? {} : { Partner: link.other.navigation }) }));
  }
  return element("EntityType", { Name: entity.logicalName, BaseType: "mscrm.crmbaseentity" }, children);
}

function entitySet(md: OrgMetadata, entity: EntityMetadata): string {
  const nav = navigationFor(md);
  const bindings: string[] = [];
  for (const single of nav.singleValuedAll(entity)) {
    const target = single.targets.length === 1 ? md.entity(single.targets[0] as string) : undefined;
    if (target && !target.isIntersect) bindings.push(element("NavigationPropertyBinding", { Path: single.name, Target: target.entitySetName }));
  }
  for (const relationship of nav.referencing(entity)) {
    const target = md.entity(relationship.referencingEntity);
    if (target && !target.isIntersect) bindings.push(element("NavigationPropertyBinding", { Path: relationship.referencedNavigation, Target: target.entitySetName }));
  }
  for (const link of nav.manyToManyAll(entity)) {
    const target = md.entity(link.other.entity);
    if (target) bindings.push(element("NavigationPropertyBinding", { Path: link.self.navigation, Target: target.entitySetName }));
  }
  return element("EntitySet", { Name: entity.entitySetName, EntityType: `Microsoft.Dynamics.CRM.${entity.logicalName}` }, bindings);
}

function operationElement(operation: Operation): string {
  const signature = operation.signature ?? {};
  const children = (signature.parameters ?? []).map((p) => typed("Parameter", p));
  if (signature.returnType) children.push(element("ReturnType", { Type: signature.returnType, Nullable: "false" }));
  return element(operation.kind === "function" ? "Function" : "Action", { Name: operation.name }, children);
}

/**
 * Builds the CSDL document of an org: its tables (standard and custom) and the registered
 * operations. Deterministic: the same metadata gives the same bytes.
 */
export function buildCsdl(md: OrgMetadata, operations: readonly Operation[]): string {
  const entities = md.entities();
  const complexTypes = new Map<string, TypedName[]>();
  for (const op of operations) for (const c of op.signature?.complexTypes ?? []) complexTypes.set(c.name, c.properties);
  const schema = element("Schema", { Namespace: "Microsoft.Dynamics.CRM", Alias: "mscrm", xmlns: "http://docs.oasis-open.org/odata/ns/edm" }, [
    element("EntityType", { Name: "crmbaseentity", Abstract: "true" }),
    ...entities.map((e) => entityType(md, e)),
    ...[...complexTypes].map(([name, properties]) => element("ComplexType", { Name: name }, properties.map((p) => typed("Property", p)))),
    ...operations.map(operationElement),
    element("EntityContainer", { Name: "System" }, [
      ...entities.filter((e) => !e.isIntersect).map((e) => entitySet(md, e)),
      ...operations.map((op) =>
        op.kind === "function"
          ? element("FunctionImport", { Name: op.name, Function: `Microsoft.Dynamics.CRM.${op.name}`, IncludeInServiceDocument: "false" })
          : element("ActionImport", { Name: op.name, Action: `Microsoft.Dynamics.CRM.${op.name}` }),
      ),
    ]),
  ]);
  return `<?xml version="1.0" encoding="utf-8"?>${element("edmx:Edmx", { Version: "4.0", "xmlns:edmx": "http://docs.oasis-open.org/odata/ns/edmx" }, [element("edmx:DataServices", {}, [schema])])}`;
}
