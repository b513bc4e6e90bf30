import { describe, expect, it } from "vitest";
import { SnapshotNameError, UnknownSnapshotError } from "../server/admin.ts";
import { TokenRejectedError } from "../identity/index.ts";
import { OrgboxError } from "./errors.ts";

describe("the OrgboxError family", () => {
  it("carries the status each error renders with", () => {
    const cases: [OrgboxError, string, number][] = [
      [new TokenRejectedError("the token is expired"), "TokenRejectedError", 401],
      [new SnapshotNameError("snapshot names are 1–64 letters"), "SnapshotNameError", 400],
      [new UnknownSnapshotError("no snapshot named 'x'"), "UnknownSnapshotError", 404],
    ];
    for (const [error, name, status] of cases) {
      expect(error).toBeInstanceOf(OrgboxError);
      expect(error.name).toBe(name);
      expect(error.status).toBe(status);
    }
    expect(new TokenRejectedError("the token is expired").reason).toBe("the token is expired");
  });
});
