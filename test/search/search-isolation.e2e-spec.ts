import { sql } from 'drizzle-orm';
import pg from 'pg';
import { documents } from '../../src/database/schema';
import { createPool } from '../../src/database/pg/pool';
import { createTenantDb, SettingRefusedError, TenantDb } from '../../src/database/tenant-db';
import { EmbeddingsRepository, SearchQuery, SearchRow } from '../../src/search/embeddings.repository';
import { Tenant, TenantContext } from '../../src/tenancy/tenant-context';
import { createTestDatabase, TestDatabase } from '../helpers/test-database';

/**
 * Semantic search isolation, each layer proven alone on a real PostgreSQL (the pattern of
 * test/database/tenant-db.e2e-spec.ts), with the exact scan (the engine the test servers have):
 * - the data layer alone: RLS disabled on both tables, the repository's search through TenantDb;
 * - RLS alone: the same search as raw SQL as the app role, with the tenant set and NO tenant filter.
 * Tenant A holds 6 vectors; tenant B holds identical copies of them, near-identical ones
 * (a 1e-6 nudge, scoring above A's own for some queries) and many more. Every k in 1..12 and 50,
 * with and without the tag filter, both metrics: A sees exactly its own nearest, never B's,
 * and how many B holds changes neither A's result nor its count.
 */
const DIM = 16;

/** A server setting as the statement itself sees it. */
const sqlSetting = (name: string) => sql<string | null>`current_setting(${name}, true)`;
const A_COUNT = 6;

function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('semantic search isolation (exact scan)', () => {
  let db: TestDatabase;
  let superuser: pg.Client;
  let pool: pg.Pool;
  let tenantDb: TenantDb;
  let repository: EmbeddingsRepository;
  let a: Tenant;
  let b: Tenant;
  const random = prng(42);
  const randomVector = () => Array.from({ length: DIM }, () => Math.fround(random() * 2 - 1));
  /** A's vectors, by document id, with their tags. */
  const own = new Map<string, { vector: number[]; tags: string[] }>();
  const bIds = new Set<string>();

  const as = <T>(tenant: Tenant, fn: () => PromiseLike<T>): Promise<T> => TenantContext.run({ tenant }, async () => await fn());
  const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

  async function addDocument(tenant: Tenant, vector: number[], tags: string[]): Promise<string> {
    const [doc] = await as(tenant, () => tenantDb.insert(documents).values({ title: `${tenant.slug} doc`, body: '', tags }).returning());
    await as(tenant, () => repository.upsert({ documentId: doc.id, embedding: vector, norm: norm(vector), model: null }));
    return doc.id;
  }

  /** B's holdings grow by `n` random vectors (tagged like A's, so the filter cannot tell them apart either). */
  async function growB(n: number): Promise<void> {
    for (let i = 0; i < n; i++) bIds.add(await addDocument(b, randomVector(), i % 2 ? ['t'] : []));
  }

  /** A's exact answer, computed here from A's vectors alone. */
  function expected(query: SearchQuery): string[] {
    const scored = [...own.entries()]
      .filter(([, row]) => !query.tag || row.tags.includes(query.tag))
      .map(([id, row]) => {
        const dot = row.vector.reduce((s, x, i) => s + x * query.vector[i], 0);
        return { id, score: query.metric === 'cosine' ? dot / (norm(row.vector) * query.norm) : dot };
      })
      .sort((x, y) => y.score - x.score || (x.id < y.id ? -1 : 1));
    return scored.slice(0, query.k).map((row) => row.id);
  }

  /** The queries: each of A's vectors (B holds the identical one) and a nudged copy (B holds it, nearer still). */
  function queries(): SearchQuery[] {
    const out: SearchQuery[] = [];
    for (const { vector } of own.values()) {
      for (const q of [vector, vector.map((x) => Math.fround(x + 1e-6))]) {
        for (const metric of ['cosine', 'inner_product'] as const) {
          for (const k of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 50]) {
            for (const tag of [undefined, 't']) out.push({ vector: q, norm: norm(q), k, metric, tag });
          }
        }
      }
    }
    return out;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    superuser = new pg.Client({ connectionString: db.superuserUrl });
    await superuser.connect();
    pool = createPool({ url: db.appUrl, max: 4, statementTimeoutMs: 10_000, applicationName: 'test' });
    tenantDb = createTenantDb(pool);
    repository = new EmbeddingsRepository(tenantDb);
    const { rows } = await superuser.query(
      `insert into tenants (slug, name) values ('vec-a', 'A'), ('vec-b', 'B') returning id, slug, name, status, plan, database`,
    );
    [a, b] = rows;
    for (let i = 0; i < A_COUNT; i++) {
      const vector = randomVector();
      const tags = i % 2 ? ['t'] : [];
      own.set(await addDocument(a, vector, tags), { vector, tags });
      // B: the identical vector and a near-identical one, with the same tags.
      bIds.add(await addDocument(b, vector, tags));
      bIds.add(await addDocument(b, vector.map((x) => Math.fround(x + 1e-6)), tags));
    }
    await growB(40);
  });

  afterAll(async () => {
    await pool?.end();
    await superuser?.end();
    await db?.drop();
  });

  /** Every query as A through `search`: only A's ids, exactly the expected ones, in order. */
  async function expectOwnOnly(search: (query: SearchQuery) => Promise<Array<{ documentId: string }>>): Promise<number> {
    let checked = 0;
    for (const query of queries()) {
      const ids = (await search(query)).map((row) => row.documentId);
      const want = expected(query);
      if (ids.some((id) => bIds.has(id)) || ids.length !== want.length) {
        throw new Error(`k=${query.k} metric=${query.metric} tag=${query.tag}: got ${ids.length} rows (${ids.filter((id) => bIds.has(id)).length} of B), expected ${want.length}`);
      }
      expect(new Set(ids)).toEqual(new Set(want)); // as sets: equal scores (1e-6 nudges) may tie differently in float
      checked++;
    }
    return checked;
  }

  it('the repository returns exactly the tenant own nearest documents, with both layers on', async () => {
    const checked = await expectOwnOnly((query) => as(a, () => repository.searchExact(query)));
    expect(checked).toBe(A_COUNT * 2 * 2 * 13 * 2);
    // Positive control: B, searching the same vectors, gets its own (more than A holds).
    const bHits = await as(b, () => repository.searchExact({ vector: [...own.values()][0].vector, norm: 1, k: 50, metric: 'inner_product' }));
    expect(bHits).toHaveLength(50);
    expect(bHits.every((hit) => bIds.has(hit.documentId))).toBe(true);
  });

  it("A's result and count do not change when B's holdings grow (n < k gives n)", async () => {
    const probe: SearchQuery = { vector: [...own.values()][0].vector, norm: norm([...own.values()][0].vector), k: 50, metric: 'cosine' };
    const before = await as(a, () => repository.searchExact(probe));
    expect(before).toHaveLength(A_COUNT);
    await growB(60);
    const after = await as(a, () => repository.searchExact(probe));
    expect(after).toEqual(before);
    expect((await as(a, () => repository.searchExact({ ...probe, tag: 't' })))).toHaveLength(A_COUNT / 2);
  });

  it('isolates with the data layer alone (RLS disabled on both tables)', async () => {
    await superuser.query('alter table document_embeddings disable row level security; alter table documents disable row level security');
    try {
      // Positive control: with RLS off, a raw query as the app role sees both tenants' embeddings.
      const raw = new pg.Client({ connectionString: db.appUrl });
      await raw.connect();
      const { rows } = await raw.query('select count(distinct tenant_id)::int as tenants from document_embeddings');
      await raw.end();
      expect(rows[0].tenants).toBe(2);
      expect(await expectOwnOnly((query) => as(a, () => repository.searchExact(query)))).toBeGreaterThan(0);
    } finally {
      await superuser.query('alter table document_embeddings enable row level security; alter table documents enable row level security');
    }
  });

  describe('row-level security alone (raw SQL as the app role, no tenant filter)', () => {
    /** The exact search without any tenant condition: only RLS stands between A and B's rows. */
    const UNFILTERED = `
      select e.document_id as "documentId", public.vector_dot(e.embedding, $1::real[]) / (case when $2 then e.norm::float8 * $3::float8 else 1 end) as score
        from document_embeddings e join documents d on d.id = e.document_id
       where ($4::text is null or d.tags @> array[$4::text])
       order by score desc, e.document_id
       limit $5`;
    const params = (query: SearchQuery) => [query.vector, query.metric === 'cosine', query.norm, query.tag ?? null, query.k];

    async function rawAs(client: pg.Client, tenantId: string | null, query: SearchQuery): Promise<SearchRow[]> {
      await client.query('begin');
      try {
        if (tenantId) await client.query("select set_config('app.tenant_id', $1, true)", [tenantId]);
        return (await client.query<SearchRow>(UNFILTERED, params(query))).rows;
      } finally {
        await client.query('commit');
      }
    }

    it("returns only the tenant's rows for every k and filter", async () => {
      const app = new pg.Client({ connectionString: db.appUrl });
      await app.connect();
      try {
        const first = queries()[0];
        // Positive control: the superuser (bypasses RLS) gets B's identical vector among the nearest.
        const all = (await superuser.query<SearchRow>(UNFILTERED, params({ ...first, k: 2 }))).rows;
        expect(all.some((row) => bIds.has(row.documentId))).toBe(true);
        // No tenant set: nothing at all.
        expect(await rawAs(app, null, first)).toEqual([]);
        expect(await expectOwnOnly((query) => rawAs(app, a.id, query))).toBe(A_COUNT * 2 * 2 * 13 * 2);
      } finally {
        await app.end();
      }
    });
  });

  it('withSettings refuses any setting but the HNSW search knobs', async () => {
    for (const name of ['app.tenant_id', 'statement_timeout', 'row_security', 'role']) {
      await expect(as(a, () => tenantDb.withSettings({ [name]: 'x' }, (db) => db.select().from(documents)))).rejects.toThrow(SettingRefusedError);
    }
    // Positive control: an HNSW knob is applied to the statement, in its batch (read back by the statement itself).
    const [row] = await as(a, () =>
      tenantDb.withSettings({ 'hnsw.ef_search': '123' }, (db) => db.select({ setting: sqlSetting('hnsw.ef_search'), tenant: sqlSetting('app.tenant_id') }).from(documents).limit(1)),
    );
    expect(row).toEqual({ setting: '123', tenant: a.id });
    // Transaction-local: gone after the batch.
    const [after] = await as(a, () => tenantDb.select({ setting: sqlSetting('hnsw.ef_search') }).from(documents).limit(1));
    expect(after.setting ?? '').not.toBe('123');
  });
});
