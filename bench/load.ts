import autocannon from "autocannon";

/** One load run against a URL. */
export interface LoadSpec {
  url: string;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** PEM of the CA to pass to `tls.connect` (autocannon forces `rejectUnauthorized: false` anyway). */
  ca?: string | undefined;
  connections: number;
  /** Seconds of measurement. */
  durationSeconds: number;
  /** Seconds of discarded warm-up before it (JIT, statement caches, TLS sessions). */
  warmupSeconds: number;
}

/** What one run measured. Latencies in milliseconds. */
export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Bytes per response on average (headers and body). */
  bytesPerResponse: number;
}

/**
 * Runs autocannon in one worker thread (`workers: 1`), so the load generator
 * does not share the event loop of the servers under test, which stay on the
 * main thread. Keep-alive (autocannon reuses its connections), pipelining 1.
 */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if (spec.warmupSeconds > 0) await once({ ...spec, durationSeconds: spec.warmupSeconds });
  return once(spec);
}

async function once(spec: LoadSpec): Promise<LoadResult> {
  const result = await autocannon({
    url: spec.url,
    method: spec.method ?? "GET",
    headers: spec.headers ?? {},
    ...(spec.body !== undefined ? { body: spec.body } : {}),
    connections: spec.connections,
    pipelining: 1,
    duration: spec.durationSeconds,
    workers: 1,
    timeout: 10,
    tlsOptions: spec.ca ? { ca: spec.ca } : {},
  });
  const seconds = result.duration > 0 ? result.duration : spec.durationSeconds;
  const completed = result["2xx"] + result.non2xx;
  return {
    requestsPerSecond: completed / seconds,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    total: completed,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    bytesPerResponse: completed > 0 ? result.throughput.total / completed : 0,
  };
}
