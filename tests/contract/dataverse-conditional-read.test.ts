/**
 * Conditional retrieval: `GET` with `If-None-Match: W/"n"` naming the record's current version →
 * 304 Not Modified with no body; a stale tag, `$expand` or requested annotations → 200 with the record
 * (learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api#conditional-retrievals).
 */
import { DynamicsWebApi } from "dynamics-web-api";
import { beforeAll, describe, expect, it } from "vitest";
import { sampleId } from "../../src/server/demo.ts";
import { demoToken, useOrgbox } from "../helpers/orgbox.ts";

describe("If-None-Match on single-record reads", () => {
  const orgbox = useOrgbox();
  let token = "";
  let dwa: DynamicsWebApi;
  let id = "";
  let etag = "";

  async function get(path: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
    const res = await fetch(`${orgbox().apiUrl}/${path}`, { headers: { authorization: `Bearer ${token}`, accept: "application/json", ...headers } });
    return { status: res.status, text: await res.text() };
  }

  beforeAll(async () => {
    token = await demoToken(orgbox());
    dwa = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
    id = (await dwa.create({ collection: "accounts", data: { name: "Cached Ltd" } })) as string;
    etag = String((await dwa.retrieve<Record<string, unknown>>({ collection: "accounts", key: id, select: ["name"] }))["@odata.etag"]);
  });

  it("answers 304 with no body when the tag matches, and 200 once the record changed", async () => {
    const cached = await get(`accounts(${id})?$select=name`, { "If-None-Match": etag });
    expect(cached).toEqual({ status: 304, text: "" });
    expect((await get(`accounts(${id})?$select=name`, { "If-None-Match": `W/"1", ${etag}` })).status).toBe(304);
    await dwa.update({ collection: "accounts", key: id, data: { name: "Cached Ltd (renamed)" } });
    const fresh = await get(`accounts(${id})?$select=name`, { "If-None-Match": etag });
    expect(fresh.status).toBe(200);
    expect(JSON.parse(fresh.text)).toMatchObject({ name: "Cached Ltd (renamed)" });
  });

  it("dynamics-web-api's ifnonematch gets the record when it changed", async () => {
    const record = await dwa.retrieve<Record<string, unknown>>({ collection: "accounts", key: id, select: ["name"], ifnonematch: 'W/"1"' });
    expect(record.name).toBe("Cached Ltd (renamed)");
  });

  it("never answers 304 with $expand or annotations, and 404s an unknown record", async () => {
    const current = JSON.parse((await get(`accounts(${id})?$select=name`, {})).text) as Record<string, unknown>;
    const tag = String(current["@odata.etag"]);
    expect((await get(`accounts(${id})?$select=name&$expand=primarycontactid($select=fullname)`, { "If-None-Match": tag })).status).toBe(200);
    expect((await get(`accounts(${id})?$select=name`, { "If-None-Match": tag, Prefer: 'odata.include-annotations="*"' })).status).toBe(200);
    expect((await get(`accounts(${sampleId(1, 999)})?$select=name`, { "If-None-Match": tag })).status).toBe(404);
  });
});
