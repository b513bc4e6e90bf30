/**
 * @azure/identity against orgbox: ClientSecretCredential with authorityHost and
 * disableInstanceDiscovery, then a Web API read (the SDK's token is a plain Bearer token).
 */
import { ClientSecretCredential } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { apiGet, useOrgbox } from "../helpers/orgbox.ts";

describe("@azure/identity", () => {
  const orgbox = useOrgbox();

  it("ClientSecretCredential gets a token for the org and it reads accounts", async () => {
    const o = orgbox();
    const credential = new ClientSecretCredential(o.tenantId, o.demo.clientId, o.demo.clientSecret, { authorityHost: o.url, disableInstanceDiscovery: true });
    const token = await credential.getToken(`${o.orgUrl}/.default`);
    expect(token.token).toBeTruthy();
    expect(token.expiresOnTimestamp).toBeGreaterThan(Date.now() + 30 * 60_000);
    const res = await apiGet(o, token.token, "accounts?$select=name&$top=5");
    expect(res.status).toBe(200);
    expect((res.body as { value: unknown[] }).value).toHaveLength(5);
  });

  it("ClientSecretCredential surfaces AADSTS7000215 for a wrong secret", async () => {
    const o = orgbox();
    const credential = new ClientSecretCredential(o.tenantId, o.demo.clientId, "wrong-secret", { authorityHost: o.url, disableInstanceDiscovery: true });
    await expect(credential.getToken(`${o.orgUrl}/.default`)).rejects.toThrow(/AADSTS7000215/);
  });
});
