/**
 * The load generator, in its own process (forked by run.ts for each measured
 * run): autocannon against one URL, each request picking a (path, headers,
 * body) target at random from the list it was given.
 *
 * Latency percentiles are computed here from every 2xx response time
 * (autocannon's own histogram rounds to whole milliseconds, too coarse for
 * ratios of a few-millisecond p50).
 */

// autocannon ships no types; this is the part used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon: (options: Record<string, unknown>) => AutocannonInstance = require('autocannon');

interface AutocannonInstance extends PromiseLike<AutocannonResult> {
  on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTime: number) => void): void;
  stop(): void;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats?: Record<string, { count: number }>;
}

export interface LoadTarget {
  path: string;
  headers: Record<string, string>;
  /** A JSON body, sent as a POST; absent: a GET. */
  json?: string;
}

export interface LoadRequest {
  type: 'run';
  url: string;
  targets: LoadTarget[];
  connections: number;
  durationSeconds: number;
  seed: number;
  /** Requests per second across all connections (an open-loop sender at a fixed rate); absent: as fast as answers come. */
  overallRate?: number;
}

export interface LoadResult {
  type: 'result';
  requestsPerSecond: number;
  totalRequests: number;
  durationSeconds: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
}

/** Small seeded PRNG (mulberry32): every variant draws the same target sequence. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

async function run(request: LoadRequest): Promise<LoadResult> {
  const next = random(request.seed);
  let times = new Float64Array(1 << 16);
  let count = 0;
  const instance = autocannon({
    url: request.url,
    connections: request.connections,
    duration: request.durationSeconds,
    pipelining: 1,
    ...(request.overallRate ? { overallRate: request.overallRate } : {}),
    requests: [
      {
        method: 'GET',
        setupRequest: (req: { method: string; path: string; headers: Record<string, string>; body?: string }) => {
          const target = request.targets[Math.floor(next() * request.targets.length)];
          req.path = target.path;
          req.headers = { ...req.headers, ...target.headers };
          if (target.json !== undefined) {
            req.method = 'POST';
            req.headers['content-type'] = 'application/json';
            req.body = target.json;
          }
          return req;
        },
      },
    ],
  });
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode < 200 || statusCode >= 300) return;
    if (count === times.length) {
      const grown = new Float64Array(times.length * 2);
      grown.set(times);
      times = grown;
    }
    times[count++] = responseTime;
  });
  const result = await instance;
  const sorted = times.subarray(0, count).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = Number(stat.count);
  return {
    type: 'result',
    requestsPerSecond: result.requests.total / result.duration,
    totalRequests: result.requests.total,
    durationSeconds: result.duration,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    mean: count ? sum / count : NaN,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
  };
}

process.once('message', (message: LoadRequest) => {
  run(message)
    .then((result) => process.send?.(result, () => process.exit(0)))
    .catch((error) => {
      process.stderr.write(`load generator failed: ${error?.stack ?? error}\n`);
      process.exit(1);
    });
});
