import type { FastifyReply, FastifyRequest } from "fastify";
import type { JWTPayload } from "jose";
import type { Clock } from "../common/clock.ts";
import type { DirectoryCursor, DirectoryStore, IdentityService, IdentityUrls, Tenant, TokenVerifier, User } from "../identity/index.ts";
import type { ODataQuery, QuerySupport } from "./odata.ts";

/**
 * A navigation property an operation lets `$expand` name: its related objects of one item of the
 * result, already as Graph representations. Runs after the operation, so under the same permission.
 */
export interface ExpandNavigation {
  /** The expanded type's properties, for a nested `$select`. */
  select: readonly string[];
  /** The OData type name for errors, e.g. `microsoft.graph.directoryObject`. */
  typeName: string;
  /** At most `limit` related objects of `item` (a representation with its `id`). @throws GraphError */
  load(context: GraphContext, item: Record<string, unknown>, limit: number): Promise<Record<string, unknown>[]>;
}

/*
 * The Graph surface's shared types: the request context the steps build (context.ts) and the operations
 * the resource registry holds (registry.ts). One module, so the two import it and not each other.
 */

/** What the request steps need of the registry: the operation matching a method and a parsed path. */
export interface OperationRegistry {
  /** @throws GraphError 400 for an unknown segment, 405 for a known path with another method. */
  match(method: string, segments: PathSegment[]): OperationMatch;
}

/** What the Graph surface needs of the rest of orgbox (identity's, through its index). */
export interface GraphDeps {
  /** Identity's cached directory: writes through it invalidate the token path's caches. */
  directory: DirectoryStore;
  /** Identity's directory management (secret hashing, registration, service principals). */
  service: IdentityService;
  verifier: TokenVerifier;
  urls: IdentityUrls;
  clock: Clock;
  registry: OperationRegistry;
}

/** The caller of a Graph request: an app (app-only token) or a user through an app (delegated token). */
export type GraphCaller =
  | { kind: "app"; appId: string; servicePrincipalId: string; roles: ReadonlySet<string> }
  | { kind: "user"; user: User; clientAppId: string; scopes: ReadonlySet<string>; directoryRoles: ReadonlySet<string> };

/**
 * How far the caller's permission reaches, set by the authorize step: every object of the tenant, or
 * only objects `ownerId` owns (`Application.ReadWrite.OwnedBy`, or an owner acting without a directory role).
 */
export type GraphAccess = { scope: "tenant" } | { scope: "owned"; ownerId: string };

/** What an operation answers; the render step writes it in Graph's shape. */
export type GraphResult =
  /** One object. `context` is the `$metadata#` fragment, e.g. `applications/$entity`. */
  | { kind: "entity"; context: string; value: Record<string, unknown>; status?: 200 | 201 }
  /** A page of a collection; `next` makes the `@odata.nextLink`. */
  | { kind: "collection"; context: string; items: Record<string, unknown>[]; count?: number; next?: DirectoryCursor }
  /** `/$count`: a bare number as text/plain. */
  | { kind: "count"; count: number }
  /** 204 No Content. */
  | { kind: "empty" };

/**
 * One Graph request as the surface's steps build it: the token's claims, the tenant, the caller, the
 * operation and its parameters, the parsed query options, the access granted and the result.
 */
export interface GraphContext {
  readonly deps: GraphDeps;
  readonly http: FastifyRequest;
  readonly reply: FastifyReply;
  /** `v1.0` or `beta`. */
  readonly version: string;
  /** The path below the version, as sent (for `@odata.nextLink`). */
  readonly rawPath: string;
  readonly rawQuery: string;
  claims?: JWTPayload;
  tenant?: Tenant;
  caller?: GraphCaller;
  operation?: GraphOperation;
  params?: Record<string, KeyValue>;
  query?: ODataQuery;
  access?: GraphAccess;
  result?: GraphResult;
}

/** HTTP methods Graph operations use. */
export type GraphMethod = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";

/**
 * Who may run an operation, declared by the operation (Graph's "Permissions" table of each API page,
 * learn.microsoft.com/graph/api/…): app-only callers need one of `application` in the token's `roles`;
 * delegated callers need one of `delegated` in `scp` and, when `directoryRoles` is given, one of those
 * directory roles (template ids) — unless `owners` lets owners of the target object act without one.
 * `ownedOnly` lists application permissions that only reach objects the caller owns
 * (`Application.ReadWrite.OwnedBy`).
 */
export interface PermissionPolicy {
  application: readonly string[];
  delegated: readonly string[];
  directoryRoles?: readonly string[];
  /** Owners of the target object may act without a directory role (delegated), or with an `ownedOnly` permission (app-only). */
  owners?: boolean;
  /** Application permissions that only reach objects the calling service principal owns. */
  ownedOnly?: readonly string[];
  /**
   * Permissions Graph requires *as well* ("X and Application.Read.All" in a Permissions table): each
   * inner list is a one-of that the token must also satisfy, in `roles` (app-only) or `scp` (delegated),
   * on top of `application`/`delegated`. `Directory.AccessAsUser.All` satisfies every delegated group.
   */
  alsoRequired?: readonly (readonly string[])[];
}

/** One Graph operation: a method and path template, its permission policy, its query support and its handler. */
export interface GraphOperation {
  /** For logs and errors, e.g. `application: addPassword`. */
  name: string;
  method: GraphMethod;
  /**
   * Path template below the version, `/`-separated: literals (case-insensitive) and `{param}`s. A
   * `{param}` matches a segment (`applications/{id}`) or a key in parentheses
   * (`applications('{id}')`, `applications(appId='…')`); see {@link KeyValue}.
   */
  path: string;
  policy: PermissionPolicy;
  /** Query options it accepts; without, any `$` option is `Request_UnsupportedQuery`. */
  query?: QuerySupport;
  /** Navigation properties `$expand` may name (none: `$expand` is `Request_UnsupportedQuery`). */
  expand?: Readonly<Record<string, ExpandNavigation>>;
  /** Runs the operation once authenticated, authorized and parsed. @throws GraphError */
  handle(context: GraphContext): Promise<GraphResult>;
}

/** A resource module: a name and the operations it adds to the surface. */
export interface GraphResourceModule {
  name: string;
  operations: readonly GraphOperation[];
}

/** A key in the path: a plain id (`applications/{id}`, `applications('{id}')`) or an alternate key (`applications(appId='…')`). */
export type KeyValue = { kind: "id"; value: string } | { kind: "alternate"; property: string; value: string };

/** One parsed path segment: a name, or a key that followed a name in parentheses. */
export type PathSegment = { kind: "name"; value: string } | { kind: "key"; key: KeyValue };

/** A matched operation and the values of its `{param}`s. */
export interface OperationMatch {
  operation: GraphOperation;
  params: Record<string, KeyValue>;
}

