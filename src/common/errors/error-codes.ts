/**
 * Every machine-readable error code the API returns. Clients switch on these, so
 * they are stable: add new ones, never rename. HTTP status lives in one place
 * (httpStatusFor) so an unmapped code fails to compile.
 */
export enum ErrorCode {
  ValidationFailed = 'VALIDATION_FAILED',
  InvalidCursor = 'INVALID_CURSOR',
  /** The request could not be read as HTTP or as JSON: bad request line, header, Content-Length, URL encoding, JSON syntax. */
  MalformedRequest = 'MALFORMED_REQUEST',
  /** The body is over the size limit (1 MiB for JSON). */
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  /** A JSON route got a body that is not application/json (or a body without a Content-Type). */
  UnsupportedMediaType = 'UNSUPPORTED_MEDIA_TYPE',
  /** The request line and headers together are over the server's limit (16 KiB). */
  HeadersTooLarge = 'HEADERS_TOO_LARGE',
  /** A path segment is over the router's limit (Fastify: 100 characters). */
  UriTooLong = 'URI_TOO_LONG',
  /** The client did not send the complete request headers in time. */
  RequestTimeout = 'REQUEST_TIMEOUT',
  /** An Expect header other than 100-continue. */
  ExpectationFailed = 'EXPECTATION_FAILED',
  TenantRequired = 'TENANT_REQUIRED',
  TenantHeaderInvalid = 'TENANT_HEADER_INVALID',
  TenantAmbiguous = 'TENANT_AMBIGUOUS',
  TenantNotFound = 'TENANT_NOT_FOUND',
  TenantSuspended = 'TENANT_SUSPENDED',
  Unauthenticated = 'UNAUTHENTICATED',
  /** Login: wrong email, wrong password and "not a member of this tenant" all look the same. */
  InvalidCredentials = 'INVALID_CREDENTIALS',
  InvitationInvalid = 'INVITATION_INVALID',
  Forbidden = 'FORBIDDEN',
  /** The credential is valid but not for the tenant the request names (or no longer a member). */
  TenantAccessDenied = 'TENANT_ACCESS_DENIED',
  /** The caller is in the tenant, but their role does not allow this action. */
  InsufficientRole = 'INSUFFICIENT_ROLE',
  /** The tenant's plan (with its overrides) does not include the feature this route needs. */
  FeatureNotInPlan = 'FEATURE_NOT_IN_PLAN',
  /** The write would take a counted quantity (documents, storage, members, API keys) past the plan's limit; details carry limit and used. */
  QuotaExceeded = 'QUOTA_EXCEEDED',
  NotFound = 'NOT_FOUND',
  RouteNotFound = 'ROUTE_NOT_FOUND',
  MethodNotAllowed = 'METHOD_NOT_ALLOWED',
  Conflict = 'CONFLICT',
  /** The change would leave the tenant without an owner. */
  LastOwner = 'LAST_OWNER',
  /** The caller's role was lowered after the request was admitted: nothing was done; send it again. */
  AccessChanged = 'ACCESS_CHANGED',
  TooManyRequests = 'TOO_MANY_REQUESTS',
  ServiceUnavailable = 'SERVICE_UNAVAILABLE',
  /** The connection failed during COMMIT: the write may or may not have been saved; read it back before retrying. */
  OutcomeUnknown = 'OUTCOME_UNKNOWN',
  /** File storage (S3 or disk) unreachable or failing; retry after Retry-After. */
  StorageUnavailable = 'STORAGE_UNAVAILABLE',
  /**
   * The database this instance sent the tenant's request to does not hold the tenant (it was just
   * placed elsewhere and this instance's directory entry is stale): nothing ran; retry after Retry-After.
   */
  TenantMoving = 'TENANT_MOVING',
  /**
   * The tenant's database lacks migrations this build needs (a dedicated database not yet migrated):
   * refused rather than served against an old schema; retry after Retry-After, once it is migrated.
   */
  DatabaseBehind = 'DATABASE_BEHIND',
  /** The database's connections were all in use (the pool budget full) for longer than the wait; retry after Retry-After. */
  DatabaseBusy = 'DATABASE_BUSY',
  Internal = 'INTERNAL_ERROR',
  /** An uploaded tenant archive failed verification (format, checksums, tables or columns unknown here); details say what. Nothing was written. */
  ArchiveInvalid = 'ARCHIVE_INVALID',
  /** An import's target tenant already has rows or files: an import only fills an empty tenant. */
  TenantNotEmpty = 'TENANT_NOT_EMPTY',
  /** The export is not (yet) succeeded: nothing to download. */
  ExportNotReady = 'EXPORT_NOT_READY',
  /** DELETE of an export still queued or running: its job would write the archive after; delete it once it finished. */
  ExportRunning = 'EXPORT_RUNNING',
  /** Abort of a tenant move that already switched the tenant to its target (or completed): too late to abort; move it back instead. */
  TenantMoveSwitched = 'TENANT_MOVE_SWITCHED',
  /** Abort of a tenant move that already ended without switching (rolled back): nothing to abort. */
  TenantMoveFinished = 'TENANT_MOVE_FINISHED',
}

export function assertUnreachable(value: never): never {
  throw new Error(`Unhandled case: ${String(value)}`);
}

export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.ValidationFailed:
    case ErrorCode.InvalidCursor:
    case ErrorCode.MalformedRequest:
    case ErrorCode.TenantRequired:
    case ErrorCode.TenantHeaderInvalid:
    case ErrorCode.TenantAmbiguous:
      return 400;
    case ErrorCode.Unauthenticated:
    case ErrorCode.InvalidCredentials:
    case ErrorCode.InvitationInvalid:
      return 401;
    case ErrorCode.Forbidden:
    case ErrorCode.TenantAccessDenied:
    case ErrorCode.InsufficientRole:
    case ErrorCode.FeatureNotInPlan:
    case ErrorCode.TenantSuspended:
    // 403, like FEATURE_NOT_IN_PLAN: the plan does not allow this write, and sending it again will
    // not help until usage goes down or the plan changes. Not 409 (here: a conflicting state of the
    // resource itself, fixed by re-reading it) nor 429 (a quota is not a rate: waiting does not help).
    case ErrorCode.QuotaExceeded:
      return 403;
    case ErrorCode.NotFound:
    case ErrorCode.RouteNotFound:
    case ErrorCode.TenantNotFound:
      return 404;
    case ErrorCode.MethodNotAllowed:
      return 405;
    case ErrorCode.RequestTimeout:
      return 408;
    case ErrorCode.Conflict:
    case ErrorCode.LastOwner:
    case ErrorCode.AccessChanged:
    case ErrorCode.TenantNotEmpty:
    case ErrorCode.ExportNotReady:
    case ErrorCode.ExportRunning:
    case ErrorCode.TenantMoveSwitched:
    case ErrorCode.TenantMoveFinished:
      return 409;
    case ErrorCode.ArchiveInvalid:
      return 422;
    case ErrorCode.PayloadTooLarge:
      return 413;
    case ErrorCode.UriTooLong:
      return 414;
    case ErrorCode.UnsupportedMediaType:
      return 415;
    case ErrorCode.ExpectationFailed:
      return 417;
    case ErrorCode.HeadersTooLarge:
      return 431;
    case ErrorCode.TooManyRequests:
      return 429;
    case ErrorCode.ServiceUnavailable:
    case ErrorCode.OutcomeUnknown:
    case ErrorCode.StorageUnavailable:
    case ErrorCode.TenantMoving:
    case ErrorCode.DatabaseBehind:
    case ErrorCode.DatabaseBusy:
      return 503;
    case ErrorCode.Internal:
      return 500;
    default:
      return assertUnreachable(code);
  }
}
