import { rateLimitKey, RateLimitSubject } from '../cache/cache-keys';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import type { Tenant } from '../tenancy/tenant';
import { CounterStore, RateCounters } from './rate-counters';

const MINUTE = 60;
const SECOND = 1;
/** The per-second cap never goes below this, so a small budget may still be spent in a short burst. */
const MIN_PER_SECOND = 10;
const MAX_SPENT_ENTRIES = 10_000;

/** Which budget refused a request (a bounded metric label). */
export type RateLimitScope = 'tenant' | 'tenant_second' | 'api_key' | 'sign_in';

export interface RateLimitStats {
  /** Requests refused with 429, by budget and by where the count was kept. */
  rejected: Map<`${RateLimitScope}|${CounterStore}`, number>;
}

/** The caller as far as budgets go: an API key has its own share; a user session counts on the tenant only. */
export type RateLimitedPrincipal = { kind: 'user' } | { kind: 'api-key'; keyId: string };

interface Budget {
  scope: Exclude<RateLimitScope, 'sign_in'>;
  subject: RateLimitSubject;
  limit: number;
  windowSeconds: number;
}

/** Response headers (IETF draft-ietf-httpapi-ratelimit-headers, the separate-fields version). */
export type RateLimitHeaders = Record<'ratelimit-limit' | 'ratelimit-remaining' | 'ratelimit-reset', string>;

/**
 * Per-tenant request budgets: `requests_per_minute` of the tenant's entitlements
 * (its plan with its overrides), counted in fixed 60 s windows shared by every
 * instance through Redis, with a per-second cap (RATE_LIMIT_BURST_FACTOR times the
 * average rate) so a minute's budget cannot land on the database in one burst. A
 * request made with an API key also counts against that key's share of the budget
 * (RATE_LIMIT_API_KEY_SHARE), so one runaway integration cannot spend what the
 * tenant's people need. A refused request counts against no budget. Unlimited
 * tenants (null) cost nothing: no counter, no Redis call, no headers.
 *
 * Without Redis (unset, or failing) each instance counts alone and enforces
 * ceil(limit / RATE_LIMIT_INSTANCES), so N instances together stay near the budget.
 */
export class RequestRateLimiter {
  readonly stats: RateLimitStats = { rejected: new Map() };
  /**
   * Budgets found spent, by counter key: until when, and against which limit. A flood past
   * its budget is then refused here without a Redis call until the window ends, so a noisy
   * tenant costs Redis nothing more. Keyed on the limit too: a plan change reaches this
   * instance with the tenant lookup, and a different limit is judged by the counter again.
   */
  private readonly spent = new Map<string, { until: number; limit: number; store: CounterStore }>();

  constructor(
    private readonly counters: RateCounters,
    private readonly options: { instances: number; apiKeyShare: number; burstFactor: number },
  ) {}

  /**
   * Counts the request against its budgets: the headers to send with the response,
   * undefined when the tenant is unlimited, or 429 TOO_MANY_REQUESTS (with the same
   * headers and Retry-After) when a budget is spent.
   */
  async admit(tenant: Tenant, principal: RateLimitedPrincipal): Promise<RateLimitHeaders | undefined> {
    const budgets = this.budgetsOf(tenant, principal);
    if (budgets.length === 0) return undefined;
    const keys = budgets.map((budget) => rateLimitKey(tenant.id, budget.subject));
    this.refuseIfSpent(budgets, keys);
    const { store, counts } = await this.counters.hit(budgets.map((budget, i) => ({ key: keys[i], windowSeconds: budget.windowSeconds })));
    const judged = budgets.map((budget, i) => {
      const limit = this.enforcedLimit(budget.limit, store);
      return { budget, limit, remaining: Math.max(0, limit - counts[i].count), resetSeconds: Math.max(1, Math.ceil(counts[i].msBeforeReset / 1000)), over: counts[i].count > limit };
    });
    const refused = judged.filter((j) => j.over).sort((a, b) => b.resetSeconds - a.resetSeconds)[0];
    // The headers describe the budget that binds: the one that refused, else the minute budget with the least
    // left (the per-second cap shows only when it refuses: a client pacing itself by the minute never meets it).
    const shown = refused ?? judged.filter((j) => j.budget.windowSeconds === MINUTE).sort((a, b) => a.remaining - b.remaining)[0];
    const headers: RateLimitHeaders = {
      'ratelimit-limit': String(shown.limit),
      'ratelimit-remaining': String(shown.remaining),
      'ratelimit-reset': String(shown.resetSeconds),
    };
    if (!refused) return headers;
    const index = judged.indexOf(refused);
    this.rememberSpent(keys[index], { until: Date.now() + counts[index].msBeforeReset, limit: refused.budget.limit, store });
    // Not admitted, so not counted: a client refused by the per-second cap keeps its minute's budget. Only the
    // first refusal of a window reaches here (later ones are refused in process), so this costs little.
    await Promise.all(budgets.map((budget, i) => this.counters.giveBack(keys[i], budget.windowSeconds, store)));
    throw this.tooManyRequests(refused.budget.scope, refused.limit, refused.resetSeconds, store);
  }

  private refuseIfSpent(budgets: Budget[], keys: string[]): void {
    if (this.spent.size === 0) return;
    const now = Date.now();
    for (const [i, key] of keys.entries()) {
      const spent = this.spent.get(key);
      if (!spent) continue;
      if (spent.until <= now || spent.limit !== budgets[i].limit) {
        this.spent.delete(key);
        continue;
      }
      const refusal = this.tooManyRequests(budgets[i].scope, this.enforcedLimit(spent.limit, spent.store), Math.max(1, Math.ceil((spent.until - now) / 1000)), spent.store);
      throw new BudgetStillSpent(refusal, budgets[i].scope, spent.store, spent.until);
    }
  }

  /** The budget this instance enforces: all of it when counted in Redis; counted alone, only its share. */
  private enforcedLimit(limit: number, store: CounterStore): number {
    return store === 'redis' ? limit : Math.max(1, Math.ceil(limit / this.options.instances));
  }

  private rememberSpent(key: string, spent: { until: number; limit: number; store: CounterStore }): void {
    // Bounded: when full, drop what has ended; if still full, forget the oldest (it is only a shortcut).
    if (this.spent.size >= MAX_SPENT_ENTRIES) {
      const now = Date.now();
      for (const [k, v] of this.spent) if (v.until <= now) this.spent.delete(k);
      if (this.spent.size >= MAX_SPENT_ENTRIES) this.spent.delete(this.spent.keys().next().value!);
    }
    this.spent.set(key, spent);
  }

  private tooManyRequests(scope: Budget['scope'], limit: number, resetSeconds: number, store: CounterStore): AppError {
    this.noteRejected(scope, store);
    const what = scope === 'api_key' ? "This API key's request rate limit" : "The tenant's request rate limit";
    const per = scope === 'tenant_second' ? 'second' : 'minute';
    return new AppError(ErrorCode.TooManyRequests, `${what} (${limit} per ${per}) is reached: retry after ${resetSeconds} s`, undefined, {
      'ratelimit-limit': String(limit),
      'ratelimit-remaining': '0',
      'ratelimit-reset': String(resetSeconds),
      'retry-after': String(resetSeconds),
    });
  }

  private budgetsOf(tenant: Tenant, principal: RateLimitedPrincipal): Budget[] {
    const limit = tenant.entitlements.limits.requests_per_minute;
    if (limit === null || limit === undefined) return [];
    const budgets: Budget[] = [{ scope: 'tenant', subject: { kind: 'tenant' }, limit, windowSeconds: MINUTE }];
    const perSecond = Math.max(MIN_PER_SECOND, Math.ceil((limit / 60) * this.options.burstFactor));
    if (perSecond < limit) budgets.push({ scope: 'tenant_second', subject: { kind: 'tenant-second' }, limit: perSecond, windowSeconds: SECOND });
    if (principal.kind === 'api-key' && this.options.apiKeyShare < 1) {
      budgets.push({ scope: 'api_key', subject: { kind: 'api-key', keyId: principal.keyId }, limit: Math.max(1, Math.floor(limit * this.options.apiKeyShare)), windowSeconds: MINUTE });
    }
    return budgets;
  }

  /** Counts a sign-in refusal (the throttle lives in src/auth; its 429s are counted with the others). */
  noteRejected(scope: RateLimitScope, store: CounterStore): void {
    const stat = `${scope}|${store}` as const;
    this.stats.rejected.set(stat, (this.stats.rejected.get(stat) ?? 0) + 1);
  }
}

/**
 * The 429 of a budget this instance already knew was spent (the second refusal of a
 * window onward): the request may be answered earlier next time (RecentRefusals).
 */
export class BudgetStillSpent extends AppError {
  /** `windowEndsAt`: when the spent budget's window ends (epoch ms), exact, where Retry-After is whole seconds. */
  constructor(
    refusal: AppError,
    readonly scope: Exclude<RateLimitScope, 'sign_in'>,
    readonly store: CounterStore,
    readonly windowEndsAt: number,
  ) {
    super(refusal.code, refusal.message, refusal.details, refusal.headers);
    this.name = 'BudgetStillSpent';
  }
}

/** Sets headers on a Fastify reply or an Express/Node response before the handler answers. */
export function setResponseHeaders(response: unknown, headers: Record<string, string>): void {
  const reply = response as { header?: (name: string, value: string) => unknown; setHeader?: (name: string, value: string) => unknown };
  for (const [name, value] of Object.entries(headers)) {
    if (typeof reply.header === 'function') reply.header(name, value);
    else reply.setHeader?.(name, value);
  }
}
