/**
 * Issue 17, "keys you can trust": `orgbox cert --install` adds the local CA to the system and browser (NSS) trust
 * stores where allowed, and prints what needs root. The plans for each OS are checked with injected machine facts
 * and an injected runner; the CLI only with --dry-run: no test changes this machine's trust stores.
 */
import { describe, expect, it } from "vitest";
import { installTrust, shellLine, trustPlan, trustReport, type HostFacts } from "../../src/cli/trust-install.ts";
import { orgboxCli } from "../helpers/cli.ts";

const CA = "/home/ann/.orgbox/ca/ca.pem";

function facts(overrides: Partial<HostFacts> & { paths?: string[]; commands?: string[]; folders?: Record<string, string[]> }): HostFacts {
  const paths = new Set(overrides.paths ?? []);
  const commands = new Set(overrides.commands ?? []);
  return { platform: "linux", home: "/home/ann", uid: 1000, exists: (p) => paths.has(p), which: (c) => commands.has(c), list: (f) => overrides.folders?.[f] ?? [], ...overrides };
}

const DEBIAN = { paths: ["/usr/local/share/ca-certificates", "/home/ann/.pki/nssdb", "/home/ann/.mozilla/firefox/abc.default-release/cert9.db"], commands: ["update-ca-certificates", "certutil"], folders: { "/home/ann/.mozilla/firefox": ["abc.default-release", "Crash Reports"] } };

describe("orgbox cert --install: the plan", () => {
  it("Debian: ca-certificates (root) and each NSS database (Chrome, Firefox profiles) with certutil", () => {
    const plan = trustPlan(CA, facts(DEBIAN));
    expect(plan.steps.map((s) => [shellLine(s.command, s.needsRoot), s.store])).toEqual([
      [`sudo cp ${CA} /usr/local/share/ca-certificates/orgbox-local-ca.crt`, "system (Debian/Ubuntu ca-certificates)"],
      ["sudo update-ca-certificates", "system (Debian/Ubuntu ca-certificates)"],
      [`certutil -d sql:/home/ann/.pki/nssdb -A -t C,, -n 'orgbox local CA' -i ${CA}`, "NSS (Chrome/Chromium: /home/ann/.pki/nssdb)"],
      [`certutil -d sql:/home/ann/.mozilla/firefox/abc.default-release -A -t C,, -n 'orgbox local CA' -i ${CA}`, "NSS (Firefox: /home/ann/.mozilla/firefox/abc.default-release)"],
    ]);
    expect(plan.notes.join("\n")).toContain("NODE_EXTRA_CA_CERTS");
  });

  it("without certutil: a note naming libnss3-tools; Fedora: ca-trust; macOS, Windows; an unknown system: a note", () => {
    const noCertutil = trustPlan(CA, facts({ ...DEBIAN, commands: ["update-ca-certificates"] }));
    expect(noCertutil.steps).toHaveLength(2);
    expect(noCertutil.notes.join("\n")).toContain("apt-get install libnss3-tools");
    const fedora = trustPlan(CA, facts({ paths: ["/etc/pki/ca-trust/source/anchors"], commands: ["update-ca-trust"] }));
    expect(fedora.steps.map((s) => s.command)).toEqual([["cp", CA, "/etc/pki/ca-trust/source/anchors/orgbox-local-ca.pem"], ["update-ca-trust", "extract"]]);
    expect(trustPlan(CA, facts({})).notes[0]).toContain("no system trust store tool found");
    expect(trustPlan(CA, facts({ platform: "darwin" })).steps).toEqual([{ store: "system (macOS System keychain)", command: ["security", "add-trusted-cert", "-d", "-r", "trustRoot", "-k", "/Library/Keychains/System.keychain", CA], needsRoot: true }]);
    expect(trustPlan(CA, facts({ platform: "win32", uid: undefined })).steps).toEqual([{ store: "Windows (the current user's Trusted Root Certification Authorities)", command: ["certutil", "-addstore", "-user", "Root", CA], needsRoot: false }]);
    expect(trustPlan(CA, facts({ platform: "aix" })).notes[0]).toContain("no trust store steps known for aix");
  });

  it("as a user: runs the NSS steps, prints the root ones with sudo; as root: runs all; a failure is reported; --dry-run runs none", () => {
    const plan = trustPlan(CA, facts(DEBIAN));
    const ran: string[][] = [];
    const asUser = installTrust(plan, { uid: 1000 }, false, (c) => ran.push(c));
    expect(asUser.map((o) => o.outcome)).toEqual(["needs root", "needs root", "ran", "ran"]);
    expect(ran.map((c) => c[0])).toEqual(["certutil", "certutil"]);
    const report = trustReport(plan, asUser);
    expect(report).toContain(`Needs root; run these yourself:\n    sudo cp ${CA} /usr/local/share/ca-certificates/orgbox-local-ca.crt`);
    expect(report).toContain("Done:\n    NSS (Chrome/Chromium: /home/ann/.pki/nssdb)");

    const asRoot = installTrust(plan, { uid: 0 }, false, (c) => {
      if (c[0] === "update-ca-certificates") throw new Error("exit code 1");
    });
    expect(asRoot.map((o) => o.outcome)).toEqual(["ran", "failed", "ran", "ran"]);
    expect(trustReport(plan, asRoot)).toContain("Failed:\n    update-ca-certificates: exit code 1");

    const none: string[][] = [];
    expect(installTrust(plan, { uid: 0 }, true, (c) => none.push(c)).every((o) => o.outcome === "dry run")).toBe(true);
    expect(none).toEqual([]);
  });
});

describe("orgbox cert --install --dry-run (this machine, nothing changed)", () => {
  it("prints the plan for the CA it uses, as JSON too", { timeout: 60_000 }, async () => {
    const run = await orgboxCli(["cert", "--in-memory", "--install", "--dry-run", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { caCertPath: string; steps: { outcome: string; command: string[] }[]; notes: string[] };
    expect(out.caCertPath).toMatch(/ca\.pem$/);
    for (const step of out.steps) expect(step.outcome).toBe("dry run");
    expect(out.steps.filter((s) => s.command.includes(out.caCertPath)).length).toBe(out.steps.filter((s) => s.command[0] !== "update-ca-certificates" && s.command[0] !== "update-ca-trust").length);
    expect(out.notes.join("\n")).toContain("NODE_EXTRA_CA_CERTS");
  });
});
