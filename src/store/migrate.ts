import { Migrator, type Kysely, type Migration, type MigrationProvider } from "kysely";
import { migrations } from "./migrations/index.ts";
import type { Schema } from "./schema.ts";

/**
 * Applies the pending numbered migrations (`src/store/migrations/`), the same on every dialect.
 * @throws Error naming the failed migration; the caller closes the database.
 */
export async function migrateToLatest(db: Kysely<Schema>): Promise<void> {
  const migrator = new Migrator({ db, provider: new StaticMigrations(migrations) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error");
    throw new Error(`store migration ${failed?.migrationName ?? "?"} failed: ${(error as Error).message}`, { cause: error });
  }
}

class StaticMigrations implements MigrationProvider {
  private readonly all: Record<string, Migration>;

  constructor(all: Record<string, Migration>) {
    this.all = all;
  }

  async getMigrations(): Promise<Record<string, Migration>> {
    return this.all;
  }
}
