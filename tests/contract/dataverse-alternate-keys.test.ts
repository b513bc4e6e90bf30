/**
 * Alternate keys (learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity,
 * …/webapi/retrieve-entity-using-web-api#retrieve-using-an-alternate-key) defined over the Web API with
 * the real dynamics-web-api client, then used by it: retrieve, update and upsert by key, uniqueness,
 * the key's unique index, removal, and every refusal.
 */
import { DynamicsWebApi } from "dynamics-web-api";
import { beforeAll, describe, expect, it } from "vitest";
import { adminToken, demoToken, useOrgbox } from "../helpers/orgbox.ts";
import { label } from "../helpers/metadata.ts";

type Body = Record<string, unknown> & { error?: { code: string; message: string }; value?: Record<string, unknown>[] };


/** The body of the documented sample: `POST EntityDefinitions(LogicalName='account')/Keys`. */
const accountNumberKey = { SchemaName: "new_AccountNumberKey", DisplayName: label("Account number"), KeyAttributes: ["accountnumber"] };

/** A status code and error the client raised, or a failure if it did not raise one. */
async function refusal(promise: Promise<unknown>): Promise<{ status: number; code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { status: number; code: string; message: string };
    return { status: e.status, code: e.code, message: e.message };
  }
  throw new Error("the request was expected to fail");
}

describe("alternate keys", () => {
  const orgbox = useOrgbox();
  let api: DynamicsWebApi;
  let token = "";

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; body: Body }> {
    const response = await fetch(`${orgbox().apiUrl}/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Body) : {} };
  }

  beforeAll(async () => {
    token = await adminToken(orgbox());
    api = new DynamicsWebApi({ serverUrl: `${orgbox().orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
  });

  it("POST EntityDefinitions(…)/Keys creates a key: 204 with OData-EntityId, then listed by …/Keys and $expand=Keys", async () => {
    const created = await call("POST", "EntityDefinitions(LogicalName='account')/Keys", accountNumberKey);
    expect(created.status).toBe(204);
    expect(created.headers.get("odata-entityid")).toMatch(/\/EntityDefinitions\([0-9a-f-]{36}\)\/Keys\([0-9a-f-]{36}\)$/);

    const keys = await api.retrieve<{ value: Record<string, unknown>[] }>({ collection: "EntityDefinitions", key: "LogicalName='account'", navigationProperty: "Keys" });
    expect(keys.value).toHaveLength(1);
    expect(keys.value[0]).toMatchObject({ LogicalName: "new_accountnumberkey", SchemaName: "new_AccountNumberKey", EntityLogicalName: "account", KeyAttributes: ["accountnumber"], EntityKeyIndexStatus: "Active" });
    expect((keys.value[0]?.DisplayName as { UserLocalizedLabel: { Label: string } }).UserLocalizedLabel.Label).toBe("Account number");

    const entity = await api.retrieveEntity<{ Keys: { LogicalName: string }[] }>({ key: "LogicalName='account'", select: ["LogicalName"], expand: [{ property: "Keys", select: ["LogicalName", "KeyAttributes"] }] });
    expect(entity.Keys).toEqual([expect.objectContaining({ LogicalName: "new_accountnumberkey", KeyAttributes: ["accountnumber"] })]);
    expect(Object.keys(entity.Keys[0] as object).filter((k) => !k.startsWith("@"))).toEqual(["MetadataId", "LogicalName", "KeyAttributes"]);

    const id = /Keys\(([0-9a-f-]{36})\)$/.exec(created.headers.get("odata-entityid") ?? "")?.[1];
    const single = await call("GET", `EntityDefinitions(LogicalName='account')/Keys(${id})?$select=KeyAttributes`);
    expect(single.status).toBe(200);
    expect(single.body.KeyAttributes).toEqual(["accountnumber"]);
    const byName = await call("GET", "EntityDefinitions(LogicalName='account')/Keys(LogicalName='new_accountnumberkey')");
    expect(byName.body.MetadataId).toBe(id);
  });

  it("records are read, updated and upserted by the key with dynamics-web-api; key values stay unique (412 0x80060892, case-insensitive)", async () => {
    const id = (await api.create({ collection: "accounts", data: { name: "Keyed Ltd", accountnumber: "K-100" } })) as string;
    const found = await api.retrieve<{ accountid: string; name: string }>({ collection: "accounts", key: "accountnumber='K-100'", select: ["name"] });
    expect(found).toMatchObject({ accountid: id, name: "Keyed Ltd" });

    await api.update({ collection: "accounts", key: "accountnumber='K-100'", data: { telephone1: "555-0100" } });
    expect((await api.retrieve<{ telephone1: string }>({ collection: "accounts", key: id, select: ["telephone1"] })).telephone1).toBe("555-0100");

    // Upsert by key: the first PATCH creates the record with the key's value, the second updates it.
    await api.upsert({ collection: "accounts", key: "accountnumber='K-200'", data: { name: "Upserted" } });
    await api.upsert({ collection: "accounts", key: "accountnumber='K-200'", data: { name: "Upserted twice" } });
    const upserted = await api.retrieveMultiple<{ name: string; accountnumber: string }>({ collection: "accounts", filter: "accountnumber eq 'K-200'", select: ["name", "accountnumber"] });
    expect(upserted.value).toEqual([expect.objectContaining({ name: "Upserted twice", accountnumber: "K-200" })]);

    const dup = await refusal(api.create({ collection: "accounts", data: { name: "Copy", accountnumber: "k-100" } }));
    expect(dup).toMatchObject({ status: 412, code: "0x80060892" });
    expect(dup.message).toContain("new_accountnumberkey");
    // Records without a value for the key never collide.
    await api.create({ collection: "accounts", data: { name: "No number 1" } });
    await api.create({ collection: "accounts", data: { name: "No number 2" } });
  });

  it("a composite key with a lookup column is used as contacts(lastname='…',_parentcustomerid_value=…)", async () => {
    const parent = (await api.create({ collection: "accounts", data: { name: "Parent of keyed contacts" } })) as string;
    const res = await call("POST", "EntityDefinitions(LogicalName='contact')/Keys", { SchemaName: "cr123_NameParent", KeyAttributes: ["lastname", "parentcustomerid"] });
    expect(res.status).toBe(204);
    const id = (await api.create({ collection: "contacts", data: { lastname: "Keyed", "parentcustomerid_account@odata.bind": `accounts(${parent})` } })) as string;
    const found = await api.retrieve<{ contactid: string }>({ collection: "contacts", key: `lastname='Keyed',_parentcustomerid_value=${parent}`, select: ["lastname"] });
    expect(found.contactid).toBe(id);
  });

  it("refuses bad keys: unknown column, unsupported type, duplicate name or columns, unprefixed name, too many columns", async () => {
    const cases: [unknown, number, string, string][] = [
      [{ SchemaName: "new_Nope", KeyAttributes: ["nosuchcolumn"] }, 400, "0x80044331", "nosuchcolumn"],
      [{ SchemaName: "new_Memo", KeyAttributes: ["description"] }, 400, "0x80044331", "cannot be part of an alternate key"],
      [{ SchemaName: "new_AccountNumberKey", KeyAttributes: ["name"] }, 400, "0x80040237", "already exists"],
      [{ SchemaName: "new_Again", KeyAttributes: ["accountnumber"] }, 400, "0x80040237", "already has the columns"],
      [{ SchemaName: "AccountKey", KeyAttributes: ["name"] }, 400, "0x80044331", "prefix"],
      [{ SchemaName: "new_Twice", KeyAttributes: ["name", "name"] }, 400, "0x80044331", "twice"],
      [{ SchemaName: "new_Empty", KeyAttributes: [] }, 400, "0x80044331", "at least one column"],
      [{ SchemaName: "new_Bad", KeyAttributes: "name" }, 400, "0x80044331", "KeyAttributes"],
    ];
    for (const [body, status, code, text] of cases) {
      const res = await call("POST", "EntityDefinitions(LogicalName='account')/Keys", body);
      expect({ status: res.status, code: res.body.error?.code }, JSON.stringify(body)).toEqual({ status, code });
      expect(res.body.error?.message).toContain(text);
    }
    const unknownTable = await call("POST", "EntityDefinitions(LogicalName='nosuchtable')/Keys", accountNumberKey);
    expect(unknownTable.status).toBe(404);
    expect(unknownTable.body.error?.code).toBe("0x80040217");
  });

  it("refuses a key over values existing records already share, and leaves no key behind", async () => {
    await api.create({ collection: "accounts", data: { name: "Twin", telephone1: "555-7777" } });
    await api.create({ collection: "accounts", data: { name: "Twin", telephone1: "555-7777" } });
    const res = await call("POST", "EntityDefinitions(LogicalName='account')/Keys", { SchemaName: "new_Phone", KeyAttributes: ["telephone1"] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "0x80040237" });
    expect(res.body.error?.message).toContain("already share values");
    const keys = await call("GET", "EntityDefinitions(LogicalName='account')/Keys?$select=LogicalName");
    expect(keys.body.value?.map((k) => k.LogicalName)).toEqual(["new_accountnumberkey"]);
  });

  it("defining keys needs prvCreateEntity: the demo app's integration role gets 403 0x80040220", async () => {
    const demo = await demoToken(orgbox());
    const response = await fetch(`${orgbox().apiUrl}/EntityDefinitions(LogicalName='account')/Keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${demo}`, "content-type": "application/json" },
      body: JSON.stringify({ SchemaName: "new_ByDemo", KeyAttributes: ["name"] }),
    });
    expect(response.status).toBe(403);
    expect(((await response.json()) as Body).error?.code).toBe("0x80040220");
  });

  it("DELETE …/Keys(LogicalName='…') removes the key: the URL form is refused and duplicates are allowed again", async () => {
    const missing = await call("DELETE", "EntityDefinitions(LogicalName='account')/Keys(LogicalName='new_nosuchkey')");
    expect(missing.status).toBe(404);
    expect(missing.body.error?.code).toBe("0x80040217");

    const removed = await call("DELETE", "EntityDefinitions(LogicalName='account')/Keys(LogicalName='new_accountnumberkey')");
    expect(removed.status).toBe(204);
    const keys = await call("GET", "EntityDefinitions(LogicalName='account')/Keys");
    expect(keys.body.value).toEqual([]);
    const byKey = await refusal(api.retrieve({ collection: "accounts", key: "accountnumber='K-100'" }));
    expect(byKey.status).toBe(400);
    expect(byKey.message).toContain("not an alternate key");
    await api.create({ collection: "accounts", data: { name: "Copy", accountnumber: "K-100" } });
  });
});
