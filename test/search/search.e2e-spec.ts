import pg from 'pg';
import { startTestApp, TestApp } from '../helpers/test-app';

/**
 * Semantic search over HTTP, on the engine the test servers have: the exact scan (no pgvector
 * here; the HNSW path is proven on PGlite's pgvector build, hnsw-pglite.e2e-spec.ts). A small
 * EMBEDDING_DIMENSION keeps the bodies readable; the checks do not depend on it.
 */
const DIM = 8;

/** A deterministic unit-ish vector: axis `i` dominant, a little of every other axis. */
function vec(i: number, jitter = 0): number[] {
  return Array.from({ length: DIM }, (_, j) => (j === i % DIM ? 1 : 0.1 * ((i + j) % 3)) + jitter * (j + 1));
}

describe('semantic search over HTTP', () => {
  let t: TestApp;
  const docs: Record<string, string[]> = { alpha: [], bravo: [] };

  async function doc(tenant: string, title: string, tags: string[] = []): Promise<string> {
    const created = await t.request('POST', '/documents', { tenant, body: { title, tags } });
    expect(created.status).toBe(201);
    return created.body.id;
  }

  beforeAll(async () => {
    t = await startTestApp({ EMBEDDING_DIMENSION: String(DIM) });
    await t.createTenant('alpha');
    await t.createTenant('bravo');
    // Identical vectors in both tenants: bravo's copy of each of alpha's documents, plus more of its own.
    for (let i = 0; i < 3; i++) {
      for (const tenant of ['alpha', 'bravo']) {
        const id = await doc(tenant, `${tenant} ${i}`, i === 0 ? ['x'] : []);
        docs[tenant].push(id);
        expect((await t.request('PUT', `/documents/${id}/embedding`, { tenant, body: { embedding: vec(i) } })).status).toBe(201);
      }
    }
    for (let i = 3; i < 15; i++) {
      const id = await doc('bravo', `bravo ${i}`, ['x']);
      docs.bravo.push(id);
      expect((await t.request('PUT', `/documents/${id}/embedding`, { tenant: 'bravo', body: { embedding: vec(0, i * 1e-4) } })).status).toBe(201);
    }
  });
  afterAll(() => t?.close());

  it('stores, replaces (201 then 200), reads back and deletes an embedding', async () => {
    const id = await doc('alpha', 'crud');
    const first = await t.request('PUT', `/documents/${id}/embedding`, { tenant: 'alpha', body: { embedding: vec(1), model: 'm1' } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ documentId: id, dimension: DIM, model: 'm1' });
    // Stored as float4; PostgreSQL prints the shortest decimal that identifies the float4, so a value
    // with up to 6 significant digits comes back exactly as sent.
    expect(first.body.embedding).toEqual(vec(1));
    const replaced = await t.request('PUT', `/documents/${id}/embedding`, { tenant: 'alpha', body: { embedding: vec(2) } });
    expect(replaced.status).toBe(200);
    expect(replaced.body.model).toBeNull();
    expect((await t.request('GET', `/documents/${id}/embedding`, { tenant: 'alpha' })).body.embedding).toEqual(vec(2));
    expect((await t.request('DELETE', `/documents/${id}/embedding`, { tenant: 'alpha' })).status).toBe(204);
    expect((await t.request('GET', `/documents/${id}/embedding`, { tenant: 'alpha' })).status).toBe(404);
    expect((await t.request('DELETE', `/documents/${id}/embedding`, { tenant: 'alpha' })).status).toBe(404);
  });

  it("answers another tenant's document exactly like a missing one (404), and writes nothing there", async () => {
    const foreign = docs.bravo[0];
    const random = '00000000-0000-4000-8000-00000000abcd';
    const put = (id: string) => t.request('PUT', `/documents/${id}/embedding`, { tenant: 'alpha', body: { embedding: vec(5) } });
    const [onForeign, onRandom] = [await put(foreign), await put(random)];
    expect(onForeign.status).toBe(404);
    expect(onForeign.body.error).toEqual(onRandom.body.error);
    expect((await t.request('GET', `/documents/${foreign}/embedding`, { tenant: 'alpha' })).status).toBe(404);
    // Positive control: bravo reads its own, unchanged.
    const own = await t.request('GET', `/documents/${foreign}/embedding`, { tenant: 'bravo' });
    expect(own.status).toBe(200);
    expect(own.body.embedding).toEqual(vec(0));
  });

  it('deleting the document deletes its embedding (foreign key cascade)', async () => {
    const id = await doc('alpha', 'goes away');
    expect((await t.request('PUT', `/documents/${id}/embedding`, { tenant: 'alpha', body: { embedding: vec(3) } })).status).toBe(201);
    const superuser = new pg.Client({ connectionString: t.db.superuserUrl });
    await superuser.connect();
    try {
      const count = async () => (await superuser.query('select count(*)::int as n from document_embeddings where document_id = $1', [id])).rows[0].n;
      expect(await count()).toBe(1);
      expect((await t.request('DELETE', `/documents/${id}`, { tenant: 'alpha' })).status).toBe(204);
      expect(await count()).toBe(0);
    } finally {
      await superuser.end();
    }
  });

  it("returns only the tenant's own documents, best first, for identical vectors held by both", async () => {
    for (const metric of ['cosine', 'inner_product']) {
      for (let k = 1; k <= 20; k++) {
        const alpha = await t.request('POST', '/documents/search', { tenant: 'alpha', body: { vector: vec(0), k, metric } });
        expect(alpha.status).toBe(200);
        // alpha holds 3 embedded documents (those of the earlier tests are gone or elsewhere): min(k, 3) whatever bravo holds.
        expect(alpha.body).toHaveLength(Math.min(k, 3));
        expect(alpha.body.every((hit: { documentId: string }) => docs.alpha.includes(hit.documentId))).toBe(true);
        expect(alpha.body[0]).toMatchObject({ documentId: docs.alpha[0], title: 'alpha 0' });
        const scores = alpha.body.map((hit: { score: number }) => hit.score);
        expect(scores).toEqual([...scores].sort((a, b) => b - a));
        // Positive control: bravo, searching the same vector, gets its own (it holds 15).
        const bravo = await t.request('POST', '/documents/search', { tenant: 'bravo', body: { vector: vec(0), k, metric } });
        expect(bravo.body).toHaveLength(Math.min(k, 15));
        expect(bravo.body.every((hit: { documentId: string }) => docs.bravo.includes(hit.documentId))).toBe(true);
      }
    }
    const cosine = await t.request('POST', '/documents/search', { tenant: 'alpha', body: { vector: vec(0), k: 1 } });
    expect(cosine.body[0].score).toBeCloseTo(1, 5); // the same vector: cosine similarity 1 (metric defaults to cosine)
  });

  it('filters by tag within the tenant', async () => {
    const alpha = await t.request('POST', '/documents/search', { tenant: 'alpha', body: { vector: vec(1), k: 10, filter: { tag: 'x' } } });
    expect(alpha.body.map((hit: { documentId: string }) => hit.documentId)).toEqual([docs.alpha[0]]);
    const bravo = await t.request('POST', '/documents/search', { tenant: 'bravo', body: { vector: vec(1), k: 100, filter: { tag: 'x' } } });
    expect(bravo.body).toHaveLength(13); // bravo 0 and bravo 3..14
    expect((await t.request('POST', '/documents/search', { tenant: 'alpha', body: { vector: vec(1), filter: { tag: 'none' } } })).body).toEqual([]);
  });

  describe('validation (400, the stable error body)', () => {
    let id: string;
    beforeAll(async () => {
      id = await doc('alpha', 'validation');
    });

    const put = (embedding: unknown) => t.request('PUT', `/documents/${id}/embedding`, { tenant: 'alpha', body: { embedding } });
    const search = (body: Record<string, unknown>) => t.request('POST', '/documents/search', { tenant: 'alpha', body: { vector: vec(0), ...body } });
    const rawPut = (json: string) =>
      t.request('PUT', `/documents/${id}/embedding`, { tenant: 'alpha', rawBody: json, headers: { 'content-type': 'application/json' } });

    it('refuses a wrong dimension, non-numbers, float4 overflow and the zero vector', async () => {
      const bad: Array<[unknown, RegExp]> = [
        [vec(0).slice(1), /exactly 8 elements/],
        [[...vec(0), 1], /exactly 8 elements/],
        [[], /expected array to have >=1|too small/i],
        [[...vec(0).slice(1), 'NaN'], /expected number/i],
        [[...vec(0).slice(1), null], /expected number/i],
        [[...vec(0).slice(1), 'Infinity'], /expected number/i],
        [[...vec(0).slice(1), 1e39], /float4 range/],
        [[...vec(0).slice(1), -3.5e38], /float4 range/],
        [Array(DIM).fill(0), /zero vector/],
        [Array(DIM).fill(1e-46), /zero vector/], // each element underflows float4 to 0
        [Array(DIM).fill(3e38), /norm\) is outside float4 range/],
        ['[1,2,3]', /expected array/i],
      ];
      for (const [embedding, message] of bad) {
        const response = await put(embedding);
        expect({ embedding, status: response.status, code: response.body.error?.code }).toEqual({ embedding, status: 400, code: 'VALIDATION_FAILED' });
        expect(response.body.error.details.map((d: { message: string }) => d.message).join(' ')).toMatch(message);
      }
      // JSON numbers beyond float8 are parsed as Infinity: refused the same way.
      const overflow = await rawPut(`{"embedding":[${vec(0).slice(1).join(',')},1e400]}`);
      expect(overflow.status).toBe(400);
      expect(overflow.body.error.details[0].message).toMatch(/finite|expected number/i);
      // Positive controls: the right length with the largest float4 in it, and a plain vector.
      expect((await put([...Array(DIM - 1).fill(0), 3.4028234663852886e38])).status).toBe(201);
      expect((await put(vec(0))).status).toBe(200);
      expect((await rawPut(`{"embedding":[${vec(0).join(',')}]}`)).status).toBe(200);
    });

    it('refuses a bad search: vector, k out of 1..100, unknown metric or field', async () => {
      const bad: Array<Record<string, unknown>> = [
        { vector: vec(0).slice(2) },
        { vector: [...vec(0).slice(1), 1e39] },
        { vector: Array(DIM).fill(0) }, // cosine of the zero vector is undefined
        { k: 0 },
        { k: 101 },
        { k: 2.5 },
        { metric: 'euclidean' },
        { filter: { tag: '' } },
        { filter: { owner: 'x' } },
        { tenantId: '00000000-0000-4000-8000-000000000001' },
      ];
      for (const body of bad) {
        const response = await search(body);
        expect({ body, status: response.status, code: response.body.error?.code }).toEqual({ body, status: 400, code: 'VALIDATION_FAILED' });
      }
      // Positive controls: the bounds themselves, and the zero vector for the inner product (all scores 0).
      expect((await search({ k: 1 })).status).toBe(200);
      expect((await search({ k: 100, metric: 'inner_product' })).status).toBe(200);
      const zero = await search({ vector: Array(DIM).fill(0), metric: 'inner_product' });
      expect(zero.status).toBe(200);
      expect(zero.body.every((hit: { score: number }) => hit.score === 0)).toBe(true);
    });
  });

  it('names the engine in /health/ready', async () => {
    const ready = await t.request('GET', '/health/ready');
    expect(ready.body.details.vectors).toEqual({ status: 'up', engine: 'exact-scan', dimension: DIM, reason: 'the pgvector extension is not installed' });
  });
});
