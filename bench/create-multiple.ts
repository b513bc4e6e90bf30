/**
 * Web API bulk-create throughput for `npm run bench` (issue 6):
 * `POST accounts/Microsoft.Dynamics.CRM.CreateMultiple` with batches of
 * `batchSize` rows over one keep-alive HTTPS connection, one batch in flight
 * (the store serializes writes anyway), for a bounded time. Reports rows/second;
 * the caller puts it next to the bulk-SQL insert rate. Never asserts timings.
 *
 * Source: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-createmultiple-updatemultiple
 */
import { Agent, request } from "node:https";
import { performance } from "node:perf_hooks";

/** What a CreateMultiple run measured: rows created, batches sent, failures, and the rate (rows/s). */
export interface CreateMultipleResult {
  batchSize: number;
  batches: number;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  /** Batches answered with anything but 200 (their rows are not counted); the first such body. */
  failures: number;
  firstFailure?: string;
}

function post(agent: Agent, url: string, headers: Record<string, string>, body: string, ca: string | undefined): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", agent, ca, headers: { ...headers, "content-length": String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * Sends CreateMultiple batches to `${apiUrl}/accounts/…` for `durationSeconds`
 * (after one warm-up batch that is not counted).
 * @param options.apiUrl the org's Web API root (`…/api/data/v9.2`).
 * @param options.token a bearer token allowed to create accounts.
 * @param options.ca the PEM of orgbox's local CA.
 * @throws Error when the warm-up batch is refused (the body says why).
 */
export async function benchCreateMultiple(options: { apiUrl: string; token: string; ca: string | undefined; durationSeconds: number; batchSize?: number }): Promise<CreateMultipleResult> {
  const batchSize = options.batchSize ?? 1000;
  const url = `${options.apiUrl}/accounts/Microsoft.Dynamics.CRM.CreateMultiple`;
  const headers = { authorization: `Bearer ${options.token}`, accept: "application/json", "content-type": "application/json", "odata-version": "4.0", "odata-maxversion": "4.0" };
  let serial = 0;
  const batch = () =>
    JSON.stringify({
      Targets: Array.from({ length: batchSize }, () => {
        const i = serial++;
        return { "@odata.type": "Microsoft.Dynamics.CRM.account", name: `CreateMultiple ${i}`, accountnumber: `CM-${i}`, numberofemployees: i % 500 };
      }),
    });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const warm = await post(agent, url, headers, batch(), options.ca);
    if (warm.status !== 200) throw new Error(`CreateMultiple answered ${warm.status}: ${warm.text.slice(0, 300)}`);
    let batches = 0;
    let failures = 0;
    let firstFailure: string | undefined;
    const started = performance.now();
    const until = started + options.durationSeconds * 1000;
    while (performance.now() < until) {
      const body = batch(); // built outside the clock would be fairer, but JSON.stringify of 1,000 small rows is < 1 ms
      const res = await post(agent, url, headers, body, options.ca);
      if (res.status === 200) batches++;
      else {
        failures++;
        firstFailure ??= `${res.status}: ${res.text.slice(0, 300)}`;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const rows = batches * batchSize;
    return { batchSize, batches, rows, seconds, rowsPerSecond: rows / seconds, failures, ...(firstFailure ? { firstFailure } : {}) };
  } finally {
    agent.destroy();
  }
}
