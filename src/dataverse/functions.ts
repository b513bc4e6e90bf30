import type { Caller } from "./auth.ts";
import type { Org } from "./model.ts";

/** What an OData function or action sees. */
export interface OperationContext {
  org: Org;
  caller: Caller;
  /** `{orgUrl}/api/data/vX.Y`. */
  apiUrl: string;
}

/** An unbound OData function (GET) or action (POST), e.g. `WhoAmI`. */
export interface Operation {
  readonly name: string;
  readonly kind: "function" | "action";
  invoke(context: OperationContext, args: string): Promise<Record<string, unknown>>;
}

/** Functions and actions by name; new ones register here, never in a switch. */
export class OperationRegistry {
  private readonly operations = new Map<string, Operation>();

  register(operation: Operation): this {
    this.operations.set(operation.name, operation);
    this.operations.set(`Microsoft.Dynamics.CRM.${operation.name}`, operation);
    return this;
  }

  get(name: string): Operation | undefined {
    return this.operations.get(name);
  }
}

/**
 * `WhoAmI()`: the caller's user, business unit and org
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami).
 */
export const whoAmI: Operation = {
  name: "WhoAmI",
  kind: "function",
  async invoke({ org, caller, apiUrl }) {
    return {
      "@odata.context": `${apiUrl}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
      BusinessUnitId: caller.businessUnitId,
      UserId: caller.systemUserId,
      OrganizationId: org.id,
    };
  },
};
