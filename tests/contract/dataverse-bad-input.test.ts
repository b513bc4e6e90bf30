/**
 * Bad input on the Web API gets a 4xx in Dataverse's error envelope, the same on SQLite and PostgreSQL
 * (issue #11): a `$skiptoken` cookie holding numbers beyond 2^63, FetchXML `aggregate="true"` without an
 * aggregate attribute, JSON bodies (and `$batch` part bodies) nested thousands of levels deep, U+0000
 * anywhere (URL, org segment, `$filter`, FetchXML, keys, bodies, `$batch` parts), and numbers a column's
 * type cannot hold. dynamics-web-api drives what a client can send; the rest is sent as raw HTTP.
 */
import { DynamicsWebApi } from "dynamics-web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { failure } from "../helpers/dwa.ts";
import { demoToken } from "../helpers/orgbox.ts";
import { createTestDatabase } from "../helpers/postgres.ts";

type Answer = { status: number; code: string | undefined; message: string };

describe.each(["sqlite", "postgres"] as const)("bad input on the %s store", (backend) => {
  let o: OrgboxInstance;
  let token = "";
  let dwa: DynamicsWebApi;
  let dropDatabase: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    let storeUrl: string | undefined;
    if (backend === "postgres") {
      const database = await createTestDatabase();
      storeUrl = database.url;
      dropDatabase = () => database.drop();
    }
    o = await startOrgbox({ http: true, ...(storeUrl ? { storeUrl } : {}) });
    token = await demoToken(o);
    dwa = new DynamicsWebApi({ serverUrl: `${o.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
  });
  afterAll(async () => {
    await o?.close();
    await dropDatabase?.();
  });

  async function send(method: string, path: string, init: { body?: string; contentType?: string; auth?: boolean } = {}): Promise<Answer> {
    const url = path.startsWith("http") ? path : `${o.apiUrl}/${path}`;
    const headers: Record<string, string> = { accept: "application/json" };
    if (init.auth !== false) headers.authorization = `Bearer ${token}`;
    if (init.contentType) headers["content-type"] = init.contentType;
    const response = await fetch(url, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
    const text = await response.text();
    const body = (text ? JSON.parse(text) : {}) as { error?: { code?: string; message?: string } };
    return { status: response.status, code: body.error?.code, message: body.error?.message ?? "" };
  }

  /** A `$skiptoken` of orgbox's shape: inner page `page`, and a `numberofemployees` order value when given. */
  function skipToken(pageNumber: string, page: string, employees?: string): string {
    const order = employees === undefined ? "" : `<numberofemployees last="${employees}" first="1" />`;
    const inner = `<cookie page="${page}">${order}<accountid last="{C0DE0001-0000-4000-8000-000000000001}" first="{C0DE0001-0000-4000-8000-000000000001}" /></cookie>`;
    return `<cookie pagenumber="${pageNumber}" pagingcookie="${encodeURIComponent(encodeURIComponent(inner))}" istracking="False" />`;
  }

  it("a $skiptoken whose cookie holds numbers beyond 2^63 (or 2^53, or page 0) is refused with 0x80060888", async () => {
    const byEmployees = "accounts?$orderby=numberofemployees&$skiptoken=";
    const cases = [
      ["accounts?$skiptoken=", skipToken("99999999999999999999", "1")],
      ["accounts?$skiptoken=", skipToken("9007199254740993", "9007199254740992")],
      ["accounts?$skiptoken=", skipToken("2", "99999999999999999999")],
      ["accounts?$skiptoken=", skipToken("0", "1")],
      [byEmployees, skipToken("2", "1", "99999999999999999999")],
      [byEmployees, skipToken("2", "1", "9007199254740993")],
      [byEmployees, skipToken("2", "1", "1.5")],
      [byEmployees, skipToken("2", "1", "1e3")],
    ] as const;
    for (const [path, token] of cases) {
      const answer = await send("GET", `${path}${encodeURIComponent(token)}`);
      expect(answer, token).toMatchObject({ status: 400, code: "0x80060888" });
      expect(answer.message).toContain("$skiptoken");
    }
    // A cookie orgbox could have issued still pages.
    expect((await send("GET", `accounts?$skiptoken=${encodeURIComponent(skipToken("2", "1"))}`)).status).toBe(200);
    expect((await send("GET", `${byEmployees}${encodeURIComponent(skipToken("2", "1", "-42"))}`)).status).toBe(200);
  });

  it("a $skiptoken issued for another $orderby, another direction, or a value of the wrong type is refused with 0x80060888", async () => {
    const cases = [
      // Issued for the primary key only, replayed with an $orderby.
      ["accounts?$orderby=name&$skiptoken=", skipToken("2", "1"), "another order"],
      // Issued ascending, replayed descending.
      ["accounts?$orderby=numberofemployees desc&$skiptoken=", skipToken("2", "1", "5"), "another order"],
      // Not a GUID for the primary key; a NULL primary key.
      ["accounts?$skiptoken=", skipToken("2", "1").replace("C0DE0001-0000-4000-8000-000000000001", "nope"), "is not a value"],
      // The inner page does not precede the page asked for; an attribute orgbox does not write; istracking without deltastart.
      ["accounts?$skiptoken=", skipToken("3", "1"), "does not precede"],
      ["accounts?$skiptoken=", skipToken("2", "1").replace("page%253D%25221%2522", "page%253D%25221%2522%2520skip%253D%25225%2522"), "unknown attribute"],
      ["accounts?$skiptoken=", skipToken("2", "1").replace("False", "True"), "istracking"],
      ["accounts?$skiptoken=", "<cookie pagenumber=\"2\" pagingcookie=\"%25zz\" istracking=\"False\" />", "URL-encoded"],
      ["accounts?$skiptoken=", "<cookie pagenumber=\"2\" pagingcookie=\"%253Cnot-xml\" istracking=\"False\" />", "not XML"],
    ] as const;
    for (const [path, token, detail] of cases) {
      const answer = await send("GET", `${path}${encodeURIComponent(token)}`);
      expect(answer, token).toMatchObject({ status: 400, code: "0x80060888" });
      expect(answer.message, token).toContain("$skiptoken");
      expect(answer.message, token).toContain(detail);
    }
    // A NULL primary key.
    const nullKey = `<cookie pagenumber="2" pagingcookie="${encodeURIComponent(encodeURIComponent(`<cookie page="1"><accountid lastnull="1" firstnull="1" /></cookie>`))}" istracking="False" />`;
    expect(await send("GET", `accounts?$skiptoken=${encodeURIComponent(nullKey)}`)).toMatchObject({ status: 400, code: "0x80060888" });
  });

  it("FetchXML aggregate=\"true\" with no aggregate or groupby attribute is refused as invalid FetchXML (0x80040203)", async () => {
    const error = await failure(dwa.fetch({ collection: "accounts", fetchXml: `<fetch aggregate="true"><entity name="account"></entity></fetch>` }));
    expect(error).toMatchObject({ status: 400, code: "0x80040203" });
    expect(error.message).toContain("aggregate");
    const linked = await failure(dwa.fetch({ collection: "accounts", fetchXml: `<fetch aggregate="true"><entity name="account"><link-entity name="contact" from="parentcustomerid" to="accountid" /></entity></fetch>` }));
    expect(linked).toMatchObject({ status: 400, code: "0x80040203" });
  });

  it("JSON bodies nested 5,000 levels deep are refused with 0x80048d19 before anything recurses over them; 100 levels are read", async () => {
    const deepArray = `{"name":"deep","description":${"[".repeat(5000)}${"]".repeat(5000)}}`;
    const deepObject = `${'{"a":'.repeat(5000)}1${"}".repeat(5000)}`;
    for (const body of [deepArray, deepObject]) {
      const answer = await send("POST", "accounts", { body, contentType: "application/json" });
      expect(answer).toMatchObject({ status: 400, code: "0x80048d19" });
      expect(answer.message).toContain("nested more than 100 levels");
    }
    // The same limit inside a record sent as a JSON string (dataverse-ify's Node client does that).
    const stringified = await send("POST", "accounts", { body: JSON.stringify(deepArray), contentType: "application/json" });
    expect(stringified).toMatchObject({ status: 400, code: "0x80048d19" });
    // 100 levels pass the limit (and fail later, as a wrong value type for the column, not a crash).
    const atLimit = await send("POST", "accounts", { body: `{"name":"ok","description":${"[".repeat(99)}${"]".repeat(99)}}`, contentType: "application/json" });
    expect(atLimit.status).toBe(400);
    expect(atLimit.message).not.toContain("nested more than");
  });

  it("$batch part bodies nested 2,000 levels deep are refused with 0x80048d19", async () => {
    const deep = `${"[".repeat(2000)}${"]".repeat(2000)}`;
    for (const payload of [`{"name":${deep}}`, `{"name":"x","primarycontactid@odata.bind":"$1","description":${deep}}`]) {
      const batch = `--b1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\nPOST ${o.apiUrl}/accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n${payload}\r\n--b1--\r\n`;
      const response = await fetch(`${o.apiUrl}/$batch`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "multipart/mixed; boundary=b1" }, body: batch });
      expect(response.status).toBe(400);
      expect(await response.text()).toContain("0x80048d19");
    }
  });

  it("U+0000 is refused with a 400 everywhere: URL, org segment (with or without a token), $filter, FetchXML, keys, bodies, $batch parts", async () => {
    const nul = "\u0000";
    const urlCases = [
      `accounts?$filter=${encodeURIComponent(`name eq 'a${nul}b'`)}`,
      `accounts?fetchXml=${encodeURIComponent(`<fetch><entity name="account"><filter><condition attribute="name" operator="eq" value="a${nul}" /></filter></entity></fetch>`)}`,
      `accounts(name='a%00b')`,
      `accounts?$select=name%00`,
    ];
    for (const path of urlCases) expect(await send("GET", path), path).toMatchObject({ status: 400, code: "0x80060888" });
    for (const auth of [true, false]) {
      const answer = await send("GET", `${o.url}/org/con%00toso/api/data/v9.2/accounts`, { auth });
      expect(answer).toMatchObject({ status: 400, code: "0x80060888" });
      expect(answer.message).toContain("U+0000");
    }
    const create = await failure(dwa.create({ collection: "accounts", data: { name: `a${nul}b` } }));
    expect(create).toMatchObject({ status: 400, code: "0x80048d19" });
    const key = await failure(dwa.create({ collection: "accounts", data: { [`na${nul}me`]: "x" } }));
    expect(key).toMatchObject({ status: 400, code: "0x80048d19" });
    dwa.startBatch();
    void dwa.create({ collection: "accounts", data: { name: `in a batch ${nul}` } });
    const batchPart = await failure(dwa.executeBatch());
    expect(JSON.stringify(batchPart)).toContain("0x80048d19");
    const rawBatch = `--b1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET ${o.apiUrl}/accounts?$filter=name%20eq%20'%00' HTTP/1.1\r\nMSCRMCallerID: ${nul}\r\n\r\n\r\n--b1--\r\n`;
    const response = await fetch(`${o.apiUrl}/$batch`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "multipart/mixed; boundary=b1" }, body: rawBatch });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("U+0000");
    // Nothing was stored.
    const stored = await dwa.retrieveMultiple<{ name: string }>({ collection: "accounts", select: ["name"], filter: "startswith(name,'a') or startswith(name,'in a batch')" });
    expect(stored.value.some((a) => a.name.includes(nul))).toBe(false);
  });

  it("a Web API URL the router cannot decode (bad percent-encoding) answers 400 0x80060888 in the Dataverse envelope, as JSON", async () => {
    const response = await fetch(`${o.url}/org/con%E0%A4%Atoso/api/data/v9.2/accounts`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toMatch(/^application\/json; odata\.metadata=minimal/);
    expect(response.headers.get("odata-version")).toBe("4.0");
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("0x80060888");
    expect(body.error.message).toMatch(/^Bad Request - Error in query syntax: /);
  });

  it("numbers a whole-number column cannot hold are refused with the type error (0x80060888), not sent to SQL", async () => {
    for (const filter of ["numberofemployees eq 1.5", "numberofemployees eq 3000000000", "numberofemployees eq 1e400", "versionnumber gt 99999999999999999999", "Microsoft.Dynamics.CRM.In(PropertyName='numberofemployees',PropertyValues=[\"99999999999\"])"]) {
      const error = await failure(dwa.retrieveMultiple({ collection: "accounts", filter }));
      expect(error, filter).toMatchObject({ status: 400, code: "0x80060888" });
      expect(error.message).toContain("incompatible types");
    }
    const fetchXml = `<fetch><entity name="account"><filter><condition attribute="numberofemployees" operator="eq" value="99999999999999999999" /></filter></entity></fetch>`;
    expect(await failure(dwa.fetch({ collection: "accounts", fetchXml }))).toMatchObject({ status: 400, code: "0x80060888" });
    // In range, they still work.
    const ok = await dwa.retrieveMultiple<{ numberofemployees: number }>({ collection: "accounts", select: ["numberofemployees"], filter: "numberofemployees eq 30" });
    expect(ok.value.map((a) => a.numberofemployees)).toEqual([30]);
  });
  it("numbers outside a column's range are refused with 0x80044331 naming the range, not sent to SQL (1e308 was a 500 on PostgreSQL)", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ name: "big", revenue: 1e308 }, "Accepted Range: 0 to 100000000000000"], // the documented MinValue/MaxValue of account.revenue
      [{ name: "small", revenue: -1 }, "Accepted Range: 0 to 100000000000000"],
      [{ name: "north", address1_latitude: 91 }, "Accepted Range: -90 to 90"], // the column's documented MinValue/MaxValue
      [{ name: "offset", address1_utcoffset: 1e6 }, "outside the valid range"],
    ];
    for (const [data, range] of cases) {
      const err = await failure(dwa.create({ collection: "accounts", data }));
      expect(err.status, JSON.stringify(data)).toBe(400);
      expect(err.code).toBe("0x80044331");
      expect(err.message).toContain(range);
    }
    const opportunity = await send("POST", "opportunities", { body: JSON.stringify({ name: "Sure thing", closeprobability: 101 }), contentType: "application/json" });
    expect(opportunity).toMatchObject({ status: 400, code: "0x80044331" });
    expect(opportunity.message).toContain("Accepted Range: 0 to 100");
    // At the edges, they are stored.
    const id = (await dwa.create({ collection: "accounts", data: { name: "edge", revenue: 100000000000000, address1_latitude: -90 } })) as string;
    expect(await dwa.retrieve({ collection: "accounts", key: id, select: ["revenue", "address1_latitude"] })).toMatchObject({ revenue: 100000000000000, address1_latitude: -90 });
  });
});
