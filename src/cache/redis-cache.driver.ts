import { Redis } from 'ioredis';
import type { RedisTarget } from '../config/app-config';
import { CacheDriver } from './cache-driver';
import { prefixPattern } from './cache-keys';
import { createRedisClient, mastersOf, RedisConnection } from './redis-client';

export interface RedisDriverOptions {
  /** One server (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES). */
  target: RedisTarget;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  /** Connection-level errors (refused, reset); the service logs and counts them. */
  onConnectionError: (error: Error) => void;
}

const SCAN_BATCH = 500;

/**
 * Redis through ioredis, with the settings of createRedisClient (why each: see there), on one
 * server or a Redis Cluster. On a cluster every command must name keys of one slot: a tenant's
 * keys share one through their `{<tenantId>}` hash tag, platform keys (`p:...`) do not, so no
 * command here takes several keys unless they are one tenant's (see delete and deleteByPrefix).
 */
export class RedisCacheDriver implements CacheDriver {
  readonly name = 'redis' as const;
  private readonly client: RedisConnection;
  private readonly readyListeners: Array<() => void> = [];

  constructor(options: RedisDriverOptions) {
    this.client = createRedisClient({ ...options, connectionName: 'tenancy-api-cache' });
    // Without a listener ioredis would report every failed reconnect as an unhandled error.
    this.client.on('error', (error: Error) => options.onConnectionError(error));
    // A cluster reports a failing node (refused, reset) apart from its own errors.
    this.client.on('node error', (error: Error) => options.onConnectionError(error));
    this.client.on('ready', () => {
      for (const listener of this.readyListeners) listener();
    });
  }

  isReady(): boolean {
    return this.client.status === 'ready';
  }

  status(): string {
    return this.client.status;
  }

  /** Resolves when connected or after timeoutMs, whichever comes first; never rejects. */
  waitUntilReady(timeoutMs: number): Promise<boolean> {
    if (this.isReady()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.client.off('ready', onReady);
        resolve(false);
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.client.once('ready', onReady);
    });
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.client.get(key)) ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.client.set(key, value, 'PX', Math.max(1, Math.round(ttlMs)));
  }

  /**
   * One UNLINK per key: the keys of one call may lie in several cluster slots (a tenant
   * lookup forgets its `p:...:id.` and `p:...:slug.` keys together), and a multi-key command
   * across slots is refused (CROSSSLOT). Sent at once, so they still cost one round trip, not one each.
   */
  async delete(keys: string[]): Promise<void> {
    await Promise.all(keys.map((key) => this.client.unlink(key)));
  }

  async getOrInit(key: string, seed: string): Promise<string> {
    // SET ... NX GET (Redis >= 7.0): one atomic round trip; nil means our seed was stored.
    const previous = (await this.client.call('SET', key, seed, 'NX', 'GET')) as string | null;
    return previous ?? seed;
  }

  async put(key: string, value: string): Promise<void> {
    await this.client.set(key, value);
  }

  /**
   * SCAN MATCH on the escaped prefix, never KEYS: non-blocking for the server. SCAN walks one
   * server's keys, so on a cluster it runs on every master (in parallel), not only on the one
   * that owns the tenant's slot: while that slot migrates between masters its keys are on both,
   * and a purge that skipped some would report success falsely. It costs what the single-server
   * purge costs (each key of the cluster looked at once); servers that keep keys per slot narrow
   * a pattern that names one hash tag to that slot. A master without a connection fails the
   * purge rather than skipping it.
   */
  async deleteByPrefix(prefix: string): Promise<number> {
    const pattern = prefixPattern(prefix);
    const deleted = await Promise.all(mastersOf(this.client).map((node) => this.deleteMatching(node, pattern)));
    return deleted.reduce((sum, count) => sum + count, 0);
  }

  /** The same walk as deleteByPrefix (every master, SCAN MATCH), counting instead of unlinking. */
  async countByPrefix(prefix: string): Promise<number> {
    const pattern = prefixPattern(prefix);
    const counts = await Promise.all(mastersOf(this.client).map((node) => this.countMatching(node, pattern)));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  private async countMatching(node: Redis, pattern: string): Promise<number> {
    // SCAN may return a key twice while the keyspace is rehashed: a set counts each once.
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_BATCH);
      cursor = next;
      for (const key of keys) seen.add(key);
    } while (cursor !== '0');
    return seen.size;
  }

  private async deleteMatching(node: Redis, pattern: string): Promise<number> {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_BATCH);
      cursor = next;
      // One batch is one tenant's keys, so one slot: a single UNLINK, sent through the client so that
      // on a cluster it reaches the slot's owner (following a redirect). SCAN may return a key twice;
      // UNLINK counts only what it removed.
      if (keys.length > 0) deleted += await this.client.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  }

  onReady(listener: () => void): void {
    this.readyListeners.push(listener);
  }

  async close(): Promise<void> {
    this.client.disconnect();
  }
}
