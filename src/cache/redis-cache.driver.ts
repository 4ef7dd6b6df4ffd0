import { Redis } from 'ioredis';
import { CacheDriver } from './cache-driver';
import { prefixPattern } from './cache-keys';
import { createRedisClient } from './redis-client';

export interface RedisDriverOptions {
  url: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  /** Connection-level errors (refused, reset); the service logs and counts them. */
  onConnectionError: (error: Error) => void;
}

const SCAN_BATCH = 500;

/** Redis through ioredis, with the settings of createRedisClient (why each: see there). */
export class RedisCacheDriver implements CacheDriver {
  readonly name = 'redis' as const;
  private readonly client: Redis;
  private readonly readyListeners: Array<() => void> = [];

  constructor(options: RedisDriverOptions) {
    this.client = createRedisClient({ ...options, connectionName: 'tenancy-api-cache' });
    // Without a listener ioredis would report every failed reconnect as an unhandled error.
    this.client.on('error', (error: Error) => options.onConnectionError(error));
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

  async delete(keys: string[]): Promise<void> {
    if (keys.length > 0) await this.client.unlink(...keys);
  }

  async getOrInit(key: string, seed: string): Promise<string> {
    // SET ... NX GET (Redis >= 7.0): one atomic round trip; nil means our seed was stored.
    const previous = (await this.client.call('SET', key, seed, 'NX', 'GET')) as string | null;
    return previous ?? seed;
  }

  async put(key: string, value: string): Promise<void> {
    await this.client.set(key, value);
  }

  /** SCAN MATCH on the escaped prefix, never KEYS: non-blocking for the server. */
  async deleteByPrefix(prefix: string): Promise<number> {
    const pattern = prefixPattern(prefix);
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_BATCH);
      cursor = next;
      // SCAN may return a key twice; UNLINK counts only what it removed.
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
