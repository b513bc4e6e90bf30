import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OrgMetadata } from "../dataverse/metadata/registry.ts";
import { STANDARD_TABLES } from "../dataverse/metadata/standard.ts";
import type { EntityMetadata } from "../dataverse/metadata/types.ts";
import type { Org } from "../dataverse/model.ts";
import { ReadScope, type Expr, type RecordQuery, type Scalar } from "../dataverse/store.ts";
import { openDatabase, type Database } from "./database.ts";
import { SqlDataverseStore } from "./dataverse-store.ts";
import { shapeOf } from "./read-shapes.ts";

const md = new OrgMetadata(STANDARD_TABLES);
const account = md.entity("account") as EntityMetadata;
const contact = md.entity("contact") as EntityMetadata;
const org: Org = { id: "00000000-0000-4000-8000-0000000005a1", name: "shapes", tenantId: "00000000-0000-4000-8000-0000000005a2", displayName: "shapes", tablePrefix: "sh_" };

const col = (name: string) => ({ kind: "column" as const, name });
const val = (value: Scalar) => ({ kind: "value" as const, value });
const cmp = (column: string, op: "eq" | "ne" | "gt" | "lt", value: Scalar, caseInsensitive = false): Expr => ({ kind: "compare", op, left: col(column), right: val(value), ...(caseInsensitive ? { caseInsensitive } : {}) });

describe("compiled reads by shape", () => {
  let database: Database;
  let store: SqlDataverseStore;
  const ids = Array.from({ length: 6 }, (_, i) => `00000000-0000-4000-8000-00000000a00${i}`);

  beforeAll(async () => {
    database = await openDatabase({ inMemory: true, dataDir: "" });
    store = new SqlDataverseStore(database.db, database.adapter);
    await store.createOrg(org, Date.now());
    for (const entity of [account, contact]) await store.createRecordTable(org, entity);
    for (const [i, id] of ids.entries()) {
      await store.insertRow(org, account, { accountid: id, name: `Account ${i}`, numberofemployees: i * 10, creditonhold: i % 2 === 0, parentaccountid: i > 0 ? ids[0] : null });
    }
    await store.insertRow(org, contact, { contactid: "00000000-0000-4000-8000-00000000c001", lastname: "Linked", parentcustomerid: ids[3] });
  });
  afterAll(async () => {
    await database.close();
  });

  const names = async (query: Omit<RecordQuery, "entity" | "columns" | "orderBy"> & { orderBy?: RecordQuery["orderBy"] }) =>
    (await store.selectRows(org, { entity: account, columns: ["name"], orderBy: [{ column: "name", descending: false }], ...query })).map((r) => r.name);

  it("binds each read's own values into the SQL of its shape", async () => {
    expect(await names({ where: cmp("numberofemployees", "gt", 30) })).toEqual(["Account 4", "Account 5"]);
    expect(await names({ where: cmp("numberofemployees", "gt", 10) })).toEqual(["Account 2", "Account 3", "Account 4", "Account 5"]);
    expect(await names({ where: cmp("creditonhold", "eq", true) })).toEqual(["Account 0", "Account 2", "Account 4"]);
    expect(await names({ where: cmp("creditonhold", "eq", false) })).toEqual(["Account 1", "Account 3", "Account 5"]);
    expect(await names({ where: cmp("name", "eq", "ACCOUNT 1", true) })).toEqual(["Account 1"]);
    expect(await names({ where: cmp("name", "eq", "account 2", true) })).toEqual(["Account 2"]);
  });

  it("keeps null tests, IN list lengths and case-insensitive IN values apart", async () => {
    expect(await names({ where: cmp("parentaccountid", "eq", null) })).toEqual(["Account 0"]);
    expect(await names({ where: cmp("parentaccountid", "eq", ids[0] as string) })).toHaveLength(5);
    expect(await names({ where: { kind: "in", column: "name", values: ["Account 1", "Account 3"] } })).toEqual(["Account 1", "Account 3"]);
    expect(await names({ where: { kind: "in", column: "name", values: ["Account 4"] } })).toEqual(["Account 4"]);
    expect(await names({ where: { kind: "in", column: "name", values: ["ACCOUNT 5", "account 0"], caseInsensitive: true } })).toEqual(["Account 0", "Account 5"]);
    expect(await names({ where: { kind: "like", column: "name", pattern: "%t 2" } })).toEqual(["Account 2"]);
    expect(await names({ where: { kind: "like", column: "name", pattern: "%t 3" } })).toEqual(["Account 3"]);
  });

  it("applies limit and offset, and an offset of 0 is no offset", async () => {
    expect(await names({ limit: 2 })).toEqual(["Account 0", "Account 1"]);
    expect(await names({ limit: 2, offset: 2 })).toEqual(["Account 2", "Account 3"]);
    expect(await names({ limit: 2, offset: 4 })).toEqual(["Account 4", "Account 5"]);
    expect(await names({ limit: 3, offset: 0 })).toEqual(["Account 0", "Account 1", "Account 2"]);
  });

  it("binds values inside exists subqueries and related values", async () => {
    const all = ReadScope.system("test: every row");
    const linked = (lastname: string, scope = all): Expr => ({ kind: "exists", entity: contact, innerColumn: "parentcustomerid", outerColumn: "accountid", where: cmp("lastname", "eq", lastname), scope });
    expect(await names({ where: linked("Linked") })).toEqual(["Account 3"]);
    expect(await names({ where: linked("Nobody") })).toEqual([]);
    const rows = await store.selectRows(org, { entity: account, columns: ["name"], related: [{ alias: "parentname", column: "parentaccountid", target: account, targetColumn: "name", scope: all }], where: cmp("name", "eq", "Account 4"), orderBy: [] });
    expect(rows).toEqual([{ name: "Account 4", parentname: "Account 0" }]);
    // A scope's values are bound like any other: the same shape with a scope that excludes the row finds nothing.
    const onlyContact = (id: string) => ReadScope.caller(cmp("contactid", "eq", id));
    expect(await names({ where: linked("Linked", onlyContact("00000000-0000-4000-8000-00000000c001")) })).toEqual(["Account 3"]);
    expect(await names({ where: linked("Linked", onlyContact("00000000-0000-4000-8000-00000000c999")) })).toEqual([]);
    const parentName = async (scope: ReadScope) => (await store.selectRows(org, { entity: account, columns: ["name"], related: [{ alias: "parentname", column: "parentaccountid", target: account, targetColumn: "name", scope }], where: cmp("name", "eq", "Account 4"), orderBy: [] }))[0]?.parentname;
    expect(await parentName(ReadScope.caller(cmp("name", "eq", "Account 0")))).toBe("Account 0");
    expect(await parentName(ReadScope.caller(cmp("name", "eq", "Account 9")))).toBeNull();
  });

  it("gives reads that differ only in values one shape, and others different ones", () => {
    const a = shapeOf("t", { entity: account, columns: ["name"], where: cmp("name", "eq", "x"), orderBy: [], limit: 5 });
    const b = shapeOf("t", { entity: account, columns: ["name"], where: cmp("name", "eq", "y"), orderBy: [], limit: 50 });
    expect(a.key).toBe(b.key);
    expect(b.literals).toEqual(["y", 50]);
    for (const other of [
      { entity: account, columns: ["name"], where: cmp("name", "eq", null), orderBy: [], limit: 5 },
      { entity: account, columns: ["name"], where: cmp("name", "ne", "x"), orderBy: [], limit: 5 },
      { entity: account, columns: ["name"], where: cmp("name", "eq", "x", true), orderBy: [], limit: 5 },
      { entity: account, columns: ["name", "accountid"], where: cmp("name", "eq", "x"), orderBy: [], limit: 5 },
      { entity: account, columns: ["name"], where: cmp("name", "eq", "x"), orderBy: [{ column: "name", descending: true }], limit: 5 },
      { entity: account, columns: ["name"], where: cmp("name", "eq", "x"), orderBy: [] },
      { entity: account, columns: ["name"], where: cmp("name", "eq", "x"), orderBy: [], limit: 5, offset: 5 },
    ] satisfies RecordQuery[]) {
      expect(shapeOf("t", other).key).not.toBe(a.key);
    }
    expect(shapeOf("u", { entity: account, columns: ["name"], where: cmp("name", "eq", "x"), orderBy: [], limit: 5 }).key).not.toBe(a.key);
  });
});
