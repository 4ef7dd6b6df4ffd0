import { Logger } from '@nestjs/common';
import type { RedisConnection } from '../cache/redis-client';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

/** Where a count was kept: Redis (shared by every instance) or this process (the fallback). */
export type CounterStore = 'redis' | 'memory';

export interface Counted {
  /** Hits in the current window, this one included. */
  count: number;
  /** Until the window ends (and the count starts again from zero). */
  msBeforeReset: number;
}

/** How long Redis is left alone after a failure, so a stalled server costs one command timeout per second, not one per request. */
const REDIS_PAUSE_AFTER_FAILURE_MS = 1_000;
const LOG_EVERY_MS = 10_000;
/**
 * rate-limiter-flexible decides against a fixed `points` per limiter, but a budget
 * here depends on the tenant's plan, read per request. So the limiters are used as
 * fixed-window counters (a limit no count reaches) and the caller compares the count
 * with the budget it holds; a plan change then applies to the running window at once.
 */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * Fixed-window counters on rate-limiter-flexible, shared by every instance through
 * Redis (RateLimiterRedis: one Lua INCR + PTTL per key, atomic), with an in-process
 * RateLimiterMemory for when Redis is not configured or not answering.
 *
 * Falling back is done here rather than with the library's `insuranceLimiter`, which
 * does the same thing silently: callers need to know a count is this instance's alone
 * (they then enforce the instance's share of the budget), and a failure opens a short
 * pause so a stalled Redis does not cost every request a command timeout. Keys are
 * built by the caller (src/cache/cache-keys.ts) and used as is (no library prefix).
 */
export class RateCounters {
  private readonly logger = new Logger(RateCounters.name);
  private readonly redis?: RateLimiterRedis;
  private readonly memory = new RateLimiterMemory({ points: NO_LIMIT, duration: 60, keyPrefix: '' });
  private pausedUntil = 0;
  private lastLog = 0;
  private failures = 0;

  constructor(private readonly client?: RedisConnection) {
    if (client) this.redis = new RateLimiterRedis({ storeClient: client, points: NO_LIMIT, duration: 60, keyPrefix: '' });
  }

  /** Whether the next call will count in Redis. */
  get sharing(): boolean {
    return !!this.client && this.client.status === 'ready' && Date.now() >= this.pausedUntil;
  }

  /** Redis failures since start (each one answered from memory). */
  get storeFailures(): number {
    return this.failures;
  }

  /**
   * Counts one hit on each key (in its window), every key in the same store. On Redis the hits
   * are sent in the same tick, so with auto-pipelining they share one round trip.
   */
  async hit(counters: ReadonlyArray<{ key: string; windowSeconds: number }>): Promise<{ store: CounterStore; counts: Counted[] }> {
    const consume = (limiter: RateLimiterRedis | RateLimiterMemory) =>
      Promise.all(counters.map(({ key, windowSeconds }) => limiter.consume(key, 1, { customDuration: windowSeconds })));
    if (this.redis && this.sharing) {
      try {
        return { store: 'redis', counts: (await consume(this.redis)).map(counted) };
      } catch (error) {
        this.noteFailure(error);
      }
    }
    return { store: 'memory', counts: (await consume(this.memory)).map(counted) };
  }

  /** Takes one hit back (a no-op on a key whose window ended: see SharedLoginThrottle for how callers check that). */
  async giveBack(key: string, windowSeconds: number, store: CounterStore): Promise<void> {
    await this.on(store, (limiter) => limiter.reward(key, 1, { customDuration: windowSeconds }));
  }

  /** The key's current window, or undefined when it has none. */
  async peek(key: string, store: CounterStore): Promise<Counted | undefined> {
    const result = await this.on(store, (limiter) => limiter.get(key));
    return result ? counted(result) : undefined;
  }

  /** Forgets the key in both stores (what one counted while Redis was away must not outlive it either). */
  async forget(key: string): Promise<void> {
    await this.memory.delete(key);
    if (this.redis && this.sharing) await this.redis.delete(key).catch((error: unknown) => this.noteFailure(error));
  }

  /** Runs on the given store; a Redis failure there is noted and the result is empty, never an exception. */
  private async on<T>(store: CounterStore, run: (limiter: RateLimiterRedis | RateLimiterMemory) => Promise<T>): Promise<T | undefined> {
    if (store === 'memory' || !this.redis) return run(this.memory);
    try {
      return await run(this.redis);
    } catch (error) {
      this.noteFailure(error);
      return undefined;
    }
  }

  private noteFailure(error: unknown): void {
    this.failures += 1;
    const now = Date.now();
    this.pausedUntil = now + REDIS_PAUSE_AFTER_FAILURE_MS;
    if (now - this.lastLog >= LOG_EVERY_MS) {
      this.lastLog = now;
      this.logger.warn(`rate limit counters on Redis failed, counting in process meanwhile: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

function counted(result: RateLimiterRes): Counted {
  return { count: result.consumedPoints, msBeforeReset: Math.max(0, result.msBeforeNext) };
}
