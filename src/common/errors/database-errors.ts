import { AppError } from './app-error';
import { ErrorCode } from './error-codes';

/** A PostgreSQL server error as pg surfaces it (pg's DatabaseError). */
interface PgServerError {
  code: string;
  severity?: string;
  /** DETAIL and HINT of a RAISE (e.g. the usage trigger's TQ001 carries the current value and the metric). */
  detail?: string;
  hint?: string;
}

export function isPgServerError(error: unknown): error is PgServerError {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as PgServerError).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((error as PgServerError).code) &&
    'severity' in error
  );
}

/** The PostgreSQL server error itself, or the one a driver error wraps (drizzle's DrizzleQueryError keeps it as `cause`). */
export function pgServerErrorOf(error: unknown): PgServerError | undefined {
  if (isPgServerError(error)) return error;
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return isPgServerError(cause) ? cause : undefined;
}

/**
 * SQLSTATE class 08, connection_exception: the connection failed, not the
 * statement. PgBouncer reports its own failures so (08P01: "no more connections
 * allowed", "query_wait_timeout", "server login has been failing", "server conn
 * crashed?", "unsupported startup parameter", "transaction blocks not allowed in
 * statement pooling mode"; later versions also "pgbouncer cannot connect to
 * server") and then closes the connection.
 */
export function isConnectionException(error: unknown): boolean {
  return isPgServerError(error) && error.code.startsWith('08');
}

const busy = () =>
  new AppError(ErrorCode.ServiceUnavailable, 'The service is busy, retry shortly', undefined, { 'retry-after': '1' });

/**
 * The database could not be reached or no connection was free in time: pg and
 * pg-pool report these as plain errors (no SQLSTATE). A 503 the client may retry.
 */
function isConnectionFailure(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | undefined;
  if (!e) return false;
  if (typeof e.code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'].includes(e.code)) return true;
  return (
    typeof e.message === 'string' &&
    /timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|Query read timeout/i.test(e.message)
  );
}

/**
 * Maps a database error to a domain error by SQLSTATE only. The server's message
 * names constraints and may echo values, so none of it reaches the client.
 * Returns undefined for errors that are not the caller's fault (-> 500/503).
 */
export function mapDatabaseError(error: unknown): AppError | undefined {
  const cause = pgServerErrorOf(error);
  if (isConnectionFailure(error) || isConnectionFailure(cause ?? (error as { cause?: unknown })?.cause)) return busy();
  if (!cause) return undefined;
  if (isConnectionException(cause)) return busy();
  switch (cause.code) {
    case '23505': // unique_violation
      return new AppError(ErrorCode.Conflict, 'A resource with the same unique value already exists');
    case '23503': // foreign_key_violation
      return new AppError(ErrorCode.Conflict, 'The resource refers to something that does not exist or is still referenced');
    case '23514': // check_violation
    case '23502': // not_null_violation
    case '22P02': // invalid_text_representation
    case '22001': // string_data_right_truncation
    case '22003': // numeric_value_out_of_range
    case '22007': // invalid_datetime_format
    case '22008': // datetime_field_overflow
    case '22021': // character_not_in_repertoire (e.g. a NUL byte in text)
    case '22P05': // untranslatable_character
    case '54000': // program_limit_exceeded (e.g. an index row too large)
      return AppError.validation([{ path: '', message: 'A value is not valid for this field' }]);
    case '40001': // serialization_failure
    case '40P01': // deadlock_detected
    case '55P03': // lock_not_available
    case '57014': // query_canceled (statement_timeout)
    case '53300': // too_many_connections
    case '57P01': // admin_shutdown
    case '57P03': // cannot_connect_now
    // tenancy_enter() refusing the access claim of another request whose load this one shared
    // (TenantContextInterceptor answers a request's own refusal): nothing ran for this one, retry.
    case 'TA401':
    case 'TA403':
    case 'TA409':
      return busy();
    // tenancy_set(): the tenant is not placed on the database the statement went to (drizzle/0015),
    // or a write of a tenant whose move paused its writes (drizzle/0022 makes its transactions
    // read only: 25006 read_only_sql_transaction). Nothing was written; retry once it is moved.
    case 'TA421':
    case '25006':
      return new AppError(ErrorCode.TenantMoving, "The tenant's data is being moved, retry shortly", undefined, { 'retry-after': '1' });
    default:
      return undefined;
  }
}
