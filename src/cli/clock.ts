/**
 * `orgbox clock show|advance|set`: time travel from the command line (see `server/time-travel.ts`).
 * Against a running orgbox with `--url` (or ORGBOX_URL) and its admin key, through
 * `GET`/`POST {url}/_orgbox/clock`; otherwise on a stopped persisted store (`--data` / `--store-url`),
 * where the offset is kept for the next start (a server running on the same SQLite data folder sees it
 * at its next request).
 */
import type { Command } from "commander";
import { ConfigError } from "../common/errors.ts";
import { offlineStore, openOfflineServices } from "../server/offline.ts";
import { ClockMoveError, parseDuration, type ClockState } from "../server/time-travel.ts";
import { adminCall, remoteUrl, type RemoteFlags } from "./remote.ts";

interface ClockFlags extends RemoteFlags {
  storeUrl?: string;
  json?: boolean;
}

type Move = { advanceSeconds: number } | { now: string } | undefined;

function print(flags: ClockFlags, state: ClockState): void {
  const json = flags.json || process.env.ORGBOX_JSON === "1" || process.env.ORGBOX_JSON === "true";
  const ahead = formatOffset(state.offsetSeconds);
  process.stdout.write(json ? `${JSON.stringify(state)}\n` : `  orgbox time  ${state.now}\n  wall clock   ${state.wallClock}\n  ahead by     ${ahead}\n`);
}

/** `90061` → `1d 1h 1m 1s`; `0` → `0s`. */
function formatOffset(seconds: number): string {
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of [["d", 86_400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return parts.length ? parts.join(" ") : "0s";
}

/** Runs one clock command remotely (`--url`) or on the stopped store. @throws ConfigError for a refused move (exit 2). */
async function clockCommand(flags: ClockFlags, move: Move): Promise<void> {
  const base = remoteUrl(flags);
  if (base) {
    const answer = await adminCall(base, flags, move ? "POST" : "GET", "/_orgbox/clock", move);
    const body = answer.body as (ClockState & { error_description?: string }) | undefined;
    if (answer.status === 400) throw new ConfigError(body?.error_description ?? "the clock move was refused");
    if (answer.status !== 200 || !body) throw new Error(`${base}/_orgbox/clock answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    print(flags, body);
    return;
  }
  const services = await openOfflineServices(offlineStore(flags));
  try {
    const { timeTravel } = services;
    const state = move === undefined ? timeTravel.state() : "now" in move ? await timeTravel.set(move.now) : await timeTravel.advance(move.advanceSeconds);
    print(flags, state);
  } catch (error) {
    if (error instanceof ClockMoveError) throw new ConfigError(error.message);
    throw error;
  } finally {
    await services.close();
  }
}

function withTarget(command: Command): Command {
  return command
    .option("--url <url>", "a running orgbox (with --admin-key); env ORGBOX_URL")
    .option("--admin-key <key>", "the admin key of that orgbox; env ORGBOX_ADMIN_KEY")
    .option("--ca <file>", "CA certificate to trust for --url (default: the data folder's or the temp CA)")
    .option("--data <dir>", "data folder of a stopped store; env ORGBOX_DATA")
    .option("--store-url <url>", "or its PostgreSQL database; env ORGBOX_STORE_URL")
    .option("--json", "machine-readable output on stdout; env ORGBOX_JSON");
}

/** Registers `orgbox clock show|advance|set`. */
export function registerClockCommands(program: Command): void {
  const clock = program.command("clock").description("show or move orgbox's clock forward (time travel: token lifetimes, refresh-token inactivity, secret expiry follow it)");
  withTarget(clock.command("show").description("orgbox's time and how far it runs ahead of the wall clock")).action((flags: ClockFlags) => clockCommand(flags, undefined));
  withTarget(clock.command("advance <duration>").description("move the clock forward: seconds or 91d, 1d12h, 90m, 2w")).action((duration: string, flags: ClockFlags) => {
    let seconds: number;
    try {
      seconds = parseDuration(duration);
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
    return clockCommand(flags, { advanceSeconds: seconds });
  });
  withTarget(clock.command("set <time>").description("set the clock to a later time, ISO 8601 with a zone (2027-01-01T00:00:00Z); it never goes back")).action((time: string, flags: ClockFlags) => clockCommand(flags, { now: time }));
}
