import { createHash } from "node:crypto";
import type { Clock } from "../../common/clock.ts";
import { newGuid } from "../../common/ids.ts";
import { DataverseError } from "../errors.ts";
import { parseAttributeDefinition, parseEntityDefinition } from "../metadata/custom.ts";
import { parseKeyDefinition } from "../metadata/keys.ts";
import { globalOptionSetId, parseGlobalOptionSet, resolveGlobalOptionSet } from "../metadata/option-sets.ts";
import type { OrgMetadata } from "../metadata/registry.ts";
import { parseManyToManyDefinition, parseOneToManyDefinition } from "../metadata/relationships.ts";
import { COMPONENT_TYPE } from "../metadata/standard.ts";
import type { EntityMetadata, ManyToManyRelationshipMetadata, OneToManyRelationshipMetadata } from "../metadata/types.ts";
import { entityMetadataId, metadataId } from "../metadata/wire.ts";
import type { Org, Row } from "../model.ts";
import { OrgModelError } from "../model-error.ts";
import { navigationFor } from "../navigation.ts";
import type { OrgCustomization } from "../org/customization.ts";
import type { OrgRuntime } from "../org/runtime.ts";
import type { RecordStamping } from "../org/stamping.ts";
import { DEPTH, widestDepth, type Depth } from "../security/privileges.ts";
import type { DataverseStore, Expr } from "../store.ts";
import { buildSolutionZip, parseSolutionZip, type PackagedRole, type ParsedSolution, type RootComponent } from "./file.ts";

const eq = (column: string, value: string | number | boolean | null): Expr => ({ kind: "compare", op: "eq", left: { kind: "column", name: column }, right: { kind: "value", value } });
const and = (left: Expr, right: Expr): Expr => ({ kind: "and", left, right });
const isTrue = (value: unknown) => value === true || value === 1;
/** `modifiedby` of the platform's own writes (the SYSTEM user's nil id). */
const SYSTEM_USER = "00000000-0000-0000-0000-000000000000";

/** A stable GUID from a text (publishers and solutions every org has). */
function stableId(text: string): string {
  const h = createHash("sha1").update(`orgbox:solution:${text}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The id of the `Default` solution, the same in every Dataverse environment. */
export const DEFAULT_SOLUTION_ID = "fd140aaf-4df4-11dd-bd17-0019b9312238";
/** The id of the org's default publisher ("Default Publisher for <org>"), the same in every Dataverse environment. */
export const DEFAULT_PUBLISHER_ID = "d21aab71-79e7-11dd-8874-00188b01e34f";

/**
 * Solution errors, with Dataverse's codes (learn.microsoft.com/power-apps/developer/data-platform/reference/web-service-error-codes).
 */
export const solutionErrors = {
  /** `CannotOverwriteActiveComponent` 0x8004F016: a managed solution cannot take over an unmanaged (or another solution's) component. */
  cannotOverwrite: (kind: string, name: string) =>
    new DataverseError(400, "0x8004F016", `A managed solution cannot overwrite the ${kind} component ${name} which has an unmanaged base instance. The most likely scenario for this error is that an unmanaged solution has installed a new unmanaged ${kind} component on the target system, and now a managed solution from the same publisher is trying to install that same ${kind} component as managed. This will cause an invalid layering of solutions on the target system and is not allowed.`),
  /** `CannotUninstallWithDependencies` 0x8004F01D. */
  dependencies: (details: string[]) => new DataverseError(400, "0x8004F01D", `Solution dependencies exist, cannot uninstall. DependencyCount : ${details.length} ${details.join("; ")}`),
  /** `CannotDeleteMetadata` 0x8004F032: the operation is refused on a managed component (orgbox models managed components as not customizable). */
  managed: (operation: string, component: string, name: string, id: string) =>
    new DataverseError(400, "0x8004F032", `The '${operation}' operation on the current component(name='${component}', id='${id}') failed during managed property evaluation of condition: 'Managed Property Name: iscustomizable; Component Name: ${component}; Attribute Name: iscustomizable;'. '${name}' is part of a managed solution: change it in the solution and import a new version.`),
  /** `CannotUpdateManagedSolution` 0x8004F024. */
  managedSolution: (name: string) => new DataverseError(400, "0x8004F024", `Cannot update solution '${name}' because it is a managed solution.`),
  notFound: (name: string) => new DataverseError(404, "0x80040217", `solution With Name = ${name} Does Not Exist`),
  /** Importing a lower or equal version of an installed managed solution (`ImportSolutionManagedToUnmanagedMismatch`-like). */
  version: (name: string, installed: string, incoming: string) => new DataverseError(400, "0x80048068", `The solution '${name}' is already installed with version ${installed}; a managed solution can only be updated by a higher version (got ${incoming}).`),
  unmanagedOverManaged: (name: string) => new DataverseError(400, "0x80048033", `The solution is already installed on this system as a managed solution and the package you are attempting to install is not managed. You cannot update a managed solution with an unmanaged package (solution '${name}').`),
};

/** Compares dotted versions (`1.0.0.1` < `1.0.1`). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** One line of an import job's result (`<result result="success|warning|failure" errorcode errortext>`). */
interface ComponentResult {
  kind: "entity" | "attribute" | "optionSet" | "relationship" | "role" | "key" | "node";
  name: string;
  result: "success" | "warning" | "failure";
  code: string;
  text: string;
}

/** Options of {@link OrgSolutions.importSolution} (the `ImportSolution` parameters). */
export interface ImportOptions {
  overwriteUnmanagedCustomizations?: boolean;
  importJobId?: string;
  convertToManaged?: boolean;
  /** `systemuser` id recorded as the importer (createdby). */
  callerId?: string;
}

/** What {@link OrgSolutions.importSolution} reports. */
export interface ImportOutcome {
  importJobId: string;
  solutionId?: string;
  /** The error that rolled the import back (also recorded in the import job); undefined on success. */
  error?: DataverseError;
}

/** A component of a solution (`solutioncomponent`): its type code and `objectid`. */
interface Component {
  type: number;
  objectId: string;
}

const escXml = (value: string): string => value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/**
 * Solutions: the `publisher`/`solution`/`solutioncomponent`/`importjob` records, `ExportSolution`,
 * `ImportSolution` (one transaction: all or nothing), managed layers (managed components refuse
 * changes outside their solution) and uninstall (learn.microsoft.com/power-platform/alm/solution-concepts-alm).
 */
export class OrgSolutions {
  private readonly runtime: OrgRuntime;
  private readonly records: RecordStamping;
  private readonly customization: OrgCustomization;
  private readonly clock: Clock;

  constructor(runtime: OrgRuntime, records: RecordStamping, customization: OrgCustomization, clock: Clock) {
    this.runtime = runtime;
    this.records = records;
    this.customization = customization;
    this.clock = clock;
  }

  private table(org: Org, name: string): EntityMetadata {
    return this.runtime.metadataFor(org).entity(name) as EntityMetadata;
  }

  /**
   * The publishers and solutions every org has: "Default Publisher for <org>" (prefix `new`, option
   * value prefix 10000), "CDS Default Publisher" and the read-only MicrosoftCorporation publisher; the
   * `Default`, `Active` and `Basic` solutions. Idempotent: only what is missing is inserted (orgs
   * created by an older build get them on first use).
   */
  async ensureBaseline(org: Org, store: DataverseStore = this.runtime.store): Promise<void> {
    const publisher = this.table(org, "publisher");
    const solution = this.table(org, "solution");
    const present = await store.countRows(org, { entity: solution, where: eq("solutionid", DEFAULT_SOLUTION_ID), limit: 1 });
    if (present > 0) return;
    const cdsPrefix = `cr${createHash("sha1").update(org.id).digest("hex").slice(0, 3)}`;
    const publishers: Row[] = [
      { publisherid: DEFAULT_PUBLISHER_ID, uniquename: `DefaultPublisher${org.name}`, friendlyname: `Default Publisher for ${org.name}`, customizationprefix: "new", customizationoptionvalueprefix: 10000, isreadonly: false },
      { publisherid: stableId(`${org.id}:cds`), uniquename: "CDSDefaultPublisher", friendlyname: "CDS Default Publisher", customizationprefix: cdsPrefix, customizationoptionvalueprefix: 10000 + (parseInt(cdsPrefix.slice(2), 16) % 90000), isreadonly: false },
      { publisherid: stableId("microsoftcorporation"), uniquename: "MicrosoftCorporation", friendlyname: "MicrosoftCorporation", customizationprefix: "", customizationoptionvalueprefix: 0, isreadonly: true },
    ];
    const now = new Date(this.clock.now()).toISOString();
    const solutions: Row[] = [
      { solutionid: DEFAULT_SOLUTION_ID, uniquename: "Default", friendlyname: "Default Solution", version: "1.0", publisherid: DEFAULT_PUBLISHER_ID, ismanaged: false, isvisible: false, installedon: now, solutiontype: 0 },
      { solutionid: stableId(`${org.id}:active`), uniquename: "Active", friendlyname: "Active Solution", version: "1.0", publisherid: DEFAULT_PUBLISHER_ID, ismanaged: false, isvisible: false, installedon: now, solutiontype: 0 },
      { solutionid: stableId(`${org.id}:basic`), uniquename: "Basic", friendlyname: "Common Data Services Default Solution", version: "1.0.0.0", publisherid: publishers[1]?.publisherid, ismanaged: false, isvisible: true, installedon: now, solutiontype: 0 },
    ];
    await store.transaction(async (tx) => {
      for (const row of publishers) {
        if ((await tx.countRows(org, { entity: publisher, where: eq("publisherid", String(row.publisherid)), limit: 1 })) === 0) await tx.insertRow(org, publisher, this.records.stampNew(publisher, row));
      }
      for (const row of solutions) {
        if ((await tx.countRows(org, { entity: solution, where: eq("solutionid", String(row.solutionid)), limit: 1 })) === 0) await tx.insertRow(org, solution, this.records.stampNew(solution, row));
      }
    });
  }

  /** The solution named `uniqueName` (case-insensitive, as Dataverse compares names), or undefined. */
  async findSolution(org: Org, uniqueName: string, store: DataverseStore = this.runtime.store): Promise<Row | undefined> {
    const rows = await store.selectRows(org, { entity: this.table(org, "solution"), columns: ["solutionid", "uniquename", "friendlyname", "version", "ismanaged", "publisherid", "description"], orderBy: [] });
    return rows.find((r) => String(r.uniquename).toLowerCase() === uniqueName.toLowerCase());
  }

  /** The solutions of the org, by unique name (what `orgbox solution list` shows). */
  async listSolutions(org: Org): Promise<{ id: string; uniqueName: string; friendlyName: string; version: string; managed: boolean }[]> {
    await this.ensureBaseline(org);
    const rows = await this.runtime.store.selectRows(org, { entity: this.table(org, "solution"), columns: ["solutionid", "uniquename", "friendlyname", "version", "ismanaged"], orderBy: [{ column: "uniquename", descending: false }] });
    return rows.map((r) => ({ id: String(r.solutionid), uniqueName: String(r.uniquename), friendlyName: String(r.friendlyname), version: String(r.version), managed: isTrue(r.ismanaged) }));
  }

  private async components(org: Org, store: DataverseStore, solutionId: string): Promise<Component[]> {
    const rows = await store.selectRows(org, { entity: this.table(org, "solutioncomponent"), columns: ["componenttype", "objectid"], where: eq("solutionid", solutionId), orderBy: [] });
    return rows.map((r) => ({ type: Number(r.componenttype), objectId: String(r.objectid) }));
  }

  /**
   * The managed solution holding the component with `objectId`, if any (a managed component: it
   * cannot be changed or deleted outside its solution).
   */
  async managedOwner(org: Org, objectId: string, store: DataverseStore = this.runtime.store): Promise<string | undefined> {
    const md = this.runtime.metadataFor(org);
    const rows = await store.selectRows(org, { entity: md.entity("solutioncomponent") as EntityMetadata, columns: ["solutionid"], where: eq("objectid", objectId.toLowerCase()), orderBy: [] });
    if (rows.length === 0) return undefined;
    const solutions = await store.selectRows(org, { entity: md.entity("solution") as EntityMetadata, columns: ["uniquename", "ismanaged"], where: { kind: "in", column: "solutionid", values: rows.map((r) => String(r.solutionid)) }, orderBy: [] });
    const managed = solutions.find((s) => isTrue(s.ismanaged));
    return managed ? String(managed.uniquename) : undefined;
  }

  /**
   * Refuses a change to a managed component outside its solution.
   * @throws DataverseError 400 `0x8004F032` when a managed solution holds the component.
   */
  async assertNotManaged(org: Org, objectId: string, operation: string, component: string, name: string, store: DataverseStore = this.runtime.store): Promise<void> {
    if (await this.managedOwner(org, objectId, store)) throw solutionErrors.managed(operation, component, name, objectId);
  }

  /** The `objectid` of a table (its MetadataId). */
  static entityId(logicalName: string): string {
    return metadataId("entity", logicalName);
  }

  /**
   * Adds a component to an unmanaged solution (`AddSolutionComponent`); a table adds its relationships'
   * intersect tables nothing: relationships are components of their own.
   * @throws DataverseError 404 for an unknown solution, 400 `0x8004F024` for a managed one, 400 for an unknown component.
   */
  async addComponent(org: Org, input: { solutionUniqueName: string; componentType: number; componentId: string }, store: DataverseStore = this.runtime.store): Promise<string> {
    await this.ensureBaseline(org, store);
    const solution = await this.findSolution(org, input.solutionUniqueName, store);
    if (!solution) throw solutionErrors.notFound(input.solutionUniqueName);
    if (isTrue(solution.ismanaged)) throw solutionErrors.managedSolution(String(solution.uniquename));
    const md = await this.runtime.loadMetadata(org, store);
    const id = input.componentId.toLowerCase();
    if (!(await this.describe(org, md, store, { type: input.componentType, objectId: id }))) throw new DataverseError(400, "0x8004F021", `Cannot find solution component ${input.componentType} ${id} to add to solution ${String(solution.uniquename)}.`);
    const sc = this.table(org, "solutioncomponent");
    const where = and(eq("solutionid", String(solution.solutionid)), eq("objectid", id));
    const [existing] = await store.selectRows(org, { entity: sc, columns: ["solutioncomponentid"], where, orderBy: [], limit: 1 });
    if (existing) return String(existing.solutioncomponentid);
    const row = this.records.stampNew(sc, { solutioncomponentid: newGuid(), solutionid: String(solution.solutionid), componenttype: input.componentType, objectid: id, rootcomponentbehavior: 0, ismetadata: input.componentType !== COMPONENT_TYPE.Role });
    await store.insertRow(org, sc, row);
    return String(row.solutioncomponentid);
  }

  /**
   * Removes a component from an unmanaged solution (`RemoveSolutionComponent`); the component stays.
   * @throws DataverseError 404 unknown solution; 400 `0x8004F000` for Default; 400 `0x8004F021` when it is not in the solution.
   */
  async removeComponent(org: Org, input: { solutionUniqueName: string; componentId: string }, store: DataverseStore = this.runtime.store): Promise<void> {
    const solution = await this.findSolution(org, input.solutionUniqueName, store);
    if (!solution) throw solutionErrors.notFound(input.solutionUniqueName);
    if (String(solution.solutionid) === DEFAULT_SOLUTION_ID) throw new DataverseError(400, "0x8004F000", "A Solution Component cannot be removed from the Default Solution.");
    if (isTrue(solution.ismanaged)) throw solutionErrors.managedSolution(String(solution.uniquename));
    const removed = await store.deleteRows(org, this.table(org, "solutioncomponent"), and(eq("solutionid", String(solution.solutionid)), eq("objectid", input.componentId.toLowerCase())));
    if (removed === 0) throw new DataverseError(400, "0x8004F021", `Cannot find solution component ${input.componentId} in solution ${String(solution.uniquename)}.`);
  }

  /** What a component is in this org: a table, relationship, option set or role (undefined when gone). */
  private async describe(org: Org, md: OrgMetadata, store: DataverseStore, c: Component): Promise<{ kind: "entity"; entity: EntityMetadata } | { kind: "oneToMany"; relationship: OneToManyRelationshipMetadata } | { kind: "manyToMany"; relationship: ManyToManyRelationshipMetadata } | { kind: "optionSet"; name: string } | { kind: "role"; id: string } | undefined> {
    if (c.type === COMPONENT_TYPE.Entity) {
      const entity = md.entities().find((e) => e.isCustomEntity && !e.isIntersect && entityMetadataId(e) === c.objectId);
      return entity ? { kind: "entity", entity } : undefined;
    }
    if (c.type === COMPONENT_TYPE.EntityRelationship) {
      const nn = md.manyToManyRelationships().find((r) => r.isCustomRelationship && metadataId("relationship", r.schemaName) === c.objectId);
      if (nn) return { kind: "manyToMany", relationship: nn };
      const nav = navigationFor(md);
      const one = md
        .entities()
        .flatMap((e) => nav.referencing(e))
        .map((r) => md.oneToManyDefinition(r.referencingEntity, r.referencingAttribute))
        .find((r) => r !== undefined && metadataId("relationship", r.schemaName) === c.objectId);
      return one ? { kind: "oneToMany", relationship: one } : undefined;
    }
    if (c.type === COMPONENT_TYPE.OptionSet) {
      const set = md.optionSets().find((s) => globalOptionSetId(s) === c.objectId);
      return set ? { kind: "optionSet", name: set.name } : undefined;
    }
    if (c.type === COMPONENT_TYPE.Role) {
      const n = await store.countRows(org, { entity: md.entity("role") as EntityMetadata, where: eq("roleid", c.objectId), limit: 1 });
      return n > 0 ? { kind: "role", id: c.objectId } : undefined;
    }
    return undefined;
  }

  /**
   * `ExportSolution`: the solution's components as a solution zip, managed or unmanaged
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/exportsolution).
   * @throws DataverseError 404 for an unknown solution; 400 `0x8004F024`-like for a managed one (Dataverse exports only unmanaged solutions).
   */
  async exportSolution(org: Org, uniqueName: string, managed: boolean, store: DataverseStore = this.runtime.store): Promise<Uint8Array> {
    await this.ensureBaseline(org, store);
    const solution = await this.findSolution(org, uniqueName, store);
    if (!solution) throw solutionErrors.notFound(uniqueName);
    if (isTrue(solution.ismanaged)) throw new DataverseError(400, "0x80048033", `The solution '${String(solution.uniquename)}' is managed: managed solutions cannot be exported.`);
    const md = await this.runtime.loadMetadata(org, store);
    const [publisher] = await store.selectRows(org, { entity: this.table(org, "publisher"), columns: ["uniquename", "friendlyname", "customizationprefix", "customizationoptionvalueprefix", "description"], where: eq("publisherid", String(solution.publisherid)), orderBy: [], limit: 1 });
    const entities: EntityMetadata[] = [];
    const oneToMany: OneToManyRelationshipMetadata[] = [];
    const manyToMany: ManyToManyRelationshipMetadata[] = [];
    const optionSets = [];
    const roles: PackagedRole[] = [];
    const rootComponents: RootComponent[] = [];
    for (const c of await this.components(org, store, String(solution.solutionid))) {
      const found = await this.describe(org, md, store, c);
      if (!found) continue;
      if (found.kind === "entity") {
        entities.push(found.entity);
        rootComponents.push({ type: c.type, schemaName: found.entity.logicalName });
      } else if (found.kind === "oneToMany") {
        oneToMany.push(found.relationship);
        rootComponents.push({ type: c.type, schemaName: found.relationship.schemaName });
      } else if (found.kind === "manyToMany") {
        manyToMany.push(found.relationship);
        rootComponents.push({ type: c.type, schemaName: found.relationship.schemaName });
      } else if (found.kind === "optionSet") {
        optionSets.push(md.optionSet(found.name) as NonNullable<ReturnType<OrgMetadata["optionSet"]>>);
        rootComponents.push({ type: c.type, schemaName: found.name });
      } else {
        roles.push(await this.packagedRole(org, md, store, found.id));
        rootComponents.push({ type: c.type, id: found.id });
      }
    }
    // Lookups of a table's one-to-many relationships in the solution are columns of that table: keep them out of the table's own list.
    const lookupColumns = new Set(oneToMany.map((r) => `${r.referencingEntity}.${r.referencingAttribute}`));
    const packagedEntities = entities.map((e) => ({ ...e, attributes: e.attributes.filter((a) => !lookupColumns.has(`${e.logicalName}.${a.logicalName}`) || a.type === "Lookup") }));
    return buildSolutionZip(
      {
        uniqueName: String(solution.uniquename),
        displayName: String(solution.friendlyname),
        version: String(solution.version),
        managed,
        ...(solution.description ? { description: String(solution.description) } : {}),
        publisher: { uniqueName: String(publisher?.uniquename), displayName: String(publisher?.friendlyname), prefix: String(publisher?.customizationprefix ?? "new"), optionValuePrefix: Number(publisher?.customizationoptionvalueprefix ?? 10000) },
        rootComponents,
        entities: packagedEntities,
        lookupLabels: new Map(),
        oneToMany,
        manyToMany,
        optionSets,
        roles,
        ignored: [],
      },
      {
        schemaOf: (name) => md.entity(name)?.schemaName ?? name,
        lookupSchemaOf: (r) => md.attribute(md.entity(r.referencingEntity) as EntityMetadata, r.referencingAttribute)?.schemaName ?? r.referencingAttribute,
        intersectSchemaOf: (r) => md.entity(r.intersectEntityName)?.schemaName ?? r.intersectEntityName,
      },
    );
  }

  private async packagedRole(org: Org, md: OrgMetadata, store: DataverseStore, roleId: string): Promise<PackagedRole> {
    const [role] = await store.selectRows(org, { entity: md.entity("role") as EntityMetadata, columns: ["name"], where: eq("roleid", roleId), orderBy: [], limit: 1 });
    const grants = await store.selectRows(org, { entity: md.entity("roleprivileges") as EntityMetadata, columns: ["privilegeid", "privilegedepthmask"], where: eq("roleid", roleId), orderBy: [] });
    const names = grants.length === 0 ? [] : await store.selectRows(org, { entity: md.entity("privilege") as EntityMetadata, columns: ["privilegeid", "name"], where: { kind: "in", column: "privilegeid", values: grants.map((g) => String(g.privilegeid)) }, orderBy: [] });
    const byId = new Map(names.map((n) => [String(n.privilegeid), String(n.name)]));
    const privileges = grants
      .map((g) => ({ name: byId.get(String(g.privilegeid)) ?? "", depth: widestDepth(Number(g.privilegedepthmask)) ?? "Basic" }))
      .filter((p) => p.name !== "")
      .sort((a, b) => a.name.localeCompare(b.name));
    return { id: roleId, name: String(role?.name), privileges };
  }

  /**
   * `ImportSolution`: installs (or upgrades) a solution from its zip in one store transaction —
   * global option sets, tables and their columns and keys, relationships, roles, the publisher, the
   * solution and its components. A conflicting component rolls everything back. Either way an
   * `importjob` record (id `ImportJobId` when given) says what happened: `data` holds the per-component
   * results as Dataverse's import job XML, `progress` 100 and `completedon`.
   * Managed: the components join the managed solution (they refuse changes outside it); a higher
   * version of an installed managed solution upgrades it (new columns and components are added, data
   * kept). Unmanaged: the components join the solution and the Default solution.
   * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/importsolution)
   * @returns the import job id, and the error when the import failed (the caller answers with it).
   * @throws DataverseError 412 `0x80040237` when `ImportJobId` names an existing import job (nothing is imported).
   */
  async importSolution(org: Org, bytes: Uint8Array, options: ImportOptions = {}): Promise<ImportOutcome> {
    const importJobId = (options.importJobId ?? newGuid()).toLowerCase();
    const startedOn = this.clock.now();
    const results: ComponentResult[] = [];
    let parsed: ParsedSolution | undefined;
    let error: DataverseError | undefined;
    let solutionId: string | undefined;
    await this.ensureBaseline(org);
    if (options.importJobId && (await this.runtime.store.countRows(org, { entity: this.table(org, "importjob"), where: eq("importjobid", importJobId), limit: 1 })) > 0) {
      throw new DataverseError(412, "0x80040237", `An import job with id ${importJobId} already exists: give each ImportSolution a new ImportJobId.`);
    }
    try {
      parsed = parseSolutionZip(bytes);
      const pkg = parsed;
      const managed = pkg.managed || options.convertToManaged === true;
      solutionId = await this.runtime.store.transaction((tx) => this.install(org, tx, pkg, managed, results, options));
    } catch (caught) {
      error = caught instanceof DataverseError ? caught : caught instanceof OrgModelError ? new DataverseError(caught.status, "0x80044331", caught.message) : new DataverseError(500, "0x80040216", `The import failed: ${(caught as Error).message}`);
      const last = results.at(-1);
      if (last && last.result === "success" && last.text === "pending") last.result = "failure";
      for (const r of results) if (r.text === "pending") Object.assign(r, { result: "failure", code: error.code, text: error.message });
      if (!results.some((r) => r.result === "failure")) results.push({ kind: "node", name: parsed?.uniqueName ?? "solution", result: "failure", code: error.code, text: error.message });
    } finally {
      this.runtime.forgetMetadata(org);
    }
    await this.recordImportJob(org, importJobId, parsed, results, startedOn, solutionId, error, options.callerId);
    return { importJobId, ...(solutionId ? { solutionId } : {}), ...(error ? { error } : {}) };
  }

  private async install(org: Org, tx: DataverseStore, pkg: ParsedSolution, managed: boolean, results: ComponentResult[], options: ImportOptions): Promise<string> {
    const step = async (kind: ComponentResult["kind"], name: string, work: () => Promise<void>) => {
      const entry: ComponentResult = { kind, name, result: "success", code: "0", text: "pending" };
      results.push(entry);
      await work();
      entry.text = "";
    };
    for (const ignored of pkg.ignored) results.push({ kind: "node", name: ignored, result: "warning", code: "0", text: `orgbox does not model ${ignored}: carried in the file and ignored.` });

    // The solution being upgraded, if any.
    const existing = await this.findSolution(org, pkg.uniqueName, tx);
    if (existing && isTrue(existing.ismanaged) && !managed) throw solutionErrors.unmanagedOverManaged(pkg.uniqueName);
    if (existing && isTrue(existing.ismanaged) && compareVersions(pkg.version, String(existing.version)) <= 0) throw solutionErrors.version(pkg.uniqueName, String(existing.version), pkg.version);
    if (existing && !isTrue(existing.ismanaged) && managed) throw solutionErrors.cannotOverwrite("Solution", pkg.uniqueName);
    const owned = new Set(existing ? (await this.components(org, tx, String(existing.solutionid))).map((c) => c.objectId) : []);
    const added: Component[] = [];
    /** A component already in the org: fine when this solution owns it (upgrade) or the import is unmanaged over unmanaged; a conflict otherwise. */
    const claim = async (kind: string, name: string, objectId: string): Promise<"new" | "mine"> => {
      const exists = await this.componentExists(org, tx, kind, name);
      if (!exists) return "new";
      if (owned.has(objectId)) return "mine";
      const managedOwner = await this.managedOwner(org, objectId, tx);
      if (managedOwner) throw new DataverseError(400, "0x8004F016", `The ${kind} '${name}' is part of the managed solution '${managedOwner}': the solution '${pkg.uniqueName}' cannot install it too.`);
      if (managed) throw solutionErrors.cannotOverwrite(kind, name);
      return "mine";
    };

    for (const body of pkg.optionSets) {
      const set = parseGlobalOptionSet(body);
      const id = globalOptionSetId(set);
      await step("optionSet", set.name, async () => {
        if ((await claim("OptionSet", set.name, id)) === "new") await this.customization.createGlobalOptionSet(org, set, tx);
      });
      added.push({ type: COMPONENT_TYPE.OptionSet, objectId: id });
    }
    for (const t of pkg.tables) {
      const id = metadataId("entity", t.logicalName);
      await step("entity", t.logicalName, async () => {
        if ((await claim("Entity", t.logicalName, id)) === "new") await this.customization.createCustomTable(org, (code) => parseEntityDefinition(t.body, code), tx);
        for (const column of t.columns) {
          const md = await this.runtime.loadMetadata(org, tx);
          const entity = md.entity(t.logicalName) as EntityMetadata;
          if (md.attribute(entity, column.logicalName)) continue;
          await this.customization.addCustomColumn(org, t.logicalName, parseAttributeDefinition(column.body, (ref) => resolveGlobalOptionSet(md, ref)), tx);
          results.push({ kind: "attribute", name: `${t.logicalName}.${column.logicalName}`, result: "success", code: "0", text: "" });
        }
      });
      added.push({ type: COMPONENT_TYPE.Entity, objectId: id });
    }
    for (const r of pkg.relationships) {
      const id = metadataId("relationship", r.schemaName);
      await step("relationship", r.schemaName, async () => {
        if ((await claim("EntityRelationship", r.schemaName, id)) === "mine") return;
        await this.customization.createRelationship(org, (md, code) => (r.kind === "ManyToMany" ? parseManyToManyDefinition(r.body, md, code) : parseOneToManyDefinition(r.body, md)), tx);
      });
      added.push({ type: COMPONENT_TYPE.EntityRelationship, objectId: id });
    }
    for (const t of pkg.tables) {
      for (const keyBody of t.keys) {
        const md = await this.runtime.loadMetadata(org, tx);
        const entity = md.entity(t.logicalName) as EntityMetadata;
        const key = parseKeyDefinition(keyBody, entity);
        if ((entity.keys ?? []).some((k) => k.logicalName === key.logicalName)) continue;
        await step("key", `${t.logicalName}.${key.logicalName}`, async () => {
          await this.customization.addAlternateKey(org, t.logicalName, () => key, tx);
        });
      }
    }
    for (const role of pkg.roles) {
      await step("role", role.name, async () => {
        await this.installRole(org, tx, role, managed, owned.has(role.id), pkg.uniqueName);
      });
      added.push({ type: COMPONENT_TYPE.Role, objectId: role.id });
    }

    // Publisher, solution and components.
    const publisherId = await this.upsertPublisher(org, tx, pkg);
    const solution = this.table(org, "solution");
    const id = existing ? String(existing.solutionid) : newGuid();
    const values: Row = { friendlyname: pkg.displayName, version: pkg.version, publisherid: publisherId, description: pkg.description ?? null, ismanaged: managed, isvisible: true, installedon: new Date(this.clock.now()).toISOString(), solutiontype: 0 };
    if (existing) await tx.updateRows(org, solution, eq("solutionid", id), this.records.stampUpdate(solution, values, {}, options.callerId ?? SYSTEM_USER));
    else await tx.insertRow(org, solution, this.records.stampNew(solution, { solutionid: id, uniquename: pkg.uniqueName, ...values }, options.callerId));
    const sc = this.table(org, "solutioncomponent");
    const targets = managed ? [id] : [id, DEFAULT_SOLUTION_ID];
    for (const target of targets) {
      for (const c of added) {
        const where = and(eq("solutionid", target), eq("objectid", c.objectId));
        if ((await tx.countRows(org, { entity: sc, where, limit: 1 })) > 0) continue;
        await tx.insertRow(org, sc, this.records.stampNew(sc, { solutioncomponentid: newGuid(), solutionid: target, componenttype: c.type, objectid: c.objectId, rootcomponentbehavior: 0, ismetadata: c.type !== COMPONENT_TYPE.Role }, options.callerId));
      }
    }
    return id;
  }

  private async componentExists(org: Org, store: DataverseStore, kind: string, name: string): Promise<boolean> {
    const md = await this.runtime.loadMetadata(org, store);
    if (kind === "OptionSet") return md.optionSet(name) !== undefined;
    if (kind === "Entity") return md.entity(name) !== undefined;
    if (kind === "EntityRelationship") {
      const lower = name.toLowerCase();
      if (md.manyToManyRelationships().some((r) => r.schemaName.toLowerCase() === lower)) return true;
      const nav = navigationFor(md);
      return md.entities().some((e) => nav.referencing(e).some((r) => r.schemaName.toLowerCase() === lower));
    }
    return false;
  }

  /** Creates a solution's role (keeping its id, as Dataverse does) or, on upgrade, replaces its privileges. */
  private async installRole(org: Org, tx: DataverseStore, role: PackagedRole, managed: boolean, mine: boolean, solutionName: string): Promise<void> {
    const md = await this.runtime.loadMetadata(org, tx);
    const roles = md.entity("role") as EntityMetadata;
    const rp = md.entity("roleprivileges") as EntityMetadata;
    const [existing] = await tx.selectRows(org, { entity: roles, columns: ["roleid", "name"], where: eq("roleid", role.id), orderBy: [], limit: 1 });
    if (existing && !mine) {
      const owner = await this.managedOwner(org, role.id, tx);
      if (owner || managed) throw new DataverseError(400, "0x8004F016", `The role '${role.name}' (${role.id}) already exists in this org${owner ? ` as part of the managed solution '${owner}'` : " as an unmanaged role"}: the solution '${solutionName}' cannot install it.`);
    }
    const names = role.privileges.map((p) => p.name);
    const known = names.length === 0 ? [] : await tx.selectRows(org, { entity: md.entity("privilege") as EntityMetadata, columns: ["privilegeid", "name", "canbebasic", "canbelocal", "canbedeep", "canbeglobal"], where: { kind: "in", column: "name", values: names }, orderBy: [] });
    const byName = new Map(known.map((r) => [String(r.name).toLowerCase(), r]));
    const grants: { privilegeid: string; depth: Depth }[] = [];
    for (const p of role.privileges) {
      const row = byName.get(p.name.toLowerCase());
      if (!row) throw new DataverseError(400, "0x80040217", `The role '${role.name}' needs the privilege '${p.name}', which does not exist in this org (a table or feature the solution depends on is missing).`);
      const allowed = row[`canbe${p.depth.toLowerCase()}`];
      // Dataverse raises an organization-owned table's privilege to Global rather than failing.
      grants.push({ privilegeid: String(row.privilegeid), depth: isTrue(allowed) ? p.depth : "Global" });
    }
    if (existing) {
      await tx.updateRows(org, roles, eq("roleid", role.id), this.records.stampUpdate(roles, { name: role.name, ismanaged: managed }, {}, SYSTEM_USER));
      await tx.deleteRows(org, rp, eq("roleid", role.id));
    } else {
      const bu = await tx.selectRows(org, { entity: md.entity("businessunit") as EntityMetadata, columns: ["businessunitid"], where: eq("parentbusinessunitid", null), orderBy: [], limit: 1 });
      await tx.insertRow(org, roles, this.records.stampNew(roles, { roleid: role.id, name: role.name, businessunitid: String(bu[0]?.businessunitid), parentrootroleid: role.id, roletemplateid: null, ismanaged: managed }));
    }
    for (const g of grants) await tx.insertRow(org, rp, this.records.stampNew(rp, { roleprivilegeid: newGuid(), roleid: role.id, privilegeid: g.privilegeid, privilegedepthmask: DEPTH[g.depth] }));
  }

  private async upsertPublisher(org: Org, tx: DataverseStore, pkg: ParsedSolution): Promise<string> {
    const publisher = this.table(org, "publisher");
    const rows = await tx.selectRows(org, { entity: publisher, columns: ["publisherid", "uniquename"], orderBy: [] });
    const found = rows.find((r) => String(r.uniquename).toLowerCase() === pkg.publisher.uniqueName.toLowerCase());
    if (found) return String(found.publisherid);
    const id = newGuid();
    await tx.insertRow(org, publisher, this.records.stampNew(publisher, { publisherid: id, uniquename: pkg.publisher.uniqueName, friendlyname: pkg.publisher.displayName, customizationprefix: pkg.publisher.prefix, customizationoptionvalueprefix: pkg.publisher.optionValuePrefix, isreadonly: false }));
    return id;
  }

  private async recordImportJob(org: Org, id: string, pkg: ParsedSolution | undefined, results: ComponentResult[], startedOn: number, solutionId: string | undefined, error: DataverseError | undefined, callerId: string | undefined): Promise<void> {
    const stamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
    const now = this.clock.now();
    const result = (r: { result: string; code: string; text: string }) => `<result result="${r.result}" errorcode="${escXml(r.code)}" errortext="${escXml(r.text)}" datetime="${stamp(now)}" />`;
    const group = (kind: ComponentResult["kind"], container: string, tag: string) =>
      `<${container}>${results
        .filter((r) => r.kind === kind)
        .map((r) => `<${tag} id="${escXml(r.name)}" LocalizedName="${escXml(r.name)}" OriginalName="${escXml(r.name)}" processed="true">${result(r)}</${tag}>`)
        .join("")}</${container}>`;
    const overall = error ? { result: "failure", code: error.code, text: error.message } : { result: results.some((r) => r.result === "warning") ? "warning" : "success", code: "0", text: "" };
    const data = [
      `<importexportxml start="${stamp(startedOn)}" stop="${stamp(now)}" progress="100" processed="true">`,
      `<solutionManifests><solutionManifest languagecode="1033" id="${escXml(pkg?.uniqueName ?? "")}" LocalizedName="${escXml(pkg?.displayName ?? "")}" processed="true">`,
      `<UniqueName>${escXml(pkg?.uniqueName ?? "")}</UniqueName><LocalizedNames><LocalizedName description="${escXml(pkg?.displayName ?? "")}" languagecode="1033" /></LocalizedNames><Version>${escXml(pkg?.version ?? "")}</Version><Managed>${pkg?.managed ? 1 : 0}</Managed>`,
      `${result(overall)}</solutionManifest></solutionManifests>`,
      group("optionSet", "optionSets", "optionSet"),
      group("entity", "entities", "entity"),
      group("attribute", "attributes", "attribute"),
      group("relationship", "relationships", "relationship"),
      group("key", "entityKeys", "entityKey"),
      group("role", "roles", "role"),
      group("node", "nodes", "node"),
      `</importexportxml>`,
    ].join("");
    const importjob = this.table(org, "importjob");
    await this.runtime.store.insertRow(
      org,
      importjob,
      this.records.stampNew(importjob, { importjobid: id, name: pkg?.uniqueName ?? "Customizations", solutionname: pkg?.uniqueName ?? null, solutionid: solutionId ?? null, data, progress: 100, startedon: stamp(startedOn), completedon: stamp(now), operationcontext: "Import" }, callerId),
    );
  }

  /**
   * The import job's results as text (`RetrieveFormattedImportJobResults`): one line per component.
   * Dataverse answers with an Excel XML spreadsheet; orgbox answers with the same facts as XML rows.
   * @throws DataverseError 404 for an unknown import job.
   */
  async formattedImportJobResults(org: Org, importJobId: string, store: DataverseStore = this.runtime.store): Promise<string> {
    const [job] = await store.selectRows(org, { entity: this.table(org, "importjob"), columns: ["data"], where: eq("importjobid", importJobId.toLowerCase()), orderBy: [], limit: 1 });
    if (!job) throw new DataverseError(404, "0x80040217", `importjob With Id = ${importJobId} Does Not Exist`);
    const data = String(job.data ?? "");
    const rows = [...data.matchAll(/<(\w+) id="([^"]*)"[^>]*processed="true"><result result="(\w+)" errorcode="([^"]*)" errortext="([^"]*)"/g)].map(([, tag, name, result, code, textValue]) => `<Row><Cell>${tag}</Cell><Cell>${name}</Cell><Cell>${result}</Cell><Cell>${code}</Cell><Cell>${textValue}</Cell></Row>`);
    return `<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="Components" xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Table><Row><Cell>Type</Cell><Cell>Name</Cell><Cell>Result</Cell><Cell>Error Code</Cell><Cell>Description</Cell></Row>${rows.join("")}</Table></Worksheet></Workbook>`;
  }

  /**
   * Records a finished system job (`asyncoperation`) for an asynchronous solution message: orgbox
   * runs the work at once, so the job is `Completed` (statecode 3) with `Succeeded` (30) or `Failed`
   * (31, `message` and `friendlymessage` holding the error). `data` keeps an export's file (base64)
   * for `DownloadSolutionExportData`.
   * @returns the job's id (`AsyncOperationId`).
   */
  async recordAsyncOperation(org: Org, input: { name: string; operationType: 203 | 204; startedOn: number; error?: DataverseError; data?: string; callerId?: string }): Promise<string> {
    const id = newGuid();
    const table = this.table(org, "asyncoperation");
    const stamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
    await this.runtime.store.insertRow(
      org,
      table,
      this.records.stampNew(
        table,
        {
          asyncoperationid: id,
          name: input.name,
          operationtype: input.operationType,
          statecode: 3,
          statuscode: input.error ? 31 : 30,
          message: input.error ? `${input.error.code}: ${input.error.message}` : null,
          friendlymessage: input.error ? input.error.message : null,
          data: input.data ?? null,
          startedon: stamp(input.startedOn),
          completedon: stamp(this.clock.now()),
        },
        input.callerId,
      ),
    );
    return id;
  }

  /**
   * The file of a finished `ExportSolutionAsync` job (`DownloadSolutionExportData`).
   * @throws DataverseError 404 for an unknown export job, 400 for a job that failed.
   */
  async exportedFile(org: Org, exportJobId: string, store: DataverseStore = this.runtime.store): Promise<string> {
    const [job] = await store.selectRows(org, { entity: this.table(org, "asyncoperation"), columns: ["data", "statuscode", "operationtype", "message"], where: eq("asyncoperationid", exportJobId.toLowerCase()), orderBy: [], limit: 1 });
    if (!job || Number(job.operationtype) !== 204) throw new DataverseError(404, "0x80040217", `asyncoperation With Id = ${exportJobId} Does Not Exist`);
    if (Number(job.statuscode) !== 30 || typeof job.data !== "string") throw new DataverseError(400, "0x80040203", `The export job ${exportJobId} failed: ${String(job.message ?? "")}`);
    return job.data;
  }

  /**
   * Uninstalls a managed solution (deleting its `solution` record, `UninstallSolutionAsync`): removes
   * its roles (with their assignments), relationships, tables (with their rows) and option sets, then
   * its components and the solution, in one transaction. Deleting an unmanaged solution removes only
   * the solution and its component list (the components stay, as in Dataverse).
   * @throws DataverseError 404 unknown solution; 400 `0x8004F005` for Default/Active/Basic;
   *   400 `0x8004F01D` while components of other solutions (or unmanaged customizations) depend on its components.
   */
  async uninstall(org: Org, solutionId: string, outer: DataverseStore = this.runtime.store): Promise<void> {
    const id = solutionId.toLowerCase();
    try {
      await outer.transaction(async (tx) => {
        const [solution] = await tx.selectRows(org, { entity: this.table(org, "solution"), columns: ["solutionid", "uniquename", "ismanaged"], where: eq("solutionid", id), orderBy: [], limit: 1 });
        if (!solution) throw new DataverseError(404, "0x80040217", `solution With Id = ${id} Does Not Exist`);
        if (["default", "active", "basic"].includes(String(solution.uniquename).toLowerCase())) throw new DataverseError(400, "0x8004F005", "Attempting to delete a restricted solution.");
        const sc = this.table(org, "solutioncomponent");
        const components = await this.components(org, tx, id);
        if (isTrue(solution.ismanaged)) {
          const md = await this.runtime.loadMetadata(org, tx);
          const described = [];
          for (const c of components) {
            const found = await this.describe(org, md, tx, c);
            if (found) described.push(found);
          }
          const mine = new Set(components.map((c) => c.objectId));
          const tables = new Set(described.flatMap((d) => (d.kind === "entity" ? [d.entity.logicalName] : [])));
          const dependents: string[] = [];
          // Relationships and lookups of other solutions (or unmanaged ones) pointing at its tables.
          const nav = navigationFor(md);
          for (const e of md.entities()) {
            for (const r of nav.referencing(e)) {
              const def = md.oneToManyDefinition(r.referencingEntity, r.referencingAttribute);
              if (def && tables.has(def.referencedEntity) && !mine.has(metadataId("relationship", def.schemaName))) dependents.push(`Relationship ${def.schemaName} requires Entity ${def.referencedEntity}`);
            }
          }
          for (const r of md.manyToManyRelationships()) {
            if ((tables.has(r.entity1LogicalName) || tables.has(r.entity2LogicalName)) && !mine.has(metadataId("relationship", r.schemaName))) dependents.push(`Relationship ${r.schemaName} requires its tables`);
          }
          for (const set of md.optionSets()) {
            if (!mine.has(globalOptionSetId(set))) continue;
            const users = md.entities().flatMap((e) => (tables.has(e.logicalName) ? [] : e.attributes.filter((a) => a.globalOptionSet === set.name).map((a) => `Attribute ${e.logicalName}.${a.logicalName} requires OptionSet ${set.name}`)));
            dependents.push(...users);
          }
          if (dependents.length > 0) throw solutionErrors.dependencies(dependents);
          for (const d of described) {
            if (d.kind !== "role") continue;
            for (const link of ["systemuserroles", "teamroles", "roleprivileges"]) await tx.deleteRows(org, md.entity(link) as EntityMetadata, eq("roleid", d.id));
            await tx.deleteRows(org, md.entity("role") as EntityMetadata, eq("roleid", d.id));
          }
          for (const d of described) if (d.kind === "manyToMany" || d.kind === "oneToMany") await this.customization.deleteRelationship(org, d.relationship.schemaName, tx);
          for (const d of described) if (d.kind === "entity") await this.customization.deleteCustomTable(org, d.entity.logicalName, tx);
          for (const d of described) if (d.kind === "optionSet") await this.customization.deleteGlobalOptionSet(org, d.name, tx);
          // Its components leave every solution (the Default solution's list too).
          if (components.length > 0) await tx.deleteRows(org, sc, { kind: "in", column: "objectid", values: components.map((c) => c.objectId) });
        }
        await tx.deleteRows(org, sc, eq("solutionid", id));
        await tx.deleteRows(org, this.table(org, "solution"), eq("solutionid", id));
      });
    } finally {
      this.runtime.forgetMetadata(org);
    }
  }
}
