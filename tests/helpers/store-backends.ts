import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { StoreLocation } from "../../src/store/database.ts";
import { createTestDatabase } from "./postgres.ts";

/** A place for a store on one backend: `location` can be opened (and reopened) with `openDatabase`; `dispose` removes it. */
export interface TestStoreLocation {
  location: StoreLocation;
  dispose(): Promise<void>;
}

/** The store backends every test in tests/store/ runs on. */
export const BACKENDS = [
  {
    name: "sqlite",
    /** A data folder in the temp dir (a file, so it can be reopened). */
    async create(): Promise<TestStoreLocation> {
      const dataDir = mkdtempSync(join(tmpdir(), "orgbox-store-"));
      return { location: { inMemory: false, dataDir }, dispose: async () => rmSync(dataDir, { recursive: true, force: true }) };
    },
  },
  {
    name: "postgres",
    /** A fresh database on the run's throwaway server (tests/global-setup.ts). */
    async create(): Promise<TestStoreLocation> {
      const database = await createTestDatabase();
      return { location: { inMemory: false, dataDir: "", storeUrl: database.url }, dispose: () => database.drop() };
    },
  },
] as const;
