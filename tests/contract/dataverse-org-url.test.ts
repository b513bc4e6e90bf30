/**
 * Issue 12: the org URL as the banner prints it (`{url}/org/contoso`, no trailing slash) works as
 * dynamics-web-api's `serverUrl`. The client resolves `api/data/v9.2/` against it, which gives
 * `{url}/org/api/data/v9.2/…`; orgbox serves that path for the org the bearer token's audience names,
 * and verifies the token exactly as on `{url}/org/{name}/api/data/…` (signature, issuer, audience).
 */
import { DynamicsWebApi } from "dynamics-web-api";
import { SignJWT, UnsecuredJWT, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { Org } from "../../src/dataverse/index.ts";
import { DEMO } from "../../src/index.ts";
import { failure } from "../helpers/dwa.ts";
import { demoToken, useOrgbox } from "../helpers/orgbox.ts";
import { appUser } from "../helpers/security.ts";

describe("the org URL as printed, as dynamics-web-api's serverUrl", () => {
  const orgbox = useOrgbox();
  let token = "";
  let api: DynamicsWebApi;

  beforeAll(async () => {
    token = await demoToken(orgbox());
    // Exactly the banner's `Org URL` line: no trailing slash.
    api = new DynamicsWebApi({ serverUrl: orgbox().orgUrl, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
  });

  it("reads, creates, updates and batches through {url}/org/api/data/v9.2/", async () => {
    expect(orgbox().orgUrl).toMatch(/\/org\/contoso$/);
    const leads = await api.retrieveMultiple<{ subject: string }>({ collection: "leads", select: ["subject"], filter: "leadqualitycode eq 1" });
    expect(leads.value.length).toBeGreaterThan(0);
    const id = (await api.create({ collection: "accounts", data: { name: "Printed URL Ltd" } })) as string;
    await api.update({ collection: "accounts", key: id, data: { telephone1: "555" } });
    expect(await api.retrieve({ collection: "accounts", key: id, select: ["name", "telephone1"] })).toMatchObject({ name: "Printed URL Ltd", telephone1: "555" });
    const who = await api.callFunction<{ UserId: string }>({ name: "WhoAmI" });
    expect(who.UserId).toBe(DEMO.org.applicationUserId);

    api.startBatch();
    api.retrieveMultiple({ collection: "accounts", select: ["name"], filter: `accountid eq ${id}` });
    api.update({ collection: "accounts", key: id, data: { name: "Batched" } });
    const results = await api.executeBatch();
    expect(results).toHaveLength(2);
    expect(await api.retrieve({ collection: "accounts", key: id, select: ["name"] })).toMatchObject({ name: "Batched" });
    // The URLs in the answers use the base the client called: dynamics-web-api follows only links under it.
    const raw = await fetch(`${orgbox().url}/org/api/data/v9.2/accounts(${id})?$select=name`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await raw.json()) as Record<string, string>)["@odata.context"]).toBe(`${orgbox().url}/org/api/data/v9.2/$metadata#accounts(name)/$entity`);
  });

  it("pages with next links and change tracking with delta links under the printed org URL", async () => {
    for (const name of ["Paged A", "Paged B", "Paged C"]) await api.create({ collection: "accounts", data: { name } });
    const all = await api.retrieveAll<{ name: string }>({ collection: "accounts", select: ["name"], filter: "startswith(name,'Paged ')", orderBy: ["name"], maxPageSize: 2 });
    expect(all.value.map((a) => a.name)).toEqual(["Paged A", "Paged B", "Paged C"]);
    const initial = await api.retrieveMultiple({ collection: "accounts", select: ["name"], trackChanges: true });
    expect(initial.oDataDeltaLink).toMatch(new RegExp(`^${orgbox().url}/org/api/data/v9\\.2/accounts\\?`));
    await api.create({ collection: "accounts", data: { name: "Paged D" } });
    const changes = await api.retrieveMultiple<{ name: string }>({ collection: "accounts" }, initial.oDataDeltaLink);
    expect(changes.value.map((a) => a.name)).toEqual(["Paged D"]);
  });

  it("answers for the org the token names, each org for its own token", async () => {
    const o = orgbox();
    const { org, systemAdministratorRoleId, rootBusinessUnitId } = await o.dataverse.service.createOrg({ name: "api", tenantId: o.tenantId });
    const other = await appUser(o, org as Org, "org-url-other", rootBusinessUnitId, [systemAdministratorRoleId]);
    const res = await fetch(`${o.url}/${o.tenantId}/oauth2/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: other.appId, client_secret: other.secret, resource: o.orgUrlOf("api") }) });
    const apiOrgToken = ((await res.json()) as { access_token: string }).access_token;
    const whoAmI = async (url: string, bearer: string) => {
      const r = await fetch(url, { headers: { authorization: `Bearer ${bearer}` } });
      return { status: r.status, body: (await r.json()) as { OrganizationId?: string; error?: { code: string; message: string } } };
    };
    expect((await whoAmI(`${o.url}/org/api/data/v9.2/WhoAmI`, apiOrgToken)).body.OrganizationId).toBe(org.id);
    expect((await whoAmI(`${o.url}/org/api/data/v9.2/WhoAmI`, token)).body.OrganizationId).toBe(DEMO.org.id);
    // An org named "api" keeps its own URL.
    expect((await whoAmI(`${o.orgUrlOf("api")}/api/data/v9.2/WhoAmI`, apiOrgToken)).body.OrganizationId).toBe(org.id);
    expect((await whoAmI(`${o.orgUrlOf("api")}/api/data/v9.2/WhoAmI`, token)).status).toBe(401);
  });

  it("refuses requests without a token, or whose token names no org of this orgbox or is not genuine (401)", async () => {
    const o = orgbox();
    const url = `${o.url}/org/api/data/v9.2/WhoAmI`;
    const send = async (headers: Record<string, string>) => {
      const r = await fetch(url, { headers });
      return { status: r.status, challenge: r.headers.get("www-authenticate"), body: (await r.json()) as { error: { code: string; message: string } } };
    };
    const none = await send({});
    expect(none).toMatchObject({ status: 401, challenge: "Bearer", body: { error: { code: "0x0" } } });
    expect(none.body.error.message).toMatch(/no bearer token/);
    expect((await send({ authorization: "Bearer not-a-jwt" })).body.error.message).toMatch(/not a JWT/);
    // A genuine token for Microsoft Graph names no org.
    const graph = await demoToken(o, "https://graph.microsoft.com");
    expect((await send({ authorization: `Bearer ${graph}` })).status).toBe(401);
    // Forged tokens naming the org are decoded only to pick it; verification still refuses them.
    const claims = { aud: o.orgUrl, iss: `https://sts.windows.net/${o.tenantId}/`, tid: o.tenantId, appid: DEMO.app.clientId, oid: DEMO.app.servicePrincipalId };
    const unsigned = new UnsecuredJWT(claims).setIssuedAt().setExpirationTime("1h").encode();
    const { privateKey } = await generateKeyPair("RS256");
    const selfSigned = await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "forged" }).setIssuedAt().setExpirationTime("1h").sign(privateKey);
    for (const forged of [unsigned, selfSigned]) {
      const answer = await send({ authorization: `Bearer ${forged}` });
      expect(answer.status).toBe(401);
      expect(answer.body.error.message).toMatch(/not valid for this organization/);
    }
    // dynamics-web-api without a valid token: the 401 surfaces as its error.
    const bad = new DynamicsWebApi({ serverUrl: o.orgUrl, dataApi: { version: "9.2" }, onTokenRefresh: async () => graph });
    expect(await failure(bad.retrieveMultiple({ collection: "leads", select: ["subject"] }))).toMatchObject({ status: 401 });
  });
});
