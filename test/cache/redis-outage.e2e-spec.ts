import { Redis } from 'ioredis';
import { startTcpProxy, TcpProxy } from '../helpers/tcp-proxy';
import { startTestApp, TestApp } from '../helpers/test-app';

/**
 * Redis taken away mid-test through a TCP proxy in front of the shared test
 * Redis (which itself is never stopped, and keeps its data, so entries cached
 * before the outage are still there afterwards: exactly the stale-read trap).
 * The API must keep answering correctly from PostgreSQL, and caching must
 * resume by itself once Redis is reachable again.
 */
describe('documents while Redis is down or slow', () => {
  let t: TestApp;
  let proxy: TcpProxy;
  let inspector: Redis;
  let tenant: { id: string; slug: string };

  beforeAll(async () => {
    const target = new URL(process.env.TEST_REDIS_URL!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    inspector = new Redis(process.env.TEST_REDIS_URL!);
    t = await startTestApp({ REDIS_URL: proxy.url('redis'), REDIS_COMMAND_TIMEOUT_MS: '200', REDIS_CONNECT_TIMEOUT_MS: '1000' });
    tenant = await t.createTenant('redis-outage');
  });

  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    inspector?.disconnect();
  });

  const cache = async () => (await t.request('GET', '/health/details', { admin: true })).body as { status: string; cache: Record<string, any> };
  /** Waits for the cache to serve again (reconnect + replay); bounded, and not an assertion on timing. */
  const untilServing = async () => {
    for (let i = 0; i < 150; i++) {
      if ((await cache()).cache.serving) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`cache did not resume: ${JSON.stringify(await cache())}`);
  };
  const title = async (id: string) => {
    const response = await t.request('GET', `/documents/${id}`, { tenant: tenant.slug });
    expect(response.status).toBe(200);
    return response.body.title as string;
  };
  const listTitles = async () => {
    const response = await t.request('GET', '/documents', { tenant: tenant.slug });
    expect(response.status).toBe(200);
    return response.body.items.map((d: { title: string }) => d.title);
  };
  const tenantKeys = async () => {
    const [, keys] = await inspector.scan('0', 'MATCH', `t:{${tenant.id}}:*`, 'COUNT', 10_000);
    return keys;
  };

  it('answers from PostgreSQL while Redis is unreachable, then resumes caching without a stale read', async () => {
    const doc = (await t.request('POST', '/documents', { tenant: tenant.slug, body: { title: 'v1' } })).body;
    // Positive control: cached while Redis is up.
    expect(await title(doc.id)).toBe('v1');
    expect(await listTitles()).toEqual(['v1']);
    const warm = await cache();
    expect(await title(doc.id)).toBe('v1');
    expect((await cache()).cache.hits).toBeGreaterThan(warm.cache.hits);
    expect((await tenantKeys()).length).toBeGreaterThan(0);

    await proxy.cut();

    // Writes and reads keep working; reads reflect the writes (PostgreSQL, not the now-stale Redis entries).
    const patched = await t.request('PATCH', `/documents/${doc.id}`, { tenant: tenant.slug, body: { title: 'v2' } });
    expect(patched.status).toBe(200);
    expect(await title(doc.id)).toBe('v2');
    const second = await t.request('POST', '/documents', { tenant: tenant.slug, body: { title: 'other' } });
    expect(second.status).toBe(201);
    expect(await listTitles()).toEqual(['other', 'v2']);
    const down = await cache();
    expect(down.status).toBe('degraded');
    expect(down.cache.serving).toBe(false);
    expect(down.cache.errors + down.cache.bypassed).toBeGreaterThan(warm.cache.errors + warm.cache.bypassed);
    expect(down.cache.pendingInvalidations).toBeGreaterThan(0);

    await proxy.restore();
    await untilServing();

    // The entries cached before the outage are still in Redis, but the invalidations made during it were replayed.
    expect(await title(doc.id)).toBe('v2');
    expect(await listTitles()).toEqual(['other', 'v2']);
    const back = await cache();
    expect(back.status).toBe('ok');
    expect(back.cache.pendingInvalidations).toBe(0);
    expect(await title(doc.id)).toBe('v2');
    expect((await cache()).cache.hits).toBeGreaterThan(back.cache.hits);

    // And the next write invalidates through Redis again.
    await t.request('PATCH', `/documents/${doc.id}`, { tenant: tenant.slug, body: { title: 'v3' } });
    expect(await title(doc.id)).toBe('v3');
  });

  it('keeps answering while Redis is stuck (commands time out), and counts the timeouts', async () => {
    const doc = (await t.request('POST', '/documents', { tenant: tenant.slug, body: { title: 'slow-1' } })).body;
    expect(await title(doc.id)).toBe('slow-1');
    const before = await cache();

    proxy.stall();
    try {
      expect(await title(doc.id)).toBe('slow-1');
      const patched = await t.request('PATCH', `/documents/${doc.id}`, { tenant: tenant.slug, body: { title: 'slow-2' } });
      expect(patched.status).toBe(200);
      expect(await title(doc.id)).toBe('slow-2');
      const during = await cache();
      expect(during.cache.errors).toBeGreaterThan(before.cache.errors);
      expect(during.cache.lastError.message).toMatch(/timed out/i);
    } finally {
      await proxy.restore();
    }
    await untilServing();
    expect(await title(doc.id)).toBe('slow-2');
    const after = await cache();
    expect(await title(doc.id)).toBe('slow-2');
    expect((await cache()).cache.hits).toBeGreaterThan(after.cache.hits);
  });
});
