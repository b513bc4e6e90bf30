import { describe, expect, it } from "vitest";
import { ClockMoveError, parseDuration } from "./time-travel.ts";

describe("parseDuration (orgbox clock advance)", () => {
  it("reads seconds and number-unit pairs", () => {
    expect(parseDuration("3600")).toBe(3600);
    expect(parseDuration("91d")).toBe(91 * 86_400);
    expect(parseDuration("1d12h")).toBe(36 * 3600);
    expect(parseDuration("90m")).toBe(5400);
    expect(parseDuration("2w")).toBe(14 * 86_400);
    expect(parseDuration(" 45S ")).toBe(45);
  });

  it("refuses anything else, naming the forms it takes", () => {
    for (const bad of ["", "-1d", "3 days", "1.5d", "d", "1y", "1d-2h"]) {
      expect(() => parseDuration(bad), bad).toThrow(ClockMoveError);
      expect(() => parseDuration(bad), bad).toThrow(/is not a duration: use seconds/);
    }
  });
});
