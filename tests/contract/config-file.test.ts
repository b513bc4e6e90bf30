/**
 * A start reads its config file once: the server settings and the environment the same file describes
 * come from one read, so a file edited (or removed) in between cannot give a start two versions of it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { defaultTempCaDir } from "../../src/common/tls.ts";
import { createLogger } from "../../src/common/logger.ts";
import { configDocument, resolveConfig } from "../../src/config/config.ts";
import { loadEnvironmentFile, startOrgbox } from "../../src/index.ts";
import { orgboxCli } from "../helpers/cli.ts";
import { createOrgbox } from "../../src/server/create-orgbox.ts";

describe("the config file", () => {
  const dir = mkdtempSync(join(tmpdir(), "orgbox-config-once-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is read once per start: settings and environment from the same read", async () => {
    const path = join(dir, "once.orgbox.yaml");
    writeFileSync(path, ["server:", "  http: true", "tenants:", "  - id: 22220000-0000-4000-8000-000000000001", "    displayName: Once", "    domains: [once.onmicrosoft.com]", "orgs:", "  - name: once", "    tenant: once.onmicrosoft.com", ""].join("\n"));
    const config = resolveConfig({ configFile: path }, {}, { inMemory: true, port: 0, logLevel: "silent", caDir: defaultTempCaDir() });
    expect(config.http).toBe(true);
    expect(configDocument(config)).toMatchObject({ orgs: [{ name: "once" }] });

    // Gone before the server starts: the start still has the file as resolveConfig read it.
    rmSync(path);
    const orgbox = await createOrgbox(config, createLogger("silent"));
    try {
      expect(orgbox.environment?.orgs.map((o) => o.name)).toEqual(["once"]);
      expect(orgbox.orgUrl).toBe(`${orgbox.url}/org/once`);
      expect((await fetch(`${orgbox.url}/_orgbox/health`)).status).toBe(200);
    } finally {
      await orgbox.close();
    }
  });

  it("is read again for a config object resolveConfig did not return (a copy)", () => {
    const path = join(dir, "copy.orgbox.yaml");
    writeFileSync(path, "server:\n  port: 0\n");
    const config = resolveConfig({ configFile: path });
    expect(configDocument(config)).toEqual({ server: { port: 0 } });
    expect(configDocument({ ...config })).toBeUndefined();
    expect(configDocument(resolveConfig({}))).toBeUndefined();
  });

  it("refuses unknown keys, under server and at the top level, with the key it likely meant", async () => {
    const file = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const inServer = file("typo.orgbox.yaml", "server:\n  prot: 8443\n  http: true\n");
    expect(() => resolveConfig({ configFile: inServer })).toThrow(`invalid configuration in ${inServer}: server: unknown key 'prot' (did you mean 'port'?)`);
    const topLevel = file("typo-top.json", JSON.stringify({ logLevle: "debug", $schema: "x" }));
    expect(() => resolveConfig({ configFile: topLevel })).toThrow(`(top level): unknown key 'logLevle' (did you mean 'logLevel'?)`);
    const environment = file("typo-env.orgbox.yaml", "tenant:\n  - id: 22220000-0000-4000-8000-000000000002\nwhatever: 1\n");
    expect(() => resolveConfig({ configFile: environment })).toThrow(`(top level): unknown keys 'tenant' (did you mean 'tenants'?), 'whatever'`);
    const notAnObject = file("server-list.yaml", "server: [1]\n");
    expect(() => resolveConfig({ configFile: notAnObject })).toThrow("server: must be an object");
    // Inside an environment's sections, as before, now with the suggestion.
    const app = file("typo-app.orgbox.yaml", ["tenants:", "  - id: 22220000-0000-4000-8000-000000000003", "    displayName: T", "    domains: [t3.onmicrosoft.com]", "apps:", "  - appId: 22220000-0000-4000-8000-00000000a003", "    displayName: A", "    tenant: t3.onmicrosoft.com", "    secret: [{ value: s }]", ""].join("\n"));
    expect(() => loadEnvironmentFile(app)).toThrow("apps[0]: unknown key 'secret' (did you mean 'secrets'?)");
    // Options in code and the CLI say the same.
    await expect(startOrgbox({ prot: 0 } as never)).rejects.toThrow("unknown key 'prot' (did you mean 'port'?)");
    const run = await orgboxCli(["start", "--config", inServer, "--in-memory", "--port", "0"]);
    expect(run.stderr).toContain("server: unknown key 'prot' (did you mean 'port'?)");
    expect(run.code).toBe(2);
  });
});
