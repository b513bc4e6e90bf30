/**
 * Client-secret rotation through Graph is live on the token path, on SQLite and PostgreSQL: a secret
 * added with addPassword works on the very next token request, and one removed with removePassword
 * fails on the next (AADSTS7000215), even after it was used (and the directory cache warmed).
 */
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { sql } from "kysely";
import { DEMO, startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { MICROSOFT_GRAPH_APP_ID } from "../../src/identity/index.ts";
import { openDatabase } from "../../src/store/database.ts";
import { graph, graphToken } from "../helpers/graph.ts";
import { BACKENDS, type TestStoreLocation } from "../helpers/store-backends.ts";

/** Client credentials (v2, plain fetch) for the org: the status and the AADSTS code of an error. */
async function clientCredentials(o: OrgboxInstance, clientId: string, secret: string): Promise<{ status: number; aadsts?: string }> {
  const res = await fetch(`${o.url}/${o.tenantId}/oauth2/v2.0/token`, { method: "POST", body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret, scope: `${o.orgUrl}/.default` }) });
  const body = (await res.json()) as { error_description?: string };
  return { status: res.status, ...(body.error_description ? { aadsts: /^AADSTS\d+/.exec(body.error_description)?.[0] ?? "" } : {}) };
}

describe.each(BACKENDS)("Graph secret rotation is live ($name)", (backend) => {
  let store: TestStoreLocation;
  let o: OrgboxInstance;

  beforeAll(async () => {
    store = await backend.create();
    o = await start();
  });
  const start = () => {
    const { location } = store;
    return startOrgbox({ caDir: dirname(process.env.NODE_EXTRA_CA_CERTS ?? join(defaultTempCaDir(), "ca.pem")), ...(location.storeUrl ? { storeUrl: location.storeUrl } : { dataDir: location.dataDir }) });
  };
  afterAll(async () => {
    await o?.close();
    await store?.dispose();
  });

  it("add, use, remove the old one: the old secret fails on the next request, the new one keeps working", async () => {
    const token = await graphToken(o);
    const app = (await graph(o, token, "GET", `applications(appId='${DEMO.app.clientId}')?$select=id,passwordCredentials`)).body;
    const old = (app.passwordCredentials as { keyId: string }[])[0];
    expect(old?.keyId).toBe(DEMO.app.secretKeyId);
    expect(await clientCredentials(o, DEMO.app.clientId, DEMO.app.clientSecret)).toEqual({ status: 200 });

    const added = await graph(o, token, "POST", `applications/${String(app.id)}/addPassword`, { passwordCredential: { displayName: "rotated" } });
    expect(added.status).toBe(200);
    const fresh = String(added.body.secretText);
    expect(await clientCredentials(o, DEMO.app.clientId, fresh)).toEqual({ status: 200 });
    expect(await clientCredentials(o, DEMO.app.clientId, DEMO.app.clientSecret)).toEqual({ status: 200 });

    expect((await graph(o, token, "POST", `applications/${String(app.id)}/removePassword`, { keyId: DEMO.app.secretKeyId })).status).toBe(204);
    expect(await clientCredentials(o, DEMO.app.clientId, DEMO.app.clientSecret)).toEqual({ status: 401, aadsts: "AADSTS7000215" });
    expect(await clientCredentials(o, DEMO.app.clientId, fresh)).toEqual({ status: 200 });
    const again = await graph(o, token, "POST", `applications/${String(app.id)}/removePassword`, { keyId: DEMO.app.secretKeyId });
    expect(again.status).toBe(400);
    expect(again.body.error?.message).toContain(DEMO.app.secretKeyId);
  });

  it("a store from a build before Graph's app roles gets them on the next start", async () => {
    await o.close();
    const database = await openDatabase(store.location);
    await sql`UPDATE applications SET app_roles = '[]' WHERE app_id = ${MICROSOFT_GRAPH_APP_ID}`.execute(database.db);
    await database.close();
    o = await start();
    const token = await graphToken(o);
    expect(JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString()).roles).toContain("Application.ReadWrite.All");
    expect((await graph(o, token, "GET", "applications?$top=1")).status).toBe(200);
  });
});
