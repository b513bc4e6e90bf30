import { describe, expect, it } from "vitest";
import { DataverseError } from "../errors.ts";
import { MAX_BATCH_PARTS, multipartBoundary, parseBatch, resolveContentIdReferences, resolveContentIdUrl, writeBatchResponse } from "./batch.ts";

const CHANGESET = [
  "--batch_AAA123",
  "Content-Type: multipart/mixed; boundary=changeset_BBB",
  "",
  "--changeset_BBB",
  "Content-Type: application/http",
  "Content-Transfer-Encoding: binary",
  "Content-ID: 1",
  "",
  "POST https://org.example/org/contoso/api/data/v9.2/contacts HTTP/1.1",
  "Content-Type: application/json;type=entry",
  "",
  '{"firstname":"Ada"}',
  "",
  "--changeset_BBB",
  "Content-Transfer-Encoding: binary",
  "Content-Type: application/http",
  "Content-ID: 2",
  "",
  "PUT $1/lastname HTTP/1.1",
  "Content-Type: application/json",
  "",
  '{"value":"Lovelace"}',
  "--changeset_BBB--",
  "",
  "--batch_AAA123",
  "Content-Type: application/http",
  "Content-Transfer-Encoding: binary",
  "",
  "GET /api/data/v9.2/contacts?$select=firstname HTTP/1.1",
  "Accept: application/json",
  "",
  "",
  "--batch_AAA123--",
  "",
];

function rejects(fn: () => unknown): DataverseError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DataverseError) return error;
    throw error;
  }
  throw new Error("expected a DataverseError");
}

function part(method: string, url: string, extra: string[] = [], body = ""): string[] {
  return ["Content-Type: application/http", "Content-Transfer-Encoding: binary", ...extra, "", `${method} ${url} HTTP/1.1`, "Content-Type: application/json", "", body];
}

function batch(parts: string[][], boundary = "b"): string {
  return [...parts.flatMap((p) => [`--${boundary}`, ...p]), `--${boundary}--`, ""].join("\r\n");
}

describe("multipartBoundary", () => {
  it("reads quoted and unquoted boundaries", () => {
    expect(multipartBoundary('multipart/mixed; boundary="batch_1"')).toBe("batch_1");
    expect(multipartBoundary("multipart/mixed;boundary=dwa_batch_2")).toBe("dwa_batch_2");
    expect(multipartBoundary("Multipart/Mixed; charset=utf-8; boundary=batch_3")).toBe("batch_3");
  });

  it("refuses other content types and a missing boundary", () => {
    expect(rejects(() => multipartBoundary("application/json")).status).toBe(400);
    expect(rejects(() => multipartBoundary(undefined)).message).toMatch(/multipart\/mixed/);
    expect(rejects(() => multipartBoundary("multipart/mixed")).message).toMatch(/no boundary/);
  });
});

describe("parseBatch", () => {
  it("parses change sets, Content-IDs, request lines, headers and bodies (LF)", () => {
    const items = parseBatch(CHANGESET.join("\n"), "batch_AAA123");
    expect(items).toHaveLength(2);
    const [changeset, get] = items;
    expect(changeset).toEqual({
      kind: "changeset",
      requests: [
        { contentId: "1", method: "POST", url: "https://org.example/org/contoso/api/data/v9.2/contacts", headers: { "content-type": "application/json;type=entry" }, body: '{"firstname":"Ada"}' },
        { contentId: "2", method: "PUT", url: "$1/lastname", headers: { "content-type": "application/json" }, body: '{"value":"Lovelace"}' },
      ],
    });
    expect(get).toEqual({ kind: "request", request: { method: "GET", url: "/api/data/v9.2/contacts?$select=firstname", headers: { accept: "application/json" }, body: "" } });
  });

  it("parses the same batch with CRLF line ends identically", () => {
    expect(parseBatch(CHANGESET.join("\r\n"), "batch_AAA123")).toEqual(parseBatch(CHANGESET.join("\n"), "batch_AAA123"));
  });

  it("accepts a request whose headers run up to the next delimiter, and ignores preamble and epilogue", () => {
    const text = ["preamble", "--b", "Content-Type: application/http", "Content-Transfer-Encoding: binary", "", "GET accounts HTTP/1.1", "Accept: application/json", "--b--", "epilogue"].join("\r\n");
    expect(parseBatch(text, "b")).toEqual([{ kind: "request", request: { method: "GET", url: "accounts", headers: { accept: "application/json" }, body: "" } }]);
  });

  it("refuses a GET inside a change set with ODataLib's message", () => {
    const text = ["--b", "Content-Type: multipart/mixed; boundary=cs", "", "--cs", ...part("GET", "accounts"), "--cs--", "--b--"].join("\n");
    const error = rejects(() => parseBatch(text, "b"));
    expect(error.status).toBe(400);
    expect(error.message).toBe("An invalid HTTP method 'GET' was detected for a request in a change set. Requests in change sets only support the HTTP methods 'POST', 'PUT', 'DELETE', and 'PATCH'.");
  });

  it("refuses a change set nested in a change set", () => {
    const text = ["--b", "Content-Type: multipart/mixed; boundary=cs", "", "--cs", "Content-Type: multipart/mixed; boundary=cs2", "", "--cs2--", "--cs--", "--b--"].join("\n");
    expect(rejects(() => parseBatch(text, "b")).message).toMatch(/cannot contain another change set/);
  });

  it(`refuses more than ${MAX_BATCH_PARTS} requests, counting change-set members`, () => {
    const parts = Array.from({ length: MAX_BATCH_PARTS }, () => part("GET", "accounts"));
    expect(parseBatch(batch(parts), "b")).toHaveLength(MAX_BATCH_PARTS);
    const over = [...parts.slice(1), ["Content-Type: multipart/mixed; boundary=cs", "", "--cs", ...part("POST", "accounts"), "--cs", ...part("POST", "accounts"), "--cs--"]];
    const error = rejects(() => parseBatch(batch(over), "b"));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/1001 requests, more than the maximum of 1000/);
  });

  it("refuses forward and unknown $n references in URLs and bodies", () => {
    const forwardBody = batch([["Content-Type: multipart/mixed; boundary=cs", "", "--cs", ...part("POST", "phonecalls", ["Content-ID: 2"], '{"regardingobjectid_account_phonecall@odata.bind":"$1"}'), "--cs", ...part("POST", "accounts", ["Content-ID: 1"], '{"name":"x"}'), "--cs--"]]);
    expect(rejects(() => parseBatch(forwardBody, "b")).message).toBe("Content-ID Reference: '$1' does not exist in the batch context.");
    const forwardUrl = batch([part("PATCH", "$3", [], '{"name":"x"}')]);
    expect(rejects(() => parseBatch(forwardUrl, "b")).message).toBe("Content-ID Reference: '$3' does not exist in the batch context.");
    const idRef = batch([part("POST", "accounts", ["Content-ID: 1"], "{}"), part("PUT", "$1/primarycontactid/$ref", [], '{"@odata.id":"$2"}')]);
    expect(rejects(() => parseBatch(idRef, "b")).message).toBe("Content-ID Reference: '$2' does not exist in the batch context.");
  });

  it("refuses malformed parts loudly", () => {
    expect(rejects(() => parseBatch("no delimiter", "b")).message).toMatch(/no '--b' delimiter/);
    // No close delimiter: the part ends at the end of the body (xrm-webapi-client sends that).
    expect(parseBatch("--b\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\nGET accounts HTTP/1.1\n", "b")).toHaveLength(1);
    expect(rejects(() => parseBatch(batch([["Content-Type: application/json", "", "{}"]]), "b")).message).toMatch(/application\/http/);
    expect(rejects(() => parseBatch(batch([["Content-Type: application/http", "", "GET accounts HTTP/1.1"]]), "b")).message).toMatch(/Content-Transfer-Encoding/);
    expect(rejects(() => parseBatch(batch([part("GET", "accounts").map((l) => (l.startsWith("GET") ? "GET accounts" : l))]), "b")).message).toMatch(/not a request line/);
    expect(rejects(() => parseBatch(batch([part("MERGE", "accounts")]), "b")).message).toMatch(/'MERGE' is not supported/);
  });
});

describe("Content-ID resolution", () => {
  const ids = new Map([
    ["1", "https://h/org/c/api/data/v9.2/accounts(11111111-1111-1111-1111-111111111111)"],
    ["2", "https://h/org/c/api/data/v9.2/contacts(22222222-2222-2222-2222-222222222222)"],
  ]);

  it("resolves $n at the start of a URL", () => {
    expect(resolveContentIdUrl("$1", ids)).toBe(ids.get("1"));
    expect(resolveContentIdUrl("$2/lastname", ids)).toBe(`${ids.get("2") as string}/lastname`);
    expect(resolveContentIdUrl("accounts", ids)).toBe("accounts");
    expect(rejects(() => resolveContentIdUrl("$9/name", ids)).message).toBe("Content-ID Reference: '$9' does not exist in the batch context.");
  });

  it("resolves $n in @odata.bind (single and collection) and @odata.id values, deep too", () => {
    const body = { name: "$1", "parentaccountid@odata.bind": "$1", "contact_customer_accounts@odata.bind": ["$2"], primarycontactid: { "@odata.id": "$2" } };
    expect(resolveContentIdReferences(body, ids)).toEqual({ name: "$1", "parentaccountid@odata.bind": ids.get("1"), "contact_customer_accounts@odata.bind": [ids.get("2")], primarycontactid: { "@odata.id": ids.get("2") } });
    expect(rejects(() => resolveContentIdReferences({ "@odata.id": "$3" }, ids)).status).toBe(400);
  });
});

describe("writeBatchResponse", () => {
  let n = 0;
  const newId = () => `0000000${++n}-0000-4000-8000-00000000000${n}`;

  it("writes CRLF parts, change-set wrappers, Content-IDs and reason phrases that clients parse", () => {
    n = 0;
    const { contentType, body } = writeBatchResponse(
      [
        { kind: "changeset", responses: [{ contentId: "1", status: 204, headers: { "OData-Version": "4.0", "OData-EntityId": "https://h/api/data/v9.2/accounts(1)" } }] },
        { kind: "response", response: { status: 200, headers: { "Content-Type": "application/json; odata.metadata=minimal", "OData-Version": "4.0" }, body: '{"value":[]}' } },
      ],
      newId,
    );
    expect(contentType).toBe("multipart/mixed; boundary=batchresponse_00000001-0000-4000-8000-000000000001");
    expect(body).toBe(
      [
        "--batchresponse_00000001-0000-4000-8000-000000000001",
        "Content-Type: multipart/mixed; boundary=changesetresponse_00000002-0000-4000-8000-000000000002",
        "",
        "--changesetresponse_00000002-0000-4000-8000-000000000002",
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "Content-ID: 1",
        "",
        "HTTP/1.1 204 No Content",
        "OData-Version: 4.0",
        "OData-EntityId: https://h/api/data/v9.2/accounts(1)",
        "",
        "",
        "--changesetresponse_00000002-0000-4000-8000-000000000002--",
        "--batchresponse_00000001-0000-4000-8000-000000000001",
        "Content-Type: application/http",
        "Content-Transfer-Encoding: binary",
        "",
        "HTTP/1.1 200 OK",
        "Content-Type: application/json; odata.metadata=minimal",
        "OData-Version: 4.0",
        "",
        '{"value":[]}',
        "--batchresponse_00000001-0000-4000-8000-000000000001--",
        "",
      ].join("\r\n"),
    );
    // xrm-webapi-client's and dynamics-web-api's expectations.
    expect(body.startsWith("--batchresponse_")).toBe(true);
    expect(body.split("\r\n").filter((l) => l.startsWith("--batchresponse_")).every((l) => /^--batchresponse_[a-fA-F0-9-]+(--)?$/.test(l))).toBe(true);
    expect(/HTTP\/?\s*[\d.]*\s+(\d{3})\s+([\w\s]*)$/m.exec(body)?.slice(1, 3)).toEqual(["204", "No Content\r"]);
  });

  it("writes error parts with the status phrase", () => {
    const { body } = writeBatchResponse([{ kind: "response", response: { status: 400, headers: { "Content-Type": "application/json" }, body: '{"error":{}}' } }], () => "a");
    expect(body).toContain("\r\nHTTP/1.1 400 Bad Request\r\n");
  });
});
