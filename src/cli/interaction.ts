/**
 * `orgbox user require-mfa <upn>` and `orgbox app require-mfa <appId> --tenant T`: orgbox's "require
 * MFA" switch (identity's `interaction.ts`; Graph's per-user `authentication/requirements` for users).
 * With `--off` it is cleared; `--registration` asks for MFA registration (AADSTS50079) instead of MFA
 * (AADSTS50076). Against a running orgbox (`--url`) through `POST /_orgbox/interaction-requirements`;
 * otherwise on a stopped persisted store. Registered on the `user` and `app` command groups.
 */
import type { Command } from "commander";
import { ConfigError } from "../common/errors.ts";
import { DirectoryError, type InteractionKind } from "../identity/index.ts";
import { offlineStore, withOfflineServices } from "../server/offline.ts";
import { adminCall, remoteUrl, type RemoteFlags } from "./remote.ts";

interface RequireFlags extends RemoteFlags {
  storeUrl?: string;
  json?: boolean;
  off?: boolean;
  registration?: boolean;
}

interface Outcome {
  subjectId: string;
  requirements: { kind: string; since: string }[];
}

function print(flags: RequireFlags, what: string, outcome: Outcome): void {
  const json = flags.json || process.env.ORGBOX_JSON === "1" || process.env.ORGBOX_JSON === "true";
  const now = outcome.requirements.map((r) => `${r.kind} since ${r.since}`).join(", ");
  process.stdout.write(json ? `${JSON.stringify(outcome)}\n` : `  ${what}: ${now || "no interaction required"}\n`);
}

async function requireMfa(subject: { user: string } | { app: string }, flags: RequireFlags): Promise<void> {
  const kind: InteractionKind = flags.registration ? "mfaRegistration" : "mfa";
  const required = !flags.off;
  const what = "user" in subject ? `user ${subject.user}` : `app ${subject.app}`;
  if ("app" in subject && !flags.tenant) throw new ConfigError("--tenant <id|domain> is required for an app");
  const base = remoteUrl(flags);
  if (base) {
    let tenant = flags.tenant;
    if (!tenant && "user" in subject) tenant = subject.user.split("@")[1];
    if (!tenant) throw new ConfigError("with --url, give --tenant <id|domain> (or the user's UPN)");
    const answer = await adminCall(base, flags, "POST", "/_orgbox/interaction-requirements", { tenant, ...subject, kind, required });
    const body = answer.body as (Outcome & { error_description?: string }) | undefined;
    if (answer.status === 400 || answer.status === 404) throw new ConfigError(body?.error_description ?? `refused (${answer.status})`);
    if (answer.status !== 200 || !body) throw new Error(`${base}/_orgbox/interaction-requirements answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    print(flags, what, body);
    return;
  }
  try {
    await withOfflineServices(offlineStore(flags), async ({ identity }) => {
      let target: { user: string } | { tenantId: string; appId: string };
      if ("user" in subject) target = { user: subject.user };
      else {
        const tenant = await identity.findTenant(flags.tenant as string);
        if (!tenant) throw new ConfigError(`no tenant '${flags.tenant}' (orgbox tenant list)`);
        target = { tenantId: tenant.id, appId: subject.app };
      }
      const result = await identity.setInteractionRequirement(target, kind, required);
      print(flags, what, { subjectId: result.subjectId, requirements: result.requirements.map((r) => ({ kind: r.kind, since: new Date(r.since).toISOString() })) });
    });
  } catch (error) {
    if (error instanceof DirectoryError) throw new ConfigError(error.message);
    throw error;
  }
}

function options(command: Command): Command {
  return command
    .option("--off", "clear the requirement instead")
    .option("--registration", "require MFA registration (AADSTS50079) instead of MFA (AADSTS50076)")
    .option("--data <dir>", "data folder of the store; env ORGBOX_DATA")
    .option("--store-url <url>", "or the PostgreSQL database of the store; env ORGBOX_STORE_URL")
    .option("--url <url>", "or a running orgbox (with --admin-key); env ORGBOX_URL")
    .option("--admin-key <key>", "with --url: that orgbox's admin key; env ORGBOX_ADMIN_KEY")
    .option("--ca <file>", "with --url: the CA certificate to trust")
    .option("--json", "one JSON document on stdout; env ORGBOX_JSON");
}

/** Adds `require-mfa` to the `user` and `app` groups (created by the directory commands when missing). */
export function registerInteractionCommands(program: Command): void {
  const group = (name: string, description: string) => program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
  options(group("user", "manage the users of a persisted store").command("require-mfa").description("require MFA of a user: refresh tokens and sessions from before answer AADSTS50076 until the user signs in in the browser with the MFA step").argument("<upn>"))
    .option("--tenant <id|domain>", "the user's tenant (with --url; default: the UPN's domain)")
    .action((upn: string, flags: RequireFlags) => requireMfa({ user: upn }, flags));
  options(group("app", "manage app registrations of a persisted store").command("require-mfa").description("require MFA of every user of an app in a tenant (a Conditional Access policy on the app)").argument("<appId>"))
    .option("--tenant <id|domain>", "the tenant of the app's service principal")
    .action((appId: string, flags: RequireFlags) => requireMfa({ app: appId }, flags));
}
