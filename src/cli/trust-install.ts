/**
 * `orgbox cert --install [--dry-run]`: adds the local CA to the operating system's trust store and to the NSS
 * databases of Chrome and Firefox (Linux), where the user asks. What runs depends on the machine:
 *
 * - Debian/Ubuntu: copy to `/usr/local/share/ca-certificates/orgbox-local-ca.crt`, then `update-ca-certificates`
 *   (manpages.debian.org/update-ca-certificates); Fedora/RHEL: `/etc/pki/ca-trust/source/anchors/` and
 *   `update-ca-trust extract`. Both need root: without it the commands are printed (with `sudo`), not run.
 * - NSS (Chrome's `~/.pki/nssdb`, Firefox profiles): `certutil -d sql:DIR -A -t C,, -n "orgbox local CA" -i ca.pem`
 *   when `certutil` (libnss3-tools) is installed (firefox-source-docs.mozilla.org, "NSS tools: certutil").
 * - macOS: `security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain` (needs root);
 *   Windows: `certutil -addstore -user Root` (the user's store).
 *
 * `--dry-run` prints the plan and changes nothing. Node.js and Python keep their own CA lists: the trust lines
 * of `orgbox cert` still apply to them.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";

/** One command of the plan. */
export interface TrustStep {
  /** The trust store it changes, in words. */
  store: string;
  /** The command and its arguments (run without a shell). */
  command: string[];
  /** The command needs root (a system store). */
  needsRoot: boolean;
}

/** What the plan needs to know about the machine (injected, so that tests plan for any OS without touching this one). */
export interface HostFacts {
  platform: NodeJS.Platform;
  home: string;
  /** The effective user id; undefined on Windows. */
  uid: number | undefined;
  exists(path: string): boolean;
  /** Whether `command` is on PATH. */
  which(command: string): boolean;
  /** The names in a folder (empty when it does not exist). */
  list(folder: string): string[];
}

/** The steps for this machine and what they do not cover. */
export interface TrustPlan {
  caCertPath: string;
  steps: TrustStep[];
  notes: string[];
}

const NICKNAME = "orgbox local CA";

/** The NSS databases of the user's Chrome/Chromium (`~/.pki/nssdb`) and Firefox profiles (`cert9.db`), deb and snap. */
function nssDatabases(facts: HostFacts): string[] {
  const out: string[] = [];
  const chrome = join(facts.home, ".pki", "nssdb");
  if (facts.exists(chrome)) out.push(chrome);
  for (const root of [join(facts.home, ".mozilla", "firefox"), join(facts.home, "snap", "firefox", "common", ".mozilla", "firefox")]) {
    for (const name of facts.list(root)) {
      const profile = join(root, name);
      if (facts.exists(join(profile, "cert9.db"))) out.push(profile);
    }
  }
  return out;
}

/** The plan to trust `caCertPath` on the machine `facts` describe. */
export function trustPlan(caCertPath: string, facts: HostFacts): TrustPlan {
  const steps: TrustStep[] = [];
  const notes: string[] = [];
  if (facts.platform === "linux") {
    if (facts.exists("/usr/local/share/ca-certificates") && facts.which("update-ca-certificates")) {
      const store = "system (Debian/Ubuntu ca-certificates)";
      steps.push({ store, command: ["cp", caCertPath, "/usr/local/share/ca-certificates/orgbox-local-ca.crt"], needsRoot: true }, { store, command: ["update-ca-certificates"], needsRoot: true });
    } else if (facts.exists("/etc/pki/ca-trust/source/anchors") && facts.which("update-ca-trust")) {
      const store = "system (Fedora/RHEL ca-trust)";
      steps.push({ store, command: ["cp", caCertPath, "/etc/pki/ca-trust/source/anchors/orgbox-local-ca.pem"], needsRoot: true }, { store, command: ["update-ca-trust", "extract"], needsRoot: true });
    } else {
      notes.push("no system trust store tool found (update-ca-certificates or update-ca-trust): add the CA with your distribution's tool");
    }
    const databases = nssDatabases(facts);
    if (databases.length > 0 && facts.which("certutil")) {
      for (const db of databases) steps.push({ store: `NSS (${db.includes(".mozilla") ? "Firefox" : "Chrome/Chromium"}: ${db})`, command: ["certutil", "-d", `sql:${db}`, "-A", "-t", "C,,", "-n", NICKNAME, "-i", caCertPath], needsRoot: false });
    } else if (databases.length > 0) {
      notes.push(`Chrome/Firefox keep their own store (${databases.join(", ")}): install certutil (Debian: apt-get install libnss3-tools) and run orgbox cert --install again`);
    }
  } else if (facts.platform === "darwin") {
    steps.push({ store: "system (macOS System keychain)", command: ["security", "add-trusted-cert", "-d", "-r", "trustRoot", "-k", "/Library/Keychains/System.keychain", caCertPath], needsRoot: true });
    notes.push("Firefox uses its own store unless security.enterprise_roots.enabled is true (about:config)");
  } else if (facts.platform === "win32") {
    steps.push({ store: "Windows (the current user's Trusted Root Certification Authorities)", command: ["certutil", "-addstore", "-user", "Root", caCertPath], needsRoot: false });
  } else {
    notes.push(`no trust store steps known for ${facts.platform}: add ${caCertPath} with the system's tool`);
  }
  notes.push("Node.js and Python do not read these stores by default: keep NODE_EXTRA_CA_CERTS / REQUESTS_CA_BUNDLE (see orgbox cert)");
  return { caCertPath, steps, notes };
}

/** This machine's facts. */
export function hostFacts(): HostFacts {
  const path = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  const extensions = process.platform === "win32" ? ["", ".exe", ".cmd"] : [""];
  return {
    platform: process.platform,
    home: homedir(),
    uid: typeof process.geteuid === "function" ? process.geteuid() : undefined,
    exists: existsSync,
    which: (command) => path.some((dir) => extensions.some((ext) => existsSync(join(dir, `${command}${ext}`)))),
    list: (folder) => {
      try {
        return readdirSync(folder);
      } catch {
        return [];
      }
    },
  };
}

/** A command as one would type it in a POSIX shell (arguments with spaces or quotes single-quoted). */
export function shellLine(command: string[], sudo = false): string {
  const quoted = command.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`));
  return `${sudo ? "sudo " : ""}${quoted.join(" ")}`;
}

/** What `installTrust` did with each step. */
export interface TrustOutcome extends TrustStep {
  outcome: "ran" | "failed" | "needs root" | "dry run";
  /** For `failed`: the command's error output. */
  error?: string;
}

/**
 * Runs the plan: each step this user may run is run (without a shell); a step that needs root, when not root,
 * is returned as `needs root` for the user to run with sudo; with `dryRun` nothing runs.
 * @param run runs one command (default `execFileSync`, output to stderr); injected by tests.
 */
export function installTrust(plan: TrustPlan, facts: Pick<HostFacts, "uid">, dryRun: boolean, run: (command: string[]) => void = defaultRun): TrustOutcome[] {
  return plan.steps.map((step) => {
    if (dryRun) return { ...step, outcome: "dry run" };
    if (step.needsRoot && facts.uid !== 0) return { ...step, outcome: "needs root" };
    try {
      run(step.command);
      return { ...step, outcome: "ran" };
    } catch (error) {
      return { ...step, outcome: "failed", error: (error as Error).message };
    }
  });
}

function defaultRun(command: string[]): void {
  const [file, ...args] = command;
  execFileSync(file as string, args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** The text `orgbox cert --install` prints. */
export function trustReport(plan: TrustPlan, outcomes: TrustOutcome[]): string {
  const lines = ["", `  orgbox local CA: ${plan.caCertPath}`, ""];
  if (outcomes.length === 0) lines.push("  No trust store to change on this machine.");
  const byOutcome = (o: TrustOutcome["outcome"]) => outcomes.filter((s) => s.outcome === o);
  if (byOutcome("dry run").length > 0) lines.push("  Would run (--dry-run: nothing changed):", ...byOutcome("dry run").map((s) => `    ${shellLine(s.command, s.needsRoot)}    # ${s.store}`));
  if (byOutcome("ran").length > 0) lines.push("  Done:", ...byOutcome("ran").map((s) => `    ${s.store}`));
  if (byOutcome("needs root").length > 0) lines.push("  Needs root; run these yourself:", ...byOutcome("needs root").map((s) => `    ${shellLine(s.command, true)}    # ${s.store}`));
  if (byOutcome("failed").length > 0) lines.push("  Failed:", ...byOutcome("failed").map((s) => `    ${shellLine(s.command)}: ${s.error ?? ""}`));
  lines.push("", ...plan.notes.map((n) => `  Note: ${n}`), "");
  return lines.join("\n");
}
