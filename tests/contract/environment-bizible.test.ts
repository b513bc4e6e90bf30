/**
 * Environments as code, seed 002: the delegated-connection example. The marketer
 * signs in with ROPC (`grant_type=password`) through the app, and the Web API
 * sees the marketer's systemuser.
 */
import { resolve } from "node:path";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { useOrgbox } from "../helpers/orgbox.ts";

const FILE = resolve(import.meta.dirname, "../../examples/bizible-delegated.orgbox.yaml");
const TENANT = "4c0ffee0-0000-4000-8000-000000000001";
const APP = { clientId: "b12b0000-0000-4000-8000-0000b12b0001", secret: "bizible-connector-secret-1" };
const MARKETER = { upn: "marketer@fourthcoffee.onmicrosoft.com", password: "Marketer-Pass-1", oid: "4c0ffee0-0000-4000-8000-000000000003", systemUserId: "4c0ffee0-0000-4000-8000-00000000d006" };

describe("examples/bizible-delegated.orgbox.yaml (seed 002)", () => {
  const orgbox = useOrgbox({ config: FILE });

  it("registers the app with its redirect URI, user_impersonation and the marketer's consent", async () => {
    const o = orgbox();
    const app = await o.identity.service.findApplication(APP.clientId);
    expect(app?.web.redirectUris).toEqual(["https://apps.bizible.example/oauth/dynamics/callback"]);
    expect(app?.requiredResourceAccess).toEqual([{ resourceAppId: "00000007-0000-0000-c000-000000000000", resourceAccess: [{ id: "78ce3f0f-a1ce-49c2-8cde-64b5c0896db4", type: "Scope" }] }]);
    expect(o.tenantId).toBe(TENANT);
    expect(o.orgUrl).toBe(`${o.url}/org/fourthcoffee`);
  });

  it("signs the marketer in with grant_type=password, and WhoAmI is the marketer's systemuser", async () => {
    const o = orgbox();
    const res = await fetch(`${o.url}/${TENANT}/oauth2/v2.0/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", client_id: APP.clientId, client_secret: APP.secret, username: MARKETER.upn, password: MARKETER.password, scope: `${o.orgUrl}/user_impersonation` }),
    });
    const body = (await res.json()) as { access_token?: string };
    expect(res.status, JSON.stringify(body)).toBe(200);
    const token = body.access_token as string;
    expect(decodeJwt(token)).toMatchObject({ oid: MARKETER.oid, scp: "user_impersonation", appid: APP.clientId });
    const who = await fetch(`${o.apiUrl}/WhoAmI`, { headers: { authorization: `Bearer ${token}` } });
    expect(who.status).toBe(200);
    expect(await who.json()).toMatchObject({ UserId: MARKETER.systemUserId, BusinessUnitId: "4c0ffee0-0000-4000-8000-00000000d010" });
    const leads = await fetch(`${o.apiUrl}/leads?$select=subject,_ownerid_value&$orderby=subject`, { headers: { authorization: `Bearer ${token}`, accept: "application/json" } });
    expect(leads.status).toBe(200);
    const rows = ((await leads.json()) as { value: { subject: string; _ownerid_value: string }[] }).value;
    expect(rows.map((r) => [r.subject, r._ownerid_value])).toEqual([
      ["Trade show badge scan", "4c0ffee0-0000-4000-8000-00000000d005"],
      ["Webinar sign-up", MARKETER.systemUserId],
    ]);
  });

  it("has not consented for the admin: the password grant asks for consent", async () => {
    const o = orgbox();
    const res = await fetch(`${o.url}/${TENANT}/oauth2/v2.0/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", client_id: APP.clientId, client_secret: APP.secret, username: "admin@fourthcoffee.onmicrosoft.com", password: "FourthCoffee-Admin-1", scope: `${o.orgUrl}/user_impersonation` }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error_codes: number[] }).error_codes).toEqual([65001]);
  });
});
