import { describe, expect, it } from "vitest";
import { ManualClock } from "../common/clock.ts";
import { DataverseError } from "./errors.ts";
import { ServiceProtection } from "./service-protection.ts";

const limits = { requestsPerWindow: 3, executionTimeSecondsPerWindow: 10, concurrentRequests: 2, windowSeconds: 60 };

function refusal(run: () => unknown): DataverseError {
  try {
    run();
  } catch (error) {
    if (error instanceof DataverseError) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

describe("ServiceProtection", () => {
  it("refuses a user's request beyond the concurrency limit at once (0x80072326), and admits it once one finishes", () => {
    const clock = new ManualClock(0);
    const limiter = new ServiceProtection({ ...limits, requestsPerWindow: 100 }, clock, () => 0);
    const a = limiter.admit("org", "u1");
    limiter.admit("org", "u1");
    const error = refusal(() => limiter.admit("org", "u1"));
    expect(error.status).toBe(429);
    expect(error.code).toBe("0x80072326");
    expect(error.message).toBe("Number of concurrent requests exceeded the limit of 2.");
    expect(error.headers).toEqual({ "retry-after": "1" });
    // Another user, or the same user in another org, is not affected.
    expect(() => limiter.admit("org", "u2")).not.toThrow();
    expect(() => limiter.admit("org2", "u1")).not.toThrow();
    a.finish();
    expect(() => limiter.admit("org", "u1")).not.toThrow();
  });

  it("slides the request window bucket by bucket: Retry-After is the time until the oldest request leaves it", () => {
    const clock = new ManualClock(0);
    const limiter = new ServiceProtection(limits, clock, () => 0);
    limiter.admit("o", "u").finish();
    clock.advance(20_000);
    limiter.admit("o", "u").finish();
    clock.advance(20_000);
    expect(limiter.admit("o", "u").finish()["x-ms-ratelimit-burst-remaining-xrm-requests"]).toBe("0");
    const error = refusal(() => limiter.admit("o", "u"));
    expect(error.code).toBe("0x80072322");
    expect(error.headers).toEqual({ "retry-after": "20" });
    clock.advance(19_000);
    expect(refusal(() => limiter.admit("o", "u")).headers).toEqual({ "retry-after": "1" });
    clock.advance(1_000);
    expect(limiter.admit("o", "u").finish()["x-ms-ratelimit-burst-remaining-xrm-requests"]).toBe("0");
  });

  it("adds each request's execution time and refuses once the window's total exceeds the limit (0x80072321)", () => {
    const clock = new ManualClock(0);
    let elapsed = 0;
    const limiter = new ServiceProtection({ ...limits, requestsPerWindow: 100 }, clock, () => elapsed);
    const a = limiter.admit("o", "u");
    elapsed += 6_000;
    expect(a.finish()["x-ms-ratelimit-time-remaining-xrm-requests"]).toBe("4.00");
    clock.advance(30_000);
    const b = limiter.admit("o", "u");
    elapsed += 4_500;
    expect(b.finish()["x-ms-ratelimit-time-remaining-xrm-requests"]).toBe("0.00");
    const error = refusal(() => limiter.admit("o", "u"));
    expect(error.code).toBe("0x80072321");
    expect(error.message).toBe("Combined execution time of incoming requests exceeded limit of 10,000 milliseconds over time window of 60 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.");
    // Dropping the first request's 6 s brings the total under the limit: it leaves the window at 60 s.
    expect(error.headers).toEqual({ "retry-after": "30" });
    clock.advance(30_000);
    expect(() => limiter.admit("o", "u")).not.toThrow();
  });

  it("formats the execution time left as the service does, and refuses limits that are not positive", () => {
    const limiter = new ServiceProtection({ requestsPerWindow: 6000, executionTimeSecondsPerWindow: 1200, concurrentRequests: 52, windowSeconds: 300 }, new ManualClock(0), () => 0);
    expect(limiter.admit("o", "u").finish()).toEqual({ "x-ms-ratelimit-burst-remaining-xrm-requests": "5999", "x-ms-ratelimit-time-remaining-xrm-requests": "1,200.00" });
    expect(() => new ServiceProtection({ ...limits, concurrentRequests: 0 }, new ManualClock(0))).toThrow(RangeError);
  });
});
