/**
 * Every machine-readable error code the API returns. Clients switch on these, so
 * they are stable: add new ones, never rename. HTTP status lives in one place
 * (httpStatusFor) so an unmapped code fails to compile.
 */
export enum ErrorCode {
  ValidationFailed = 'VALIDATION_FAILED',
  InvalidCursor = 'INVALID_CURSOR',
  MalformedRequest = 'MALFORMED_REQUEST',
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  UnsupportedMediaType = 'UNSUPPORTED_MEDIA_TYPE',
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
  NotFound = 'NOT_FOUND',
  RouteNotFound = 'ROUTE_NOT_FOUND',
  MethodNotAllowed = 'METHOD_NOT_ALLOWED',
  Conflict = 'CONFLICT',
  /** The change would leave the tenant without an owner. */
  LastOwner = 'LAST_OWNER',
  TooManyRequests = 'TOO_MANY_REQUESTS',
  ServiceUnavailable = 'SERVICE_UNAVAILABLE',
  /** File storage (S3 or disk) unreachable or failing; retry after Retry-After. */
  StorageUnavailable = 'STORAGE_UNAVAILABLE',
  Internal = 'INTERNAL_ERROR',
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
    case ErrorCode.TenantSuspended:
      return 403;
    case ErrorCode.NotFound:
    case ErrorCode.RouteNotFound:
    case ErrorCode.TenantNotFound:
      return 404;
    case ErrorCode.MethodNotAllowed:
      return 405;
    case ErrorCode.Conflict:
    case ErrorCode.LastOwner:
      return 409;
    case ErrorCode.PayloadTooLarge:
      return 413;
    case ErrorCode.UnsupportedMediaType:
      return 415;
    case ErrorCode.TooManyRequests:
      return 429;
    case ErrorCode.ServiceUnavailable:
    case ErrorCode.StorageUnavailable:
      return 503;
    case ErrorCode.Internal:
      return 500;
    default:
      return assertUnreachable(code);
  }
}
