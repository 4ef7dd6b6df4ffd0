import pg from 'pg';
import { startTestApp, TestApp } from '../helpers/test-app';

/**
 * Two tenants, every tenant route: each sees only its own data, and another
 * tenant's ids are indistinguishable from ids that never existed.
 */
describe('tenant isolation over HTTP', () => {
  let t: TestApp;
  const RANDOM_ID = '3b241101-e2bb-4255-8caf-4136c566a962';
  let own: { doc: string; comment: string };
  let foreign: { doc: string; comment: string };

  const stable = (body: any) => ({ ...body, requestId: undefined, timestamp: undefined, path: undefined });

  async function seed(tenant: string) {
    const doc = await t.request('POST', '/documents', { tenant, body: { title: `${tenant} secret`, body: `${tenant} body`, tags: ['x'] } });
    expect(doc.status).toBe(201);
    const comment = await t.request('POST', `/documents/${doc.body.id}/comments`, { tenant, body: { body: `${tenant} says hi` } });
    expect(comment.status).toBe(201);
    return { doc: doc.body.id as string, comment: comment.body.id as string };
  }

  beforeAll(async () => {
    t = await startTestApp();
    await t.createTenant('alpha');
    await t.createTenant('bravo');
    own = await seed('alpha');
    foreign = await seed('bravo');
  });
  afterAll(() => t?.close());

  it('lists only the own tenant, for documents and comments', async () => {
    const alpha = await t.request('GET', '/documents', { tenant: 'alpha' });
    const bravo = await t.request('GET', '/documents', { tenant: 'bravo' });
    expect(alpha.body.items.map((d: any) => d.id)).toEqual([own.doc]);
    expect(bravo.body.items.map((d: any) => d.id)).toEqual([foreign.doc]);
    const tagged = await t.request('GET', '/documents?tag=x', { tenant: 'alpha' });
    expect(tagged.body.items.map((d: any) => d.id)).toEqual([own.doc]);
    const comments = await t.request('GET', `/documents/${own.doc}/comments`, { tenant: 'alpha' });
    expect(comments.body.items.map((c: any) => c.id)).toEqual([own.comment]);
  });

  // Each route once with the own ids (positive control), then with the other tenant's ids and random ids.
  const routes: Array<{ name: string; call: (ids: { doc: string; comment: string }) => [string, string, unknown?] }> = [
    { name: 'GET /documents/:id', call: (ids) => ['GET', `/documents/${ids.doc}`] },
    { name: 'PATCH /documents/:id', call: (ids) => ['PATCH', `/documents/${ids.doc}`, { title: 'changed by alpha' }] },
    { name: 'GET /documents/:id/comments', call: (ids) => ['GET', `/documents/${ids.doc}/comments`] },
    { name: 'POST /documents/:id/comments', call: (ids) => ['POST', `/documents/${ids.doc}/comments`, { body: 'alpha was here' }] },
    { name: 'DELETE /documents/:id/comments/:commentId', call: (ids) => ['DELETE', `/documents/${ids.doc}/comments/${ids.comment}`] },
    { name: 'DELETE /documents/:id', call: (ids) => ['DELETE', `/documents/${ids.doc}`] },
  ];

  it.each(routes.map((r) => [r.name, r] as const))("%s with the other tenant's ids answers exactly like a random id", async (_name, route) => {
    const [method, foreignPath, body] = route.call(foreign);
    const [, randomPath] = route.call({ doc: RANDOM_ID, comment: RANDOM_ID });
    const viaForeign = await t.request(method, foreignPath, { tenant: 'alpha', body });
    const viaRandom = await t.request(method, randomPath, { tenant: 'alpha', body });
    expect(viaForeign.status).toBe(404);
    expect(stable(viaForeign.body)).toEqual(stable(viaRandom.body));
    // Positive control: bravo reaches its own resource through the same route shape.
    const [m, p] = route.call(foreign);
    if (m === 'GET') expect((await t.request(m, p, { tenant: 'bravo' })).status).toBe(200);
  });

  it('a comment id of the other tenant under an own document is not found either', async () => {
    const response = await t.request('DELETE', `/documents/${own.doc}/comments/${foreign.comment}`, { tenant: 'alpha' });
    expect(response.status).toBe(404);
  });

  it("cross-tenant PATCH and DELETE changed nothing (checked as the owner tenant)", async () => {
    const doc = await t.request('GET', `/documents/${foreign.doc}`, { tenant: 'bravo' });
    expect(doc.status).toBe(200);
    expect(doc.body.title).toBe('bravo secret');
    const comments = await t.request('GET', `/documents/${foreign.doc}/comments`, { tenant: 'bravo' });
    expect(comments.body.items.map((c: any) => c.body)).toEqual(['bravo says hi']);
  });

  it('never honours tenantId or tenant_id in a body', async () => {
    for (const field of ['tenantId', 'tenant_id']) {
      const created = await t.request('POST', '/documents', { tenant: 'alpha', body: { title: 'smuggled', [field]: (await t.request('GET', '/tenants/bravo', { admin: true })).body.id } });
      expect(created.status).toBe(400);
      expect(created.body.error.details[0].message).toContain(field);
      const patched = await t.request('PATCH', `/documents/${own.doc}`, { tenant: 'alpha', body: { title: 'moved', [field]: 'x' } });
      expect(patched.status).toBe(400);
    }
    const bravo = await t.request('GET', '/documents', { tenant: 'bravo' });
    expect(bravo.body.items.map((d: any) => d.title)).toEqual(['bravo secret']);
    // Positive control: the same body without the field is accepted.
    expect((await t.request('POST', '/documents', { tenant: 'alpha', body: { title: 'smuggled' } })).status).toBe(201);
  });

  it('own PATCH and DELETE work (positive control for the 404s above)', async () => {
    const extra = await seed('alpha');
    const patched = await t.request('PATCH', `/documents/${extra.doc}`, { tenant: 'alpha', body: { title: 'renamed', tags: ['a', 'a', 'b'] } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ title: 'renamed', tags: ['a', 'b'] });
    expect((await t.request('DELETE', `/documents/${extra.doc}/comments/${extra.comment}`, { tenant: 'alpha' })).status).toBe(204);
    expect((await t.request('DELETE', `/documents/${extra.doc}`, { tenant: 'alpha' })).status).toBe(204);
    expect((await t.request('GET', `/documents/${extra.doc}`, { tenant: 'alpha' })).status).toBe(404);
  });

  it('stores every row under the tenant that wrote it', async () => {
    const client = new pg.Client({ connectionString: t.db.superuserUrl });
    await client.connect();
    try {
      const { rows } = await client.query(
        `select t.slug, d.title from documents d join tenants t on t.id = d.tenant_id where d.title like '%secret' order by 1`,
      );
      expect(rows).toEqual([
        { slug: 'alpha', title: 'alpha secret' },
        { slug: 'bravo', title: 'bravo secret' },
      ]);
    } finally {
      await client.end();
    }
  });
});
