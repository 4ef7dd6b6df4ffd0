import { ErrorCode } from './error-codes';

export interface ErrorDetail {
  path: string;
  message: string;
  /** QUOTA_EXCEEDED: the limit of the metric named by `path`. */
  limit?: number;
  /** QUOTA_EXCEEDED: how much of it is in use now. */
  used?: number;
}

/**
 * A domain error: services throw these, the HTTP edge (AppExceptionFilter) maps
 * the code to a status. Messages are written for API clients and must never
 * carry SQL, constraint names or anything about another tenant.
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    /** Extra response headers, e.g. Retry-After on 503/429. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
  }

  static notFound(what: string): AppError {
    return new AppError(ErrorCode.NotFound, `${what} not found`);
  }

  static validation(details: ErrorDetail[]): AppError {
    return new AppError(ErrorCode.ValidationFailed, 'Request validation failed', details);
  }
}
