/**
 * Writes the published JSON Schema of environment files:
 * `node src/environment/json-schema.ts` → `schema/orgbox-environment.schema.json`.
 * A test checks the committed file is current.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { environmentJsonSchema } from "./schema.ts";

/** Where the schema is published, relative to the repository root. */
export const SCHEMA_PATH = resolve(import.meta.dirname, "../../schema/orgbox-environment.schema.json");

/** The schema file's text (2-space JSON, trailing newline). */
export function environmentJsonSchemaText(): string {
  return `${JSON.stringify(environmentJsonSchema(), null, 2)}\n`;
}

if (import.meta.main) {
  writeFileSync(SCHEMA_PATH, environmentJsonSchemaText());
  process.stdout.write(`wrote ${SCHEMA_PATH}\n`);
}
