/**
 * The source of "now". Injected everywhere that checks expiry so tests can move
 * time without sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (UTC). */
  now(): number;
  /**
   * The clients' clock (ms), for times a client writes itself (a client assertion's `exp`/`nbf`): time
   * travel moves orgbox, not the clients. Absent: the same as {@link now}.
   */
  clientNow?(): number;
}

/** The wall clock. The one place in src/ that reads it (see src/clock-usage.test.ts). */
export const systemClock: Clock = { now: () => Date.now() };

/** Whole seconds since the Unix epoch (UTC), as JWT `iat`/`exp` use. */
export function epochSeconds(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}

/** A clock that tests can set and advance. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start: number = systemClock.now()) {
    this.current = start;
  }
  now(): number {
    return this.current;
  }
  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.current += ms;
  }
}

/**
 * orgbox's clock: a base clock (the wall clock, or a test's {@link ManualClock}) plus an offset that
 * time travel (`POST /_orgbox/clock`, `orgbox clock advance`, `orgbox.clock.advance`) moves forward.
 * Every service reads "now" from it, so token lifetimes, refresh-token inactivity, codes, secret
 * expiry, sessions and record timestamps all follow a move at once.
 */
export class TravelClock implements Clock {
  private readonly base: Clock;
  private offset: number;
  constructor(base: Clock = systemClock, offsetMs = 0) {
    this.base = base;
    this.offset = offsetMs;
  }
  now(): number {
    return this.base.now() + this.offset;
  }
  /** The base clock's now (the wall clock unless a test injected one), ms since the epoch. */
  baseNow(): number {
    return this.base.now();
  }
  /** The clients' clock: the base clock (clients do not travel with orgbox). */
  clientNow(): number {
    return this.base.now();
  }
  /** How far ahead of the base clock orgbox runs, ms (≥ 0 once moved through time travel). */
  offsetMs(): number {
    return this.offset;
  }
  /** Sets the offset (ms); callers check direction (see `server/time-travel.ts`). */
  setOffsetMs(ms: number): void {
    this.offset = ms;
  }
}
