/**
 * Counts sign-in attempts that verify a password per key ("account:<email>",
 * "address:<ip>") and says how long a key must wait. Behind an interface so a
 * shared store (Redis: INCR + EXPIRE, DECR to release) can replace the
 * in-process one when the API runs on several instances; hence async.
 *
 * An attempt is counted BEFORE the password is verified (`reserve`), in the
 * same step as the limit check, so N parallel guesses cannot all pass a check
 * made before any of them was recorded. A guess that fails keeps its count;
 * one that succeeds (or fails for a reason that is not a wrong guess) gives it
 * back with `release`. Consequence: attempts still in flight count too, so
 * more than `max` simultaneous sign-ins to one account (or from one address)
 * get 429 even with the right password until the others finish.
 */
export abstract class LoginThrottle {
  /**
   * Checks every key and, if none is at its limit, counts one attempt against
   * each of them, atomically. Refused: nothing is counted.
   */
  abstract reserve(keys: string[]): Promise<ThrottleReservation>;
  /** Gives back what a granted reservation counted (a no-op for a refused one, or when its window has ended). */
  abstract release(reservation: ThrottleReservation): Promise<void>;
  /** Forgets every attempt counted against the key (an account that just signed in). */
  abstract reset(key: string): Promise<void>;
  /** Seconds until every one of `keys` may try again; 0 when none is blocked. Counts nothing. */
  abstract retryAfterSeconds(keys: string[]): Promise<number>;
}

export type ThrottleReservation =
  /** `handle`: what release() needs, opaque to callers. */
  | { granted: true; handle: unknown }
  | { granted: false; retryAfterSeconds: number };

export interface ThrottleLimits {
  maxFailuresPerAccount: number;
  maxFailuresPerAddress: number;
  windowSeconds: number;
}

interface Window {
  startedAt: number;
  failures: number;
}

/** Bounded, so a flood of distinct emails or addresses cannot grow memory without limit. */
const MAX_KEYS = 100_000;

/**
 * Fixed window per key: after `max` counted attempts within `windowSeconds` of
 * the first one, the key is blocked until that window ends. Per account bounds
 * guessing one password from many addresses; per address bounds one client
 * trying many accounts. In-process: each instance counts on its own, so with N
 * instances an attacker gets up to N times the budget. Check and count happen
 * in one synchronous step (no await between them), which is what makes them
 * atomic in a single Node.js process.
 */
export class InMemoryLoginThrottle extends LoginThrottle {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limits: ThrottleLimits,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  async reserve(keys: string[]): Promise<ThrottleReservation> {
    return this.reserveNow(keys);
  }

  async release(reservation: ThrottleReservation): Promise<void> {
    this.releaseNow(reservation);
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }

  async retryAfterSeconds(keys: string[]): Promise<number> {
    return this.waitFor(keys, this.now());
  }

  /** The synchronous core of reserve(): no await between the check and the count. */
  reserveNow(keys: string[]): ThrottleReservation {
    const now = this.now();
    const wait = this.waitFor(keys, now);
    if (wait > 0) return { granted: false, retryAfterSeconds: wait };
    const counted: Array<[string, Window]> = [];
    for (const key of new Set(keys)) {
      let window = this.current(key, now);
      if (window) {
        window.failures += 1;
      } else {
        if (this.windows.size >= MAX_KEYS) this.evict(now);
        window = { startedAt: now, failures: 1 };
        this.windows.set(key, window);
      }
      counted.push([key, window]);
    }
    return { granted: true, handle: counted };
  }

  releaseNow(reservation: ThrottleReservation): void {
    if (!reservation.granted) return;
    for (const [key, window] of reservation.handle as Array<[string, Window]>) {
      // Only the window that counted it: a window that ended (or was evicted or reset) since is not touched.
      if (this.windows.get(key) !== window) continue;
      window.failures -= 1;
      if (window.failures <= 0) this.windows.delete(key);
    }
  }

  private waitFor(keys: string[], now: number): number {
    let wait = 0;
    for (const key of keys) {
      const window = this.current(key, now);
      if (window && window.failures >= this.maxFor(key)) {
        wait = Math.max(wait, Math.ceil((window.startedAt + this.limits.windowSeconds * 1000 - now) / 1000));
      }
    }
    return wait;
  }

  private current(key: string, now: number): Window | undefined {
    const window = this.windows.get(key);
    if (window && now - window.startedAt >= this.limits.windowSeconds * 1000) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }

  private maxFor(key: string): number {
    return key.startsWith('address:') ? this.limits.maxFailuresPerAddress : this.limits.maxFailuresPerAccount;
  }

  /** Drops expired windows; if none expired, the oldest one (Map keeps insertion order). */
  private evict(now: number): void {
    for (const [key, window] of this.windows) {
      if (now - window.startedAt >= this.limits.windowSeconds * 1000) this.windows.delete(key);
    }
    if (this.windows.size >= MAX_KEYS) this.windows.delete(this.windows.keys().next().value as string);
  }
}

export const accountKey = (email: string) => `account:${email.trim().toLowerCase()}`;
export const addressKey = (address: string | undefined) => `address:${address ?? 'unknown'}`;
