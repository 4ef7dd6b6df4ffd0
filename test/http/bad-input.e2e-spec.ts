import { startTestApp, TestApp } from '../helpers/test-app';

/** Hostile or sloppy input gets a 4xx with the error envelope, never a 500. */
describe('bad input never becomes a 500', () => {
  let t: TestApp;
  let docId: string;

  beforeAll(async () => {
    t = await startTestApp();
    await t.createTenant('inputs');
    for (let i = 0; i < 3; i++) {
      const doc = await t.request('POST', '/documents', { tenant: 'inputs', body: { title: `doc ${i}`, tags: ['漢'.repeat(50)] } });
      docId = doc.body.id;
    }
  });
  afterAll(() => t?.close());

  const cases: Array<[string, string, string, unknown?, string?]> = [
    ['NUL byte in a title', 'POST', '/documents', { title: 'a\u0000b' }],
    ['NUL byte in a tag', 'POST', '/documents', { title: 'ok', tags: ['x\u0000'] }],
    ['NUL byte in a comment', 'POST', '/documents/:id/comments', { body: '\u0000' }],
    ['NUL byte in a tag filter', 'GET', '/documents?tag=%00', undefined],
    ['wrong types', 'POST', '/documents', { title: 42, tags: 'x' }],
    ['array body', 'POST', '/documents', [1, 2]],
    ['null body', 'POST', '/documents', null],
    ['huge limit', 'GET', '/documents?limit=1e400', undefined],
    ['negative limit', 'GET', '/documents?limit=-1', undefined],
    ['garbage cursor', 'GET', '/documents?cursor=%F0%9F%92%A9', undefined],
    ['not a uuid', 'GET', '/documents/not-a-uuid', undefined],
    ['uuid-ish overflow', 'GET', '/documents/ffffffff-ffff-ffff-ffff-ffffffffffffff', undefined],
    ['unknown query field', 'GET', '/documents?tenantId=x', undefined],
    ['body too large', 'POST', '/documents', { title: 'x', body: 'y'.repeat(2 * 1024 * 1024) }],
  ];

  it.each(cases)('%s -> 4xx with the error envelope', async (_name, method, path, body) => {
    const response = await t.request(method, path.replace(':id', docId), { tenant: 'inputs', body });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.body).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) }, requestId: expect.any(String) });
    expect(JSON.stringify(response.body)).not.toMatch(/select |insert |constraint|violates|stack|at \//i);
  });

  it('pages through a long non-Latin tag filter with a cursor (a long cache key)', async () => {
    const tag = encodeURIComponent('漢'.repeat(50));
    const first = await t.request('GET', `/documents?limit=1&tag=${tag}`, { tenant: 'inputs' });
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(1);
    const second = await t.request('GET', `/documents?limit=1&tag=${tag}&cursor=${first.body.nextCursor}`, { tenant: 'inputs' });
    expect(second.status).toBe(200);
    expect(second.body.items[0].id).not.toBe(first.body.items[0].id);
  });

  it('accepts the same requests when the input is sound (positive control)', async () => {
    expect((await t.request('POST', '/documents', { tenant: 'inputs', body: { title: 'ab', tags: ['x'] } })).status).toBe(201);
    expect((await t.request('GET', '/documents?limit=100&tag=x', { tenant: 'inputs' })).status).toBe(200);
    expect((await t.request('POST', `/documents/${docId}/comments`, { tenant: 'inputs', body: { body: 'fine' } })).status).toBe(201);
  });
});
