/**
 * Issue 4: smoke test with the real xrm-webapi-client (v4), unmodified. It is written
 * for the browser (XHR and `Xrm.Page.context.getClientUrl()`), so the test provides
 * XMLHttpRequest (xhr2, Node's https underneath) and an `Xrm` object, as a form would.
 * Its default API version is 8.0, which also exercises the v8.0 path alias.
 */
import { createRequire } from "node:module";
import { beforeAll, describe, expect, it } from "vitest";
import { demoToken, useOrgbox } from "../helpers/orgbox.ts";

const require = createRequire(import.meta.url);

interface XrmWebApiClient {
  Token: string | null;
  ApiVersion: string;
  Create(parameters: { entityName: string; entity: Record<string, unknown> }): Promise<string>;
  Retrieve(parameters: { entityName: string; entityId?: string; queryParams?: string; returnAllPages?: boolean }): Promise<Record<string, unknown> & { value?: Record<string, unknown>[] }>;
  Update(parameters: { entityName: string; entityId: string; entity: Record<string, unknown> }): Promise<unknown>;
  SendBatch(batch: unknown): Promise<{ isFaulted: boolean; batchResponses: unknown[]; changeSetResponses: { responses: { payload: unknown; headers: { key: string; value: string }[]; status: string }[] }[] }>;
  Batch: new (parameters: { changeSets: unknown[] }) => unknown;
  ChangeSet: new (parameters: { requests: unknown[] }) => unknown;
}

describe("xrm-webapi-client", () => {
  const orgbox = useOrgbox();
  let client: XrmWebApiClient;

  beforeAll(async () => {
    const o = orgbox();
    const globals = globalThis as unknown as Record<string, unknown>;
    globals.XMLHttpRequest = require("xhr2");
    globals.window ??= globalThis; // the library is browser-only and reads window
    globals.Xrm = { Page: { context: { getClientUrl: () => o.orgUrl } } };
    client = require("xrm-webapi-client") as XrmWebApiClient;
    client.Token = await demoToken(o);
  });

  it("retrieves with query parameters (v8.0 default API version)", async () => {
    expect(client.ApiVersion).toBe("8.0");
    const result = await client.Retrieve({ entityName: "account", queryParams: "?$select=name&$filter=startswith(name,'Contoso')" });
    expect(result.value?.map((r) => r.name)).toEqual(["Contoso Ltd"]);
  });

  it("creates, retrieves by id and updates", async () => {
    const created = await client.Create({ entityName: "account", entity: { name: "xrm-webapi-client account" } });
    const id = /\(([0-9a-f-]{36})\)$/.exec(String(created))?.[1] as string;
    expect(id).toBeTruthy();
    await client.Update({ entityName: "account", entityId: id, entity: { telephone1: "+1 555 0100" } });
    const one = await client.Retrieve({ entityName: "account", entityId: id, queryParams: "?$select=name,telephone1" });
    expect(one).toMatchObject({ name: "xrm-webapi-client account", telephone1: "+1 555 0100", accountid: id });
  });

  it("sends a batch with a change set and parses the response", async () => {
    const requests = [
      client.Create({ entityName: "contact", entity: { lastname: "Batch One" }, asBatch: true } as never),
      client.Create({ entityName: "contact", entity: { lastname: "Batch Two" }, asBatch: true } as never),
    ];
    const batch = new client.Batch({ changeSets: [new client.ChangeSet({ requests })] });
    const response = await client.SendBatch(batch);
    expect(response.isFaulted).toBe(false);
    const statuses = response.changeSetResponses[0]?.responses.map((r) => r.status);
    expect(statuses).toEqual(["204", "204"]);
    const found = await client.Retrieve({ entityName: "contact", queryParams: "?$select=lastname&$filter=startswith(lastname,'Batch ')" });
    expect(found.value?.map((r) => r.lastname).sort()).toEqual(["Batch One", "Batch Two"]);
  });
});
