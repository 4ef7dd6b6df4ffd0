import { AppError } from '../common/errors/app-error';
import { pgServerErrorOf } from '../common/errors/database-errors';
import { ErrorCode } from '../common/errors/error-codes';
import { invalidTokenChallenge } from '../common/http/www-authenticate';
import { AccessClaim, claimOf } from '../tenancy/tenant-context';

/**
 * The answers for access that is gone, shared by AccessGuard (which finds out
 * before the handler) and TenantContextInterceptor (PostgreSQL's tenancy_enter()
 * finding out with a statement), so a client sees the same body whichever
 * noticed first.
 */

/**
 * One body for "your credential is not for this tenant", whether the tenant the
 * request names exists or not, and for "you are no longer a member of it".
 */
export function tenantAccessDenied(): AppError {
  return new AppError(ErrorCode.TenantAccessDenied, 'This credential does not give access to the tenant named by the request');
}

export const API_KEY_INVALID_MESSAGE = 'The API key is invalid or revoked';

/** 401 with error="invalid_token": a presented API key that does not exist or was revoked. */
export function apiKeyInvalid(): AppError {
  return new AppError(ErrorCode.Unauthenticated, API_KEY_INVALID_MESSAGE, undefined, { 'www-authenticate': invalidTokenChallenge(API_KEY_INVALID_MESSAGE) });
}

/** 409: the role was lowered between admission and the first statement; nothing ran, a retry is judged afresh. */
export function accessChanged(): AppError {
  return new AppError(ErrorCode.AccessChanged, 'Your role in this tenant changed while this request was being admitted; nothing was done, send it again');
}

/** SQLSTATEs raised by tenancy_enter() when a request's claim no longer holds (migration 0007), and their answers. */
const CLAIM_REFUSALS: Record<string, () => AppError> = {
  TA403: tenantAccessDenied,
  TA401: apiKeyInvalid,
  TA409: accessChanged,
};

/**
 * The answer for an error that is tenancy_enter() refusing `claim` (directly or as a
 * driver error's cause), else undefined. A refusal of another request's claim (a
 * shared cache load) is not this request's answer: mapDatabaseError makes it a 503.
 */
export function claimRefusal(error: unknown, claim: AccessClaim): AppError | undefined {
  const code = pgServerErrorOf(error)?.code;
  if (code === undefined || !Object.hasOwn(CLAIM_REFUSALS, code) || claimOf(error) !== claim) return undefined;
  return CLAIM_REFUSALS[code]();
}
