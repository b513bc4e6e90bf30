/**
 * The engines' dialect adapters: every index name the store gives fits PostgreSQL's 63-byte
 * identifiers and stays distinct (the N:N intersect indexes included), while SQLite keeps names as
 * they are (data folders already hold them); both adapters compile the same sort keys and date
 * parts, differing only where the engines do (NULL order).
 */
import { describe, expect, it } from "vitest";
import { Kysely, PostgresDialect, sql, SqliteDialect, type RawBuilder } from "kysely";
import { attr } from "../dataverse/metadata/standard.ts";
import { PostgresStoreDialect } from "./postgres/dialect.ts";
import { SqliteStoreDialect } from "./sqlite/dialect.ts";

// Compile-only Kysely instances: no driver is ever asked to connect.
const pgDb = new Kysely<Record<string, never>>({ dialect: new PostgresDialect({ pool: async () => { throw new Error("compile only"); } }) });
const sqliteDb = new Kysely<Record<string, never>>({ dialect: new SqliteDialect({ database: async () => { throw new Error("compile only"); } }) });
const text = (db: Kysely<Record<string, never>>, e: RawBuilder<unknown>) => e.compile(db).sql;

describe("PostgreSQL dialect adapter", () => {
  const pg = new PostgresStoreDialect();

  it("keeps short index names, and shortens long ones to at most 63 bytes, distinct and stable", () => {
    expect(pg.indexName("dv1_account_name")).toBe("dv1_account_name");
    const table = "dv1_new_warehouse_inventory_location_alpha_beta_links";
    const names = [`${table}_new_warehouse_inventory_location_record_alphaid`, `${table}_new_warehouse_inventory_location_record_beta1id`, `${table}_pair`];
    const shortened = names.map((n) => pg.indexName(n));
    for (const n of shortened) expect(Buffer.byteLength(n)).toBeLessThanOrEqual(63);
    expect(new Set(shortened).size).toBe(3);
    // PostgreSQL would truncate the first two to the same 63 bytes.
    expect(names[0]?.slice(0, 63)).toBe(names[1]?.slice(0, 63));
    expect(names.map((n) => pg.indexName(n))).toEqual(shortened);
  });

  it("sorts NULLs first ascending and last descending, explicitly", () => {
    expect(text(pgDb, pg.orderKey(sql.ref("t0.name"), false))).toBe('"t0"."name" asc nulls first');
    expect(text(pgDb, pg.orderKey(pg.caseFold(sql.ref("t0.name")), true))).toBe('lower("t0"."name") desc nulls last');
  });

  it("stores String columns as text and other types as both engines do", () => {
    expect(pg.columnType(attr("new_x", "String", "X", { maxLength: 100 }))).toBe("text");
    expect(pg.columnType(attr("new_x", "Money", "X"))).toBe("decimal(38, 10)");
  });
});

describe("SQLite dialect adapter", () => {
  let cleared = 0;
  const lite = new SqliteStoreDialect({ clearStatementCache: () => void cleared++ });

  it("keeps every index name as it is", () => {
    const long = "dv1_new_warehouse_inventory_location_alpha_beta_links_new_warehouse_inventory_location_record_alphaid";
    expect(lite.indexName(long)).toBe(long);
  });

  it("uses SQLite's own NULL order, varchar(n) String columns, and drops prepared statements after DDL", () => {
    expect(text(sqliteDb, lite.orderKey(sql.ref("t0.name"), false))).toBe('"t0"."name" asc');
    expect(text(sqliteDb, lite.orderKey(sql.ref("t0.name"), true))).toBe('"t0"."name" desc');
    expect(lite.columnType(attr("new_x", "String", "X", { maxLength: 100 }))).toBe("varchar(100)");
    lite.afterDdl();
    expect(cleared).toBe(1);
  });

  it("compiles date parts the same way as PostgreSQL (substr of the UTC text)", () => {
    const pg = new PostgresStoreDialect();
    for (const part of ["year", "quarter", "month", "day"] as const) {
      expect(text(sqliteDb, lite.datePart(sql.ref("t0.createdon"), part))).toBe(text(pgDb, pg.datePart(sql.ref("t0.createdon"), part)));
    }
    expect(text(sqliteDb, lite.datePart(sql.ref("t0.createdon"), "quarter"))).toBe('((cast(substr("t0"."createdon", 6, 2) as integer) + 2) / 3)');
  });
});
