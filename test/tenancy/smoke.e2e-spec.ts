import { startTestApp, TestApp } from '../helpers/test-app';

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => (t = await startTestApp()));
  afterAll(() => t?.close());

  it('creates a tenant and a document', async () => {
    await t.createTenant('acme');
    const created = await t.request('POST', '/documents', { tenant: 'acme', body: { title: 'hello' } });
    expect(created.status).toBe(201);
    const list = await t.request('GET', '/documents', { tenant: 'acme' });
    expect(list.body.items.map((d: any) => d.id)).toEqual([created.body.id]);
  });
});
