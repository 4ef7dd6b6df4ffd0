import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { commandLine, nonNegativeInt, parsedOrRefused, positiveInt } from './command-line';
import { obtainCredentials } from './credentials';
import type { LoadResult, LoadTarget } from './load';
import { createBenchDatabase, startServer, withClient } from './postgres';
import { benchApiEnv, runLoad, startApiServer } from './processes';
import { OwnerConnections } from '../src/database/owner-connections';
import { TenantVectorIndexes, VectorExtensionMissingError } from '../src/database/tenant-vector-indexes';

/**
 * `npm run bench:vectors`: semantic search (POST /documents/search) latency and throughput by the
 * size of the searching tenant (README "Semantic search"). One API process on a real PostgreSQL,
 * with whichever engine that server offers (the report names it: the exact scan without pgvector,
 * HNSW with it, e.g. BENCH_DATABASE_URL pointing at the docker-compose pgvector image).
 *
 * What is seeded (all in SQL, generate_series + random(), so 100k x 384 floats take seconds per
 * tenant rather than an HTTP call each):
 * - --tenants background tenants, each with --background documents and embeddings (their
 *   holdings are what a tenant's search must not be affected by);
 * - one target tenant per --sizes entry, holding exactly that many.
 * Full size (100 tenants x 1,000 background + 10,000 + 100,000 targets, dimension 384) is about
 * 210,000 rows of ~1.6 kB: ~350 MB of heap. Seeding 100 tenants x 100,000 each (10 M vectors,
 * ~15 GB as real[]) is possible with --background 100000 but not what the defaults do.
 *
 * Each target is searched (random query vectors, --k, cosine) by --connections connections for
 * --duration seconds, closed loop (as fast as answers come): p50/p99 latency and requests/s.
 *
 * With pgvector, each measured tenant gets its own HNSW indexes first (TenantVectorIndexes, what
 * `tenants vector-index` runs; the build time is reported); --no-tenant-index measures pgvector's
 * exact sort instead, what a tenant without them gets. Background tenants get none.
 *
 * Flags: --tenants N (100), --sizes a,b (10000,100000), --background N (1000), --dimension D (384),
 * --k K (10), --connections C (8), --duration S (10), --warmup S (2), --no-tenant-index.
 */

interface Options {
  tenants: number;
  sizes: number[];
  background: number;
  dimension: number;
  k: number;
  connections: number;
  duration: number;
  warmup: number;
  tenantIndex: boolean;
}

const log = (message: string) => process.stderr.write(`[bench:vectors] ${message}\n`);

/** Searches a measured run should complete at least (its duration is stretched for a slow engine). */
const MIN_COMPLETED = 20;
const MAX_RUN_SECONDS = 120;
/** DB_STATEMENT_TIMEOUT_MS of the bench's API, in seconds: a 100k-vector exact scan is measured rather than cut off. */
const SEARCH_TIMEOUT_SECONDS = 120;

const sizeList = (raw: string): number[] => raw.split(',').map((part) => positiveInt(part.trim()));

function vectorsCommand(): Command {
  return commandLine('bench:vectors', "Semantic search latency and throughput by the searching tenant's size, beside background tenants. BENCH_DATABASE_URL: an existing server (e.g. one with pgvector).")
    .option('--tenants <n>', 'background tenants', positiveInt, 100)
    .option('--sizes <list>', 'vectors of each measured tenant, comma-separated', sizeList, [10_000, 100_000])
    .option('--background <n>', 'vectors of each background tenant', nonNegativeInt, 1_000)
    .option('--dimension <n>', 'EMBEDDING_DIMENSION', positiveInt, 384)
    .option('--k <n>', 'k of every search', positiveInt, 10)
    .option('--connections <n>', 'concurrent connections', positiveInt, 8)
    .option('--duration <s>', 'seconds per measured run', positiveInt, 10)
    .option('--warmup <s>', 'warm-up seconds per tenant', nonNegativeInt, 2)
    .option('--no-tenant-index', "with pgvector: do not build the measured tenants' own HNSW indexes (measures the exact sort)");
}

/** `count` documents with embeddings for the tenant, in one statement each (random vectors in [-0.5, 0.5)). */
async function seedVectors(superuserUrl: string, tenantId: string, count: number, dimension: number): Promise<void> {
  if (count === 0) return;
  await withClient(superuserUrl, async (client) => {
    await client.query(
      `with docs as (
         insert into documents (tenant_id, title, tags)
         select $1::uuid, 'vector doc ' || g, case when g % 10 = 0 then array['tenth'] else '{}' end from generate_series(1, $2::int) g
         returning tenant_id, id)
       insert into document_embeddings (tenant_id, document_id, embedding, norm)
       select tenant_id, id, v, sqrt((select sum(x * x) from unnest(v) x))
         from (select tenant_id, id, (select array_agg(random()::real - 0.5) from generate_series(1, $3::int) where d.id is not null) v from docs d) s`,
      [tenantId, count, dimension],
    );
  });
}

/**
 * The measured tenants' own HNSW indexes (as `tenants vector-index` builds them); what it took, or
 * why none were built (no pgvector: the exact scan serves).
 */
async function buildTenantIndexes(superuserUrl: string, targets: ReadonlyArray<{ id: string; size: number }>, dimension: number): Promise<string> {
  const owners = new OwnerConnections(superuserUrl, {}, 60_000);
  try {
    const built: string[] = [];
    for (const target of targets) {
      const began = Date.now();
      const indexes = await new TenantVectorIndexes(owners).create({ tenantId: target.id, database: 'shared' }, dimension);
      const megabytes = indexes.reduce((sum, index) => sum + index.bytes, 0) / 1e6;
      built.push(`${target.size} vectors: ${((Date.now() - began) / 1000).toFixed(1)} s, ${megabytes.toFixed(0)} MB`);
      log(`built the ${target.size}-vector tenant's HNSW indexes (cosine, inner product): ${built[built.length - 1]}`);
    }
    return `built (${built.join('; ')})`;
  } catch (error) {
    if (error instanceof VectorExtensionMissingError) return 'none (no pgvector: the exact scan serves)';
    throw error;
  } finally {
    await owners.close();
  }
}

function randomVector(dimension: number): number[] {
  return Array.from({ length: dimension }, () => Math.round((Math.random() - 0.5) * 1e6) / 1e6);
}

async function main(): Promise<void> {
  const command = vectorsCommand();
  if (!parsedOrRefused(command)) return;
  const options = command.opts<Options>();
  const cleanup: Array<() => Promise<void>> = [];
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  try {
    const postgres = await startServer(process.env.BENCH_DATABASE_URL);
    cleanup.unshift(() => postgres.stop());
    const db = await createBenchDatabase(postgres.superuserUrl, 'vectors');
    cleanup.unshift(() => db.drop());

    // Tenants: background ones first, then one per measured size (slugs bench-*, so obtainCredentials signs them in).
    const tenants = await withClient(db.superuserUrl, async (client) => {
      const { rows } = await client.query<{ id: string; slug: string }>(
        `insert into tenants (slug, name, plan)
         select 'bench-' || lpad(g::text, 6, '0'), 'Bench tenant ' || g, 'enterprise' from generate_series(1, $1::int) g
         returning id, slug`,
        [options.tenants + options.sizes.length],
      );
      return rows;
    });
    const background = tenants.slice(0, options.tenants);
    const targets = tenants.slice(options.tenants).map((tenant, i) => ({ ...tenant, size: options.sizes[i] }));
    let seeded = 0;
    for (const tenant of background) {
      await seedVectors(db.superuserUrl, tenant.id, options.background, options.dimension);
      seeded++;
      if (seeded % 10 === 0 || seeded === background.length) log(`seeded ${seeded}/${background.length} background tenants (${options.background} vectors each)`);
    }
    for (const target of targets) {
      const began = Date.now();
      await seedVectors(db.superuserUrl, target.id, target.size, options.dimension);
      log(`seeded the measured tenant of ${target.size} vectors in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    }
    const storage = await withClient(db.superuserUrl, async (client) => {
      await client.query('analyze documents; analyze document_embeddings');
      const { rows } = await client.query<{ rows: string; bytes: string }>(
        `select (select count(*) from document_embeddings) as rows, pg_total_relation_size('document_embeddings') as bytes`,
      );
      return { rows: Number(rows[0].rows), megabytes: Number(rows[0].bytes) / 1e6 };
    });

    const indexing = options.tenantIndex ? await buildTenantIndexes(db.superuserUrl, targets, options.dimension) : 'not built (--no-tenant-index)';
    log(`per-tenant HNSW indexes: ${indexing}`);

    const tmp = mkdtempSync(path.join(os.tmpdir(), 'tenancy-bench-vectors-'));
    cleanup.unshift(async () => rmSync(tmp, { recursive: true, force: true }));
    const api = await startApiServer(
      'api-vectors',
      {
        ...benchApiEnv({ tmp, adminKey: `bench_${randomBytes(24).toString('base64url')}`, jwtSecret: randomBytes(32).toString('base64url'), logLevel: 'log' }),
        DATABASE_URL: db.appUrl,
        BENCH_UNSCOPED_DATABASE_URL: db.superuserUrl,
        DB_POOL_SIZE: '10',
        EMBEDDING_DIMENSION: String(options.dimension),
        // Generous, so a 100k-vector exact scan is measured rather than cut off.
        DB_STATEMENT_TIMEOUT_MS: String(SEARCH_TIMEOUT_SECONDS * 1000),
      },
      { script: 'server.js', execArgv: [] },
    );
    cleanup.unshift(() => api.stop());
    const ready = (await (await fetch(`${api.url}/health/ready`)).json()) as { details?: { vectors?: { engine?: string; reason?: string; pgvector?: string } } };
    const engine = ready.details?.vectors?.engine ?? 'unknown';
    log(`engine: ${engine}${ready.details?.vectors?.reason ? ` (${ready.details.vectors.reason})` : ''}`);
    const headers = await obtainCredentials(api.url, db.superuserUrl, targets);

    const results: Array<{ size: number; result: LoadResult; aloneMs: number; durationSeconds: number }> = [];
    for (const target of targets) {
      // 50 query vectors per tenant, cycled by the load generator.
      const loadTargets: LoadTarget[] = Array.from({ length: 50 }, () => ({
        path: '/documents/search',
        headers: { ...headers.get(target.id)!, 'content-type': 'application/json' },
        json: JSON.stringify({ vector: randomVector(options.dimension), k: options.k, metric: 'cosine' }),
      }));
      const checkStarted = Date.now();
      const check = await fetch(`${api.url}/documents/search`, { method: 'POST', headers: loadTargets[0].headers, body: loadTargets[0].json });
      const hits = (await check.json()) as unknown[];
      const aloneMs = Date.now() - checkStarted;
      if (check.status !== 200 || hits.length !== Math.min(options.k, target.size)) throw new Error(`search on the ${target.size}-vector tenant: ${check.status}, ${hits.length} hits`);
      // A slow engine at this size (the exact scan at 100k: seconds per search) gets a run long enough for
      // MIN_COMPLETED searches at one search per `aloneMs` (the server's best throughput), so p50/p99 are measured, not empty.
      const durationSeconds = Math.min(MAX_RUN_SECONDS, Math.max(options.duration, Math.ceil((aloneMs / 1000) * MIN_COMPLETED)));
      if (options.warmup > 0 && aloneMs < 1000) await runLoad({ url: api.url, targets: loadTargets, connections: options.connections, durationSeconds: options.warmup, seed: 1 });
      // The statement timeout (DB_STATEMENT_TIMEOUT_MS below) bounds a search; the load generator waits as long.
      const result = await runLoad({ url: api.url, targets: loadTargets, connections: options.connections, durationSeconds, seed: 2, timeoutSeconds: SEARCH_TIMEOUT_SECONDS });
      if (!Number.isFinite(result.p50) || result.p50 === null) throw new Error(`no search of the ${target.size}-vector tenant completed within ${durationSeconds} s`);
      log(`${target.size} vectors: one search alone ${aloneMs} ms; under load for ${durationSeconds} s: p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, ${result.requestsPerSecond.toFixed(1)} req/s, ${result.totalRequests} searches, non-2xx ${result.non2xx}`);
      results.push({ size: target.size, result, aloneMs, durationSeconds });
    }

    const base = results[0];
    const lines = [
      `# Semantic search (${startedAt.toISOString()})`,
      '',
      `Engine: **${engine}**${ready.details?.vectors?.pgvector ? ` (pgvector ${ready.details.vectors.pgvector})` : ''}; server: ${postgres.description}; ${os.cpus().length} cores, load average before ${loadBefore.map((v) => v.toFixed(2)).join(' ')}, at the end ${os.loadavg().map((v) => v.toFixed(2)).join(' ')} (seeding shows here).`,
      `Seeded: ${options.tenants} background tenants x ${options.background} vectors, plus one tenant per measured size; dimension ${options.dimension};` +
        ` ${storage.rows} embeddings, document_embeddings ${storage.megabytes.toFixed(0)} MB (before any per-tenant HNSW index).`,
      `Measured tenants' own HNSW indexes: ${indexing}.`,
      `Load: POST /documents/search, k=${options.k}, cosine, ${options.connections} connections, closed loop, at least ${options.duration} s per tenant (longer where one search alone takes long: until about ${MIN_COMPLETED} searches complete, at most ${MAX_RUN_SECONDS} s; warm-up ${options.warmup} s where a search takes under 1 s).`,
      '',
      "| Tenant's vectors | one search alone ms | run s | searches | p50 ms | p99 ms | req/s | p50 vs smallest | non-2xx |",
      '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...results.map(({ size, result, aloneMs, durationSeconds }) =>
        `| ${size} | ${aloneMs} | ${durationSeconds} | ${result.totalRequests} | ${result.p50.toFixed(1)} | ${result.p99.toFixed(1)} | ${result.requestsPerSecond.toFixed(1)} | ${(result.p50 / Math.max(base.result.p50, 0.001)).toFixed(2)}x | ${result.non2xx} |`,
      ),
      '',
    ];
    const report = lines.join('\n');
    const resultsDir = path.resolve(__dirname, '..', 'results');
    mkdirSync(resultsDir, { recursive: true });
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    writeFileSync(path.join(resultsDir, `vectors-${stamp}.md`), report);
    writeFileSync(path.join(resultsDir, 'vectors-latest.md'), report);
    writeFileSync(path.join(resultsDir, `vectors-${stamp}.json`), JSON.stringify({ startedAt, options, engine, storage, indexing, results }, null, 2));
    process.stdout.write(report);
  } finally {
    for (const step of cleanup) await step().catch((error) => log(`cleanup: ${error}`));
  }
}

main().catch((error) => {
  process.stderr.write(`bench:vectors failed: ${error?.stack ?? error}\n`);
  process.exit(1);
});
