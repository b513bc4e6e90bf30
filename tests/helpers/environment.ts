import { expect } from "vitest";
import { EnvironmentError, loadEnvironmentFile } from "../../src/index.ts";

/** The problems `loadEnvironmentFile` reports for a file it must reject; fails the test if the file loads. */
export function environmentProblems(path: string): string[] {
  try {
    loadEnvironmentFile(path);
  } catch (error) {
    expect(error).toBeInstanceOf(EnvironmentError);
    return (error as EnvironmentError).problems;
  }
  throw new Error("expected the file to be rejected");
}
