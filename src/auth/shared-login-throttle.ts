import { signInThrottleKey } from '../cache/cache-keys';
import { CounterStore, RateCounters } from '../rate-limits/rate-counters';
import { InMemoryLoginThrottle, LoginThrottle, maxAttemptsFor, ThrottleLimits, ThrottleReservation } from './login-throttle';

interface SharedHandle {
  store: 'redis';
  /** Each counted key and when the window that counted it ends (to recognise that window on release). */
  counted: Array<{ key: string; windowEndsAt: number }>;
}

interface FallbackHandle {
  store: 'memory';
  inner: ThrottleReservation;
}

/**
 * Two readings of one window's end differ by the latency between them; a window
 * reset and started again since ends at least this much later in practice.
 */
const SAME_WINDOW_TOLERANCE_MS = 250;

/**
 * The sign-in throttle with the same semantics as InMemoryLoginThrottle (read its
 * comment: per (account, address), per account ten times higher, per address;
 * counted before the password is verified; refused: nothing counted; a success
 * gives its attempt back), counted in Redis through the rate limiters' counters
 * (rate-limiter-flexible), so every instance shares one budget.
 *
 * When Redis is unset or not answering it falls back to InMemoryLoginThrottle,
 * this instance's own bounded store (the budget is then per instance, as before).
 *
 * Differences from the in-process store, both on Redis only: the check and the
 * count are one atomic INCR per key rather than one step over all keys, so a
 * refused attempt increments and then gives back, and in between a concurrent
 * attempt may be refused too (fail closed). And a release recognises the window
 * it counted in by its end time (a window deleted by a success, or ended, is
 * left alone), not by identity.
 */
export class SharedLoginThrottle extends LoginThrottle {
  private readonly fallback: InMemoryLoginThrottle;

  constructor(
    private readonly counters: RateCounters,
    private readonly limits: ThrottleLimits,
    private readonly onRefused: (store: CounterStore) => void = () => undefined,
  ) {
    super();
    this.fallback = new InMemoryLoginThrottle(limits);
  }

  async reserve(keys: string[]): Promise<ThrottleReservation> {
    const unique = [...new Set(keys)];
    const stored = unique.map(signInThrottleKey);
    if (this.counters.sharing) {
      const { store, counts } = await this.counters.hit(stored.map((key) => ({ key, windowSeconds: this.limits.windowSeconds })));
      if (store === 'redis') {
        const now = Date.now();
        const blocked = unique.flatMap((key, i) => (counts[i].count > maxAttemptsFor(key, this.limits) ? [counts[i]] : []));
        if (blocked.length === 0) {
          const handle: SharedHandle = { store: 'redis', counted: stored.map((key, i) => ({ key, windowEndsAt: now + counts[i].msBeforeReset })) };
          return { granted: true, handle };
        }
        await Promise.all(stored.map((key) => this.counters.giveBack(key, this.limits.windowSeconds, 'redis')));
        this.onRefused('redis');
        return { granted: false, retryAfterSeconds: Math.max(1, ...blocked.map((c) => Math.ceil(c.msBeforeReset / 1000))) };
      }
      // Redis failed during the call: the hits landed in the limiters' memory store, which is not ours to use.
      await Promise.all(stored.map((key) => this.counters.giveBack(key, this.limits.windowSeconds, 'memory')));
    }
    const inner = await this.fallback.reserve(keys);
    if (!inner.granted) {
      this.onRefused('memory');
      return inner;
    }
    const handle: FallbackHandle = { store: 'memory', inner };
    return { granted: true, handle };
  }

  async release(reservation: ThrottleReservation): Promise<void> {
    if (!reservation.granted) return;
    const handle = reservation.handle as SharedHandle | FallbackHandle;
    if (handle.store === 'memory') return this.fallback.release(handle.inner);
    await Promise.all(
      handle.counted.map(async ({ key, windowEndsAt }) => {
        const current = await this.counters.peek(key, 'redis');
        if (current && Math.abs(Date.now() + current.msBeforeReset - windowEndsAt) <= SAME_WINDOW_TOLERANCE_MS) {
          await this.counters.giveBack(key, this.limits.windowSeconds, 'redis');
        }
      }),
    );
  }

  async reset(key: string): Promise<void> {
    await Promise.all([this.fallback.reset(key), this.counters.forget(signInThrottleKey(key))]);
  }

  async retryAfterSeconds(keys: string[]): Promise<number> {
    if (!this.counters.sharing) return this.fallback.retryAfterSeconds(keys);
    let wait = 0;
    for (const key of new Set(keys)) {
      const current = await this.counters.peek(signInThrottleKey(key), 'redis');
      if (current && current.count >= maxAttemptsFor(key, this.limits)) wait = Math.max(wait, Math.ceil(current.msBeforeReset / 1000));
    }
    return wait;
  }
}
