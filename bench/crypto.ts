import { performance } from "node:perf_hooks";

/** Rate of an async operation run back to back (`inFlight` 1) or with several in flight. */
export interface RateResult {
  opsPerSecond: number;
  iterations: number;
  /** Mean time per operation seen by one caller, in milliseconds. */
  meanMs: number;
}

/**
 * Calls `op` `iterations` times, `inFlight` at a time, after `warmup` discarded calls,
 * and times the whole with `performance.now()`.
 */
export async function measureRate(op: () => Promise<unknown>, iterations: number, options: { inFlight?: number; warmup?: number } = {}): Promise<RateResult> {
  const inFlight = Math.max(1, options.inFlight ?? 1);
  for (let i = 0; i < (options.warmup ?? Math.min(200, iterations)); i++) await op();
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    while (next < iterations) {
      next++;
      await op();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const elapsed = performance.now() - started;
  return { opsPerSecond: (iterations / elapsed) * 1000, iterations, meanMs: (elapsed * inFlight) / iterations };
}

/**
 * Picks an iteration count that takes about `targetSeconds`, from a short probe run.
 */
export async function iterationsFor(op: () => Promise<unknown>, targetSeconds: number, probe = 100): Promise<number> {
  const { opsPerSecond } = await measureRate(op, probe, { warmup: 20 });
  return Math.max(probe, Math.round(opsPerSecond * targetSeconds));
}

/** Rate of a synchronous operation run `iterations` times back to back on this thread. */
export function measureSyncRate(op: () => unknown, iterations: number): RateResult {
  for (let i = 0; i < Math.min(100, iterations); i++) op();
  const started = performance.now();
  for (let i = 0; i < iterations; i++) op();
  const elapsed = performance.now() - started;
  return { opsPerSecond: (iterations / elapsed) * 1000, iterations, meanMs: elapsed / iterations };
}
