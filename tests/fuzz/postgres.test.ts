/**
 * Fuzzing the Web API on the PostgreSQL store (issue #11), where text cannot hold U+0000 and BIGINT ends at
 * 2^63: U+0000 put into `$filter`, FetchXML, keys, JSON bodies, `$batch` parts and the org segment of the
 * URL (with and without a token), and numbers beyond 2^31, 2^53 and 2^63 in `$filter`, FetchXML,
 * `$skiptoken` cookies, `$top`, `Prefer` and bodies. No answer may be a 5xx. Seeded and bounded (see fuzz.ts).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOrgbox, type OrgboxInstance } from "../../src/index.ts";
import { adminToken } from "../helpers/orgbox.ts";
import { createTestDatabase } from "../helpers/postgres.ts";
import { dataverseEnvelope, edgeNumber, enc, FuzzTally, fuzzTarget, TARGET_TIMEOUT_MS, type FuzzRequest } from "./fuzz.ts";
import { batchBody, COLUMNS, fetchXml, filterExpression, recordBody, SETS, skipToken } from "./generators.ts";

/** `text` with U+0000 put at a generated position (encoded as `%00` in URLs, `\u0000` in JSON). */
const withNul = (text: fc.Arbitrary<string>) => fc.tuple(text, fc.nat()).map(([t, at]) => `${t.slice(0, at % (t.length + 1))}\u0000${t.slice(at % (t.length + 1))}`);
const bigNumber = fc.oneof(edgeNumber, fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String));

describe("fuzz: Dataverse Web API (PostgreSQL): U+0000 and big numbers", () => {
  let o: OrgboxInstance;
  let drop: () => Promise<void> = async () => undefined;
  let token = "";
  const tally = new FuzzTally("Dataverse, PostgreSQL");

  beforeAll(async () => {
    const database = await createTestDatabase();
    drop = () => database.drop();
    o = await startOrgbox({ http: true, storeUrl: database.url });
    token = await adminToken(o);
  });
  afterAll(async () => {
    tally.print();
    await o?.close();
    await drop();
  });

  const headers = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, accept: "application/json", ...extra });
  const run = (name: string, arbitrary: () => fc.Arbitrary<FuzzRequest>) =>
    it(
      name,
      async () => {
        await fuzzTarget(tally, arbitrary(), dataverseEnvelope);
        expect((await fetch(`${o.apiUrl}/WhoAmI()`, { headers: headers() })).status).toBe(200);
      },
      TARGET_TIMEOUT_MS,
    );
  const set = fc.constantFrom(...SETS);
  const column = fc.constantFrom(...COLUMNS);

  run("U+0000 in $filter, FetchXML, keys and the org segment", () =>
    fc.oneof(
      fc.tuple(set, withNul(filterExpression)).map(([s, f]) => ({ method: "GET", url: `${o.apiUrl}/${s}?$filter=${enc(f)}`, headers: headers() })),
      fc.tuple(set, withNul(fetchXml)).map(([s, x]) => ({ method: "GET", url: `${o.apiUrl}/${s}?fetchXml=${enc(x)}`, headers: headers() })),
      fc.tuple(set, column, withNul(fc.string({ maxLength: 10 }))).map(([s, c, v]) => ({ method: "GET", url: `${o.apiUrl}/${s}(${c}='${enc(v)}')`, headers: headers() })),
      fc.tuple(withNul(fc.constantFrom("contoso", "x")), fc.boolean()).map(([org, auth]) => ({ method: "GET", url: `${o.url}/org/${enc(org)}/api/data/v9.2/accounts`, headers: auth ? headers() : {} })),
    ),
  );
  run("U+0000 in JSON bodies and $batch parts", () =>
    fc.oneof(
      fc.tuple(fc.constantFrom("POST accounts", "POST contacts", "PATCH accounts(c0de0001-0000-4000-8000-000000000001)"), withNul(fc.string({ maxLength: 12 })), recordBody).map(([target, text, body]) => {
        const [method, path] = target.split(" ") as [string, string];
        const parsed = ((): unknown => {
          try {
            return JSON.parse(body) as unknown;
          } catch {
            return undefined;
          }
        })();
        const record = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : {};
        return { method, url: `${o.apiUrl}/${path}`, headers: headers({ "content-type": "application/json" }), body: JSON.stringify({ ...record, name: text, [text]: 1 }) };
      }),
      batchBody(`${o.apiUrl}`).map(({ boundary, text }) => ({ method: "POST", url: `${o.apiUrl}/$batch`, headers: headers({ "content-type": `multipart/mixed; boundary=${boundary}` }), body: text.replace(/name/g, "na\u0000me") })),
    ),
  );
  run("numbers beyond 2^31, 2^53 and 2^63", () =>
    fc.oneof(
      fc.tuple(set, column, fc.constantFrom("eq", "gt", "le"), bigNumber).map(([s, c, op, n]) => ({ method: "GET", url: `${o.apiUrl}/${s}?$filter=${enc(`${c} ${op} ${n}`)}`, headers: headers() })),
      fc.tuple(column, fc.constantFrom("eq", "gt", "in", "between", "last-x-days", "top", "ge"), bigNumber).map(([c, op, n]) => ({ method: "GET", url: `${o.apiUrl}/accounts?fetchXml=${enc(`<fetch><entity name="account"><filter><condition attribute="${c}" operator="${op}" value="${n}" /></filter></entity></fetch>`)}`, headers: headers() })),
      fc.tuple(bigNumber, bigNumber).map(([page, count]) => ({ method: "GET", url: `${o.apiUrl}/accounts?fetchXml=${enc(`<fetch page="${page}" count="${count}"><entity name="account"><attribute name="name" /></entity></fetch>`)}`, headers: headers() })),
      fc.tuple(set, skipToken, bigNumber).map(([s, t, size]) => ({ method: "GET", url: `${o.apiUrl}/${s}?$skiptoken=${enc(t)}`, headers: headers({ prefer: `odata.maxpagesize=${size}` }) })),
      fc.tuple(bigNumber, bigNumber).map(([top, delta]) => ({ method: "GET", url: `${o.apiUrl}/accounts?$top=${top}&$deltatoken=${delta}`, headers: headers() })),
      fc.tuple(fc.constantFrom("numberofemployees", "revenue", "versionnumber", "industrycode", "exchangerate", "statecode"), bigNumber).map(([c, n]) => ({ method: "POST", url: `${o.apiUrl}/accounts`, headers: headers({ "content-type": "application/json" }), body: `{"name":"big","${c}":${n}}` })),
    ),
  );
});
