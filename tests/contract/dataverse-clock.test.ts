/**
 * The Web API follows orgbox's injected clock, never the wall clock: a write's `createdon` and
 * `modifiedon`, and the "now" of date query functions (`LastXHours`) on the read paths a write or a
 * navigation property serves. The clock is set years in the past, so the wall clock would put every
 * row outside "the last 2 hours".
 */
import { DynamicsWebApi } from "dynamics-web-api";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/index.ts";
import { adminToken, demoToken, useOrgbox } from "../helpers/orgbox.ts";

const START = Date.UTC(2020, 0, 1, 0, 0, 0);
/** The stamps dynamics-web-api returns (it parses ISO 8601 values into Dates). */
type Stamps = { accountid: string; createdon: Date | string; modifiedon: Date | string };
const HOUR = 3600 * 1000;
const RECENT = "Microsoft.Dynamics.CRM.LastXHours(PropertyName='createdon',PropertyValue=2)";

describe("the Web API on a ManualClock", () => {
  const clock = new ManualClock(START);
  const orgbox = useOrgbox({}, { clock });

  const api = () => new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => demoToken(orgbox()) });
  // A System Administrator (the demo app may not read users); a fresh token after the clock moves past its expiry.
  let token: string | undefined;
  const send = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    token ??= await adminToken(orgbox());
    const response = await fetch(`${orgbox().apiUrl}/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: "application/json", "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> & { value?: Record<string, unknown>[] } };
  };

  it("stamps createdon and modifiedon from the clock on create and update", async () => {
    const created = (await api().create({ collection: "accounts", data: { name: "Clocked" }, returnRepresentation: true, select: ["createdon", "modifiedon"] })) as Stamps;
    // dynamics-web-api parses the ISO 8601 values into Dates.
    expect(new Date(created.createdon).getTime()).toBe(START);
    expect(new Date(created.modifiedon).getTime()).toBe(START);

    clock.advance(HOUR);
    const updated = (await api().update({ collection: "accounts", key: created.accountid, data: { name: "Clocked again" }, returnRepresentation: true, select: ["createdon", "modifiedon"] })) as Stamps;
    expect(new Date(updated.createdon).getTime()).toBe(START);
    expect(new Date(updated.modifiedon).getTime()).toBe(START + HOUR);
  });

  it("evaluates date query functions on an N:N navigation collection and in a create's representation with the clock", async () => {
    // A deep insert answered with its expanded children, filtered to those created in the last 2 hours (of the clock).
    const created = await send("POST", `accounts?$select=name&$expand=contact_customer_accounts($select=lastname;$filter=${RECENT})`, { name: "Parent", contact_customer_accounts: [{ lastname: "Child" }] }, { prefer: "return=representation" });
    expect(created.status).toBe(201);
    expect((created.body.contact_customer_accounts as Record<string, unknown>[]).map((c) => c.lastname)).toEqual(["Child"]);

    // The demo roles were created when the demo was seeded, at START: within the last 2 hours of the clock.
    const me = (await send("GET", "WhoAmI")).body.UserId as string;
    const roles = `systemusers(${me})/systemuserroles_association?$select=name&$filter=${RECENT}`;
    const held = await send("GET", roles);
    expect(held.body.error).toBeUndefined();
    expect(held.body.value?.map((r) => r.name)).toContain("System Administrator");

    // Moved past the window, the same query finds nothing: "now" is the clock's.
    clock.advance(3 * HOUR);
    token = undefined;
    const later = await send("GET", roles);
    expect(later.status).toBe(200);
    expect(later.body.value).toEqual([]);
  });
});
