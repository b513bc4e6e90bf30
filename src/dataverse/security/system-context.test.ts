import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { OrgMetadata } from "../metadata/registry.ts";
import { STANDARD_TABLES } from "../metadata/standard.ts";
import type { EntityMetadata } from "../metadata/types.ts";
import type { Org } from "../model.ts";
import { requireCallerContext } from "../pipeline.ts";
import type { DataverseStore } from "../store.ts";
import { SecurityContext, SYSTEM_CALLER } from "./context.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const org: Org = { id: "00000000-0000-0000-0000-0000000000aa", name: "unit", tenantId: "00000000-0000-0000-0000-0000000000bb", displayName: "unit", tablePrefix: "t1_" };
const md = new OrgMetadata(STANDARD_TABLES);
const account = md.entity("account") as EntityMetadata;

/**
 * The files that may create the system security context: the org model's own work (seeding,
 * environments, upgrades, DataverseService and its parts) and the unit tests below the security model.
 */
const ALLOWED = new Set([
  "src/dataverse/security/context.ts",
  "src/server/seed.ts",
  "src/environment/apply.ts",
  "src/dataverse/upgrade.ts",
  "src/dataverse/service.ts",
  "src/dataverse/org/runtime.ts",
  "src/dataverse/org/provisioning.ts",
  "src/dataverse/org/customization.ts",
  "src/dataverse/org/stamping.ts",
  "src/dataverse/validation.test.ts",
  "src/dataverse/security/system-context.test.ts",
]);

/** Every `.ts` file under `dir` (tests included). */
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : files(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** The files whose code (comments left out) calls `SecurityContext.system(`. */
function systemContextCallers(paths: string[]): string[] {
  return paths.filter((path) =>
    readFileSync(path, "utf8")
      .split("\n")
      .filter((line) => !/^\s*(\*|\/\*|\/\/)/.test(line))
      .some((line) => line.includes("SecurityContext.system(")),
  );
}

describe("the system security context", () => {
  it("passes every check without reading anything and reads every row of a join, for its stated reason", async () => {
    const system = SecurityContext.system(org, "a unit test of the bypass");
    expect(system.isSystem).toBe(true);
    expect(system.caller).toEqual(SYSTEM_CALLER);
    await expect(system.assertPrivilege("Delete", account)).resolves.toHaveLength(1);
    await expect(system.assertRecordAccess("Write", account, "00000000-0000-0000-0000-000000000001")).resolves.toBeUndefined();
    await expect(system.assertNamedPrivilege("prvActOnBehalfOfAnotherUser")).resolves.toBeUndefined();
    await expect(system.scope("Read", account)).resolves.toBeUndefined();
    const scope = await system.readScope(account);
    expect(scope.systemReason).toBe("a unit test of the bypass");
    expect(scope.where).toBeUndefined();
    expect(system.bind({} as DataverseStore)).toBe(system);
  });

  it("is refused by the Web API pipeline, which runs handlers only for an authenticated caller", () => {
    expect(() => requireCallerContext(SecurityContext.system(org, "a unit test of the pipeline's guard"))).toThrow(/system security context/);
    const caller = new SecurityContext({ store: {} as DataverseStore, org, md, caller: { systemUserId: "00000000-0000-0000-0000-000000000002", businessUnitId: "00000000-0000-0000-0000-000000000003", kind: "user" } });
    expect(caller.isSystem).toBe(false);
    expect(requireCallerContext(caller)).toBe(caller);
  });

  it("is created only by the files of the allow-list", () => {
    const all = [...files(join(ROOT, "src")), ...files(join(ROOT, "tests"))];
    expect(all.length).toBeGreaterThan(100);
    const callers = systemContextCallers(all).map((path) => relative(ROOT, path));
    // The scan finds real calls (this file and the writer's unit test make some).
    expect(callers).toContain("src/dataverse/validation.test.ts");
    expect(callers.filter((path) => !ALLOWED.has(path))).toEqual([]);
  });
});
