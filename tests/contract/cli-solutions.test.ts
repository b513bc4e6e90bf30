/**
 * `orgbox solution import|export|list|uninstall` on a stopped store (SQLite and PostgreSQL), as real
 * child processes, and `orgbox deploy`'s refusals of a bad package or missing credentials.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOrgbox } from "../../src/index.ts";
import { orgboxCli } from "../helpers/cli.ts";
import { BACKENDS, type TestStoreLocation } from "../helpers/store-backends.ts";

const FIXTURE = resolve(import.meta.dirname, "../fixtures/solutions/ContosoProjects");

describe.each(BACKENDS)("orgbox solution CLI on a stopped store ($name)", (backend) => {
  let store: TestStoreLocation;
  let data: string[] = [];
  let folder: string;

  beforeAll(async () => {
    store = await backend.create();
    const { location } = store;
    data = location.storeUrl ? ["--store-url", location.storeUrl] : ["--data", location.dataDir];
    // A store written by a server (the demo org contoso), then stopped.
    const o = await startOrgbox({ inMemory: false, http: true, port: 0, ...(location.storeUrl ? { storeUrl: location.storeUrl } : { dataDir: location.dataDir }) });
    await o.close();
    folder = mkdtempSync(join(tmpdir(), "orgbox-solution-cli-"));
    const files: Record<string, Uint8Array> = {};
    for (const name of readdirSync(FIXTURE)) files[name] = new Uint8Array(readFileSync(join(FIXTURE, name)));
    writeFileSync(join(folder, "ContosoProjects_managed.zip"), zipSync(files));
    // The same solution, unmanaged (Managed 0), to export again.
    files["solution.xml"] = new TextEncoder().encode(readFileSync(join(FIXTURE, "solution.xml"), "utf8").replace("<Managed>1</Managed>", "<Managed>0</Managed>").replace(/ContosoProjects/g, "ContosoDev"));
    files["customizations.xml"] = new TextEncoder().encode(readFileSync(join(FIXTURE, "customizations.xml"), "utf8").replace(/cts_/g, "ctd_").replace("5b6e2a9c-1f3d-4e7a-9c21-7d0c2f4a1b01", "5b6e2a9c-1f3d-4e7a-9c21-7d0c2f4a1b02"));
    writeFileSync(join(folder, "ContosoDev.zip"), zipSync(files));
  });
  afterAll(async () => {
    rmSync(folder, { recursive: true, force: true });
    await store.dispose();
  });

  it("imports, lists, exports and uninstalls", async () => {
    const imported = await orgboxCli(["solution", "import", join(folder, "ContosoProjects_managed.zip"), ...data, "--org", "contoso", "--json"]);
    expect(imported.stderr).toBe("");
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ importJobId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect((await orgboxCli(["solution", "import", join(folder, "ContosoDev.zip"), ...data, "--json"])).code).toBe(0);

    const listed = JSON.parse((await orgboxCli(["solution", "list", ...data, "--json"])).stdout) as { uniqueName: string; managed: boolean; version: string }[];
    expect(listed.map((s) => s.uniqueName)).toEqual(["Active", "Basic", "ContosoDev", "ContosoProjects", "Default"]);
    expect(listed.find((s) => s.uniqueName === "ContosoProjects")).toMatchObject({ managed: true, version: "2.0.0.3" });

    const out = join(folder, "export.zip");
    const exported = await orgboxCli(["solution", "export", "ContosoDev", "--out", out, ...data, "--json"]);
    expect(exported.code).toBe(0);
    expect(readFileSync(out).subarray(0, 2).toString()).toBe("PK");
    // A managed solution cannot be exported; an unknown one is bad input.
    const managed = await orgboxCli(["solution", "export", "ContosoProjects", "--out", out, ...data]);
    expect(managed.code).toBe(2);
    expect(managed.stderr).toMatch(/managed/);
    expect((await orgboxCli(["solution", "export", "Nope", "--out", out, ...data])).code).toBe(2);

    const uninstalled = await orgboxCli(["solution", "uninstall", "ContosoProjects", ...data, "--json"]);
    expect(uninstalled.code).toBe(0);
    const after = JSON.parse((await orgboxCli(["solution", "list", ...data, "--json"])).stdout) as { uniqueName: string }[];
    expect(after.map((s) => s.uniqueName)).not.toContain("ContosoProjects");
  }, 180_000);

  // The refusals happen before or above the store: once, on SQLite.
  it.runIf(backend.name === "sqlite")("fails loudly: a file that is not a solution, an unknown solution, a missing --out, no store", async () => {
    const notZip = join(folder, "not-a-zip.zip");
    writeFileSync(notZip, "hello");
    const bad = await orgboxCli(["solution", "import", notZip, ...data]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a solution zip file.*import job/);
    expect((await orgboxCli(["solution", "import", join(folder, "missing.zip"), ...data])).stderr).toMatch(/cannot read/);
    expect((await orgboxCli(["solution", "uninstall", "Nope", ...data])).code).toBe(2);
    expect((await orgboxCli(["solution", "export", "ContosoDev", ...data])).stderr).toMatch(/--out/);
    const noStore = await orgboxCli(["solution", "list"], { ORGBOX_DATA: "", ORGBOX_STORE_URL: "", ORGBOX_URL: "" });
    expect(noStore.code).toBe(2);
  }, 120_000);
});

describe("orgbox deploy refuses a bad package or missing credentials before calling anything", () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), "orgbox-deploy-"));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));
  const credentials = ["--url", "http://127.0.0.1:9/org/x", "--tenant", "t", "--client-id", "c", "--client-secret", "s"];

  it("names what is wrong", async () => {
    expect((await orgboxCli(["deploy", folder, ...credentials])).stderr).toMatch(/no ImportConfig\.xml/);
    writeFileSync(join(folder, "ImportConfig.xml"), `<configdatastorage crmmigdataimportfile="data.zip"><solutions /></configdatastorage>`);
    expect((await orgboxCli(["deploy", folder, ...credentials])).stderr).toMatch(/configuration data/);
    writeFileSync(join(folder, "ImportConfig.xml"), `<configdatastorage><solutions><configsolutionfile solutionpackagefilename="missing.zip" /></solutions></configdatastorage>`);
    expect((await orgboxCli(["deploy", folder, ...credentials])).stderr).toMatch(/missing\.zip/);
    writeFileSync(join(folder, "ImportConfig.xml"), `<configdatastorage><solutions /></configdatastorage>`);
    writeFileSync(join(folder, "orgbox.deploy.yaml"), "applicationUsers:\n  - appId: not-a-guid\n");
    expect((await orgboxCli(["deploy", folder, ...credentials])).stderr).toMatch(/appId/);
    writeFileSync(join(folder, "orgbox.deploy.yaml"), "applicationUsers: []\n");
    const noCredentials = await orgboxCli(["deploy", folder, "--url", "http://127.0.0.1:9/org/x"], { ORGBOX_TENANT: "", ORGBOX_CLIENT_ID: "", ORGBOX_CLIENT_SECRET: "" });
    expect(noCredentials.code).toBe(2);
    expect(noCredentials.stderr).toMatch(/--client-id/);
  }, 120_000);
});
