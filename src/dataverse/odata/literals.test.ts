import { describe, expect, it } from "vitest";
import { parseDateLiteral } from "./literals.ts";

describe("parseDateLiteral", () => {
  it("reads dates and datetimes as UTC epoch ms", () => {
    expect(parseDateLiteral("2024-02-29")).toBe(Date.UTC(2024, 1, 29));
    expect(parseDateLiteral("2024-05-01T09:30:00Z")).toBe(Date.UTC(2024, 4, 1, 9, 30));
    expect(parseDateLiteral("2024-05-01T09:30:00+02:00")).toBe(Date.UTC(2024, 4, 1, 7, 30));
  });

  it("refuses days that do not exist instead of rolling them over", () => {
    expect(parseDateLiteral("2024-13-45")).toBeUndefined();
    expect(parseDateLiteral("2023-02-29")).toBeUndefined();
    expect(parseDateLiteral("2024-04-31T00:00:00Z")).toBeUndefined();
    expect(parseDateLiteral("yesterday")).toBeUndefined();
  });
});
