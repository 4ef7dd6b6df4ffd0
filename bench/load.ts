/**
 * The load generator, in its own process (forked by run.ts for each measured
 * run): autocannon against one URL, each request picking a (path, headers,
 * body) target at random from the list it was given. With `overallRate`, a
 * paced sender instead (see runPaced): autocannon's rate limit sends each
 * second's quota in a burst at the start of the second, so two rate-limited
 * senders collide in bursts instead of sending side by side.
 *
 * Latency percentiles are computed here from every 2xx response time
 * (autocannon's own histogram rounds to whole milliseconds, too coarse for
 * ratios of a few-millisecond p50).
 */

import http from 'node:http';

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
  /**
   * Requests per second across all connections, evenly spaced (an open-loop
   * sender: it does not slow down when the server does); absent: as fast as
   * answers come (autocannon).
   */
  overallRate?: number;
  /**
   * The paced sender only: it sends only while a phase is on. Phases of `phaseMs` follow one
   * another from `startEpochMs` (wall clock, shared by the generators of one run), alternately
   * on and off (`firstOn`: whether the first one is on). Requests due in an off phase are not sent.
   */
  phases?: Phases;
  /** Seconds before a request counts as timed out (autocannon's default: 10); a slow search needs more. */
  timeoutSeconds?: number;
}

export interface Phases {
  startEpochMs: number;
  phaseMs: number;
  firstOn: boolean;
}

/** Whether the phase at wall-clock time `epochMs` is on (off before the first phase). */
export function phaseIsOn(phases: Phases, epochMs: number): boolean {
  if (epochMs < phases.startEpochMs) return false;
  const index = Math.floor((epochMs - phases.startEpochMs) / phases.phaseMs);
  return (index % 2 === 0) === phases.firstOn;
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
  /**
   * The paced sender only. Every 2xx latency from its due time (the percentiles above), so runs
   * can be pooled (bench:noisy); the same requests timed from when the sender handed them to
   * http (`fromSend`: the sender's own lateness left out, the wait for a busy socket kept); and
   * that lateness itself (how late this process's timer sent them: its CPU, not the server).
   */
  paced?: {
    samples: number[];
    /** When each of `samples` was due, wall clock (ms since the epoch): which phase of a neighbour's on/off flood it fell in. */
    dueEpochMs: number[];
    fromSend: { p50: number; p99: number };
    lateness: { p99: number; max: number };
  };
}

/**
 * A `{type: 'stop'}` message ends the run early (bench:move runs the load until a move completes):
 * the paced sender sends nothing more and waits for what is outstanding; autocannon stops. The
 * result then covers the time actually run.
 */
export interface LoadStop {
  type: 'stop';
}

let stopRun: (() => void) | undefined;
let stopAsked = false;

/** Called once the run can be stopped: at once if a stop came first. */
function onStop(stop: () => void): void {
  stopRun = stop;
  if (stopAsked) stop();
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

/** The p-th percentile (nearest rank, the generator's own) of values in any order (bench:noisy pools runs with it); NaN when empty. */
export function percentileOf(values: number[], p: number): number {
  return percentile(Float64Array.from(values).sort(), p);
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

/** Response times, grown as needed, and the percentiles of the result. */
class Latencies {
  private times = new Float64Array(1 << 16);
  private count = 0;

  add(ms: number): void {
    if (this.count === this.times.length) {
      const grown = new Float64Array(this.times.length * 2);
      grown.set(this.times);
      this.times = grown;
    }
    this.times[this.count++] = ms;
  }

  values(): number[] {
    return Array.from(this.times.subarray(0, this.count));
  }

  summary(): Pick<LoadResult, 'p50' | 'p90' | 'p99' | 'mean'> {
    // A sorted copy: values() keeps the order they came in (bench:noisy pairs them with their due times).
    const sorted = this.times.slice(0, this.count).sort();
    let sum = 0;
    for (const value of sorted) sum += value;
    return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), mean: this.count ? sum / this.count : NaN };
  }
}

/**
 * Request i is due at start + i / overallRate and sent then, whatever is still
 * outstanding, on up to `connections` keep-alive sockets (more waiting in the
 * agent's queue). Its latency runs from when it was due, not from when a socket
 * took it, so a slow server is not hidden by the sender waiting for it
 * (coordinated omission).
 */
async function runPaced(request: LoadRequest & { overallRate: number }): Promise<LoadResult> {
  const next = random(request.seed);
  const agent = new http.Agent({ keepAlive: true, maxSockets: request.connections });
  const latencies = new Latencies();
  const dueEpochMs: number[] = [];
  const fromSend = new Latencies();
  const lateness = new Latencies();
  const statusCodes: Record<string, number> = {};
  let errors = 0;
  let sent = 0;
  let outstanding = 0;
  const intervalMs = 1000 / request.overallRate;
  const start = performance.now();
  let end = start + request.durationSeconds * 1000;
  onStop(() => (end = Math.min(end, performance.now())));
  let allSent!: () => void;
  const drained = new Promise<void>((resolve) => (allSent = resolve));
  let sending = true;
  const settle = () => {
    outstanding--;
    if (!sending && outstanding === 0) allSent();
  };
  const send = (dueAt: number) => {
    const target = request.targets[Math.floor(next() * request.targets.length)];
    const body = target.json;
    outstanding++;
    const sentAt = performance.now();
    lateness.add(sentAt - dueAt);
    const req = http.request(
      new URL(target.path, request.url),
      { method: body === undefined ? 'GET' : 'POST', agent, headers: { ...target.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) } },
      (res) => {
        res.resume();
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          statusCodes[code] = (statusCodes[code] ?? 0) + 1;
          if (code >= 200 && code < 300) {
            const now = performance.now();
            latencies.add(now - dueAt);
            dueEpochMs.push(performance.timeOrigin + dueAt);
            fromSend.add(now - sentAt);
          }
          settle();
        });
      },
    );
    req.on('error', () => {
      errors++;
      settle();
    });
    req.end(body);
  };
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      // Every request due by now (a late timer sends the ones it missed at once, as due).
      while (start + sent * intervalMs <= Math.min(now, end)) {
        const dueAt = start + sent++ * intervalMs;
        if (!request.phases || phaseIsOn(request.phases, performance.timeOrigin + dueAt)) send(dueAt);
      }
      if (now >= end) return resolve();
      setTimeout(tick, Math.max(0, start + sent * intervalMs - performance.now()));
    };
    tick();
  });
  sending = false;
  if (outstanding > 0) await drained;
  agent.destroy();
  const total = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  const non2xx = Object.entries(statusCodes).reduce((n, [code, count]) => (Number(code) >= 200 && Number(code) < 300 ? n : n + count), 0);
  // The sending time: the duration asked, or less when stopped early.
  const durationSeconds = (end - start) / 1000;
  const sentToAnswered = fromSend.summary();
  return {
    type: 'result',
    requestsPerSecond: total / durationSeconds,
    totalRequests: total,
    durationSeconds,
    ...latencies.summary(),
    errors,
    timeouts: 0,
    non2xx,
    statusCodes,
    paced: {
      samples: latencies.values(),
      dueEpochMs,
      fromSend: { p50: sentToAnswered.p50, p99: sentToAnswered.p99 },
      lateness: { p99: lateness.summary().p99, max: lateness.values().reduce((a, b) => Math.max(a, b), 0) },
    },
  };
}

async function run(request: LoadRequest): Promise<LoadResult> {
  if (request.overallRate) return runPaced({ ...request, overallRate: request.overallRate });
  const next = random(request.seed);
  const latencies = new Latencies();
  const instance = autocannon({
    url: request.url,
    connections: request.connections,
    duration: request.durationSeconds,
    timeout: request.timeoutSeconds ?? 10,
    pipelining: 1,
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
  onStop(() => instance.stop());
  instance.on('response', (_client, statusCode, _bytes, responseTime) => {
    if (statusCode >= 200 && statusCode < 300) latencies.add(responseTime);
  });
  const result = await instance;
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = Number(stat.count);
  return {
    type: 'result',
    requestsPerSecond: result.requests.total / result.duration,
    totalRequests: result.requests.total,
    durationSeconds: result.duration,
    ...latencies.summary(),
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statusCodes,
  };
}

process.on('message', (message: LoadRequest | LoadStop) => {
  if (message?.type !== 'stop') return;
  stopAsked = true;
  stopRun?.();
});

process.once('message', (message: LoadRequest) => {
  run(message)
    .then((result) => process.send?.(result, () => process.exit(0)))
    .catch((error) => {
      process.stderr.write(`load generator failed: ${error?.stack ?? error}\n`);
      process.exit(1);
    });
});
