import { INestApplication } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { CacheService } from '../../src/cache/cache.service';
import { createRedisClient, RedisConnection } from '../../src/cache/redis-client';
import { startRedisCluster, ThrowawayRedisCluster } from '../../src/runtime/redis-cluster';
import { Tenant, TenantContext } from '../../src/tenancy/tenant-context';
import { parsePrometheusText, valueOf } from '../helpers/prometheus-text';
import { ApiResponse, startOtherInstance, startTestApp, TestApp } from '../helpers/test-app';
import { TEST_OWNER_PASSWORD } from '../helpers/test-env';
import { UNLIMITED_ENTITLEMENTS } from '../helpers/tenants';
import { addMember, expectStatus, MEMBER_PASSWORD } from '../identity/identity-fixtures';

/**
 * The cache, the rate limits and the sign-in throttle on a real three-master Redis
 * Cluster that this file starts itself (src/runtime/redis-cluster.ts), with two API
 * instances configured through REDIS_CLUSTER_NODES. What lies where is read straight
 * from each node (SCAN per node, CLUSTER KEYSLOT), not through the code under test.
 * The outages are real too: every node paused (SIGSTOP: stuck) and every node stopped
 * and started again (refused, then back empty).
 */
const tenant = (id: string): Tenant => ({ id, slug: `t-${id.slice(0, 8)}`, name: id, status: 'active', plan: 'enterprise', entitlements: UNLIMITED_ENTITLEMENTS, database: 'shared' });
const as = <T>(id: string, fn: () => Promise<T>) => TenantContext.run({ tenant: tenant(id) }, fn);

describe('cache and rate limits on a three-node Redis Cluster', () => {
  let cluster: ThrowawayRedisCluster;
  /** One plain connection per master: what each node holds, independently of the client under test. */
  let nodeClients: Redis[];
  let inspector: Cluster;
  /** A client built like the app's (createRedisClient), to time single commands during the outages. */
  let probe: RedisConnection;
  let t: TestApp;
  let other: INestApplication;
  let b: string;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    nodeClients = cluster.nodes.map(({ host, port }) => new Redis({ host, port, maxRetriesPerRequest: 1 }));
    for (const client of nodeClients) client.on('error', () => undefined);
    inspector = new Cluster([...cluster.nodes]);
    inspector.on('error', () => undefined);
    probe = createRedisClient({ target: { kind: 'cluster', nodes: [...cluster.nodes] }, commandTimeoutMs: 200, connectTimeoutMs: 1000, connectionName: 'test-probe' });
    probe.on('error', () => undefined);
    probe.on('node error', () => undefined);
    t = await startTestApp({
      REDIS_CLUSTER_NODES: cluster.nodesEnv,
      REDIS_COMMAND_TIMEOUT_MS: '200',
      REDIS_CONNECT_TIMEOUT_MS: '1000',
      // A long tenant TTL, so a lookup key stays until it is deleted.
      TENANT_CACHE_TTL_MS: '60000',
      // Two instances share each budget: counted alone (cluster down), each enforces half.
      RATE_LIMIT_INSTANCES: '2',
      LOGIN_MAX_FAILURES_PER_ACCOUNT: '2',
      LOGIN_MAX_FAILURES_PER_ADDRESS: '1000',
    });
    ({ app: other, baseUrl: b } = await startOtherInstance(t));
  }, 120_000);

  afterAll(async () => {
    await other?.close();
    await t?.close();
    inspector?.disconnect();
    probe?.disconnect();
    for (const client of nodeClients ?? []) client.disconnect();
    await cluster?.close();
  });

  const details = async () => (await t.request('GET', '/health/details', { admin: true })).body as { status: string; cache: Record<string, any> };
  /** Every key matching `pattern` on each master, by port (SCAN runs on one node only). */
  const keysByNode = async (pattern: string): Promise<Map<number, string[]>> => {
    const found = new Map<number, string[]>();
    for (const [i, client] of nodeClients.entries()) {
      const keys = new Set<string>();
      let cursor = '0';
      do {
        const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        batch.forEach((key) => keys.add(key));
      } while (cursor !== '0');
      if (keys.size > 0) found.set(cluster.nodes[i].port, [...keys].sort());
    }
    return found;
  };
  const tenantKeys = async (tenantId: string) => [...(await keysByNode(`t:{${tenantId}}:*`)).values()].flat().sort();
  const slotOf = async (key: string) => Number(await nodeClients[0].call('CLUSTER', 'KEYSLOT', key));
  /** The port of the master that owns the slot of `{tenantId}` (from CLUSTER SLOTS), before anything is written. */
  const masterOf = async (tenantId: string) => {
    const slot = await slotOf(tenantId);
    const ranges = (await nodeClients[0].call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
    return ranges.find(([first, last]) => first <= slot && slot <= last)![2][1];
  };
  const untilServing = async () => {
    for (let i = 0; i < 200; i++) {
      if ((await details()).cache.serving) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`cache did not resume: ${JSON.stringify(await details())}`);
  };
  /** How a probe command ends, and after how long: a degrading client answers or fails within its timeout, never waits. */
  const timed = async (command: () => Promise<unknown>) => {
    const started = Date.now();
    const outcome = await Promise.race([
      command().then(
        (value) => ({ ok: true, value }),
        (error: Error) => ({ ok: false, value: error.message }),
      ),
      new Promise<{ ok: false; value: string }>((resolve) => setTimeout(() => resolve({ ok: false, value: 'still waiting after 3 s' }), 3_000)),
    ]);
    return { ...outcome, ms: Date.now() - started };
  };
  const setLimit = async (tenantId: string, requestsPerMinute: number) => {
    expectStatus(await t.request('PUT', `/tenants/${tenantId}/plan`, { admin: true, body: { plan: 'free', overrides: { limits: { requests_per_minute: requestsPerMinute } } } }), 200);
  };
  const rateLimited = async (labels: Record<string, string>) =>
    valueOf(parsePrometheusText((await t.request('GET', '/metrics', { admin: true })).body as string), 'rate_limited_requests_total', labels) ?? 0;
  const expectBudget = (response: ApiResponse, limit: number, remaining: number) =>
    expect({ status: response.status, limit: response.headers.get('ratelimit-limit'), remaining: response.headers.get('ratelimit-remaining') }).toEqual({
      status: 200,
      limit: String(limit),
      remaining: String(remaining),
    });

  it('runs on the cluster: three masters share the slots, and the API uses it (driver redis, ready)', async () => {
    const ranges = (await nodeClients[0].call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
    const owners = new Set(ranges.map((range) => range[2][1]));
    expect([...owners].sort()).toEqual(cluster.nodes.map((node) => node.port).sort());
    const health = await details();
    expect(health.cache).toMatchObject({ driver: 'redis', status: 'ready', serving: true });
    const ready = await t.request('GET', '/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.info.redis).toEqual({ status: 'up' });
  });

  it("stores and reads a tenant's entries through the API, all of them in its hash tag's slot on one master", async () => {
    const a = await t.createTenant(`cluster-a-${randomUUID().slice(0, 6)}`);
    const doc = (await t.request('POST', '/documents', { tenant: a.slug, body: { title: 'on the cluster' } })).body;
    expect((await t.request('GET', `/documents/${doc.id}`, { tenant: a.slug })).body.title).toBe('on the cluster');
    expect((await t.request('GET', '/documents', { tenant: a.slug })).status).toBe(200);
    const warm = (await details()).cache;
    expect((await t.request('GET', `/documents/${doc.id}`, { tenant: a.slug, baseUrl: b })).body.title).toBe('on the cluster');
    expect((await t.request('GET', `/documents/${doc.id}`, { tenant: a.slug })).body.title).toBe('on the cluster');
    expect((await details()).cache.hits).toBeGreaterThan(warm.hits);

    const byNode = await keysByNode(`t:{${a.id}}:*`);
    const keys = [...byNode.values()].flat();
    // The document, the list page and the version token at least.
    expect(keys.length).toBeGreaterThanOrEqual(3);
    expect(byNode.size).toBe(1);
    const slots = new Set(await Promise.all(keys.map(slotOf)));
    // The slot is the hash tag's: the tenant id alone hashes to it.
    expect([...slots]).toEqual([await slotOf(a.id)]);
  });

  it("keeps each tenant on one slot while tenants spread over the masters (the cluster really shards)", async () => {
    const cache = t.app.get(CacheService);
    const ids = Array.from({ length: 12 }, () => randomUUID());
    for (const id of ids) {
      await as(id, async () => {
        await cache.getOrSet('documents', 'doc.1', async () => `${id}-1`);
        await cache.getOrSet('documents', 'list.20.-.-', async () => [`${id}-1`], { versioned: true });
        await cache.getOrSet('other', 'x', async () => `${id}-x`);
      });
    }
    const nodesUsed = new Set<number>();
    for (const id of ids) {
      const byNode = await keysByNode(`t:{${id}}:*`);
      const keys = [...byNode.values()].flat();
      expect(keys.length).toBe(4); // three entries + the documents version token
      expect(byNode.size).toBe(1);
      expect(new Set(await Promise.all(keys.map(slotOf))).size).toBe(1);
      nodesUsed.add([...byNode.keys()][0]);
    }
    // Twelve random tenants all on one of three masters would be a 1 in 177,147 chance: this is sharding.
    expect(nodesUsed.size).toBeGreaterThan(1);
    // And every read comes back from the cluster, not from the loaders.
    for (const id of ids) expect(await as(id, () => cache.getOrSet('other', 'x', async () => 'reloaded'))).toBe(`${id}-x`);
  });

  it('purges one tenant (abc) on each master, leaving the others (abcd, a neighbour) and the platform keys alone', async () => {
    const cache = t.app.get(CacheService);
    // One tenant to purge on each master, so a purge that scanned only some masters would leave keys behind.
    const purged = new Map<number, string>();
    while (purged.size < cluster.nodes.length) {
      const abc = `${randomBytes(6).toString('hex')}abc`;
      const master = await masterOf(abc);
      if (!purged.has(master)) purged.set(master, abc);
    }
    const abcs = [...purged.values()];
    const kept = [...abcs.map((abc) => `${abc}d`), randomUUID()];
    for (const id of [...abcs, ...kept]) {
      await as(id, async () => {
        await cache.getOrSet('documents', 'doc.1', async () => `${id}-1`);
        await cache.getOrSet('documents', 'list.20.-.-', async () => [`${id}-1`], { versioned: true });
        await cache.getOrSet('other', 'x', async () => `${id}-x`);
      });
    }
    for (const abc of abcs) await cache.platform.getOrSet('tenant-lookup', `id.${abc}`, async () => 'platform', 60_000);
    for (const [master, abc] of purged) expect([...(await keysByNode(`t:{${abc}}:*`)).keys()]).toEqual([master]);
    const keptBefore = await Promise.all(kept.map(tenantKeys));
    expect(keptBefore.map((keys) => keys.length)).toEqual(kept.map(() => 4));

    for (const abc of abcs) {
      expect(await tenantKeys(abc)).toHaveLength(4); // three entries + the documents version token
      expect(await as(abc, () => cache.purgeTenant())).toBe(4);
      expect(await tenantKeys(abc)).toEqual([]);
    }

    expect(await Promise.all(kept.map(tenantKeys))).toEqual(keptBefore);
    for (const abc of abcs) expect(await inspector.exists(`p:tenant-lookup:id.${abc}`)).toBe(1);
    expect(await as(abcs[0], () => cache.getOrSet('other', 'x', async () => 'reloaded'))).toBe('reloaded');
    expect(await as(kept[0], () => cache.getOrSet('other', 'x', async () => 'reloaded'))).toBe(`${kept[0]}-x`);
  });

  it('forgets a tenant lookup, two platform keys in two slots, in one call without a cache error', async () => {
    const c = await t.createTenant(`cluster-c-${randomUUID().slice(0, 6)}`);
    // Credentialed requests resolve the tenant by the id in their token; a sign-in names it by its slug.
    expect((await t.request('GET', '/documents', { tenant: c.id })).status).toBe(200);
    expectStatus(await t.login(c.slug, `owner@${c.slug}.test`, TEST_OWNER_PASSWORD), 200);
    const lookups = [`p:tenant-lookup:id.${c.id}`, `p:tenant-lookup:slug.${c.slug}`];
    const present = async () => (await Promise.all(lookups.map((key) => inspector.exists(key)))).reduce((sum, n) => sum + n, 0);
    // Positive control: both are cached, and in different slots, so one multi-key UNLINK would be CROSSSLOT.
    expect(await present()).toBe(2);
    const [idSlot, slugSlot] = await Promise.all(lookups.map(slotOf));
    expect(idSlot).not.toBe(slugSlot);
    const before = (await details()).cache;

    expectStatus(await t.request('PATCH', `/tenants/${c.id}`, { admin: true, body: { name: 'Renamed on the cluster' } }), 200);

    expect(await present()).toBe(0);
    const after = (await details()).cache;
    expect(after.errors).toBe(before.errors);
    expect(after.pendingInvalidations).toBe(0);
    expect(after.serving).toBe(true);
  });

  it('counts a tenant budget in the cluster, shared by two instances: N across A and B pass, then 429 on both', async () => {
    const limited = await t.createTenant(`cluster-rl-${randomUUID().slice(0, 6)}`, { plan: 'free' });
    await setLimit(limited.id, 4);
    for (let i = 0; i < 4; i++) expectBudget(await t.request('GET', '/documents', { tenant: limited.slug, baseUrl: i % 2 ? b : undefined }), 4, 3 - i);
    expectStatus(await t.request('GET', '/documents', { tenant: limited.slug, baseUrl: b }), 429, 'TOO_MANY_REQUESTS');
    expectStatus(await t.request('GET', '/documents', { tenant: limited.slug }), 429, 'TOO_MANY_REQUESTS');
    // The counter lives in the cluster, in the tenant's slot, and holds what both instances admitted
    // (the 4; each instance's refusal was counted and given back: refused requests count against no budget).
    const counter = `t:{${limited.id}}:rate:tenant`;
    expect(Number(await inspector.get(counter))).toBe(4);
    expect(await slotOf(counter)).toBe(await slotOf(limited.id));
    expect(await rateLimited({ limit: 'tenant', store: 'redis' })).toBeGreaterThanOrEqual(1);
  });

  it('shares the sign-in throttle across instances through the cluster (its keys in several slots)', async () => {
    const slug = `cluster-login-${randomUUID().slice(0, 6)}`;
    await t.createTenant(slug);
    const owner = `owner@${slug}.test`;
    const bystander = await addMember(t, slug, 'member', `bystander-${randomUUID().slice(0, 6)}@people.test`);
    const login = (baseUrl: string | undefined, email: string, password: string) => t.request('POST', '/auth/login', { tenant: slug, auth: false, body: { email, password }, baseUrl });
    expectStatus(await login(undefined, owner, 'wrong-1'), 401, 'INVALID_CREDENTIALS');
    expectStatus(await login(b, owner, 'wrong-2'), 401, 'INVALID_CREDENTIALS');
    // Two failures, one on each instance: both refuse now, even the right password.
    expectStatus(await login(b, owner, TEST_OWNER_PASSWORD), 429, 'TOO_MANY_REQUESTS');
    expectStatus(await login(undefined, owner, TEST_OWNER_PASSWORD), 429, 'TOO_MANY_REQUESTS');
    // Positive control: another account signs in from the same address.
    expectStatus(await login(b, bystander.email, MEMBER_PASSWORD), 200);
    const counters = [...(await keysByNode('p:sign-in:*')).values()].flat();
    expect(counters.length).toBeGreaterThanOrEqual(2);
    expect(new Set(await Promise.all(counters.map(slotOf))).size).toBeGreaterThan(1);
    expect(await rateLimited({ limit: 'sign_in', store: 'redis' })).toBeGreaterThanOrEqual(1);
  });

  it('keeps answering while every node is stuck (SIGSTOP), then caches again without a stale read', async () => {
    const s = await t.createTenant(`cluster-stuck-${randomUUID().slice(0, 6)}`);
    const title = async (id: string) => {
      const response = await t.request('GET', `/documents/${id}`, { tenant: s.slug });
      expect(response.status).toBe(200);
      return response.body.title as string;
    };
    const doc = (await t.request('POST', '/documents', { tenant: s.slug, body: { title: 'before' } })).body;
    expect(await title(doc.id)).toBe('before');
    const warm = (await details()).cache;
    expect(await title(doc.id)).toBe('before');
    expect((await details()).cache.hits).toBeGreaterThan(warm.hits);

    // Positive control: the probe is answered while the nodes run.
    expect(await timed(() => probe.set('t:{probe}:k', 'v'))).toMatchObject({ ok: true, value: 'OK' });

    cluster.pause();
    try {
      // A stuck node: the command fails on its timeout (200 ms), not later.
      const stuck = await timed(() => probe.get('t:{probe}:k'));
      expect(stuck).toMatchObject({ ok: false, value: expect.stringMatching(/timed out/i) });
      expect(stuck.ms).toBeLessThan(1_000);
      const patched = await t.request('PATCH', `/documents/${doc.id}`, { tenant: s.slug, body: { title: 'during' } });
      expect(patched.status).toBe(200);
      expect(await title(doc.id)).toBe('during');
      const during = await details();
      expect(during.status).toBe('degraded');
      expect(during.cache.errors).toBeGreaterThan(warm.errors);
      expect(during.cache.lastError.message).toMatch(/timed out/i);
    } finally {
      cluster.resume();
    }
    await untilServing();
    // The entry cached before is still in the cluster (the nodes kept their data), but the write's invalidation was replayed.
    expect((await tenantKeys(s.id)).length).toBeGreaterThan(0);
    expect(await title(doc.id)).toBe('during');
    const back = (await details()).cache;
    expect(await title(doc.id)).toBe('during');
    expect((await details()).cache.hits).toBeGreaterThan(back.hits);
  });

  it('answers 200 while every node is down (cache bypassed, limits counted in process), and recovers when the cluster is back', async () => {
    const d = await t.createTenant(`cluster-down-${randomUUID().slice(0, 6)}`);
    const before = await t.createTenant(`cluster-before-${randomUUID().slice(0, 6)}`, { plan: 'free' });
    const during = await t.createTenant(`cluster-during-${randomUUID().slice(0, 6)}`, { plan: 'free' });
    await setLimit(before.id, 4);
    await setLimit(during.id, 4);
    const doc = (await t.request('POST', '/documents', { tenant: d.slug, body: { title: 'kept in postgres' } })).body;
    expect((await t.request('GET', `/documents/${doc.id}`, { tenant: d.slug })).status).toBe(200);
    // Positive control: with the cluster up, the whole budget (counted in Redis).
    expectBudget(await t.request('GET', '/documents', { tenant: before.slug }), 4, 3);

    // One probe key on each master: ioredis connects to a node on its first command, and notices it gone only then.
    const probeKeys = new Map<number, string>();
    while (probeKeys.size < cluster.nodes.length) {
      const id = randomBytes(4).toString('hex');
      probeKeys.set(await masterOf(id), `t:{${id}}:k`);
    }
    for (const key of probeKeys.values()) expect(await timed(() => probe.get(key))).toMatchObject({ ok: true });

    await cluster.stop();
    try {
      // Each node refuses: the command fails within the connect timeout (1 s), at once on this machine.
      for (const key of probeKeys.values()) {
        const refused = await timed(() => probe.get(key));
        expect(refused.ok).toBe(false);
        expect(refused.ms).toBeLessThan(1_000);
      }
      // Every node gone, the client closes and reconnects in the background; meanwhile a command fails at
      // once, with no offline queue to wait in until the cluster is back.
      for (let i = 0; i < 50 && probe.status === 'ready'; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(probe.status).not.toBe('ready');
      const meanwhile = await timed(() => probe.get('t:{probe}:k'));
      expect(meanwhile).toMatchObject({ ok: false, value: expect.stringMatching(/isn't ready|closed/) });
      expect(meanwhile.ms).toBeLessThan(100);
      const answers: ApiResponse[] = [];
      for (let i = 0; i < 4; i++) answers.push(await t.request('GET', '/documents', { tenant: during.slug }));
      // Counted alone, this instance enforces its share: ceil(4 / RATE_LIMIT_INSTANCES=2).
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 429, 429]);
      expectBudget(answers[0], 2, 1);
      const read = await t.request('GET', `/documents/${doc.id}`, { tenant: d.slug });
      expect(read.status).toBe(200);
      expect(read.body.title).toBe('kept in postgres');
      expect((await t.request('PATCH', `/documents/${doc.id}`, { tenant: d.slug, body: { title: 'written while down' } })).status).toBe(200);
      expect((await t.request('GET', `/documents/${doc.id}`, { tenant: d.slug })).body.title).toBe('written while down');
      const down = await details();
      expect(down.status).toBe('degraded');
      expect(down.cache.serving).toBe(false);
      expect(down.cache.status).not.toBe('ready');
      expect(await rateLimited({ limit: 'tenant', store: 'memory' })).toBeGreaterThanOrEqual(2);
    } finally {
      await cluster.start();
    }

    await untilServing();
    expect((await details()).cache.status).toBe('ready');
    // The probe reconnected by itself too (the cluster's data is gone: it was never written to disk).
    for (let i = 0; i < 60 && probe.status !== 'ready'; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await timed(() => probe.get('t:{probe}:k'))).toEqual({ ok: true, value: null, ms: expect.any(Number) });
    expect((await t.request('GET', `/documents/${doc.id}`, { tenant: d.slug })).body.title).toBe('written while down');
    const back = (await details()).cache;
    expect((await t.request('GET', `/documents/${doc.id}`, { tenant: d.slug })).body.title).toBe('written while down');
    expect((await details()).cache.hits).toBeGreaterThan(back.hits);
    expect((await tenantKeys(d.id)).length).toBeGreaterThan(0);
    // The limiter counts in the cluster again: the whole budget (in process it would be half), and its counter is there.
    // A budget no probe exhausts: the limiter's own connection may reconnect a moment after the cache's, and meanwhile
    // counts in process (limit 500 shown); a probe refused in process would be remembered until the window ends.
    const after = await t.createTenant(`cluster-after-${randomUUID().slice(0, 6)}`, { plan: 'free' });
    await setLimit(after.id, 1000);
    let counted: ApiResponse | undefined;
    for (let i = 0; i < 50 && counted?.headers.get('ratelimit-limit') !== '1000'; i++) {
      if (counted) await new Promise((resolve) => setTimeout(resolve, 100));
      counted = await t.request('GET', '/documents', { tenant: after.slug });
      expect(counted.status).toBe(200);
    }
    expect(counted!.headers.get('ratelimit-limit')).toBe('1000');
    expect(Number(await inspector.get(`t:{${after.id}}:rate:tenant`))).toBeGreaterThanOrEqual(1);
  });
});
