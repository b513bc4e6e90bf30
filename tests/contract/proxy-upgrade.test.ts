/**
 * A store from a build without the "Windows Azure Service Management API" first-party app (what `az login` asks a
 * token for): on the next start every tenant gets its service principal, so az can sign in. SQLite and PostgreSQL.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AZURE_SERVICE_MANAGEMENT_APP_ID } from "../../src/identity/index.ts";
import { DEMO, startOrgbox } from "../../src/index.ts";
import { BACKENDS } from "../helpers/store-backends.ts";

describe.each(BACKENDS)("first-party apps added by a newer build ($name)", (backend) => {
  it("an older store's tenants get the new app's service principal on start", async () => {
    const store = await backend.create();
    const dataDir = store.location.dataDir || mkdtempSync(join(tmpdir(), "orgbox-upgrade-"));
    const options = { dataDir, inMemory: false, http: true, port: 0, ...(store.location.storeUrl ? { storeUrl: store.location.storeUrl } : {}) };
    try {
      const first = await startOrgbox(options);
      const sp = await first.identity.directory.findServicePrincipal(DEMO.tenantId, AZURE_SERVICE_MANAGEMENT_APP_ID);
      const app = await first.identity.directory.findApplicationByAppId(AZURE_SERVICE_MANAGEMENT_APP_ID);
      // As an older build left it: neither the app nor its service principal.
      await first.identity.directory.deleteServicePrincipal(sp?.id as string, Date.now());
      await first.identity.directory.deleteApplication(app?.id as string);
      await first.close();

      const again = await startOrgbox(options);
      try {
        expect(await again.identity.directory.findServicePrincipal(DEMO.tenantId, AZURE_SERVICE_MANAGEMENT_APP_ID)).toMatchObject({ appId: AZURE_SERVICE_MANAGEMENT_APP_ID, tenantId: DEMO.tenantId });
        const token = await fetch(`${again.url}/${DEMO.tenantId}/oauth2/v2.0/token`, {
          method: "POST",
          body: new URLSearchParams({ grant_type: "client_credentials", client_id: DEMO.app.clientId, client_secret: DEMO.app.clientSecret, scope: "https://management.core.windows.net//.default" }),
        });
        expect(token.status).toBe(200);
      } finally {
        await again.close();
      }
    } finally {
      await store.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
