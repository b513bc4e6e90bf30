import type { Caller } from "./model.ts";
import { dv } from "./errors.ts";
import type { OrgMetadata } from "./metadata/registry.ts";
import type { EntityMetadata } from "./metadata/types.ts";
import { parseEntityKey, type ResourcePath } from "./odata/path.ts";
import type { Org } from "./model.ts";
import type { SecurityContext } from "./security/context.ts";
import type { DataverseStore } from "./store.ts";

/** What an OData function or action sees. */
export interface OperationContext {
  org: Org;
  caller: Caller;
  /** `{orgUrl}/api/data/vX.Y`. */
  apiUrl: string;
  /** Parameter aliases of the query string (`Fn(EntityNames=@p1)?@p1=[…]`). */
  aliases?: ReadonlyMap<string, string>;
  /** The store to read through (a `$batch` change set's transaction). */
  store?: DataverseStore;
  /** The caller's security context, for privilege checks. */
  security: SecurityContext;
  /** An action's JSON body. */
  body?: unknown;
  /** A bound operation's record (`systemusers(<id>)/Microsoft.Dynamics.CRM.X`). */
  target?: { entity: EntityMetadata; id: string };
}

/** A parameter or property of an operation's declaration: name and EDM / `mscrm.` type. */
export interface TypedName {
  name: string;
  /** `Edm.Guid`, `Collection(Edm.String)`, `mscrm.WhoAmIResponse`, … */
  type: string;
  nullable?: boolean;
}

/** How `$metadata` declares an operation (CSDL `Function` / `Action` and its response `ComplexType`s). */
export interface OperationSignature {
  parameters?: TypedName[];
  returnType?: string;
  complexTypes?: { name: string; properties: TypedName[] }[];
}

/** An OData function (GET) or action (POST), unbound (`WhoAmI`) or bound to a table's records (`boundTo`). */
export interface Operation {
  readonly name: string;
  readonly kind: "function" | "action";
  /** Its declaration in `$metadata`; undeclared operations are still callable. */
  readonly signature?: OperationSignature;
  /** Logical name of the table whose records it is bound to (`systemusers(<id>)/Microsoft.Dynamics.CRM.X`); unbound when absent. */
  readonly boundTo?: string;
  /** The response body; `undefined` answers 204 No Content. */
  invoke(context: OperationContext, args: string): Promise<Record<string, unknown> | undefined>;
}

/** Functions and actions by name; new ones register here, never in a switch. */
export class OperationRegistry {
  private readonly operations = new Map<string, Operation>();

  private readonly bound = new Map<string, Operation>();

  register(operation: Operation): this {
    if (operation.boundTo) {
      this.bound.set(`${operation.boundTo}/${operation.name}`, operation);
      return this;
    }
    this.operations.set(operation.name, operation);
    this.operations.set(`Microsoft.Dynamics.CRM.${operation.name}`, operation);
    return this;
  }

  /** An unbound operation by name (with or without the `Microsoft.Dynamics.CRM.` namespace). */
  get(name: string): Operation | undefined {
    return this.operations.get(name);
  }

  /**
   * The operation a segment after a record addresses (`Microsoft.Dynamics.CRM.X(args)`; the namespace
   * is required, as in Dataverse) when one is bound to `entity`, with the text inside its parentheses.
   */
  resolveBound(entity: string, segment: string): { operation: Operation; args: string } | undefined {
    const match = /^Microsoft\.Dynamics\.CRM\.([A-Za-z_][A-Za-z0-9_]*)(?:\((.*)\))?$/s.exec(segment);
    const operation = match ? this.bound.get(`${entity}/${match[1] as string}`) : undefined;
    return operation && match ? { operation, args: match[2] ?? "" } : undefined;
  }

  /** Every registered operation once (for `$metadata`; bound ones carry `boundTo`). */
  list(): Operation[] {
    return [...new Set([...this.operations.values(), ...this.bound.values()])];
  }
}

/** An operation call a request addresses, with its arguments and (bound) record. */
export interface OperationCall {
  operation: Operation;
  args: string;
  target?: { entity: EntityMetadata; id: string };
}

/**
 * The operation a resource path calls, if any: unbound (`WhoAmI`, `WhoAmI()`, `GrantAccess`) or
 * bound to a record (`systemusers(<id>)/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`).
 * @throws DataverseError 400 when a bound operation's record is not addressed by its id.
 */
export function resolveOperation(registry: OperationRegistry, md: OrgMetadata, path: ResourcePath): OperationCall | undefined {
  if (path.kind === "collection" || path.kind === "call") {
    const operation = registry.get(path.name);
    return operation ? { operation, args: path.kind === "call" ? path.args : "" } : undefined;
  }
  if (path.kind !== "member" || path.segments.length !== 1) return undefined;
  const entity = md.entityBySet(path.name);
  const bound = entity ? registry.resolveBound(entity.logicalName, path.segments[0] as string) : undefined;
  if (!entity || !bound) return undefined;
  const key = parseEntityKey(path.key);
  if (key.kind !== "id") throw dv.querySyntax(`the bound operation ${bound.operation.name} needs the record's id, not an alternate key`);
  return { ...bound, target: { entity, id: key.id } };
}

/**
 * Invokes an operation call: functions answer GET, actions POST (else 405); an operation returning
 * nothing answers 204 (`undefined` here).
 */
export async function invokeOperation(call: OperationCall, method: string, context: OperationContext): Promise<Record<string, unknown> | undefined> {
  const expected = call.operation.kind === "function" ? "GET" : "POST";
  if (method !== expected) throw dv.methodNotAllowed(method);
  return call.operation.invoke(call.target ? { ...context, target: call.target } : context, call.args);
}

/**
 * `WhoAmI()`: the caller's user, business unit and org
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami).
 */
export const whoAmI: Operation = {
  name: "WhoAmI",
  kind: "function",
  signature: {
    returnType: "mscrm.WhoAmIResponse",
    complexTypes: [{ name: "WhoAmIResponse", properties: ["BusinessUnitId", "UserId", "OrganizationId"].map((name) => ({ name, type: "Edm.Guid", nullable: false })) }],
  },
  async invoke({ org, caller, apiUrl }) {
    return {
      "@odata.context": `${apiUrl}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
      BusinessUnitId: caller.businessUnitId,
      UserId: caller.systemUserId,
      OrganizationId: org.id,
    };
  },
};
