import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { RecentRefusals, RefusalSubject } from './recent-refusals';
import { BudgetStillSpent, RequestRateLimiter } from './request-rate-limiter';

describe('RecentRefusals', () => {
  const limiter = { noteRejected: jest.fn() } as unknown as RequestRateLimiter;
  const subject: RefusalSubject = { method: 'GET', route: '/documents/:id', headers: { authorization: 'Bearer a', 'x-tenant-id': 'acme', host: 'api.test' } };
  /** A refusal remembered at 0 whose budget's window ends at `windowEndsAt` ms. */
  const spent = (windowEndsAt: number) => {
    const retryAfter = String(Math.max(1, Math.ceil(windowEndsAt / 1000)));
    return new BudgetStillSpent(
      new AppError(ErrorCode.TooManyRequests, 'spent', undefined, { 'retry-after': retryAfter, 'ratelimit-limit': '600', 'ratelimit-remaining': '0', 'ratelimit-reset': retryAfter }),
      'tenant',
      'redis',
      windowEndsAt,
    );
  };

  it('replays a remembered refusal for the same request only, for at most a second', () => {
    const refusals = new RecentRefusals(limiter);
    expect(refusals.refusalFor(subject, 0)).toBeUndefined();
    refusals.remember(subject, spent(40_000), 0);
    const replay = refusals.refusalFor(subject, 500);
    // The headers count down to the end of the budget's window (40 s), not to the end of the replay.
    expect(replay).toMatchObject({ code: ErrorCode.TooManyRequests, headers: { 'retry-after': '40', 'ratelimit-reset': '40', 'ratelimit-limit': '600', 'ratelimit-remaining': '0' } });
    expect(refusals.refusalFor(subject, 900)?.headers).toMatchObject({ 'retry-after': '40' });
    for (const other of [
      { ...subject, method: 'POST' },
      { ...subject, route: '/documents' },
      { ...subject, headers: { ...subject.headers, authorization: 'Bearer b' } },
      { ...subject, headers: { ...subject.headers, 'x-tenant-id': 'other' } },
      { ...subject, headers: { ...subject.headers, host: 'other.api.test' } },
      { ...subject, headers: { ...subject.headers, authorization: undefined } },
    ]) {
      expect(refusals.refusalFor(other, 500)).toBeUndefined();
    }
    expect(refusals.refusalFor(subject, 1000)).toBeUndefined(); // a raised limit is seen within a second
  });

  it('stops at the end of a window shorter than a second', () => {
    const refusals = new RecentRefusals(limiter);
    refusals.remember(subject, spent(700), 0);
    expect(refusals.refusalFor(subject, 699)).toBeDefined();
    expect(refusals.refusalFor(subject, 700)).toBeUndefined();
  });

  it('stops at the exact end of the window, not at the whole second its Retry-After was rounded up to', () => {
    const refusals = new RecentRefusals(limiter);
    // The window ends 300 ms from now: Retry-After says 1 s, but the budget is back at 300 ms.
    refusals.remember(subject, spent(300), 0);
    expect(refusals.refusalFor(subject, 299)?.headers).toMatchObject({ 'retry-after': '1' });
    expect(refusals.refusalFor(subject, 300)).toBeUndefined();
    // Control: a window 40 s away is still replayed at 300 ms.
    refusals.remember(subject, spent(40_000), 0);
    expect(refusals.refusalFor(subject, 300)).toBeDefined();
  });

  it('remembers nothing for a window that has already ended', () => {
    const refusals = new RecentRefusals(limiter);
    refusals.remember(subject, spent(500), 500);
    expect(refusals.refusalFor(subject, 500)).toBeUndefined();
    refusals.remember(subject, spent(501), 500);
    expect(refusals.refusalFor(subject, 500)).toBeDefined();
  });
});
