import { describe, expect, it } from "vitest";
import { STANDARD_TABLES } from "../metadata/standard.ts";
import { defaultRoles, roleTemplateId } from "./default-roles.ts";
import { MISC_PRIVILEGES, SYSTEM_ADMINISTRATOR_TEMPLATE_ID, privilegesFor } from "./privileges.ts";

describe("predefined roles", () => {
  const roles = defaultRoles(STANDARD_TABLES);
  const byName = new Map(roles.map((r) => [r.name, r]));

  it("are System Administrator, System Customizer, Basic User, Delegate and Environment Maker, with stable template ids", () => {
    expect(roles.map((r) => r.name)).toEqual(["System Administrator", "System Customizer", "Basic User", "Delegate", "Environment Maker"]);
    expect(byName.get("System Administrator")?.templateId).toBe(SYSTEM_ADMINISTRATOR_TEMPLATE_ID);
    expect(roleTemplateId("Delegate")).toBe(roleTemplateId("Delegate"));
    expect(new Set(roles.map((r) => r.templateId)).size).toBe(roles.length);
  });

  it("System Administrator holds every privilege at Global, each once", () => {
    const all = new Set([...STANDARD_TABLES.flatMap((t) => privilegesFor(t).map((p) => p.name)), ...MISC_PRIVILEGES]);
    expect(byName.get("System Administrator")?.privileges.map((p) => p.name).sort()).toEqual([...all].sort());
    expect(byName.get("System Administrator")?.privileges.every((p) => p.depth === "Global")).toBe(true);
  });

  it("activity tables share prv{Verb}Activity and notes use prv{Verb}Note, in every role, each privilege once", () => {
    const admin = byName.get("System Administrator")?.privileges.map((p) => p.name) ?? [];
    for (const verb of ["Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share"]) {
      expect(admin).toContain(`prv${verb}Activity`);
      expect(admin).toContain(`prv${verb}Note`);
    }
    for (const role of roles) {
      const names = role.privileges.map((p) => p.name);
      expect(new Set(names).size, role.name).toBe(names.length);
      expect(names.filter((n) => /(Task|Email|PhoneCall|Annotation)$/.test(n)), role.name).toEqual([]);
    }
    const basic = byName.get("Basic User")?.privileges ?? [];
    expect(basic).toContainEqual({ name: "prvReadActivity", depth: "Local" });
    expect(basic).toContainEqual({ name: "prvCreateNote", depth: "Basic" });
  });

  it("Delegate holds only prvActOnBehalfOfAnotherUser; Basic User reads accounts at BU depth and writes its own", () => {
    expect(byName.get("Delegate")?.privileges).toEqual([{ name: "prvActOnBehalfOfAnotherUser", depth: "Global" }]);
    const basic = byName.get("Basic User")?.privileges ?? [];
    expect(basic).toContainEqual({ name: "prvReadAccount", depth: "Local" });
    expect(basic).toContainEqual({ name: "prvWriteAccount", depth: "Basic" });
    expect(basic).toContainEqual({ name: "prvReadUser", depth: "Global" });
    expect(basic.some((p) => p.name === "prvActOnBehalfOfAnotherUser")).toBe(false);
  });
});
