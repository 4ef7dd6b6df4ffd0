import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { startOtherInstance, startTestApp, TestApp } from '../helpers/test-app';

/**
 * Document reads/lists and tenant lookups through the cache, over HTTP, on both
 * drivers: Redis (REDIS_URL, shared by instances) and the in-process LRU default.
 */
describe.each(['redis', 'memory'] as const)('document and tenant caching on the %s driver', (driver) => {
  let t: TestApp;
  let inspector: Redis | undefined;

  beforeAll(async () => {
    // A long tenant TTL, so only explicit invalidation can explain a suspension biting at once.
    t = await startTestApp({ TENANT_CACHE_TTL_MS: '60000', ...(driver === 'redis' ? { REDIS_URL: process.env.TEST_REDIS_URL! } : {}) });
    if (driver === 'redis') inspector = new Redis(process.env.TEST_REDIS_URL!);
  });

  afterAll(async () => {
    await t?.close();
    inspector?.disconnect();
  });

  const metrics = async () => {
    const response = await t.request('GET', '/health/details', { admin: true });
    expect(response.status).toBe(200);
    return response.body.cache as { driver: string; hits: number; misses: number };
  };
  const keysOf = async (tenantId: string) => {
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await inspector!.scan(cursor, 'MATCH', `t:{${tenantId}}:*`, 'COUNT', 1000);
      cursor = next;
      keys.forEach((k) => found.add(k));
    } while (cursor !== '0');
    return [...found];
  };

  it('reports the driver in use', async () => {
    expect((await metrics()).driver).toBe(driver);
  });

  it('serves repeated reads from the cache (hits rise) and never a stale one after a write', async () => {
    const tenant = await t.createTenant(`cache-rw-${driver}`);
    const created = await t.request('POST', '/documents', { tenant: tenant.slug, body: { title: 'v0', tags: ['x'] } });
    const id = created.body.id;

    await t.request('GET', `/documents/${id}`, { tenant: tenant.slug });
    const before = await metrics();
    for (let i = 0; i < 3; i++) expect((await t.request('GET', `/documents/${id}`, { tenant: tenant.slug })).body.title).toBe('v0');
    expect((await metrics()).hits).toBeGreaterThanOrEqual(before.hits + 3);

    for (let version = 1; version <= 5; version++) {
      // Warm both the item and the lists, then write: the very next reads must show the write.
      await t.request('GET', `/documents/${id}`, { tenant: tenant.slug });
      await t.request('GET', '/documents', { tenant: tenant.slug });
      await t.request('GET', '/documents?tag=x', { tenant: tenant.slug });
      const patched = await t.request('PATCH', `/documents/${id}`, { tenant: tenant.slug, body: { title: `v${version}`, tags: version % 2 ? ['y'] : ['x'] } });
      expect(patched.status).toBe(200);
      expect((await t.request('GET', `/documents/${id}`, { tenant: tenant.slug })).body.title).toBe(`v${version}`);
      const list = await t.request('GET', '/documents', { tenant: tenant.slug });
      expect(list.body.items.find((d: { id: string }) => d.id === id).title).toBe(`v${version}`);
      const tagged = await t.request('GET', '/documents?tag=x', { tenant: tenant.slug });
      expect(tagged.body.items.map((d: { id: string }) => d.id)).toEqual(version % 2 ? [] : [id]);
    }

    await t.request('GET', '/documents', { tenant: tenant.slug });
    const second = await t.request('POST', '/documents', { tenant: tenant.slug, body: { title: 'second' } });
    expect((await t.request('GET', '/documents', { tenant: tenant.slug })).body.items.map((d: { id: string }) => d.id)).toEqual([second.body.id, id]);

    expect((await t.request('DELETE', `/documents/${id}`, { tenant: tenant.slug })).status).toBe(204);
    expect((await t.request('GET', `/documents/${id}`, { tenant: tenant.slug })).status).toBe(404);
    expect((await t.request('GET', '/documents', { tenant: tenant.slug })).body.items.map((d: { id: string }) => d.id)).toEqual([second.body.id]);
  });

  it("never answers one tenant from another tenant's cache entry (positive control: the owner's reads)", async () => {
    const a = await t.createTenant(`cache-a-${driver}`);
    const b = await t.createTenant(`cache-b-${driver}`);
    const doc = await t.request('POST', '/documents', { tenant: a.slug, body: { title: 'secret of a' } });
    // A warms its entry, then B asks for the same id, twice (the second would be a cache hit if shared).
    expect((await t.request('GET', `/documents/${doc.body.id}`, { tenant: a.slug })).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const foreign = await t.request('GET', `/documents/${doc.body.id}`, { tenant: b.slug });
      expect(foreign.status).toBe(404);
      expect(JSON.stringify(foreign.body)).not.toContain('secret of a');
      expect((await t.request('GET', '/documents', { tenant: b.slug })).body.items).toEqual([]);
    }
    expect((await t.request('GET', `/documents/${doc.body.id}`, { tenant: a.slug })).body.title).toBe('secret of a');

    if (inspector) {
      const aKeys = await keysOf(a.id);
      const bKeys = await keysOf(b.id);
      expect(aKeys.some((k) => k.endsWith(`.doc.${doc.body.id}`))).toBe(true);
      expect(bKeys.some((k) => k.endsWith(`.doc.${doc.body.id}`))).toBe(true);
      for (const key of bKeys.filter((k) => !k.endsWith(':#v'))) {
        const envelope = JSON.parse((await inspector.get(key))!);
        expect(envelope.t).toBe(b.id);
        expect(JSON.stringify(envelope.v)).not.toContain('secret of a');
      }
    }
  });

  it('caches tenant lookups under the platform prefix, and a suspension bites at once', async () => {
    const tenant = await t.createTenant(`cache-lookup-${driver}`);
    expect((await t.request('GET', '/documents', { tenant: tenant.slug })).status).toBe(200);
    expect((await t.request('GET', '/documents', { tenant: tenant.id })).status).toBe(200);
    if (inspector) {
      // Credentialed requests resolve the tenant by the id in the token.
      expect(await inspector.pttl(`p:tenant-lookup:id.${tenant.id}`)).toBeGreaterThan(0);
      expect(await keysOf(tenant.id)).not.toContainEqual(expect.stringContaining('tenant-lookup'));
    }

    const suspended = await t.request('PATCH', `/tenants/${tenant.id}`, { admin: true, body: { status: 'suspended' } });
    expect(suspended.status).toBe(200);
    expect((await t.request('GET', '/documents', { tenant: tenant.slug })).body.error?.code).toBe('TENANT_SUSPENDED');
    expect((await t.request('GET', '/documents', { tenant: tenant.id })).status).toBe(403);

    expect((await t.request('PATCH', `/tenants/${tenant.id}`, { admin: true, body: { status: 'active' } })).status).toBe(200);
    expect((await t.request('GET', '/documents', { tenant: tenant.slug })).status).toBe(200);
  });

  if (driver === 'redis') {
    it('shares invalidations between instances on one Redis: a write or suspension on one is seen at once by the other', async () => {
      const { app: other, baseUrl: otherUrl } = await startOtherInstance(t);
      try {
        const tenant = await t.createTenant(`cache-shared-${randomUUID().slice(0, 8)}`);
        const doc = await t.request('POST', '/documents', { tenant: tenant.slug, body: { title: 'before' } });
        expect((await t.request('GET', `/documents/${doc.body.id}`, { tenant: tenant.slug, baseUrl: otherUrl })).body.title).toBe('before');

        await t.request('PATCH', `/documents/${doc.body.id}`, { tenant: tenant.slug, body: { title: 'after' } });
        expect((await t.request('GET', `/documents/${doc.body.id}`, { tenant: tenant.slug, baseUrl: otherUrl })).body.title).toBe('after');

        await t.request('PATCH', `/tenants/${tenant.id}`, { admin: true, body: { status: 'suspended' } });
        expect((await t.request('GET', '/documents', { tenant: tenant.slug, baseUrl: otherUrl })).status).toBe(403);
      } finally {
        await other.close();
      }
    });
  }
});
