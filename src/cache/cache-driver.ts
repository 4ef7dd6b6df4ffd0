/**
 * What CacheService needs from a store. Keys arrive fully built (cache-keys.ts);
 * values are opaque strings (JSON envelopes). Both drivers implement exactly the
 * same semantics, so the in-process default behaves like Redis.
 */
export interface CacheDriver {
  readonly name: 'redis' | 'memory';
  /** False while the store cannot take commands (Redis disconnected): callers skip it. */
  isReady(): boolean;
  /** Resolves true once connected, false after timeoutMs; never rejects. */
  waitUntilReady(timeoutMs: number): Promise<boolean>;
  /** A short description for health output, e.g. the Redis connection status. */
  status(): string;
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(keys: string[]): Promise<void>;
  /** The value at key, first storing `seed` there if the key is missing (atomically). */
  getOrInit(key: string, seed: string): Promise<string>;
  /** Stores value with no expiry (version tokens). */
  put(key: string, value: string): Promise<void>;
  /** Deletes every key starting with `prefix`; returns how many were deleted. */
  deleteByPrefix(prefix: string): Promise<number>;
  /** How many keys start with `prefix` (a purge's verification: SCAN, never KEYS). */
  countByPrefix(prefix: string): Promise<number>;
  /** Called once the store (re)connects, so pending invalidations can be replayed. */
  onReady(listener: () => void): void;
  close(): Promise<void>;
}
