import { CacheDriver } from './cache-driver';
import { assertPurgePrefix } from './cache-keys';

interface Entry {
  value: string;
  /** Infinity for keys stored without expiry. */
  expiresAt: number;
}

/**
 * The embedded default: an in-process LRU with per-entry expiry. A Map keeps
 * insertion order, so re-inserting on read makes the first key the least
 * recently used. Values are strings, as in Redis, so callers get copies and
 * never share mutable objects through the cache.
 */
export class LruCacheDriver implements CacheDriver {
  readonly name = 'memory' as const;
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  isReady(): boolean {
    return true;
  }

  async waitUntilReady(): Promise<boolean> {
    return true;
  }

  status(): string {
    return `in-process (${this.entries.size}/${this.maxEntries} entries)`;
  }

  async get(key: string): Promise<string | undefined> {
    return this.read(key);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.write(key, value, this.now() + ttlMs);
  }

  async delete(keys: string[]): Promise<void> {
    for (const key of keys) this.entries.delete(key);
  }

  async getOrInit(key: string, seed: string): Promise<string> {
    const existing = this.read(key);
    if (existing !== undefined) return existing;
    this.write(key, seed, Infinity);
    return seed;
  }

  async put(key: string, value: string): Promise<void> {
    this.write(key, value, Infinity);
  }

  async deleteByPrefix(prefix: string): Promise<number> {
    assertPurgePrefix(prefix);
    let deleted = 0;
    for (const key of [...this.entries.keys()]) {
      if (key.startsWith(prefix)) {
        this.entries.delete(key);
        deleted++;
      }
    }
    return deleted;
  }

  async countByPrefix(prefix: string): Promise<number> {
    assertPurgePrefix(prefix);
    const now = this.now();
    let count = 0;
    for (const [key, entry] of this.entries) if (key.startsWith(prefix) && entry.expiresAt > now) count++;
    return count;
  }

  onReady(): void {
    // Always ready: nothing to replay.
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  /** Test/diagnostic helper: every live key, oldest first. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  private read(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  private write(key: string, value: string, expiresAt: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    while (this.entries.size > this.maxEntries) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
  }
}
