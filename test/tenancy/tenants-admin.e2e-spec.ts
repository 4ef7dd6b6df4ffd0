import { startTestApp, TestApp } from '../helpers/test-app';
import { TEST_ADMIN_KEY } from '../helpers/test-env';

describe('platform admin: /tenants', () => {
  let t: TestApp;
  beforeAll(async () => (t = await startTestApp()));
  afterAll(() => t?.close());

  it('requires the admin key', async () => {
    for (const authorization of [undefined, 'Bearer wrong-key-wrong-key-wrong-key-wrong', `Basic ${TEST_ADMIN_KEY}`, `Bearer ${TEST_ADMIN_KEY}x`]) {
      const response = await t.request('GET', '/tenants', { headers: authorization ? { authorization } : {} });
      expect({ authorization, status: response.status, code: response.body.error.code }).toEqual({ authorization, status: 401, code: 'UNAUTHENTICATED' });
    }
    expect((await t.request('GET', '/tenants', { admin: true })).status).toBe(200);
  });

  it('creates a tenant, rejects a duplicate slug with 409 and reads it back by id and slug', async () => {
    const created = await t.request('POST', '/tenants', { admin: true, body: { slug: 'wayne-ent', name: 'Wayne Enterprises', plan: 'pro' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ slug: 'wayne-ent', name: 'Wayne Enterprises', plan: 'pro', status: 'active', id: expect.any(String) });
    const duplicate = await t.request('POST', '/tenants', { admin: true, body: { slug: 'wayne-ent', name: 'Again' } });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe('CONFLICT');
    expect(JSON.stringify(duplicate.body)).not.toMatch(/tenants_slug_key|duplicate key|insert/i);
    expect((await t.request('GET', `/tenants/${created.body.id}`, { admin: true })).body.slug).toBe('wayne-ent');
    expect((await t.request('GET', '/tenants/wayne-ent', { admin: true })).body.id).toBe(created.body.id);
    expect((await t.request('GET', '/tenants/no-such-tenant', { admin: true })).status).toBe(404);
  });

  it('validates slugs and bodies with a 400 listing the bad fields', async () => {
    for (const slug of ['ab', 'Acme', '-acme', 'acme-', 'a_b_c', 'x'.repeat(64), 'www', 'api', '6f1c2b1e-1111-4222-8333-444455556666']) {
      const response = await t.request('POST', '/tenants', { admin: true, body: { slug, name: 'n' } });
      expect({ slug, status: response.status, path: response.body.error.details?.[0]?.path }).toEqual({ slug, status: 400, path: 'slug' });
    }
    const many = await t.request('POST', '/tenants', { admin: true, body: { slug: 'OK!', name: '', extra: 1 } });
    expect(many.status).toBe(400);
    expect(many.body.error.details.map((d: any) => d.path).sort()).toEqual(['', 'name', 'slug']);
    const notJson = await t.request('POST', '/tenants', { admin: true, rawBody: '{"slug":', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('MALFORMED_REQUEST');
    // Positive control: the 63-character maximum is accepted.
    expect((await t.request('POST', '/tenants', { admin: true, body: { slug: 'a' + 'b'.repeat(61) + 'c', name: 'long' } })).status).toBe(201);
  });

  it('paginates with an opaque cursor', async () => {
    for (const slug of ['page-a', 'page-b', 'page-c']) await t.createTenant(slug);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const response: any = await t.request('GET', `/tenants?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { admin: true });
      expect(response.status).toBe(200);
      expect(response.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...response.body.items.map((i: any) => i.slug));
      cursor = response.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...seen].sort());
    expect(seen).toEqual(expect.arrayContaining(['page-a', 'page-b', 'page-c']));
    expect(new Set(seen).size).toBe(seen.length);
    expect((await t.request('GET', '/tenants?limit=0', { admin: true })).status).toBe(400);
    expect((await t.request('GET', '/tenants?cursor=%%%', { admin: true })).status).toBe(400);
  });

  it('updates name, plan and status, and refuses unknown fields', async () => {
    const tenant = await t.createTenant('stark-ind');
    const updated = await t.request('PATCH', `/tenants/${tenant.id}`, { admin: true, body: { name: 'Stark Industries', plan: 'enterprise', status: 'suspended' } });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ name: 'Stark Industries', plan: 'enterprise', status: 'suspended' });
    expect((await t.request('PATCH', `/tenants/${tenant.id}`, { admin: true, body: { slug: 'renamed' } })).status).toBe(400);
    expect((await t.request('PATCH', `/tenants/${tenant.id}`, { admin: true, body: {} })).status).toBe(400);
    expect((await t.request('PATCH', `/tenants/${tenant.id}`, { admin: true, body: { status: 'deleted' } })).status).toBe(400);
  });
});
