import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';
import { failureOf, JOB_FAILURES, JobError, JobInterruptedError } from './job-errors';
import { JobKinds } from './job-kinds';

describe('failureOf: what a job row may say about a failed attempt', () => {
  it("keeps a JobError's own code, message and retry decision", () => {
    expect(failureOf(new JobError('TOO_LARGE', 'The export is too large', false))).toEqual({ code: 'TOO_LARGE', message: 'The export is too large', retryable: false });
    expect(failureOf(new JobError('BUSY', 'Busy'))).toEqual({ code: 'BUSY', message: 'Busy', retryable: true });
  });

  it('never passes on the text of an unexpected error (it may hold SQL or a stack)', () => {
    expect(failureOf(new Error('duplicate key value violates unique constraint "users_email_key"'))).toBe(JOB_FAILURES.failed);
    expect(failureOf('a string')).toBe(JOB_FAILURES.failed);
    expect(failureOf(new AppError(ErrorCode.Internal, 'No principal in the tenant context'))).toBe(JOB_FAILURES.failed);
  });

  it("passes on an API error's message without retrying it, and retries outages with a generic message", () => {
    expect(failureOf(AppError.notFound('Document'))).toEqual({ code: 'NOT_FOUND', message: 'Document not found', retryable: false });
    expect(failureOf(new AppError(ErrorCode.ServiceUnavailable, 'Database unavailable'))).toBe(JOB_FAILURES.unavailable);
    expect(failureOf(new AppError(ErrorCode.TenantMoving, 'moving'))).toBe(JOB_FAILURES.unavailable);
    expect(failureOf(new JobInterruptedError('timeout'))).toBe(JOB_FAILURES.timedOut);
    expect(failureOf(new JobInterruptedError('shutdown'))).toBe(JOB_FAILURES.interrupted);
  });
});

describe('JobKinds', () => {
  const noop = async () => undefined;

  it('registers a kind with defaults, once', () => {
    const kinds = new JobKinds();
    kinds.register('exports.tenant', noop);
    expect(kinds.get('exports.tenant')?.options).toEqual({ retryLimit: 2, retryDelaySeconds: 10, retryBackoff: false, timeoutSeconds: 900, runsOnSuspendedTenants: false, onGivenUp: expect.any(Function) });
    expect(() => kinds.register('exports.tenant', noop)).toThrow(/registered twice/);
  });

  it('refuses bad names and options', () => {
    const kinds = new JobKinds();
    expect(() => kinds.register('Exports', noop)).toThrow(/lower-case/);
    expect(() => kinds.register('a..b', noop)).toThrow(/lower-case/);
    expect(() => kinds.register('a.b', noop, { retryLimit: -1 })).toThrow(/retryLimit/);
    expect(() => kinds.register('a.b', noop, { timeoutSeconds: 86_400 })).toThrow(/timeoutSeconds/);
    expect(() => kinds.register('a.b', noop, { retryDelaySeconds: 1.5 })).toThrow(/retryDelaySeconds/);
    expect(kinds.get('a.b')).toBeUndefined();
  });
});
