import { AppError } from '../common/errors/app-error';
import { ErrorCode } from '../common/errors/error-codes';

/**
 * What a job's row says went wrong: a stable code and a message written for the
 * tenant. Never a stack trace, SQL, a constraint name or a server message: those
 * go to the log with the job id.
 */
export interface JobFailure {
  code: string;
  message: string;
  /** false: the job is failed at once, whatever retries it has left. */
  retryable: boolean;
}

/**
 * Thrown by a handler to fail its attempt with a message the tenant may read
 * (e.g. "The export is larger than your plan allows"). `retryable: false` fails
 * the job at once (a retry would fail the same way).
 */
export class JobError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable = true,
  ) {
    super(message);
    this.name = 'JobError';
  }
}

/** The run was given up (shutdown past the grace period, or its timeout); thrown by report() afterwards. */
export class JobInterruptedError extends Error {
  constructor(readonly reason: 'shutdown' | 'timeout') {
    super(reason === 'shutdown' ? 'The job was interrupted by a worker shutdown' : 'The job ran longer than its timeout');
    this.name = 'JobInterruptedError';
  }
}

/** enqueue() of a kind no module registered: a programming error, caught by the first test that enqueues it. */
export class UnknownJobKindError extends AppError {
  constructor(kind: string) {
    super(ErrorCode.Internal, `No job kind "${kind}" is registered`);
    this.name = 'UnknownJobKindError';
  }
}

/** A payload the queue refuses: not JSON, too large, or with a field that looks like a secret. */
export class JobPayloadRejectedError extends AppError {
  constructor(reason: string) {
    super(ErrorCode.Internal, `Job payload refused: ${reason}`);
    this.name = 'JobPayloadRejectedError';
  }
}

export const JOB_FAILURES = {
  /** The handler threw something that is not a JobError: the details are in the log only. */
  failed: { code: 'JOB_FAILED', message: 'The job failed because of an internal error', retryable: true },
  timedOut: { code: 'JOB_TIMED_OUT', message: 'The job ran longer than its timeout', retryable: true },
  interrupted: { code: 'JOB_INTERRUPTED', message: 'The job was interrupted by a worker shutdown', retryable: true },
  /** Its last attempt's worker died (a crash): the queue failed it once its timeout passed (JobsWorker.sweepGivenUp). */
  abandoned: { code: 'JOB_ABANDONED', message: 'The worker running the job stopped without finishing it, on its last attempt', retryable: false },
  /** Cancelled while queued, or refused at its start: its tenant is being deleted (offboarding), and its rows with it. */
  tenantDeleted: { code: 'TENANT_DELETED', message: 'The tenant is being deleted: the job was cancelled', retryable: false },
  tenantSuspended: { code: 'TENANT_SUSPENDED', message: 'The tenant is suspended: the job was not run', retryable: false },
  unknownKind: { code: 'JOB_KIND_UNKNOWN', message: 'No worker could run this kind of job', retryable: true },
  notQueued: { code: 'JOB_NOT_QUEUED', message: 'The job could not be queued', retryable: false },
  /** A database or storage outage the worker met, not the handler's own failure. */
  unavailable: { code: 'SERVICE_UNAVAILABLE', message: 'A service the job needs was unavailable', retryable: true },
} as const satisfies Record<string, JobFailure>;

/** Codes of AppErrors whose message is about the service, not the job: retried with a generic message. */
const UNAVAILABLE: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.ServiceUnavailable,
  ErrorCode.OutcomeUnknown,
  ErrorCode.StorageUnavailable,
  ErrorCode.TenantMoving,
  ErrorCode.DatabaseBehind,
  ErrorCode.DatabaseBusy,
]);

/**
 * The tenant-visible failure of an attempt. A JobError is the handler's own words;
 * an AppError other than Internal carries a message written for API clients (the
 * same the tenant would get over HTTP) and is not retried (not found, quota
 * exceeded, invalid input: a retry would meet the same answer), except the
 * outages (retried, with a generic message); anything else is "internal" and retried.
 */
export function failureOf(error: unknown): JobFailure {
  if (error instanceof JobError) return { code: error.code, message: error.message, retryable: error.retryable };
  if (error instanceof JobInterruptedError) return error.reason === 'shutdown' ? JOB_FAILURES.interrupted : JOB_FAILURES.timedOut;
  if (error instanceof AppError) {
    if (UNAVAILABLE.has(error.code)) return JOB_FAILURES.unavailable;
    if (error.code !== ErrorCode.Internal) return { code: error.code, message: error.message, retryable: false };
  }
  return JOB_FAILURES.failed;
}
