import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { AppConfig } from '../../src/config/app-config';
import { createPool } from '../../src/database/pg/pool';
import { SystemDb } from '../../src/database/system-db';
import { createTenantDb } from '../../src/database/tenant-db';
import { VectorEngine } from '../../src/database/vector-engine';
import { OwnerConnections } from '../../src/database/owner-connections';
import { TenantVectorIndex, TenantVectorIndexes, tenantVectorIndexName } from '../../src/database/tenant-vector-indexes';
import { EmbeddingsRepository } from '../../src/search/embeddings.repository';
import { SearchService } from '../../src/search/search.service';
import { Tenant, TenantContext } from '../../src/tenancy/tenant-context';

/**
 * The pgvector engine, which the test PostgreSQL servers cannot run (neither Debian's packages
 * nor the embedded server carry pgvector), on PGlite (PostgreSQL compiled to WebAssembly) with
 * its pgvector build (0.8.x), exposed as a PostgreSQL wire socket so the application's own code
 * runs against it: drizzle/0026 and 0031 as written, TenantVectorIndexes building a tenant's own
 * HNSW indexes through an owner connection, VectorEngine's detection, and SearchService's search
 * through TenantDb (the one-round-trip batch with withSettings' iterative scan).
 *
 * What this does NOT cover: RLS (the tables here are stand-ins with the columns search reads; the
 * real ones come from migrations PGlite is not set up to run), and performance (WebAssembly).
 *
 * 100 tenants each hold 1% of the vectors. SMALL has its own HNSW indexes (partial, WHERE
 * tenant_id = SMALL); PLAIN has none and is searched exactly over its own rows. The points: both
 * get k of their own; a search's work (buffers read) does not change when other tenants' holdings
 * grow, where a shared index's does (the control); a tag filter cannot starve the indexed search.
 */
const DIM = 384;
const TOTAL = 2000;
const SMALL_SHARE = 20; // 1% of TOTAL
const K = 10;

const tenant = (id: string, slug: string): Tenant => ({ id, slug, name: slug, status: 'active', plan: 'free', entitlements: {} as Tenant['entitlements'], database: 'shared' });
const SMALL = tenant('00000000-0000-4000-8000-0000000000aa', 'small');
const BIG_TENANTS = 99;
/** One of the 99 others (each holds ~1% too), with no index of its own. */
const PLAIN = tenant('00000000-0000-4000-8000-000000000001', 'plain');

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
  let owners: OwnerConnections;
  let vectorIndexes: TenantVectorIndexes;
  let built: TenantVectorIndex[];
  let hnswAfterMigrations: string[];

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
    // The migration files as shipped: 0026 builds shared HNSW indexes where the extension is
    // available (it is here), 0031 drops them again.
    for (const file of ['0026_vector_search.sql', '0031_vector_indexes_per_tenant.sql']) {
      const migration = readFileSync(path.join(__dirname, '../../drizzle', file), 'utf8');
      for (const statement of migration.split('--> statement-breakpoint')) await db.exec(statement);
    }
    hnswAfterMigrations = await hnswIndexes();
    // SMALL's own indexes, as `tenants vector-index` builds them (owner connection: PGlite's superuser).
    owners = new OwnerConnections(url, {}, 60_000);
    vectorIndexes = new TenantVectorIndexes(owners);
    built = await vectorIndexes.create({ tenantId: SMALL.id, database: 'shared' }, DIM);

    pool = createPool({ url, max: 1, statementTimeoutMs: 60_000, applicationName: 'pglite-test' });
    const config = { vectors: { dimension: DIM } } as AppConfig;
    engine = new VectorEngine(new SystemDb(pool), config);
    await engine.onModuleInit();
    const tenantDb = createTenantDb(pool);
    service = new SearchService(new EmbeddingsRepository(tenantDb), engine, config, tenantDb);
    const { rows } = await db.query<{ v: number[] }>(`select (select array_agg(random()::real - 0.5) from generate_series(1, ${DIM}) where g > 0) v from generate_series(1, 5) g`);
    queryVectors = rows.map((row) => row.v);
    await db.exec('analyze documents; analyze document_embeddings');
  }, 300_000);

  afterAll(async () => {
    await pool?.end();
    await owners?.close();
    await raw?.end();
    child?.kill('SIGTERM');
  });

  const hnswIndexes = async () =>
    (await db.query<{ name: string }>(`select indexname as name from pg_indexes where tablename = 'document_embeddings' and indexdef like '%hnsw%' order by 1`)).rows.map((row) => row.name);
  const smallCosine = tenantVectorIndexName(SMALL.id, 'cosine');
  const nearest = (who: Tenant, q: number[], extra = '') =>
    `select e.document_id from document_embeddings e join documents d on d.tenant_id = e.tenant_id and d.id = e.document_id
      where e.tenant_id = '${who.id}' ${extra} order by (e.embedding)::vector(${DIM}) <=> '{${q.join(',')}}'::real[]::vector(${DIM}) limit ${K}`;
  const planOf = async (text: string, values?: unknown[]) => (await raw.query<{ 'QUERY PLAN': string }>(`explain ${text}`, values)).rows.map((row) => row['QUERY PLAN']).join('\n');
  const ownIds = async (who: Tenant) => new Set((await db.query<{ id: string }>(`select document_id as id from document_embeddings where tenant_id = '${who.id}'`)).rows.map((row) => row.id));
  /** Index scans counted on `name` so far (statistics reach the shared counters lazily: flushed first). */
  const scansOf = async (name: string) => {
    await db.exec('select pg_stat_force_next_flush()');
    await db.exec('select pg_stat_clear_snapshot()');
    return Number((await db.query<{ n: string }>(`select coalesce(sum(idx_scan), 0) as n from pg_stat_user_indexes where indexrelname = '${name}'`)).rows[0].n);
  };
  /** Buffers the statement touched (EXPLAIN ANALYZE's top node: the whole statement's), and the plan's text. */
  const workOf = async (text: string) => {
    const { rows } = await db.query<{ 'QUERY PLAN': [{ Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }] }>(`explain (analyze, buffers, format json) ${text}`);
    const plan = rows[0]['QUERY PLAN'][0].Plan;
    return { blocks: plan['Shared Hit Blocks'] + plan['Shared Read Blocks'], plan: JSON.stringify(plan) };
  };

  it('no shared HNSW index after the migrations; the tenant\'s own, built by TenantVectorIndexes; the engine detects pgvector', async () => {
    expect(hnswAfterMigrations).toEqual([]);
    expect(built.map((index) => ({ tenantId: index.tenantId, metric: index.metric, valid: index.valid, dimension: index.dimension }))).toEqual([
      { tenantId: SMALL.id, metric: 'cosine', valid: true, dimension: DIM },
      { tenantId: SMALL.id, metric: 'inner_product', valid: true, dimension: DIM },
    ]);
    expect(await hnswIndexes()).toEqual([smallCosine, tenantVectorIndexName(SMALL.id, 'inner_product')].sort());
    // Idempotent: a second run keeps them (what resuming a failed run relies on).
    expect((await vectorIndexes.create({ tenantId: SMALL.id, database: 'shared' }, DIM)).map((index) => index.name)).toEqual(built.map((index) => index.name));
    expect(engine.status).toMatchObject({ engine: 'pgvector-hnsw', dimension: DIM, pgvectorVersion: expect.stringMatching(/^0\.8\./) });
  });

  it("plans: the indexed tenant's search can only use its own index; the other tenant's never uses an HNSW index", async () => {
    // Left to itself, the planner already takes SMALL's own index, even for 20 rows.
    expect(await planOf(nearest(SMALL, queryVectors[0]))).toMatch(new RegExp(`Index Scan using ${smallCosine}`));
    // From here on, the exact sort is taken away (session-wide on PGlite's one session), so every
    // index that could serve a search is seen to be chosen: still only the tenant's own.
    await db.exec('set enable_sort = off; set enable_bitmapscan = off; set enable_seqscan = off');
    expect(await planOf(nearest(SMALL, queryVectors[0], "and d.tags @> array['even']"))).toMatch(new RegExp(`Index Scan using ${smallCosine}`));
    // The tenant as TenantDb sends it, a bound parameter: planned with its value, the partial index still matches.
    const bound = nearest(SMALL, queryVectors[0]).replace(`'${SMALL.id}'`, '$1');
    expect(await planOf(bound, [SMALL.id])).toMatch(new RegExp(`Index Scan using ${smallCosine}`));
    // PLAIN has no index: even forced, nothing HNSW, only its own rows sorted.
    for (const text of [nearest(PLAIN, queryVectors[0]), nearest(PLAIN, queryVectors[0], "and d.tags @> array['even']")]) {
      const plan = await planOf(text);
      expect(plan).not.toMatch(/hnsw/);
      expect(plan).toMatch(/Sort/);
    }
  });

  it('with the service (through TenantDb) each gets k of its own, for both metrics and with a filter; the indexed one through its index', async () => {
    for (const who of [SMALL, PLAIN]) {
      const own = await ownIds(who);
      expect(own.size).toBeGreaterThanOrEqual(K * 2);
      const before = await scansOf(smallCosine);
      for (const q of queryVectors) {
        for (const metric of ['cosine', 'inner_product'] as const) {
          const hits = await TenantContext.run({ tenant: who }, () => service.search({ vector: q, k: K, metric }));
          expect(hits).toHaveLength(K);
          expect(hits.every((hit) => own.has(hit.documentId))).toBe(true);
          const scores = hits.map((hit) => hit.score);
          expect(scores).toEqual([...scores].sort((x, y) => y - x));
          // With the tag (half of the tenant's documents): still k, all of them tagged and own.
          const tagged = await TenantContext.run({ tenant: who }, () => service.search({ vector: q, k: K, metric, filter: { tag: 'even' } }));
          expect(tagged).toHaveLength(K);
          expect(tagged.every((hit) => own.has(hit.documentId))).toBe(true);
        }
      }
      // SMALL's cosine searches went through its index (5 queries, with and without the tag); PLAIN's never touch it.
      const delta = (await scansOf(smallCosine)) - before;
      if (who === SMALL) expect(delta).toBeGreaterThanOrEqual(queryVectors.length * 2);
      else expect(delta).toBe(0);
    }
  });

  it("a search's work does not grow with other tenants' vectors; through a shared index (the control) it does", async () => {
    const q = queryVectors[2];
    await db.exec('set hnsw.iterative_scan = relaxed_order; set hnsw.ef_search = 40');
    try {
      // The control: a shared index as drizzle/0026 built it, which PLAIN (no index of its own) is forced onto.
      await db.exec(`create index control_shared_hnsw on document_embeddings using hnsw (((embedding)::vector(${DIM})) vector_cosine_ops)`);
      const shared1 = await workOf(nearest(PLAIN, q));
      const own1 = await workOf(nearest(SMALL, q));
      expect(shared1.plan).toContain('control_shared_hnsw');
      expect(own1.plan).toContain(smallCosine);
      // The other 98 tenants double their holdings (neither SMALL nor PLAIN gets a row).
      await db.exec(`
        insert into documents (tenant_id, id, title)
          select ('00000000-0000-4000-8000-' || lpad(to_hex(2 + g % 98), 12, '0'))::uuid, gen_random_uuid(), 'more ' || g from generate_series(1, ${TOTAL}) g;
        insert into document_embeddings (tenant_id, document_id, embedding, norm)
          select tenant_id, id, v, sqrt((select sum(x * x) from unnest(v) x))
            from (select tenant_id, id, (select array_agg(random()::real - 0.5) from generate_series(1, ${DIM}) where d.id is not null) v
                    from documents d where title like 'more %') s;
        analyze document_embeddings;`);
      const shared2 = await workOf(nearest(PLAIN, q));
      const own2 = await workOf(nearest(SMALL, q));
      // Through the shared index, finding PLAIN's k takes a longer walk past everyone else's vectors.
      expect(shared2.blocks).toBeGreaterThan(shared1.blocks);
      // Through its own index, SMALL's search reads exactly what it read before.
      expect(own2.plan).toContain(smallCosine);
      expect(own2.blocks).toBe(own1.blocks);
      await db.exec('drop index control_shared_hnsw');
      // Without the shared index, PLAIN's search reads its own rows only: as many as it holds.
      const exact = await workOf(nearest(PLAIN, q));
      expect(exact.plan).not.toMatch(/hnsw/);
      const scanned = /"Relation Name":"document_embeddings"[^}]*?"Actual Rows":(\d+)/.exec(exact.plan);
      expect(Number(scanned?.[1])).toBe((await ownIds(PLAIN)).size);
    } finally {
      await db.exec('drop index if exists control_shared_hnsw; reset hnsw.iterative_scan; reset hnsw.ef_search');
    }
  });

  it('a tag filter cannot starve the indexed search: the control without iterative scan comes up short, the service does not', async () => {
    const tagged = "and d.tags @> array['even']";
    await db.exec('set hnsw.iterative_scan = off; set hnsw.ef_search = 10');
    const short: number[] = [];
    try {
      for (const q of queryVectors) short.push((await db.query(nearest(SMALL, q, tagged))).rows.length);
    } finally {
      await db.exec('reset hnsw.iterative_scan; reset hnsw.ef_search');
    }
    expect(short.every((n) => n < K)).toBe(true);
    for (const q of queryVectors) {
      const hits = await TenantContext.run({ tenant: SMALL }, () => service.search({ vector: q, k: K, metric: 'cosine', filter: { tag: 'even' } }));
      expect(hits).toHaveLength(K);
    }
  });

  it('an HNSW scan that ends (hnsw.max_scan_tuples) before k of the tenant\'s matches turn up: the exact scan over its own rows answers, still k', async () => {
    // A tenant of its own for this: 1,000 documents with its own indexes, 20 of them tagged "far",
    // whose vectors point away from the query (-q plus noise): the last an HNSW walk toward q reaches.
    const FAR = tenant('00000000-0000-4000-8000-0000000000bb', 'far');
    const q = queryVectors[0];
    await db.exec(`
      insert into documents (tenant_id, id, title, tags)
        select '${FAR.id}', gen_random_uuid(), 'far ' || g, case when g % 50 = 0 then array['far'] else '{}' end from generate_series(1, 1000) g;
      insert into document_embeddings (tenant_id, document_id, embedding, norm)
        select tenant_id, id, v, sqrt((select sum(x * x) from unnest(v) x))
          from (select d.tenant_id, d.id,
                       case when d.tags @> array['far']
                            then (select array_agg(-x + (random()::real - 0.5) / 20) from unnest('{${q.join(',')}}'::real[]) x where d.id is not null)
                            else (select array_agg(random()::real - 0.5) from generate_series(1, ${DIM}) where d.id is not null) end v
                  from documents d where tenant_id = '${FAR.id}') s;`);
    await vectorIndexes.create({ tenantId: FAR.id, database: 'shared' }, DIM);
    const far = "and d.tags @> array['far']";
    // PGlite has one session: max_scan_tuples holds for the service's statements too (its own settings are transaction-local).
    await db.exec('set hnsw.max_scan_tuples = 1');
    try {
      // Control, with the service's own settings: once past max_scan_tuples the scan returns what it
      // visited and stops; the "far" documents are not among them, so fewer than k come back.
      await db.exec('set hnsw.iterative_scan = relaxed_order; set hnsw.ef_search = 40');
      const short = (await db.query(nearest(FAR, q, far))).rows.length;
      await db.exec('reset hnsw.iterative_scan; reset hnsw.ef_search');
      expect(short).toBeLessThan(K);
      const hits = await TenantContext.run({ tenant: FAR }, () => service.search({ vector: q, k: K, metric: 'cosine', filter: { tag: 'far' } }));
      expect(hits).toHaveLength(K);
    } finally {
      await db.exec('reset hnsw.max_scan_tuples; reset hnsw.iterative_scan; reset hnsw.ef_search');
      await vectorIndexes.drop({ tenantId: FAR.id, database: 'shared' });
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

  it("dropping the tenant's indexes: its search goes back to the exact scan, still k of its own", async () => {
    expect(await vectorIndexes.drop({ tenantId: PLAIN.id, database: 'shared' })).toBe(0);
    expect(await vectorIndexes.drop({ tenantId: SMALL.id, database: 'shared' })).toBe(2);
    expect(await hnswIndexes()).toEqual([]);
    expect(await planOf(nearest(SMALL, queryVectors[0]))).not.toMatch(/hnsw/);
    const hits = await TenantContext.run({ tenant: SMALL }, () => service.search({ vector: queryVectors[0], k: K, metric: 'cosine' }));
    expect(hits).toHaveLength(K);
  });
});
