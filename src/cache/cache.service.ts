import { Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { TenantContext } from '../tenancy/tenant-context';
import { CacheDriver } from './cache-driver';
import { newVersionToken, platformKey, tenantKey, tenantKeyPrefix, tenantVersionKey } from './cache-keys';

/**
 * What is stored under every key: the value plus the tenant it belongs to
 * (null for platform entries). A read whose envelope names another owner is a
 * miss, so even a key-building bug cannot hand one tenant another's data.
 */
interface Envelope {
  t: string | null;
  v: unknown;
}

export interface CacheMetrics {
  driver: CacheDriver['name'];
  status: string;
  /** False while reads bypass the cache (store down, or invalidations still to replay). */
  serving: boolean;
  hits: number;
  misses: number;
  /** Cache work skipped because the store was unavailable (served from PostgreSQL). */
  bypassed: number;
  errors: number;
  envelopeMismatches: number;
  singleFlightJoins: number;
  invalidations: number;
  pendingInvalidations: number;
  purgedKeys: number;
  lastError?: { message: string; at: string };
}

export interface CacheOptions {
  /** Default lifetime of tenant entries. */
  defaultTtlMs: number;
  /** How long startup waits for the store before serving without it. */
  startupWaitMs?: number;
}

export interface GetOrSetOptions {
  ttlMs?: number;
  /**
   * Key the entry by the namespace's version token, so invalidateNamespace()
   * retires every such entry of the tenant at once (document lists, for example).
   */
  versioned?: boolean;
}

interface Flight {
  promise: Promise<unknown>;
  /** Set when the key is deleted while loading: the (possibly stale) result is not stored. */
  invalidated: boolean;
}

type Owner = { kind: 'tenant'; tenantId: string } | { kind: 'platform' };

/** Invalidations that failed (store down): replayed before the cache serves reads again. */
type PendingInvalidation = { op: 'delete' } | { op: 'version' };

const MAX_PENDING = 10_000;
const ERROR_LOG_INTERVAL_MS = 10_000;
const BREAKER_THRESHOLD = 3;
const BREAKER_COOLDOWN_MS = 1_000;

/**
 * Tenant-aware cache. Callers pass a namespace and a key; the tenant is taken
 * from TenantContext (so a missing context throws, like any tenant data access)
 * and the full key is built in cache-keys.ts.
 *
 * Correctness rules:
 * - single flight: concurrent misses on one key share one load;
 * - no stale read after a write: writers call invalidateNamespace()/delete()
 *   after their transaction commits; versioned entries are keyed by a random
 *   version token read before loading, so a load racing a write lands under a
 *   token nobody reads any more;
 * - the store failing never fails a request: reads fall back to the loader,
 *   failures are counted and logged at most every 10 s, and an invalidation that
 *   could not be applied is remembered and replayed before reads resume (until
 *   then this instance reads straight from PostgreSQL).
 */
export class CacheService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Cache');
  private readonly flights = new Map<string, Flight>();
  private readonly pending = new Map<string, PendingInvalidation>();
  /** Set when pending overflowed: reads bypass until every entry written before could have expired. */
  private pendingOverflowed = false;
  private bypassUntil = 0;
  private maxTtlUsedMs = 0;
  private replaying?: Promise<void>;
  private consecutiveFailures = 0;
  private breakerOpenUntil = 0;
  private lastErrorLogAt = 0;
  private suppressedErrors = 0;
  private readonly counters = {
    hits: 0,
    misses: 0,
    bypassed: 0,
    errors: 0,
    envelopeMismatches: 0,
    singleFlightJoins: 0,
    invalidations: 0,
    purgedKeys: 0,
  };
  private lastError?: { message: string; at: string };

  /** Entries read outside any tenant (tenant lookups). Keys live under `p:`, never under a tenant. */
  readonly platform = {
    getOrSet: <T>(namespace: string, key: string, load: () => Promise<T>, ttlMs: number): Promise<T> =>
      this.getOrSetKey({ kind: 'platform' }, platformKey(namespace, key), load, ttlMs),
    delete: (namespace: string, ...keys: string[]): Promise<void> => this.deleteKeys(keys.map((key) => platformKey(namespace, key))),
  };

  constructor(
    private readonly driver: CacheDriver,
    private readonly options: CacheOptions,
  ) {
    driver.onReady(() => void this.replayPending());
  }

  get driverName(): CacheDriver['name'] {
    return this.driver.name;
  }

  /** The cached value for (current tenant, namespace, key), or load() stored for next time. */
  async getOrSet<T>(namespace: string, key: string, load: () => Promise<T>, options: GetOrSetOptions = {}): Promise<T> {
    const owner = this.currentTenant();
    const ttlMs = options.ttlMs ?? this.options.defaultTtlMs;
    if (!options.versioned) return this.getOrSetKey(owner, tenantKey(owner.tenantId, namespace, key), load, ttlMs);

    const versionKey = tenantVersionKey(owner.tenantId, namespace);
    tenantKey(owner.tenantId, namespace, key); // validates the caller's key before any I/O
    if (!this.canRead()) {
      this.counters.bypassed++;
      return load();
    }
    const version = await this.attempt(() => this.driver.getOrInit(versionKey, newVersionToken()));
    if (version === undefined) return load();
    return this.getOrSetKey(owner, tenantKey(owner.tenantId, namespace, `${version}.${key}`), load, ttlMs);
  }

  /** Retires every versioned entry of the current tenant in this namespace. Call after the write commits. */
  async invalidateNamespace(namespace: string): Promise<void> {
    const { tenantId } = this.currentTenant();
    const versionKey = tenantVersionKey(tenantId, namespace);
    this.counters.invalidations++;
    const ok = this.driver.isReady() && (await this.attempt(() => this.driver.put(versionKey, newVersionToken()).then(() => true)));
    if (!ok) this.remember(versionKey, { op: 'version' });
  }

  /** Deletes (current tenant, namespace, key) entries. */
  delete(namespace: string, ...keys: string[]): Promise<void> {
    const { tenantId } = this.currentTenant();
    return this.deleteKeys(keys.map((key) => tenantKey(tenantId, namespace, key)));
  }

  /**
   * Deletes every entry of the current tenant (SCAN MATCH `t:{<id>}:*`, never KEYS).
   * Unlike reads this reports failure: a purge that silently did nothing would be a lie.
   */
  async purgeTenant(): Promise<number> {
    const { tenantId } = this.currentTenant();
    const prefix = tenantKeyPrefix(tenantId);
    for (const [key, flight] of this.flights) if (key.startsWith(prefix)) flight.invalidated = true;
    try {
      const deleted = await this.driver.deleteByPrefix(prefix);
      this.counters.purgedKeys += deleted;
      this.recordSuccess();
      return deleted;
    } catch (error) {
      this.recordFailure(error);
      throw error;
    }
  }

  /**
   * How many entries the current tenant has in the store (the verification after purgeTenant:
   * offboarding). Reports failure like the purge: "could not look" is never "none".
   */
  async countTenantKeys(): Promise<number> {
    const { tenantId } = this.currentTenant();
    return this.driver.countByPrefix(tenantKeyPrefix(tenantId));
  }

  metrics(): CacheMetrics {
    return {
      driver: this.driver.name,
      status: this.driver.status(),
      serving: this.canRead(),
      ...this.counters,
      pendingInvalidations: this.pending.size,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Waits (bounded) for the store so the first requests use it; never blocks startup on it. */
  async onModuleInit(): Promise<void> {
    if (this.driver.name === 'memory') {
      this.logger.log('cache driver: in-process LRU (set REDIS_URL to share it between instances)');
      return;
    }
    if (await this.driver.waitUntilReady(this.options.startupWaitMs ?? 0)) this.logger.log('cache driver: Redis');
    else this.logger.warn('cache driver: Redis not reachable at startup; serving from PostgreSQL until it is');
  }

  async onApplicationShutdown(): Promise<void> {
    await this.driver.close();
  }

  /** Replays invalidations that failed while the store was away. Idempotent. */
  replayPending(): Promise<void> {
    if (this.replaying) return this.replaying;
    if (this.pending.size === 0 && !this.pendingOverflowed) return Promise.resolve();
    this.replaying = (async () => {
      try {
        for (const [key, invalidation] of [...this.pending]) {
          if (invalidation.op === 'version') await this.driver.put(key, newVersionToken());
          else await this.driver.delete([key]);
          this.pending.delete(key);
        }
        if (this.pendingOverflowed) {
          // Which keys were missed is unknown: read around the cache until anything written before expired.
          this.pendingOverflowed = false;
          this.bypassUntil = Date.now() + this.maxTtlUsedMs;
        }
        this.recordSuccess();
        this.logger.log('cache store reachable again; pending invalidations replayed');
      } catch (error) {
        this.recordFailure(error);
      } finally {
        this.replaying = undefined;
      }
    })();
    return this.replaying;
  }

  private currentTenant(): { kind: 'tenant'; tenantId: string } {
    return { kind: 'tenant', tenantId: TenantContext.currentId() };
  }

  private async getOrSetKey<T>(owner: Owner, key: string, load: () => Promise<T>, ttlMs: number): Promise<T> {
    if (ttlMs <= 0) return load();
    const existing = this.flights.get(key);
    if (existing) {
      this.counters.singleFlightJoins++;
      return existing.promise as Promise<T>;
    }
    const flight: Flight = { promise: Promise.resolve(), invalidated: false };
    flight.promise = this.readThrough(owner, key, load, ttlMs, flight).finally(() => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    });
    this.flights.set(key, flight);
    return flight.promise as Promise<T>;
  }

  private async readThrough<T>(owner: Owner, key: string, load: () => Promise<T>, ttlMs: number, flight: Flight): Promise<T> {
    if (!this.canRead()) {
      this.counters.bypassed++;
      return load();
    }
    const raw = await this.attempt(() => this.driver.get(key), null);
    if (raw === null) return load(); // store failed: do not try to write either
    const ownerId = owner.kind === 'tenant' ? owner.tenantId : null;
    if (raw !== undefined) {
      const envelope = decode(raw);
      if (envelope && envelope.t === ownerId) {
        this.counters.hits++;
        return envelope.v as T;
      }
      this.counters.envelopeMismatches++;
      this.logger.warn(`cache entry ${key} does not belong to its key owner; treated as a miss`);
    }
    this.counters.misses++;
    const value = await load();
    if (value !== undefined && !flight.invalidated && this.canRead()) {
      this.maxTtlUsedMs = Math.max(this.maxTtlUsedMs, ttlMs);
      await this.attempt(() => this.driver.set(key, JSON.stringify({ t: ownerId, v: value } satisfies Envelope), ttlMs));
    }
    return value;
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    for (const key of keys) {
      const flight = this.flights.get(key);
      if (flight) {
        flight.invalidated = true;
        this.flights.delete(key);
      }
    }
    this.counters.invalidations++;
    const ok = this.driver.isReady() && (await this.attempt(() => this.driver.delete(keys).then(() => true)));
    if (!ok) for (const key of keys) this.remember(key, { op: 'delete' });
  }

  private remember(key: string, invalidation: PendingInvalidation): void {
    if (this.pending.size >= MAX_PENDING && !this.pending.has(key)) {
      this.pendingOverflowed = true;
      return;
    }
    this.pending.set(key, invalidation);
  }

  /** Reads are served from the store only when it is up and nothing is left to replay. */
  private canRead(): boolean {
    if (!this.driver.isReady() || Date.now() < this.breakerOpenUntil) return false;
    if (this.pending.size > 0 || this.pendingOverflowed) {
      void this.replayPending();
      return false;
    }
    return Date.now() >= this.bypassUntil;
  }

  /** Runs a store command; on failure counts, logs (rate-limited) and returns `fallback`. */
  private async attempt<T, F = undefined>(command: () => Promise<T>, fallback?: F): Promise<T | F> {
    if (!this.driver.isReady()) {
      this.counters.bypassed++;
      return fallback as F;
    }
    try {
      const result = await command();
      this.recordSuccess();
      return result;
    } catch (error) {
      this.recordFailure(error);
      return fallback as F;
    }
  }

  private recordSuccess(): void {
    this.consecutiveFailures = 0;
  }

  private recordFailure(error: unknown): void {
    this.counters.errors++;
    this.consecutiveFailures++;
    // A store that keeps timing out would cost every request a full timeout: stop asking for a moment.
    if (this.consecutiveFailures >= BREAKER_THRESHOLD) this.breakerOpenUntil = Date.now() + BREAKER_COOLDOWN_MS;
    this.noteError(error);
  }

  /** Connection-level errors reported by the driver (refused, reset): counted and logged like command failures. */
  noteConnectionError(error: unknown): void {
    this.counters.errors++;
    this.noteError(error);
  }

  private noteError(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    const now = Date.now();
    this.lastError = { message, at: new Date(now).toISOString() };
    if (now - this.lastErrorLogAt < ERROR_LOG_INTERVAL_MS) {
      this.suppressedErrors++;
      return;
    }
    const suppressed = this.suppressedErrors ? ` (${this.suppressedErrors} similar errors suppressed)` : '';
    this.lastErrorLogAt = now;
    this.suppressedErrors = 0;
    this.logger.warn(`${this.driver.name} cache unavailable, serving from PostgreSQL: ${message}${suppressed}`);
  }
}

function decode(raw: string): Envelope | undefined {
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === 'object' && 't' in parsed && 'v' in parsed) return parsed as Envelope;
  } catch {
    /* not ours */
  }
  return undefined;
}
