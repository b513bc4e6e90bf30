/**
 * The token path caches directory lookups (tenant, app, service principal, credentials,
 * app role assignments) in memory: every write must take effect on the very next request.
 */
import { describe, expect, it } from "vitest";
import type { OrgboxInstance } from "../../src/index.ts";
import { useOrgbox } from "../helpers/orgbox.ts";

async function token(o: OrgboxInstance, tenant: string, clientId: string, clientSecret: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${o.url}/${tenant}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret, scope: `${o.orgUrl}/.default` }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("directory cache on the token path", () => {
  const orgbox = useOrgbox();

  it("accepts a secret added after a request that was refused with it", async () => {
    const o = orgbox();
    const secret = "added-later-secret-value-0001";
    const before = await token(o, o.tenantId, o.demo.clientId, secret);
    expect(before.status).toBe(401);
    expect(before.body.error_codes).toEqual([7000215]);
    expect((await token(o, o.tenantId, o.demo.clientId, o.demo.clientSecret)).status).toBe(200);
    await o.identity.service.addPassword({ appId: o.demo.clientId, value: secret });
    expect((await token(o, o.tenantId, o.demo.clientId, secret)).status).toBe(200);
  });

  it("knows an app registered after a request that did not find it", async () => {
    const o = orgbox();
    const appId = "8c7a1d5e-41f2-4b6a-9d3e-0a1b2c3d4e5f";
    const before = await token(o, o.tenantId, appId, "whatever");
    expect(before.status).toBe(400);
    expect(before.body.error_codes).toEqual([700016]);
    await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "Late app", appId });
    const { secretText } = await o.identity.service.addPassword({ appId });
    expect((await token(o, o.tenantId, appId, secretText)).status).toBe(200);
  });

  it("knows a tenant created after a request that did not find it", async () => {
    const o = orgbox();
    const res = () => fetch(`${o.url}/latecomer.onmicrosoft.com/v2.0/.well-known/openid-configuration`);
    expect((await res()).status).toBe(400);
    await o.identity.service.createTenant({ displayName: "Latecomer", defaultDomain: "latecomer.onmicrosoft.com" });
    expect((await res()).status).toBe(200);
  });

  it("sees a service principal created (consent in another tenant) after a refused request", async () => {
    const o = orgbox();
    const other = await o.identity.service.createTenant({ displayName: "Other", defaultDomain: "other-sp.onmicrosoft.com" });
    const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "Multi", signInAudience: "AzureADMultipleOrgs" });
    const { secretText } = await o.identity.service.addPassword({ appId: application.appId });
    const before = await token(o, other.id, application.appId, secretText);
    expect(before.status).toBe(400);
    expect(before.body.error_codes).toEqual([700016]);
    await o.identity.service.createServicePrincipal(other.id, application.appId, o.tenantId);
    const after = await token(o, other.id, application.appId, secretText);
    expect(after.body.error_codes).not.toEqual([700016]);
  });

  it("forgets apps and secrets on snapshot restore and reset", async () => {
    const o = orgbox();
    await o.snapshot("before-app");
    const { application } = await o.identity.service.registerApplication({ tenantId: o.tenantId, displayName: "Ephemeral" });
    const { secretText } = await o.identity.service.addPassword({ appId: application.appId });
    expect((await token(o, o.tenantId, application.appId, secretText)).status).toBe(200);
    await o.restore("before-app");
    const afterRestore = await token(o, o.tenantId, application.appId, secretText);
    expect(afterRestore.status).toBe(400);
    expect(afterRestore.body.error_codes).toEqual([700016]);

    const extra = "secret-gone-after-reset-0002";
    await o.identity.service.addPassword({ appId: o.demo.clientId, value: extra });
    expect((await token(o, o.tenantId, o.demo.clientId, extra)).status).toBe(200);
    await o.reset();
    expect((await token(o, o.tenantId, o.demo.clientId, extra)).status).toBe(401);
    expect((await token(o, o.tenantId, o.demo.clientId, o.demo.clientSecret)).status).toBe(200);
  });
});
