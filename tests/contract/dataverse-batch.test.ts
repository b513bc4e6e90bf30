import { DynamicsWebApi } from "dynamics-web-api";
import { beforeAll, describe, expect, it } from "vitest";
import type { OrgboxInstance } from "../../src/index.ts";
import { demoToken, useOrgbox } from "../helpers/orgbox.ts";

/**
 * `$batch` through the real dynamics-web-api client (change sets, Content-ID references,
 * rollback, long-URL reads sent as a batch), and with raw fetch for the wire details:
 * LF/CRLF, request-line URL forms, continue-on-error, limits and the response shape the
 * other clients' parsers expect (dataverse-ify: body starts with `--batchresponse_` and the
 * Content-Type has `boundary=`; xrm-webapi-client: its boundary, status and Content-ID regexes).
 */

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PART = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"];

interface RawResponse {
  status: number;
  contentType: string;
  body: string;
}

describe("Dataverse $batch", () => {
  const orgbox = useOrgbox();
  let token = "";
  let api: DynamicsWebApi;

  async function json(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${orgbox().apiUrl}/${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  async function count(set: string, filter: string): Promise<number> {
    const res = await json("GET", `${set}?$select=${set === "accounts" ? "name" : "lastname"}&$filter=${encodeURIComponent(filter)}`);
    return (res.body.value as unknown[]).length;
  }

  /** POSTs a raw $batch body; `lines` are joined with `eol`. */
  async function rawBatch(lines: string[], options: { eol?: string; boundary?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
    const boundary = options.boundary ?? "batch_raw";
    const response = await fetch(`${orgbox().apiUrl}/$batch`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, accept: "application/json", "odata-version": "4.0", "content-type": `multipart/mixed; boundary="${boundary}"`, ...options.headers },
      body: lines.join(options.eol ?? "\r\n"),
    });
    return { status: response.status, contentType: response.headers.get("content-type") ?? "", body: await response.text() };
  }

  /** Status codes of the parts, in order (xrm-webapi-client's status regex). */
  function statuses(body: string): number[] {
    return [...body.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
  }

  beforeAll(async () => {
    const instance: OrgboxInstance = orgbox();
    token = await demoToken(instance);
    api = new DynamicsWebApi({ serverUrl: `${instance.orgUrl}/`, dataApi: { version: "9.2" }, onTokenRefresh: async () => token });
  });

  describe("dynamics-web-api", () => {
    it("runs a change set of creates and an update that references a created record by Content-ID", async () => {
      api.startBatch();
      void api.create({ collection: "accounts", data: { name: "Batch Parent" }, contentId: "1" });
      void api.create({ collection: "contacts", data: { firstname: "Grace", lastname: "Batchperson", "parentcustomerid_account@odata.bind": "$1" }, contentId: "2" });
      void api.update({ contentId: "$1", data: { "primarycontactid@odata.bind": "$2", telephone1: "555-0100" } });
      const results = (await api.executeBatch()) as unknown[];
      expect(results).toHaveLength(3);
      const [accountId, contactId] = results as string[];
      expect(accountId).toMatch(GUID_RE);
      expect(contactId).toMatch(GUID_RE);
      const account = await api.retrieve({ collection: "accounts", key: accountId as string, select: ["name", "telephone1", "_primarycontactid_value"] });
      expect(account).toMatchObject({ name: "Batch Parent", telephone1: "555-0100", _primarycontactid_value: contactId });
      const contact = await api.retrieve({ collection: "contacts", key: contactId as string, select: ["_parentcustomerid_value"] });
      expect(contact._parentcustomerid_value).toBe(accountId);
    });

    it("rolls a change set back whole when a request in it fails, and reports the error", async () => {
      api.startBatch();
      void api.create({ collection: "accounts", data: { name: "Rollback One" } });
      void api.create({ collection: "accounts", data: { name: `Rollback Two ${"x".repeat(200)}` } });
      void api.create({ collection: "accounts", data: { name: "Rollback Three" } });
      const error = await api.executeBatch().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(Array.isArray(error)).toBe(true);
      const [first] = error as { status: number; error?: { code: string; message: string } }[];
      expect(first?.status).toBe(400);
      expect(first?.error?.code).toBe("0x80044331");
      expect(first?.error?.message).toMatch(/exceeded the maximum allowed length of '160'/);
      expect(await count("accounts", "startswith(name,'Rollback')")).toBe(0);
    });

    it("runs GETs outside the change set (inChangeSet: false) and returns their rows", async () => {
      await api.create({ collection: "accounts", data: { name: "Readable One" } });
      await api.create({ collection: "accounts", data: { name: "Readable Two" } });
      api.startBatch();
      void api.retrieveMultiple({ collection: "accounts", select: ["name"], filter: "startswith(name,'Readable')", orderBy: ["name asc"] });
      void api.create({ collection: "accounts", data: { name: "Readable Three" } });
      void api.count({ collection: "accounts", filter: "startswith(name,'Readable')" });
      const [list, id, total] = (await api.executeBatch({ inChangeSet: false })) as [{ value: { name: string }[] }, string, number];
      expect(list.value.map((r) => r.name)).toEqual(["Readable One", "Readable Two"]);
      expect(id).toMatch(GUID_RE);
      expect(total).toBe(3);
    });

    it("sends a retrieveMultiple with a URL over 2000 characters as a one-part batch and gets the right rows", async () => {
      const wanted = ["Long Url A", "Long Url B"];
      for (const name of wanted) await api.create({ collection: "accounts", data: { name } });
      const noise = Array.from({ length: 80 }, (_, i) => `name eq 'Not There ${i}'`);
      const filter = [...noise, ...wanted.map((n) => `name eq '${n}'`)].join(" or ");
      expect(filter.length).toBeGreaterThan(2000);
      const result = await api.retrieveMultiple<{ name: string }>({ collection: "accounts", select: ["name"], filter, orderBy: ["name asc"] });
      expect(result.value.map((r) => r.name)).toEqual(wanted);
    });
  });

  describe("wire format", () => {
    function createPart(name: string, extra: string[] = []): string[] {
      return [...PART, ...extra, "", `POST accounts HTTP/1.1`, "Content-Type: application/json;type=entry", "", JSON.stringify({ name })];
    }

    it("answers 200 multipart/mixed with a CRLF body the three clients' parsers accept", async () => {
      const res = await rawBatch([
        "--batch_raw",
        "Content-Type: multipart/mixed; boundary=changeset_1",
        "",
        "--changeset_1",
        ...createPart("Wire One", ["Content-ID: 1"]),
        "--changeset_1--",
        "--batch_raw",
        ...PART,
        "",
        "GET accounts?$select=name&$filter=name%20eq%20'Wire%20One' HTTP/1.1",
        "Accept: application/json",
        "",
        "--batch_raw--",
      ]);
      expect(res.status).toBe(200);
      // dataverse-ify: Content-Type includes boundary= and the body starts with --batchresponse_.
      const boundary = /boundary=(batchresponse_[0-9a-f-]{36})$/.exec(res.contentType)?.[1];
      expect(boundary).toBeDefined();
      expect(res.body.startsWith(`--${boundary as string}\r\n`)).toBe(true);
      expect(res.body.endsWith(`--${boundary as string}--\r\n`)).toBe(true);
      expect(res.body.replace(/\r\n/g, "")).not.toMatch(/\n/);
      // xrm-webapi-client: boundary lines, Content-Type right after them, status line, Content-ID.
      expect(res.body).toMatch(/^--batchresponse_[a-fA-F0-9-]+$/m);
      for (const m of res.body.matchAll(/^--(?:batch|changeset)response_[a-f0-9-]{36}\r\n([^\r\n]*)/gm)) expect(m[1]).toMatch(/^Content-Type: (application\/http|multipart\/mixed; boundary=changesetresponse_[a-f0-9-]+)$/);
      expect(res.body).toMatch(/^Content-ID: 1\r$/m);
      expect(statuses(res.body)).toEqual([204, 200]);
      expect(res.body).toContain("HTTP/1.1 204 No Content\r\nOData-Version: 4.0\r\nLocation: ");
      expect(res.body).toMatch(/OData-EntityId: https:\/\/\S+\/api\/data\/v9\.2\/accounts\([0-9a-f-]{36}\)\r\n/);
      expect(res.body).toContain("HTTP/1.1 200 OK\r\nContent-Type: application/json; odata.metadata=minimal");
      const rows = JSON.parse(res.body.slice(res.body.indexOf("{"), res.body.lastIndexOf("}") + 1)) as { value: { name: string }[] };
      expect(rows.value.map((r) => r.name)).toEqual(["Wire One"]);
    });

    it("accepts LF-only bodies, unquoted boundaries and absolute, /api/data and relative request lines", async () => {
      const lines = (url: string, name: string) => ["--b", ...PART, "", `POST ${url} HTTP/1.1`, "Content-Type: application/json", "", JSON.stringify({ name })];
      const response = await fetch(`${orgbox().apiUrl}/$batch`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "multipart/mixed;boundary=b" },
        body: [...lines(`${orgbox().apiUrl}/accounts`, "Form Absolute"), ...lines(`/api/data/v9.2/accounts`, "Form ApiPath"), ...lines("accounts", "Form Relative"), "--b--", ""].join("\n"),
      });
      const body = await response.text();
      expect(response.status).toBe(200);
      expect(statuses(body)).toEqual([204, 204, 204]);
      expect(await count("accounts", "startswith(name,'Form ')")).toBe(3);
    });

    it("resolves $n in URLs (PUT $1/property, PUT $1/nav/$ref with @odata.id $2)", async () => {
      const res = await rawBatch([
        "--batch_raw",
        "Content-Type: multipart/mixed; boundary=cs",
        "",
        "--cs",
        ...PART,
        "Content-ID: 1",
        "",
        "POST accounts HTTP/1.1",
        "Content-Type: application/json",
        "",
        '{"name":"Ref Account"}',
        "--cs",
        ...PART,
        "Content-ID: 2",
        "",
        "POST contacts HTTP/1.1",
        "Content-Type: application/json",
        "",
        '{"lastname":"Ref Contact"}',
        "--cs",
        ...PART,
        "Content-ID: 3",
        "",
        "PUT $1/telephone1 HTTP/1.1",
        "Content-Type: application/json",
        "",
        '{"value":"555-0199"}',
        "--cs",
        ...PART,
        "Content-ID: 4",
        "",
        "PUT $1/primarycontactid/$ref HTTP/1.1",
        "Content-Type: application/json",
        "",
        '{"@odata.id":"$2"}',
        "--cs--",
        "--batch_raw--",
      ]);
      expect(res.status).toBe(200);
      expect(statuses(res.body)).toEqual([204, 204, 204, 204]);
      const accounts = await json("GET", `accounts?$select=telephone1,_primarycontactid_value&$filter=name eq 'Ref Account'`);
      const [row] = accounts.body.value as Record<string, unknown>[];
      expect(row?.telephone1).toBe("555-0199");
      expect(row?._primarycontactid_value).toMatch(GUID_RE);
    });

    it("stops at the first failure with 400 and the responses so far", async () => {
      const res = await rawBatch(["--batch_raw", ...createPart("Stop One"), "--batch_raw", ...createPart("x".repeat(300)), "--batch_raw", ...createPart("Stop Three"), "--batch_raw--"]);
      expect(res.status).toBe(400);
      expect(statuses(res.body)).toEqual([204, 400]);
      expect(res.body).toContain('{"error":{"code":"0x80044331"');
      expect(await count("accounts", "name eq 'Stop One'")).toBe(1);
      expect(await count("accounts", "name eq 'Stop Three'")).toBe(0);
    });

    it("with Prefer: odata.continue-on-error runs every part and answers 200 with per-part statuses", async () => {
      const res = await rawBatch(
        [
          "--batch_raw",
          ...createPart("x".repeat(300)),
          "--batch_raw",
          "Content-Type: multipart/mixed; boundary=cs",
          "",
          "--cs",
          ...createPart("Continue Rolled Back", ["Content-ID: 1"]),
          "--cs",
          ...[...PART, "Content-ID: 2", "", "PATCH accounts(00000000-0000-0000-0000-0000000000aa) HTTP/1.1", "Content-Type: application/json", "If-Match: *", "", '{"name":"nope"}'],
          "--cs--",
          "--batch_raw",
          ...createPart("Continue Three"),
          "--batch_raw--",
        ],
        { headers: { prefer: "odata.continue-on-error" } },
      );
      expect(res.status).toBe(200);
      expect(statuses(res.body)).toEqual([400, 404, 204]);
      expect(res.body).toMatch(/changesetresponse_[a-f0-9-]+\r\nContent-Type: application\/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 2\r\n\r\nHTTP\/1\.1 404 Not Found/);
      expect(await count("accounts", "name eq 'Continue Rolled Back'")).toBe(0);
      expect(await count("accounts", "name eq 'Continue Three'")).toBe(1);
    });

    it("refuses a forward Content-ID reference before running anything", async () => {
      const res = await rawBatch([
        "--batch_raw",
        "Content-Type: multipart/mixed; boundary=cs",
        "",
        "--cs",
        ...[...PART, "Content-ID: 2", "", "POST contacts HTTP/1.1", "Content-Type: application/json;type=entry", "", '{"lastname":"Forward","parentcustomerid_account@odata.bind":"$1"}'],
        "--cs",
        ...createPart("Forward Target", ["Content-ID: 1"]),
        "--cs--",
        "--batch_raw--",
      ]);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toEqual({ error: { code: "0x0", message: "Content-ID Reference: '$1' does not exist in the batch context." } });
      expect(await count("accounts", "name eq 'Forward Target'")).toBe(0);
    });

    it("refuses a GET inside a change set", async () => {
      const res = await rawBatch(["--batch_raw", "Content-Type: multipart/mixed; boundary=cs", "", "--cs", ...PART, "", "GET accounts HTTP/1.1", "", "--cs--", "--batch_raw--"]);
      expect(res.status).toBe(400);
      expect((JSON.parse(res.body) as { error: { message: string } }).error.message).toMatch(/invalid HTTP method 'GET' was detected for a request in a change set/);
    });

    it("refuses more than 1000 requests", async () => {
      const parts = Array.from({ length: 1001 }, () => ["--batch_raw", ...PART, "", "GET accounts?$top=1 HTTP/1.1", ""]).flat();
      const res = await rawBatch([...parts, "--batch_raw--"]);
      expect(res.status).toBe(400);
      expect((JSON.parse(res.body) as { error: { message: string } }).error.message).toMatch(/1001 requests, more than the maximum of 1000/);
    });

    it("refuses a batch without a token (401), a non-multipart body, a GET of $batch and a nested $batch", async () => {
      const anonymous = await fetch(`${orgbox().apiUrl}/$batch`, { method: "POST", headers: { "content-type": "multipart/mixed; boundary=b" }, body: "--b--" });
      expect(anonymous.status).toBe(401);
      const notMultipart = await json("POST", "$batch", { requests: [] });
      expect(notMultipart.status).toBe(400);
      expect((notMultipart.body.error as { message: string }).message).toMatch(/multipart\/mixed/);
      expect((await json("GET", "$batch")).status).toBe(405);
      const nested = await rawBatch(["--batch_raw", ...PART, "", "POST $batch HTTP/1.1", "", "--batch_raw--"]);
      expect(nested.status).toBe(400);
      expect(nested.body).toContain("A batch request cannot contain another batch request.");
    });

    it("runs each part with the outer token's security (a part for a missing record gets 404)", async () => {
      const res = await rawBatch(["--batch_raw", ...PART, "", "GET accounts(00000000-0000-0000-0000-0000000000bb) HTTP/1.1", "", "--batch_raw--"], { headers: { prefer: "odata.continue-on-error" } });
      expect(res.status).toBe(200);
      expect(statuses(res.body)).toEqual([404]);
      expect(res.body).toContain('"code":"0x80040217"');
    });
  });
});
