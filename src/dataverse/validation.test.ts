import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../store/database.ts";
import { SqlDataverseStore } from "../store/dataverse-store.ts";
import type { Caller } from "./model.ts";
import { OrgMetadata } from "./metadata/registry.ts";
import { STANDARD_TABLES } from "./metadata/standard.ts";
import type { AttributeMetadata, EntityMetadata } from "./metadata/types.ts";
import type { Org } from "./model.ts";
import { parseEntityKey } from "./odata/path.ts";
import { SecurityContext } from "./security/context.ts";
import { securityAuthorizer } from "./security/write-authorizer.ts";
import { DataverseService } from "./service.ts";
import { columnValue, parseRecord, parseReference } from "./validation.ts";
import { RecordWriter } from "./writer.ts";

const md = new OrgMetadata(STANDARD_TABLES);
const account = md.entity("account") as EntityMetadata;

function attribute(overrides: Partial<AttributeMetadata>): AttributeMetadata {
  return { logicalName: "x", schemaName: "X", type: "DateTime", displayName: "X", requiredLevel: "None", isValidForCreate: true, isValidForUpdate: true, isCustomAttribute: false, ...overrides };
}

describe("columnValue", () => {
  it("stores date-times in UTC at second precision with Z", () => {
    const dt = attribute({ dateTimeBehavior: "UserLocal" });
    expect(columnValue(account, dt, "2024-05-01T09:30:15.789Z")).toBe("2024-05-01T09:30:15Z");
    expect(columnValue(account, dt, "2024-05-01T11:30:00+02:00")).toBe("2024-05-01T09:30:00Z");
    expect(columnValue(account, dt, "2024-05-01T09:30")).toBe("2024-05-01T09:30:00Z");
    expect(columnValue(account, dt, "2024-05-01")).toBe("2024-05-01T00:00:00Z");
    expect(() => columnValue(account, dt, "2024-02-30T00:00:00Z")).toThrow(/Edm.DateTimeOffset/);
    expect(() => columnValue(account, dt, "yesterday")).toThrow(/Edm.DateTimeOffset/);
    expect(() => columnValue(account, dt, 1714555815)).toThrow();
  });

  it("checks integers, money precision, GUIDs and big integers", () => {
    expect(() => columnValue(account, attribute({ type: "Integer" }), 2 ** 31)).toThrow(/Edm.Int32/);
    expect(columnValue(account, attribute({ type: "Money", precision: 2 }), 10.005)).toBeCloseTo(10.01, 2);
    expect(columnValue(account, attribute({ type: "Uniqueidentifier" }), "0F8FAD5B-D9CB-469F-A165-70867728950E")).toBe("0f8fad5b-d9cb-469f-a165-70867728950e");
    expect(() => columnValue(account, attribute({ type: "Uniqueidentifier" }), "nope")).toThrow(/Edm.Guid/);
    expect(columnValue(account, attribute({ type: "BigInt" }), "9007199254740991")).toBe(9007199254740991);
    // Beyond 2^53 the value could not be read back exactly: refused with the type error, never stored.
    expect(() => columnValue(account, attribute({ type: "BigInt" }), "9007199254740993")).toThrow(/Edm.Int64/);
  });
});

describe("parseEntityKey and parseReference", () => {
  it("parses GUIDs and alternate keys with OData literals", () => {
    expect(parseEntityKey(" 0F8FAD5B-D9CB-469F-A165-70867728950E ")).toEqual({ kind: "id", id: "0f8fad5b-d9cb-469f-a165-70867728950e" });
    expect(parseEntityKey("firstname='Joe',emailaddress1='a@b.c'")).toEqual({ kind: "alternate", values: [{ name: "firstname", value: "Joe" }, { name: "emailaddress1", value: "a@b.c" }] });
    expect(parseEntityKey("name='O''Brien',n=5,flag=true,x=null")).toEqual({ kind: "alternate", values: [{ name: "name", value: "O'Brien" }, { name: "n", value: 5 }, { name: "flag", value: true }, { name: "x", value: null }] });
    expect(() => parseEntityKey("garbage")).toThrow();
  });

  it("reads absolute, relative and slash-less references", () => {
    const id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    for (const text of [`https://org.crm.dynamics.com/api/data/v9.2/contacts(${id})`, `/contacts(${id})`, `contacts(${id})`, `/api/data/v9.1/contacts(${id})`]) {
      const ref = parseReference(md, account, text);
      expect(ref.entity.logicalName).toBe("contact");
      expect(ref.key).toEqual({ kind: "id", id });
    }
    expect(() => parseReference(md, account, "/nosuchset(" + id + ")")).toThrow(/Resource not found/);
  });

  it("parses a record without touching the store and collects deep inserts", () => {
    const record = parseRecord(md, account, { name: "A", primarycontactid: { lastname: "B" }, contact_customer_accounts: [{ lastname: "C" }] }, "create");
    expect(record.values).toEqual({ name: "A" });
    expect(record.deepSingles[0]?.record.entity.logicalName).toBe("contact");
    expect(record.deepCollections[0]?.relationship.referencingAttribute).toBe("parentcustomerid");
  });

  it("accepts a record sent as a JSON string of its JSON (dataverse-ify) and nothing else that is not an object", () => {
    expect(parseRecord(md, account, JSON.stringify({ name: "A", numberofemployees: 3 }), "create").values).toEqual({ name: "A", numberofemployees: 3 });
    for (const body of ["name=A", "{not json", JSON.stringify(JSON.stringify({ name: "A" })), "[]", 42, null, [{ name: "A" }]]) {
      expect(() => parseRecord(md, account, body, "create")).toThrow(/must be a JSON object describing one record/);
    }
  });
});

describe("alternate keys (tables that define them)", () => {
  let database: Database;
  let store: SqlDataverseStore;
  const org: Org = { id: "00000000-0000-4000-8000-000000000001", name: "keys", tenantId: "00000000-0000-4000-8000-000000000002", displayName: "keys", tablePrefix: "k1_" };
  const keyed: EntityMetadata = { ...account, keys: [{ logicalName: "accountnumber_key", keyAttributes: ["accountnumber"] }] };
  const keyedMd = new OrgMetadata([...STANDARD_TABLES.filter((e) => e.logicalName !== "account"), keyed]);
  const caller: Caller = { systemUserId: "00000000-0000-4000-8000-000000000003", businessUnitId: "00000000-0000-4000-8000-000000000004", kind: "application" };

  beforeAll(async () => {
    database = await openDatabase({ inMemory: true, dataDir: "" });
    store = new SqlDataverseStore(database.db, database.adapter);
    await store.createOrg(org, Date.now());
    for (const entity of keyedMd.entities()) await store.createRecordTable(org, entity);
  });
  afterAll(async () => {
    await database.close();
  });

  it("finds records by key value and keeps key values unique", async () => {
    const service = new DataverseService(store, { now: () => Date.now() }, { servicePrincipal: async () => undefined, user: async () => undefined });
    const writer = new RecordWriter(service, securityAuthorizer);
    const scope = { store, org, md: keyedMd, caller, security: SecurityContext.system(org, "the writer's key handling, below the security model") };
    const id = await writer.create(scope, parseRecord(keyedMd, keyed, { name: "Keyed", accountnumber: "ACC-1001" }, "create"));
    const found = await writer.find(scope, keyed, parseEntityKey("accountnumber='acc-1001'"));
    expect(found?.accountid).toBe(id);
    await expect(writer.create(scope, parseRecord(keyedMd, keyed, { name: "Dup", accountnumber: "ACC-1001" }, "create"))).rejects.toMatchObject({ status: 412, code: "0x80060892" });
    await expect(writer.find(scope, keyed, parseEntityKey("name='Keyed'"))).rejects.toMatchObject({ status: 400 });
  });
});
