import { CommanderError } from 'commander';
import { exitCodeOf } from './command-line';
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BenchConfig, defaults, parseBenchConfig, UsageError } from './config';
import { APP_ROLE } from '../src/database/schema/roles';
import { findPgBouncer, startPgBouncer } from '../src/runtime/pgbouncer';
import { createApiKeys, obtainCredentials } from './credentials';
import type { LoadResult, LoadTarget } from './load';
import { BENCH_ROLE_PASSWORDS, BenchDatabase, createBenchDatabase, startServer, withClient } from './postgres';
import { findProfile, nowMicros, summariseProfile, Window } from './profile';
import { ApiServer, childPids, cpuMeter, rssMb, runLoad, sampleRss, startApiServer } from './processes';
import { BenchReport, MeasuredRun, renderMarkdown, RouteId, ROUTES, summarise } from './report';
import { sampleTraffic, seedDataset, TrafficSample } from './seed';
import { planVariants, selectVariants, VariantPlan } from './variants';

/**
 * `npm run bench`: builds datasets on a real PostgreSQL, starts the built API in
 * separate processes, drives every variant over HTTP with autocannon from yet
 * another process, alternating variants within each round, and writes JSON and
 * a markdown table to bench/results/. See README "Benchmarks".
 */

interface Dataset {
  tenants: number;
  db: BenchDatabase;
  traffic: TrafficSample;
  seed: { seconds: number; documents: number; tableBytes: number };
  /** tenant id -> headers proving who we are: x-tenant-id and a member's bearer token (just x-tenant-id when no API runs on it). */
  headers: Map<string, Record<string, string>>;
  /** The same with an API key instead of the token, when an API-key variant runs on the dataset. */
  apiKeyHeaders?: Map<string, Record<string, string>>;
}

interface Variant extends Omit<VariantPlan, 'dataset'> {
  server: ApiServer;
  dataset: Dataset;
}

const servesRoute = (route: RouteId) => (variant: Variant) => variant.routes.includes(route);

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

async function main(): Promise<void> {
  const benchDir = path.resolve(__dirname, '..');
  const argv = process.argv.slice(2);
  const resultsDir = path.join(benchDir, 'results');
  let config: BenchConfig;
  try {
    config = parseBenchConfig(argv, process.env, resultsDir, planVariants(defaults(resultsDir)).map((variant) => variant.id));
  } catch (error) {
    // --help (printed, exit 0) or a refused command line (printed, exit 2): nothing has started.
    if (!(error instanceof CommanderError)) throw error;
    process.exitCode = exitCodeOf(error);
    return;
  }
  // Checked before anything starts, so a misspelt id costs nothing.
  const selection = selectVariants(planVariants(config), config);
  for (const note of selection.notes) log(note);
  // The pooler variant needs a pgbouncer binary: left out with a note unless asked for by name.
  if (selection.variants.some((variant) => variant.pooler) && !findPgBouncer()) {
    if (config.variants?.some((id) => selection.variants.some((variant) => variant.id === id && variant.pooler))) {
      throw new UsageError('--variants names a PgBouncer variant, but pgbouncer is not installed (e.g. apt-get install pgbouncer)');
    }
    selection.variants = selection.variants.filter((variant) => !variant.pooler);
    log('left out scoped-pgbouncer: pgbouncer is not installed (e.g. apt-get install pgbouncer)');
  }
  log(`config ${JSON.stringify({ ...config, databaseUrl: config.databaseUrl ? '(set)' : undefined })}`);
  const cleanup: Array<() => Promise<void>> = [];
  let interrupted = false;
  const onSignal = (signal: string) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: cleaning up`);
    void runCleanup(cleanup).finally(() => process.exit(130));
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));

  const startedAt = new Date();
  const loadBefore = os.loadavg();
  try {
    const server = await startServer(config.databaseUrl);
    cleanup.push(() => server.stop());
    log(`PostgreSQL: ${server.description}`);
    const postgresVersion = await withClient(server.superuserUrl, async (c) => (await c.query('show server_version')).rows[0].server_version);

    // Only the datasets a selected variant serves (config.tenants index -> dataset).
    const datasets = new Map<number, Dataset>();
    for (const [index, tenants] of config.tenants.entries()) {
      if (!selection.variants.some((variant) => variant.dataset === index)) continue;
      const db = await createBenchDatabase(server.superuserUrl, `t${tenants}`);
      cleanup.push(() => db.drop());
      const seed = await seedDataset(db.superuserUrl, { tenants, docsPerTenant: config.docsPerTenant, label: `seed ${tenants} tenants` });
      log(`seeded ${seed.tenants} tenants, ${seed.documents} documents in ${seed.seconds.toFixed(1)} s`);
      await createUntenantedCopy(db);
      const traffic = await sampleTraffic(db.superuserUrl, config.activeTenants);
      datasets.set(index, { tenants, db, traffic, seed, headers: new Map() });
    }

    const tmp = mkdtempSync(path.join(os.tmpdir(), 'tenancy-bench-data-'));
    cleanup.push(async () => rmSync(tmp, { recursive: true, force: true }));
    const adminKey = `bench_${randomBytes(24).toString('base64url')}`;
    const jwtSecret = randomBytes(32).toString('base64url');
    // The pooler variant: a transaction-mode PgBouncer with as many server connections per database
    // as the API's own pool (so it measures the pooler's cost, not a smaller pool).
    const pgbouncer = selection.variants.some((variant) => variant.pooler === 'pgbouncer')
      ? await startPgBouncer({ postgresUrl: server.superuserUrl, users: [{ name: APP_ROLE, password: BENCH_ROLE_PASSWORDS.app }], poolSize: config.poolSize, label: 'bench' })
      : undefined;
    if (pgbouncer) {
      cleanup.push(() => pgbouncer.stop());
      log(`PgBouncer (transaction mode) on port ${pgbouncer.port}`);
    }
    const throughPooler = (url: string): string => {
      const pooled = new URL(url);
      pooled.hostname = '127.0.0.1';
      pooled.port = String(pgbouncer!.port);
      return pooled.toString();
    };
    // The database side of a variant's CPU: PostgreSQL's processes, and PgBouncer's for the pooler variant.
    const databasePids = (variant: Variant): (() => number[]) | undefined => {
      const postgres = server.processIds;
      if (!postgres || !variant.pooler || !pgbouncer) return postgres;
      return () => [...postgres(), ...childPids(pgbouncer.watcherPid)];
    };
    const envFor = (dataset: Dataset, adapter: VariantPlan['adapter'], pooler?: VariantPlan['pooler']): Record<string, string> => ({
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmp,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      HTTP_ADAPTER: adapter === 'express' ? 'express' : 'fastify',
      DATABASE_URL: dataset.db.appUrl,
      BENCH_UNSCOPED_DATABASE_URL: dataset.db.superuserUrl,
      DB_POOL_SIZE: String(config.poolSize),
      ADMIN_API_KEY: adminKey,
      // One secret for every server, so a tenant's token works on the Fastify and the Express one.
      JWT_SECRET: jwtSecret,
      ACCESS_TOKEN_TTL_SECONDS: '86400',
      DATA_DIR: tmp,
      // Held constant for all variants: every tenant of the sample stays resolved in memory
      // during a run (the default 5 s would add a lookup every 5 s per tenant to every variant).
      TENANT_CACHE_TTL_MS: '60000',
      ...(pooler === 'pgbouncer' ? { DATABASE_URL: throughPooler(dataset.db.appUrl), DB_POOLER: 'transaction' } : {}),
    });

    // One API process per variant: no variant inherits another's heap, garbage or JIT state,
    // and each process's memory is its own. Idle processes wait while another is measured.
    const variants: Variant[] = [];
    const servers: ApiServer[] = [];
    for (const { dataset: index, ...plan } of selection.variants) {
      const dataset = datasets.get(index)!;
      const execArgv = [...config.nodeArgs];
      if (config.profileDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${path.join(config.profileDir, plan.id)}`);
      const api = await startApiServer(`api-${plan.id}`, envFor(dataset, plan.adapter, plan.pooler), {
        script: plan.script,
        execArgv,
        // Writing a profile of a whole run takes a while; killing the process would lose it.
        stopTimeoutMs: config.profileDir ? 120_000 : undefined,
      });
      servers.push(api);
      cleanup.push(() => api.stop());
      variants.push({ ...plan, server: api, dataset });
    }

    for (const dataset of datasets.values()) {
      const mine = variants.filter((v) => v.dataset === dataset);
      const traffic = dataset.traffic.tenants;
      // Sign-in goes through the real API (the bare and hello servers check no credential, and have no /auth/login).
      const api = mine.find((v) => v.kind === 'api');
      dataset.headers = api
        ? await obtainCredentials(api.server.url, dataset.db.superuserUrl, traffic)
        : new Map(traffic.map((tenant) => [tenant.id, { 'x-tenant-id': tenant.id }]));
      if (mine.some((v) => v.credential === 'api-key')) dataset.apiKeyHeaders = await createApiKeys(dataset.db.superuserUrl, traffic);
    }
    for (const variant of variants) await preflight(variant);
    log('preflight passed: every variant answers with the expected shapes; scoped variants refuse another tenant\'s document');
    const plans = await explainHotQueries(datasets.get(0)!);

    const idleRss = Object.fromEntries(servers.map((s) => [s.name, rssMb(s.pid) ?? NaN]));
    const routes = config.routes;
    const totalRuns = routes.reduce((sum, route) => sum + variants.filter(servesRoute(route)).length, 0) * (config.rounds + 1);
    let done = 0;
    const progress = () => `${++done}/${totalRuns}`;

    for (const route of routes) {
      for (const variant of variants.filter(servesRoute(route))) {
        const result = await measure(variant, route, config, config.warmupSeconds, 1, databasePids(variant));
        log(`warm-up ${progress()} ${variant.id} ${route}: ${result.load.requestsPerSecond.toFixed(0)} req/s`);
      }
    }

    const runs: MeasuredRun[] = [];
    // Per variant, when its measured runs took place: the profile summaries count only those samples.
    const windows = new Map<string, Window[]>(variants.map((v) => [v.id, []]));
    for (let round = 1; round <= config.rounds; round++) {
      for (const [routeIndex, route] of routes.entries()) {
        // Rotate the order every round and route, so no variant always runs first or last.
        const serving = variants.filter(servesRoute(route));
        const shift = (round - 1 + routeIndex) % serving.length;
        const order = [...serving.slice(shift), ...serving.slice(0, shift)];
        for (const variant of order) {
          const start = nowMicros();
          const run = await measure(variant, route, config, config.durationSeconds, round * 1000 + ROUTES.indexOf(route), databasePids(variant));
          windows.get(variant.id)!.push([start, nowMicros()]);
          runs.push({ ...run, round });
          log(
            `round ${round} ${progress()} ${variant.id.padEnd(18)} ${route.padEnd(6)} ` +
              `${run.load.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${run.load.p50.toFixed(2)} ms  p99 ${run.load.p99.toFixed(2)} ms  ` +
              `cpu/req ${(run.cpu.apiMsPerRequest + run.cpu.postgresMsPerRequest).toFixed(3)} ms  rss ${run.rss.maxMb.toFixed(0)} MB  load ${os.loadavg()[0].toFixed(2)}`,
          );
        }
      }
    }

    const loadAfter = os.loadavg();
    for (const api of servers.splice(0)) await api.stop();
    if (config.profileDir) writeProfileSummaries(config.profileDir, variants, windows, path.resolve(benchDir, '..'));

    const migrations = [];
    for (const dataset of datasets.values()) migrations.push(await timeSchemaChange(dataset));

    const report: BenchReport = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
      config: { ...config, databaseUrl: config.databaseUrl ? '(BENCH_DATABASE_URL)' : undefined },
      machine: machineInfo(loadBefore, loadAfter),
      postgres: { version: postgresVersion, server: server.description },
      datasets: [...datasets.values()].map((d) => ({ tenants: d.tenants, documents: d.seed.documents, seedSeconds: d.seed.seconds, tableMb: d.seed.tableBytes / 2 ** 20, activeTenants: d.traffic.tenants.length })),
      variants: variants.map(({ id, label, adapter, tenants, kind, routes, credential }) => ({ id, label, adapter, tenants, kind, routes, credential })),
      runs,
      idleRssMb: idleRss,
      migrations,
      plans,
      summary: summarise(variants, runs, config),
    };
    mkdirSync(config.resultsDir, { recursive: true });
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    const markdown = renderMarkdown(report);
    writeFileSync(path.join(config.resultsDir, `bench-${stamp}.json`), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(path.join(config.resultsDir, `bench-${stamp}.md`), markdown);
    writeFileSync(path.join(config.resultsDir, 'latest.json'), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(path.join(config.resultsDir, 'latest.md'), markdown);
    process.stdout.write(markdown);
    log(`results: ${path.relative(process.cwd(), path.join(config.resultsDir, `bench-${stamp}.{json,md}`))} (and latest.*)`);
  } finally {
    if (!interrupted) await runCleanup(cleanup);
  }
}

async function runCleanup(cleanup: Array<() => Promise<void>>): Promise<void> {
  // Last in, first out: API servers, then the temp dir and databases, then the PostgreSQL server.
  for (const fn of [...cleanup].reverse()) {
    await fn().catch((error) => log(`cleanup: ${error?.message ?? error}`));
  }
}

/**
 * The unscoped baseline is the same app without tenancy: the same rows in a
 * table with no tenant_id, keyed by id, indexed for the list order, no RLS
 * (bench-only, in the bench database). It is a copy, not extra indexes on
 * documents: indexes on documents(id) and documents(created_at, id) would be
 * picked by the planner for the scoped queries too on small datasets (measured:
 * the scoped list then walked the global index and filtered by tenant), so the
 * scoped variant would no longer be the production query plan.
 */
async function createUntenantedCopy(db: BenchDatabase): Promise<void> {
  await withClient(db.superuserUrl, (c) =>
    c.query(`
      create table bench_untenanted_documents (
        id uuid primary key,
        title text not null,
        body text not null,
        tags text[] not null,
        created_by uuid,
        created_at timestamp(3) with time zone not null,
        updated_at timestamp(3) with time zone not null
      );
      insert into bench_untenanted_documents select id, title, body, tags, created_by, created_at, updated_at from documents;
      create index bench_untenanted_documents_created_idx on bench_untenanted_documents (created_at desc, id desc);
      analyze bench_untenanted_documents;
    `),
  );
}

/**
 * Which indexes the hot queries use on the bench database, for the record. Written as the repository's SQL; the test
 * test/database/query-plans.e2e-spec.ts checks the exact generated statements.
 */
async function explainHotQueries(dataset: Dataset): Promise<Record<string, string[]>> {
  const tenant = dataset.traffic.tenants[0];
  const columns = `"tenant_id", "id", "title", "body", "tags", "created_by", "created_at", "updated_at"`;
  const untenanted = `"id", "title", "body", "tags", "created_by", "created_at", "updated_at"`;
  const queries: Record<string, { sql: string; values: unknown[]; asApp: boolean }> = {
    'scoped get': { sql: `select ${columns} from "documents" where ("documents"."tenant_id" = $1 and "documents"."id" = $2) limit $3`, values: [tenant.id, tenant.documentIds[0], 1], asApp: true },
    'scoped list': { sql: `select ${columns} from "documents" where "documents"."tenant_id" = $1 order by "documents"."created_at" desc, "documents"."id" desc limit $2`, values: [tenant.id, 21], asApp: true },
    'unscoped get': { sql: `select ${untenanted} from "bench_untenanted_documents" where "id" = $1 limit $2`, values: [tenant.documentIds[0], 1], asApp: false },
    'unscoped list': { sql: `select ${untenanted} from "bench_untenanted_documents" order by "created_at" desc, "id" desc limit $1`, values: [21], asApp: false },
  };
  const plans: Record<string, string[]> = {};
  for (const [name, query] of Object.entries(queries)) {
    plans[name] = await withClient(query.asApp ? dataset.db.appUrl : dataset.db.superuserUrl, async (c) => {
      await c.query('begin');
      if (query.asApp) await c.query(`select set_config('app.tenant_id', $1, true)`, [tenant.id]);
      const { rows } = await c.query(`explain ${query.sql}`, query.values);
      await c.query('rollback');
      return rows.map((row) => row['QUERY PLAN'] as string);
    });
  }
  return plans;
}

const headersOf = (variant: Variant, tenantId: string): Record<string, string> =>
  (variant.credential === 'api-key' ? variant.dataset.apiKeyHeaders! : variant.dataset.headers).get(tenantId)!;

/**
 * The document POST /documents creates for a tenant: the size and shape of a
 * seeded one (bench/seed.ts: a title, ~340 bytes of body, two tags), so once
 * created rows lead a tenant's list, its pages weigh what they did before.
 */
function newDocument(slug: string): { title: string; body: string; tags: string[] } {
  return { title: `Bench document of ${slug}`, body: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(6), tags: ['tag-0', 'bench'] };
}

function targetsFor(variant: Variant, route: RouteId): LoadTarget[] {
  const targets: LoadTarget[] = [];
  for (const tenant of variant.dataset.traffic.tenants) {
    const headers = headersOf(variant, tenant.id);
    if (route === 'hello') targets.push({ path: '/hello', headers });
    else if (route === 'list') targets.push({ path: `${variant.prefix}?limit=20`, headers });
    else if (route === 'create') targets.push({ path: variant.prefix, headers, json: JSON.stringify(newDocument(tenant.slug)) });
    else for (const id of tenant.documentIds) targets.push({ path: `${variant.prefix}/${id}`, headers });
  }
  return targets;
}

async function measure(
  variant: Variant,
  route: RouteId,
  config: BenchConfig,
  seconds: number,
  seed: number,
  postgresPids: (() => number[]) | undefined,
): Promise<Omit<MeasuredRun, 'round'>> {
  const rss = sampleRss(variant.server.pid);
  const apiCpu = cpuMeter(() => [variant.server.pid]);
  const pgCpu = postgresPids ? cpuMeter(postgresPids) : undefined;
  const load = await runLoad({ url: variant.server.url, targets: targetsFor(variant, route), connections: config.connections, durationSeconds: seconds, seed });
  const apiMs = apiCpu.stop();
  const pgMs = pgCpu?.stop() ?? NaN;
  const memory = rss.stop();
  assertClean(variant, route, load);
  const perRequest = (ms: number) => (load.totalRequests > 0 ? ms / load.totalRequests : NaN);
  return { variant: variant.id, route, load, rss: memory, cpu: { apiMsPerRequest: perRequest(apiMs), postgresMsPerRequest: perRequest(pgMs) } };
}

function assertClean(variant: Variant, route: RouteId, load: LoadResult): void {
  if (load.non2xx > 0 || load.errors > 0 || load.timeouts > 0) {
    throw new Error(
      `${variant.id} ${route}: ${load.non2xx} non-2xx, ${load.errors} errors, ${load.timeouts} timeouts ` +
        `(status codes ${JSON.stringify(load.statusCodes)}); a benchmark of failures measures nothing.\n${variant.server.output()}`,
    );
  }
}

/** Every variant must return the same shapes before its speed means anything. */
async function preflight(variant: Variant): Promise<void> {
  const [a, b] = variant.dataset.traffic.tenants;
  const headersA = headersOf(variant, a.id);
  const request = async (pathname: string, headers: Record<string, string>, json?: unknown) => {
    const response = await fetch(variant.server.url + pathname, {
      method: json === undefined ? 'GET' : 'POST',
      headers: json === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  const fail = (what: string, got: unknown) => {
    throw new Error(`preflight ${variant.id}: ${what}; got ${JSON.stringify(got).slice(0, 500)}\n${variant.server.output()}`);
  };
  if (variant.routes.includes('hello')) {
    const hello = await request('/hello', headersA);
    if (hello.status !== 200 || hello.body.hello !== 'world') fail('GET /hello', hello);
  }
  if (variant.kind === 'ceiling') return;
  // The reads are checked even when --routes leaves them out: the create check reads its row back.
  const one = await request(`${variant.prefix}/${a.documentIds[0]}`, headersA);
  if (one.status !== 200 || one.body.id !== a.documentIds[0] || typeof one.body.title !== 'string') fail('GET /documents/:id', one);
  const list = await request(`${variant.prefix}?limit=20`, headersA);
  if (list.status !== 200 || list.body.items?.length !== 20 || !list.body.nextCursor) fail('GET /documents?limit=20', list);
  if (variant.routes.includes('create')) {
    // One row for tenant A, the document the timed runs send, answered as the API answers it and read back.
    const document = newDocument(a.slug);
    const created = await request(variant.prefix, headersA, document);
    const keys = Object.keys(created.body ?? {}).sort().join(',');
    if (
      created.status !== 201 ||
      keys !== 'body,createdAt,id,tags,title,updatedAt' ||
      created.body.title !== document.title ||
      created.body.body !== document.body ||
      created.body.tags.join(',') !== document.tags.join(',')
    ) {
      fail('POST /documents (expected 201 and the document as sent, with id, createdAt, updatedAt)', created);
    }
    const back = await request(`${variant.prefix}/${created.body.id}`, headersA);
    if (back.status !== 200 || back.body.id !== created.body.id) fail('GET of the created document', back);
  }
  if (b) {
    const foreign = await request(`${variant.prefix}/${b.documentIds[0]}`, headersA);
    const unscoped = variant.id.startsWith('unscoped');
    // Positive control both ways: the scoped routes hide another tenant's row, the baseline really does not filter.
    if (unscoped ? foreign.status !== 200 : foreign.status !== 404) fail(`another tenant's document (expected ${unscoped ? 200 : 404})`, foreign);
  }
}

/** DIR/<variant>.txt for each server's profile (see bench/profile.ts). */
function writeProfileSummaries(dir: string, variants: Variant[], windows: Map<string, Window[]>, root: string): void {
  for (const variant of variants) {
    const file = findProfile(path.join(dir, variant.id), variant.server.pid);
    const out = path.join(dir, `${variant.id}.txt`);
    if (!file) {
      log(`profile of ${variant.id} (pid ${variant.server.pid}) not found in ${path.join(dir, variant.id)}: did the server exit cleanly?`);
      continue;
    }
    const title = `CPU profile of ${variant.id} (${variant.label}), pid ${variant.server.pid}, routes ${variant.routes.join(', ')}`;
    writeFileSync(out, summariseProfile(file, windows.get(variant.id)!, title, root));
    log(`profile summary: ${out}`);
  }
}

/**
 * One migration run (not one per tenant: all tenants share the table), as the
 * owner role, in one transaction: add a nullable column and an index led by
 * tenant_id. Bench-only SQL on the bench database; nothing under drizzle/.
 */
async function timeSchemaChange(dataset: Dataset) {
  return withClient(dataset.db.ownerUrl, async (c) => {
    const started = process.hrtime.bigint();
    await c.query('begin');
    await c.query(`alter table documents add column bench_reviewed_at timestamp(3) with time zone`);
    await c.query(`create index documents_tenant_reviewed_idx on documents (tenant_id, bench_reviewed_at)`);
    await c.query('commit');
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    log(`schema change at ${dataset.tenants} tenants (${dataset.seed.documents} documents): ${ms.toFixed(0)} ms`);
    return { tenants: dataset.tenants, documents: dataset.seed.documents, milliseconds: ms };
  });
}

function machineInfo(loadBefore: number[], loadAfter: number[]) {
  const cpus = os.cpus();
  const sh = (command: string) => {
    try {
      return execSync(command, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return undefined;
    }
  };
  return {
    nproc: Number(sh('nproc') ?? cpus.length),
    cpuModel: sh(`lscpu | sed -n 's/^Model name: *//p'`) || cpus[0]?.model,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    gitCommit: sh('git rev-parse --short HEAD'),
    gitDirty: Boolean(sh('git status --porcelain')),
    loadAverageBefore: loadBefore,
    loadAverageAfter: loadAfter,
  };
}

main().catch((error) => {
  if (error instanceof UsageError) {
    process.stderr.write(`bench: ${error.message}\n(npm run bench -- --help lists the flags)\n`);
    process.exit(2);
  }
  process.stderr.write(`bench failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
