import type { AttributeMetadata, EntityKeyMetadata, EntityMetadata, GlobalOptionSetMetadata, RelationshipMetadata } from "../metadata/types.ts";
import type { Org, Row } from "../model.ts";
import type { DataverseStore, Expr, JoinedQuery, OrgRegistry, RecordQuery, RecordStore, SchemaStore, StoreTransactions } from "../store.ts";
import type { PrivilegeSource } from "./scope.ts";

/**
 * The tables the security state of a caller is read from: a write to any of them (insert,
 * update, delete, association) may change who a token maps to, whether that user is enabled,
 * its business unit, its roles (own or via teams) and the privileges and depths they grant.
 */
const SECURITY_TABLES: ReadonlySet<string> = new Set(["systemuser", "role", "roleprivileges", "privilege", "systemuserroles", "teammembership", "teamroles", "team", "businessunit"]);

/** A role the principal holds, directly or through a team. */
export interface RoleHolding {
  roleId: string;
  roleTemplateId: string | null;
  /** Set when the role is held through this team. */
  teamId?: string;
  /** The business unit the role's depths count from: the user's, or the team's. */
  businessUnitId: string;
}

/** The systemuser a token (or an impersonation header) maps to. */
export interface CallerRecord {
  systemUserId: string;
  businessUnitId: string;
  isDisabled: boolean;
}

/**
 * What is known of one principal's security state: its roles, the privileges it was asked for,
 * its teams and (for Deep depth) the business-unit tree. Each value is a promise, stored before it
 * settles, so concurrent requests share one load.
 */
export interface PrincipalState {
  holdings?: Promise<RoleHolding[]>;
  sourcesByPrivilege: Map<string, Promise<PrivilegeSource[]>>;
  units?: Promise<{ id: string; parentId: string | null }[]>;
  teams?: Promise<string[]>;
}

/** Principals (and token subjects) remembered per org before the org's state starts over. */
const MAX_ENTRIES = 10_000;

/**
 * One org's security state, valid until the next security-relevant write to that org: then
 * {@link SecurityStateCache} drops the whole object and the next request builds a new one.
 */
export class OrgSecurityState {
  private readonly callers = new Map<string, Promise<CallerRecord | undefined>>();
  private readonly principals = new Map<string, PrincipalState>();

  /**
   * The systemuser `key` (`app:{appid}`, `oid:{objectid}`, `id:{systemuserid}`) maps to, loaded
   * once. A failed load is forgotten, so the next request tries again.
   */
  caller(key: string, load: () => Promise<CallerRecord | undefined>): Promise<CallerRecord | undefined> {
    let found = this.callers.get(key);
    if (!found) {
      if (this.callers.size >= MAX_ENTRIES) this.callers.clear();
      found = forgetOnFailure(this.callers, key, load());
    }
    return found;
  }

  /** The cached state of `systemUserId` (empty at first; {@link SecurityContext} fills it). */
  principal(systemUserId: string): PrincipalState {
    let state = this.principals.get(systemUserId);
    if (!state) {
      if (this.principals.size >= MAX_ENTRIES) this.principals.clear();
      state = { sourcesByPrivilege: new Map() };
      this.principals.set(systemUserId, state);
    }
    return state;
  }
}

/** Stores `promise` under `key` in `map`, and removes it again if it rejects. */
export function forgetOnFailure<K, V>(map: Map<K, Promise<V>>, key: K, promise: Promise<V>): Promise<V> {
  map.set(key, promise);
  promise.catch(() => {
    if (map.get(key) === promise) map.delete(key);
  });
  return promise;
}

/** `state[key]`, loading it first when absent; a rejected load is removed again. */
export function loadOnce<K extends "holdings" | "units" | "teams">(state: PrincipalState, key: K, load: () => NonNullable<PrincipalState[K]>): NonNullable<PrincipalState[K]> {
  const existing = state[key];
  if (existing) return existing as NonNullable<PrincipalState[K]>;
  const promise = load();
  state[key] = promise;
  (promise as Promise<unknown>).catch(() => {
    if (state[key] === promise) delete state[key];
  });
  return promise;
}

/**
 * The per-caller security state of every org (systemuser row, roles, privilege depths, team
 * memberships), kept across requests so a request does not re-read it from SQL.
 *
 * Invalidation, not expiry: every write through a store returned by {@link track} to one of the
 * {@link SECURITY_TABLES} drops that org's state before it starts and again when it ends, and a
 * transaction that wrote one drops it again when it commits or rolls back; a load in flight across
 * such a write belongs to the dropped state, so its answer is never seen by a later request. State
 * read through a transaction is never stored (it may roll back). Changes that bypass the tracked
 * store (a snapshot restore) must call {@link invalidateAll}.
 *
 * Other processes on the store: after a write another process may cache (a security table, an org, a
 * custom definition or record table: what this cache and the metadata cache hold), `onChange` is
 * awaited before the write returns (in a transaction: once, when it ends), so that they drop theirs
 * (see `Database.announceChange`).
 */
export class SecurityStateCache {
  private readonly orgs = new Map<string, OrgSecurityState>();
  private readonly orgsByName = new Map<string, Promise<Org | undefined>>();
  /** See the class comment. */
  readonly onChange: () => Promise<void>;

  /** @param onChange awaited after each write other processes may cache (default: nothing). */
  constructor(onChange: () => Promise<void> = async () => undefined) {
    this.onChange = onChange;
  }

  /** The org's current security state (a new, empty one after a security-relevant write). */
  forOrg(orgId: string): OrgSecurityState {
    let state = this.orgs.get(orgId);
    if (!state) {
      state = new OrgSecurityState();
      this.orgs.set(orgId, state);
    }
    return state;
  }

  /** Drops one org's security state. */
  invalidate(orgId: string): void {
    this.orgs.delete(orgId);
  }

  /** Drops everything, org lookups included (after a snapshot restore or reset). */
  invalidateAll(): void {
    this.orgs.clear();
    this.orgsByName.clear();
  }

  /** An org by name, looked up once (orgs are only ever added, through {@link track}ed stores, or restored). */
  findOrg(name: string, load: (name: string) => Promise<Org | undefined>): Promise<Org | undefined> {
    const key = name.toLowerCase();
    let found = this.orgsByName.get(key);
    if (!found) {
      if (this.orgsByName.size >= MAX_ENTRIES) this.orgsByName.clear();
      const loading = load(key);
      found = forgetOnFailure(this.orgsByName, key, loading);
      // Only orgs that exist are remembered: a name asked for before its org exists is asked again.
      void loading.then((org) => {
        if (!org && this.orgsByName.get(key) === loading) this.orgsByName.delete(key);
      }, () => undefined);
    }
    return found;
  }

  /**
   * `store`, reporting its security-relevant writes to this cache (and answering `findOrg` from it).
   * Every Dataverse write must go through the returned store. Idempotent.
   */
  track(store: DataverseStore): DataverseStore {
    if (store instanceof TrackingStore && store.tracks(this)) return store;
    return new TrackingStore(store, this, undefined);
  }

  /** `findOrg` through the cache, dropped when an org is created. */
  orgCreated(): void {
    this.orgsByName.clear();
  }
}

/**
 * The store {@link SecurityStateCache.track} returns: `inner`, with every write that may change an
 * org's security state reported to the cache, and `findOrg` answered from it.
 *
 * Each method is written out under the port interface it belongs to, and is one of four kinds:
 * - forwarded: passed to `inner` unchanged (reads, change tracking);
 * - announced: a schema or definition write, passed to `inner` and then told to other processes
 *   (see {@link TrackingStore.announced});
 * - tracked: a write to a record table, which drops the org's security state before and after it
 *   (and tells other processes) when the table is one of the {@link SECURITY_TABLES} (see
 *   {@link TrackingStore.tracked}); and `createOrg`, which forgets the cached org lookups;
 * - cached: `findOrg`, through {@link SecurityStateCache.findOrg}.
 *
 * The class implements the narrow interfaces, not a catch-all, so a method added to a port is a
 * compile error here until it is given one of these kinds.
 *
 * Transactions: the store handed to `work` is a `TrackingStore` over the transaction-bound store,
 * sharing one set of the orgs whose security tables it wrote; those orgs' state is dropped again
 * when the transaction commits or rolls back. Its `inTransaction` is true, so the security context
 * and `authorizeRequest` keep nothing they read through it in the shared state.
 */
class TrackingStore implements OrgRegistry, SchemaStore, RecordStore, StoreTransactions {
  private readonly inner: DataverseStore;
  private readonly cache: SecurityStateCache;
  /** In a transaction: the orgs whose security tables it wrote (dropped again when it ends). */
  private readonly touched: Set<string> | undefined;

  constructor(inner: DataverseStore, cache: SecurityStateCache, touched: Set<string> | undefined) {
    this.inner = inner;
    this.cache = cache;
    this.touched = touched;
  }

  /** True when this store reports to `cache` (so tracking it again would report twice). */
  tracks(cache: SecurityStateCache): boolean {
    return this.cache === cache;
  }

  /**
   * A write to a row of `entity`: when it is a security table, drops the org's security state
   * before `run` starts and again when it ends (a load in flight across it belongs to the dropped
   * state), and remembers the org for the end of the transaction.
   */
  private async tracked<T>(org: Org, entity: EntityMetadata, run: () => Promise<T>): Promise<T> {
    if (!SECURITY_TABLES.has(entity.logicalName)) return run();
    this.touched?.add(org.id);
    this.cache.invalidate(org.id);
    try {
      return await run();
    } finally {
      this.cache.invalidate(org.id);
      if (!this.touched) await this.cache.onChange();
    }
  }

  /**
   * A schema or definition write (what the metadata cache holds): tells the other processes on the
   * store after it (in a transaction: when it ends).
   */
  private async announced<T>(org: Org, run: () => Promise<T>): Promise<T> {
    if (this.touched) {
      this.touched.add(org.id);
      return run();
    }
    try {
      return await run();
    } finally {
      await this.cache.onChange();
    }
  }

  // ── OrgRegistry ──

  /** Tracked: forgets the cached org lookups (and any state of the new org's id). */
  async createOrg(org: Org, now: number): Promise<void> {
    try {
      await this.inner.createOrg(org, now);
    } finally {
      this.cache.orgCreated();
      this.cache.invalidate(org.id);
      if (this.touched) this.touched.add(org.id);
      else await this.cache.onChange();
    }
  }

  /** Cached: orgs are only ever added (through {@link createOrg}) or restored (which invalidates everything). */
  findOrg(name: string): Promise<Org | undefined> {
    return this.cache.findOrg(name, (key) => this.inner.findOrg(key));
  }

  listOrgs(): Promise<Org[]> {
    return this.inner.listOrgs();
  }

  nextTablePrefix(): Promise<string> {
    return this.inner.nextTablePrefix();
  }

  // ── SchemaStore: announced to other processes (their metadata caches), forwarded otherwise (no security state depends on them) ──

  createRecordTable(org: Org, entity: EntityMetadata): Promise<void> {
    return this.announced(org, () => this.inner.createRecordTable(org, entity));
  }

  createKeyIndex(org: Org, entity: EntityMetadata, key: EntityKeyMetadata): Promise<void> {
    return this.announced(org, () => this.inner.createKeyIndex(org, entity, key));
  }

  dropKeyIndex(org: Org, entity: EntityMetadata, key: EntityKeyMetadata): Promise<void> {
    return this.announced(org, () => this.inner.dropKeyIndex(org, entity, key));
  }

  ensureNameIndex(org: Org, entity: EntityMetadata): Promise<void> {
    return this.inner.ensureNameIndex(org, entity);
  }

  recordTableColumns(org: Org): Promise<Map<string, Set<string>>> {
    return this.inner.recordTableColumns(org);
  }

  addColumn(org: Org, entity: EntityMetadata, attribute: AttributeMetadata): Promise<void> {
    return this.announced(org, () => this.inner.addColumn(org, entity, attribute));
  }

  dropColumn(org: Org, entity: EntityMetadata, attribute: AttributeMetadata): Promise<void> {
    return this.announced(org, () => this.inner.dropColumn(org, entity, attribute));
  }

  dropRecordTable(org: Org, entity: EntityMetadata): Promise<void> {
    return this.announced(org, () => this.inner.dropRecordTable(org, entity));
  }

  createIntersectTable(org: Org, entity: EntityMetadata, columns: readonly [string, string]): Promise<void> {
    return this.announced(org, () => this.inner.createIntersectTable(org, entity, columns));
  }

  saveEntityDefinition(org: Org, entity: EntityMetadata, now: number): Promise<void> {
    return this.announced(org, () => this.inner.saveEntityDefinition(org, entity, now));
  }

  listEntityDefinitions(org: Org): Promise<EntityMetadata[]> {
    return this.inner.listEntityDefinitions(org);
  }

  deleteEntityDefinition(org: Org, logicalName: string): Promise<void> {
    return this.announced(org, () => this.inner.deleteEntityDefinition(org, logicalName));
  }

  saveRelationshipDefinition(org: Org, relationship: RelationshipMetadata, now: number): Promise<void> {
    return this.announced(org, () => this.inner.saveRelationshipDefinition(org, relationship, now));
  }

  listRelationshipDefinitions(org: Org): Promise<RelationshipMetadata[]> {
    return this.inner.listRelationshipDefinitions(org);
  }

  deleteRelationshipDefinition(org: Org, schemaName: string): Promise<void> {
    return this.announced(org, () => this.inner.deleteRelationshipDefinition(org, schemaName));
  }

  saveOptionSetDefinition(org: Org, optionSet: GlobalOptionSetMetadata, now: number): Promise<void> {
    return this.announced(org, () => this.inner.saveOptionSetDefinition(org, optionSet, now));
  }

  listOptionSetDefinitions(org: Org): Promise<GlobalOptionSetMetadata[]> {
    return this.inner.listOptionSetDefinitions(org);
  }

  deleteOptionSetDefinition(org: Org, name: string): Promise<void> {
    return this.announced(org, () => this.inner.deleteOptionSetDefinition(org, name));
  }

  // ── RecordStore: row writes tracked, reads and change tracking forwarded ──

  get inTransaction(): boolean {
    return this.inner.inTransaction === true;
  }

  insertRow(org: Org, entity: EntityMetadata, row: Row): Promise<void> {
    return this.tracked(org, entity, () => this.inner.insertRow(org, entity, row));
  }

  updateRows(org: Org, entity: EntityMetadata, where: Expr, values: Row): Promise<number> {
    return this.tracked(org, entity, () => this.inner.updateRows(org, entity, where, values));
  }

  deleteRows(org: Org, entity: EntityMetadata, where: Expr): Promise<number> {
    return this.tracked(org, entity, () => this.inner.deleteRows(org, entity, where));
  }

  selectRows(org: Org, query: RecordQuery): Promise<Row[]> {
    return this.inner.selectRows(org, query);
  }

  countRows(org: Org, query: Pick<RecordQuery, "entity" | "where"> & { limit?: number }): Promise<number> {
    return this.inner.countRows(org, query);
  }

  selectJoined(org: Org, query: JoinedQuery): Promise<Row[]> {
    return this.inner.selectJoined(org, query);
  }

  recordDeletion(org: Org, entity: EntityMetadata, id: string, version: number): Promise<void> {
    return this.inner.recordDeletion(org, entity, id, version);
  }

  listDeletions(org: Org, entity: EntityMetadata, afterVersion: number): Promise<{ id: string; version: number }[]> {
    return this.inner.listDeletions(org, entity, afterVersion);
  }

  latestVersion(org: Org, entity: EntityMetadata): Promise<number> {
    return this.inner.latestVersion(org, entity);
  }

  // ── StoreTransactions ──

  /** Nested calls join the outer transaction; the outermost drops the state of every org it touched when it ends. */
  async transaction<T>(work: (store: DataverseStore) => Promise<T>): Promise<T> {
    if (this.touched) return work(this);
    const touched = new Set<string>();
    try {
      return await this.inner.transaction((trx) => work(new TrackingStore(trx, this.cache, touched)));
    } finally {
      // Committed or rolled back: what was loaded while it ran may be neither.
      for (const orgId of touched) this.cache.invalidate(orgId);
      if (touched.size > 0) await this.cache.onChange();
    }
  }
}
