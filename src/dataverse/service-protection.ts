import { performance } from "node:perf_hooks";
import type { Clock } from "../common/clock.ts";
import { DataverseError } from "./errors.ts";

/**
 * Dataverse's service protection API limits, as one web server enforces them for each user
 * (learn.microsoft.com/power-apps/developer/data-platform/api-limits, "How service protection API limits
 * are enforced"): the number of requests and their combined execution time over a sliding window
 * (6,000 requests and 20 minutes per 300 seconds), and the number of concurrent requests (52). orgbox is
 * one web server: its counters are per process and in memory, as Dataverse's are per web server.
 */

/** The limits (defaults: the documented ones). */
export interface ServiceProtectionLimits {
  /** Requests per window and user. Default 6000. */
  requestsPerWindow: number;
  /** Combined execution time per window and user, in seconds. Default 1200 (20 minutes). */
  executionTimeSecondsPerWindow: number;
  /** Concurrent requests per user. Default 52. */
  concurrentRequests: number;
  /** The sliding window, in seconds. Default 300. */
  windowSeconds: number;
}

/** Dataverse's default limits per web server (the api-limits page's table). */
export const DEFAULT_SERVICE_PROTECTION: ServiceProtectionLimits = { requestsPerWindow: 6000, executionTimeSecondsPerWindow: 1200, concurrentRequests: 52, windowSeconds: 300 };

/** The window is kept in this many buckets: O(1) work per request, a `Retry-After` precise to window/60. */
const BUCKETS = 60;

/** The `Retry-After` (seconds) of the concurrency refusal: Dataverse documents none; a request in flight usually ends within one. */
const CONCURRENCY_RETRY_AFTER_SECONDS = 1;

/** One user's counters on this web server: ring buffers of request counts and execution milliseconds per bucket. */
interface UserWindow {
  counts: Uint32Array;
  millis: Float64Array;
  /** Absolute bucket index of the newest bucket kept. */
  head: number;
  requests: number;
  executionMs: number;
  inFlight: number;
}

/** What {@link ServiceProtection.admit} hands back: call {@link Admission.finish} exactly once when the request's answer is ready. */
export interface Admission {
  /**
   * Records the request's execution time (from admission to now) and frees its concurrency slot.
   * @returns the headers Dataverse sends on every answer: `x-ms-ratelimit-burst-remaining-xrm-requests`
   *   (requests left in the window) and `x-ms-ratelimit-time-remaining-xrm-requests` (execution seconds left,
   *   formatted as the service does, `1,199.46`).
   */
  finish(): Record<string, string>;
}

/** `1,200.00`: the format real responses carry (grouped, two decimals). */
const SECONDS_FORMAT = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/**
 * The three service protection limits of one web server, keyed by org and user. Every request is one
 * {@link admit} (O(1): advance the user's ring buffer, compare three counters) and one
 * {@link Admission.finish}. A `$batch` counts once, with its whole execution time, as in Dataverse ("A batch
 * can contain up to 1000 operations and will avoid the number of requests limit. However, you will need
 * to be prepared for the execution time limit."). Refused requests are not counted (Dataverse may extend
 * the wait for a client that keeps sending; orgbox does not).
 *
 * The window's position comes from the injected {@link Clock} (a `ManualClock` moves it); execution time
 * is measured with the monotonic `performance.now()`, since a request's duration is real work.
 */
export class ServiceProtection {
  private readonly limits: ServiceProtectionLimits;
  private readonly clock: Clock;
  private readonly elapsed: () => number;
  private readonly bucketMs: number;
  private readonly users = new Map<string, UserWindow>();
  private admissions = 0;

  /**
   * @param elapsed a monotonic millisecond counter for execution time (default `performance.now`); tests may inject one.
   * @throws RangeError for a limit that is not a positive number.
   */
  constructor(limits: ServiceProtectionLimits, clock: Clock, elapsed: () => number = () => performance.now()) {
    for (const [name, value] of Object.entries(limits)) if (!(typeof value === "number" && value > 0)) throw new RangeError(`service protection: ${name} must be a positive number (got ${String(value)})`);
    this.limits = limits;
    this.clock = clock;
    this.elapsed = elapsed;
    this.bucketMs = (limits.windowSeconds * 1000) / BUCKETS;
  }

  /**
   * Admits a request of `user` (on `org`), or refuses it as Dataverse does.
   * @throws DataverseError 429 with `Retry-After` (whole seconds): `0x80072326` when the user already has
   *   `concurrentRequests` requests in flight, `0x80072322` when the window holds `requestsPerWindow`
   *   requests, `0x80072321` when the window's execution time exceeds the limit.
   */
  admit(org: string, user: string): Admission {
    const now = this.clock.now();
    const key = `${org}:${user}`;
    if (++this.admissions % 1024 === 0) this.sweep(now);
    let state = this.users.get(key);
    if (!state) {
      state = { counts: new Uint32Array(BUCKETS), millis: new Float64Array(BUCKETS), head: this.bucketOf(now), requests: 0, executionMs: 0, inFlight: 0 };
      this.users.set(key, state);
    }
    this.advance(state, now);
    const { requestsPerWindow, executionTimeSecondsPerWindow, concurrentRequests, windowSeconds } = this.limits;
    if (state.inFlight >= concurrentRequests) {
      throw limitError("0x80072326", `Number of concurrent requests exceeded the limit of ${concurrentRequests}.`, CONCURRENCY_RETRY_AFTER_SECONDS);
    }
    if (state.requests >= requestsPerWindow) {
      throw limitError("0x80072322", `Number of requests exceeded the limit of ${requestsPerWindow} over time window of ${windowSeconds} seconds.`, this.retryAfter(state, now, (s, i) => s.counts[i] as number, state.requests - requestsPerWindow));
    }
    const limitMs = executionTimeSecondsPerWindow * 1000;
    if (state.executionMs > limitMs) {
      throw limitError(
        "0x80072321",
        `Combined execution time of incoming requests exceeded limit of ${Math.round(limitMs).toLocaleString("en-US")} milliseconds over time window of ${windowSeconds} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.`,
        this.retryAfter(state, now, (s, i) => s.millis[i] as number, state.executionMs - limitMs - 1e-9),
      );
    }
    const slot = state.head % BUCKETS;
    state.counts[slot] = (state.counts[slot] as number) + 1;
    state.requests++;
    state.inFlight++;
    const started = this.elapsed();
    const window = state;
    let finished = false;
    return {
      finish: (): Record<string, string> => {
        if (finished) return {};
        finished = true;
        window.inFlight--;
        const ms = Math.max(0, this.elapsed() - started);
        this.advance(window, this.clock.now());
        const at = window.head % BUCKETS;
        window.millis[at] = (window.millis[at] as number) + ms;
        window.executionMs += ms;
        return {
          "x-ms-ratelimit-burst-remaining-xrm-requests": String(Math.max(0, requestsPerWindow - window.requests)),
          "x-ms-ratelimit-time-remaining-xrm-requests": SECONDS_FORMAT.format(Math.max(0, limitMs - window.executionMs) / 1000),
        };
      },
    };
  }

  /** Forgets every counter (orgbox's `reset()` does, so each test of a suite starts with the limits unused). */
  clear(): void {
    this.users.clear();
  }

  private bucketOf(now: number): number {
    return Math.floor(now / this.bucketMs);
  }

  /** Moves the ring to `now`'s bucket, dropping the buckets that left the window (at most {@link BUCKETS} steps). */
  private advance(state: UserWindow, now: number): void {
    const target = this.bucketOf(now);
    if (target <= state.head) return;
    const steps = Math.min(target - state.head, BUCKETS);
    for (let i = 1; i <= steps; i++) {
      const slot = (state.head + i) % BUCKETS;
      state.requests -= state.counts[slot] as number;
      state.executionMs -= state.millis[slot] as number;
      state.counts[slot] = 0;
      state.millis[slot] = 0;
    }
    if (state.executionMs < 1e-6) state.executionMs = 0;
    state.head = target;
  }

  /**
   * Whole seconds until enough of the oldest buckets leave the window to drop the measure by more than `excess`
   * (so the limit is no longer reached); at least 1.
   */
  private retryAfter(state: UserWindow, now: number, value: (s: UserWindow, slot: number) => number, excess: number): number {
    let dropped = 0;
    for (let age = BUCKETS - 1; age >= 0; age--) {
      const index = state.head - age;
      dropped += value(state, ((index % BUCKETS) + BUCKETS) % BUCKETS);
      if (dropped > excess) {
        // Bucket `index` leaves the window when the clock reaches bucket index + BUCKETS.
        const leavesAt = (index + BUCKETS) * this.bucketMs;
        return Math.max(1, Math.ceil((leavesAt - now) / 1000));
      }
    }
    return Math.max(1, Math.ceil(this.limits.windowSeconds));
  }

  /** Drops users idle for a whole window with nothing in flight (amortized: every 1024 admissions). */
  private sweep(now: number): void {
    const current = this.bucketOf(now);
    for (const [key, state] of this.users) if (state.inFlight === 0 && current - state.head >= BUCKETS) this.users.delete(key);
  }
}

/** A service protection refusal: 429, `Retry-After` in seconds, the documented code and message. */
function limitError(code: string, message: string, retryAfterSeconds: number): DataverseError {
  return new DataverseError(429, code, message, { "retry-after": String(retryAfterSeconds) });
}
