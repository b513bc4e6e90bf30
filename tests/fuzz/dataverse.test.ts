/**
 * Fuzzing the Dataverse Web API on the SQLite store (issue #11): generated `$filter`, `$orderby`, `$select`,
 * `$expand`, `$apply`, `$skiptoken`, FetchXML, paths and keys, JSON bodies and `$batch` bodies, sent by a
 * System Administrator application user. No answer may be a 5xx, every 4xx must be Dataverse's error
 * envelope, and orgbox must still answer WhoAmI after each target. Seeded and bounded (see fuzz.ts).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { adminToken } from "../helpers/orgbox.ts";
import { dataverseEnvelope, enc, type AnswerCheck, FuzzTally, fuzzTarget, TARGET_TIMEOUT_MS, type FuzzRequest } from "./fuzz.ts";
import { apiPath, apply, batchBody, expand, fetchXml, filterExpression, orderby, prefer, recordBody, select, SETS, skipToken } from "./generators.ts";

describe("fuzz: Dataverse Web API (SQLite)", () => {
  let o: OrgboxInstance;
  let token = "";
  const tally = new FuzzTally("Dataverse, SQLite");

  beforeAll(async () => {
    o = await startOrgbox({ http: true });
  });
  afterAll(async () => {
    tally.print();
    await o?.close();
  });

  /** Back to the state after start (what earlier targets wrote is gone) and a fresh System Administrator token. */
  async function fresh(): Promise<void> {
    await o.reset();
    token = await adminToken(o);
  }
  const headers = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, accept: "application/json", ...extra });
  const get = (path: string, extra: Record<string, string> = {}): FuzzRequest => ({ method: "GET", url: `${o.apiUrl}/${path}`, headers: headers(extra) });

  /** orgbox is still up and serving the Web API. */
  async function stillUp(): Promise<void> {
    const who = await fetch(`${o.apiUrl}/WhoAmI()`, { headers: headers() });
    expect(who.status).toBe(200);
  }

  const run = (name: string, arbitrary: () => fc.Arbitrary<FuzzRequest>, check: AnswerCheck = dataverseEnvelope) =>
    it(
      name,
      async () => {
        await fresh();
        await fuzzTarget(tally, arbitrary(), check);
        await stillUp();
      },
      TARGET_TIMEOUT_MS,
    );

  const set = fc.constantFrom(...SETS);

  run("$filter", () => fc.tuple(set, filterExpression, fc.boolean()).map(([s, f, encoded]) => get(`${s}?$filter=${encoded ? enc(f) : f}&@p1='x'`)));
  run("$select, $orderby, $top, $count", () =>
    fc.tuple(set, select, orderby, fc.option(fc.string({ maxLength: 25 })), fc.constantFrom("", "&$count=true", "&$skip=5", "&$search=x", "&$format=json")).map(([s, sel, ord, top, extra]) => get(`${s}?$select=${enc(sel)}&$orderby=${enc(ord)}${top !== null ? `&$top=${enc(top)}` : ""}${extra}`)),
  );
  run("$expand", () => fc.tuple(set, expand).map(([s, e]) => get(`${s}?$expand=${enc(e)}`)));
  run("$apply", () => fc.tuple(set, apply).map(([s, a]) => get(`${s}?$apply=${enc(a)}`)));
  run("$skiptoken and Prefer", () => fc.tuple(set, skipToken, prefer, fc.constantFrom("", "&$deltatoken=1", "&$select=name")).map(([s, t, p, extra]) => get(`${s}?$skiptoken=${enc(t)}${extra}`, p ? { prefer: p } : {})));
  run("FetchXML", () => fc.tuple(set, fetchXml, prefer).map(([s, x, p]) => get(`${s}?fetchXml=${enc(x)}`, p ? { prefer: p } : {})));
  run("paths, keys and functions", () =>
    fc.tuple(fc.constantFrom("GET", "DELETE", "PATCH", "PUT", "POST"), apiPath, fc.option(recordBody), fc.constantFrom<Record<string, string>>({}, { "if-match": "*" }, { "if-none-match": "*" }, { "if-match": 'W/"1"' }, { mscrmcallerid: "c0de0000-0000-4000-8000-00000000d005" })).map(([method, path, body, extra]) => ({
      method,
      url: `${o.apiUrl}/${path}`,
      headers: headers({ ...extra, ...(body !== null ? { "content-type": "application/json" } : {}) }),
      ...(body !== null ? { body } : {}),
    })),
  );
  run("JSON bodies (create, update, upsert, bulk)", () =>
    fc
      .tuple(fc.constantFrom("POST accounts", "POST contacts", "PATCH accounts(c0de0001-0000-4000-8000-000000000001)", "PATCH accounts(00000000-0000-4000-8000-0000000000ff)", "POST accounts/Microsoft.Dynamics.CRM.CreateMultiple", "POST accounts/Microsoft.Dynamics.CRM.UpdateMultiple", "POST accounts(c0de0001-0000-4000-8000-000000000001)/contact_customer_accounts/$ref", "PUT accounts(c0de0001-0000-4000-8000-000000000001)/name", "POST tasks", "POST EntityDefinitions(LogicalName='account')/Attributes"), recordBody, fc.constantFrom("application/json", "application/json; charset=utf-8", "application/json;type=entry", "text/plain", "application/x-www-form-urlencoded"), fc.constantFrom("", "return=representation"))
      .map(([target, body, contentType, p]) => {
        const [method, path] = target.split(" ") as [string, string];
        const wrapped = path.endsWith("Multiple") ? `{"Targets":[${body}]}` : body;
        return { method, url: `${o.apiUrl}/${path}`, headers: headers({ "content-type": contentType, ...(p ? { prefer: p } : {}) }), body: wrapped };
      }),
  );
  run("$batch", () =>
    fc.tuple(batchBody(o.apiUrl), fc.constantFrom("", "odata.continue-on-error"), fc.boolean()).map(([{ boundary, text }, p, quoted]) => ({
      method: "POST",
      url: `${o.apiUrl}/$batch`,
      headers: headers({ "content-type": `multipart/mixed; boundary=${quoted ? `"${boundary}"` : boundary}`, ...(p ? { prefer: p } : {}) }),
      body: text,
    })),
    (request, status, text, responseHeaders) => {
      dataverseEnvelope(request, status, text, responseHeaders);
      // A part answered with a 5xx inside a 200 (continue-on-error) is a server error too.
      expect(text, `${request.body ?? ""}`).not.toMatch(/^HTTP\/1\.1 5(?!01)\d\d/m);
    },
  );
});
