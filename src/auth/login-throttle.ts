/**
 * Counts failed sign-ins per key ("account:<email>", "address:<ip>") and says
 * how long a key must wait. Behind an interface so a shared store (Redis) can
 * replace the in-process one when the API runs on several instances.
 */
export abstract class LoginThrottle {
  /** Seconds until every one of `keys` may try again; 0 when none is blocked. */
  abstract retryAfterSeconds(keys: string[]): number;
  abstract recordFailure(keys: string[]): void;
  abstract reset(key: string): void;
}

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
 * Fixed window per key: after `max` failures within `windowSeconds` of the
 * first one, the key is blocked until that window ends. Per account bounds
 * guessing one password from many addresses; per address bounds one client
 * trying many accounts. In-process: each instance counts on its own, so with N
 * instances an attacker gets up to N times the budget.
 */
export class InMemoryLoginThrottle extends LoginThrottle {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limits: ThrottleLimits,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  retryAfterSeconds(keys: string[]): number {
    const now = this.now();
    let wait = 0;
    for (const key of keys) {
      const window = this.current(key, now);
      if (window && window.failures >= this.maxFor(key)) {
        wait = Math.max(wait, Math.ceil((window.startedAt + this.limits.windowSeconds * 1000 - now) / 1000));
      }
    }
    return wait;
  }

  recordFailure(keys: string[]): void {
    const now = this.now();
    for (const key of keys) {
      const window = this.current(key, now);
      if (window) {
        window.failures += 1;
        continue;
      }
      if (this.windows.size >= MAX_KEYS) this.evict(now);
      this.windows.set(key, { startedAt: now, failures: 1 });
    }
  }

  reset(key: string): void {
    this.windows.delete(key);
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
