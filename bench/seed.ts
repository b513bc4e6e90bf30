import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { DEMO, type OrgboxInstance } from "../src/index.ts";

/** Rows that share one `parentaccountid`: what the `$filter` page reads. */
export const GROUP_SIZE = 100;

/** What seeding produced. */
export interface SeedResult {
  /** SQL table of the org's accounts (`{tablePrefix}account`). */
  table: string;
  /** Rows inserted by this run (on top of the demo's). */
  inserted: number;
  /** Inserted through `dataverse.service.insert` (one autocommit statement each). */
  viaService: { rows: number; rowsPerSecond: number };
  /** Inserted with one prepared statement on a second connection, in transactions of {@link BATCH} rows. */
  viaBulk: { rows: number; rowsPerSecond: number };
  /** A `parentaccountid` shared by exactly {@link GROUP_SIZE} rows (or fewer when `rows` is small). */
  filterParentId: string;
  /** Rows in the table after seeding. */
  totalRows: number;
}

const BATCH = 20_000;
const CITIES = ["Seattle", "Redmond", "London", "Paris", "Berlin", "Sydney", "Toronto", "Tokyo"];
const INDUSTRIES = [1, 7, 13, 25, 33, 27, 31];

function values(i: number, id: string, parentId: string): Record<string, string | number | boolean> {
  const n = String(i).padStart(7, "0");
  return {
    accountid: id,
    name: `Bench Account ${n}`,
    accountnumber: `B-${n}`,
    telephone1: `+1 425 555 ${String(i % 10000).padStart(4, "0")}`,
    emailaddress1: `info${n}@bench.example`,
    address1_city: CITIES[i % CITIES.length] as string,
    revenue: 1000 * (i % 5000) + 0.5,
    numberofemployees: 5 + (i % 2000),
    industrycode: INDUSTRIES[i % INDUSTRIES.length] as number,
    creditonhold: i % 7 === 0,
    websiteurl: `https://bench${n}.example`,
    parentaccountid: parentId,
    transactioncurrencyid: DEMO.org.baseCurrencyId,
  };
}

/**
 * Adds `rows` accounts to the demo org of a persisted orgbox (`dataDir`).
 * The first `serviceRows` go through `orgbox.dataverse.service.insert` (the real
 * write path, and the template of a complete row); the rest are bulk-inserted
 * with the same columns through a second `node:sqlite` connection to
 * `{dataDir}/orgbox.sqlite` in transactions of {@link BATCH} rows, since one
 * autocommit Kysely statement per row is too slow for large tables.
 * Every {@link GROUP_SIZE} consecutive rows share a `parentaccountid`.
 */
export async function seedAccounts(orgbox: OrgboxInstance, file: string, rows: number, serviceRows: number): Promise<SeedResult> {
  const org = await orgbox.dataverse.service.findOrg(DEMO.org.name);
  if (!org) throw new Error(`org '${DEMO.org.name}' not found`);
  const table = `${org.tablePrefix}account`;
  const owner = { id: DEMO.org.adminSystemUserId, businessUnitId: DEMO.org.rootBusinessUnitId };
  const ids: string[] = [];
  const parentOf = (i: number): string => ids[i - (i % GROUP_SIZE)] as string;

  const viaServiceRows = Math.min(rows, Math.max(1, serviceRows));
  let started = performance.now();
  for (let i = 0; i < viaServiceRows; i++) {
    const id = randomUUID();
    ids.push(id);
    await orgbox.dataverse.service.insert(org, "account", values(i, id, parentOf(i)), DEMO.org.adminSystemUserId, owner);
  }
  const serviceSeconds = (performance.now() - started) / 1000;

  const db = new DatabaseSync(file);
  let bulkSeconds = 0;
  let totalRows = 0;
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    // Random UUID keys and ~10 indexes thrash SQLite's default 2 MB page cache; 256 MB keeps a 1M-row seed fast.
    db.exec("PRAGMA cache_size = -262144");
    const template = db.prepare(`SELECT * FROM "${table}" WHERE accountid = ?`).get(ids[0] as string);
    if (!template) throw new Error("the first inserted row cannot be read back");
    const columns = Object.keys(template);
    const insert = db.prepare(`INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`);
    let version = Number(template.versionnumber ?? 0) + 1;
    started = performance.now();
    for (let from = viaServiceRows; from < rows; from += BATCH) {
      db.exec("BEGIN");
      try {
        for (let i = from; i < Math.min(rows, from + BATCH); i++) {
          const id = randomUUID();
          ids.push(id);
          const row: Record<string, unknown> = { ...template, ...values(i, id, parentOf(i)), versionnumber: version++ };
          insert.run(...columns.map((c) => toSql(row[c])));
        }
        db.exec("COMMIT");
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    }
    bulkSeconds = (performance.now() - started) / 1000;
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    totalRows = Number((db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n);
  } finally {
    db.close();
  }
  const bulkRows = rows - viaServiceRows;
  const group = Math.floor(rows / 2 / GROUP_SIZE) * GROUP_SIZE;
  return {
    table,
    inserted: rows,
    viaService: { rows: viaServiceRows, rowsPerSecond: viaServiceRows / serviceSeconds },
    viaBulk: { rows: bulkRows, rowsPerSecond: bulkRows > 0 ? bulkRows / bulkSeconds : 0 },
    filterParentId: ids[group] as string,
    totalRows,
  };
}

function toSql(value: unknown): SQLInputValue {
  if (value === undefined || value === null) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  return value as SQLInputValue;
}
