import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { RecentRefusals, RefusalSubject } from './recent-refusals';
import { BudgetStillSpent, RequestRateLimiter } from './request-rate-limiter';

describe('RecentRefusals', () => {
  const limiter = { noteRejected: jest.fn() } as unknown as RequestRateLimiter;
  const subject: RefusalSubject = { method: 'GET', route: '/documents/:id', headers: { authorization: 'Bearer a', 'x-tenant-id': 'acme', host: 'api.test' } };
  const spent = (retryAfter: number) =>
    new BudgetStillSpent(
      new AppError(ErrorCode.TooManyRequests, 'spent', undefined, { 'retry-after': String(retryAfter), 'ratelimit-limit': '600', 'ratelimit-remaining': '0', 'ratelimit-reset': String(retryAfter) }),
      'tenant',
      'redis',
    );

  it('replays a remembered refusal for the same request only, for at most a second', () => {
    const refusals = new RecentRefusals(limiter);
    expect(refusals.refusalFor(subject, 0)).toBeUndefined();
    refusals.remember(subject, spent(40), 0);
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
    refusals.remember(subject, spent(1), 0);
    expect(refusals.refusalFor(subject, 999)).toBeDefined();
    expect(refusals.refusalFor(subject, 1000)).toBeUndefined();
  });
});
