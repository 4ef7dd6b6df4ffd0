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
export const MAX_THROTTLE_KEYS = 100_000;
/** How often a full map is swept for ended windows (a sweep walks every entry). */
const SWEEP_INTERVAL_MS = 1_000;
/**
 * The hard per-account limit applies per (account, address): one address
 * guessing one account. Across all addresses an account gets this many times
 * more, so a stranger cannot lock a user out of every tenant with a handful of
 * wrong passwords, while a distributed guess is still bounded.
 */
export const ACCOUNT_WIDE_FACTOR = 10;

/** How many attempts a key may count in one window (the kind of key is its prefix). */
export function maxAttemptsFor(key: string, limits: ThrottleLimits): number {
  if (key.startsWith('address:')) return limits.maxFailuresPerAddress;
  if (key.startsWith('account-address:')) return limits.maxFailuresPerAccount;
  return limits.maxFailuresPerAccount * ACCOUNT_WIDE_FACTOR;
}

/**
 * Fixed window per key: after `max` counted attempts within `windowSeconds` of
 * the first one, the key is blocked until that window ends. Per (account,
 * address) bounds one client guessing one password; per account (ten times
 * higher) bounds a guess spread over many addresses; per address bounds one
 * client trying many accounts. A success resets only its (account, address)
 * pair, so it neither clears other guessers' counts nor tells them it happened. In-process: each instance counts on its own, so with N
 * instances an attacker gets up to N times the budget; SharedLoginThrottle (Redis) uses it only when Redis is unset or unreachable. Check and count happen
 * in one synchronous step (no await between them), which is what makes them
 * atomic in a single Node.js process.
 */
export class InMemoryLoginThrottle extends LoginThrottle {
  private readonly windows = new Map<string, Window>();
  private lastSweep = 0;

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
    const unique = [...new Set(keys)];
    const fresh = unique.filter((key) => !this.current(key, now)).length;
    if (fresh > 0 && this.windows.size + fresh > MAX_THROTTLE_KEYS) {
      this.sweep(now);
      // Never evict a live window (that would unblock whoever it blocks): when the map is still
      // full of them, new keys wait. Fails closed, with memory bounded.
      if (this.windows.size + fresh > MAX_THROTTLE_KEYS) return { granted: false, retryAfterSeconds: 1 };
    }
    const counted: Array<[string, Window]> = [];
    for (const key of unique) {
      let window = this.current(key, now);
      if (window) {
        window.failures += 1;
      } else {
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
    return maxAttemptsFor(key, this.limits);
  }

  /** Drops ended windows, at most once per SWEEP_INTERVAL_MS. */
  private sweep(now: number): void {
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [key, window] of this.windows) {
      if (now - window.startedAt >= this.limits.windowSeconds * 1000) this.windows.delete(key);
    }
  }
}

const normalizeEmail = (email: string) => email.trim().toLowerCase();

/**
 * The client, as far as a limit can tell: IPv4 as is, IPv6 by its /64 (one
 * subscriber usually holds a whole /64, so per-/128 keys would be free to rotate).
 */
export function clientNetwork(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!address.includes(':')) return address;
  const bare = address.split('%')[0].toLowerCase();
  const halves = bare.split('::');
  if (halves.length > 2) return bare;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length === 2 ? [...head, ...Array(8 - head.length - tail.length).fill('0'), ...tail] : head;
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return bare;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** Every attempt on an account, from anywhere (the wider, account-wide limit). */
export const accountKey = (email: string) => `account:${normalizeEmail(email)}`;
/** One address guessing one account (the hard per-account limit). */
export const accountAddressKey = (email: string, address: string | undefined) =>
  `account-address:${normalizeEmail(email)}|${clientNetwork(address)}`;
export const addressKey = (address: string | undefined) => `address:${clientNetwork(address)}`;
