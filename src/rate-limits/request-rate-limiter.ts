import { rateLimitKey, RateLimitSubject } from '../cache/cache-keys';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import type { Tenant } from '../tenancy/tenant';
import { CounterStore, RateCounters } from './rate-counters';

const WINDOW_SECONDS = 60;

/** Which budget refused a request (a bounded metric label). */
export type RateLimitScope = 'tenant' | 'api_key' | 'sign_in';

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
}

/** Response headers (IETF draft-ietf-httpapi-ratelimit-headers, the separate-fields version). */
export type RateLimitHeaders = Record<'ratelimit-limit' | 'ratelimit-remaining' | 'ratelimit-reset', string>;

/**
 * Per-tenant request budgets: `requests_per_minute` of the tenant's entitlements
 * (its plan with its overrides), counted in fixed 60 s windows shared by every
 * instance through Redis. A request made with an API key also counts against that
 * key's share of the budget (RATE_LIMIT_API_KEY_SHARE), so one runaway integration
 * cannot spend what the tenant's people need. Unlimited tenants (null) cost nothing:
 * no counter, no Redis call, no headers.
 *
 * Without Redis (unset, or failing) each instance counts alone and enforces
 * ceil(limit / RATE_LIMIT_INSTANCES), so N instances together stay near the budget.
 */
export class RequestRateLimiter {
  readonly stats: RateLimitStats = { rejected: new Map() };

  constructor(
    private readonly counters: RateCounters,
    private readonly options: { instances: number; apiKeyShare: number },
  ) {}

  /**
   * Counts the request against its budgets: the headers to send with the response,
   * undefined when the tenant is unlimited, or 429 TOO_MANY_REQUESTS (with the same
   * headers and Retry-After) when a budget is spent.
   */
  async admit(tenant: Tenant, principal: RateLimitedPrincipal): Promise<RateLimitHeaders | undefined> {
    const budgets = this.budgetsOf(tenant, principal);
    if (budgets.length === 0) return undefined;
    const { store, counts } = await this.counters.hit(
      budgets.map((budget) => rateLimitKey(tenant.id, budget.subject)),
      WINDOW_SECONDS,
    );
    // Counted alone, this instance holds only its share of each budget.
    const limitOf = (budget: Budget) => (store === 'redis' ? budget.limit : Math.max(1, Math.ceil(budget.limit / this.options.instances)));
    const judged = budgets.map((budget, i) => {
      const limit = limitOf(budget);
      return { budget, limit, remaining: Math.max(0, limit - counts[i].count), resetSeconds: Math.max(1, Math.ceil(counts[i].msBeforeReset / 1000)), over: counts[i].count > limit };
    });
    const refused = judged.filter((j) => j.over).sort((a, b) => b.resetSeconds - a.resetSeconds)[0];
    // The headers describe the budget that binds: the one that refused, else the one with the least left.
    const shown = refused ?? [...judged].sort((a, b) => a.remaining - b.remaining)[0];
    const headers: RateLimitHeaders = {
      'ratelimit-limit': String(shown.limit),
      'ratelimit-remaining': String(shown.remaining),
      'ratelimit-reset': String(shown.resetSeconds),
    };
    if (!refused) return headers;
    const stat = `${refused.budget.scope}|${store}` as const;
    this.stats.rejected.set(stat, (this.stats.rejected.get(stat) ?? 0) + 1);
    const what = refused.budget.scope === 'tenant' ? "The tenant's request rate limit" : "This API key's request rate limit";
    throw new AppError(ErrorCode.TooManyRequests, `${what} (${refused.limit} per minute) is reached: retry after ${refused.resetSeconds} s`, undefined, {
      ...headers,
      'retry-after': String(refused.resetSeconds),
    });
  }

  private budgetsOf(tenant: Tenant, principal: RateLimitedPrincipal): Budget[] {
    const limit = tenant.entitlements.limits.requests_per_minute;
    if (limit === null || limit === undefined) return [];
    const budgets: Budget[] = [{ scope: 'tenant', subject: { kind: 'tenant' }, limit }];
    if (principal.kind === 'api-key' && this.options.apiKeyShare < 1) {
      budgets.push({ scope: 'api_key', subject: { kind: 'api-key', keyId: principal.keyId }, limit: Math.max(1, Math.floor(limit * this.options.apiKeyShare)) });
    }
    return budgets;
  }

  /** Counts a sign-in refusal (the throttle lives in src/auth; its 429s are counted with the others). */
  noteRejected(scope: RateLimitScope, store: CounterStore): void {
    const stat = `${scope}|${store}` as const;
    this.stats.rejected.set(stat, (this.stats.rejected.get(stat) ?? 0) + 1);
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
