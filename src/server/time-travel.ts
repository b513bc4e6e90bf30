/**
 * Time travel: moving a running orgbox's clock forward, so that what takes weeks in the cloud (a
 * refresh token's 90 days of inactivity, a client secret's expiry, a device code's 15 minutes)
 * happens in a test at once. The clock is a {@link TravelClock} (wall clock + offset) that every
 * service reads; the offset is kept in the store (table `orgbox_clock`, migration 014), so a restart,
 * offline `orgbox clock` commands and every process on the same store agree on the time.
 *
 * orgbox's clock only moves forward: tokens, codes, record timestamps (`createdon`/`modifiedon`)
 * and change-tracking versions assume time never runs backwards, so a move to an earlier time is
 * refused (400). To go back, start from a fresh store. `reset`/`restore` of the data keep the clock.
 */
import type { Kysely } from "kysely";
import type { TravelClock } from "../common/clock.ts";
import { OrgboxError } from "../common/errors.ts";
import type { Schema } from "../store/schema.ts";

/** The longest single move: 100 years (a mistyped unit should fail loudly, not overflow dates). */
const MAX_MOVE_SECONDS = 100 * 366 * 86_400;
const ROW_ID = "clock";

/** A refused clock move (bad value, backwards, too far): 400 `invalid_request` on the admin surface, exit 2 in the CLI. */
export class ClockMoveError extends OrgboxError {
  constructor(message: string) {
    super(400, message);
  }
}

/** What `GET /_orgbox/clock` answers (and `orgbox clock show --json` prints). */
export interface ClockState {
  /** orgbox's now, ISO 8601 UTC (`2026-03-08T10:00:00.000Z`). */
  now: string;
  /** orgbox's now, ms since the epoch. */
  nowMs: number;
  /** How far orgbox runs ahead of the wall clock (or the injected base clock), whole seconds. */
  offsetSeconds: number;
  /** The wall clock (or the injected base clock), ISO 8601 UTC. */
  wallClock: string;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * Parses a duration for `orgbox clock advance`: seconds (`3600`), or number-unit pairs with units
 * s, m, h, d, w (`91d`, `1d12h`, `90m`, `2w`).
 * @returns whole seconds. @throws ClockMoveError for anything else.
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim().toLowerCase();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const pairs = /^(?:\d+[smhdw])+$/.test(trimmed) ? [...trimmed.matchAll(/(\d+)([smhdw])/g)] : [];
  if (pairs.length === 0) throw new ClockMoveError(`'${text}' is not a duration: use seconds (3600) or number-unit pairs with s, m, h, d, w (91d, 1d12h, 90m)`);
  return pairs.reduce((sum, [, n, unit]) => sum + Number(n) * (UNIT_SECONDS[unit as string] as number), 0);
}

/** The clock of one store, moved forward on request and kept there. */
export class TimeTravel {
  readonly clock: TravelClock;
  private readonly db: Kysely<Schema>;
  private readonly announce: () => Promise<void>;

  /** @param announce tells other processes on the store that the offset moved (`Database.announceChange`). */
  constructor(clock: TravelClock, db: Kysely<Schema>, announce: () => Promise<void> = async () => undefined) {
    this.clock = clock;
    this.db = db;
    this.announce = announce;
  }

  /** Reads the offset kept in the store (0 when the clock was never moved). */
  async reload(): Promise<void> {
    const row = await this.db.selectFrom("orgbox_clock").select("offset_ms").where("id", "=", ROW_ID).executeTakeFirst();
    this.clock.setOffsetMs(row ? Number(row.offset_ms) : 0);
  }

  /** orgbox's now and its offset from the wall clock. */
  state(): ClockState {
    const now = this.clock.now();
    return { now: new Date(now).toISOString(), nowMs: now, offsetSeconds: Math.round(this.clock.offsetMs() / 1000), wallClock: new Date(this.clock.baseNow()).toISOString() };
  }

  /**
   * Moves the clock forward by `seconds` (a number ≥ 0, fractions allowed, at most 100 years) and keeps it.
   * @throws ClockMoveError for a negative, non-finite or too large value.
   */
  async advance(seconds: number): Promise<ClockState> {
    if (typeof seconds !== "number" || !Number.isFinite(seconds)) throw new ClockMoveError("advanceSeconds must be a number of seconds");
    if (seconds < 0) throw new ClockMoveError(`orgbox's clock only moves forward (advanceSeconds ${seconds} < 0): tokens, record timestamps and change tracking assume time never runs backwards; start from a fresh store to go back`);
    if (seconds > MAX_MOVE_SECONDS) throw new ClockMoveError(`advanceSeconds ${seconds} is more than 100 years`);
    // Another process may have moved the clock meanwhile: move from the store's offset.
    await this.reload();
    return this.save(this.clock.offsetMs() + Math.round(seconds * 1000));
  }

  /**
   * Sets the clock to `when` (ISO 8601 with a time zone: `2027-01-01T00:00:00Z`), which must not be
   * earlier than orgbox's now, and keeps it.
   * @throws ClockMoveError for a malformed time, one without a zone, an earlier one, or one more than 100 years ahead.
   */
  async set(when: string): Promise<ClockState> {
    if (typeof when !== "string" || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i.test(when.trim())) {
      throw new ClockMoveError(`'${String(when)}' is not an ISO 8601 date-time with a time zone (e.g. 2027-01-01T00:00:00Z)`);
    }
    const target = Date.parse(when.trim());
    if (Number.isNaN(target)) throw new ClockMoveError(`'${when}' is not a valid date-time`);
    await this.reload();
    const now = this.clock.now();
    if (target < now) throw new ClockMoveError(`orgbox's clock only moves forward: ${new Date(target).toISOString()} is before orgbox's now (${new Date(now).toISOString()}); start from a fresh store to go back`);
    if (target - now > MAX_MOVE_SECONDS * 1000) throw new ClockMoveError(`${when} is more than 100 years ahead of orgbox's now`);
    return this.save(this.clock.offsetMs() + (target - now));
  }

  /** Writes the offset after a data restore (which puts the `orgbox_clock` row back too): the clock never goes back. */
  async keep(): Promise<void> {
    await this.save(this.clock.offsetMs());
  }

  private async save(offsetMs: number): Promise<ClockState> {
    this.clock.setOffsetMs(offsetMs);
    const movedAt = this.clock.now();
    await this.db
      .insertInto("orgbox_clock")
      .values({ id: ROW_ID, offset_ms: offsetMs, moved_at: movedAt })
      .onConflict((oc) => oc.column("id").doUpdateSet({ offset_ms: offsetMs, moved_at: movedAt }))
      .execute();
    await this.announce();
    return this.state();
  }
}
