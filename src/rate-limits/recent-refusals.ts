import { createHash } from 'node:crypto';
import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { BudgetStillSpent, RequestRateLimiter } from './request-rate-limiter';

/** How long one refusal is replayed at most: a plan change that raises the limit is seen within this. */
const REPLAY_MS = 1_000;
const MAX_ENTRIES = 10_000;

/** What identifies "the same request again": the route and every header that chose the tenant and the credential. */
export interface RefusalSubject {
  method: string;
  /** The route pattern (`/documents/:id`), not the URL: a flood over many ids is one subject. */
  route: string;
  headers: Record<string, string | string[] | undefined>;
}

interface Refusal {
  /** The replay stops here (at most REPLAY_MS after it was remembered). */
  until: number;
  /** The refused budget's window ends here: what RateLimit-Reset and Retry-After count down to. */
  windowEnd: number;
  refused: BudgetStillSpent;
  limit: string;
  message: string;
}

/**
 * A flood past its budget is refused before it costs anything: once a request
 * has been through the whole admission (credential verified, tenant looked up,
 * membership and role checked) and refused with 429 because its budget was
 * spent twice in a row, the exact same credential, tenant headers and route are
 * answered 429 by the HTTP layer's first hook (src/app.factory.ts) until the
 * window ends, at most REPLAY_MS at a time. Refused requests then cost HTTP
 * parsing and one hash instead of JWT verification, lookups and Nest's
 * pipeline, so a tenant flooding at 50 times its budget takes little of the
 * event loop that the other tenants share (README "Rate limits under a noisy
 * neighbour").
 *
 * Why it cannot be abused: an entry is keyed by a SHA-256 of the credential
 * itself (never stored), so only a caller holding that credential can meet it;
 * a stranger's requests, a wrong token or another tenant's header never match
 * and go through the full admission. What an entry can do is answer 429 early:
 * it never admits anything. The cost of the shortcut: a limit raised on another
 * instance is noticed here after at most REPLAY_MS (on this instance too: the
 * entry lives on), and a credential revoked meanwhile gets 429 rather than 401
 * for that long.
 */
export class RecentRefusals {
  private readonly refusals = new Map<string, Refusal>();

  /** Replays are counted with the limiter's other refusals (rate_limited_requests_total). */
  constructor(private readonly limiter: RequestRateLimiter) {}

  /** A 429 to answer without admission, or undefined (the usual case: costs a size check). */
  refusalFor(subject: RefusalSubject, now = Date.now()): AppError | undefined {
    if (this.refusals.size === 0 || subject.headers.authorization === undefined) return undefined;
    const key = fingerprint(subject);
    const refusal = this.refusals.get(key);
    if (!refusal) return undefined;
    if (refusal.until <= now) {
      this.refusals.delete(key);
      return undefined;
    }
    const resetSeconds = String(Math.max(1, Math.ceil((refusal.windowEnd - now) / 1000)));
    this.limiter.noteRejected(refusal.refused.scope, refusal.refused.store);
    return new AppError(ErrorCode.TooManyRequests, refusal.message, undefined, {
      'ratelimit-limit': refusal.limit,
      'ratelimit-remaining': '0',
      'ratelimit-reset': resetSeconds,
      'retry-after': resetSeconds,
    });
  }

  /** Called with the 429 of a budget already known spent (the second refusal in a window, not the first). */
  remember(subject: RefusalSubject, refused: BudgetStillSpent, now = Date.now()): void {
    const windowEnd = refused.windowEndsAt;
    if (!(windowEnd > now)) return;
    if (this.refusals.size >= MAX_ENTRIES) {
      for (const [key, entry] of this.refusals) if (entry.until <= now) this.refusals.delete(key);
      if (this.refusals.size >= MAX_ENTRIES) this.refusals.delete(this.refusals.keys().next().value!);
    }
    this.refusals.set(fingerprint(subject), {
      until: Math.min(windowEnd, now + REPLAY_MS),
      windowEnd,
      refused,
      limit: refused.headers?.['ratelimit-limit'] ?? '',
      message: refused.message,
    });
  }
}

const header = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(',') : (value ?? ''));

function fingerprint({ method, route, headers }: RefusalSubject): string {
  return createHash('sha256')
    .update([method, route, header(headers.authorization), header(headers['x-tenant-id']), header(headers.host), header(headers['x-forwarded-host'])].join('\n'))
    .digest('base64');
}
