import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { createTenant, signIn } from './api-tenants';
import { commandLine, nonNegativeInt, parsedOrRefused, positiveInt } from './command-line';
import type { LoadResult, LoadTarget } from './load';
import { BENCH_ROLE_PASSWORDS, createBenchDatabase, startServer, withClient } from './postgres';
import { ApiServer, benchApiEnv, cpuMeter, runLoad, startApiServer } from './processes';
import { findProfile, nowMicros, summariseProfile, Window } from './profile';
import { median } from './report';
import { seedDocuments } from './seed';
import type { TenantDatabaseSettings } from '../src/config/env.schema';
import { DatabaseMigrationResult, migrateDatabases } from '../src/database/migrate-databases';
import { createDatabase, dropDatabase, withCredentials, withDatabase } from '../src/database/provisioning';
import { APP_ROLE, OWNER_ROLE } from '../src/database/schema/roles';
import { dedicatedPoolMax } from '../src/database/pg/database-pools';

/**
 * `npm run bench:scale-out`: what dedicated databases (the tenant directory,
 * TENANT_DATABASES) cost a request, and how long migrating many databases
 * takes (README "Benchmarks" > "Dedicated databases (scale-out)"). On one PostgreSQL
 * server (embedded, or BENCH_DATABASE_URL):
 *
 * A. One API process on one shared database: --dedicated + 1 tenants there.
 * B. A second API process whose TENANT_DATABASES registers --dedicated
 *    databases (distinct names, adminUrl the superuser): one tenant on the
 *    shared database, each other tenant on its own dedicated database, placed
 *    by POST /tenants with `database` (which creates, migrates and anchors the
 *    database on first use). DB_POOL_BUDGET fits every pool (DB_POOL_SIZE +
 *    dedicated x DB_POOL_SIZE_PER_DATABASE).
 * T. (--tight-budget, default 100, the default DB_POOL_BUDGET; 0 skips it) a
 *    third API process on B's databases with a budget too small for every
 *    pool at DB_POOL_SIZE_PER_DATABASE: each dedicated pool is sized down so
 *    that all fit (dedicatedPoolMax, src/database/pg/database-pools.ts); only
 *    when even pools of 1 do not fit are idle pools evicted (closed) to open
 *    others, and reopened.
 *
 * Every tenant is created the same way (POST /tenants with an owner, who signs
 * in for a JWT); each gets --docs-per-tenant documents, written by the bench
 * as the superuser on the database the tenant lives on (the rows of
 * bench/seed.ts). The load is GET /documents/:id spread evenly over every
 * tenant's documents (the same seeded sequence of targets for each API),
 * --connections in a closed loop, document cache off. Per round A then B (then
 * T), the next round T, B, A, so neither A nor B always runs on a warmer
 * machine. Target: median p50 of B / A <= 1.2x. The closed loop keeps every
 * core busy, so its p50 is the machine's capacity more than a request's time;
 * each variant is therefore also measured at steady rates (--rates, default
 * 1,000 and 2,000 requests/s: open loop, latency from when each request was
 * due) that the cores serve without saturating, as a service is run. The report
 * gives the p50 ratio of each, and CPU per request (API process, PostgreSQL)
 * so that what the spread costs PostgreSQL itself is seen apart from the API.
 *
 * FA, FB (unless --no-floor). The floor of A and B: bench/bare-server.ts (node:http + pg,
 *    the API's statement through its queryForTenant, nothing else) on A's database, and on
 *    B's databases with a pool per dedicated database (BARE_TENANT_DATABASES,
 *    DB_POOL_SIZE_PER_DATABASE): what PostgreSQL itself charges for spreading the same
 *    tenants over many databases on this server, beside what B adds to it.
 *
 * C. Migration time: --dedicated empty databases (owned by app_owner, as
 *    provisioning makes them) migrated by migrateDatabases (what `migrate --all`
 *    runs) at each --migration-concurrency, fresh databases each time.
 */

interface Options {
  duration: number;
  rounds: number;
  warmup: number;
  dedicated: number;
  connections: number;
  docsPerTenant: number;
  poolSize: number;
  poolSizePerDatabase: number;
  /** Requests/s of the steady-rate (open-loop) measures; empty: none. */
  rates: number[];
  /** DB_POOL_BUDGET of variant T; 0: no T. */
  tightBudget: number;
  /** The bare node:http + pg floor of A and B (FA, FB). */
  floor: boolean;
  /** A directory for the API processes' CPU profiles (A, B, T), summarised over their measured runs. */
  profile?: string;
  migrationConcurrency: number[];
}

type VariantKey = 'A' | 'B' | 'T' | 'FA' | 'FB';

interface Variant {
  key: VariantKey;
  label: string;
  api: ApiServer;
  targets: LoadTarget[];
  budget?: number;
}

interface PoolCounters {
  opened: number;
  evicted: number;
}

interface Measured {
  load: LoadResult;
  /** PostgreSQL sessions (backends) started on the server during the run: connections the API opened mid-run. */
  sessionsStarted: number;
  /** Pools opened and evicted during the run (B and T), from GET /metrics. */
  pools?: PoolCounters;
  /**
   * CPU time (user + system, /proc) per request served, in microseconds: of the API process (every
   * thread) and of PostgreSQL (postmaster and backends; NaN with BENCH_DATABASE_URL, whose processes
   * are not visible here). What a profile of the API's main thread cannot tell apart: on these shared
   * cores a backend woken by the API's write often runs at once on the API's core, and the API's
   * sampled time "in writev" then includes the backend's work.
   */
  cpuUsPerRequest: { api: number; postgres: number };
}

interface Round {
  order: VariantKey[];
  /** Closed loop: every core busy (capacity). */
  results: Partial<Record<VariantKey, Measured>>;
  /** Per --rates entry, in order (open loop at that many requests/s). */
  steady: Array<Partial<Record<VariantKey, Measured>>>;
}

interface MigrationRun {
  concurrency: number;
  seconds: number;
  migrations: number;
  perDatabaseMs: { median: number; max: number };
  failed: string[];
}

/** Unmeasured load before each measured run (see the rounds). */
const REWARM_SECONDS = 2;

/**
 * The steady-rate measures' default: about a sixth and a third of what A serves with every core
 * busy on this 2-core machine (5,200-6,800 requests/s), a quarter and a half of B's (2,700-5,100):
 * loads served without queueing behind saturated cores, as a service is run.
 */
const DEFAULT_STEADY_RATES = [1_000, 2_000];

/** The default DB_POOL_BUDGET (src/config/env.schema.ts). */
const DEFAULT_POOL_BUDGET = 100;
/** No pool closes for being idle while its process waits for its turn: reopening is what T measures. */
const IDLE_CLOSE_MS = 600_000;

const log = (message: string) => process.stderr.write(`[bench:scale-out] ${message}\n`);

/** JSON.stringify replacer: a paced run's per-request arrays (samples, dueEpochMs) left out. */
function withoutSamples(key: string, value: unknown): unknown {
  return key === 'samples' || key === 'dueEpochMs' ? undefined : value;
}

function rateList(raw: string): number[] {
  if (raw.trim() === '0') return [];
  return concurrencyList(raw);
}

function concurrencyList(raw: string): number[] {
  const values = raw.split(',').map((part) => Number(part.trim()));
  if (!values.length || values.some((value) => !Number.isInteger(value) || value < 1)) throw new InvalidArgumentError('a comma-separated list of positive integers');
  return values;
}

function scaleOutCommand(): Command {
  return commandLine(
    'bench:scale-out',
    'Dedicated databases: p50 of GET /documents/:id with tenants on one shared database against one shared + N dedicated databases, and migration time across N databases. BENCH_DATABASE_URL: an existing server (superuser URL).',
  )
    .option('--duration <s>', 'seconds per measured run', positiveInt, 10)
    .option('--rounds <n>', 'rounds (A,B[,T] then T,B,A ...; the report gives each and the median)', positiveInt, 4)
    .option('--warmup <s>', 'warm-up seconds per API process', positiveInt, 3)
    .option('--dedicated <n>', 'dedicated databases (and tenants on them); the shared-only API gets as many tenants plus one', positiveInt, 20)
    .option('--connections <n>', 'connections of each load run (closed loop)', positiveInt, 16)
    .addOption(
      new Option('--rates <list>', 'requests/s of the steady-rate measures (open loop, each variant after its closed-loop run); 0: none')
        .argParser(rateList)
        .default(DEFAULT_STEADY_RATES, DEFAULT_STEADY_RATES.join(',')),
    )
    .option('--docs-per-tenant <n>', 'documents per tenant', positiveInt, 100)
    .option('--pool-size <n>', 'DB_POOL_SIZE (the shared pool) of every API process', positiveInt, 10)
    .option('--pool-size-per-database <n>', 'DB_POOL_SIZE_PER_DATABASE', positiveInt, 5)
    .option('--profile <dir>', "CPU profiles of the API processes (A, B, T) into DIR, summarised over their measured runs (bench/profile.ts): DIR/<variant>.txt")
    .option('--no-floor', 'skip the bare node:http + pg floor of A and B (FA, FB)')
    .option('--tight-budget <n>', `DB_POOL_BUDGET of the eviction variant T, below what every pool needs (0: skip T)`, nonNegativeInt, DEFAULT_POOL_BUDGET)
    .addOption(new Option('--migration-concurrency <list>', 'concurrencies of the migration runs, in order').argParser(concurrencyList).default([1, 4], '1,4'));
}

/** The options, or undefined when --help was printed or the command line refused (exit code set). */
function parseOptions(): Options | undefined {
  const command = scaleOutCommand();
  if (!parsedOrRefused(command)) return undefined;
  const options = command.opts<Options>();
  if (options.tightBudget > 0 && options.tightBudget < options.poolSize + options.poolSizePerDatabase) {
    process.stderr.write(`bench:scale-out: --tight-budget must be 0 or at least --pool-size + --pool-size-per-database (${options.poolSize + options.poolSizePerDatabase})\n`);
    process.exitCode = 2;
    return undefined;
  }
  return options;
}

/** db_pools_opened_total and db_pools_evictions_total of the process (counts since start). */
async function poolCounters(api: ApiServer, adminKey: string): Promise<PoolCounters> {
  const response = await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } }).catch((error: unknown) => {
    throw new Error(`${api.name}: GET /metrics failed (${error}); its last output:\n${api.output()}`);
  });
  const text = await response.text();
  const read = (name: string) => {
    const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
    if (response.status !== 200 || !match) throw new Error(`${api.name}: GET /metrics (${response.status}) has no ${name}`);
    return Number(match[1]);
  };
  return { opened: read('db_pools_opened_total'), evicted: read('db_pools_evictions_total') };
}

async function main(): Promise<void> {
  const options = parseOptions();
  if (!options) return;
  const cleanup: Array<() => Promise<void>> = [];
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  // What every pool at its size needs; B's budget is the default when that fits, else exactly this.
  const needed = options.poolSize + options.dedicated * options.poolSizePerDatabase;
  const fitBudget = Math.max(DEFAULT_POOL_BUDGET, needed);
  const tight = options.tightBudget > 0 && options.tightBudget < needed ? options.tightBudget : undefined;
  if (options.tightBudget > 0 && !tight) log(`--tight-budget ${options.tightBudget} fits every pool (${needed}): no eviction variant`);
  try {
    // Three API processes may each hold up to their budget; the embedded server's 200 would not do.
    // The floor servers (FA, FB) hold as many as A and B.
    const maxConnections = 50 + fitBudget + (tight ?? 0) + options.poolSize + (options.floor ? options.poolSize + needed : 0);
    const postgres = await startServer(process.env.BENCH_DATABASE_URL, ['-c', `max_connections=${maxConnections}`]);
    cleanup.unshift(() => postgres.stop());
    const server = postgres.superuserUrl;

    // Roles come with the first database (createBenchDatabase), with the bench's passwords.
    const sharedA = await createBenchDatabase(server, 'scale_a');
    cleanup.unshift(() => sharedA.drop());
    const sharedB = await createBenchDatabase(server, 'scale_b');
    cleanup.unshift(() => sharedB.drop());

    const prefix = `bench_${Date.now().toString(36)}_${process.pid}`;
    const dedicatedNames = Array.from({ length: options.dedicated }, (_, i) => `d${String(i + 1).padStart(2, '0')}`);
    const databaseOf = (name: string) => `${prefix}_${name}`;
    const registry: Record<string, TenantDatabaseSettings> = Object.fromEntries(
      dedicatedNames.map((name) => {
        const url = withDatabase(server, databaseOf(name));
        return [name, { url: withCredentials(url, APP_ROLE, BENCH_ROLE_PASSWORDS.app), migrationUrl: withCredentials(url, OWNER_ROLE, BENCH_ROLE_PASSWORDS.owner), adminUrl: server }];
      }),
    );
    // Registered before anything creates them: the API creates them, a failure anywhere must not leave them.
    cleanup.unshift(async () => {
      for (const name of dedicatedNames) await dropDatabase(server, databaseOf(name));
    });

    const tmp = mkdtempSync(path.join(os.tmpdir(), 'tenancy-bench-scale-out-'));
    cleanup.unshift(async () => rmSync(tmp, { recursive: true, force: true }));
    const adminKey = `bench_${randomBytes(24).toString('base64url')}`;
    const jwtSecret = randomBytes(32).toString('base64url');
    // One JWT secret: T serves B's tenants with B's tokens.
    const baseEnv = { ...benchApiEnv({ tmp, adminKey, jwtSecret }), DB_POOL_SIZE: String(options.poolSize), TENANT_CACHE_TTL_MS: '60000' };
    const start = async (name: string, shared: typeof sharedA, extra: Record<string, string>) => {
      const execArgv = options.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(path.resolve(options.profile), name)}`] : [];
      // Writing a profile of a whole run takes a while; killing the process would lose it.
      const api = await startApiServer(name, { ...baseEnv, DATABASE_URL: shared.appUrl, BENCH_UNSCOPED_DATABASE_URL: shared.superuserUrl, ...extra }, { script: 'server.js', execArgv, stopTimeoutMs: options.profile ? 120_000 : undefined });
      cleanup.unshift(() => api.stop());
      return api;
    };
    const dedicatedEnv = (budget: number) => ({
      TENANT_DATABASES: JSON.stringify(registry),
      DB_POOL_BUDGET: String(budget),
      DB_POOL_SIZE_PER_DATABASE: String(options.poolSizePerDatabase),
      DB_POOL_IDLE_CLOSE_MS: String(IDLE_CLOSE_MS),
    });

    log('starting API A (shared database only) and API B (TENANT_DATABASES)');
    const apiA = await start('api-shared', sharedA, {});
    const apiB = await start('api-dedicated', sharedB, dedicatedEnv(fitBudget));
    const password = `bench-${randomBytes(12).toString('base64url')}`;
    const slugs = Array.from({ length: options.dedicated + 1 }, (_, i) => `scale-${String(i).padStart(2, '0')}`);

    log(`A: ${slugs.length} tenants on the shared database, ${options.docsPerTenant} documents each`);
    const tenantsA: Array<{ id: string; slug: string }> = [];
    for (const slug of slugs) tenantsA.push({ slug, id: (await createTenant(apiA, adminKey, { slug, name: `Scale-out ${slug}`, password })).id });
    const docsA = await seedDocuments(sharedA.superuserUrl, tenantsA.map((t) => t.id), options.docsPerTenant);

    log(`B: 1 tenant on the shared database, ${options.dedicated} on their own dedicated databases (POST /tenants provisions each)`);
    const tenantsB: Array<{ id: string; slug: string; database: string }> = [];
    tenantsB.push({ slug: slugs[0], ...(await createTenant(apiB, adminKey, { slug: slugs[0], name: `Scale-out ${slugs[0]}`, password })) });
    const provisionStarted = performance.now();
    const provisionMs: number[] = [];
    for (const [i, name] of dedicatedNames.entries()) {
      const started = performance.now();
      tenantsB.push({ slug: slugs[i + 1], ...(await createTenant(apiB, adminKey, { slug: slugs[i + 1], name: `Scale-out ${slugs[i + 1]}`, password, database: name })) });
      provisionMs.push(performance.now() - started);
    }
    const provisionSeconds = (performance.now() - provisionStarted) / 1000;
    log(`B: ${options.dedicated} dedicated databases provisioned through POST /tenants in ${provisionSeconds.toFixed(1)} s`);
    const docsB = new Map<string, string[]>();
    for (const tenant of tenantsB) {
      const superuserUrl = tenant.database === 'shared' ? sharedB.superuserUrl : withDatabase(server, databaseOf(tenant.database));
      for (const [id, ids] of await seedDocuments(superuserUrl, [tenant.id], options.docsPerTenant)) docsB.set(id, ids);
    }

    // The same shape for every API: tenant i's document j at the same index, so a seed draws the same targets.
    const targetsOf = async (api: ApiServer, tenants: Array<{ id: string; slug: string }>, docs: Map<string, string[]>) => {
      const targets: LoadTarget[] = [];
      for (const tenant of tenants) {
        const headers = await signIn(api, tenant, password);
        const ids = docs.get(tenant.id)!;
        if (ids.length !== options.docsPerTenant) throw new Error(`${tenant.slug}: ${ids.length} documents seeded`);
        targets.push(...ids.map((id) => ({ path: `/documents/${id}`, headers })));
      }
      return targets;
    };
    const variants: Variant[] = [
      { key: 'A', label: `shared only (${slugs.length} tenants on 1 database)`, api: apiA, targets: await targetsOf(apiA, tenantsA, docsA) },
      { key: 'B', label: `1 shared + ${options.dedicated} dedicated, DB_POOL_BUDGET ${fitBudget} (every pool fits)`, api: apiB, targets: await targetsOf(apiB, tenantsB, docsB), budget: fitBudget },
    ];
    if (tight) {
      log(`T: a third API on B's databases with DB_POOL_BUDGET ${tight}`);
      const apiT = await start('api-tight', sharedB, dedicatedEnv(tight));
      // B's tokens: same secret, same databases.
      const sizedDown = dedicatedPoolMax({ budget: tight, sharedMax: options.poolSize, perDatabaseMax: options.poolSizePerDatabase, databases: options.dedicated });
      const evicts = options.poolSize + options.dedicated * sizedDown > tight;
      variants.push({ key: 'T', label: `as B, DB_POOL_BUDGET ${tight}: dedicated pools of ${sizedDown}${evicts ? ' (pools evicted)' : ', all fit'}`, api: apiT, targets: variants[1].targets, budget: tight });
    }
    if (options.floor) {
      log('FA, FB: the bare node:http + pg floor on A\'s and on B\'s databases');
      const bare = async (name: string, shared: typeof sharedA, placed: Record<string, string>) => {
        const api = await startApiServer(
          name,
          { DATABASE_URL: shared.appUrl, DB_POOL_SIZE: String(options.poolSize), DB_POOL_SIZE_PER_DATABASE: String(options.poolSizePerDatabase), BARE_TENANT_DATABASES: JSON.stringify(placed) },
          { script: 'bare-server.js', execArgv: [] },
        );
        cleanup.unshift(() => api.stop());
        return api;
      };
      // The tenant is the x-tenant-id header (a uuid), the same documents at the same indexes as A's and B's targets.
      const bareTargets = (tenants: Array<{ id: string }>, docs: Map<string, string[]>): LoadTarget[] =>
        tenants.flatMap((tenant) => docs.get(tenant.id)!.map((id) => ({ path: `/documents/${id}`, headers: { 'x-tenant-id': tenant.id } })));
      const placedB = Object.fromEntries(tenantsB.filter((t) => t.database !== 'shared').map((t) => [t.id, registry[t.database].url]));
      variants.push(
        { key: 'FA', label: `floor of A: bare node:http + pg, ${slugs.length} tenants on 1 database`, api: await bare('bare-shared', sharedA, {}), targets: bareTargets(tenantsA, docsA) },
        { key: 'FB', label: `floor of B: bare node:http + pg, 1 shared + ${options.dedicated} dedicated, a pool of ${options.poolSizePerDatabase} per database`, api: await bare('bare-dedicated', sharedB, placedB), targets: bareTargets(tenantsB, docsB) },
      );
    }
    const byKey = new Map(variants.map((v) => [v.key, v]));

    // Preflight: every tenant of every API answers its first document.
    for (const variant of variants) {
      const firsts = variant.targets.filter((_, i) => i % options.docsPerTenant === 0);
      for (const target of firsts) {
        const response = await fetch(`${variant.api.url}${target.path}`, { headers: target.headers });
        if (response.status !== 200) throw new Error(`preflight ${variant.key}: ${target.path} answered ${response.status} ${(await response.text()).slice(0, 300)}`);
      }
    }

    // pg_stat_database.sessions counts each backend at its start (PostgreSQL 14+); the query's own session counts one.
    const sessions = () => withClient(server, async (client) => Number((await client.query<{ n: string }>('select coalesce(sum(sessions), 0) as n from pg_stat_database')).rows[0].n));
    const measure = async (variant: Variant, durationSeconds: number, seed: number, overallRate?: number): Promise<Measured> => {
      const before = variant.budget ? await poolCounters(variant.api, adminKey) : undefined;
      const sessionsBefore = await sessions();
      const apiCpu = cpuMeter(() => [variant.api.pid]);
      const postgresCpu = postgres.processIds ? cpuMeter(postgres.processIds) : undefined;
      const load = await runLoad({ url: variant.api.url, targets: variant.targets, connections: options.connections, durationSeconds, seed, overallRate });
      const perRequestUs = (ms: number) => (load.totalRequests > 0 ? (ms * 1000) / load.totalRequests : NaN);
      const cpuUsPerRequest = { api: perRequestUs(apiCpu.stop()), postgres: perRequestUs(postgresCpu?.stop() ?? NaN) };
      const sessionsStarted = (await sessions()) - sessionsBefore - 1;
      if (!before) return { load, sessionsStarted, cpuUsPerRequest };
      const after = await poolCounters(variant.api, adminKey);
      return { load, sessionsStarted, cpuUsPerRequest, pools: { opened: after.opened - before.opened, evicted: after.evicted - before.evicted } };
    };

    log(`warm-up ${options.warmup} s per API`);
    for (const variant of variants) await measure(variant, options.warmup, 1);

    const rounds: Round[] = [];
    /** When each variant's measured runs took place: the profile summaries count only those samples. */
    const windows = new Map<VariantKey, Window[]>();
    const keys = variants.map((v) => v.key);
    for (let round = 0; round < options.rounds; round++) {
      // A,B(,T) then (T,)B,A: A and B swap places every round.
      const order = round % 2 === 0 ? keys : [...keys].reverse();
      log(`round ${round + 1}/${options.rounds}: ${order.join(', ')}, ${options.duration} s each`);
      const results: Round['results'] = {};
      const steady: Round['steady'] = [];
      for (const key of order) {
        // Each process sat idle while the others ran (30-40 s): its pools' connections idle longer than pg's
        // idleTimeoutMillis (30 s) were closed. An unmeasured second of load reopens them first, so the measured
        // run is the steady state (what a serving instance sees), not B's hundred reconnections against A's ten.
        await measure(byKey.get(key)!, REWARM_SECONDS, 50 + round);
        const from = nowMicros();
        results[key] = await measure(byKey.get(key)!, options.duration, 100 + round);
        windows.set(key, [...(windows.get(key) ?? []), [from, nowMicros()]]);
        for (const [i, rate] of options.rates.entries()) (steady[i] ??= {})[key] = await measure(byKey.get(key)!, options.duration, 200 + round, rate);
      }
      rounds.push({ order, results, steady });
    }
    const loadAfterLoad = os.loadavg();
    for (const variant of variants) await variant.api.stop();
    if (options.profile) {
      for (const variant of variants.filter((v) => v.key === 'A' || v.key === 'B' || v.key === 'T')) {
        const file = findProfile(path.join(path.resolve(options.profile), variant.api.name), variant.api.pid);
        if (!file) {
          log(`profile of ${variant.key} (pid ${variant.api.pid}) not found`);
          continue;
        }
        const out = path.join(path.resolve(options.profile), `${variant.key}.txt`);
        writeFileSync(out, summariseProfile(file, windows.get(variant.key) ?? [], `CPU profile of ${variant.key} (${variant.label}), pid ${variant.api.pid}`, path.resolve(__dirname, '..', '..')));
        log(`profile summary: ${out}`);
      }
    }

    const migrationRuns: MigrationRun[] = [];
    for (const [runIndex, concurrency] of options.migrationConcurrency.entries()) {
      const names = dedicatedNames.map((name) => `${prefix}_m${runIndex}_${name}`);
      cleanup.unshift(async () => {
        for (const name of names) await dropDatabase(server, name);
      });
      // As provisioning makes them (roles exist): owned by app_owner, only app_user may connect, empty.
      for (const name of names) await createDatabase(server, name);
      log(`C: migrating ${names.length} empty databases at concurrency ${concurrency}`);
      const started = performance.now();
      const results: DatabaseMigrationResult[] = await migrateDatabases(
        names.map((name) => ({ name, migrationUrl: withCredentials(withDatabase(server, name), OWNER_ROLE, BENCH_ROLE_PASSWORDS.owner) })),
        { concurrency, onFailure: 'continue' },
      );
      const seconds = (performance.now() - started) / 1000;
      const failed = results.filter((r) => r.outcome !== 'migrated').map((r) => `${r.database}: ${r.outcome} ${r.error ?? ''}`);
      migrationRuns.push({
        concurrency,
        seconds,
        migrations: results[0]?.applied.length ?? 0,
        perDatabaseMs: { median: median(results.map((r) => r.ms)), max: Math.max(...results.map((r) => r.ms)) },
        failed,
      });
      log(`C: concurrency ${concurrency}: ${seconds.toFixed(2)} s${failed.length ? `, ${failed.length} failed` : ''}`);
      for (const name of names) await dropDatabase(server, name);
    }
    const loadAfter = os.loadavg();

    const report = renderReport({ options, startedAt, postgres: `${postgres.description}, ${process.env.BENCH_DATABASE_URL ? `its max_connections must allow about ${maxConnections}` : `max_connections ${maxConnections}`}`, loadBefore, loadAfterLoad, loadAfter, needed, fitBudget, tight, variants, rounds, provisionSeconds, provisionMs, migrationRuns, tenants: slugs.length });
    const resultsDir = path.resolve(__dirname, '..', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    writeFileSync(path.join(resultsDir, `scale-out-${stamp}.md`), report);
    writeFileSync(path.join(resultsDir, 'scale-out-latest.md'), report);
    writeFileSync(
      path.join(resultsDir, `scale-out-${stamp}.json`),
      // The steady-rate runs' every latency and due time (tens of MB) stay out: their summaries are kept.
      JSON.stringify({ startedAt, options, fitBudget, tightBudget: tight ?? null, maxConnections, loadBefore, loadAfterLoad, loadAfter, provisionSeconds, provisionMs, rounds, migrationRuns }, withoutSamples, 2),
    );
    process.stdout.write(report);
  } finally {
    for (const step of cleanup) await step().catch((error) => log(`cleanup: ${error}`));
  }
}

interface ReportInput {
  options: Options;
  startedAt: Date;
  postgres: string;
  loadBefore: number[];
  loadAfterLoad: number[];
  loadAfter: number[];
  needed: number;
  fitBudget: number;
  tight?: number;
  variants: Variant[];
  rounds: Round[];
  provisionSeconds: number;
  provisionMs: number[];
  migrationRuns: MigrationRun[];
  tenants: number;
}

/** A measured run's table cell: p50 / p99, requests/s, and how many requests failed, if any. */
function cell(m: Measured): string {
  const f = (n: number, d = 2) => n.toFixed(d);
  const failed = m.load.non2xx + m.load.errors + m.load.timeouts;
  return `${f(m.load.p50)} / ${f(m.load.p99)} ms, ${f(m.load.requestsPerSecond, 0)}/s${failed ? `, **${failed} failed**` : ''}`;
}

function renderReport(input: ReportInput): string {
  const { options, rounds, variants, migrationRuns } = input;
  const f = (n: number, d = 2) => n.toFixed(d);
  const loads = (l: number[]) => l.map((v) => v.toFixed(2)).join(', ');
  const of = (round: Round, key: VariantKey) => round.results[key]!;
  const ratio = (key: VariantKey, pick: (r: LoadResult) => number, base: VariantKey = 'A') => rounds.map((round) => pick(of(round, key).load) / pick(of(round, base).load));
  const p50Ratio = ratio('B', (r) => r.p50);
  const medianRatio = median(p50Ratio);
  const hasT = variants.some((v) => v.key === 'T');
  const hasFloor = variants.some((v) => v.key === 'FA');
  const medianOf = (key: VariantKey, pick: (r: LoadResult) => number) => median(rounds.map((round) => pick(of(round, key).load)));

  const lines = [
    `# Dedicated databases: request latency and migration time (${input.startedAt.toISOString()})`,
    '',
    `${os.cpus().length} cores, Node ${process.version}; ${input.postgres}; every API process, the load generator and PostgreSQL on the same machine.`,
    `Load average before ${loads(input.loadBefore)}, after the load runs ${loads(input.loadAfterLoad)}, at the end ${loads(input.loadAfter)} (other work on the machine shows here).`,
    `Options: ${JSON.stringify(options)}.`,
    '',
    `${input.tenants} tenants x ${options.docsPerTenant} documents per API, created by POST /tenants (owner signs in: JWT); GET /documents/:id spread evenly over every tenant's documents, ${options.connections} connections in a closed loop, document cache off.`,
    `DB_POOL_SIZE ${options.poolSize}, DB_POOL_SIZE_PER_DATABASE ${options.poolSizePerDatabase}, DB_POOL_IDLE_CLOSE_MS ${IDLE_CLOSE_MS} (no pool closes while its process waits for its turn).`,
    '',
    '| variant | what |',
    '|---|---|',
    ...variants.map((v) => `| ${v.key} | ${v.label} |`),
    '',
    `B's budget: ${input.fitBudget} = max(default ${DEFAULT_POOL_BUDGET}, ${options.poolSize} + ${options.dedicated} x ${options.poolSizePerDatabase} = ${input.needed})${input.fitBudget > DEFAULT_POOL_BUDGET ? `: the default ${DEFAULT_POOL_BUDGET} does **not** fit every pool, so B runs with ${input.fitBudget}` : ': the default fits every pool'}.`,
    `Placing the ${options.dedicated} dedicated tenants through POST /tenants (each creates its database, migrates it, writes its name and the tenant's anchor): ${f(input.provisionSeconds, 1)} s, median ${f(median(input.provisionMs), 0)} ms per tenant.`,
    '',
    "## Every core busy (closed loop): p50 with one shared and dedicated databases against one shared database",
    '',
    `Each cell: p50 / p99, requests/s.`,
    '',
    `| round | order | A: shared only | B: 1 shared + ${options.dedicated} dedicated | B/A p50 | B/A req/s | connections opened A / B |${hasT ? ` T: budget ${input.tight} | T/A p50 | T pools opened / evicted |` : ''}`,
    `|---|---|---:|---:|---:|---:|---:|${hasT ? '---:|---:|---:|' : ''}`,
    ...rounds.map((round, i) => {
      const a = of(round, 'A');
      const b = of(round, 'B');
      const base = `| ${i + 1} | ${round.order.join(', ')} | ${cell(a)} | ${cell(b)} | ${f(b.load.p50 / a.load.p50)}x | ${f(b.load.requestsPerSecond / a.load.requestsPerSecond)} | ${a.sessionsStarted} / ${b.sessionsStarted} |`;
      if (!hasT) return base;
      const t = of(round, 'T');
      return `${base} ${cell(t)} | ${f(t.load.p50 / a.load.p50)}x | ${t.pools!.opened} / ${t.pools!.evicted} |`;
    }),
    '',
    `Median p50: A ${f(medianOf('A', (r) => r.p50))} ms, B ${f(medianOf('B', (r) => r.p50))} ms${hasT ? `, T ${f(medianOf('T', (r) => r.p50))} ms` : ''}. Median p99: A ${f(medianOf('A', (r) => r.p99))} ms, B ${f(medianOf('B', (r) => r.p99))} ms${hasT ? `, T ${f(medianOf('T', (r) => r.p99))} ms` : ''}. Median req/s: A ${f(medianOf('A', (r) => r.requestsPerSecond), 0)}, B ${f(medianOf('B', (r) => r.requestsPerSecond), 0)}${hasT ? `, T ${f(medianOf('T', (r) => r.requestsPerSecond), 0)}` : ''}.`,
    '',
    `Median ratio of p50 with every core busy (B / A): **${f(medianRatio)}x** (target <= 1.2x: **${medianRatio <= 1.2 ? 'met' : 'not met'}**; per round ${p50Ratio.map((r) => f(r)).join(', ')}).`,
    `B's pools opened during measured runs: ${rounds.map((round) => of(round, 'B').pools!.opened).join(', ')}; evicted: ${rounds.map((round) => of(round, 'B').pools!.evicted).join(', ')} (every pool opened in the warm-up and stayed open).`,
    ...(hasFloor
      ? [
          '',
          '| round | FA: floor of A | FB: floor of B | FB/FA p50 | FB/FA req/s |',
          '|---|---:|---:|---:|---:|',
          ...rounds.map((round, i) => {
            const fa = of(round, 'FA');
            const fb = of(round, 'FB');
            return `| ${i + 1} | ${cell(fa)} | ${cell(fb)} | ${f(fb.load.p50 / fa.load.p50)}x | ${f(fb.load.requestsPerSecond / fa.load.requestsPerSecond)} |`;
          }),
          '',
          `Floor (bare node:http + pg, the same statement): median p50 FA ${f(medianOf('FA', (r) => r.p50))} ms, FB ${f(medianOf('FB', (r) => r.p50))} ms; ` +
            `median ratio of p50 (FB / FA): **${f(median(ratio('FB', (r) => r.p50, 'FA')))}x** (per round ${ratio('FB', (r) => r.p50, 'FA').map((r) => f(r)).join(', ')}); ` +
            `req/s FB / FA ${f(median(ratio('FB', (r) => r.requestsPerSecond, 'FA')))}. What PostgreSQL on this server charges for the spread, with nothing of ours around the statement: compare with B / A.`,
        ]
      : []),
    ...(hasT
      ? [
          `Median ratio of p50 (T / A): **${f(median(ratio('T', (r) => r.p50)))}x**, with a budget of ${input.tight} where every pool at DB_POOL_SIZE_PER_DATABASE needs ${input.needed}: ` +
            `each dedicated pool holds up to ${dedicatedPoolMax({ budget: input.tight!, sharedMax: options.poolSize, perDatabaseMax: options.poolSizePerDatabase, databases: options.dedicated })} (dedicatedPoolMax); ` +
            'pools evicted show in the table (an evicted pool closes its connections, and a request for a database without a pool waits for one to close).',
        ]
      : []),
    '',
    ...cpuSection(input, 'closed-loop runs (every core busy)', (round) => round.results),
    ...input.options.rates.flatMap((rate, index) => cpuSection(input, `runs at a steady ${rate} requests/s`, (round) => round.steady[index])),
    ...steadySection(input),
    `## Migration time across ${options.dedicated} databases`,
    '',
    `Empty databases (owned by app_owner, roles existing) migrated by migrateDatabases (what \`migrate --all\` runs: each database in its own connection, one transaction per migration, under that database's advisory lock); fresh databases for each run.`,
    '',
    '| concurrency | migrations per database | wall time | per database, median / max | failed |',
    '|---:|---:|---:|---:|---|',
    ...migrationRuns.map((run) => `| ${run.concurrency} | ${run.migrations} | ${f(run.seconds)} s | ${f(run.perDatabaseMs.median / 1000)} / ${f(run.perDatabaseMs.max / 1000)} s | ${run.failed.length ? run.failed.join('; ') : 'none'} |`),
    '',
    ...(migrationRuns.length > 1
      ? [`Wall time at concurrency ${migrationRuns[0].concurrency} / at ${migrationRuns[migrationRuns.length - 1].concurrency}: **${f(migrationRuns[0].seconds / migrationRuns[migrationRuns.length - 1].seconds)}x**.`, '']
      : []),
  ];
  return lines.join('\n');
}

/**
 * The steady-rate measures: each variant at each --rates entry's requests/s (open loop, latency from when each
 * request was due), a load every variant serves without the cores saturated. What a request costs
 * in time with dedicated databases as a service is run, beside the closed loop's capacity.
 */
function steadySection(input: ReportInput): string[] {
  return input.options.rates.flatMap((rate, index) => steadyRateSection(input, rate, index));
}

function steadyRateSection(input: ReportInput, rate: number, index: number): string[] {
  const { options, rounds, variants } = input;
  const f = (n: number, d = 2) => n.toFixed(d);
  const keys = variants.map((v) => v.key);
  const of = (round: Round, key: VariantKey) => round.steady[index][key]!;
  const ratios = (key: VariantKey, base: VariantKey) => rounds.map((round) => of(round, key).load.p50 / of(round, base).load.p50);
  const lateness = rounds.flatMap((round) => keys.map((key) => of(round, key).load.paced?.lateness.p99 ?? NaN));
  const hasFloor = keys.includes('FA');
  const bOverA = ratios('B', 'A');
  const verdict = median(bOverA);
  return [
    `## p50 at a steady ${rate} requests/s`,
    '',
    `Each variant right after its closed-loop run: ${rate} requests/s for ${options.duration} s, evenly spaced (open loop, up to ${options.connections} connections), each request's latency counted from when it was due (a slow server is not hidden by the sender waiting). The same targets as above. Cores not saturated: what the spread costs a request in time, where the closed loop above measures capacity.`,
    '',
    `| round | ${keys.join(' | ')} | B/A p50 |${hasFloor ? ' FB/FA p50 |' : ''}`,
    `|---|${keys.map(() => '---:').join('|')}|---:|${hasFloor ? '---:|' : ''}`,
    ...rounds.map((round, i) => `| ${i + 1} | ${keys.map((key) => cell(of(round, key))).join(' | ')} | ${f(bOverA[i])}x |${hasFloor ? ` ${f(ratios('FB', 'FA')[i])}x |` : ''}`),
    '',
    `Median ratio of p50 at ${rate} requests/s (B / A): **${f(verdict)}x** (target <= 1.2x: **${verdict <= 1.2 ? 'met' : 'not met'}**; per round ${bOverA.map((r) => f(r)).join(', ')})` +
      (keys.includes('T') ? `; T / A ${f(median(ratios('T', 'A')))}x` : '') +
      (hasFloor ? `; floor FB / FA ${f(median(ratios('FB', 'FA')))}x` : '') +
      `. The sender's own lateness (its timer, on the same cores), p99 over every run: at most ${f(Math.max(...lateness))} ms.`,
    '',
  ];
}

/**
 * Where each request's CPU went, per variant (median over rounds): the API process and PostgreSQL.
 * Read against the p50 ratios: with every process on the same cores, what PostgreSQL spends more per
 * request in B than in A slows B's API as much as what the API spends itself.
 */
function cpuSection(input: ReportInput, runs: string, pick: (round: Round) => Partial<Record<VariantKey, Measured>>): string[] {
  const { rounds, variants } = input;
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : 'n/a');
  const r = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}x` : 'n/a');
  type Side = 'api' | 'postgres' | 'both';
  const cpu = (round: Round, key: VariantKey, side: Side) => {
    const { api, postgres } = pick(round)[key]!.cpuUsPerRequest;
    return side === 'api' ? api : side === 'postgres' ? postgres : api + postgres;
  };
  const medianCpu = (key: VariantKey, side: Side) => median(rounds.map((round) => cpu(round, key, side)));
  // As every other ratio of the report: the median of the per-round ratios.
  const ratio = (x: VariantKey, y: VariantKey, side: Side) => r(median(rounds.map((round) => cpu(round, x, side) / cpu(round, y, side))));
  const pairs: Array<[VariantKey, VariantKey]> = [['B', 'A'], ...(variants.some((v) => v.key === 'FA') ? [['FB', 'FA'] as [VariantKey, VariantKey]] : [])];
  return [
    `### CPU per request: ${runs}`,
    '',
    `CPU time (user + system, from /proc) per request served during the ${runs}, median over rounds, in microseconds: the API process (every thread) and PostgreSQL (postmaster and backends). The load generator is not counted.`,
    '',
    '| variant | API process | PostgreSQL | both |',
    '|---|---:|---:|---:|',
    ...variants.map((v) => `| ${v.key} | ${f(medianCpu(v.key, 'api'))} | ${f(medianCpu(v.key, 'postgres'))} | ${f(medianCpu(v.key, 'both'))} |`),
    '',
    ...pairs.map(([x, y]) => `${x} / ${y} (median of the per-round ratios): API ${ratio(x, y, 'api')}, PostgreSQL ${ratio(x, y, 'postgres')}, both ${ratio(x, y, 'both')}.`),
    '',
  ];
}

main().catch((error) => {
  process.stderr.write(`bench:scale-out failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
