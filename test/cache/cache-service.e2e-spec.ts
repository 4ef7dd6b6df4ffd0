import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { CacheDriver } from '../../src/cache/cache-driver';
import { tenantKey } from '../../src/cache/cache-keys';
import { CacheService } from '../../src/cache/cache.service';
import { LruCacheDriver } from '../../src/cache/lru-cache.driver';
import { RedisCacheDriver } from '../../src/cache/redis-cache.driver';
import { MissingTenantContextError, Tenant, TenantContext } from '../../src/tenancy/tenant-context';
import { UNLIMITED_ENTITLEMENTS } from '../helpers/tenants';

/**
 * CacheService on both drivers: a real Redis (TEST_REDIS_URL, shared with other
 * test files, so every tenant id here is random) and the in-process LRU.
 */

const tenant = (id: string): Tenant => ({ id, slug: `t-${id.slice(0, 8)}`, name: id, status: 'active', plan: 'free', entitlements: UNLIMITED_ENTITLEMENTS, database: 'shared' });
const as = <T>(id: string, fn: () => Promise<T>) => TenantContext.run({ tenant: tenant(id) }, fn);
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lists raw keys straight from the store, bypassing the service. */
type RawKeys = (prefix: string) => Promise<string[]>;

describe.each(['redis', 'memory'] as const)('CacheService on the %s driver', (driverName) => {
  let driver: CacheDriver;
  let cache: CacheService;
  let rawKeys: RawKeys;
  let inspector: Redis | undefined;

  beforeAll(async () => {
    if (driverName === 'redis') {
      const url = process.env.TEST_REDIS_URL!;
      const redis = new RedisCacheDriver({ target: { kind: 'server', url }, commandTimeoutMs: 1000, connectTimeoutMs: 2000, onConnectionError: () => undefined });
      expect(await redis.waitUntilReady(5000)).toBe(true);
      driver = redis;
      inspector = new Redis(url);
      rawKeys = async (prefix) => {
        const found: string[] = [];
        let cursor = '0';
        do {
          const [next, keys] = await inspector!.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
          cursor = next;
          found.push(...keys);
        } while (cursor !== '0');
        return [...new Set(found)].sort();
      };
    } else {
      const lru = new LruCacheDriver(10_000);
      driver = lru;
      rawKeys = async (prefix) => lru.keys().filter((key) => key.startsWith(prefix)).sort();
    }
    cache = new CacheService(driver, { defaultTtlMs: 60_000 });
  });

  afterAll(async () => {
    await cache?.onApplicationShutdown();
    inspector?.disconnect();
  });

  it('keeps the same namespace and key of two tenants apart', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const sharedKey = `doc.${randomUUID()}`;
    let loads = 0;
    const load = (value: string) => async () => {
      loads++;
      return { owner: value };
    };

    expect(await as(a, () => cache.getOrSet('documents', sharedKey, load('a')))).toEqual({ owner: 'a' });
    expect(await as(b, () => cache.getOrSet('documents', sharedKey, load('b')))).toEqual({ owner: 'b' });
    // Both cached now: neither loader runs again, and each tenant gets its own value.
    expect(await as(a, () => cache.getOrSet('documents', sharedKey, load('wrong')))).toEqual({ owner: 'a' });
    expect(await as(b, () => cache.getOrSet('documents', sharedKey, load('wrong')))).toEqual({ owner: 'b' });
    expect(loads).toBe(2);

    expect(await rawKeys(`t:{${a}}:`)).toEqual([`t:{${a}}:documents:${sharedKey}`]);
    expect(await rawKeys(`t:{${b}}:`)).toEqual([`t:{${b}}:documents:${sharedKey}`]);
  });

  it("treats an entry whose envelope names another tenant as a miss (positive control: its own envelope hits)", async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const key = tenantKey(a, 'documents', 'doc.planted');
    const before = cache.metrics().envelopeMismatches;

    await driver.set(key, JSON.stringify({ t: b, v: 'b-secret' }), 60_000);
    expect(await as(a, () => cache.getOrSet('documents', 'doc.planted', async () => 'from-postgres'))).toBe('from-postgres');
    expect(cache.metrics().envelopeMismatches).toBe(before + 1);

    await driver.set(key, JSON.stringify({ t: a, v: 'a-cached' }), 60_000);
    expect(await as(a, () => cache.getOrSet('documents', 'doc.planted', async () => 'from-postgres'))).toBe('a-cached');
  });

  it('purges tenant abc and leaves tenant abcd (and the platform keys) untouched', async () => {
    // Real ids are UUIDs (fixed length); build the prefix-overlap case explicitly. Random, since Redis is shared.
    const base = hex(6);
    const abc = `${base}abc`;
    const abcd = `${base}abcd`;
    for (const id of [abc, abcd]) {
      await as(id, async () => {
        await cache.getOrSet('documents', 'doc.1', async () => `${id}-1`);
        await cache.getOrSet('documents', 'list.20.-.-', async () => [`${id}-1`], { versioned: true });
        await cache.getOrSet('other', 'x', async () => `${id}-x`);
      });
    }
    const platformKey = `id.${abc}`;
    await cache.platform.getOrSet('tenant-lookup', platformKey, async () => 'platform', 60_000);
    expect((await rawKeys(`t:{${abc}}:`)).length).toBe(4); // three entries + the documents version token
    const abcdKeysBefore = await rawKeys(`t:{${abcd}}:`);
    expect(abcdKeysBefore.length).toBe(4);

    const deleted = await as(abc, () => cache.purgeTenant());

    expect(deleted).toBe(4);
    expect(await rawKeys(`t:{${abc}}:`)).toEqual([]);
    expect(await rawKeys(`t:{${abcd}}:`)).toEqual(abcdKeysBefore);
    expect(await cache.platform.getOrSet('tenant-lookup', platformKey, async () => 'reloaded', 60_000)).toBe('platform');
    // abcd still reads from the cache, abc reloads.
    expect(await as(abcd, () => cache.getOrSet('documents', 'doc.1', async () => 'reloaded'))).toBe(`${abcd}-1`);
    expect(await as(abc, () => cache.getOrSet('documents', 'doc.1', async () => 'reloaded'))).toBe('reloaded');
  });

  it('computes concurrent misses on one key once (single flight); different keys each compute', async () => {
    const id = randomUUID();
    const gate = deferred<void>();
    let loads = 0;
    const load = async () => {
      loads++;
      await gate.promise;
      return { n: loads };
    };
    const joinsBefore = cache.metrics().singleFlightJoins;

    const same = Array.from({ length: 25 }, () => as(id, () => cache.getOrSet('documents', 'doc.hot', load)));
    const others = Array.from({ length: 3 }, (_, i) => as(id, () => cache.getOrSet('documents', `doc.cold${i}`, load)));
    // Let every caller reach the cache before the load finishes.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
    gate.resolve();
    const results = await Promise.all(same);
    await Promise.all(others);

    expect(loads).toBe(1 + 3);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(cache.metrics().singleFlightJoins - joinsBefore).toBe(24);
  });

  it('retires versioned entries when the namespace is invalidated (and only that tenant\'s)', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const read = (id: string, value: string) => as(id, () => cache.getOrSet('documents', 'list.20.-.-', async () => value, { versioned: true }));
    expect(await read(a, 'a-v1')).toBe('a-v1');
    expect(await read(b, 'b-v1')).toBe('b-v1');
    expect(await read(a, 'not-loaded')).toBe('a-v1');

    await as(a, () => cache.invalidateNamespace('documents'));

    expect(await read(a, 'a-v2')).toBe('a-v2');
    expect(await read(b, 'not-loaded')).toBe('b-v1');
  });

  it('does not store a load that was in flight when its key was deleted', async () => {
    const id = randomUUID();
    const gate = deferred<void>();
    const pending = as(id, () =>
      cache.getOrSet('documents', 'doc.racing', async () => {
        await gate.promise;
        return 'read-before-the-write';
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    await as(id, () => cache.delete('documents', 'doc.racing'));
    gate.resolve();
    expect(await pending).toBe('read-before-the-write');
    expect(await as(id, () => cache.getOrSet('documents', 'doc.racing', async () => 'fresh'))).toBe('fresh');
  });

  it('refuses to work without a tenant context, and refuses unsafe keys (positive control beside)', async () => {
    await expect(TenantContext.exit(() => cache.getOrSet('documents', 'doc.1', async () => 'x'))).rejects.toBeInstanceOf(MissingTenantContextError);
    await expect(TenantContext.exit(() => cache.purgeTenant())).rejects.toBeInstanceOf(MissingTenantContextError);
    const id = randomUUID();
    await expect(as(id, () => cache.getOrSet('documents', 'doc.1', async () => 'ok'))).resolves.toBe('ok');
    await expect(as(id, () => cache.getOrSet('documents', 'x}:*', async () => 'never'))).rejects.toThrow(/invalid cache key/);
    await expect(as(id, () => cache.getOrSet('docs:*', 'x', async () => 'never'))).rejects.toThrow(/invalid cache namespace/);
  });

  it('keeps platform entries out of every tenant prefix', async () => {
    const id = randomUUID();
    await cache.platform.getOrSet('tenant-lookup', `id.${id}`, async () => ({ id }), 60_000);
    expect(await rawKeys(`t:{${id}}:`)).toEqual([]);
    expect(await rawKeys(`p:tenant-lookup:id.${id}`)).toEqual([`p:tenant-lookup:id.${id}`]);
    await cache.platform.delete('tenant-lookup', `id.${id}`);
    expect(await rawKeys(`p:tenant-lookup:id.${id}`)).toEqual([]);
  });
});
