import { checkResponse, CheckContext } from './checks';
import { runBounded, WireClient, WireRequest, WireResponse } from './client';
import { FuzzWorld, generate, ValidBase } from './generator';
import { Rng } from '../prng';
import { AppRoute, routeKey } from '../app-routes';

export interface FuzzFailure {
  key: string;
  /** The request cut down (headers, query, body dropped one at a time) while it still fails the same way. */
  minimal?: WireRequest;
  route: string;
  status: number;
  reason: string;
  count: number;
  index: number;
  mutations: string[];
  request: WireRequest;
  response: WireResponse;
}

export interface FuzzRunReport {
  seed: number;
  requests: number;
  ms: number;
  /** Distinct (route, status, reason), in order of first appearance. */
  failures: FuzzFailure[];
  /** Status counts by route. */
  statuses: Map<string, Map<number, number>>;
  /** Time spent by mutation (and by route), to keep the run fast: count and total ms. */
  timings: Map<string, { count: number; ms: number }>;
}

export interface FuzzRunOptions {
  seed: number;
  requests: number;
  concurrency: number;
  routes: AppRoute[];
  /** Relative frequency of a route (default 1). */
  weight?: (route: AppRoute) => number;
  world: FuzzWorld;
  base: (route: AppRoute, rng: Rng, index: number) => ValidBase;
  context: (route: AppRoute) => CheckContext;
  /** Only these request indexes (replaying one failure). */
  only?: number[];
}

/** The generator of request `index` of a run: independent of the others, so a failure replays alone (FUZZ_ONLY). */
export function requestRng(seed: number, index: number): Rng {
  const rng = new Rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  rng.next();
  return rng;
}

export async function runFuzz(options: FuzzRunOptions): Promise<FuzzRunReport> {
  const { seed, routes, world } = options;
  const weights = routes.map((route) => [options.weight?.(route) ?? 1, route] as const);
  const client = new WireClient(world.baseUrl, options.concurrency);
  const failures = new Map<string, FuzzFailure>();
  const statuses = new Map<string, Map<number, number>>();
  const timings = new Map<string, { count: number; ms: number }>();
  const time = (label: string, ms: number) => {
    const entry = timings.get(label) ?? { count: 0, ms: 0 };
    entry.count++;
    entry.ms += ms;
    timings.set(label, entry);
  };
  const indexes = options.only ?? Array.from({ length: options.requests }, (_, i) => i);
  const started = Date.now();
  try {
    await runBounded(indexes.length, options.concurrency, async (n) => {
      const index = indexes[n];
      const rng = requestRng(seed, index);
      const route = rng.weighted(weights);
      const generated = generate(route, options.base(route, rng, index), rng, world);
      const response = await client.send(generated.wire);
      const key = routeKey(route);
      time(`route ${key}`, response.ms);
      for (const mutation of generated.mutations.length ? generated.mutations : ['(valid)']) time(mutation.replace(/[=:(].*$/, '').trim(), response.ms);
      const byStatus = statuses.get(key) ?? new Map<number, number>();
      byStatus.set(response.status, (byStatus.get(response.status) ?? 0) + 1);
      statuses.set(key, byStatus);
      for (const reason of checkResponse(generated.wire, response, options.context(route))) {
        const failureKey = `${key} ${response.status} ${reason}`;
        const seen = failures.get(failureKey);
        if (seen) seen.count++;
        else failures.set(failureKey, { key: failureKey, route: key, status: response.status, reason, count: 1, index, mutations: generated.mutations, request: generated.wire, response });
      }
    });
  } finally {
    client.close();
  }
  return { seed, requests: indexes.length, ms: Date.now() - started, failures: [...failures.values()], statuses, timings };
}

function excerpt(text: string, max: number): string {
  const clean = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return clean.length > max ? `${clean.slice(0, max)}… (${text.length} chars)` : clean;
}

/** One failure, as a reader needs it to reproduce: the request line, headers, body excerpt, what came back. */
export function describeFailure(failure: FuzzFailure): string {
  const { response } = failure;
  const request = failure.minimal ?? failure.request;
  const headers = request.headers.map(([name, value]) => `    ${name}: ${excerpt(value, 120)}`).join('\n');
  const body = request.body === undefined ? '(none)' : `${excerpt(request.body.toString('utf8'), 200)} [${request.body.length} bytes${request.chunked ? ', chunked' : ''}]`;
  return [
    `${failure.route} -> ${failure.status}: ${failure.reason} (x${failure.count}; request #${failure.index})`,
    `  mutations: ${failure.mutations.join('; ') || '(none: a valid request)'}${failure.minimal ? ' (request below: shrunk to what still fails)' : ''}`,
    `  ${request.method} ${excerpt(request.path, 200)}`,
    headers,
    `  body: ${body}`,
    `  answer: ${response.status}${response.error ? ` (${response.error})` : ''} content-type=${response.headers['content-type'] ?? '-'} ${excerpt(response.body.toString('utf8'), 300)}`,
  ].join('\n');
}

/**
 * Greedy shrinking at the wire level: drops each header, the query string and
 * the body in turn, keeping a drop when the answer still has the same status
 * and the same reason. Only removes, so it never sends anything more hostile
 * than the original (a DELETE keeps its guarded ids).
 */
export async function shrink(client: WireClient, failure: FuzzFailure, context: CheckContext, budget = 24): Promise<WireRequest> {
  let current = failure.request;
  const stillFails = async (candidate: WireRequest) => {
    if (budget-- <= 0) return false;
    const response = await client.send(candidate);
    return response.status === failure.status && checkResponse(candidate, response, context).includes(failure.reason);
  };
  // Framing headers go with the body, never alone (a Content-Length without its body would hang the socket).
  const framing = (name: string) => ['content-length', 'transfer-encoding'].includes(name.toLowerCase());
  const candidates = (request: WireRequest): WireRequest[] => [
    ...(request.body !== undefined ? [{ ...request, body: undefined, chunked: false, headers: request.headers.filter(([name]) => !framing(name)) }] : []),
    ...(request.path.includes('?') ? [{ ...request, path: request.path.slice(0, request.path.indexOf('?')) }] : []),
    ...request.headers.flatMap(([name], i) => (framing(name) ? [] : [{ ...request, headers: request.headers.filter((__, j) => j !== i) }])),
  ];
  for (let changed = true; changed && budget > 0; ) {
    changed = false;
    for (const candidate of candidates(current)) {
      if (await stillFails(candidate)) {
        current = candidate;
        changed = true;
        break;
      }
    }
  }
  return current;
}

/** What answered: the envelope's code, or the start of a foreign body (Fastify's own, say). */
export function answerSignature(response: WireResponse): string {
  const text = response.body.toString('utf8');
  try {
    const body = JSON.parse(text) as { error?: unknown; code?: unknown; message?: unknown };
    if (body && typeof body.error === 'object' && body.error && typeof (body.error as { code?: unknown }).code === 'string') return (body.error as { code: string }).code;
    if (typeof body.code === 'string') return body.code;
    return excerpt(JSON.stringify(body), 70);
  } catch {
    return response.error ? response.error.split(':')[0] : excerpt(text, 40) || '(empty body)';
  }
}

/** The failures grouped across routes: one line per (status, reason, what answered), with the routes it hit. */
export function failureClasses(report: FuzzRunReport): string[] {
  const classes = new Map<string, { count: number; routes: Set<string>; example: number }>();
  for (const failure of report.failures) {
    const key = `${failure.status} ${failure.reason} [${answerSignature(failure.response)}]`;
    const entry = classes.get(key) ?? { count: 0, routes: new Set<string>(), example: failure.index };
    entry.count += failure.count;
    entry.routes.add(failure.route);
    classes.set(key, entry);
  }
  return [...classes].sort(([, a], [, b]) => b.count - a.count).map(([key, { count, routes, example }]) => `${key}: x${count} on ${routes.size} route(s), e.g. request #${example}`);
}

export function describeReport(report: FuzzRunReport, limit = 20): string {
  const lines = [
    `fuzz: seed ${report.seed} (replay: FUZZ_SEED=${report.seed} FUZZ_REQUESTS=${report.requests}), ${report.requests} requests in ${report.ms} ms, ${report.failures.length} distinct failure(s)`,
  ];
  if (report.failures.length) lines.push('by kind:', ...failureClasses(report).map((line) => `  ${line}`));
  for (const failure of report.failures.slice(0, limit)) lines.push('', describeFailure(failure));
  if (report.failures.length > limit) {
    lines.push('', `... and ${report.failures.length - limit} more distinct failure(s):`);
    for (const failure of report.failures.slice(limit)) lines.push(`  ${failure.key} (x${failure.count}, request #${failure.index})`);
  }
  return lines.join('\n');
}
