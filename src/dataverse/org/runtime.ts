import type { Clock } from "../../common/clock.ts";
import { OrgMetadata } from "../metadata/registry.ts";
import { STANDARD_MANY_TO_MANY, STANDARD_TABLES } from "../metadata/standard.ts";
import type { EntityMetadata } from "../metadata/types.ts";
import type { Org } from "../model.ts";
import { SecurityStateCache } from "../security/cache.ts";
import type { DataverseStore } from "../store.ts";

/** Metadata of an org without custom tables (shared: it never changes). */
const STANDARD_METADATA = new OrgMetadata(STANDARD_TABLES);

/**
 * What a Web API request needs at run time, kept across requests: the store (reporting
 * security-relevant writes to the security state cache), org lookups, each org's metadata (loaded
 * once, dropped on a definition change), the per-caller security state and the clock.
 */
export class OrgRuntime {
  private readonly metadata = new Map<string, OrgMetadata>();
  /** Bumped whenever cached metadata is dropped, so a load racing with a change is not cached. */
  private metadataGeneration = 0;

  /**
   * The store every Dataverse read and write goes through (the Web API's too): the one given,
   * reporting security-relevant writes to {@link securityState}.
   */
  readonly store: DataverseStore;
  /** The per-caller security state of every org, kept across requests (see {@link SecurityStateCache}). */
  readonly securityState: SecurityStateCache;
  private readonly clock: Clock;

  /** @param onChange see {@link SecurityStateCache}. */
  constructor(store: DataverseStore, clock: Clock, onChange?: () => Promise<void>) {
    this.securityState = new SecurityStateCache(onChange);
    this.store = this.securityState.track(store);
    this.clock = clock;
  }

  /**
   * The org's metadata as last loaded by {@link loadMetadata}: the standard tables plus its custom
   * ones. Before the org's custom definitions were loaded (and after {@link invalidateCaches}) it is
   * the standard tables only, so a custom table is then unknown (a 404 or an error naming it, never
   * a wrong table). Orgs handed out by {@link findOrg} and {@link listOrgs} are loaded already.
   */
  metadataFor(org: Org): OrgMetadata {
    return this.metadata.get(org.id) ?? STANDARD_METADATA;
  }

  /**
   * The org's metadata, loading its custom table and relationship definitions (`entity_definitions`,
   * `relationship_definitions`) once and
   * caching the result until a definition changes or {@link invalidateCaches} runs. `store` is the
   * one to read through (a `$batch` change set's transaction).
   */
  async loadMetadata(org: Org, store: DataverseStore = this.store): Promise<OrgMetadata> {
    const cached = this.metadata.get(org.id);
    if (cached) return cached;
    const generation = this.metadataGeneration;
    const custom = await store.listEntityDefinitions(org);
    const relationships = await store.listRelationshipDefinitions(org);
    const optionSets = await store.listOptionSetDefinitions(org);
    // A stored definition of a standard table (one that got custom columns) replaces the built-in one.
    const stored = new Map(custom.map((e) => [e.logicalName, e]));
    const md =
      custom.length === 0 && relationships.length === 0 && optionSets.length === 0
        ? STANDARD_METADATA
        : new OrgMetadata([...STANDARD_TABLES.map((e) => extendStandard(e, stored.get(e.logicalName))), ...custom.filter((e) => e.isCustomEntity)], [...STANDARD_MANY_TO_MANY, ...relationships], optionSets);
    // A definition change or a snapshot restore while loading makes this result stale: do not cache it.
    if (generation === this.metadataGeneration) this.metadata.set(org.id, md);
    return md;
  }

  /** Now on the service's clock (ms since the epoch, UTC): what `$filter` date functions and record stamps read. */
  now(): number {
    return this.clock.now();
  }

  /**
   * Forgets in-memory state that mirrors the store (per-org metadata, org lookups and the
   * cached security state of callers), after the store was restored from a snapshot. The
   * `versionnumber` counter is kept: it only moves forward, so restored rows never share a
   * version with later writes.
   */
  invalidateCaches(): void {
    this.metadata.clear();
    this.metadataGeneration++;
    this.securityState.invalidateAll();
  }

  async findOrg(name: string): Promise<Org | undefined> {
    const org = await this.store.findOrg(name);
    if (org) await this.loadMetadata(org);
    return org;
  }

  async listOrgs(): Promise<Org[]> {
    const orgs = await this.store.listOrgs();
    for (const org of orgs) await this.loadMetadata(org);
    return orgs;
  }

  /** Drops the org's cached metadata after a definition change. */
  forgetMetadata(org: Org): void {
    this.metadata.delete(org.id);
    this.metadataGeneration++;
  }
}

/**
 * A standard table with what an org added to it (custom columns, alternate keys), from its stored
 * definition. The built-in columns come from this build, so a data folder written by an older build
 * gets the standard columns added since (see `upgradeOrg`).
 */
function extendStandard(builtin: EntityMetadata, stored: EntityMetadata | undefined): EntityMetadata {
  if (!stored) return builtin;
  const names = new Set(builtin.attributes.map((a) => a.logicalName));
  const added = stored.attributes.filter((a) => !names.has(a.logicalName));
  return { ...builtin, attributes: [...builtin.attributes, ...added], ...(stored.keys && stored.keys.length > 0 ? { keys: stored.keys } : {}) };
}
