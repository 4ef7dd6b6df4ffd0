import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { AppConfig } from '../../src/config/app-config';
import { createPool } from '../../src/database/pg/pool';
import { SystemDb } from '../../src/database/system-db';
import { createTenantDb } from '../../src/database/tenant-db';
import { VectorEngine } from '../../src/database/vector-engine';
import { EmbeddingsRepository } from '../../src/search/embeddings.repository';
import { SearchService } from '../../src/search/search.service';
import { Tenant, TenantContext } from '../../src/tenancy/tenant-context';

/**
 * The pgvector engine, which the test PostgreSQL servers cannot run (neither Debian's packages
 * nor the embedded server carry pgvector), on PGlite (PostgreSQL compiled to WebAssembly) with
 * its pgvector build (0.8.x), exposed as a PostgreSQL wire socket so the application's own code
 * runs against it: drizzle/0023's SQL as written, VectorEngine's detection, and SearchService's
 * search through TenantDb (the one-round-trip batch with withSettings' iterative scan).
 *
 * What this does NOT cover: RLS (the tables here are stand-ins with the columns search reads; the
 * real ones come from migrations PGlite is not set up to run), and performance (WebAssembly).
 *
 * The point: one shared HNSW index, a tenant holding 1% of the vectors. A plain index scan takes
 * ef_search candidates of ALL tenants and filters after, so the small tenant gets fewer than k
 * rows, often none (the control); with hnsw.iterative_scan the scan goes on until k rows pass.
 */
const DIM = 384; // drizzle/0023 builds its indexes for 384
const TOTAL = 2000;
const SMALL_SHARE = 20; // 1% of TOTAL
const K = 10;

const SMALL: Tenant = { id: '00000000-0000-4000-8000-0000000000aa', slug: 'small', name: 'Small', status: 'active', plan: 'free', entitlements: {} as Tenant['entitlements'], database: 'shared' };
const BIG_TENANTS = 99;

/** Starts test/helpers/pglite-server.mjs (PGlite cannot load its extensions inside Jest's sandbox); resolves with its port. */
function startPglite(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [path.join(__dirname, '../helpers/pglite-server.mjs')], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /PGLITE_READY (\d+)/.exec(output);
      if (ready) resolve({ child, port: Number(ready[1]) });
    });
    child.on('exit', (code) => reject(new Error(`pglite-server exited (${code}) before it was ready`)));
  });
}

describe('pgvector HNSW engine (PGlite)', () => {
  let child: ChildProcess;
  /** A second client, for setup and the raw checks (the pool's one connection is the application's). */
  let db: { query<T extends pg.QueryResultRow>(text: string): Promise<{ rows: T[] }>; exec(text: string): Promise<unknown> };
  let raw: pg.Client;
  let pool: pg.Pool;
  let service: SearchService;
  let engine: VectorEngine;
  let queryVectors: number[][];

  beforeAll(async () => {
    const started = await startPglite();
    child = started.child;
    const url = `postgres://postgres@127.0.0.1:${started.port}/postgres`;
    raw = new pg.Client({ connectionString: url });
    await raw.connect();
    db = { query: (text) => raw.query(text), exec: (text) => raw.query(text) };
    // Stand-ins for the migrated tables (same names and the columns search reads and writes), the
    // runtime role the migration grants to, and tenancy_set (drizzle/0015) without the directory check.
    await db.exec(`
      create role app_user;
      create table documents (tenant_id uuid not null, id uuid not null default gen_random_uuid(), title text not null, body text not null default '',
        tags text[] not null default '{}', created_by uuid, created_at timestamptz(3) not null default now(), updated_at timestamptz(3) not null default now(),
        primary key (tenant_id, id));
      create table document_embeddings (tenant_id uuid not null, id uuid not null default gen_random_uuid(), document_id uuid not null,
        embedding real[] not null, norm real not null, model text,
        created_at timestamptz(3) not null default now(), updated_at timestamptz(3) not null default now(), primary key (tenant_id, id),
        foreign key (tenant_id, document_id) references documents (tenant_id, id) on delete cascade);
      create unique index document_embeddings_tenant_document_idx on document_embeddings (tenant_id, document_id);
      create function public.tenancy_set(p_tenant uuid) returns boolean language plpgsql as $$
        begin perform pg_catalog.set_config('app.tenant_id', p_tenant::text, true); return true; end $$;
      select setseed(0.42);
      -- 99 tenants share 99% of the vectors; SMALL holds 1%. Random unit-scale vectors.
      insert into documents (tenant_id, id, title, tags)
        select case when g <= ${SMALL_SHARE} then '${SMALL.id}'::uuid
                    else ('00000000-0000-4000-8000-' || lpad(to_hex(1 + g % ${BIG_TENANTS}), 12, '0'))::uuid end,
               gen_random_uuid(), 'doc ' || g, case when g % 2 = 0 then array['even'] else '{}' end
          from generate_series(1, ${TOTAL}) g;
      insert into document_embeddings (tenant_id, document_id, embedding, norm)
        select tenant_id, id, v, sqrt((select sum(x * x) from unnest(v) x))
          from (select tenant_id, id, (select array_agg(random()::real - 0.5) from generate_series(1, ${DIM}) where d.id is not null) v from documents d) s;
    `);
    // The migration file as shipped; its HNSW part runs because the extension is available here.
    const migration = readFileSync(path.join(__dirname, '../../drizzle/0026_vector_search.sql'), 'utf8');
    for (const statement of migration.split('--> statement-breakpoint')) await db.exec(statement);

    pool = createPool({ url, max: 1, statementTimeoutMs: 60_000, applicationName: 'pglite-test' });
    const config = { vectors: { dimension: DIM } } as AppConfig;
    engine = new VectorEngine(new SystemDb(pool), config);
    await engine.onModuleInit();
    const tenantDb = createTenantDb(pool);
    service = new SearchService(new EmbeddingsRepository(tenantDb), engine, config, tenantDb);
    const { rows } = await db.query<{ v: number[] }>(`select (select array_agg(random()::real - 0.5) from generate_series(1, ${DIM}) where g > 0) v from generate_series(1, 5) g`);
    queryVectors = rows.map((row) => row.v);
  }, 300_000);

  afterAll(async () => {
    await pool?.end();
    await raw?.end();
    child?.kill('SIGTERM');
  });

  it('the migration created the extension and both HNSW indexes, and the engine detects them', async () => {
    const { rows } = await db.query<{ name: string }>(`select indexname as name from pg_indexes where tablename = 'document_embeddings' and indexdef like '%hnsw%' order by 1`);
    expect(rows.map((row) => row.name)).toEqual(['document_embeddings_hnsw_cosine_idx', 'document_embeddings_hnsw_ip_idx']);
    expect(engine.status).toMatchObject({ engine: 'pgvector-hnsw', dimension: DIM, pgvectorVersion: expect.stringMatching(/^0\.8\./) });
  });

  const nearest = (q: number[], extra = '') =>
    `select e.document_id from document_embeddings e join documents d on d.tenant_id = e.tenant_id and d.id = e.document_id
      where e.tenant_id = '${SMALL.id}' ${extra} order by (e.embedding)::vector(${DIM}) <=> '{${q.join(',')}}'::real[]::vector(${DIM}) limit ${K}`;
  const planOf = async (text: string) => (await db.query<{ 'QUERY PLAN': string }>(`explain ${text}`)).rows.map((row) => row['QUERY PLAN']).join('\n');

  it("plans: for a small tenant PostgreSQL may prefer the tenant's own rows (an exact sort); forced to the index, it uses HNSW", async () => {
    await db.exec('analyze documents; analyze document_embeddings');
    // Left to itself, the planner reads the 20 rows through a tenant-led btree index and sorts
    // them: exact, and nothing to starve. The tests below take that choice away, so they prove the
    // HNSW path itself, which a tenant with more rows gets.
    expect(await planOf(nearest(queryVectors[0]))).toMatch(/document_embeddings_(pkey|tenant_document_idx)/);
    await db.exec('set enable_sort = off; set enable_bitmapscan = off; set enable_seqscan = off');
    expect(await planOf(nearest(queryVectors[0]))).toMatch(/Index Scan using document_embeddings_hnsw_cosine_idx/);
    expect(await planOf(nearest(queryVectors[0], "and d.tags @> array['even']"))).toMatch(/Index Scan using document_embeddings_hnsw_cosine_idx/);
  });

  it('control: without iterative scan the 1% tenant is starved (fewer than k rows, often none)', async () => {
    const counts: number[] = [];
    await db.exec('set hnsw.iterative_scan = off; set hnsw.ef_search = 40');
    try {
      for (const q of queryVectors) counts.push((await db.query(nearest(q))).rows.length);
    } finally {
      await db.exec('reset hnsw.iterative_scan; reset hnsw.ef_search');
    }
    expect(counts).toHaveLength(queryVectors.length);
    expect(counts.every((n) => n < K)).toBe(true);
  });

  it('with the service (iterative scan, through TenantDb) the 1% tenant gets k of its own, for both metrics and with a filter', async () => {
    const own = new Set((await db.query<{ id: string }>(`select document_id as id from document_embeddings where tenant_id = '${SMALL.id}'`)).rows.map((row) => row.id));
    expect(own.size).toBe(SMALL_SHARE);
    // Proof that the service's statements went through the HNSW indexes (the planner settings of the
    // plan test above are session-wide on PGlite's one session): their scan counters move.
    const scans = async () => {
      // Statistics reach the shared counters lazily: flush them (and drop this session's cached snapshot) first.
      await db.exec('select pg_stat_force_next_flush()');
      await db.exec('select pg_stat_clear_snapshot()');
      return Number((await db.query<{ n: string }>(`select sum(idx_scan) as n from pg_stat_user_indexes where indexrelname like 'document_embeddings_hnsw_%'`)).rows[0].n);
    };
    const before = await scans();
    for (const q of queryVectors) {
      for (const metric of ['cosine', 'inner_product'] as const) {
        const hits = await TenantContext.run({ tenant: SMALL }, () => service.search({ vector: q, k: K, metric }));
        expect(hits).toHaveLength(K);
        expect(hits.every((hit) => own.has(hit.documentId))).toBe(true);
        const scores = hits.map((hit) => hit.score);
        expect(scores).toEqual([...scores].sort((x, y) => y - x));
        // With the tag (half of the tenant's documents): still k, all of them tagged and own.
        const tagged = await TenantContext.run({ tenant: SMALL }, () => service.search({ vector: q, k: K, metric, filter: { tag: 'even' } }));
        expect(tagged).toHaveLength(K);
        expect(tagged.every((hit) => own.has(hit.documentId))).toBe(true);
      }
    }
    expect(await scans()).toBeGreaterThanOrEqual(before + queryVectors.length * 4);
  });

  it('an iterative scan that hnsw.max_scan_tuples stops before k of the tenant turn up: the exact scan over its own rows answers, still k', async () => {
    // PGlite has one session: these hold for the service's statements too (its own settings are transaction-local).
    await db.exec('set hnsw.max_scan_tuples = 1; set hnsw.iterative_scan = relaxed_order; set hnsw.ef_search = 10');
    try {
      // Control: with the scan bounded this tightly, the index alone leaves the 1% tenant short.
      const short: number[] = [];
      for (const q of queryVectors) short.push((await db.query(nearest(q))).rows.length);
      expect(short.some((n) => n < K)).toBe(true);
      for (const q of queryVectors) {
        const hits = await TenantContext.run({ tenant: SMALL }, () => service.search({ vector: q, k: K, metric: 'cosine' }));
        expect(hits).toHaveLength(K);
      }
    } finally {
      await db.exec('reset hnsw.max_scan_tuples; reset hnsw.iterative_scan; reset hnsw.ef_search');
    }
  });

  it('asks for more than the tenant holds: gets all it holds, nothing of the others', async () => {
    const hits = await TenantContext.run({ tenant: SMALL }, () => service.search({ vector: queryVectors[0], k: 100, metric: 'cosine' }));
    expect(hits).toHaveLength(SMALL_SHARE);
  });

  it('scores agree with the exact scan (cosine similarity and inner product)', async () => {
    const q = queryVectors[1];
    const literal = `'{${q.join(',')}}'::real[]`;
    for (const metric of ['cosine', 'inner_product'] as const) {
      const hits = await TenantContext.run({ tenant: SMALL }, () => service.search({ vector: q, k: 3, metric }));
      for (const hit of hits) {
        const { rows } = await db.query<{ dot: number; norm: number }>(`select vector_dot(embedding, ${literal}) as dot, norm from document_embeddings where document_id = '${hit.documentId}'`);
        const qNorm = Math.sqrt(q.reduce((s, x) => s + Math.fround(x) ** 2, 0));
        const exact = metric === 'cosine' ? rows[0].dot / (rows[0].norm * qNorm) : rows[0].dot;
        expect(hit.score).toBeCloseTo(exact, 4);
      }
    }
  });
});
