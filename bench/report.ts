import type { BenchConfig } from './config';
import type { LoadResult } from './load';

/** Turns measured runs into the summary, the ratios against their targets, and the markdown table. */

export type RouteId = 'get' | 'list' | 'hello' | 'create';

/**
 * The order routes are measured in within a round. create comes last so the reads of the first
 * round see the seeded table; later rounds read it with the rows earlier rounds created (every
 * variant of a round reads the same table, and created rows have the seeded rows' shape).
 */
export const ROUTES: RouteId[] = ['get', 'list', 'hello', 'create'];

export const ROUTE_LABELS: Record<RouteId, string> = {
  get: 'GET /documents/:id',
  list: 'GET /documents?limit=20',
  hello: 'GET /hello',
  create: 'POST /documents',
};

/** The variant every row is compared with, route by route: node:http + pg, the app's own one-round-trip batch. */
export const FLOOR_VARIANT = 'bare';

export interface VariantInfo {
  id: string;
  label: string;
  adapter: 'fastify' | 'express' | 'node:http';
  tenants: number;
  /** api: the built app; floor: the bare node:http + pg server; ceiling: a hello-world framework server. */
  kind?: 'api' | 'floor' | 'ceiling';
  /** Routes the variant serves. */
  routes: RouteId[];
  /** How requests authenticate; absent: a JWT (the floor and the ceilings check no credential). */
  credential?: 'api-key';
}

export interface MeasuredRun {
  variant: string;
  route: RouteId;
  round: number;
  load: LoadResult;
  rss: { maxMb: number; meanMb: number };
  /** CPU time per request of the API process and of PostgreSQL (all its processes; NaN when not visible). */
  cpu: { apiMsPerRequest: number; postgresMsPerRequest: number };
}

export interface VariantSummary {
  variant: string;
  route: RouteId;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  requestsPerSecondByRound: number[];
  p50ByRound: number[];
  p99ByRound: number[];
  rssMaxMb: number;
  /** Median CPU ms per request: API process, PostgreSQL, and their sum. */
  apiCpuMs: number;
  postgresCpuMs: number;
  cpuMsPerRequest: number;
  cpuMsByRound: number[];
  /** Median of the per-round req/s ratios to the floor (bare) on the same route; absent without a bare row. */
  requestsPerSecondVsFloor?: number;
  /** The same for p50 and p99 latency. */
  p50VsFloor?: number;
  p99VsFloor?: number;
  /** Median of the per-round ratios CPU ms per request (API + PostgreSQL) / the floor's. */
  cpuVsFloor?: number;
}

export interface Ratio {
  name: string;
  route: RouteId;
  /** What is divided by what. */
  definition: string;
  value: number;
  byRound: number[];
  target?: { op: '>=' | '<='; value: number };
  met?: boolean;
}

export interface Summary {
  rows: VariantSummary[];
  ratios: Ratio[];
  /** Largest RSS of any variant under load. */
  rssMaxMb: number;
  /** Largest RSS under load of the API as shipped (SHIPPED_API); absent when none of those ran. */
  apiRssMaxMb?: number;
  rssTargetMb: number;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  command: string;
  config: Omit<BenchConfig, 'databaseUrl'> & { databaseUrl?: string };
  machine: {
    nproc: number;
    cpuModel?: string;
    memoryGb: number;
    node: string;
    platform: string;
    gitCommit?: string;
    gitDirty: boolean;
    loadAverageBefore: number[];
    loadAverageAfter: number[];
  };
  postgres: { version: string; server: string };
  datasets: Array<{ tenants: number; documents: number; seedSeconds: number; tableMb: number; activeTenants: number }>;
  variants: VariantInfo[];
  runs: MeasuredRun[];
  idleRssMb: Record<string, number>;
  migrations: Array<{ tenants: number; documents: number; milliseconds: number }>;
  plans: Record<string, string[]>;
  summary: Summary;
}

/** Issue 10's targets, all at 16 connections, the ratios within one run. */
const TARGETS = {
  /** req/s of the API (JWT) over the floor's, by route. */
  vsFloor: { get: 0.6, list: 0.5, create: 0.5 } as Partial<Record<RouteId, number>>,
  /** The same with an API key. */
  vsFloorApiKey: { get: 0.6 } as Partial<Record<RouteId, number>>,
  costOfTenancy: 0.95,
  /** p50 at the largest dataset over p50 at the first. */
  flatness: 1.1,
  rssMb: 200,
};

/** The API as shipped (Fastify, the production repositories), whose memory the RSS target is about. */
const SHIPPED_API = (id: string) => id === 'scoped' || id === 'scoped-apikey' || id.startsWith('scoped@');

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function summarise(variants: VariantInfo[], runs: MeasuredRun[], config: BenchConfig): Summary {
  const rows: VariantSummary[] = [];
  for (const route of ROUTES) {
    for (const variant of variants) {
      const mine = runs.filter((run) => run.variant === variant.id && run.route === route).sort((a, b) => a.round - b.round);
      if (mine.length === 0) continue;
      rows.push({
        variant: variant.id,
        route,
        requestsPerSecond: median(mine.map((run) => run.load.requestsPerSecond)),
        p50: median(mine.map((run) => run.load.p50)),
        p99: median(mine.map((run) => run.load.p99)),
        requestsPerSecondByRound: mine.map((run) => run.load.requestsPerSecond),
        p50ByRound: mine.map((run) => run.load.p50),
        p99ByRound: mine.map((run) => run.load.p99),
        rssMaxMb: Math.max(...mine.map((run) => run.rss.maxMb)),
        apiCpuMs: median(mine.map((run) => run.cpu.apiMsPerRequest)),
        postgresCpuMs: median(mine.map((run) => run.cpu.postgresMsPerRequest)),
        cpuMsPerRequest: median(mine.map((run) => run.cpu.apiMsPerRequest + run.cpu.postgresMsPerRequest)),
        cpuMsByRound: mine.map((run) => run.cpu.apiMsPerRequest + run.cpu.postgresMsPerRequest),
      });
    }
  }

  const row = (variant: string, route: RouteId) => rows.find((r) => r.variant === variant && r.route === route);
  for (const r of rows) {
    const floor = row(FLOOR_VARIANT, r.route);
    if (!floor) continue;
    r.requestsPerSecondVsFloor = median(r.requestsPerSecondByRound.map((v, i) => v / floor.requestsPerSecondByRound[i]));
    r.p50VsFloor = median(r.p50ByRound.map((v, i) => v / floor.p50ByRound[i]));
    r.p99VsFloor = median(r.p99ByRound.map((v, i) => v / floor.p99ByRound[i]));
    if (Number.isFinite(r.cpuMsPerRequest) && Number.isFinite(floor.cpuMsPerRequest)) r.cpuVsFloor = median(r.cpuMsByRound.map((v, i) => v / floor.cpuMsByRound[i]));
  }
  const ratios: Ratio[] = [];
  const throughputRatio = (name: string, route: RouteId, top: string, bottom: string, target?: Ratio['target']) => {
    const a = row(top, route);
    const b = row(bottom, route);
    if (!a || !b) return;
    // Each round runs both within a minute of each other: the median of those paired ratios
    // resists a burst of outside load hitting one run better than a ratio of medians would.
    const byRound = a.requestsPerSecondByRound.map((v, i) => v / b.requestsPerSecondByRound[i]);
    const value = median(byRound);
    ratios.push({
      name,
      route,
      definition: `req/s ${top} / ${bottom}`,
      value,
      byRound,
      target,
      met: target ? (target.op === '>=' ? value >= target.value : value <= target.value) : undefined,
    });
  };
  /** Requests per CPU-second, top over bottom: what the throughput ratio would be on a machine left to the benchmark. */
  const cpuRatio = (name: string, route: RouteId, top: string, bottom: string) => {
    const a = row(top, route);
    const b = row(bottom, route);
    if (!a || !b || !Number.isFinite(a.cpuMsPerRequest) || !Number.isFinite(b.cpuMsPerRequest)) return;
    ratios.push({
      name,
      route,
      definition: `CPU per request ${bottom} / ${top} (API + PostgreSQL)`,
      value: median(a.cpuMsByRound.map((v, i) => b.cpuMsByRound[i] / v)),
      byRound: a.cpuMsByRound.map((v, i) => b.cpuMsByRound[i] / v),
    });
  };
  const atLeast = (value: number | undefined) => (value === undefined ? undefined : { op: '>=' as const, value });
  for (const route of ROUTES) {
    throughputRatio('vs the floor, JWT', route, 'scoped', FLOOR_VARIANT, atLeast(TARGETS.vsFloor[route]));
    cpuRatio('vs the floor, JWT, CPU-normalised', route, 'scoped', FLOOR_VARIANT);
    throughputRatio('vs the floor, API key', route, 'scoped-apikey', FLOOR_VARIANT, atLeast(TARGETS.vsFloorApiKey[route]));
    cpuRatio('vs the floor, API key, CPU-normalised', route, 'scoped-apikey', FLOOR_VARIANT);
    throughputRatio('API key vs JWT', route, 'scoped-apikey', 'scoped');
    throughputRatio('vs the floor, through PgBouncer', route, 'scoped-pgbouncer', FLOOR_VARIANT);
    throughputRatio('through PgBouncer vs direct (cost of the pooler)', route, 'scoped-pgbouncer', 'scoped');
    cpuRatio('through PgBouncer vs direct, CPU-normalised', route, 'scoped-pgbouncer', 'scoped');
    throughputRatio('Nest + Fastify vs plain Fastify (hello)', route, 'hello-nest', 'hello-fastify');
    throughputRatio('plain Fastify vs node:http (hello)', route, 'hello-fastify', FLOOR_VARIANT);
    throughputRatio('cost of tenancy', route, 'scoped', 'unscoped', atLeast(TARGETS.costOfTenancy));
    cpuRatio('cost of tenancy, CPU-normalised', route, 'scoped', 'unscoped');
    throughputRatio('vs best untenanted (prepared)', route, 'scoped', 'unscoped-prepared');
    throughputRatio('vs request-scoped design', route, 'scoped', 'request-scoped', { op: '>=', value: 1.5 });
    cpuRatio('vs request-scoped design, CPU-normalised', route, 'scoped', 'request-scoped');
    throughputRatio('Fastify vs Express (scoped)', route, 'scoped', 'scoped-express');
    cpuRatio('Fastify vs Express (scoped), CPU-normalised', route, 'scoped', 'scoped-express');
    for (const tenants of config.tenants.slice(1)) {
      const big = row(`scoped@${tenants}`, route);
      const small = row('scoped', route);
      if (!big || !small) continue;
      const byRound = big.p50ByRound.map((v, i) => v / small.p50ByRound[i]);
      const value = median(byRound);
      const target = { op: '<=' as const, value: TARGETS.flatness };
      ratios.push({
        name: 'flat with tenant count',
        route,
        definition: `p50 at ${tenants} tenants / p50 at ${config.tenants[0]} tenants (scoped)`,
        value,
        byRound,
        target,
        met: value <= target.value,
      });
    }
  }
  const rssMaxMb = Math.max(...rows.map((r) => r.rssMaxMb));
  const shipped = rows.filter((r) => SHIPPED_API(r.variant));
  const apiRssMaxMb = shipped.length > 0 ? Math.max(...shipped.map((r) => r.rssMaxMb)) : undefined;
  return { rows, ratios, rssMaxMb, apiRssMaxMb, rssTargetMb: TARGETS.rssMb };
}

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '-');
const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : '-');

export function renderMarkdown(report: BenchReport): string {
  const { machine, config, summary } = report;
  const label = (id: string) => report.variants.find((v) => v.id === id)?.label ?? id;
  const lines: string[] = [];
  lines.push(`### Benchmark ${report.startedAt.slice(0, 16).replace('T', ' ')} UTC`, '');
  lines.push(
    `Machine: ${machine.nproc} cores (${machine.cpuModel ?? 'unknown CPU'}), ${machine.memoryGb} GB, ${machine.platform}, Node ${machine.node}; ` +
      `PostgreSQL ${report.postgres.version} on ${report.postgres.server}, same machine. ` +
      `Load average (1/5/15 min) before ${machine.loadAverageBefore.map(f2).join('/')}, after ${machine.loadAverageAfter.map(f2).join('/')}. ` +
      `Commit ${machine.gitCommit ?? '?'}${machine.gitDirty ? ' (uncommitted changes)' : ''}.`,
    '',
  );
  lines.push(
    `Datasets: ${report.datasets.map((d) => `${d.tenants.toLocaleString('en-US')} tenants x ${config.docsPerTenant} documents (${d.documents.toLocaleString('en-US')} rows, ${f0(d.tableMb)} MB, seeded in ${d.seedSeconds.toFixed(1)} s; traffic spread over ${d.activeTenants} tenants)`).join('; ')}. ` +
      `autocannon, ${config.connections} connections, ${config.durationSeconds} s per variant and route, ${config.rounds} rounds (order rotated each round), ${config.warmupSeconds} s warm-up each; pool of ${config.poolSize} per variant.`,
    '',
  );
  lines.push(`Command: \`${report.command}\``, '');
  if (config.profileDir) lines.push(`Servers ran under the CPU profiler (--profile ${config.profileDir}): absolute figures are lower than without it.`, '');

  const ratioCell = (value: number | undefined) => (value === undefined ? '-' : `${f2(value)}x`);
  const targetCell = (target: Ratio['target']) => (target ? `${target.op} ${target.value}` : '-');
  const metCell = (met: boolean | undefined) => (met === undefined ? '-' : met ? 'yes' : 'no');
  const targeted = summary.ratios.filter((r) => r.target);
  if (targeted.length > 0 || summary.apiRssMaxMb !== undefined) {
    lines.push('| goal | route | value | by round | target | met |', '|---|---|---:|---|---|---|');
    for (const r of targeted) {
      lines.push(`| ${r.name} (${r.definition}) | ${ROUTE_LABELS[r.route]} | ${f2(r.value)} | ${r.byRound.map(f2).join(', ')} | ${targetCell(r.target)} | ${metCell(r.met)} |`);
    }
    if (summary.apiRssMaxMb !== undefined) {
      const shipped = report.variants.filter((v) => SHIPPED_API(v.id)).map((v) => v.id);
      lines.push(
        `| API RSS under load, max (the API as shipped: ${shipped.join(', ')}) | all | ${f0(summary.apiRssMaxMb)} MB | - | < ${summary.rssTargetMb} MB | ${metCell(summary.apiRssMaxMb < summary.rssTargetMb)} |`,
      );
    }
    lines.push('');
  }

  lines.push(
    '| route | variant | req/s | p50 ms | p99 ms | req/s by round | CPU ms/req (API + PG) | API RSS max MB | req/s vs bare | p50 vs bare | p99 vs bare | CPU/req vs bare |',
    '|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of summary.rows) {
    lines.push(
      `| ${ROUTE_LABELS[r.route]} | ${label(r.variant)} | ${f0(r.requestsPerSecond)} | ${f2(r.p50)} | ${f2(r.p99)} | ${r.requestsPerSecondByRound.map(f0).join(', ')} | ` +
        `${f3(r.cpuMsPerRequest)} (${f3(r.apiCpuMs)} + ${f3(r.postgresCpuMs)}) | ${f0(r.rssMaxMb)} | ` +
        `${ratioCell(r.requestsPerSecondVsFloor)} | ${ratioCell(r.p50VsFloor)} | ${ratioCell(r.p99VsFloor)} | ${ratioCell(r.cpuVsFloor)} |`,
    );
  }
  const notes: string[] = [];
  if (report.variants.some((v) => v.id === FLOOR_VARIANT)) {
    notes.push(
      `"vs bare": median of the per-round ratios to the bare server (${label(FLOOR_VARIANT)}) on the same route (for latency and CPU, lower is better); ` +
        'on GET /hello the rows are framework ceilings (no database, no auth): node:http, plain Fastify, Nest on Fastify.',
    );
  }
  if (summary.rows.some((r) => r.route === 'create')) {
    notes.push(
      'POST /documents runs last in every round: from the second round on, the reads see the rows earlier rounds created ' +
        '(the same table for every variant reading documents; created rows have the seeded rows\' size and shape, so list pages weigh the same; ' +
        'the unscoped baseline reads its copy of the seeded rows).',
    );
  }
  if (notes.length > 0) lines.push('', ...notes);

  lines.push('', '| ratio (median of the per-round ratios) | route | value | by round | target | met |', '|---|---|---:|---|---|---|');
  for (const r of summary.ratios) {
    lines.push(`| ${r.name} (${r.definition}) | ${ROUTE_LABELS[r.route]} | ${f2(r.value)} | ${r.byRound.map(f2).join(', ')} | ${targetCell(r.target)} | ${metCell(r.met)} |`);
  }
  const largest = summary.rows.reduce((a, b) => (b.rssMaxMb > a.rssMaxMb ? b : a));
  lines.push(
    '',
    'Resident memory (RSS) under load: ' +
      (summary.apiRssMaxMb === undefined
        ? ''
        : `the API as shipped (scoped, Fastify) peaked at ${f0(summary.apiRssMaxMb)} MB ` +
          `(target < ${summary.rssTargetMb} MB: ${summary.apiRssMaxMb < summary.rssTargetMb ? 'met' : 'not met'}); `) +
      `the largest of any variant was ${f0(largest.rssMaxMb)} MB (${label(largest.variant)}). ` +
      `Idle after start: ${Object.entries(report.idleRssMb).map(([name, mb]) => `${name} ${f0(mb)} MB`).join(', ')}.`,
    '',
  );
  lines.push('| schema change (one migration run: add column + index on documents) | documents | time |', '|---|---:|---:|');
  for (const m of report.migrations) lines.push(`| ${m.tenants.toLocaleString('en-US')} tenants | ${m.documents.toLocaleString('en-US')} | ${f0(m.milliseconds)} ms |`);
  lines.push('');
  return lines.join('\n');
}
